package provision

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sesmtp/sesmtp/policy"
)

// PlanCreate returns the IAM calls Create would make for in, one line each,
// with the exact policy JSON, for --dry-run. It calls nothing.
func PlanCreate(in CreateInput) ([]string, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	user := fmt.Sprintf("UserName=%s", in.UserName)
	tags := []string{TagManagedBy + "=" + ManagedByValue, TagRunID + "=<random per run>"}
	for _, t := range append(slices.Clone(in.OwnTags), in.Tags...) {
		tags = append(tags, t.Key+"="+t.Value)
	}
	create := fmt.Sprintf("iam:CreateUser %s Tags=%s", user, strings.Join(tags, ","))
	if in.Path != "" {
		create += " Path=" + in.Path
	}
	if in.PermissionsBoundary != "" {
		create += " PermissionsBoundary=" + in.PermissionsBoundary
	}
	var plan []string
	if !in.Listed {
		plan = append(plan, "iam:ListUsers (check that no user is named "+in.UserName+")")
	}
	plan = append(plan, create)
	if in.Group != "" {
		if !in.GroupReady {
			plan = append(plan, GroupPlan(in.Group, in.policyName(), in.Policy, in.PermissionsBoundary != "")...)
		}
		plan = append(plan, fmt.Sprintf("iam:AddUserToGroup GroupName=%s %s", in.Group, user))
	} else {
		plan = append(plan, fmt.Sprintf("iam:PutUserPolicy %s PolicyName=%s PolicyDocument=%s", user, in.policyName(), in.Policy.JSON()))
	}
	plan = append(plan,
		"iam:CreateAccessKey "+user,
		"derive the SMTP password (v4) for "+strings.Join(in.Regions, ", "))
	return plan, nil
}

// GroupPlan is what CheckGroup and EnsureGroup do, for --dry-run; bounded
// says a permissions boundary is configured.
func GroupPlan(group, policyName string, doc policy.Document, bounded bool) []string {
	missing := fmt.Sprintf("  if it does not exist: iam:CreateGroup GroupName=%s, iam:PutGroupPolicy GroupName=%s PolicyName=%s PolicyDocument=%s",
		group, group, policyName, doc.JSON())
	if bounded {
		missing = "  if it does not exist: stop, nothing changed (with a permissions boundary, 'sesmtp setup --group " + group + "' makes groups)"
	}
	return []string{
		"iam:GetGroup GroupName=" + group + ", and if it exists iam:ListGroupPolicies, iam:GetGroupPolicy, iam:ListAttachedGroupPolicies, " +
			"iam:GetPolicy, iam:GetPolicyVersion (stop, nothing changed, if its policies allow more than SES sending)",
		missing,
	}
}

// PlanRotate returns the IAM calls Rotate would make for in, for
// --dry-run. It calls nothing, so it cannot know the user's keys or
// configuration: it says what each depends on.
func PlanRotate(in RotateInput) ([]string, error) {
	if err := CheckName("user name", in.UserName, MaxUserNameLen); err != nil {
		return nil, err
	}
	user := "UserName=" + in.UserName
	derivation := "derive the SMTP password (v4) for " + strings.Join(in.Regions, ", ") + " and write the credentials file"
	refuse := "stop if it does not exist or holds more than SMTP credentials"
	if in.Force {
		refuse = "stop if it does not exist; " + AnyUserFlag + ": go on whatever it holds"
	}
	inspect := "read the user's configuration: iam:GetUser, iam:ListUserPolicies, iam:GetUserPolicy, iam:ListGroupsForUser, " +
		"iam:ListGroupPolicies, iam:GetGroupPolicy, iam:ListAttachedUserPolicies, iam:ListAccessKeys, iam:GetLoginProfile, " +
		"iam:ListSigningCertificates, iam:ListSSHPublicKeys, iam:ListServiceSpecificCredentials, iam:ListMFADevices (" + refuse + ")"
	if in.Strategy == StrategyKey {
		return planKeyRotation(in, inspect, derivation), nil
	}
	boundary := "iam:CreateUser " + user + " with the same path, tags (a new " + TagRunID + ") and permissions boundary"
	if in.PermissionsBoundary != "" {
		boundary = "iam:CreateUser " + user + " with the same path and tags (a new " + TagRunID + "), and permissions boundary " + in.PermissionsBoundary
	}
	return []string{
		inspect,
		"iam:GetPolicy if it has or gets a permissions boundary (the boundary exists; else stop, nothing changed)",
		"delete it as sesmtp delete does: its keys, policies, group memberships and other credentials, then iam:DeleteUser " + user,
		boundary,
		"iam:PutUserPolicy and iam:AddUserToGroup for the inline policies and groups it had",
		"iam:CreateAccessKey " + user,
		derivation,
	}, nil
}

// planKeyRotation is PlanRotate's key strategy.
func planKeyRotation(in RotateInput, inspect, derivation string) []string {
	user := "UserName=" + in.UserName
	record := "iam:TagUser " + user + " Tags=" + TagRetire + ":<old key id>=<old key id>@<now>"
	retire := record + " (the old key stays active until 'sesmtp retire --user " + in.UserName + "')"
	switch retireMode(in) {
	case RetireDelete:
		retire = "iam:DeleteAccessKey " + user + " for each old key"
	case RetireDeactivate:
		retire = "iam:UpdateAccessKey " + user + " Status=Inactive for each old key, then " + record + "/deactivated@<now>"
	}
	first := "iam:ListAccessKeys " + user + " (a retirement pending in tag " + TagRetire + ", or two keys: stop, nothing changed)"
	if in.ReplaceOldest {
		first = "iam:ListAccessKeys " + user + " (a retirement pending in tag " + TagRetire +
			": stop, nothing changed; two keys: iam:DeleteAccessKey of the older first)"
	}
	return []string{inspect, first, "iam:CreateAccessKey " + user, derivation, retire}
}
