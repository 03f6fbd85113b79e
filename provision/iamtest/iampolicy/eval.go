package iampolicy

import (
	"slices"
	"strings"
)

// Request is what a principal asks to do: the action ("iam:CreateUser"),
// the resource ARN it acts on ("*" for actions without a resource type),
// and the request context.
type Request struct {
	Action   string
	Resource string
	Context  Context
}

// The policy source types of SimulatePrincipalPolicy's MatchedStatements
// (SDK model: PolicySourceType).
const (
	SourceUser        = "user"         // a user's inline policy
	SourceGroup       = "group"        // a group's inline policy
	SourceAWSManaged  = "aws-managed"  // an AWS managed policy
	SourceUserManaged = "user-managed" // a customer managed policy
	SourceNone        = "none"         // a policy given directly (a test caller's)
)

// Policy is a parsed policy with where it came from.
type Policy struct {
	// ID names the policy: an inline policy's name or a managed policy's ARN.
	ID       string
	Type     string // one of the Source constants
	Document *Document
}

// Principal is the set of policies that apply to a caller: its identity
// policies and, if it has one, its permissions boundary.
type Principal struct {
	Identity []Policy
	// Boundary is nil without a permissions boundary. A boundary whose
	// policy is gone is a Policy with an empty Document: it allows nothing.
	Boundary *Policy
}

// Decision is an evaluation result, spelled as SimulatePrincipalPolicy's
// EvalDecision.
type Decision string

// The three decisions of "Policy evaluation logic".
const (
	Allowed      Decision = "allowed"
	ExplicitDeny Decision = "explicitDeny"
	ImplicitDeny Decision = "implicitDeny"
)

// Which policy set decided a denial, for the AccessDenied message.
const (
	ByIdentity = "identity-based policy"
	ByBoundary = "permissions boundary"
)

// Match is a statement that applied to the request.
type Match struct {
	PolicyID   string
	PolicyType string
	Statement  int // index in the document
	Effect     Effect
}

// Result is the outcome of Evaluate.
type Result struct {
	Decision Decision
	// DeniedBy is ByIdentity or ByBoundary for a denial, "" when allowed.
	DeniedBy string
	// Matched holds the statements that decided: the denying statements of
	// an explicit deny, else the allowing identity statements.
	Matched []Match
	// HasBoundary and BoundaryAllowed describe the permissions boundary's
	// own verdict (SimulatePrincipalPolicy's PermissionsBoundaryDecisionDetail).
	HasBoundary     bool
	BoundaryAllowed bool
	// MissingKeys lists, sorted and as the policy spells them, the condition keys that
	// statements matching the action and resource refer to but the context
	// lacks (SimulatePrincipalPolicy's MissingContextValues).
	MissingKeys []string
}

// verdict collects the matching statements of one policy set.
type verdict struct {
	allows, denies []Match
}

// Evaluate decides req for p as "Policy evaluation logic" describes for a
// request within one account without resource-based policies:
//  1. an explicit Deny in any applicable policy wins;
//  2. otherwise an identity-based policy must allow the request;
//  3. and, if the principal has a permissions boundary, the boundary must
//     allow it too ("Permissions boundaries for IAM entities": effective
//     permissions are the intersection of both).
//
// It returns an error only for a condition operator it cannot evaluate.
func Evaluate(req Request, p Principal) (Result, error) {
	missing := map[string]string{}
	id, err := evalSet(req, p.Identity, missing)
	if err != nil {
		return Result{}, err
	}
	var bd verdict
	if p.Boundary != nil {
		if bd, err = evalSet(req, []Policy{*p.Boundary}, missing); err != nil {
			return Result{}, err
		}
	}
	r := Result{HasBoundary: p.Boundary != nil, MissingKeys: sortedKeys(missing)}
	r.BoundaryAllowed = r.HasBoundary && len(bd.allows) > 0 && len(bd.denies) == 0
	switch {
	case len(id.denies) > 0:
		r.Decision, r.DeniedBy, r.Matched = ExplicitDeny, ByIdentity, id.denies
	case len(bd.denies) > 0:
		r.Decision, r.DeniedBy, r.Matched = ExplicitDeny, ByBoundary, bd.denies
	case len(id.allows) == 0:
		r.Decision, r.DeniedBy = ImplicitDeny, ByIdentity
	case r.HasBoundary && !r.BoundaryAllowed:
		r.Decision, r.DeniedBy, r.Matched = ImplicitDeny, ByBoundary, id.allows
	default:
		r.Decision, r.Matched = Allowed, id.allows
	}
	return r, nil
}

func evalSet(req Request, policies []Policy, missing map[string]string) (verdict, error) {
	var v verdict
	for _, pol := range policies {
		if pol.Document == nil {
			continue
		}
		vars := pol.Document.Version == "2012-10-17"
		for i, st := range pol.Document.Statements {
			if !st.appliesTo(req, vars) {
				continue
			}
			noteMissing(st, req.Context, missing)
			ok, err := st.conditionsHold(req.Context, vars)
			if err != nil {
				return v, err
			}
			if !ok {
				continue
			}
			m := Match{PolicyID: pol.ID, PolicyType: pol.Type, Statement: i, Effect: st.Effect}
			if st.Effect == Deny {
				v.denies = append(v.denies, m)
			} else {
				v.allows = append(v.allows, m)
			}
		}
	}
	return v, nil
}

// appliesTo reports whether the statement's Action/NotAction and
// Resource/NotResource cover the request.
func (s Statement) appliesTo(req Request, vars bool) bool {
	hit := slices.ContainsFunc(s.Actions, func(a string) bool { return MatchAction(a, req.Action) })
	if hit == s.NotAction {
		return false
	}
	hit = slices.ContainsFunc(s.Resources, func(r string) bool {
		if vars {
			var ok bool
			if r, ok = expandVariables(r, req.Context); !ok {
				return false
			}
		}
		return ARNMatch(r, req.Resource)
	})
	return hit != s.NotResource
}

func (s Statement) conditionsHold(ctx Context, vars bool) (bool, error) {
	for _, c := range s.Conditions {
		ok, err := c.holds(ctx, vars)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func noteMissing(s Statement, ctx Context, missing map[string]string) {
	for _, c := range s.Conditions {
		k := strings.ToLower(c.Key)
		if _, ok := ctx.Lookup(k); !ok && c.base != "null" && missing[k] == "" {
			missing[k] = c.Key
		}
	}
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for _, k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
