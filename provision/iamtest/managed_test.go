package iamtest_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func policyDoc(action string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"*"}]}`
}

func TestManagedPolicyLifecycle(t *testing.T) {
	srv, c := newLocal(t)
	ctx := t.Context()

	out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("SesmtpSenderBoundary"), Path: aws.String("/sesmtp/"),
		PolicyDocument: aws.String(sesBoundaryDoc), Description: aws.String("SES sending only")})
	require.NoError(t, err)
	arn := aws.ToString(out.Policy.Arn)
	assert.Equal(t, "arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary", arn)
	assert.Equal(t, "v1", aws.ToString(out.Policy.DefaultVersionId))
	assert.Regexp(t, `^ANPA`, aws.ToString(out.Policy.PolicyId))
	p, ok := srv.Policy(arn)
	require.True(t, ok)
	assert.Equal(t, sesBoundaryDoc, p.DefaultDocument())

	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("sesmtpsenderboundary"), PolicyDocument: aws.String(sesBoundaryDoc)})
	var exists *types.EntityAlreadyExistsException
	require.ErrorAs(t, err, &exists, "names are unique, whatever the path and case")

	// Used as a boundary and attached: GetPolicy counts both.
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("mailer"), PermissionsBoundary: aws.String(arn)})
	require.NoError(t, err)
	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("mailer"), PolicyArn: aws.String(arn)})
	require.NoError(t, err)
	gp, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	require.NoError(t, err)
	assert.Equal(t, int32(1), aws.ToInt32(gp.Policy.AttachmentCount))
	assert.Equal(t, int32(1), aws.ToInt32(gp.Policy.PermissionsBoundaryUsageCount))
	assert.Equal(t, "SES sending only", aws.ToString(gp.Policy.Description))

	// Versions: at most five; the default cannot be deleted.
	for i := 2; i <= 5; i++ {
		v, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn),
			PolicyDocument: aws.String(policyDoc("ses:Send*")), SetAsDefault: i == 3})
		require.NoError(t, err)
		assert.Equal(t, "v"+string(rune('0'+i)), aws.ToString(v.PolicyVersion.VersionId))
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(sesBoundaryDoc)})
	var limit *types.LimitExceededException
	require.ErrorAs(t, err, &limit)
	assert.ErrorContains(t, err, "A managed policy can have up to 5 versions")
	lv, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	require.NoError(t, err)
	require.Len(t, lv.Versions, 5)
	assert.True(t, lv.Versions[2].IsDefaultVersion, "v3 is the default (newest first)")
	gv, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v3")})
	require.NoError(t, err)
	doc, err := url.PathUnescape(aws.ToString(gv.PolicyVersion.Document))
	require.NoError(t, err)
	assert.Equal(t, policyDoc("ses:Send*"), doc, "IAM returns documents URL-encoded")
	assert.NotEqual(t, doc, aws.ToString(gv.PolicyVersion.Document))

	_, err = c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v3")})
	var conflict *types.DeleteConflictException
	require.ErrorAs(t, err, &conflict)
	_, err = c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")})
	require.NoError(t, err)
	_, err = c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v9")})
	var missing *types.NoSuchEntityException
	require.ErrorAs(t, err, &missing)

	// DeletePolicy refuses while attached, used as a boundary, or versioned.
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
	require.ErrorAs(t, err, &conflict)
	assert.ErrorContains(t, err, "Cannot delete a policy attached to entities.")
	_, err = c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("mailer"), PolicyArn: aws.String(arn)})
	require.NoError(t, err)
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
	require.ErrorAs(t, err, &conflict, "still the boundary of mailer")
	_, err = c.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("mailer")})
	require.NoError(t, err)
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
	require.ErrorAs(t, err, &conflict)
	assert.ErrorContains(t, err, "This policy has more than one version.")
	for _, v := range []string{"v2", "v3", "v4", "v5"} {
		_, err = c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(v)})
		require.NoError(t, err, v)
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
	require.NoError(t, err)
	_, ok = srv.Policy(arn)
	assert.False(t, ok)
}

func TestManagedPolicyValidation(t *testing.T) {
	_, c := newLocal(t)
	ctx := t.Context()
	_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("bad"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"CreateUser","Resource":"*"}]}`)})
	var malformed *types.MalformedPolicyDocumentException
	require.ErrorAs(t, err, &malformed)
	assert.ErrorContains(t, err, "must be prefaced by a vendor")

	actions := make([]string, 0, 400)
	for i := range 400 {
		actions = append(actions, `"ses:SendRawEmail`+strings.Repeat("x", i%5)+`"`)
	}
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[` + strings.Join(actions, ",") + `],"Resource":"*"}]}`
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("big"), PolicyDocument: aws.String(big)})
	var limit *types.LimitExceededException
	require.ErrorAs(t, err, &limit)
	assert.ErrorContains(t, err, "Cannot exceed quota for PolicySize: 6144")

	spaced := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"` + strings.Repeat(" ", 7000) + `}]}`
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("spaced"), PolicyDocument: aws.String(spaced)})
	require.NoError(t, err, "white space does not count")

	var missing *types.NoSuchEntityException
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u"), PermissionsBoundary: aws.String("arn:aws:iam::123456789012:policy/nope")})
	require.ErrorAs(t, err, &missing)
	assert.ErrorContains(t, err, "Scope ARN: arn:aws:iam::123456789012:policy/nope does not exist or is not attachable.")
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")})
	require.NoError(t, err)
	_, err = c.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("u"), PermissionsBoundary: aws.String("arn:aws:iam::123456789012:policy/nope")})
	require.ErrorAs(t, err, &missing)
	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("u"), PolicyArn: aws.String("arn:aws:iam::aws:policy/NoSuchThing")})
	require.ErrorAs(t, err, &missing)
	assert.ErrorContains(t, err, "Policy arn:aws:iam::aws:policy/NoSuchThing does not exist or is not attachable.")
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("not-an-arn")})
	var invalid *types.InvalidInputException
	require.ErrorAs(t, err, &invalid)

	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	assert.Equal(t, "AccessDenied", code(err), "AWS managed policies belong to AWS")
}

