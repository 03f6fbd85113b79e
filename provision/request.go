package provision

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sesmtp/sesmtp/policy"
)

// Request is what a run that changes IAM was asked for, recorded in its
// journal with its first note (Progress.Request), so that a rerun that
// finds the run's work delivered can tell whether it asks for the same
// (Differences): exit 0 must not say that a request the earlier run never
// carried out was done. It holds no secret.
type Request struct {
	// Policy (create, without a group) is the sender policy document the
	// user gets as inline policy PolicyName; Group, the group it joins
	// instead. Path and PermissionsBoundary are the user's.
	Policy              string `json:"policy,omitempty"`
	PolicyName          string `json:"policy_name,omitempty"`
	Group               string `json:"group,omitempty"`
	Path                string `json:"path,omitempty"`
	PermissionsBoundary string `json:"permissions_boundary,omitempty"`
	// Regions and FIPS say which SMTP passwords are delivered.
	Regions []string `json:"regions,omitempty"`
	FIPS    bool     `json:"fips,omitempty"`
	// Retire (rotate-key) is what becomes of the old keys: RetirePending,
	// RetireDeactivate or RetireDelete.
	Retire string `json:"retire,omitempty"`
	// Tags (create) are the user's tags the run was asked for (--tag),
	// as KEY=VALUE sorted; sesmtp's own tags are not among them.
	Tags []string `json:"tags,omitempty"`
	Delivery
}

// Delivery is where and how a run delivers credentials, as its caller
// names them: a --store location ("" for none) and the --kms-key-id that
// encrypts it ("" for the AWS managed key), a file's format ("" for no
// file), and whether the secret access key goes too (--include-secret-key).
type Delivery struct {
	Store     string `json:"store,omitempty"`
	KMSKeyID  string `json:"kms_key_id,omitempty"`
	Format    string `json:"format,omitempty"`
	SecretKey bool   `json:"secret_key,omitempty"`
}

// Request is what in asks for, as Create records it.
func (in *CreateInput) Request() *Request {
	r := &Request{Path: cmp.Or(in.Path, "/"), PermissionsBoundary: in.PermissionsBoundary, Group: in.Group,
		Regions: normalRegions(in.Regions), FIPS: in.FIPS, Tags: TagWords(in.Tags), Delivery: in.Delivery}
	if in.Group == "" {
		r.Policy, r.PolicyName = in.Policy.JSON(), in.policyName()
	}
	return r
}

// Request is what in asks for, as Rotate records it.
func (in RotateInput) Request() *Request {
	r := &Request{Regions: normalRegions(in.Regions), FIPS: in.FIPS, Delivery: in.Delivery}
	if in.Strategy == StrategyKey {
		r.Retire = retireMode(in)
	} else {
		r.PermissionsBoundary = in.PermissionsBoundary
	}
	return r
}

// TagWords is tags as KEY=VALUE, sorted by key (IAM holds one value per
// key).
func TagWords(tags []Tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, t.Key+"="+t.Value)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// normalRegions is regions in lower case, sorted, without repeats.
func normalRegions(regions []string) []string {
	out := make([]string, 0, len(regions))
	for _, r := range regions {
		out = append(out, strings.ToLower(r))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Differences says, one line each, what asked asks for that r (the
// earlier run's request) did not: empty when they ask for the same.
func (r Request) Differences(asked Request) []string {
	var out []string
	for _, d := range []struct {
		what, earlier, now string
		fold               bool // IAM does not distinguish the case of a group's name (sameThing)
	}{
		{"sender policy", policyWords(r), policyWords(asked), false},
		{"group", orNone(r.Group), orNone(asked.Group), true},
		{"IAM path", r.Path, asked.Path, false},
		{"permissions boundary", orNone(r.PermissionsBoundary), orNone(asked.PermissionsBoundary), false},
		{"regions", strings.Join(r.Regions, ","), strings.Join(asked.Regions, ","), false},
		{"FIPS endpoints", fmt.Sprint(r.FIPS), fmt.Sprint(asked.FIPS), false},
		{"old keys", retireWords(r.Retire), retireWords(asked.Retire), false},
		{"tags", orNone(strings.Join(r.Tags, ",")), orNone(strings.Join(asked.Tags, ",")), false},
		{"store", orNone(r.Store), orNone(asked.Store), false},
		{"KMS key", kmsWords(r.Delivery, asked.Store), kmsWords(asked.Delivery, r.Store), false},
		{"file format", orNone(r.Format), orNone(asked.Format), false},
		{"secret access key", secretKeyWords(r.SecretKey), secretKeyWords(asked.SecretKey), false},
	} {
		if d.earlier != d.now && !(d.fold && strings.EqualFold(d.earlier, d.now)) {
			out = append(out, fmt.Sprintf("%s: the earlier run's %s, this run asks %s", d.what, d.earlier, d.now))
		}
	}
	return out
}

// SamePolicy reports whether r and o give the user the same inline sender
// policy (or none), the documents compared in normal form.
func (r Request) SamePolicy(o Request) bool { return policyWords(r) == policyWords(o) }

// policyWords names the inline sender policy of r: its name and document,
// in normal form (policy.NormalJSON): the same --from-address values in
// another order are the same policy, and an earlier sesmtp recorded them
// as given.
func policyWords(r Request) string {
	if r.Group != "" || r.Policy == "" {
		return "none (a group's)"
	}
	return fmt.Sprintf("%s %s", r.PolicyName, policy.NormalJSON(r.Policy))
}

func orNone(s string) string { return cmp.Or(s, "none") }

// kmsWords names the KMS key of a store delivery, when the other run's
// delivery goes to the same store ("" otherwise: the store's line says
// what differs).
func kmsWords(d Delivery, otherStore string) string {
	if d.Store == "" || d.Store != otherStore {
		return ""
	}
	return cmp.Or(d.KMSKeyID, "the AWS managed key")
}

// secretKeyWords says whether a delivery holds the secret access key.
func secretKeyWords(included bool) string {
	if included {
		return "included (--include-secret-key)"
	}
	return "not included"
}

// retireWords says what a key rotation does with the old keys.
func retireWords(mode string) string {
	switch mode {
	case RetirePending:
		return "left active, pending retirement"
	case RetireDeactivate:
		return "deactivated (--deactivate-old)"
	case RetireDelete:
		return "deleted (--retire-now)"
	}
	return "none"
}

// budget is how long a run under ctx can still make IAM calls, and
// windowSlack; zero when it has no deadline.
func budget(ctx context.Context) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return time.Until(deadline) + windowSlack
}
