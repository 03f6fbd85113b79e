package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

const (
	denySendJSON   = `{"Version":"2012-10-17","Statement":[{"Sid":"NoMail","Effect":"Deny","Action":"ses:*","Resource":"*"}]}`
	sendEmailOnly  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"*"}]}`
	iamOnlyJSON    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`
	narrowedPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*",` +
		`"Condition":{"StringLike":{"ses:FromAddress":"noreply@example.com"}}}]}`
)

// permissionUser is a user with one key whose password the test knows.
func permissionUser(srv *iamtest.Server, name, keyID string, u iamtest.User) {
	u.Name = name
	u.AccessKeys = []iamtest.AccessKey{{ID: keyID, SecretAccessKey: "secret-" + name}}
	srv.PutUser(u)
}

// credentialsCSV is sesmtp's CSV for a permissionUser, naming the user
// unless anonymous.
func credentialsCSV(t *testing.T, name, keyID string) string {
	return writeFile(t, name+".csv", "IAM User Name,Smtp Username,Smtp Password,Region,Smtp Endpoint\n"+
		name+","+keyID+","+derive.PasswordV4("secret-"+name, "eu-west-1")+",eu-west-1,email-smtp.eu-west-1.amazonaws.com\n")
}

// TestVerifyCheckPermission runs verify --check-permission end to end:
// the SMTP check against smtptest, the IAM check through the real SDK
// client against iamtest, for users whose policies allow, narrow and deny.
func TestVerifyCheckPermission(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, "eu-west-1")})
	permissionUser(srv, "open", "AKIAPERMCLIOPEN00001", iamtest.User{InlinePolicies: map[string]string{provision.DefaultPolicyName: senderPolicyJSON}})
	permissionUser(srv, "narrow", "AKIAPERMCLINARROW001", iamtest.User{InlinePolicies: map[string]string{provision.DefaultPolicyName: narrowedPolicy}})
	permissionUser(srv, "denied", "AKIAPERMCLIDENIED001", iamtest.User{InlinePolicies: map[string]string{
		provision.DefaultPolicyName: senderPolicyJSON, "Quarantine": denySendJSON}})
	permissionUser(srv, "bounded", "AKIAPERMCLIBOUNDED01", iamtest.User{PermissionsBoundary: srv.PutPolicy("/", "IAMOnly", iamOnlyJSON),
		InlinePolicies: map[string]string{provision.DefaultPolicyName: senderPolicyJSON}})
	smtpArgs := []string{"--endpoint", smtp.Addr, "--ca-file", smtp.CAFile, "--endpoint-url", e.URL}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		wantStdout string
		wantStderr string
		noSMTP     bool
	}{
		{name: "allowed", args: []string{"-c", credentialsCSV(t, "open", "AKIAPERMCLIOPEN00001"), "--check-permission"},
			wantStdout: "send permission: IAM user open (arn:aws:iam::123456789012:user/open) may send: ses:SendRawEmail is allowed on any identity (*) by inline user policy AmazonSesSendingAccess"},
		{name: "narrowed, its address", args: []string{"-c", credentialsCSV(t, "narrow", "AKIAPERMCLINARROW001"), "--check-permission", "--from-address", "noreply@example.com"},
			wantStdout: "From noreply@example.com is allowed"},
		{name: "narrowed, another address", args: []string{"-c", credentialsCSV(t, "narrow", "AKIAPERMCLINARROW001"), "--check-permission", "--from-address", "ceo@example.com"},
			code: exitcode.Rejected, wantStdout: "credentials accepted by", wantStderr: "From ceo@example.com is denied on any identity (*): an implicit deny"},
		{name: "narrowed, no address", args: []string{"-c", credentialsCSV(t, "narrow", "AKIAPERMCLINARROW001"), "--check-permission"},
			wantStdout: "only for some values of ses:FromAddress", wantStderr: "note: pass --from-address ADDRESS"},
		{name: "explicit deny", args: []string{"-c", credentialsCSV(t, "denied", "AKIAPERMCLIDENIED001"), "--check-permission"},
			code: exitcode.Rejected, wantStderr: "an explicit deny, by inline user policy Quarantine.\nSES accepts SMTP AUTH from such a user and answers 554 Access denied"},
		{name: "boundary without SES", args: []string{"-c", credentialsCSV(t, "bounded", "AKIAPERMCLIBOUNDED01"), "--check-permission"},
			code: exitcode.Rejected, wantStderr: "its permissions boundary does not allow it"},
		{name: "owner asked from IAM", args: []string{"--region", "eu-west-1", "--check-permission"},
			env:        map[string]string{"SMTP_USERNAME": "AKIAPERMCLIOPEN00001", "SMTP_PASSWORD": derive.PasswordV4("secret-open", "eu-west-1")},
			wantStdout: "send permission: IAM user open (arn:aws:iam::123456789012:user/open) may send"},
		{name: "permission only, by user", args: []string{"--permission-only", "--user", "denied"}, noSMTP: true,
			code: exitcode.Rejected, wantStderr: "IAM user denied (arn:aws:iam::123456789012:user/denied) may not send mail"},
		{name: "permission only, by file", args: []string{"--permission-only", "-c", credentialsCSV(t, "open", "AKIAPERMCLIOPEN00001")}, noSMTP: true,
			wantStdout: "may send"},
		{name: "--from-address alone", args: []string{"-c", credentialsCSV(t, "open", "AKIAPERMCLIOPEN00001"), "--from-address", "a@example.com"}, noSMTP: true,
			code: exitcode.Usage, wantStderr: "--from-address belongs to the IAM permission check: add --check-permission"},
		{name: "wildcard address", args: []string{"--permission-only", "--user", "open", "--from-address", "*@example.com"}, noSMTP: true,
			code: exitcode.Usage, wantStderr: "give one concrete address"},
		{name: "bad identity", args: []string{"--permission-only", "--user", "open", "--identity-arn", "example.com"}, noSMTP: true,
			code: exitcode.Usage, wantStderr: "not an SES identity ARN"},
		{name: "temporary key", args: []string{"--permission-only", "--region", "eu-west-1"}, noSMTP: true,
			env:  map[string]string{"SMTP_USERNAME": "ASIAIOSFODNN7EXAMPLE", "SMTP_PASSWORD": "x"},
			code: exitcode.Usage, wantStderr: "temporary credentials"},
		{name: "unknown user", args: []string{"--permission-only", "--user", "ghost"}, noSMTP: true,
			code: exitcode.Failed, wantStderr: "the send-permission check could not run: iam:GetUser \"ghost\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_HOST"} {
				t.Setenv(k, tt.env[k])
			}
			before := smtp.Attempts()
			res := runCLI(t, "", append(append([]string{"verify"}, smtpArgs...), tt.args...)...)
			assert.Equal(t, tt.code, res.code, res.stderr)
			assert.Contains(t, res.stdout, tt.wantStdout)
			assert.Contains(t, res.stderr, tt.wantStderr)
			if tt.noSMTP {
				assert.Equal(t, before, smtp.Attempts(), "no SMTP connection")
			}
			assert.NotContains(t, res.stdout+res.stderr, "secret-")
			assert.Zero(t, smtp.Mails())
		})
	}
}