func TestListPoliciesAndGroupAttachments(t *testing.T) {
	srv, c := newLocal(t)
	ctx := t.Context()
	local := srv.PutPolicy("/sesmtp/", "Boundary", sesBoundaryDoc)

	all, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{})
	require.NoError(t, err)
	var names []string
	for _, p := range all.Policies {
		names = append(names, aws.ToString(p.PolicyName))
	}
	assert.Subset(t, names, []string{"AdministratorAccess", "IAMFullAccess", "AmazonSESFullAccess", "PowerUserAccess", "Boundary"})
	lp, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal})
	require.NoError(t, err)
	require.Len(t, lp.Policies, 1)
	assert.Equal(t, local, aws.ToString(lp.Policies[0].Arn))
	ap, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeAws, PathPrefix: aws.String("/sesmtp/")})
	require.NoError(t, err)
	assert.Empty(t, ap.Policies)

	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("Admins")})
	require.NoError(t, err)
	admin := "arn:aws:iam::aws:policy/AdministratorAccess"
	_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("Admins"), PolicyArn: aws.String(admin)})
	require.NoError(t, err)
	_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("Admins"), PolicyArn: aws.String("arn:aws:iam::aws:policy/Nope")})
	var missing *types.NoSuchEntityException
	require.ErrorAs(t, err, &missing)
	lag, err := c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String("Admins")})
	require.NoError(t, err)
	require.Len(t, lag.AttachedPolicies, 1)
	assert.Equal(t, "AdministratorAccess", aws.ToString(lag.AttachedPolicies[0].PolicyName))
	attached, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{OnlyAttached: true})
	require.NoError(t, err)
	require.Len(t, attached.Policies, 1)
	assert.Equal(t, int32(1), aws.ToInt32(attached.Policies[0].AttachmentCount))

	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("Admins")})
	var conflict *types.DeleteConflictException
	require.ErrorAs(t, err, &conflict)
	assert.ErrorContains(t, err, "must detach all policies first")
	_, err = c.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: aws.String("Admins"), PolicyArn: aws.String(admin)})
	require.NoError(t, err)
	_, err = c.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: aws.String("Admins"), PolicyArn: aws.String(admin)})
	require.ErrorAs(t, err, &missing)
	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("Admins")})
	require.NoError(t, err)
}
