package provision_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func senderPolicy(t *testing.T, opts policy.SenderOptions) string {
	t.Helper()
	doc, err := policy.Sender(opts)
	require.NoError(t, err)
	return doc.JSON()
}

const (
	denySend = `{"Version":"2012-10-17","Statement":[{"Sid":"NoMail","Effect":"Deny","Action":"ses:*","Resource":"*"}]}`
	iamOnly  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`
	identity = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
)

// TestCheckSendPermission asks the local IAM endpoint, through the real
// SDK client, about users whose policies allow, narrow and deny sending.
func TestCheckSendPermission(t *testing.T) {
	e := iamtest.Start(t)
	srv, c := e.Local(t), e.Client()
	open := senderPolicy(t, policy.SenderOptions{})
	srv.PutUser(iamtest.User{Name: "open", InlinePolicies: map[string]string{provision.DefaultPolicyName: open},
		AccessKeys: []iamtest.AccessKey{{ID: "AKIAPERMOPEN00000001", SecretAccessKey: "s"}}})
	srv.PutUser(iamtest.User{Name: "narrow", Path: "/smtp/", InlinePolicies: map[string]string{
		provision.DefaultPolicyName: senderPolicy(t, policy.SenderOptions{FromAddresses: []string{"noreply@example.com"}})}})
	srv.PutUser(iamtest.User{Name: "denied", InlinePolicies: map[string]string{provision.DefaultPolicyName: open, "Quarantine": denySend}})
	srv.PutUser(iamtest.User{Name: "bounded", PermissionsBoundary: srv.PutPolicy("/", "IAMOnly", iamOnly),
		InlinePolicies: map[string]string{provision.DefaultPolicyName: open}})
	srv.PutUser(iamtest.User{Name: "identity", InlinePolicies: map[string]string{
		provision.DefaultPolicyName: senderPolicy(t, policy.SenderOptions{IdentityARNs: []string{identity}})}})
	srv.PutUser(iamtest.User{Name: "nothing"})

	tests := []struct {
		name     string
		user     string
		opts     provision.PermissionOptions
		verdict  provision.Verdict
		decision provision.Decision
		says     string
	}{
		{"inline policy allows", "open", provision.PermissionOptions{}, provision.VerdictAllowed, provision.DecisionAllowed,
			"may send: ses:SendRawEmail is allowed on any identity (*) by inline user policy AmazonSesSendingAccess"},
		{"owner found by key", "", provision.PermissionOptions{AccessKeyID: "AKIAPERMOPEN00000001"}, provision.VerdictAllowed, provision.DecisionAllowed,
			"IAM user open (arn:aws:iam::123456789012:user/open) may send"},
		{"narrowed, its address", "narrow", provision.PermissionOptions{FromAddress: "noreply@example.com"}, provision.VerdictAllowed, provision.DecisionAllowed,
			"ses:SendRawEmail From noreply@example.com is allowed"},
		{"narrowed, another address", "narrow", provision.PermissionOptions{FromAddress: "ceo@example.com"}, provision.VerdictDenied, provision.DecisionImplicitDeny,
			"ses:SendRawEmail From ceo@example.com is denied on any identity (*): an implicit deny: no policy of the user or its groups allows it"},
		{"narrowed, no address", "narrow", provision.PermissionOptions{}, provision.VerdictUndetermined, provision.DecisionImplicitDeny,
			"only for some values of ses:FromAddress, which the check did not supply (no From address was given)"},
		{"explicit deny", "denied", provision.PermissionOptions{}, provision.VerdictDenied, provision.DecisionExplicitDeny,
			"an explicit deny, by inline user policy Quarantine"},
		{"boundary without SES", "bounded", provision.PermissionOptions{}, provision.VerdictDenied, provision.DecisionImplicitDeny,
			"its permissions boundary does not allow it"},
		{"identity narrowed, that identity", "identity", provision.PermissionOptions{IdentityARNs: []string{identity}}, provision.VerdictAllowed,
			provision.DecisionAllowed, "allowed through " + identity},
		{"identity narrowed, any identity", "identity", provision.PermissionOptions{}, provision.VerdictDenied, provision.DecisionImplicitDeny,
			"denied on any identity (*)"},
		{"no policy", "nothing", provision.PermissionOptions{}, provision.VerdictDenied, provision.DecisionImplicitDeny,
			"no policy of the user or its groups allows it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := provision.CheckSendPermission(t.Context(), c, tt.user, tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.verdict, res.Verdict)
			assert.Equal(t, tt.decision, res.Decision)
			assert.Equal(t, 1, res.Attempts)
			assert.Contains(t, res.Describe(), tt.says)
			if tt.verdict == provision.VerdictDenied {
				require.Error(t, res.Err())
				assert.Equal(t, exitcode.Rejected, exitcode.Of(res.Err()))
				assert.Contains(t, res.Err().Error(), "554 Access denied")
			} else {
				assert.NoError(t, res.Err())
			}
		})
	}
	bounded, err := provision.CheckSendPermission(t.Context(), c, "bounded", provision.PermissionOptions{})
	require.NoError(t, err)
	require.NotNil(t, bounded.Resources[0].BoundaryAllows)
	assert.False(t, *bounded.Resources[0].BoundaryAllows)
}

// TestCheckSendPermissionGroupPolicy: a user allowed through its group (as
// the console's AWSSESSendingGroupDoNotRename does it) may send.
func TestCheckSendPermissionGroupPolicy(t *testing.T) {
	e := iamtest.Start(t)
	srv, c := e.Local(t), e.Client()
	ctx := t.Context()
	_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("senders")})
	require.NoError(t, err)
	_, err = c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("senders"), PolicyName: aws.String("Send"),
		PolicyDocument: aws.String(senderPolicy(t, policy.SenderOptions{}))})
	require.NoError(t, err)
	srv.PutUser(iamtest.User{Name: "member", Groups: []string{"senders"}})
	res, err := provision.CheckSendPermission(ctx, c, "member", provision.PermissionOptions{})
	require.NoError(t, err)
	assert.Equal(t, provision.VerdictAllowed, res.Verdict)
	assert.Contains(t, res.Describe(), "by group policy Send")
}

// TestCheckSendPermissionOperatorDenied: an operator who may not call
// SimulatePrincipalPolicy (or GetAccessKeyLastUsed) gets an error that
// IsAccessDenied recognizes, not a verdict.
func TestCheckSendPermissionOperatorDenied(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithCaller(iamtest.Caller{AccessKeyID: "AKIANOSIMULATE000001", SecretAccessKey: "s", UserName: "ops",
		Allow: []string{"iam:GetUser"}}))
	srv := e.Local(t)
	srv.PutUser(iamtest.User{Name: "open", AccessKeys: []iamtest.AccessKey{{ID: "AKIAPERMOPEN00000001", SecretAccessKey: "s"}}})
	ops := iam.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIANOSIMULATE000001", "s", "")},
		func(o *iam.Options) { o.BaseEndpoint = aws.String(e.URL) })

	_, err := provision.CheckSendPermission(t.Context(), ops, "open", provision.PermissionOptions{})
	require.Error(t, err)
	assert.True(t, provision.IsAccessDenied(err))
	assert.Contains(t, err.Error(), "iam:SimulatePrincipalPolicy")

	_, err = provision.CheckSendPermission(t.Context(), ops, "", provision.PermissionOptions{AccessKeyID: "AKIAPERMOPEN00000001"})
	assert.True(t, provision.IsAccessDenied(err))
	assert.Contains(t, err.Error(), "iam:GetAccessKeyLastUsed")

	// A key IAM does not know answers AccessDenied too (as IAM does).
	_, err = provision.CheckSendPermission(t.Context(), e.Client(), "", provision.PermissionOptions{AccessKeyID: "AKIAUNKNOWNKEY000001"})
	assert.True(t, provision.IsAccessDenied(err))
	assert.Contains(t, err.Error(), "a key it does not know")

	_, err = provision.CheckSendPermission(t.Context(), e.Client(), "ghost", provision.PermissionOptions{})
	require.Error(t, err)
	assert.False(t, provision.IsAccessDenied(err))
	assert.Contains(t, err.Error(), `iam:GetUser "ghost"`)
}

// TestCheckSendPermissionRetriesImplicitDeny: within Wait, an implicit
// deny is asked again (a policy put moments ago may not be visible yet);
// here the policy arrives while the check waits.
func TestCheckSendPermissionRetriesImplicitDeny(t *testing.T) {
	e := iamtest.Start(t)
	srv, c := e.Local(t), e.Client()
	srv.PutUser(iamtest.User{Name: "late"})
	var lines []string
	opts := provision.PermissionOptions{Wait: time.Minute, RetryInterval: time.Millisecond, Progress: func(s string) {
		lines = append(lines, s)
		_, err := c.PutUserPolicy(t.Context(), &iam.PutUserPolicyInput{UserName: aws.String("late"),
			PolicyName: aws.String("Send"), PolicyDocument: aws.String(senderPolicy(t, policy.SenderOptions{}))})
		require.NoError(t, err)
	}}
	res, err := provision.CheckSendPermission(t.Context(), c, "late", opts)
	require.NoError(t, err)
	assert.Equal(t, provision.VerdictAllowed, res.Verdict)
	assert.Equal(t, 2, res.Attempts)
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], "attempt 1: IAM says implicitDeny")

	// An explicit deny is final, however long the wait.
	srv.PutUser(iamtest.User{Name: "denied", InlinePolicies: map[string]string{"Quarantine": denySend}})
	res, err = provision.CheckSendPermission(t.Context(), c, "denied", provision.PermissionOptions{Wait: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, provision.DecisionExplicitDeny, res.Decision)
	assert.Equal(t, 1, res.Attempts)
}

// fakePermissionAPI answers with canned outputs, for the shapes the local
// endpoint does not produce.
type fakePermissionAPI struct {
	user     *types.User
	owner    *string
	simulate *iam.SimulatePrincipalPolicyOutput
}

func (f fakePermissionAPI) GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error) {
	return &iam.GetUserOutput{User: f.user}, nil
}

func (f fakePermissionAPI) GetAccessKeyLastUsed(context.Context, *iam.GetAccessKeyLastUsedInput, ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	return &iam.GetAccessKeyLastUsedOutput{UserName: f.owner}, nil
}

func (f fakePermissionAPI) SimulatePrincipalPolicy(context.Context, *iam.SimulatePrincipalPolicyInput, ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error) {
	return f.simulate, nil
}

// TestCheckSendPermissionAnswers: IAM's documented shape for ResourceArns
// (each resource's decision in ResourceSpecificResults, the top level an
// ARN template) is read per resource; answers missing what the check
// needs are errors, never panics.
func TestCheckSendPermissionAnswers(t *testing.T) {
	user := &types.User{UserName: aws.String("u"), Arn: aws.String("arn:aws:iam::123456789012:user/u")}
	statement := []types.Statement{{SourcePolicyId: aws.String("Deny"), SourcePolicyType: types.PolicySourceTypeUserManaged,
		StartPosition: &types.Position{Line: 4, Column: 3}}}
	perResource := &iam.SimulatePrincipalPolicyOutput{EvaluationResults: []types.EvaluationResult{{
		EvalActionName: aws.String("ses:SendRawEmail"), EvalResourceName: aws.String("arn:${Partition}:ses:${Region}:${Account}:identity/${IdentityName}"),
		EvalDecision: types.PolicyEvaluationDecisionTypeExplicitDeny,
		ResourceSpecificResults: []types.ResourceSpecificResult{
			{EvalResourceName: aws.String(identity), EvalResourceDecision: types.PolicyEvaluationDecisionTypeAllowed},
			{EvalResourceName: aws.String("arn:aws:ses:eu-west-1:123456789012:identity/other.test"),
				EvalResourceDecision: types.PolicyEvaluationDecisionTypeExplicitDeny, MatchedStatements: statement},
		}}}}
	tests := []struct {
		name string
		api  fakePermissionAPI
		user string
		want string
	}{
		{"per-resource results", fakePermissionAPI{user: user, simulate: perResource}, "u",
			"through arn:aws:ses:eu-west-1:123456789012:identity/other.test: an explicit deny, by managed policy Deny (statement at line 4)"},
		{"GetUser without ARN", fakePermissionAPI{user: &types.User{UserName: aws.String("u")}}, "u", "answered without the user's ARN"},
		{"GetUser without user", fakePermissionAPI{}, "u", "answered without the user's ARN"},
		{"GetAccessKeyLastUsed without UserName", fakePermissionAPI{user: user}, "", "answered without UserName"},
		{"no evaluation result", fakePermissionAPI{user: user, simulate: &iam.SimulatePrincipalPolicyOutput{}}, "u", "no evaluation result"},
		{"no decision", fakePermissionAPI{user: user, simulate: &iam.SimulatePrincipalPolicyOutput{
			EvaluationResults: []types.EvaluationResult{{EvalResourceName: aws.String("*")}}}}, "u", "without a decision"},
		{"unknown decision", fakePermissionAPI{user: user, simulate: &iam.SimulatePrincipalPolicyOutput{
			EvaluationResults: []types.EvaluationResult{{EvalDecision: "maybe"}}}}, "u", `unknown decision "maybe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := provision.CheckSendPermission(t.Context(), tt.api, tt.user,
				provision.PermissionOptions{AccessKeyID: "AKIAFAKE000000000001", IdentityARNs: []string{identity}})
			if err == nil {
				err = res.Err()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	res, err := provision.CheckSendPermission(t.Context(), fakePermissionAPI{user: user, simulate: perResource}, "u", provision.PermissionOptions{})
	require.NoError(t, err)
	require.Len(t, res.Resources, 2)
	assert.Equal(t, provision.DecisionAllowed, res.Resources[0].Decision)
	assert.Equal(t, provision.DecisionExplicitDeny, res.Decision)
	assert.Contains(t, res.Err().Error(), "identity/other.test")
	assert.NotContains(t, res.Err().Error(), identity, "only the denied resource is listed")
}

// TestCheckSendPermissionExplainedDenialIsFinal: a denial the boundary
// explains does not change with waiting, so it is not retried.
func TestCheckSendPermissionExplainedDenialIsFinal(t *testing.T) {
	e := iamtest.Start(t)
	srv, c := e.Local(t), e.Client()
	srv.PutUser(iamtest.User{Name: "bounded", PermissionsBoundary: srv.PutPolicy("/", "IAMOnly", iamOnly),
		InlinePolicies: map[string]string{provision.DefaultPolicyName: senderPolicy(t, policy.SenderOptions{})}})
	start := time.Now()
	res, err := provision.CheckSendPermission(t.Context(), c, "bounded", provision.PermissionOptions{Wait: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, provision.VerdictDenied, res.Verdict)
	assert.Equal(t, 1, res.Attempts)
	assert.Less(t, time.Since(start), 30*time.Second, "not retried for the whole wait")
}
