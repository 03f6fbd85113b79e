package cli

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// acceptIAMKeys accepts the v4 password, for region, of any key the IAM
// endpoint holds: an SES stand-in that knows the account's keys.
func acceptIAMKeys(srv *iamtest.Server, region string) func(string, string) bool {
	return func(user, pass string) bool {
		for _, u := range srv.Users() {
			for _, k := range u.AccessKeys {
				if k.ID == user && k.Status == "Active" && derive.PasswordV4(k.SecretAccessKey, region) == pass {
					return true
				}
			}
		}
		return false
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestVerifyCommand(t *testing.T) {
	good := derive.PasswordV4(exampleSecret, "eu-west-1")
	csv := "IAM User Name,Smtp Username,Smtp Password,Region,Smtp Endpoint\n" +
		"u,AKIAIOSFODNN7EXAMPLE," + good + ",eu-west-1,email-smtp.eu-west-1.amazonaws.com\n"
	wrongRegion := "IAM User Name,Smtp Username,Smtp Password,Region,Smtp Endpoint\n" +
		"u,AKIAIOSFODNN7EXAMPLE," + derive.PasswordV4(exampleSecret, "us-east-1") + ",us-east-1,email-smtp.us-east-1.amazonaws.com\n"
	tests := []struct {
		name       string
		opts       smtptest.Options
		file       string
		env        map[string]string
		args       []string
		noCA       bool
		code       int
		wantStdout string
		wantStderr string
	}{
		{name: "csv accepted", file: csv, code: 0, wantStdout: "credentials accepted by 127.0.0.1:"},
		{name: "env accepted", env: map[string]string{"SMTP_USERNAME": "AKIAIOSFODNN7EXAMPLE", "SMTP_PASSWORD": good}, args: []string{"--region", "eu-west-1"}, code: 0},
		{name: "wrong region", file: wrongRegion, args: []string{"--region", "us-east-1"}, code: exitcode.Rejected,
			wantStderr: "derived for another region than this endpoint's (us-east-1)"},
		{name: "user name instead of key id", env: map[string]string{"SMTP_USERNAME": "ses-smtp-user.1", "SMTP_PASSWORD": good},
			args: []string{"--region", "eu-west-1"}, code: exitcode.Rejected, wantStderr: "does not look like an access key id"},
		{name: "propagation with --wait", opts: smtptest.Options{RejectFirst: 2}, file: csv,
			args: []string{"--wait", "1m", "--retry-interval", "1ms"}, code: 0, wantStderr: "attempt 2: 535 rejected"},
		{name: "propagation without --wait", opts: smtptest.Options{RejectFirst: 2}, file: csv, code: exitcode.Rejected, wantStderr: "--wait 2m"},
		{name: "implicit TLS", opts: smtptest.Options{Implicit: true}, file: csv, args: []string{"--tls", "implicit"}, code: 0},
		{name: "no STARTTLS", opts: smtptest.Options{NoTLS: true}, file: csv, code: exitcode.Failed, wantStderr: "never sends credentials unencrypted"},
		{name: "bad certificate", file: csv, noCA: true, code: exitcode.Failed, wantStderr: "--ca-file"},
		{name: "malformed file", file: "IAM User Name,Smtp Username,Smtp Password\nu,x\n", code: exitcode.Usage, wantStderr: "line 2 has 2 columns"},
		{name: "no credentials", code: exitcode.Usage, wantStderr: "set SMTP_USERNAME and SMTP_PASSWORD"},
		{name: "--fips where AWS has none", file: csv, args: []string{"--fips"}, code: exitcode.Usage, wantStderr: "no documented FIPS SMTP endpoint"},
		{name: "bad --tls", file: csv, args: []string{"--tls", "ssl"}, code: exitcode.Usage, wantStderr: "--tls must be starttls or implicit"},
		{name: "implicit TLS without --tls implicit", opts: smtptest.Options{Implicit: true}, file: csv, args: []string{"--timeout", "300ms"},
			code: exitcode.Failed, wantStderr: "pass --tls implicit"},
		{name: "plus turned into a space", env: map[string]string{"SMTP_USERNAME": "AKIAIOSFODNN7EXAMPLE", "SMTP_PASSWORD": good[:5] + " " + good[6:]},
			args: []string{"--region", "eu-west-1"}, code: exitcode.Rejected, wantStderr: "warning: the SMTP password looks mangled (this one has a space at character 6"},
		{name: "temporary key", env: map[string]string{"SMTP_USERNAME": "ASIAIOSFODNN7EXAMPLE", "SMTP_PASSWORD": good},
			args: []string{"--region", "eu-west-1"}, code: exitcode.Usage, wantStderr: "temporary credentials"},
		{name: "454 retried within --wait", opts: smtptest.Options{Script: []*smtp.SMTPError{smtptest.ReplyTemporaryAuthFailure}}, file: csv,
			args: []string{"--wait", "1m", "--retry-interval", "1ms"}, code: 0, wantStderr: "attempt 1: 454 Temporary authentication failure"},
		{name: "two regions, one endpoint", file: csv + "u,AKIAIOSFODNN7EXAMPLE," + derive.PasswordV4(exampleSecret, "us-east-1") + ",us-east-1,email-smtp.us-east-1.amazonaws.com\n",
			code: 0, wantStdout: ", eu-west-1's password", wantStderr: "a password for each of eu-west-1, us-east-1; --endpoint is one server, so this checks eu-west-1's"},
		{name: "two regions, --region picks", opts: smtptest.Options{Password: derive.PasswordV4(exampleSecret, "us-east-1")},
			file: csv + "u,AKIAIOSFODNN7EXAMPLE," + derive.PasswordV4(exampleSecret, "us-east-1") + ",us-east-1,email-smtp.us-east-1.amazonaws.com\n",
			args: []string{"--region", "us-east-1"}, code: 0, wantStdout: ", us-east-1's password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iamtest.Isolate(t)
			for _, k := range []string{"SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_HOST"} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tt.opts.AccessKeyID = "AKIAIOSFODNN7EXAMPLE"
			if tt.opts.Password == "" {
				tt.opts.Password = good
			}
			srv := smtptest.NewServer(t, tt.opts)
			args := []string{"verify", "--endpoint", srv.Addr}
			if !tt.noCA {
				args = append(args, "--ca-file", srv.CAFile)
			}
			if tt.file != "" {
				args = append(args, "--credentials", writeFile(t, "creds.csv", tt.file))
			}
			res := runCLI(t, "", append(args, tt.args...)...)
			assert.Equal(t, tt.code, res.code, res.stderr)
			assert.Contains(t, res.stdout, tt.wantStdout)
			assert.Contains(t, res.stderr, tt.wantStderr)
			assert.NotContains(t, res.stdout+res.stderr, tt.opts.Password, "no password in output")
			assert.Zero(t, srv.Mails(), "no MAIL command is ever sent")
		})
	}
}

func TestVerifyConnectionRefused(t *testing.T) {
	iamtest.Isolate(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	t.Setenv("SMTP_USERNAME", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("SMTP_PASSWORD", "x")
	res := runCLI(t, "", "verify", "--endpoint", "127.0.0.1:"+strconv.Itoa(port), "--region", "eu-west-1")
	assert.Equal(t, exitcode.Failed, res.code)
	assert.Contains(t, res.stderr, "connection refused")
}

func TestCreateAndRotateVerify(t *testing.T) {
	e := iamtest.Start(t)
	iam := e.Local(t, "the secrets of the keys it issued, for an SES stand-in")
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(iam, "eu-west-1"), RejectFirst: 1})
	verifyArgs := []string{"--verify", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile, "--retry-interval", "1ms"}
	out := filepath.Join(t.TempDir(), "c.csv")

	res := runCLI(t, "", append(createArgs(e, out, "--user", "target", "--region", "eu-west-1"), verifyArgs...)...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "verified: "+smtp.Addr+" accepted the new credentials (attempt 2)")
	assert.Equal(t, 1, smtp.Accepted())

	// The file create wrote verifies on its own.
	res = runCLI(t, "", "verify", "--credentials", out, "--endpoint", smtp.Addr, "--ca-file", smtp.CAFile)
	require.Equal(t, 0, res.code, res.stderr)

	out2 := filepath.Join(t.TempDir(), "r.csv")
	res = runCLI(t, "", append(rotateArgs(e, out2, "--strategy", "key"), verifyArgs...)...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, 3, smtp.Accepted())
	assertNoSecrets(t, e, res.stdout, res.stderr)
}

// TestCreateVerifyWaitsTheTimeAsked: --verify-wait 1s retries for the
// whole second (it used to stop when the next full pause would pass the
// deadline), then rolls back.
func TestCreateVerifyWaitsTheTimeAsked(t *testing.T) {
	e := iamtest.Start(t)
	iam := e.Local(t, "the secrets of the keys it issued, for an SES stand-in")
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(iam, "us-east-1")})
	out := filepath.Join(t.TempDir(), "c.csv")
	start := time.Now()
	res := runCLI(t, "", append(createArgs(e, out, "--user", "target", "--region", "eu-west-1"),
		"--verify", "--verify-wait", "1s", "--retry-interval", "300ms", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile)...)
	assert.Equal(t, exitcode.Rejected, res.code, res.stderr)
	assert.GreaterOrEqual(t, time.Since(start), time.Second)
	assert.GreaterOrEqual(t, smtp.Attempts(), 3)
	assert.Contains(t, res.stderr, "retried for 1s; a longer --verify-wait may help")
	assert.Empty(t, iam.Users())
}