// TestVerifyCheckPermissionJSON: each element of --output json carries
// its key's permission result beside the SMTP result; with
// --permission-only, a denial still writes its result.
func TestVerifyCheckPermissionJSON(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, "eu-west-1")})
	permissionUser(srv, "open", "AKIAPERMCLIOPEN00001", iamtest.User{InlinePolicies: map[string]string{provision.DefaultPolicyName: senderPolicyJSON}})
	permissionUser(srv, "denied", "AKIAPERMCLIDENIED001", iamtest.User{InlinePolicies: map[string]string{"Quarantine": denySendJSON}})

	res := runCLI(t, "", "verify", "-c", credentialsCSV(t, "open", "AKIAPERMCLIOPEN00001"), "--endpoint", smtp.Addr, "--ca-file", smtp.CAFile,
		"--endpoint-url", e.URL, "--check-permission", "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var outs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &outs))
	require.Len(t, outs, 1)
	assert.Equal(t, smtp.Addr, outs[0]["endpoint"])
	perm, _ := outs[0]["permission"].(map[string]any)
	assert.Equal(t, "allowed", perm["verdict"])
	assert.Equal(t, "open", perm["user_name"])
	assert.Equal(t, "AKIAPERMCLIOPEN00001", perm["access_key_id"])

	res = runCLI(t, "", "verify", "--permission-only", "--user", "denied", "--endpoint-url", e.URL, "--output", "json")
	require.Equal(t, exitcode.Rejected, res.code, res.stderr)
	outs = nil
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &outs))
	require.Len(t, outs, 1)
	perm, _ = outs[0]["permission"].(map[string]any)
	assert.Equal(t, "denied", perm["verdict"])
	assert.Equal(t, "explicitDeny", perm["decision"])
	assert.NotContains(t, outs[0], "endpoint", "no SMTP check ran")
}

