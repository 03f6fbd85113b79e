package cli

// Issue 12's adversarial review of the permissions-boundary delegation: an
// operator holding exactly the policy 'sesmtp setup' printed (and, where
// said, the broad policy or an admin) tries what an attacker would, through
// the SDK and through sesmtp's own commands. Each attempt names the outcome
// AWS documents. The breaks the review found (marked "was a BREAK") are
// fixed; their tests run in every 'go test'.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

const (
	aliceKeyID = "AKIAALICE00000000001"
	acctARN    = "arn:aws:iam::123456789012:"
)

var sesmtpTags = []types.Tag{{Key: aws.String(provision.TagManagedBy), Value: aws.String(provision.ManagedByValue)}}

func tag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// attack is one try: want is the error code AWS documents for it ("" when
// it is allowed, by design, and check says why that is harmless).
type attack struct {
	name  string
	want  string
	try   func(ctx context.Context) error
	check func(t *testing.T)
}

func runAttacks(t *testing.T, attacks []attack) {
	t.Helper()
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			err := at.try(t.Context())
			if at.want == "" {
				require.NoError(t, err, "allowed by design")
			} else {
				var ae smithy.APIError
				require.ErrorAs(t, err, &ae, "expected %s", at.want)
				assert.Equal(t, at.want, ae.ErrorCode(), err.Error())
			}
			if at.check != nil {
				at.check(t)
			}
		})
	}
}

func createUser(c *iam.Client, name, path, boundary string, tags ...types.Tag) func(context.Context) error {
	return func(ctx context.Context) error {
		in := &iam.CreateUserInput{UserName: aws.String(name), Tags: tags}
		if path != "" {
			in.Path = aws.String(path)
		}
		if boundary != "" {
			in.PermissionsBoundary = aws.String(boundary)
		}
		_, err := c.CreateUser(ctx, in)
		return err
	}
}

// boundedAdmin creates, as the operator, a bounded user holding Action:*
// (allowed: the boundary caps it) and returns a client signing with its key.
func (a *account) boundedAdmin(t *testing.T, op *iam.Client, name string) *iam.Client {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, createUser(op, name, "/sesmtp/", a.boundary, sesmtpTags...)(ctx))
	_, err := op.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("all"), PolicyDocument: aws.String(allowAllJSON)})
	require.NoError(t, err)
	k, err := op.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	require.NoError(t, err)
	return a.client(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey))
}

// createM1 makes m1 (team=mail) as the operator with sesmtp create.
func (a *account) createM1(t *testing.T) {
	t.Helper()
	res := runCLI(t, "", createArgs(a.e, filepath.Join(a.dir, "m1.csv"), "--user", "m1", "--region", "eu-west-1", "--tag", "team=mail")...)
	require.Equal(t, exitcode.OK, res.code, res.stderr)
}

// TestAttackOperatorSDK: the escalation matrix's gaps, through the SDK as
// the operator holding exactly setup's policy. Expected outcomes: AWS's
// permissions-boundary delegation ("Permissions boundaries for IAM
// entities"), condition keys per the Service Authorization Reference, ARNs
// case-sensitive, IAM user tag keys case-insensitive but
// case-preserving ("Tagging IAM resources", case sensitivity).
func TestAttackOperatorSDK(t *testing.T) {
	a := setUpAccount(t)
	a.as(t, opsKeyID, opsSecret)
	a.createM1(t)
	op := a.client(opsKeyID, opsSecret)
	fresh := a.boundedAdmin(t, op, "fresh")
	putSecret(t, a)
	attacks := append(pathAndTagAttacks(a, op), humanAttacks(a, op)...)
	attacks = append(attacks, groupAndPolicyAttacks(a, op)...)
	attacks = append(attacks, boundedKeyAttacks(t, a, fresh)...)
	runAttacks(t, attacks)
	assertAccountIntact(t, a)
}

