package iamtest

import (
	"strings"

	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

// authorizeAssumeRole decides sts:AssumeRole of role (nil: a role the
// server does not know, arn as asked) by the caller of req, as the IAM
// User Guide's "Policy evaluation logic" (resource-based policies step)
// and "Cross-account policy evaluation logic" describe it:
//   - an explicit Deny in the trust policy, in the caller's identity
//     policies or in its permissions boundary refuses;
//   - the trust policy must allow the caller: identity policies alone never
//     do ("IAM role trust policies and KMS key policies are exceptions ...
//     because they must explicitly allow access for principals");
//   - within one account, a trust policy naming the caller itself (its user
//     ARN, or its role session ARN) is enough: "resource-based policies
//     that grant permissions to an IAM user ARN ... are not limited by an
//     implicit deny in an identity-based policy or permissions boundary";
//     one naming the account (or the caller's role) leaves the decision to
//     the caller's identity policies, within its boundary;
//   - across accounts, the trust policy and the caller's identity policies
//     (within its boundary) must both allow it.
//
// A role the server does not know answers as one the caller may not
// assume: AccessDenied.
func (s *Server) authorizeAssumeRole(req *request, role *Role, arn string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.state.principalFor(req.caller)
	if err != nil {
		return errEvaluation(err)
	}
	denied := &apiError{Status: 403, Type: "Sender", Code: "AccessDenied",
		Message: "User: " + p.arn + " is not authorized to perform: sts:AssumeRole on resource: " + arn}
	if role == nil {
		return denied
	}
	ctx := iampolicy.Context{}
	globalContext(ctx, s.state, p, "")
	if id := req.form.Get("ExternalId"); id != "" {
		ctx.Set("sts:ExternalId", id) // present only when given (Service Authorization Reference, AWS STS)
	}
	r := iampolicy.Request{Action: "sts:AssumeRole", Resource: arn, Context: ctx}
	trust, err := s.evaluateTrust(r, *role, p)
	if err != nil {
		return errEvaluation(err)
	}
	identity := iampolicy.Allowed
	if !p.unrestricted {
		res, err := iampolicy.Evaluate(r, p.policies)
		if err != nil {
			return errEvaluation(err)
		}
		identity = res.Decision
	}
	switch {
	case trust == iampolicy.TrustDenied || trust == iampolicy.NotTrusted || identity == iampolicy.ExplicitDeny:
		return denied
	case trust == iampolicy.TrustDirect && accountOfARN(arn) == s.account, identity == iampolicy.Allowed:
		return nil
	}
	return denied
}

// evaluateTrust evaluates role's trust policies for p's request r.
func (s *Server) evaluateTrust(r iampolicy.Request, role Role, p principal) (iampolicy.Trust, error) {
	var policies []*iampolicy.TrustPolicy
	for _, doc := range role.trustPolicies(s.account) {
		tp, err := iampolicy.ParseTrust(doc)
		if err != nil {
			return iampolicy.NotTrusted, err
		}
		policies = append(policies, tp)
	}
	c := iampolicy.TrustCaller{ARN: p.arn, Account: s.account}
	// A role session arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION is a
	// session of arn:aws:iam::ACCOUNT:role/ROLE.
	if rest, ok := strings.CutPrefix(p.arn, "arn:aws:sts::"+s.account+":assumed-role/"); ok {
		name, _, _ := strings.Cut(rest, "/")
		c.RoleARN = "arn:aws:iam::" + s.account + ":role/" + name
	}
	return iampolicy.EvaluateTrust(r, c, policies...)
}

// accountOfARN returns the account field of an ARN, "" if it has none.
func accountOfARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}
