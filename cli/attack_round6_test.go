package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// TestAttack6ListMissingFields: list must treat an IAM answer without a
// field it shows (a user's or key's creation date, a key's status) as an
// error (exit 1), never a silently invented value: a key without a
// CreateDate is listed as 106751 days old and so "due" under --older-than.
func TestAttack6ListMissingFields(t *testing.T) {
	tests := []struct{ name, action, element string }{
		{"ListUsers without CreateDate", "ListUsers", "CreateDate"},
		{"ListAccessKeys without CreateDate", "ListAccessKeys", "CreateDate"},
		{"ListAccessKeys without Status", "ListAccessKeys", "Status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			srv.PutUser(consoleUser("only1"))
			url := rewritingProxy(t, e, tt.action, without(tt.element))
			res := runCLI(t, "", "list", "--endpoint-url", url, "--max-backoff", "5ms", "--output", "json")
			assert.NotContains(t, res.stderr, "panic")
			assert.Equal(t, exitcode.Failed, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
			assert.NotContains(t, res.stdout, "0001-01-01")
			assert.Contains(t, res.stderr, "has no ")
			assert.Contains(t, res.stderr, tt.element)
		})
	}
}

// TestAttack6RetireLastUsedAnswerMissing: retire --if-unused-for must not
// deactivate a key when GetAccessKeyLastUsed's answer lacks
// AccessKeyLastUsed (a required member of the answer, IAM API reference):
// it cannot know the key is unused. Here the key was used an hour ago.
func TestAttack6RetireLastUsedAnswerMissing(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	iamClock(e, fixedNow)
	u := pendingUser("target1", "")
	srv.PutUser(u)
	old := u.AccessKeys[0].ID
	srv.SetKeyLastUsed(old, fixedNow.Add(-time.Hour), "ses", "eu-west-1")
	before := snapshot(srv)
	url := alwaysRewritingProxy(t, e, "GetAccessKeyLastUsed", without("AccessKeyLastUsed"))
	res := runCLI(t, "", "retire", "--endpoint-url", url, "--max-backoff", "5ms", "--user", "target1", "--if-unused-for", "24h")
	assert.NotEqual(t, 0, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	require.Equal(t, before, snapshot(srv), "the key used an hour ago is still active")
	assert.Contains(t, res.stderr, "AccessKeyLastUsed")
}

// alwaysRewritingProxy is rewritingProxy for every answer to action, not
// only the first: an endpoint that always answers so.
func alwaysRewritingProxy(t *testing.T, e *iamtest.Endpoint, action string, rewrite func([]byte) []byte) string {
	t.Helper()
	target, err := url.Parse(e.URL)
	require.NoError(t, err)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			body, _ := io.ReadAll(r.In.Body)
			form, _ := url.ParseQuery(string(body))
			r.Out.Body = io.NopCloser(bytes.NewReader(body))
			r.Out.Header.Set(actionHeader, form.Get("Action"))
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Header.Get(actionHeader) != action || resp.StatusCode != 200 {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			body = rewrite(body)
			resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
			return nil
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestAttack6VerifyEchoedPassword: an SMTP server (a relay, a proxy, a
// misconfigured endpoint) whose reply quotes the password it was sent
// must not make verify print that password: sesmtp copies the reply text
// into its error verbatim.
func TestAttack6VerifyEchoedPassword(t *testing.T) {
	good := derive.PasswordV4(exampleSecret, "eu-west-1")
	for _, code := range []int{535, 454, 550} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			iamtest.Isolate(t)
			for _, k := range []string{"SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_HOST"} {
				t.Setenv(k, "")
			}
			srv := smtptest.NewServer(t, smtptest.Options{Check: func(_ context.Context, user, pw string) error {
				return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 7, 8}, Message: "bad credentials " + user + " / " + pw}
			}})
			csv := "IAM User Name,Smtp Username,Smtp Password,Region,Smtp Endpoint\n" +
				"u,AKIAIOSFODNN7EXAMPLE," + good + ",eu-west-1,email-smtp.eu-west-1.amazonaws.com\n"
			res := runCLI(t, "", "verify", "--endpoint", srv.Addr, "--ca-file", srv.CAFile, "--credentials", writeFile(t, "creds.csv", csv), "--wait", "0s")
			assert.NotEqual(t, 0, res.code, res.stderr)
			assert.NotContains(t, res.stdout+res.stderr, good, "no password in output")
		})
	}
}

// TestAttack6StrayArgumentsRefusedList: every other command refuses a
// positional argument (exit 2, nothing attempted); list ignored it:
// 'sesmtp list billing-mailer' listed every SMTP user and exited 0, as if
// it had filtered.
func TestAttack6StrayArgumentsRefusedList(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("only1"))
	srv.PutUser(consoleUser("other2"))
	for _, args := range [][]string{{"only1"}, {"only1", "--output", "json"}} {
		res := runCLI(t, "", append([]string{"list", "--endpoint-url", e.URL}, args...)...)
		assert.Equal(t, exitcode.Usage, res.code, "list with a stray argument\nstdout: %s\nstderr: %s", res.stdout, res.stderr)
		assert.Empty(t, res.stdout, "nothing listed")
		assert.Contains(t, res.stderr, `unexpected argument "only1"`)
		assert.Zero(t, srv.CallCount(""), "nothing attempted")
	}
}