func pathAndTagAttacks(a *account, op *iam.Client) []attack {
	b := a.boundary
	userTagged := func(name string, key, value string) func(t *testing.T) {
		return func(t *testing.T) {
			u, ok := a.srv.User(name)
			require.True(t, ok)
			assert.Equal(t, b, u.PermissionsBoundary)
			assert.Contains(t, u.Tags, iamtest.Tag{Key: key, Value: value})
		}
	}
	return []attack{
		// Resource is user/sesmtp/* (the slash is kept), not user/sesmtp*.
		{name: "create under a look-alike path /sesmtp-evil/", want: "AccessDenied", try: createUser(op, "evil1", "/sesmtp-evil/", b, sesmtpTags...)},
		{name: "create under /SESMTP/ (ARN matching is case-sensitive)", want: "AccessDenied", try: createUser(op, "evil2", "/SESMTP/", b, sesmtpTags...)},
		{name: "create at / (no path given)", want: "AccessDenied", try: createUser(op, "evil3", "", b, sesmtpTags...)},
		// aws:RequestTag/KEY is found whatever the key's case, but
		// aws:TagKeys is matched case-sensitively against sesmtp:*.
		{name: "create tagged SESMTP:managed-by (key case variant)", want: "AccessDenied",
			try: createUser(op, "evil4", "/sesmtp/", b, tag("SESMTP:managed-by", "sesmtp"))},
		{name: "create tagged sesmtp:managed-by=Sesmtp (value case variant)", want: "AccessDenied",
			try: createUser(op, "evil5", "/sesmtp/", b, tag(provision.TagManagedBy, "Sesmtp"))},
		{name: "create with the allowed key team spelt Team", want: "AccessDenied",
			try: createUser(op, "evil6", "/sesmtp/", b, append(sesmtpTags, tag("Team", "x"))...)},
		{name: "create with the boundary ARN in another case", want: "AccessDenied",
			try: createUser(op, "evil7", "/sesmtp/", strings.ToLower(b), sesmtpTags...)},
		{name: "create with a tag value holding a wildcard (IAM's tag value pattern has no *)", want: "ValidationError",
			try: createUser(op, "evil8", "/sesmtp/", b, append(sesmtpTags, tag("team", "*"))...)},
		// By design: every sesmtp:* key, any value; harmless unless some
		// other policy trusts sesmtp:* tags (docs/security.md, tag keys).
		{name: "create tagged sesmtp:role=admin (any sesmtp:* key is open)", try: createUser(op, "own1", "/sesmtp/", b, append(sesmtpTags, tag("sesmtp:role", "admin"))...),
			check: userTagged("own1", "sesmtp:role", "admin")},
		// IAM does not normalise paths: /sesmtp/../ is under /sesmtp/ for
		// the policy and for ListUsers, and the user carries the boundary.
		{name: "create under /sesmtp/../ (dot segments are literal)", try: createUser(op, "own2", "/sesmtp/../", b, sesmtpTags...),
			check: userTagged("own2", provision.TagManagedBy, provision.ManagedByValue)},
		{name: "retag a sesmtp user's allowed key (by design)", try: func(ctx context.Context) error {
			_, err := op.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("m1"), Tags: append(sesmtpTags, tag("team", "ops"))})
			return err
		}, check: userTagged("m1", "team", "ops")},
		{name: "untag a sesmtp user's team tag", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := op.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("m1"), TagKeys: []string{"team"}})
			return err
		}},
		// By design: un-managing a sesmtp user only takes it out of the
		// operators' reach (denial of service, docs/security.md).
		{name: "untag sesmtp:managed-by from a sesmtp user (by design)", try: func(ctx context.Context) error {
			_, err := op.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("own2"), TagKeys: []string{provision.TagManagedBy}})
			return err
		}, check: func(t *testing.T) {
			u, _ := a.srv.User("own2")
			assert.Equal(t, b, u.PermissionsBoundary)
			assert.Empty(t, u.Tags)
		}},
	}
}

func humanAttacks(a *account, op *iam.Client) []attack {
	simple := func(f func(ctx context.Context) error) func(context.Context) error { return f }
	aliceIntact := func(t *testing.T) {
		alice, _ := a.srv.User("alice")
		assert.Len(t, alice.AccessKeys, 1)
		assert.Equal(t, "Active", alice.AccessKeys[0].Status)
		assert.Equal(t, []string{humanMFA}, alice.MFADevices)
		assert.Empty(t, alice.PermissionsBoundary)
	}
	return []attack{
		{name: "tag a human with a case variant of sesmtp's tag", want: "AccessDenied", try: simple(func(ctx context.Context) error {
			_, err := op.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{tag("SESMTP:MANAGED-BY", "sesmtp")}})
			return err
		}), check: aliceIntact},
		{name: "put the SES-only boundary on a human admin (lock-out)", want: "AccessDenied", try: simple(func(ctx context.Context) error {
			_, err := op.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("alice"), PermissionsBoundary: aws.String(a.boundary)})
			return err
		}), check: aliceIntact},
		{name: "deactivate a human's key", want: "AccessDenied", try: simple(func(ctx context.Context) error {
			_, err := op.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(aliceKeyID), Status: types.StatusTypeInactive})
			return err
		}), check: aliceIntact},
		{name: "delete a human's key", want: "AccessDenied", try: simple(func(ctx context.Context) error {
			_, err := op.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(aliceKeyID)})
			return err
		}), check: aliceIntact},
		// The key actions name the user whose key it is: a sesmtp user's
		// name with a human's key id finds no such key (IAM API reference,
		// DeleteAccessKey/UpdateAccessKey/DeactivateMFADevice: NoSuchEntity).
		{name: "delete a human's key under a sesmtp user's name", want: "NoSuchEntity", try: simple(func(ctx context.Context) error {
			_, err := op.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("m1"), AccessKeyId: aws.String(aliceKeyID)})
			return err
		}), check: aliceIntact},
		{name: "deactivate a human's key under a sesmtp user's name", want: "NoSuchEntity", try: simple(func(ctx context.Context) error {
			_, err := op.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("m1"), AccessKeyId: aws.String(aliceKeyID), Status: types.StatusTypeInactive})
			return err
		}), check: aliceIntact},
		{name: "deactivate a human's MFA under a sesmtp user's name", want: "NoSuchEntity", try: simple(func(ctx context.Context) error {
			_, err := op.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("m1"), SerialNumber: aws.String(humanMFA)})
			return err
		}), check: aliceIntact},
		{name: "delete a console SMTP user's key", want: "AccessDenied", try: simple(func(ctx context.Context) error {
			_, err := op.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("legacy1"), AccessKeyId: aws.String(consoleUser("legacy1").AccessKeys[0].ID)})
			return err
		})},
		{name: "delete a console SMTP user", want: "AccessDenied", try: simple(func(ctx context.Context) error {
			_, err := op.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("legacy1")})
			return err
		})},
		// By design: SimulatePrincipalPolicy is among the bounded policy's
		// reads (verify --check-permission asks it about the key's user,
		// who may live outside the path); it tells no more than
		// GetUserPolicy, ListAttachedUserPolicies and GetPolicyVersion on
		// * already do (policy.boundedReads), and changes nothing.
		{name: "simulate a human's policies (a read, by design)", try: simple(func(ctx context.Context) error {
			_, err := op.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(acctARN + "user/alice"), ActionNames: []string{"iam:CreateUser"}})
			return err
		})},
		// By design (docs/security.md): reads on * disclose policies, never secrets.
		{name: "read a human's managed policy list (reads are open)", try: simple(func(ctx context.Context) error {
			_, err := op.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("alice")})
			return err
		})},
		// By design: AddUserToGroup is authorized on the group only, so any
		// user can join the sending group; it gains SES sending only.
		{name: "add a human to the sending group, then remove them (documented)", try: simple(func(ctx context.Context) error {
			if _, err := op.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: aws.String("legacy1"), GroupName: aws.String("ses-senders")}); err != nil {
				return err
			}
			_, err := op.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: aws.String("legacy1"), GroupName: aws.String("ses-senders")})
			return err
		})},
	}
}

