package policy

import (
	"slices"
)

// operatorActions lists every IAM action sesmtp's commands call, by the
// command that needs it. provision's tests check that each IAM call they
// observe is listed here, so the operator policy cannot fall behind.
var operatorActions = map[string][]string{
	"create": {
		"iam:ListUsers", "iam:GetUser", "iam:CreateUser", "iam:TagUser",
		"iam:PutUserPolicy", "iam:CreateAccessKey", "iam:ListAccessKeys",
		"iam:GetGroup", "iam:CreateGroup", "iam:PutGroupPolicy", "iam:AddUserToGroup",
		// rollback
		"iam:ListUserPolicies", "iam:ListGroupsForUser", "iam:DeleteAccessKey", "iam:DeleteUserPolicy", "iam:RemoveUserFromGroup",
		"iam:DeleteGroupPolicy", "iam:DeleteGroup", "iam:DeleteUser",
	},
	"delete": {
		"iam:GetUser", "iam:ListAccessKeys", "iam:DeleteAccessKey",
		"iam:ListUserPolicies", "iam:GetUserPolicy", "iam:DeleteUserPolicy",
		"iam:ListAttachedUserPolicies", "iam:DetachUserPolicy",
		"iam:ListGroupsForUser", "iam:RemoveUserFromGroup",
		"iam:GetLoginProfile", "iam:DeleteLoginProfile",
		"iam:ListSigningCertificates", "iam:DeleteSigningCertificate",
		"iam:ListSSHPublicKeys", "iam:DeleteSSHPublicKey",
		"iam:ListServiceSpecificCredentials", "iam:DeleteServiceSpecificCredential",
		"iam:ListMFADevices", "iam:DeactivateMFADevice", "iam:DeleteVirtualMFADevice",
		"iam:DeleteUser",
	},
	"rotate": {
		"iam:GetUser", "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:ListGroupsForUser",
		"iam:ListAccessKeys", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey",
		"iam:CreateUser", "iam:PutUserPolicy", "iam:AddUserToGroup",
	},
	"list": {
		"iam:ListUsers", "iam:ListUserTags", "iam:ListUserPolicies", "iam:ListGroupsForUser",
		"iam:ListAccessKeys", "iam:GetAccessKeyLastUsed",
	},
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

// Operator returns the least-privilege policy that lets a person or role run
// every sesmtp command (or, with commands, only those).
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
