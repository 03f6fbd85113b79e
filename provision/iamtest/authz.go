package iamtest

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

// parseCache keeps parsed policy documents by their text, so that a call
// does not parse the same policies again: documents are immutable values
// and the evaluator only reads them. It is used under the state lock.
type parseCache map[string]*iampolicy.Document

// maxParsed bounds the cache; past it, the cache starts over.
const maxParsed = 1024

func (pc *parseCache) parse(doc string) (*iampolicy.Document, error) {
	if d, ok := (*pc)[doc]; ok {
		return d, nil
	}
	d, err := iampolicy.Parse(doc)
	if err != nil {
		return nil, err
	}
	if *pc == nil || len(*pc) >= maxParsed {
		*pc = parseCache{}
	}
	(*pc)[doc] = d
	return d, nil
}

// principal is a caller resolved to the policies that apply to it.
type principal struct {
	arn  string
	user *User // the state user it acts as, or nil
	// unrestricted skips evaluation: an allow-all caller without a boundary.
	unrestricted bool
	policies     iampolicy.Principal
}

// principalFor resolves a caller (see Caller) under the state lock.
func (st *state) principalFor(c Caller) (principal, error) {
	p := principal{arn: callerARN(st.account, c.UserName)}
	explicit := c.Allow != nil || c.Policies != nil
	if u, ok := st.users[strings.ToLower(c.UserName)]; ok && !explicit {
		p.arn, p.user = u.ARN, u
		live, err := st.livePrincipal(u)
		if err != nil {
			return p, err
		}
		p.policies = live
	} else {
		if !explicit {
			c.Allow = []string{"*"} // neither policies nor a user: allow-all
		}
		ids, err := st.callerPolicies(c)
		if err != nil {
			return p, err
		}
		p.policies.Identity = ids
		p.unrestricted = c.Boundary == "" && len(c.Policies) == 0 && allowsEverything(c.Allow)
	}
	if c.Boundary != "" {
		d, err := st.parsed.parse(c.Boundary)
		if err != nil {
			return p, fmt.Errorf("caller %s's boundary: %w", c.UserName, err)
		}
		p.policies.Boundary = &iampolicy.Policy{ID: "boundary", Type: iampolicy.SourceNone, Document: d}
	}
	return p, nil
}

func allowsEverything(allow []string) bool {
	for _, a := range allow {
		if a == "*" {
			return true
		}
	}
	return false
}

// callerARN names a configured caller: an assumed-role session as STS
// does, anyone else as a user of the account.
func callerARN(account, name string) string {
	if strings.HasPrefix(name, "assumed-role/") {
		return "arn:aws:sts::" + account + ":" + name
	}
	return "arn:aws:iam::" + account + ":user/" + name
}

// callerPolicies turns Allow into an identity policy allowing those
// actions on every resource, and parses Policies.
func (st *state) callerPolicies(c Caller) ([]iampolicy.Policy, error) {
	var out []iampolicy.Policy
	if c.Allow != nil {
		acts := make([]string, 0, len(c.Allow))
		for _, a := range c.Allow {
			if a != "*" && !strings.Contains(a, ":") {
				a = "iam:" + a
			}
			acts = append(acts, a)
		}
		doc := &iampolicy.Document{Version: "2012-10-17"}
		if len(acts) > 0 {
			doc.Statements = []iampolicy.Statement{{Effect: iampolicy.Allow, Actions: acts, Resources: []string{"*"}}}
		}
		out = append(out, iampolicy.Policy{ID: "allow-list", Type: iampolicy.SourceNone, Document: doc})
	}
	for i, raw := range c.Policies {
		d, err := st.parsed.parse(raw)
		if err != nil {
			return nil, fmt.Errorf("caller %s's policy %d: %w", c.UserName, i+1, err)
		}
		out = append(out, iampolicy.Policy{ID: fmt.Sprintf("policy-%d", i+1), Type: iampolicy.SourceNone, Document: d})
	}
	return out, nil
}

// livePrincipal gathers a user's policies as IAM applies them ("Policy
// evaluation logic": identity-based policies are the user's inline and
// attached managed policies and those of its groups), with its permissions
// boundary. A managed policy the state does not hold grants nothing; a
// boundary the state does not hold allows nothing.
func (st *state) livePrincipal(u *User) (iampolicy.Principal, error) {
	var p iampolicy.Principal
	add := func(id, typ, doc string) error {
		d, err := st.parsed.parse(doc)
		if err != nil {
			return fmt.Errorf("policy %s of user %s: %w", id, u.Name, err)
		}
		p.Identity = append(p.Identity, iampolicy.Policy{ID: id, Type: typ, Document: d})
		return nil
	}
	for _, name := range sortedKeys(u.InlinePolicies) {
		if err := add(name, iampolicy.SourceUser, u.InlinePolicies[name]); err != nil {
			return p, err
		}
	}
	if err := st.addManaged(sortedKeys(u.AttachedPolicies), add); err != nil {
		return p, err
	}
	if err := st.addGroups(u, add); err != nil {
		return p, err
	}
	b, err := st.boundaryOf(u)
	p.Boundary = b
	return p, err
}