func groupAndPolicyAttacks(a *account, op *iam.Client) []attack {
	opPolicy := acctARN + "policy/SesmtpOperator"
	return []attack{
		{name: "remove a human admin from the admin group", want: "AccessDenied", try: func(ctx context.Context) error {
			a.srv.PutUser(iamtest.User{Name: "root-ish", Groups: []string{"Admins"}})
			_, err := op.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: aws.String("root-ish"), GroupName: aws.String("Admins")})
			return err
		}, check: func(t *testing.T) {
			g, _ := a.srv.Group("Admins")
			assert.Equal(t, []string{"root-ish"}, g.Members)
			removeMember(t, a, "Admins", "root-ish") // leaves Admins as assertAccountIntact expects
		}},
		{name: "delete the sending group's policy (denial of service)", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := op.DeleteGroupPolicy(ctx, &iam.DeleteGroupPolicyInput{GroupName: aws.String("ses-senders"), PolicyName: aws.String(provision.DefaultPolicyName)})
			return err
		}},
		{name: "delete the sending group", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := op.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("ses-senders")})
			return err
		}},
		{name: "a new version of the operator's own policy", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := op.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(opPolicy), PolicyDocument: aws.String(allowAllJSON), SetAsDefault: true})
			return err
		}},
		{name: "the boundary attached as a permissions policy to a sesmtp user", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := op.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("m1"), PolicyArn: aws.String(a.boundary)})
			return err
		}},
		{name: "the boundary put again on a sesmtp user (no Allow for it)", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := op.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("m1"), PermissionsBoundary: aws.String(a.boundary)})
			return err
		}},
		{name: "second operator: AdministratorAccess on itself", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := a.client(ops2KeyID, ops2Secret).AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("ops2"), PolicyArn: aws.String(adminPolicyARN)})
			return err
		}},
		{name: "second operator: set its own policy's default version", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := a.client(ops2KeyID, ops2Secret).SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(opPolicy), VersionId: aws.String("v1")})
			return err
		}},
		{name: "read a secret (Secrets Manager is not in the operator policy)", want: "AccessDeniedException", try: func(ctx context.Context) error {
			_, err := storeClient(a, opsKeyID, opsSecret).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("prod/db")})
			return err
		}},
	}
}

func removeMember(t *testing.T, a *account, group, user string) {
	t.Helper()
	_, err := a.e.Client().RemoveUserFromGroup(t.Context(), &iam.RemoveUserFromGroupInput{GroupName: aws.String(group), UserName: aws.String(user)})
	require.NoError(t, err)
}

// boundedKeyAttacks: a sesmtp user the operator gave Action:* — its key
// must do nothing but SES sending (the boundary allows only
// ses:SendRawEmail; an implicit deny in the boundary limits identity
// policies).
func boundedKeyAttacks(t *testing.T, a *account, fresh *iam.Client) []attack {
	k, _ := a.srv.User("fresh")
	require.Len(t, k.AccessKeys, 1)
	return []attack{
		{name: "bounded Action:* key: list users", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := fresh.ListUsers(ctx, &iam.ListUsersInput{})
			return err
		}},
		{name: "bounded Action:* key: a key for a human", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := fresh.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
			return err
		}},
		{name: "bounded Action:* key: its own boundary removed", want: "AccessDenied", try: func(ctx context.Context) error {
			_, err := fresh.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("fresh")})
			return err
		}},
		{name: "bounded Action:* key: write a secret", want: "AccessDeniedException", try: func(ctx context.Context) error {
			_, err := storeClient(a, k.AccessKeys[0].ID, k.AccessKeys[0].SecretAccessKey).PutSecretValue(ctx,
				&secretsmanager.PutSecretValueInput{SecretId: aws.String("prod/db"), SecretString: aws.String("pwned")})
			return err
		}},
	}
}

