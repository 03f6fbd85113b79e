package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision"
)

// delivery is where and how t delivers, as the journal records it.
func (t fileTarget) delivery() provision.Delivery {
	d := provision.Delivery{Store: t.storeLocation(), SecretKey: t.opts.IncludeSecretKey}
	if t.store != nil {
		d.KMSKeyID = t.store.kms
	}
	if t.path != "" {
		d.Format = string(t.format)
	}
	return d
}

// rerunDiffersError refuses a rerun that finds its target's work
// delivered by an earlier run that died, when it asks for something that
// run was not asked for (a narrower sender policy, another region, the
// old key deleted at once ...). sesmtp never changes delivered work, and
// exit 0 would say this run's request was carried out.
type rerunDiffersError struct {
	rec    journal.Recovery
	target string
	diffs  []string
	advice string
}

func (e *rerunDiffersError) Error() string {
	return fmt.Sprintf("the earlier run on %s died after delivering the credentials of IAM user %s (access key %s), "+
		"and this run asks for something else: %s. sesmtp never changes delivered work, so this run changed "+
		"nothing. To get what it asks: %s", e.target, e.rec.User, e.rec.KeyID, strings.Join(e.diffs, "; "), e.advice)
}

// ExitCode implements exitcode.Coder: nothing attempted (afterRecovery
// makes it 1 when the recovery changed IAM).
func (e *rerunDiffersError) ExitCode() int { return exitcode.Usage }

// checkSameRequest fails with a *rerunDiffersError when the delivered
// work rec found was asked for otherwise than asked. A marker of an
// earlier sesmtp records no request: the rerun is taken as the same.
func checkSameRequest(rec journal.Recovery, asked provision.Request, target fileTarget) error {
	if rec.Request == nil {
		return nil
	}
	if rec.Flow == provision.FlowRotateKey && len(rec.OldKeys) == 0 {
		asked.Retire = rec.Request.Retire // no old key: nothing to retire either way
	}
	diffs := rec.Request.Differences(asked)
	if len(diffs) == 0 {
		return nil
	}
	return &rerunDiffersError{rec: rec, target: target.name(), diffs: diffs, advice: rerunAdvice(rec, asked, target)}
}

// rerunAdvice is the command (or commands) that gets what asked asks,
// given the earlier run's delivered work.
func rerunAdvice(rec journal.Recovery, asked provision.Request, target fileTarget) string {
	earlier, user := *rec.Request, rec.User
	switch {
	case rec.Flow == provision.FlowRecreate:
		return fmt.Sprintf("'sesmtp rotate --user %s --strategy recreate --yes%s%s'", user,
			flagIf("--permissions-boundary", asked.PermissionsBoundary), deliveryFlags(asked, target))
	case rec.Flow == provision.FlowRotateKey:
		return rotateAdvice(rec, asked, target)
	case sameDelivery(earlier, asked) && sameUser(earlier, asked):
		return grantAdvice(user, earlier, asked)
	case sameDelivery(earlier, asked):
		return deleteAdvice(user, target)
	}
	return "'" + rotateKeyCommand(user, asked, target) + "'"
}

// rotateAdvice is rerunAdvice for a delivered key rotation: the retire
// runs that do to the old keys what asked asks (a new rotation, for
// another delivery, needs them retired first), then that rotation.
func rotateAdvice(rec journal.Recovery, asked provision.Request, target fileTarget) string {
	earlier, user, old := *rec.Request, rec.User, strings.Join(rec.OldKeys, ", ")
	retire := fmt.Sprintf("'sesmtp retire --user %s --yes'", user)
	runs := "twice (the first deactivates old access key(s) " + old + ", the second deletes them)"
	if earlier.Retire == provision.RetireDeactivate {
		runs = "(it deletes the deactivated old access key(s) " + old + ")"
	}
	var steps []string
	switch {
	case len(rec.OldKeys) == 0:
	case earlier.Retire == provision.RetireDelete && asked.Retire != provision.RetireDelete:
		steps = append(steps, "nothing undoes the deletion of old access key(s) "+old+", which the earlier run was asked for (--retire-now)")
	case asked.Retire == provision.RetireDelete:
		steps = append(steps, "run "+retire+" "+runs)
	case !sameDelivery(earlier, asked):
		steps = append(steps, "once no sender uses old access key(s) "+old+", run "+retire+" "+runs)
	case asked.Retire == provision.RetireDeactivate:
		steps = append(steps, fmt.Sprintf("run %s (it deactivates old access key(s) %s)", retire, old))
	default:
		steps = append(steps, fmt.Sprintf("reactivate old access key(s) %s, which the earlier run deactivated (--deactivate-old): "+
			"'aws iam update-access-key --user-name %s --access-key-id ID --status Active'", old, user))
	}
	if !sameDelivery(earlier, asked) {
		steps = append(steps, "'"+rotateKeyCommand(user, asked, target)+"'")
	}
	return strings.Join(steps, ", then ")
}

