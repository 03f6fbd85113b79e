package iamtest_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

const (
	sesBoundaryDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`
	allowAllDoc    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
)

// delegatedOperator is a boundary-scoped operator policy of the shape
// issue 12 asks for, with boundary ARN B.
func delegatedOperator(b string) string {
	return `{"Version":"2012-10-17","Statement":[
	  {"Sid":"CreateOnlyWithBoundary","Effect":"Allow","Action":["iam:CreateUser","iam:PutUserPolicy","iam:DeleteUserPolicy"],
	   "Resource":"arn:aws:iam::123456789012:user/ses/*","Condition":{"StringEquals":{"iam:PermissionsBoundary":"` + b + `"}}},
	  {"Sid":"TagOnlySesmtpTags","Effect":"Allow","Action":"iam:TagUser","Resource":"arn:aws:iam::123456789012:user/ses/*",
	   "Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"sesmtp:*"}}},
	  {"Sid":"KeysForBoundedUsers","Effect":"Allow","Action":["iam:CreateAccessKey","iam:DeleteAccessKey"],
	   "Resource":"arn:aws:iam::123456789012:user/ses/*","Condition":{"StringEquals":{"aws:ResourceTag/sesmtp:managed-by":"sesmtp"}}},
	  {"Sid":"NoBoundaryRemoval","Effect":"Deny","Action":"iam:DeleteUserPermissionsBoundary","Resource":"*"},
	  {"Sid":"NoBoundaryEdit","Effect":"Deny","Action":["iam:CreatePolicyVersion","iam:SetDefaultPolicyVersion","iam:DeletePolicy"],"Resource":"` + b + `"},
	  {"Sid":"Reads","Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}`
}

// clientAs returns a client signing with the given key pair.
func clientAs(e *iamtest.Endpoint, id, secret string) *iam.Client {
	e2 := *e
	e2.AccessKeyID, e2.SecretAccessKey = id, secret
	return e2.Client(noRetry)
}

func TestBoundaryScopedOperator(t *testing.T) {
	e := iamtest.Start(t)
	srv, admin := e.Local(t), e.Client(noRetry)
	ctx := t.Context()
	b := srv.PutPolicy("/sesmtp/", "SesmtpSenderBoundary", sesBoundaryDoc)
	srv.SetCaller(iamtest.Caller{AccessKeyID: "AKIAOPERATOREXAMPLE1", SecretAccessKey: "operator-secret", UserName: "ops",
		Policies: []string{delegatedOperator(b)}})
	op := clientAs(e, "AKIAOPERATOREXAMPLE1", "operator-secret")
	sesmtpTags := []types.Tag{{Key: aws.String("sesmtp:managed-by"), Value: aws.String("sesmtp")}}
	denied := func(what string) string {
		return "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: " + what
	}

	_, err := op.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("mailer"), Path: aws.String("/ses/"),
		PermissionsBoundary: aws.String(b), Tags: sesmtpTags})
	require.NoError(t, err, "with the boundary, under the path, with sesmtp tags")

	_, err = op.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("free"), Path: aws.String("/ses/")})
	assert.Equal(t, "AccessDenied", code(err))
	assert.ErrorContains(t, err, denied("iam:CreateUser on resource: arn:aws:iam::123456789012:user/ses/free "+
		"because no identity-based policy allows the iam:CreateUser action"))

	_, err = op.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("admin2"), Path: aws.String("/ses/"),
		PermissionsBoundary: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	assert.Equal(t, "AccessDenied", code(err), "another boundary")

	_, err = op.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("outside"), PermissionsBoundary: aws.String(b)})
	assert.Equal(t, "AccessDenied", code(err), "outside the path: the user ARN includes its path")

	_, err = op.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("tagged"), Path: aws.String("/ses/"),
		PermissionsBoundary: aws.String(b), Tags: []types.Tag{{Key: aws.String("role"), Value: aws.String("admin")}}})
	assert.ErrorContains(t, err, denied("iam:TagUser on resource: arn:aws:iam::123456789012:user/ses/tagged "+
		"because no identity-based policy allows the iam:TagUser action"), "a tagged CreateUser is also TagUser")
	_, ok := srv.User("tagged")
	assert.False(t, ok)

	_, err = op.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("mailer"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(allowAllDoc)})
	require.NoError(t, err, "the boundary still caps what the policy can give")
	_, err = op.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("ops"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(allowAllDoc)})
	assert.Equal(t, "AccessDenied", code(err), "Action:* on anyone without the boundary")

	_, err = op.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("mailer")})
	assert.ErrorContains(t, err, denied("iam:DeleteUserPermissionsBoundary on resource: arn:aws:iam::123456789012:user/ses/mailer "+
		"with an explicit deny in an identity-based policy"))
	_, err = op.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(b), PolicyDocument: aws.String(allowAllDoc), SetAsDefault: true})
	assert.Equal(t, "AccessDenied", code(err), "the boundary policy cannot be edited")

	_, err = op.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("mailer")})
	require.NoError(t, err, "mailer carries the sesmtp tag")
	srv.PutUser(iamtest.User{Name: "root", Path: "/ses/", AttachedPolicies: map[string]string{"arn:aws:iam::aws:policy/AdministratorAccess": "AdministratorAccess"}})
	_, err = op.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("root")})
	assert.Equal(t, "AccessDenied", code(err), "a key for an admin user")

	_, err = admin.ListUsers(ctx, &iam.ListUsersInput{})
	require.NoError(t, err, "the default caller may do everything")
}