func TestCreateVerifyRejectedRollsBack(t *testing.T) {
	e := iamtest.Start(t)
	iam := e.Local(t, "the secrets of the keys it issued, for an SES stand-in")
	// The endpoint knows the key, but for another region: rejected.
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(iam, "us-east-1")})
	out := filepath.Join(t.TempDir(), "c.csv")
	res := runCLI(t, "", append(createArgs(e, out, "--user", "target", "--region", "eu-west-1"),
		"--verify", "--verify-wait", "0s", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile)...)
	assert.Equal(t, exitcode.Rejected, res.code, res.stderr)
	assert.Contains(t, res.stderr, "retry with --verify-wait 2m", "the hint names create's flag")
	assert.NotContains(t, res.stderr, "--wait ")
	assert.Contains(t, res.stderr, "whether the user may send.\nRolled back: nothing was left changed (removed the credentials file, access key",
		"the outcome on a line of its own, not glued to a cause")
	assert.Empty(t, iam.Users(), "IAM holds no key whose credentials failed")
	assert.NoFileExists(t, out, "no file for a key IAM does not hold")
	assertNoSecrets(t, e, res.stdout, res.stderr)
}

// TestCreateVerifyAgainstSMTPLocal rehearses create --verify as smtp-local
// runs it: the SMTP endpoint asks the IAM endpoint about each key, and
// rejects keys younger than a propagation delay, as SES does.
func TestCreateVerifyAgainstSMTPLocal(t *testing.T) {
	e := iamtest.Start(t)
	e.Local(t, "its SMTP AUTH check, which only iam-local serves")
	smtp := smtptest.NewServer(t, smtptest.Options{Check: smtptest.IAMCheck{URL: e.URL, Region: "eu-west-1", MinKeyAge: 1500 * time.Millisecond}.Check})
	// IAM key times are whole seconds: 1.5s is over a second past any creation time.
	out := filepath.Join(t.TempDir(), "c.csv")
	res := runCLI(t, "", append(createArgs(e, out, "--user", "rehearsal", "--region", "eu-west-1"),
		"--verify", "--verify-wait", "30s", "--retry-interval", "200ms", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile)...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "attempt 1: 535 rejected; a new key can take a while to reach SES")
	assert.Contains(t, res.stderr, "verified: "+smtp.Addr+" accepted the new credentials")
	assertNoSecrets(t, e, res.stdout, res.stderr)
}

func TestVerifyTargetFIPS(t *testing.T) {
	fips := smtpTarget{fips: true}
	assert.Equal(t, "email-smtp-fips.us-east-1.amazonaws.com:587", fips.target("us-east-1", "email-smtp.us-east-1.amazonaws.com", 0).String())
	assert.Equal(t, "email-smtp-fips.us-west-2.amazonaws.com:587", fips.target("us-west-2", "", 0).String())
	assert.Equal(t, "relay.internal:2587", fips.target("us-east-1", "relay.internal", 2587).String(), "a non-SES host stays as written")
	plain := smtpTarget{}
	assert.Equal(t, "email-smtp-fips.us-east-1.amazonaws.com:465", plain.target("us-east-1", "email-smtp-fips.us-east-1.amazonaws.com", 465).String())
	assert.Equal(t, verify.Implicit, plain.target("us-east-1", "email-smtp-fips.us-east-1.amazonaws.com", 465).Mode)
}
