package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

const (
	adminPolicyARN = "arn:aws:iam::aws:policy/AdministratorAccess"
	allowAllJSON   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	opsKeyID       = "AKIAOPERATOR00000001"
	opsSecret      = "operator-secret-0000000000000000000000000"
	ops2KeyID      = "AKIAOPERATOR00000002"
	ops2Secret     = "operator-secret-2222222222222222222222222"
	humanMFA       = "arn:aws:iam::123456789012:mfa/alice"
)

// account is what the escalation matrix runs against: what sesmtp setup
// made, a human admin, an admin group and a console SMTP user.
type account struct {
	e        *iamtest.Endpoint
	srv      *iamtest.Server
	boundary string
	operator string // the operator policy setup printed
	dir      string
}

// setUpAccount runs sesmtp setup as the admin and returns the account.
func setUpAccount(t *testing.T) *account {
	t.Helper()
	e := iamtest.Start(t)
	srv := e.Local(t)
	admin := e.Client()
	srv.PutUser(iamtest.User{Name: "alice", AttachedPolicies: map[string]string{adminPolicyARN: "AdministratorAccess"},
		LoginProfile: true, MFADevices: []string{humanMFA},
		AccessKeys: []iamtest.AccessKey{{ID: "AKIAALICE00000000001", SecretAccessKey: "alice-secret-00000000000000000000000000"}}})
	_, err := admin.CreateGroup(t.Context(), &iam.CreateGroupInput{GroupName: aws.String("Admins")})
	require.NoError(t, err)
	_, err = admin.AttachGroupPolicy(t.Context(), &iam.AttachGroupPolicyInput{GroupName: aws.String("Admins"), PolicyArn: aws.String(adminPolicyARN)})
	require.NoError(t, err)
	srv.PutUser(consoleUser("legacy1"))

	res := runCLI(t, "", "setup", "--endpoint-url", e.URL, "--group", "ses-senders", "--allow-tag", "team", "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var out struct {
		BoundaryARN    string          `json:"boundary_arn"`
		OperatorPolicy json.RawMessage `json:"operator_policy"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out))
	require.NotEmpty(t, out.BoundaryARN)
	a := &account{e: e, srv: srv, boundary: out.BoundaryARN, operator: string(out.OperatorPolicy), dir: t.TempDir()}
	// ops holds exactly the printed policy; ops2 is a user of the account
	// holding it as a managed policy, as an admin would grant it.
	srv.SetCaller(iamtest.Caller{AccessKeyID: opsKeyID, SecretAccessKey: opsSecret, UserName: "ops", Policies: []string{a.operator}})
	srv.PutUser(iamtest.User{Name: "ops"})
	op := srv.PutPolicy("/", "SesmtpOperator", a.operator)
	srv.PutUser(iamtest.User{Name: "ops2", AttachedPolicies: map[string]string{op: "SesmtpOperator"}})
	srv.SetCaller(iamtest.Caller{AccessKeyID: ops2KeyID, SecretAccessKey: ops2Secret, UserName: "ops2"})
	return a
}

// as makes the following in-process sesmtp runs sign as the key pair,
// with the boundary configured as operators are told to configure it.
func (a *account) as(t *testing.T, id, secret string) {
	t.Setenv("AWS_ACCESS_KEY_ID", id)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv(provision.EnvPermissionsBoundary, a.boundary)
}

// client returns an SDK client signing with the key pair, without retries.
func (a *account) client(id, secret string) *iam.Client {
	e := *a.e
	e.AccessKeyID, e.SecretAccessKey = id, secret
	return e.Client(func(o *iam.Options) { o.RetryMaxAttempts = 1 })
}

// escalationFlow is a sesmtp run an operator must be able to do.
type escalationFlow struct {
	name string
	args func(a *account) []string
	code int
	// before, if set, runs first (as the admin): a fault to inject, say.
	before func(a *account)
	check  func(t *testing.T, a *account)
}

var escalationFlows = []escalationFlow{
	{name: "create", args: func(a *account) []string {
		return createArgs(a.e, filepath.Join(a.dir, "m1.csv"), "--user", "m1", "--region", "eu-west-1", "--tag", "team=mail")
	}, check: func(t *testing.T, a *account) {
		u, _ := a.srv.User("m1")
		assert.Equal(t, "/sesmtp/", u.Path, "a configured boundary puts users under /sesmtp/")
		assert.Equal(t, a.boundary, u.PermissionsBoundary)
	}},
	{name: "create --group", args: func(a *account) []string {
		return createArgs(a.e, filepath.Join(a.dir, "m2.csv"), "--user", "m2", "--region", "eu-west-1", "--group", "ses-senders")
	}},
	{name: "create --from-file", args: func(a *account) []string {
		manifest := filepath.Join(a.dir, "senders.csv")
		if err := os.WriteFile(manifest, []byte("user,group,from_address\nb1,,a@example.com\nb2,ses-senders,\n"), 0o600); err != nil {
			panic(err)
		}
		return batchArgs(a.e, manifest, filepath.Join(a.dir, "batch"))
	}},
	{name: "create, rolled back", code: exitcode.Failed,
		before: func(a *account) {
			a.srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.FailBefore, Code: "LimitExceeded"})
		},
		args: func(a *account) []string {
			return createArgs(a.e, filepath.Join(a.dir, "r.csv"), "--user", "r1", "--region", "eu-west-1", "--group", "ses-senders")
		}, check: func(t *testing.T, a *account) {
			_, ok := a.srv.User("r1")
			assert.False(t, ok, "rolled back")
		}},
	{name: "rotate --strategy key", args: func(a *account) []string {
		return rotateUserArgs(a, "m1", "m1-key.csv", "--strategy", "key")
	}, check: func(t *testing.T, a *account) {
		u, _ := a.srv.User("m1")
		assert.Len(t, u.AccessKeys, 2, "phase 1 leaves the old key")
		assert.Len(t, retireTags(u), 1, "and records it")
	}},
	{name: "retire --all-pending (deactivate)", args: func(a *account) []string {
		return []string{"retire", "--endpoint-url", a.e.URL, "--all-pending", "--if-unused-for", "24h"}
	}, check: func(t *testing.T, a *account) {
		u, _ := a.srv.User("m1")
		assert.Equal(t, "Inactive", u.AccessKeys[0].Status)
	}},
	{name: "retire --user (delete)", args: func(a *account) []string {
		return []string{"retire", "--endpoint-url", a.e.URL, "--user", "m1", "--yes"}
	}, check: func(t *testing.T, a *account) {
		u, _ := a.srv.User("m1")
		assert.Len(t, u.AccessKeys, 1)
		assert.Empty(t, retireTags(u))
	}},
	{name: "rotate --strategy recreate", args: func(a *account) []string {
		return rotateUserArgs(a, "m1", "m1-new.csv", "--yes")
	}, check: func(t *testing.T, a *account) {
		u, _ := a.srv.User("m1")
		assert.Equal(t, a.boundary, u.PermissionsBoundary)
		assert.Contains(t, u.Tags, iamtest.Tag{Key: "team", Value: "mail"})
	}},
	{name: "rotate --strategy recreate, group member", args: func(a *account) []string {
		return rotateUserArgs(a, "m2", "m2-new.csv", "--yes")
	}, check: func(t *testing.T, a *account) {
		u, _ := a.srv.User("m2")
		assert.Equal(t, []string{"ses-senders"}, u.Groups)
	}},
	{name: "delete", args: func(a *account) []string {
		return []string{"delete", "--endpoint-url", a.e.URL, "--user", "m2", "--yes"}
	}},
	{name: "list", args: func(a *account) []string {
		return []string{"list", "--endpoint-url", a.e.URL, "--all-users"}
	}},
}

func rotateUserArgs(a *account, user, file string, extra ...string) []string {
	return append([]string{"rotate", "--endpoint-url", a.e.URL, "--user", user, "--region", "eu-west-1", "--out", filepath.Join(a.dir, file)}, extra...)
}

// TestEscalationMatrix runs, as an operator holding exactly the policy
// 'sesmtp setup' printed, every sesmtp flow (all must work) and every way
// to more than SES sending we could think of, through the SDK (all must be
// denied); then a second operator, granted setup's output as a managed
// policy, runs create and delete.
func TestEscalationMatrix(t *testing.T) {
	a := setUpAccount(t)
	a.as(t, opsKeyID, opsSecret)
	flows, allowed := 0, 0
	for _, f := range escalationFlows {
		flows++
		if t.Run("flow/"+f.name, func(t *testing.T) { runEscalationFlow(t, a, f) }) {
			allowed++
		}
	}
	a.as(t, ops2KeyID, ops2Secret)
	for _, f := range []escalationFlow{
		{name: "second operator: create", args: func(a *account) []string {
			return createArgs(a.e, filepath.Join(a.dir, "o2.csv"), "--user", "o2", "--region", "eu-west-1")
		}},
		{name: "second operator: delete", args: func(a *account) []string {
			return []string{"delete", "--endpoint-url", a.e.URL, "--user", "o2", "--yes"}
		}},
	} {
		flows++
		if t.Run("flow/"+f.name, func(t *testing.T) { runEscalationFlow(t, a, f) }) {
			allowed++
		}
	}

	attempts, denied := 0, 0
	for _, at := range escalationAttempts(t, a) {
		attempts++
		if t.Run("attempt/"+at.name, func(t *testing.T) {
			err := at.try(t.Context())
			var ae smithy.APIError
			if assert.ErrorAs(t, err, &ae, "escalation was not refused") {
				assert.Equal(t, "AccessDenied", ae.ErrorCode(), err.Error())
			}
		}) {
			denied++
		}
	}
	assertAccountIntact(t, a)
	t.Logf("escalation matrix: %d attempts, %d denied; %d flows, %d allowed", attempts, denied, flows, allowed)
}

func runEscalationFlow(t *testing.T, a *account, f escalationFlow) {
	a.srv.ResetCalls()
	if f.before != nil {
		f.before(a)
	}
	res := runCLI(t, "", f.args(a)...)
	a.srv.ClearFaults()
	assert.Equal(t, f.code, res.code, res.stderr)
	for _, c := range a.srv.Calls() {
		// IAM answers AccessDenied, the JSON services (Secrets Manager, SSM) AccessDeniedException.
		assert.False(t, strings.HasPrefix(c.Outcome, "AccessDenied"), "the bounded operator policy does not allow %s (%s): %s", c.Action, c.UserName, res.stderr)
	}
	if f.check != nil {
		f.check(t, a)
	}
}

// escalationAttempt is one try at more than SES sending.
type escalationAttempt struct {
	name string
	try  func(ctx context.Context) error
}

func escalationAttempts(t *testing.T, a *account) []escalationAttempt {
	op := a.client(opsKeyID, opsSecret)
	ctx := t.Context()
	loose := a.srv.PutPolicy("/sesmtp/", "Loose", allowAllJSON) // a boundary that bounds nothing
	sesmtpTags := []types.Tag{{Key: aws.String(provision.TagManagedBy), Value: aws.String(provision.ManagedByValue)}}
	newUser := func(name, path, boundary string, tags []types.Tag) func(context.Context) error {
		return func(ctx context.Context) error {
			in := &iam.CreateUserInput{UserName: aws.String(name), Path: aws.String(path), Tags: tags}
			if boundary != "" {
				in.PermissionsBoundary = aws.String(boundary)
			}
			_, err := op.CreateUser(ctx, in)
			return err
		}
	}
	putStar := func(user string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := op.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String("all"), PolicyDocument: aws.String(allowAllJSON)})
			return err
		}
	}
	attach := func(c *iam.Client, user string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(adminPolicyARN)})
			return err
		}
	}
	join := func(user string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := op.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: aws.String(user), GroupName: aws.String("Admins")})
			return err
		}
	}
	// A bounded user of the operator's own, given Action:* (allowed: the
	// boundary caps it) and a key (allowed): its key must not write IAM.
	require.NoError(t, newUser("fresh", "/sesmtp/", a.boundary, sesmtpTags)(ctx))
	require.NoError(t, putStar("fresh")(ctx), "Action:* on a bounded user is allowed: the boundary caps it")
	k, err := op.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("fresh")})
	require.NoError(t, err)
	fresh := a.client(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey))
	v1 := aws.String("v1")
	return append([]escalationAttempt{
		{"inline Action:* on self", putStar("ops")},
		{"inline Action:* on a human admin", putStar("alice")},
		{"inline Action:* on a console SMTP user", putStar("legacy1")},
		{"AdministratorAccess on self", attach(op, "ops")},
		{"AdministratorAccess on a sesmtp user", attach(op, "m1")},
		{"AdministratorAccess on a new bounded user", attach(op, "fresh")},
		{"join an admin group", join("ops")},
		{"put a sesmtp user in an admin group", join("m1")},
		{"create a user without the boundary", newUser("nob", "/sesmtp/", "", sesmtpTags)},
		{"create a user with AdministratorAccess as boundary", newUser("admb", "/sesmtp/", adminPolicyARN, sesmtpTags)},
		{"create a user with another boundary", newUser("loose", "/sesmtp/", loose, sesmtpTags)},
		{"create a user outside the path", newUser("out", "/", a.boundary, sesmtpTags)},
		{"create a user with a tag other policies may trust", newUser("abac", "/sesmtp/", a.boundary,
			append(sesmtpTags, types.Tag{Key: aws.String("role"), Value: aws.String("admin")}))},
		{"remove a boundary", func(ctx context.Context) error {
			_, err := op.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("m1")})
			return err
		}},
		{"replace a boundary", func(ctx context.Context) error {
			_, err := op.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("m1"), PermissionsBoundary: aws.String(loose)})
			return err
		}},
		{"new default version of the boundary", func(ctx context.Context) error {
			_, err := op.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(a.boundary), PolicyDocument: aws.String(allowAllJSON), SetAsDefault: true})
			return err
		}},
		{"set the boundary's default version", func(ctx context.Context) error {
			_, err := op.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(a.boundary), VersionId: v1})
			return err
		}},
		{"delete a boundary version", func(ctx context.Context) error {
			_, err := op.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(a.boundary), VersionId: v1})
			return err
		}},
		{"delete the boundary", func(ctx context.Context) error {
			_, err := op.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(a.boundary)})
			return err
		}},
		{"access key for a human admin", func(ctx context.Context) error {
			_, err := op.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
			return err
		}},
		{"access key for self", func(ctx context.Context) error {
			_, err := op.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ops")})
			return err
		}},
		{"delete a human's console password", func(ctx context.Context) error {
			_, err := op.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("alice")})
			return err
		}},
		{"deactivate a human's MFA device", func(ctx context.Context) error {
			_, err := op.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(humanMFA)})
			return err
		}},
		{"delete a human's virtual MFA device", func(ctx context.Context) error {
			_, err := op.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(humanMFA)})
			return err
		}},
		{"record a human's key for retirement", func(ctx context.Context) error {
			_, err := op.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"),
				Tags: []types.Tag{{Key: aws.String(provision.TagRetire), Value: aws.String("AKIAALICE00000000001@2026-11-28T12:00:00Z")}}})
			return err
		}},
		{"record a human's key for retirement in its own tag", func(ctx context.Context) error {
			_, err := op.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"),
				Tags: []types.Tag{{Key: aws.String(provision.RetireTagKey("AKIAALICE00000000001")), Value: aws.String("AKIAALICE00000000001@2026-11-28T12:00:00Z")}}})
			return err
		}},
		{"deactivate a human's key", func(ctx context.Context) error {
			_, err := op.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"),
				AccessKeyId: aws.String("AKIAALICE00000000001"), Status: types.StatusTypeInactive})
			return err
		}},
		{"tag a human so that it looks managed", func(ctx context.Context) error {
			_, err := op.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: sesmtpTags})
			return err
		}},
		{"delete a human", func(ctx context.Context) error {
			_, err := op.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
			return err
		}},
		{"create a group", func(ctx context.Context) error {
			_, err := op.CreateGroup(ctx, groupInput("Escalators"))
			return err
		}},
		{"inline Action:* on the sending group", func(ctx context.Context) error {
			_, err := op.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("ses-senders"), PolicyName: aws.String("all"), PolicyDocument: aws.String(allowAllJSON)})
			return err
		}},
		{"AdministratorAccess on the sending group", func(ctx context.Context) error {
			_, err := op.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("ses-senders"), PolicyArn: aws.String(adminPolicyARN)})
			return err
		}},
		{"create a managed policy", func(ctx context.Context) error {
			_, err := op.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("Mine"), PolicyDocument: aws.String(allowAllJSON)})
			return err
		}},
		{"the key of a sesmtp user holding Action:*: create a user", func(ctx context.Context) error {
			_, err := fresh.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("via-fresh")})
			return err
		}},
		{"the key of a sesmtp user holding Action:*: AdministratorAccess on itself", attach(fresh, "fresh")},
	}, unmodelledAttempts(op)...)
}

// assertAccountIntact: after the attempts, the boundary still allows SES
// sending only, the human and the groups are as they were.
func assertAccountIntact(t *testing.T, a *account) {
	t.Helper()
	b, ok := a.srv.Policy(a.boundary)
	require.True(t, ok)
	assert.Len(t, b.Versions, 1)
	assert.NotContains(t, b.DefaultDocument(), `"*"`+`,"Resource"`)
	alice, _ := a.srv.User("alice")
	assert.True(t, alice.LoginProfile)
	assert.Equal(t, []string{humanMFA}, alice.MFADevices)
	assert.Len(t, alice.AccessKeys, 1)
	assert.Empty(t, alice.Tags)
	g, _ := a.srv.Group("ses-senders")
	assert.Len(t, g.InlinePolicies, 1)
	assert.Empty(t, g.AttachedPolicies)
	admins, _ := a.srv.Group("Admins")
	assert.Empty(t, admins.Members)
	for _, u := range a.srv.Users() {
		if strings.HasPrefix(u.Path, "/sesmtp/") {
			assert.Equal(t, a.boundary, u.PermissionsBoundary, "user %s under the path without the boundary", u.Name)
		} else {
			assert.NotContains(t, fmt.Sprint(u.Tags), provision.TagManagedBy, "user %s outside the path looks managed", u.Name)
		}
	}
}