// addGroups adds the inline and attached policies of the user's groups.
func (st *state) addGroups(u *User, add func(id, typ, doc string) error) error {
	for _, gname := range u.Groups {
		g, ok := st.groups[strings.ToLower(gname)]
		if !ok {
			continue
		}
		for _, name := range sortedKeys(g.InlinePolicies) {
			if err := add(name, iampolicy.SourceGroup, g.InlinePolicies[name]); err != nil {
				return err
			}
		}
		if err := st.addManaged(sortedKeys(g.AttachedPolicies), add); err != nil {
			return err
		}
	}
	return nil
}

// boundaryOf returns the user's permissions boundary, nil without one.
func (st *state) boundaryOf(u *User) (*iampolicy.Policy, error) {
	if u.PermissionsBoundary == "" {
		return nil, nil
	}
	b := &iampolicy.Policy{ID: u.PermissionsBoundary, Type: iampolicy.SourceUserManaged}
	if mp := st.managedPolicy(u.PermissionsBoundary); mp != nil {
		d, err := st.parsed.parse(mp.DefaultDocument())
		if err != nil {
			return nil, fmt.Errorf("boundary %s of user %s: %w", mp.ARN, u.Name, err)
		}
		b.Document, b.Type = d, managedSource(mp)
	}
	return b, nil
}

func (st *state) addManaged(arns []string, add func(id, typ, doc string) error) error {
	for _, arn := range arns {
		if mp := st.managedPolicy(arn); mp != nil {
			if err := add(arn, managedSource(mp), mp.DefaultDocument()); err != nil {
				return err
			}
		}
	}
	return nil
}

func managedSource(p *ManagedPolicy) string {
	if p.AWSManaged {
		return iampolicy.SourceAWSManaged
	}
	return iampolicy.SourceUserManaged
}

// globalContext adds the global condition keys of a request by p ("AWS
// global condition context keys"): who asks, in which account and region.
// aws:SecureTransport is true because IAM's endpoint only speaks HTTPS.
func globalContext(ctx iampolicy.Context, st *state, p principal, region string) {
	ctx.Set("aws:PrincipalArn", p.arn)
	ctx.Set("aws:PrincipalAccount", st.account)
	ctx.Set("aws:SecureTransport", "true")
	if region != "" {
		ctx.Set("aws:RequestedRegion", region)
	}
	if strings.Contains(p.arn, ":assumed-role/") {
		ctx.Set("aws:PrincipalType", "AssumedRole")
		return
	}
	ctx.Set("aws:PrincipalType", "User")
	ctx.Set("aws:username", p.arn[strings.LastIndex(p.arn, "/")+1:])
	if p.user != nil {
		ctx.Set("aws:userid", p.user.ID)
		for _, t := range p.user.Tags {
			ctx.Set("aws:PrincipalTag/"+t.Key, t.Value)
		}
	}
}

// authorize evaluates the caller's policies for an IAM action as IAM
// would, answering AccessDenied in IAM's words when they do not allow it.
func (s *Server) authorize(form url.Values, caller Caller, action, region string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.state.principalFor(caller)
	if err != nil {
		return errEvaluation(err)
	}
	if p.unrestricted {
		return nil
	}
	for _, ar := range s.state.authzRequests(action, form, p) {
		globalContext(ar.ctx, s.state, p, region)
		res, err := iampolicy.Evaluate(iampolicy.Request{Action: ar.action, Resource: ar.resource, Context: ar.ctx}, p.policies)
		if err != nil {
			return errEvaluation(err)
		}
		if res.Decision != iampolicy.Allowed {
			return errAccessDenied(p.arn, ar.action, ar.resource, res)
		}
	}
	return nil
}

// errAccessDenied writes the message as the IAM user guide's "Access
// denied error message" troubleshooting page shows it: "User: ARN is not
// authorized to perform: ACTION on resource: RESOURCE because no
// identity-based policy allows the ACTION action", "... with an explicit
// deny in an identity-based policy", and the same with "permissions
// boundary".
func errAccessDenied(who, action, resource string, res iampolicy.Result) *apiError {
	why := "because no " + res.DeniedBy + " allows the " + action + " action"
	if res.Decision == iampolicy.ExplicitDeny {
		article := "a "
		if res.DeniedBy == iampolicy.ByIdentity {
			article = "an "
		}
		why = "with an explicit deny in " + article + res.DeniedBy
	}
	return &apiError{Status: 403, Type: "Sender", Code: "AccessDenied",
		Message: "User: " + who + " is not authorized to perform: " + action + " on resource: " + resource + " " + why}
}

// errEvaluation reports a policy the evaluator cannot read or an operator
// it does not implement: loudly, so that no test passes on a guess.
func errEvaluation(err error) *apiError {
	return &apiError{Status: 500, Type: "Receiver", Code: "ServiceFailure", Message: "iamtest cannot evaluate the policies: " + err.Error()}
}