func TestCallerBoundary(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithCaller(iamtest.Caller{AccessKeyID: "AKIABOUNDEDEXAMPLE01", SecretAccessKey: "s",
		UserName: "bounded", Allow: []string{"*"}, Boundary: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:List*","Resource":"*"}]}`}))
	e.Local(t)
	c := clientAs(e, "AKIABOUNDEDEXAMPLE01", "s")
	_, err := c.ListUsers(t.Context(), &iam.ListUsersInput{})
	require.NoError(t, err)
	_, err = c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("x")})
	assert.ErrorContains(t, err, "User: arn:aws:iam::123456789012:user/bounded is not authorized to perform: iam:CreateUser on resource: "+
		"arn:aws:iam::123456789012:user/x because no permissions boundary allows the iam:CreateUser action")
}

// TestIssuedKeysActAsTheirUser: a key minted with CreateAccessKey signs
// requests as its user, with the user's live policies at each call.
func TestIssuedKeysActAsTheirUser(t *testing.T) {
	e := iamtest.Start(t)
	srv, admin := e.Local(t), e.Client(noRetry)
	ctx := t.Context()
	_, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("eve")})
	require.NoError(t, err)
	self := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListUsers","iam:PutUserPolicy"],"Resource":"*"}]}`
	_, err = admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("eve"), PolicyName: aws.String("self"), PolicyDocument: aws.String(self)})
	require.NoError(t, err)
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("eve")})
	require.NoError(t, err)
	eve := clientAs(e, aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey))

	_, err = eve.ListUsers(ctx, &iam.ListUsersInput{})
	require.NoError(t, err)
	_, err = eve.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")})
	assert.ErrorContains(t, err, "User: arn:aws:iam::123456789012:user/eve is not authorized to perform: iam:CreateUser")
	calls := srv.Calls()
	listed := calls[len(calls)-2]
	assert.NotZero(t, listed.Seq, "a performed call has its place in the order")
	listed.Seq = 0
	assert.Equal(t, iamtest.Call{Action: "ListUsers", Caller: "eve", Outcome: "ok"}, listed)
	assert.Equal(t, "AccessDenied", calls[len(calls)-1].Outcome)

	// Escalation by writing Action:* on itself works only because her own
	// policy allows PutUserPolicy on "*": the next call sees the new policy.
	_, err = eve.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("eve"), PolicyName: aws.String("all"), PolicyDocument: aws.String(allowAllDoc)})
	require.NoError(t, err)
	_, err = eve.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")})
	require.NoError(t, err, "live policies")

	// A boundary caps her, whatever her policies say.
	b := srv.PutPolicy("/", "ses-only", sesBoundaryDoc)
	_, err = admin.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("eve"), PermissionsBoundary: aws.String(b)})
	require.NoError(t, err)
	_, err = eve.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("y")})
	assert.ErrorContains(t, err, "because no permissions boundary allows the iam:CreateUser action")

	// Group policies count too: attached and inline.
	_, err = admin.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("eve")})
	require.NoError(t, err)
	_, err = admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("eve"), PolicyName: aws.String("all")})
	require.NoError(t, err)
	_, err = eve.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("y")})
	assert.Equal(t, "AccessDenied", code(err))
	_, err = admin.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("Admins")})
	require.NoError(t, err)
	_, err = admin.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("Admins"), PolicyArn: aws.String("arn:aws:iam::aws:policy/IAMFullAccess")})
	require.NoError(t, err)
	_, err = admin.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("Admins"), UserName: aws.String("eve")})
	require.NoError(t, err)
	_, err = eve.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("y")})
	require.NoError(t, err, "IAMFullAccess through the group")

	u, _ := srv.User("eve")
	assert.Equal(t, "iam", u.AccessKeys[0].LastUsedService, "a use is recorded")

	// Inactive and deleted keys are refused as unknown ones.
	_, err = admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("eve"), AccessKeyId: k.AccessKey.AccessKeyId, Status: types.StatusTypeInactive})
	require.NoError(t, err)
	_, err = eve.ListUsers(ctx, &iam.ListUsersInput{})
	assert.Equal(t, "InvalidClientTokenId", code(err))
	_, err = admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("eve"), AccessKeyId: k.AccessKey.AccessKeyId})
	require.NoError(t, err)
	_, err = eve.ListUsers(ctx, &iam.ListUsersInput{})
	assert.Equal(t, "InvalidClientTokenId", code(err))

	// The issued secret is the key: another secret does not sign for it.
	k2, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("eve")})
	require.NoError(t, err)
	_, err = clientAs(e, aws.ToString(k2.AccessKey.AccessKeyId), "not-the-secret").ListUsers(ctx, &iam.ListUsersInput{})
	assert.Equal(t, "SignatureDoesNotMatch", code(err))
}