// putSecret makes the secret prod/db as the admin.
func putSecret(t *testing.T, a *account) {
	t.Helper()
	_, err := a.e.SecretsManager().CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("prod/db"), SecretString: aws.String("s3cr3t")})
	require.NoError(t, err)
}

func storeClient(a *account, id, secret string) *secretsmanager.Client {
	e := *a.e
	e.AccessKeyID, e.SecretAccessKey = id, secret
	return e.SecretsManager(func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
}

// TestAttackUnmodelledActions: IAM actions iamtest does not implement are
// authorized first, as IAM does, then answered InvalidAction (the
// escalation matrix runs the main ones through the SDK). Here the printed
// policy itself is also evaluated for each, on a human and on a sesmtp
// user, with the worst-case context (the target carries sesmtp's tag and
// the boundary): none may be allowed. Through the SDK they are refused
// with AccessDenied and change nothing.
func TestAttackUnmodelledActions(t *testing.T) {
	a := setUpAccount(t)
	doc, err := iampolicy.Parse(a.operator)
	require.NoError(t, err)
	actions := []string{"iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:UpdateUser", "iam:UploadSSHPublicKey",
		"iam:UpdateSSHPublicKey", "iam:CreateServiceSpecificCredential", "iam:ResetServiceSpecificCredential",
		"iam:UploadSigningCertificate", "iam:EnableMFADevice", "iam:CreateVirtualMFADevice", "iam:ResyncMFADevice",
		"iam:PassRole", "iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy",
		"iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:CreateOpenIDConnectProvider",
		"iam:UpdateAccountPasswordPolicy", "iam:CreateAccountAlias", "sts:AssumeRole", "sts:GetFederationToken",
		"iam:PutUserPermissionsBoundary", "iam:AttachUserPolicy", "iam:PutGroupPolicy", "iam:CreatePolicy",
		"secretsmanager:GetSecretValue", "ssm:GetParameter", "kms:Decrypt", "s3:GetObject"}
	ctx := iampolicy.Context{}
	ctx.Set("aws:ResourceTag/"+provision.TagManagedBy, provision.ManagedByValue)
	ctx.Set("iam:ResourceTag/"+provision.TagManagedBy, provision.ManagedByValue)
	ctx.Set("iam:PermissionsBoundary", a.boundary)
	ctx.Set("aws:RequestTag/"+provision.TagManagedBy, provision.ManagedByValue)
	ctx.Set("aws:TagKeys", provision.TagManagedBy)
	for _, act := range actions {
		for _, res := range []string{acctARN + "user/alice", acctARN + "user/sesmtp/m1", acctARN + "role/admin", "*"} {
			r, err := iampolicy.Evaluate(iampolicy.Request{Action: act, Resource: res, Context: ctx},
				iampolicy.Principal{Identity: []iampolicy.Policy{{ID: "operator", Document: doc}}})
			require.NoError(t, err)
			assert.NotEqual(t, iampolicy.Allowed, r.Decision, "the operator policy allows %s on %s", act, res)
		}
	}
	sdkUnmodelled(t, a)
}

// sdkUnmodelled: through the SDK, unimplemented actions are refused with
// AccessDenied, as on AWS, and change nothing.
func sdkUnmodelled(t *testing.T, a *account) {
	op, ctx := a.client(opsKeyID, opsSecret), t.Context()
	a.srv.PutUser(iamtest.User{Name: "m9", Path: "/sesmtp/", PermissionsBoundary: a.boundary,
		Tags: []iamtest.Tag{{Key: provision.TagManagedBy, Value: provision.ManagedByValue}}})
	calls := map[string]func() error{
		"CreateLoginProfile on a human": func() error {
			_, err := op.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("legacy1"), Password: aws.String("Passw0rd!Passw0rd!")})
			return err
		},
		"UpdateUser: a sesmtp user moved out of the path": func() error {
			_, err := op.UpdateUser(ctx, &iam.UpdateUserInput{UserName: aws.String("m9"), NewPath: aws.String("/")})
			return err
		},
		"UpdateUser: a human moved into the path": func() error {
			_, err := op.UpdateUser(ctx, &iam.UpdateUserInput{UserName: aws.String("alice"), NewPath: aws.String("/sesmtp/")})
			return err
		},
		"UploadSSHPublicKey for a sesmtp user": func() error {
			_, err := op.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String("m9"), SSHPublicKeyBody: aws.String("ssh-rsa AAAA")})
			return err
		},
		"CreateServiceSpecificCredential for a human": func() error {
			_, err := op.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String("alice"), ServiceName: aws.String("codecommit.amazonaws.com")})
			return err
		},
	}
	for name, call := range calls {
		var ae smithy.APIError
		if assert.ErrorAs(t, call(), &ae, name) {
			assert.Equal(t, "AccessDenied", ae.ErrorCode(), name)
		}
	}
	m9, _ := a.srv.User("m9")
	alice, _ := a.srv.User("alice")
	assert.Equal(t, "/sesmtp/", m9.Path)
	assert.Equal(t, "/", alice.Path)
	assert.Empty(t, m9.SSHPublicKeys)
}

