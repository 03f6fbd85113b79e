package policy

import "slices"

// setupActions are the IAM actions sesmtp setup calls: an admin's, once
// per account; never part of an operator policy.
var setupActions = []string{
	"iam:ListPolicies", "iam:CreatePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions",
	"iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion",
	"iam:GetGroup", "iam:CreateGroup", "iam:PutGroupPolicy", "iam:ListGroupPolicies", "iam:GetGroupPolicy",
	"iam:ListAttachedGroupPolicies", "iam:ListUsers", "iam:GetUser",
}

// SetupActions returns, sorted, the IAM actions the admin running sesmtp
// setup needs.
func SetupActions() []string {
	acts := slices.Clone(setupActions)
	slices.Sort(acts)
	return acts
}