// rotateKeyCommand is the one-step key rotation that delivers as asked.
func rotateKeyCommand(user string, asked provision.Request, target fileTarget) string {
	return fmt.Sprintf("sesmtp rotate --user %s --strategy key --retire-now%s", user, deliveryFlags(asked, target))
}

// deleteAdvice removes the delivered user and its credentials, for a rerun of create.
func deleteAdvice(user string, target fileTarget) string {
	cmd := fmt.Sprintf("sesmtp delete --user %s --yes", user)
	if target.store != nil {
		cmd += " --delete-stored"
	}
	if target.path != "" {
		cmd += " && rm " + target.path
	}
	return fmt.Sprintf("'%s', then run this command again", cmd)
}

// deliveryFlags are the flags that deliver as asked to target.
func deliveryFlags(asked provision.Request, target fileTarget) string {
	s := " --region " + strings.Join(asked.Regions, ",")
	if asked.FIPS {
		s += " --fips"
	}
	if target.path != "" {
		s += fmt.Sprintf(" --format %s --out %s --force", target.format, target.path)
	}
	if asked.SecretKey {
		s += " --include-secret-key"
	}
	return s + flagIf("--store", target.storeSpec()) + flagIf("--kms-key-id", asked.KMSKeyID)
}

func flagIf(flag, value string) string {
	if value == "" {
		return ""
	}
	return " " + flag + " " + value
}

// sameDelivery reports whether a and b deliver the same passwords to the same place.
func sameDelivery(a, b provision.Request) bool {
	return slices.Equal(a.Regions, b.Regions) && a.FIPS == b.FIPS && a.Delivery == b.Delivery
}

// sameUser reports whether a and b, which differ, differ only in what
// can be changed on the delivered user in place: its inline sender
// policy's document and its tags.
func sameUser(a, b provision.Request) bool {
	return a.Group == "" && b.Group == "" && a.PolicyName == b.PolicyName && a.Path == b.Path &&
		a.PermissionsBoundary == b.PermissionsBoundary
}

// grantAdvice is the aws-cli commands that change the delivered user's
// sender policy and tags to what asked asks.
func grantAdvice(user string, earlier, asked provision.Request) string {
	var cmds []string
	if !earlier.SamePolicy(asked) {
		cmds = append(cmds, fmt.Sprintf("aws iam put-user-policy --user-name %s --policy-name %s --policy-document '%s'", user, asked.PolicyName, asked.Policy))
	}
	var add, drop []string
	for _, t := range asked.Tags {
		if !slices.Contains(earlier.Tags, t) {
			k, v, _ := strings.Cut(t, "=")
			add = append(add, fmt.Sprintf("'Key=%s,Value=%s'", k, v)) // IAM's tag pattern has no quote or comma
		}
	}
	for _, t := range earlier.Tags {
		k, _, _ := strings.Cut(t, "=")
		if !slices.ContainsFunc(asked.Tags, func(a string) bool { return strings.HasPrefix(a, k+"=") }) {
			drop = append(drop, k)
		}
	}
	if len(drop) > 0 {
		cmds = append(cmds, fmt.Sprintf("aws iam untag-user --user-name %s --tag-keys %s", user, strings.Join(drop, " ")))
	}
	if len(add) > 0 {
		cmds = append(cmds, fmt.Sprintf("aws iam tag-user --user-name %s --tags %s", user, strings.Join(add, " ")))
	}
	return strings.Join(cmds, " && ")
}