// TestAttackSesmtpCommandsBounded: sesmtp's own commands run by an
// attacker holding the bounded policy. Every attempt must fail before or
// without any lasting change: exit 2 where IAM refused the first change
// (a permission problem before any change is bad input), exit 1 where
// sesmtp rolled back what it had done.
func TestAttackSesmtpCommandsBounded(t *testing.T) {
	a := setUpAccount(t)
	a.as(t, opsKeyID, opsSecret)
	a.createM1(t)
	file := func(n string) string { return filepath.Join(a.dir, n) }
	create := func(user string, extra ...string) []string {
		return createArgs(a.e, file(user+".csv"), append([]string{"--user", user, "--region", "eu-west-1"}, extra...)...)
	}
	manifest := file("evil.csv")
	require.NoError(t, os.WriteFile(manifest, []byte("user,group\nb1,\nb2,Admins\n"), 0o600))
	loose := a.srv.PutPolicy("/sesmtp/", "Loose", allowAllJSON)
	for _, c := range []struct {
		name string
		args []string
		code int
		gone []string // users that must not exist afterwards
	}{
		{"create --group Admins", create("g1", "--group", "Admins"), exitcode.Usage, []string{"g1"}},
		{"create --group Admins --allow-any-group", create("g2", "--group", "Admins", "--allow-any-group"), exitcode.Failed, []string{"g2"}},
		{"batch with an Admins row", batchArgs(a.e, manifest, file("batch")), exitcode.Usage, []string{"b1", "b2"}},
		{"rotate --strategy key an admin", rotateUserArgs(a, "alice", "a1.csv", "--strategy", "key"), exitcode.Usage, nil},
		{"rotate --strategy key an admin --any-user", rotateUserArgs(a, "alice", "a2.csv", "--strategy", "key", "--any-user"), exitcode.Usage, nil},
		{"rotate --strategy recreate an admin --any-user", rotateUserArgs(a, "alice", "a3.csv", "--any-user", "--yes"), exitcode.Usage, nil},
		{"delete an admin --any-user", []string{"delete", "--endpoint-url", a.e.URL, "--user", "alice", "--any-user", "--yes"}, exitcode.Usage, nil},
		{"delete a console SMTP user", []string{"delete", "--endpoint-url", a.e.URL, "--user", "legacy1", "--yes"}, exitcode.Usage, nil},
		{"--tag sesmtp:managed-by=other", create("t1", "--tag", "sesmtp:managed-by=other"), exitcode.Usage, []string{"t1"}},
		{"--tag SESMTP:Run-Id=x", create("t2", "--tag", "SESMTP:Run-Id=x"), exitcode.Usage, []string{"t2"}},
		{"--tag Team=x (allowed key is team)", create("t3", "--tag", "Team=x"), exitcode.Usage, []string{"t3"}},
		{"--path /sesmtp-evil/", create("p1", "--path", "/sesmtp-evil/"), exitcode.Usage, []string{"p1"}},
		{"--path /", create("p2", "--path", "/"), exitcode.Usage, []string{"p2"}},
		{"--permissions-boundary an allow-all policy", create("p3", "--permissions-boundary", loose), exitcode.Usage, []string{"p3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := runCLI(t, "", c.args...)
			assert.Equal(t, c.code, res.code, res.stderr)
			for _, u := range c.gone {
				_, ok := a.srv.User(u)
				assert.False(t, ok, "user %s exists", u)
			}
			assertNoSecrets(t, a.e, res.stdout, res.stderr)
		})
	}
	assertHumansIntact(t, a)
	assertAccountIntact(t, a)
}

func assertHumansIntact(t *testing.T, a *account) {
	t.Helper()
	alice, _ := a.srv.User("alice")
	assert.Len(t, alice.AccessKeys, 1)
	assert.True(t, alice.LoginProfile)
	assert.Contains(t, alice.AttachedPolicies, adminPolicyARN)
	legacy, _ := a.srv.User("legacy1")
	assert.Len(t, legacy.AccessKeys, 1)
	assert.Contains(t, legacy.InlinePolicies, provision.DefaultPolicyName)
}

// TestAttackRecreateBoundedAdmin: the operator gives one of its users
// Action:* (allowed, capped) and recreates it: rotate refuses without
// --any-user; with it, the restored user still carries the boundary, so
// its new key cannot write IAM.
func TestAttackRecreateBoundedAdmin(t *testing.T) {
	a := setUpAccount(t)
	a.as(t, opsKeyID, opsSecret)
	op := a.client(opsKeyID, opsSecret)
	a.boundedAdmin(t, op, "x1")
	res := runCLI(t, "", rotateUserArgs(a, "x1", "x1.csv", "--yes")...)
	require.Equal(t, exitcode.Usage, res.code, "not an SMTP user: %s", res.stderr)
	res = runCLI(t, "", rotateUserArgs(a, "x1", "x1.csv", "--yes", "--any-user")...)
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	x1, _ := a.srv.User("x1")
	assert.Equal(t, a.boundary, x1.PermissionsBoundary)
	assert.Contains(t, x1.InlinePolicies, "all", "recreate restores the inline policy it found")
	require.Len(t, x1.AccessKeys, 1)
	k := x1.AccessKeys[0]
	err := createUser(a.client(k.ID, k.SecretAccessKey), "via-x1", "/sesmtp/", a.boundary, sesmtpTags...)(t.Context())
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "AccessDenied", ae.ErrorCode())
}