// TestVerifyCheckPermissionOperatorDenied: an operator who may not call
// the simulator gets a warning and the SMTP check's answer; alone
// (--permission-only) the check that could not run is exit 2.
func TestVerifyCheckPermissionOperatorDenied(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
		AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops", Allow: []string{"iam:GetUser", "iam:GetAccessKeyLastUsed"}}))
	srv := e.Local(t)
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, "eu-west-1")})
	permissionUser(srv, "open", "AKIAPERMCLIOPEN00001", iamtest.User{InlinePolicies: map[string]string{provision.DefaultPolicyName: senderPolicyJSON}})
	file := credentialsCSV(t, "open", "AKIAPERMCLIOPEN00001")

	res := runCLI(t, "", "verify", "-c", file, "--endpoint", smtp.Addr, "--ca-file", smtp.CAFile, "--endpoint-url", e.URL, "--check-permission")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "credentials accepted by")
	assert.Contains(t, res.stderr, "warning: the send-permission check could not run (iam:SimulatePrincipalPolicy for arn:aws:iam::123456789012:user/open: ")
	assert.Contains(t, res.stderr, "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: iam:SimulatePrincipalPolicy")
	assert.Contains(t, res.stderr, "this says nothing about the credentials")

	res = runCLI(t, "", "verify", "-c", file, "--endpoint-url", e.URL, "--permission-only")
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "the send-permission check could not run")
	assert.Contains(t, res.stderr, "sesmtp policy operator")
}

// TestOperatorPolicyCoversVerify runs verify --permission-only, finding
// the user by its key, as a caller allowed exactly the operator policy's
// actions for verify.
func TestOperatorPolicyCoversVerify(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
		AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops", Allow: policy.CommandActions("verify")}))
	srv := e.Local(t)
	permissionUser(srv, "open", "AKIAPERMCLIOPEN00001", iamtest.User{InlinePolicies: map[string]string{provision.DefaultPolicyName: senderPolicyJSON}})
	t.Setenv("SMTP_USERNAME", "AKIAPERMCLIOPEN00001")
	t.Setenv("SMTP_PASSWORD", derive.PasswordV4("secret-open", "eu-west-1"))
	res := runCLI(t, "", "verify", "--endpoint-url", e.URL, "--permission-only", "--from-address", "a@example.com")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "IAM user open")
	assert.Equal(t, 1, srv.CallCount("GetAccessKeyLastUsed"))
	for _, c := range srv.Calls() {
		assert.NotEqual(t, "AccessDenied", c.Outcome, "%s is missing from the operator policy for verify", c.Action)
	}
}

