package provision

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/exitcode"
)

// recoverUser removes what a run that died before delivering made of the
// user it created (p.User, if it carries p.UserRunID in TagRunID; never
// anybody else's). The whole user goes, with its key, policy and group
// membership, only if IAM shows nothing on it that the run did not make.
// If it holds more — a key another run delivered since (a rotation of the
// user), one made by hand, a policy or group someone added — it is no
// longer the dead run's alone: only the run's own undelivered key is
// removed, and the user is left, described in left.
func recoverUser(ctx context.Context, c IAMAPI, p Progress) (removed, left []string, err error) {
	u, err := getUser(ctx, c, p.User)
	if isNoSuchEntity(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if tagValue(u.Tags, TagRunID) != p.UserRunID {
		return nil, nil, nil
	}
	h, err := readHoldings(ctx, c, p.User)
	if isNoSuchEntity(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	own := ownedBy(p, aws.ToTime(u.CreateDate))
	keys, foreign := h.sort(own)
	if len(foreign) > 0 {
		removed, left, err := keepUser(ctx, c, p.User, keys, foreign)
		if err == nil && p.KeyID == "" && p.Budget <= 0 && len(h.keys) > 0 {
			// No window (--timeout 0, or an earlier sesmtp's marker): any key on
			// the user may be the one whose secret died with the run.
			err = &UnprovenKeysError{UserName: p.User, Window: &Window{From: aws.ToTime(u.CreateDate)}, Keys: h.keys}
		}
		return removed, left, err
	}
	pg := &purger{c: c, user: p.User, owns: own}
	if err := pg.purge(ctx, purgeOwn); err != nil {
		return pg.done, nil, stoppedPurge(pg, h, own, err)
	}
	return pg.done, nil, nil
}

// keepUser removes only the dead run's own keys from a user that holds
// foreign things too, and describes the user it leaves.
func keepUser(ctx context.Context, c IAMAPI, user string, keys, foreign []string) ([]string, []string, error) {
	removed, err := DeleteKeys(ctx, c, user, keys)
	if err != nil {
		var remains []string
		cmds := []string{}
		for _, id := range keys {
			if !slices.Contains(removed, "access key "+id) {
				remains = append(remains, fmt.Sprintf("access key %s of user %q (the earlier run's; no file holds its secret)", id, user))
				cmds = append(cmds, fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", user, id))
			}
		}
		return removed, nil, &RecoveryLeftError{Err: err, Removed: removed, Remains: remains, Cleanup: strings.Join(cmds, " && ")}
	}
	return removed, []string{fmt.Sprintf("user %q, which the earlier run created but which now holds %s: not that run's work "+
		"(another run's, or made by hand), so the user stays; if nothing uses it, '%s' removes it",
		user, strings.Join(foreign, ", "), DeleteCommand(user))}, nil
}

// holdings is what IAM shows on a user, each thing as the purger names it
// ("access key ID", `inline policy "NAME"`, `membership of group "NAME"`).
type holdings struct {
	keys []types.AccessKeyMetadata
	// things are the user's inline policies and group memberships.
	things []string
	// extras are what sesmtp never gives a user: managed policies, a
	// console password.
	extras []string
}

// readHoldings lists user's keys, inline policies, groups, managed
// policies and login profile (the last two skipped where the endpoint
// lacks them: DeleteUser still has the last word).
func readHoldings(ctx context.Context, c IAMAPI, user string) (holdings, error) {
	var h holdings
	var err error
	name := aws.String(user)
	if h.keys, err = listKeys(ctx, c, user); err != nil {
		return h, err
	}
	pols, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: name})
	if err != nil {
		return h, awsError("ListUserPolicies", fmt.Sprintf("of %q", user), err)
	}
	for _, n := range pols.PolicyNames {
		h.things = append(h.things, fmt.Sprintf("inline policy %q", n))
	}
	groups, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: name})
	if err != nil {
		return h, awsError("ListGroupsForUser", fmt.Sprintf("of %q", user), err)
	}
	for _, g := range groups.Groups {
		h.things = append(h.things, fmt.Sprintf("membership of group %q", aws.ToString(g.GroupName)))
	}
	h.extras, err = readExtras(ctx, c, user)
	return h, err
}

// readExtras lists the managed policies and console password of user.
func readExtras(ctx context.Context, c IAMAPI, user string) ([]string, error) {
	var extras []string
	sk := &skips{}
	attached, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(user)})
	switch {
	case sk.skip("ListAttachedUserPolicies", err):
	case err != nil:
		return nil, awsError("ListAttachedUserPolicies", fmt.Sprintf("of %q", user), err)
	default:
		for _, ap := range attached.AttachedPolicies {
			extras = append(extras, "managed policy "+aws.ToString(ap.PolicyArn))
		}
	}
	_, err = c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(user)})
	switch {
	case err == nil:
		extras = append(extras, "a console password (login profile)")
	case isNoSuchEntity(err) || sk.skip("GetLoginProfile", err):
	default:
		return nil, awsError("GetLoginProfile", fmt.Sprintf("of %q", user), err)
	}
	return extras, nil
}

// ownedBy says whether a thing on the user a dead create made (named as
// the purger names it) is that run's: its key (p.KeyID; if the id was
// never recorded, a key created between the user's creation and p.Budget
// after it), and the inline policy or group its request gave the user (a
// recreate's: its saved configuration's). A marker of an earlier sesmtp
// records no request: any inline policy or group counts as the run's.
func ownedBy(p Progress, created time.Time) ownership {
	grant, known := p.grant()
	window := &Window{From: created.Add(-time.Second)}
	if p.Budget > 0 {
		window.Until = created.Add(p.Budget)
	}
	return func(thing string, keyCreated time.Time) bool {
		if id, ok := strings.CutPrefix(thing, "access key "); ok {
			return id == p.KeyID || p.KeyID == "" && window.Contains(keyCreated)
		}
		return !known || slices.ContainsFunc(grant, func(g string) bool { return sameThing(g, thing) })
	}
}