// TestAttackSetupRefusals: setup as the admin on a hostile account: an
// admin group as --group is refused; a boundary someone widened is
// refused until --update, which puts SES-only back.
func TestAttackSetupRefusals(t *testing.T) {
	a := setUpAccount(t)
	res := runCLI(t, "", "setup", "--endpoint-url", a.e.URL, "--group", "Admins")
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	admins, _ := a.srv.Group("Admins")
	assert.Empty(t, admins.InlinePolicies, "setup touched the admin group")

	admin := a.e.Client()
	_, err := admin.CreatePolicyVersion(t.Context(), &iam.CreatePolicyVersionInput{PolicyArn: aws.String(a.boundary),
		PolicyDocument: aws.String(allowAllJSON), SetAsDefault: true})
	require.NoError(t, err)
	res = runCLI(t, "", "setup", "--endpoint-url", a.e.URL, "--group", "ses-senders", "--allow-tag", "team")
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "exists with another document")
	res = runCLI(t, "", "setup", "--endpoint-url", a.e.URL, "--group", "ses-senders", "--allow-tag", "team", "--update")
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	b, _ := a.srv.Policy(a.boundary)
	var d policy.Document
	require.NoError(t, json.Unmarshal([]byte(b.DefaultDocument()), &d))
	assert.Empty(t, d.BeyondSending(), "the boundary's default version allows more than SES sending")
}

// TestAttackWildcardUserPath (was a BREAK, sesmtp design, medium): IAM
// paths may hold any character from ! to DEL (CreateUser API reference,
// Path), * and ? included, but in a policy's Resource they are wildcards
// ("IAM JSON policy elements: Resource") and ${...} is a policy variable
// ("IAM policy elements: Variables and tags"). A --user-path '/s*/' would
// print Resource user/s*/*, which the operator policy then trusts as
// "sesmtp's path": the tag-on-create statement lets the operator tag a
// human under /sales/ as managed, then create that human's key. setup,
// 'policy operator' and create/batch with a boundary refuse such a path
// (exit 2, nothing changed); the rest of the test shows what the refusal
// prevents, should it ever regress.
func TestAttackWildcardUserPath(t *testing.T) {
	a := setUpAccount(t)
	for _, path := range []string{"/s*/", "/se?mtp/", "/${aws:username}/"} {
		res := runCLI(t, "", "setup", "--endpoint-url", a.e.URL, "--user-path", path, "--boundary-name", "Other")
		assert.Equal(t, exitcode.Usage, res.code, "setup --user-path %s: %s", path, res.stderr)
		assert.Contains(t, res.stderr, "wildcards")
		_, made := a.srv.Policy(acctARN + "policy/sesmtp/Other")
		assert.False(t, made, "setup changed the account before refusing %s", path)
		res = runCLI(t, "", "create", "--endpoint-url", a.e.URL, "--user", "w1", "--region", "eu-west-1",
			"--permissions-boundary", a.boundary, "--path", path, "--out", filepath.Join(a.dir, "w1.csv"))
		assert.Equal(t, exitcode.Usage, res.code, "create --path %s with a boundary: %s", path, res.stderr)
		_, made = a.srv.User("w1")
		assert.False(t, made)
	}
	res := runCLI(t, "", "setup", "--endpoint-url", a.e.URL, "--boundary-path", "/s*/")
	assert.Equal(t, exitcode.Usage, res.code, "setup --boundary-path with a wildcard: %s", res.stderr)
	// Without a boundary the path is only an IAM path: IAM takes it, and
	// no bounded policy trusts it.
	res = runCLI(t, "", "create", "--endpoint-url", a.e.URL, "--user", "w2", "--region", "eu-west-1",
		"--path", "/s*/", "--out", filepath.Join(a.dir, "w2.csv"))
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	w2, _ := a.srv.User("w2")
	assert.Equal(t, "/s*/", w2.Path)

	res = runCLI(t, "", "policy", "operator", "--boundary-arn", a.boundary, "--user-path", "/s*/")
	assert.Equal(t, exitcode.Usage, res.code, "a user path holding a wildcard must be refused")
	if res.code != exitcode.OK {
		return
	}
	a.srv.PutUser(iamtest.User{Name: "carol", Path: "/sales/", AttachedPolicies: map[string]string{adminPolicyARN: "AdministratorAccess"},
		AccessKeys: []iamtest.AccessKey{{ID: "AKIACAROL0000000001", SecretAccessKey: "carol-secret-000000000000000000000000"}}})
	a.srv.SetCaller(iamtest.Caller{AccessKeyID: "AKIAWILDOPS00000001", SecretAccessKey: "wild-secret-0000000000000000000000000", UserName: "wild", Policies: []string{res.stdout}})
	op := a.client("AKIAWILDOPS00000001", "wild-secret-0000000000000000000000000")
	_, err := op.TagUser(t.Context(), &iam.TagUserInput{UserName: aws.String("carol"), Tags: sesmtpTags})
	assert.Error(t, err, "the operator tagged a human under /sales/ as sesmtp's")
	_, err = op.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("carol")})
	assert.Error(t, err, "the operator minted an admin's key")
}

