package policy

import (
	"slices"
)

// The IAM actions of sesmtp's flows, by step. provision's end-to-end tests
// run each command as a caller allowed only CommandActions(command), so a
// call missing here fails with AccessDenied there.
var (
	// createActions: the console flow, the group variant and the rollback.
	createActions = []string{
		"iam:ListUsers", "iam:GetUser", "iam:CreateUser", "iam:TagUser", // a tagged CreateUser is also authorized as TagUser
		"iam:PutUserPolicy", "iam:CreateAccessKey", "iam:ListAccessKeys",
		"iam:GetGroup", "iam:CreateGroup", "iam:PutGroupPolicy", "iam:AddUserToGroup",
		"iam:ListUserPolicies", "iam:ListGroupsForUser", "iam:DeleteAccessKey", "iam:DeleteUserPolicy",
		"iam:RemoveUserFromGroup", "iam:ListGroupPolicies", "iam:DeleteGroupPolicy", "iam:DeleteGroup", "iam:DeleteUser",
	}
	// inspectActions read everything a user holds (delete's safety check,
	// rotate's saved configuration).
	inspectActions = []string{
		"iam:GetUser", "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:ListGroupsForUser",
		"iam:ListGroupPolicies", "iam:GetGroupPolicy", "iam:ListAttachedUserPolicies", "iam:ListAccessKeys",
		"iam:GetLoginProfile", "iam:ListSigningCertificates", "iam:ListSSHPublicKeys",
		"iam:ListServiceSpecificCredentials", "iam:ListMFADevices",
		// what the user's groups grant: attached managed policies too
		"iam:ListAttachedGroupPolicies", "iam:GetPolicy", "iam:GetPolicyVersion",
	}
	// purgeActions remove a user and what IAM requires gone first.
	purgeActions = []string{
		"iam:DeleteAccessKey", "iam:DeleteUserPolicy", "iam:RemoveUserFromGroup", "iam:DetachUserPolicy",
		"iam:DeleteLoginProfile", "iam:DeleteSigningCertificate", "iam:DeleteSSHPublicKey",
		"iam:DeleteServiceSpecificCredential", "iam:DeactivateMFADevice", "iam:DeleteVirtualMFADevice",
		"iam:DeleteUser",
	}
	// groupCheckActions read what a group grants before a user joins it
	// (create --group refuses a group that allows more than SES sending).
	groupCheckActions = []string{
		"iam:GetGroup", "iam:ListGroupPolicies", "iam:GetGroupPolicy", "iam:ListAttachedGroupPolicies",
		"iam:GetPolicy", "iam:GetPolicyVersion",
	}
	listActions = []string{
		"iam:ListUsers", "iam:ListUserTags", "iam:ListUserPolicies", "iam:ListGroupsForUser",
		"iam:ListAccessKeys", "iam:GetAccessKeyLastUsed",
	}
)

// operatorActions maps each command that calls IAM to the actions it needs.
var operatorActions = map[string][]string{
	"create": concat(createActions, groupCheckActions),
	"delete": concat(inspectActions, purgeActions),
	// rotate --strategy recreate checks the boundary it will attach exists
	// (iam:GetPolicy) before it deletes anything.
	"rotate": concat(inspectActions, purgeActions, createActions, []string{"iam:UpdateAccessKey", "iam:GetPolicy"}),
	"list":   listActions,
	// retire (phase 2 of a key rotation) reads the sesmtp:retire tag and the
	// keys, deactivates and deletes the old key, and updates the tag.
	"retire": {"iam:ListUsers", "iam:ListUserTags", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed",
		"iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:TagUser", "iam:UntagUser"},
	"verify": {"iam:GetUser", "iam:GetAccessKeyLastUsed", "iam:SimulatePrincipalPolicy"}, // --check-permission; create --verify uses it when granted
}

func concat(lists ...[]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// OperatorActions returns, sorted and without duplicates, the IAM actions
// an operator needs to run every sesmtp command.
func OperatorActions() []string {
	var all []string
	for _, acts := range operatorActions {
		all = append(all, acts...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// CommandActions returns the IAM actions the named command needs, sorted,
// or nil for a command that calls no IAM action.
func CommandActions(command string) []string {
	acts := slices.Clone(operatorActions[command])
	slices.Sort(acts)
	return slices.Compact(acts)
}

// Operator returns the broad operator policy: every IAM action a sesmtp
// command calls (or, with commands, those commands call), on every
// resource, without conditions. It is the fallback for accounts without
// sesmtp's permissions boundary, and it is admin-equivalent: iam:PutUserPolicy
// and iam:CreateAccessKey on "*" let its holder give any user, itself
// included, any permission. OperatorWithBoundary is the policy to grant.
func Operator(commands ...string) Document {
	acts := OperatorActions()
	if len(commands) > 0 {
		acts = nil
		for _, c := range commands {
			acts = append(acts, operatorActions[c]...)
		}
		slices.Sort(acts)
		acts = slices.Compact(acts)
	}
	return Document{Version: Version, Statement: []Statement{{
		Sid:      "SesmtpOperator",
		Effect:   "Allow",
		Action:   Strings(acts),
		Resource: Strings{"*"},
	}}}
}

// Commands returns the names of the commands that call IAM, sorted.
func Commands() []string {
	var cs []string
	for c := range operatorActions {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	return cs
}