// sameThing reports whether a and b (named as the purger names them) are
// the same thing on a user. A group's name is not distinguished by case
// (CreateGroup API reference, GroupName: "IAM user, group, role, and
// policy names must be unique within the account. Names are not
// distinguished by case"): a request's --group Senders and the group
// "senders" that ListGroupsForUser answers are one membership. An inline
// policy's name is a user's own, not an account's: IAM documents no case
// folding for it, so it is compared as it is.
func sameThing(a, b string) bool {
	const group = "membership of group "
	if strings.HasPrefix(a, group) && strings.HasPrefix(b, group) {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// ownership says whether a thing on a user (named as the purger names it;
// a key with its creation time) is a dead run's.
type ownership func(thing string, keyCreated time.Time) bool

// sort splits h into the ids of the keys own says are the dead run's, and
// the descriptions of everything on the user that is not.
func (h holdings) sort(own ownership) (keys, foreign []string) {
	for _, k := range h.keys {
		id, created := aws.ToString(k.AccessKeyId), aws.ToTime(k.CreateDate)
		if own("access key "+id, created) {
			keys = append(keys, id)
		} else {
			foreign = append(foreign, fmt.Sprintf("access key %s (created %s)", id, created.UTC().Format(time.RFC3339)))
		}
	}
	for _, t := range h.things {
		if !own(t, time.Time{}) {
			foreign = append(foreign, t)
		}
	}
	return keys, append(foreign, h.extras...)
}

// grant is what the request of a create (or the configuration a recreate
// restores) gives the user, named as the purger names it; known is false
// when the marker does not say.
func (p Progress) grant() (grant []string, known bool) {
	switch {
	case p.Saved != nil:
		for _, n := range slices.Sorted(maps.Keys(p.Saved.InlinePolicies)) {
			grant = append(grant, fmt.Sprintf("inline policy %q", n))
		}
		for _, g := range p.Saved.Groups {
			grant = append(grant, fmt.Sprintf("membership of group %q", g))
		}
		return grant, true
	case p.Request != nil && p.Request.Group != "":
		return []string{fmt.Sprintf("membership of group %q", p.Request.Group)}, true
	case p.Request != nil:
		return []string{fmt.Sprintf("inline policy %q", p.Request.PolicyName)}, true
	}
	return nil, false
}

// stoppedPurge is the error of a recovery's purge of a dead run's user
// that failed: as it is, if no change was sent; else a
// *RecoveryLeftError naming what remains of that run's work (h, as own
// sorts it, less what was removed) and the command that removes it.
func stoppedPurge(pg *purger, h holdings, own ownership, err error) error {
	if !pg.sent {
		return err
	}
	remains := []string{fmt.Sprintf("user %q", pg.user)}
	keys, _ := h.sort(own)
	for _, id := range keys {
		if !slices.Contains(pg.done, "access key "+id) {
			remains = append(remains, "possibly its access key "+id+" (no file holds its secret)")
		}
	}
	for _, t := range h.things {
		if own(t, time.Time{}) && !slices.Contains(pg.done, t) {
			remains = append(remains, "possibly its "+t)
		}
	}
	cleanup := DeleteCommand(pg.user)
	var foreign *ForeignError
	if errors.As(err, &foreign) {
		cleanup = fmt.Sprintf("check first whether anything uses it ('sesmtp list --user %s'); if nothing does: %s", pg.user, cleanup)
	}
	return &RecoveryLeftError{Err: err, Removed: pg.done, Remains: remains, Cleanup: cleanup}
}

// RecoveryLeftError reports a recovery that stopped part way through
// removing a dead run's work, after it had begun changing IAM (exit 4):
// what remains, and the command that removes it. The dead run's marker
// stays, so the same command run again finishes the removal.
type RecoveryLeftError struct {
	Err error
	// Removed is what the recovery did remove; Remains what is left.
	Removed, Remains []string
	// Cleanup is the command that removes what remains.
	Cleanup string
}

func (e *RecoveryLeftError) Error() string {
	msg := fmt.Sprintf("removing what it made stopped part way: %v. Left behind: %s. Remove it with: %s; or run this command again "+
		"once the cause is fixed (it finishes the removal)", e.Err, strings.Join(e.Remains, ", "), e.Cleanup)
	if len(e.Removed) > 0 {
		msg += fmt.Sprintf(" (already removed: %s)", strings.Join(e.Removed, ", "))
	}
	return msg
}

// Unwrap returns the failure.
func (e *RecoveryLeftError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder: the recovery changed IAM and left
// something behind.
func (e *RecoveryLeftError) ExitCode() int { return exitcode.LeftBehind }

// withGroups adds to a *RecoveryLeftError the groups the dead run was
// creating, which the recovery did not reach (each goes once empty).
func withGroups(err error, groups []CreatedGroup) error {
	var left *RecoveryLeftError
	if !errors.As(err, &left) {
		return err
	}
	for _, g := range groups {
		left.Remains = append(left.Remains, fmt.Sprintf("group %q, which the earlier run created", g.Name))
		left.Cleanup = strings.TrimPrefix(left.Cleanup+" && "+deleteGroupCommand(g.Name, g.Policy), " && ")
	}
	return err
}