// TestAttackSetupGroupCase (was a BREAK, sesmtp, low, failed closed):
// group names are not distinguished by case (CreateUser/CreateGroup API
// reference), so setup --group ses-senders finds an existing SES-Senders;
// the policy it printed named group/ses-senders, and ARNs match
// case-sensitively ("IAM JSON policy elements: Resource"), so operators
// were refused AddUserToGroup on the real group/SES-Senders. setup now
// names the group as GetGroup's answer spells it.
func TestAttackSetupGroupCase(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	_, err := e.Client().CreateGroup(t.Context(), groupInput("SES-Senders"))
	require.NoError(t, err)
	out := runSetupJSON(t, e, "--group", "ses-senders")
	assert.Equal(t, "SES-Senders", out.Group)
	assert.Equal(t, acctARN+"group/SES-Senders", out.GroupARN)
	assert.Contains(t, string(out.OperatorPolicy), `"`+acctARN+`group/SES-Senders"`)
	srv.SetCaller(iamtest.Caller{AccessKeyID: opsKeyID, SecretAccessKey: opsSecret, UserName: "ops", Policies: []string{string(out.OperatorPolicy)}})
	t.Setenv("AWS_ACCESS_KEY_ID", opsKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", opsSecret)
	t.Setenv(provision.EnvPermissionsBoundary, out.BoundaryARN)
	res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "c1", "--region", "eu-west-1", "--group", "SES-Senders")...)
	assert.Equal(t, exitcode.OK, res.code, res.stderr)
}

// TestAttackIamtestAssumeRole (was a BREAK, iamtest belief): iamtest
// answered sts:AssumeRole for any configured Role without evaluating the
// caller's identity policies, its permissions boundary or a trust policy;
// it now does (iamtest.Role.TrustPolicy, stsauthz.go). On AWS a
// same-account AssumeRole needs the role's trust policy to allow it and,
// unless that policy names the user itself, the caller's identity policy,
// capped by its boundary ("Permissions boundaries for IAM entities";
// "Policy evaluation logic"). Here a user whose boundary allows only
// ses:SendRawEmail becomes an allow-all session.
func TestAttackIamtestAssumeRole(t *testing.T) {
	const id, secret = "AKIASENDER000000001", "sender-secret-00000000000000000000000"
	e := iamtest.Start(t, iamtest.WithRole(iamtest.Role{ARN: acctARN + "role/admin"}))
	srv := e.Local(t)
	b := srv.PutPolicy("/sesmtp/", "SesmtpSenderBoundary", boundaryJSON)
	srv.PutUser(iamtest.User{Name: "s1", Path: "/sesmtp/", PermissionsBoundary: b, InlinePolicies: map[string]string{"all": allowAllJSON},
		AccessKeys: []iamtest.AccessKey{{ID: id, SecretAccessKey: secret}}})
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}
	c := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(e.URL); o.RetryMaxAttempts = 1 })
	_, err := c.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(acctARN + "role/admin"), RoleSessionName: aws.String("x")})
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae, "a user whose boundary allows only ses:SendRawEmail assumed an admin role")
	assert.Equal(t, "AccessDenied", ae.ErrorCode())
}

// broadOperator makes the following sesmtp runs sign as an operator holding
// the broad policy ('sesmtp policy operator' without --boundary-arn).
func broadOperator(t *testing.T, srv *iamtest.Server) {
	t.Helper()
	srv.SetCaller(iamtest.Caller{AccessKeyID: opsKeyID, SecretAccessKey: opsSecret, UserName: "ops", Policies: []string{policy.Operator().JSON()}})
	t.Setenv("AWS_ACCESS_KEY_ID", opsKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", opsSecret)
}

// adminGroup makes group with the SES sending inline policy and, if
// attached is set, that managed policy attached.
func adminGroup(t *testing.T, e *iamtest.Endpoint, group, attached string) {
	t.Helper()
	admin, ctx := e.Client(), t.Context()
	_, err := admin.CreateGroup(ctx, groupInput(group))
	require.NoError(t, err)
	_, err = admin.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String(group), PolicyName: aws.String(provision.DefaultPolicyName), PolicyDocument: aws.String(senderPolicyJSON)})
	require.NoError(t, err)
	if attached != "" {
		_, err = admin.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String(group), PolicyArn: aws.String(attached)})
		require.NoError(t, err)
	}
}

func keyedUser(name string, groups ...string) iamtest.User {
	return iamtest.User{Name: name, Groups: groups,
		AccessKeys: []iamtest.AccessKey{{ID: "AKIA" + strings.ToUpper(name) + strings.Repeat("0", 16-len(name)), SecretAccessKey: name + "-secret-000000000000000000000000000"}}}
}

