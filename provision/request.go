package provision

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
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
	Delivery
}

// Delivery is where and how a run delivers credentials, as its caller
// names them: a --store location ("" for none) and a file's format ("" for
// no file).
type Delivery struct {
	Store  string `json:"store,omitempty"`
	Format string `json:"format,omitempty"`
}

// Request is what in asks for, as Create records it.
func (in *CreateInput) Request() *Request {
	r := &Request{Path: cmp.Or(in.Path, "/"), PermissionsBoundary: in.PermissionsBoundary, Group: in.Group,
		Regions: normalRegions(in.Regions), FIPS: in.FIPS, Delivery: in.Delivery}
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
	for _, d := range []struct{ what, earlier, now string }{
		{"sender policy", policyWords(r), policyWords(asked)},
		{"group", orNone(r.Group), orNone(asked.Group)},
		{"IAM path", r.Path, asked.Path},
		{"permissions boundary", orNone(r.PermissionsBoundary), orNone(asked.PermissionsBoundary)},
		{"regions", strings.Join(r.Regions, ","), strings.Join(asked.Regions, ",")},
		{"FIPS endpoints", fmt.Sprint(r.FIPS), fmt.Sprint(asked.FIPS)},
		{"old keys", retireWords(r.Retire), retireWords(asked.Retire)},
		{"store", orNone(r.Store), orNone(asked.Store)},
		{"file format", orNone(r.Format), orNone(asked.Format)},
	} {
		if d.earlier != d.now {
			out = append(out, fmt.Sprintf("%s: the earlier run's %s, this run asks %s", d.what, d.earlier, d.now))
		}
	}
	return out
}

// policyWords names the inline sender policy of r: its name and document.
func policyWords(r Request) string {
	if r.Group != "" || r.Policy == "" {
		return "none (a group's)"
	}
	return fmt.Sprintf("%s %s", r.PolicyName, r.Policy)
}

func orNone(s string) string { return cmp.Or(s, "none") }

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