// TestAttack6StrayArgumentsRefusedVerify: verify refuses a positional
// argument (exit 2) before it connects, as every other command does,
// without quoting it (it may be a password typed as an argument).
func TestAttack6StrayArgumentsRefusedVerify(t *testing.T) {
	iamtest.Isolate(t)
	good := derive.PasswordV4(exampleSecret, "eu-west-1")
	smtpSrv := smtptest.NewServer(t, smtptest.Options{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Password: good})
	t.Setenv("SMTP_HOST", "")
	t.Setenv("SMTP_USERNAME", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("SMTP_PASSWORD", good)
	for _, args := range [][]string{{"stray"}, {good}, {"AKIAIOSFODNN7EXAMPLE", good}} {
		res := runCLI(t, "", append([]string{"verify", "--endpoint", smtpSrv.Addr, "--ca-file", smtpSrv.CAFile, "--region", "eu-west-1"}, args...)...)
		assert.Equal(t, exitcode.Usage, res.code, "verify with a stray argument\nstdout: %s\nstderr: %s", res.stdout, res.stderr)
		assert.Contains(t, res.stderr, "takes no arguments")
		assert.NotContains(t, res.stdout+res.stderr, good, "a password typed as an argument is not echoed")
	}
	assert.Zero(t, smtpSrv.Attempts(), "nothing attempted")
}

// TestAttack6VerifySwappedUsernameAndPassword: an operator who swaps
// SMTP_USERNAME and SMTP_PASSWORD (a common slip) must not see the
// password printed: verify's "does not look like an access key id"
// warning quotes the username, here the SMTP password.
func TestAttack6VerifySwappedUsernameAndPassword(t *testing.T) {
	iamtest.Isolate(t)
	good := derive.PasswordV4(exampleSecret, "eu-west-1")
	srv := smtptest.NewServer(t, smtptest.Options{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Password: good})
	t.Setenv("SMTP_HOST", "")
	t.Setenv("SMTP_USERNAME", good)
	t.Setenv("SMTP_PASSWORD", "AKIAIOSFODNN7EXAMPLE")
	res := runCLI(t, "", "verify", "--endpoint", srv.Addr, "--ca-file", srv.CAFile, "--region", "eu-west-1")
	assert.Equal(t, exitcode.Rejected, res.code, res.stderr)
	assert.NotContains(t, res.stdout+res.stderr, good, "no password in output")
}

// TestAttack6ListUserDeletedDuringListing: a user deleted between ListUsers
// and the calls that inspect it (NoSuchEntity, as IAM answers for a user
// that is gone) is no longer there to list; list of a busy account must
// not fail as a whole (exit 1, nothing printed) because one user went away.
func TestAttack6ListUserDeletedDuringListing(t *testing.T) {
	for _, action := range []string{"ListUserTags", "ListAccessKeys"} {
		t.Run(action, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			srv.PutUser(consoleUser("stays1"))
			srv.PutUser(consoleUser("gone2"))
			srv.Inject(iamtest.Fault{Action: action, Kind: iamtest.FailBefore, Code: "NoSuchEntity",
				Match: func(c iamtest.Call) bool { return c.UserName == "gone2" }})
			res := runCLI(t, "", "list", "--endpoint-url", e.URL, "--max-backoff", "5ms", "--output", "json")
			assert.Equal(t, 0, res.code, res.stderr)
			assert.Contains(t, res.stdout, "stays1")
			assert.NotContains(t, res.stdout, "gone2")
			assert.Contains(t, res.stderr, "gone2 was deleted while listing")
		})
	}
}

// TestAttack6RetireAllPendingUserDeletedDuringRun: --all-pending lists the
// users under the path, then reads each; one deleted in between (here a
// user with nothing pending) must not refuse every other user's retirement.
func TestAttack6RetireAllPendingUserDeletedDuringRun(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	iamClock(e, fixedNow)
	srv.PutUser(pendingUser("stays1", ""))
	srv.PutUser(consoleUser("gone2"))
	srv.Inject(iamtest.Fault{Action: "GetUser", Kind: iamtest.FailBefore, Code: "NoSuchEntity",
		Match: func(c iamtest.Call) bool { return c.UserName == "gone2" }})
	srv.Inject(iamtest.Fault{Action: "ListUserTags", Kind: iamtest.FailBefore, Code: "NoSuchEntity",
		Match: func(c iamtest.Call) bool { return c.UserName == "gone2" }})
	srv.Inject(iamtest.Fault{Action: "ListAccessKeys", Kind: iamtest.FailBefore, Code: "NoSuchEntity",
		Match: func(c iamtest.Call) bool { return c.UserName == "gone2" }})
	res := runCLI(t, "", "retire", "--endpoint-url", e.URL, "--max-backoff", "5ms", "--all-pending", "--path-prefix", "/", "--yes")
	assert.Equal(t, 0, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	u, _ := srv.User("stays1")
	assert.Equal(t, "Inactive", string(u.AccessKeys[0].Status), "stays1's old key was deactivated")
	assert.Contains(t, res.stderr, "gone2 was deleted during the run")
	assert.NotContains(t, res.stdout, "gone2")

	// --output json lists it under users_gone (docs/retire.md).
	res = runCLI(t, "", "retire", "--endpoint-url", e.URL, "--max-backoff", "5ms", "--all-pending", "--path-prefix", "/", "--dry-run", "--output", "json")
	require.Equal(t, 0, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	var out struct {
		Gone []string `json:"users_gone"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	assert.Equal(t, []string{"gone2"}, out.Gone)

	// Only --all-pending forgives a user that is gone: one named is an error.
	res = runCLI(t, "", "retire", "--endpoint-url", e.URL, "--max-backoff", "5ms", "--user", "gone2", "--yes")
	assert.Equal(t, exitcode.Usage, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	assert.Contains(t, res.stderr, `no IAM user "gone2"`)
}
