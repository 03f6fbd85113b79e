package provision

import (
	"fmt"
	"strings"
)

// PlanCreate returns the IAM calls Create would make for in, one line each,
// with the exact policy JSON, for --dry-run. It calls nothing.
func PlanCreate(in CreateInput) ([]string, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	user := fmt.Sprintf("UserName=%s", in.UserName)
	tags := []string{TagManagedBy + "=" + ManagedByValue, TagRunID + "=<random per run>"}
	for _, t := range in.Tags {
		tags = append(tags, t.Key+"="+t.Value)
	}
	create := fmt.Sprintf("iam:CreateUser %s Tags=%s", user, strings.Join(tags, ","))
	if in.Path != "" {
		create += " Path=" + in.Path
	}
	if in.PermissionsBoundary != "" {
		create += " PermissionsBoundary=" + in.PermissionsBoundary
	}
	plan := []string{
		"iam:ListUsers (check that no user is named " + in.UserName + ")",
		create,
	}
	if in.Group != "" {
		plan = append(plan,
			"iam:GetGroup GroupName="+in.Group,
			fmt.Sprintf("  if it does not exist: iam:CreateGroup GroupName=%s, iam:PutGroupPolicy GroupName=%s PolicyName=%s PolicyDocument=%s",
				in.Group, in.Group, in.policyName(), in.Policy.JSON()),
			fmt.Sprintf("iam:AddUserToGroup GroupName=%s %s", in.Group, user))
	} else {
		plan = append(plan, fmt.Sprintf("iam:PutUserPolicy %s PolicyName=%s PolicyDocument=%s", user, in.policyName(), in.Policy.JSON()))
	}
	plan = append(plan,
		"iam:CreateAccessKey "+user,
		"derive the SMTP password (v4) for "+strings.Join(in.Regions, ", "))
	return plan, nil
}