// TestAttackInspectIgnoresGroupManagedPolicies (was a BREAK, sesmtp
// design): the "is this an SMTP user?" test of rotate and delete
// (provision.Inspect, isSendingGroup) read a group's inline policies only;
// it now reads the attached managed policies' default versions too, as
// create --group does (provision.GroupInfo.BeyondSending). A CI admin in a
// group holding the SES inline policy plus AdministratorAccess attached
// passed as an SMTP user: 'rotate --strategy key' wrote its admin key as
// "SMTP credentials" and 'delete' deleted it, both without --any-user.
// Under the bounded policy IAM refuses both (the user is not under the
// path); it bit admins and broad-policy operators. A group whose attached
// managed policy allows SES sending only is a sending group.
func TestAttackInspectIgnoresGroupManagedPolicies(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	adminGroup(t, e, "mail-plus", adminPolicyARN)
	srv.PutUser(keyedUser("bob", "mail-plus"))
	broadOperator(t, srv)
	res := runCLI(t, "", "rotate", "--endpoint-url", e.URL, "--user", "bob", "--strategy", "key", "--region", "eu-west-1", "--out", filepath.Join(t.TempDir(), "bob.csv"))
	assert.Equal(t, exitcode.Usage, res.code, "an admin's key was written as SMTP credentials: %s", res.stderr)
	assert.Contains(t, res.stderr, `membership of group "mail-plus" (not an SES sending group)`)
	res = runCLI(t, "", "delete", "--endpoint-url", e.URL, "--user", "bob", "--yes")
	assert.Equal(t, exitcode.Usage, res.code, "an admin was deleted as an SMTP user: %s", res.stderr)
	bob, ok := srv.User("bob")
	require.True(t, ok)
	assert.Equal(t, keyedUser("bob").AccessKeys[0].ID, bob.AccessKeys[0].ID)

	sending := srv.PutPolicy("/", "SesSendOnly", senderPolicyJSON)
	_, err := e.Client().CreateGroup(t.Context(), groupInput("mail-managed"))
	require.NoError(t, err)
	_, err = e.Client().AttachGroupPolicy(t.Context(), &iam.AttachGroupPolicyInput{GroupName: aws.String("mail-managed"), PolicyArn: aws.String(sending)})
	require.NoError(t, err)
	srv.PutUser(keyedUser("carl", "mail-managed"))
	res = runCLI(t, "", "rotate", "--endpoint-url", e.URL, "--user", "carl", "--strategy", "key", "--region", "eu-west-1", "--out", filepath.Join(t.TempDir(), "carl.csv"))
	assert.Equal(t, exitcode.OK, res.code, "a group with an SES-only managed policy is a sending group: %s", res.stderr)
}

// TestAttackBroadGuardsHold: what holds under the broad policy: rotate
// refuses a member of an admin group (attached policy, no SES inline);
// create --group Admins refuses; --allow-any-group overrides with a
// warning (the documented override); recreate --any-user of a user with
// an admin inline policy gives back exactly what it had, nothing more.
func TestAttackBroadGuardsHold(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	_, err := e.Client().CreateGroup(t.Context(), groupInput("Admins"))
	require.NoError(t, err)
	_, err = e.Client().AttachGroupPolicy(t.Context(), &iam.AttachGroupPolicyInput{GroupName: aws.String("Admins"), PolicyArn: aws.String(adminPolicyARN)})
	require.NoError(t, err)
	srv.PutUser(keyedUser("dave", "Admins"))
	eve := keyedUser("eve")
	eve.InlinePolicies = map[string]string{"admin": allowAllJSON, provision.DefaultPolicyName: senderPolicyJSON}
	eve.Tags = []iamtest.Tag{{Key: provision.TagManagedBy, Value: provision.ManagedByValue}}
	srv.PutUser(eve)
	broadOperator(t, srv)
	dir := t.TempDir()
	res := runCLI(t, "", "rotate", "--endpoint-url", e.URL, "--user", "dave", "--strategy", "key", "--region", "eu-west-1", "--out", filepath.Join(dir, "d.csv"))
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	res = runCLI(t, "", createArgs(e, filepath.Join(dir, "g1.csv"), "--user", "g1", "--region", "eu-west-1", "--group", "Admins")...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	res = runCLI(t, "", createArgs(e, filepath.Join(dir, "g2.csv"), "--user", "g2", "--region", "eu-west-1", "--group", "Admins", "--allow-any-group")...)
	assert.Equal(t, exitcode.OK, res.code, res.stderr)
	assert.Contains(t, res.stderr, "allows more than SES sending")

	res = runCLI(t, "", "rotate", "--endpoint-url", e.URL, "--user", "eve", "--region", "eu-west-1", "--out", filepath.Join(dir, "e.csv"), "--yes")
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	res = runCLI(t, "", "rotate", "--endpoint-url", e.URL, "--user", "eve", "--region", "eu-west-1", "--out", filepath.Join(dir, "e.csv"), "--yes", "--any-user")
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	after, _ := srv.User("eve")
	assert.Equal(t, eve.InlinePolicies, after.InlinePolicies, "recreate restores what the user had, nothing more")
	assert.Empty(t, after.Groups)
	assert.Empty(t, after.AttachedPolicies)
}

// TestAttackIamtestVirtualMFAPathTrick (was a BREAK, iamtest belief, minor):
// the operator policy allows DeleteVirtualMFADevice on mfa/sesmtp/*
// without a condition, and IAM does not normalise ARNs, so
// mfa/sesmtp/../alice matches it; IAM then finds no such device and
// answers NoSuchEntity (DeleteVirtualMFADevice API reference). iamtest
// answered success for any serial it did not hold (nothing was deleted:
// alice's device stayed); it now holds the account's virtual devices.
func TestAttackIamtestVirtualMFAPathTrick(t *testing.T) {
	a := setUpAccount(t)
	_, err := a.client(opsKeyID, opsSecret).DeleteVirtualMFADevice(t.Context(),
		&iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(acctARN + "mfa/sesmtp/../alice")})
	alice, _ := a.srv.User("alice")
	assert.Equal(t, []string{humanMFA}, alice.MFADevices)
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "NoSuchEntity", ae.ErrorCode())
}