// TestConfiguredCallerAsStateUser: a caller without Allow or Policies
// whose UserName is a state user holds that user's live policies.
func TestConfiguredCallerAsStateUser(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithCaller(iamtest.Caller{AccessKeyID: "AKIAOPSEXAMPLE000001", SecretAccessKey: "s", UserName: "ops"}))
	srv := e.Local(t)
	ops := clientAs(e, "AKIAOPSEXAMPLE000001", "s")
	_, err := ops.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("a")})
	require.NoError(t, err, "no state user named ops yet: allow-all, as before")
	srv.PutUser(iamtest.User{Name: "ops", InlinePolicies: map[string]string{"list": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}`}})
	_, err = ops.ListUsers(t.Context(), &iam.ListUsersInput{})
	require.NoError(t, err)
	_, err = ops.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("b")})
	assert.Equal(t, "AccessDenied", code(err))
}

func TestAssumedRoleAccessDenied(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithCaller(iamtest.Caller{AccessKeyID: "AKIAUNRELATEDEXAMPL1", SecretAccessKey: "s",
		UserName: "assumed-role/mail-admin/sesmtp", Allow: []string{"iam:ListUsers"}}))
	e.Local(t)
	_, err := clientAs(e, "AKIAUNRELATEDEXAMPL1", "s").CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("x")})
	assert.ErrorContains(t, err, "User: arn:aws:sts::123456789012:assumed-role/mail-admin/sesmtp is not authorized to perform: iam:CreateUser")
}

// BenchmarkEvaluatedCaller is BenchmarkServerCalls' loop for a caller
// whose every call is evaluated: an issued key of a user holding a
// boundary-scoped policy and a boundary.
func BenchmarkEvaluatedCaller(b *testing.B) {
	e := iamtest.Start(b)
	srv, admin := e.Local(b), e.Client()
	bnd := srv.PutPolicy("/sesmtp/", "Boundary", allowAllDoc)
	srv.PutUser(iamtest.User{Name: "ops", PermissionsBoundary: bnd, InlinePolicies: map[string]string{"op": delegatedOperator(bnd)}})
	k, err := admin.CreateAccessKey(b.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("ops")})
	require.NoError(b, err)
	c := clientAs(e, aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey))
	tags := []types.Tag{{Key: aws.String("sesmtp:managed-by"), Value: aws.String("sesmtp")}}
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := aws.String(fmt.Sprintf("bench%d", n.Add(1)))
			if _, err := c.CreateUser(b.Context(), &iam.CreateUserInput{UserName: name, Path: aws.String("/ses/"), PermissionsBoundary: aws.String(bnd), Tags: tags}); err != nil {
				b.Error(err)
				return
			}
			if _, err := c.CreateAccessKey(b.Context(), &iam.CreateAccessKeyInput{UserName: name}); err != nil {
				b.Error(err)
				return
			}
			if _, err := c.GetUser(b.Context(), &iam.GetUserInput{UserName: name}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(3*b.N)/b.Elapsed().Seconds(), "calls/s")
}