// breakPolicyOnAuth is an SMTP check that accepts the user's key and,
// at that moment, replaces its sending policy with doc: the policy goes
// wrong between the SMTP check and the permission check.
func breakPolicyOnAuth(t *testing.T, e *iamtest.Endpoint, srv *iamtest.Server, user, doc string) func(context.Context, string, string) error {
	accept := acceptIAMKeys(srv, "eu-west-1")
	return func(ctx context.Context, username, password string) error {
		if !accept(username, password) {
			return smtptest.ReplyInvalid
		}
		_, err := e.Client().PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user),
			PolicyName: aws.String(provision.DefaultPolicyName), PolicyDocument: aws.String(doc)})
		return err
	}
}

// TestCreateVerifyChecksPermission: create --verify asks IAM after SMTP
// AUTH, with the From address the user was narrowed to; a user IAM
// denies is rolled back as a rejected one is.
func TestCreateVerifyChecksPermission(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		breakWith  string // the policy put in place at SMTP AUTH, if any
		boundary   string
		code       int
		wantStderr []string
	}{
		{name: "allowed", wantStderr: []string{"verified: IAM user target (arn:aws:iam::123456789012:user/target) may send: ses:SendRawEmail is allowed on any identity (*) by inline user policy AmazonSesSendingAccess"}},
		{name: "its From address", args: []string{"--from-address", "noreply@example.com"},
			wantStderr: []string{"ses:SendRawEmail From noreply@example.com is allowed"}},
		{name: "wildcard From address", args: []string{"--from-address", "*@example.com"},
			wantStderr: []string{"only for some values of ses:FromAddress", "(the simulation used no From address: the user's From address has wildcards)"}},
		{name: "explicit deny mid-way", breakWith: denySendJSON, code: exitcode.Rejected,
			wantStderr: []string{"check the new user's send permission: IAM user target", "an explicit deny, by inline user policy AmazonSesSendingAccess", "Rolled back: nothing was left changed"}},
		{name: "implicit deny mid-way, retried", breakWith: sendEmailOnly, args: []string{"--verify-wait", "1s", "--retry-interval", "100ms"}, code: exitcode.Rejected,
			wantStderr: []string{"verify: permission: attempt 1: IAM says implicitDeny", "an implicit deny: no policy of the user or its groups allows it", "Rolled back"}},
		// A boundary allowing more than SES sending is refused before
		// anything is made (TestAttackWidenedBoundary); this one allows
		// ses:SendEmail, not the ses:SendRawEmail SMTP needs.
		{name: "boundary without SES, at once", boundary: sendEmailOnly, code: exitcode.Rejected,
			wantStderr: []string{"its permissions boundary does not allow it", "Check --permissions-boundary", "Rolled back"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			opts := smtptest.Options{Accept: acceptIAMKeys(srv, "eu-west-1")}
			if tt.breakWith != "" {
				opts = smtptest.Options{Check: breakPolicyOnAuth(t, e, srv, "target", tt.breakWith)}
			}
			smtp := smtptest.NewServer(t, opts)
			args := []string{"--user", "target", "--region", "eu-west-1", "--verify", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile}
			if tt.boundary != "" {
				args = append(args, "--permissions-boundary", srv.PutPolicy("/", "Boundary", tt.boundary))
			}
			out := filepath.Join(t.TempDir(), "c.csv")
			res := runCLI(t, "", append(createArgs(e, out, args...), tt.args...)...)
			require.Equal(t, tt.code, res.code, res.stderr)
			for _, w := range tt.wantStderr {
				assert.Contains(t, res.stderr, w)
			}
			assert.Equal(t, 1, smtp.Accepted(), "the SMTP check ran first")
			if tt.code != 0 {
				assert.Empty(t, srv.Users(), "a user IAM denies is rolled back")
				assert.NoFileExists(t, out)
			} else {
				assert.FileExists(t, out)
			}
			assertNoSecrets(t, e, res.stdout, res.stderr)
		})
	}
}

// TestCreateVerifyOperatorWithoutSimulate: an operator holding only
// create's actions gets its credentials, verified by SMTP, and one
// warning that the permission check was skipped.
func TestCreateVerifyOperatorWithoutSimulate(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
		AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops", Allow: policy.CommandActions("create")}))
	srv := e.Local(t)
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, "eu-west-1")})
	out := filepath.Join(t.TempDir(), "c.csv")
	res := runCLI(t, "", createArgs(e, out, "--user", "target", "--region", "eu-west-1", "--verify", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile)...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, 1, strings.Count(res.stderr, "warning: skipped the send-permission check: iam:SimulatePrincipalPolicy"), res.stderr)
	assert.Contains(t, res.stderr, "verified: "+smtp.Addr+" accepted the new credentials")
	assert.FileExists(t, out)
}

// TestBatchVerifyChecksPermission: each sender is checked with its own
// manifest narrowing; an operator who may not simulate is warned once
// for the whole batch, and IAM is not asked again.
func TestBatchVerifyChecksPermission(t *testing.T) {
	file := writeFile(t, "senders.csv", "user,from_address\nbilling,billing@example.com\nnews,*@news.example.com\nplain,\n")
	t.Run("checked per sender", func(t *testing.T) {
		e := iamtest.Start(t)
		srv := e.Local(t)
		smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, "eu-west-1")})
		res := runCLI(t, "", batchArgs(e, file, filepath.Join(t.TempDir(), "out"), "--verify", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile)...)
		require.Equal(t, 0, res.code, res.stderr)
		assert.Contains(t, res.stderr, "IAM user billing (arn:aws:iam::123456789012:user/billing) may send: ses:SendRawEmail From billing@example.com is allowed")
		assert.Contains(t, res.stderr, "IAM user news (arn:aws:iam::123456789012:user/news) may send ses:SendRawEmail only for some values of ses:FromAddress")
		assert.Contains(t, res.stderr, "IAM user plain (arn:aws:iam::123456789012:user/plain) may send: ses:SendRawEmail is allowed")
		assert.Equal(t, 3, srv.CallCount("SimulatePrincipalPolicy"))
	})
	t.Run("operator without the simulator", func(t *testing.T) {
		e := iamtest.Start(t, iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
			AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops", Allow: policy.CommandActions("create")}))
		srv := e.Local(t)
		smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, "eu-west-1")})
		res := runCLI(t, "", batchArgs(e, file, filepath.Join(t.TempDir(), "out"), "--concurrency", "1",
			"--verify", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile)...)
		require.Equal(t, 0, res.code, res.stderr)
		assert.Equal(t, 1, strings.Count(res.stderr, "warning: skipped the send-permission check"), res.stderr)
		assert.Equal(t, 1, srv.CallCount("SimulatePrincipalPolicy"), "not asked again after AccessDenied")
		assert.Len(t, srv.Users(), 3)
	})
}

// TestRotateVerifyReportsDenial: rotate keeps the user's policies and
// boundary, so a denial is a warning, not a rollback of the new key.
func TestRotateVerifyReportsDenial(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	u := consoleUser("target")
	u.PermissionsBoundary = srv.PutPolicy("/", "IAMOnly", iamOnlyJSON) // a boundary without SES
	srv.PutUser(u)
	oldKey := u.AccessKeys[0].ID
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, "eu-west-1")})
	out := filepath.Join(t.TempDir(), "r.csv")
	res := runCLI(t, "", append(rotateArgs(e, out, "--strategy", "key"), "--verify", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile)...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "warning: IAM user target (arn:aws:iam::123456789012:user/target) may not send mail")
	assert.Contains(t, res.stderr, "rotate keeps the user's policies as they were")
	assert.FileExists(t, out)
	after, _ := srv.User("target")
	require.NotEmpty(t, after.AccessKeys)
	assert.NotEqual(t, oldKey, after.AccessKeys[len(after.AccessKeys)-1].ID, "the new key stays")
}
