package verify_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/verify"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	keyID  = "AKIAIOSFODNN7EXAMPLE"
	secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	region = "eu-west-1"
)

func TestCheck(t *testing.T) {
	good := derive.PasswordV4(secret, region)
	tests := []struct {
		name      string
		opts      smtptest.Options
		username  string
		password  string
		mode      verify.Mode
		noCA      bool
		wantCode  int
		wantErr   string
		wantMech  string
		wantCause string
	}{
		{name: "accepted", username: keyID, password: good, wantMech: "PLAIN"},
		{name: "accepted with LOGIN", opts: smtptest.Options{LoginOnly: true}, username: keyID, password: good, wantMech: "LOGIN"},
		{name: "implicit TLS", opts: smtptest.Options{Implicit: true}, mode: verify.Implicit, username: keyID, password: good, wantMech: "PLAIN"},
		{name: "wrong region", username: keyID, password: derive.PasswordV4(secret, "us-east-1"), wantCode: exitcode.Rejected,
			wantErr: "535 Authentication Credentials Invalid", wantCause: "derived for another region than this endpoint's (eu-west-1)"},
		{name: "v2 password", username: keyID, password: derive.PasswordV2(secret), wantCode: exitcode.Rejected,
			wantCause: "legacy version 2 password"},
		{name: "IAM user name as username", username: "ses-smtp-user.20261128-120000", password: good, wantCode: exitcode.Rejected,
			wantCause: "not an access key id (AKIA...)"},
		{name: "mangled password", username: keyID, password: good[:len(good)-1], wantCode: exitcode.Rejected,
			wantCause: "[SMTP passwords are 44 characters; this one is 43]"},
		{name: "plus turned into a space", username: keyID, password: good[:10] + " " + good[11:], wantCode: exitcode.Rejected,
			wantCause: "a + turned into a space by URL or form decoding?"},
		{name: "policy is not a cause", username: keyID, password: derive.PasswordV4(secret, "us-east-1"), wantCode: exitcode.Rejected,
			wantCause: "Not a cause: the IAM policy. SES checks ses:SendRawEmail only when mail is sent (554 Access denied), never at AUTH; 'sesmtp verify --check-permission' asks IAM"},
		{name: "v2 deprecated is final", opts: smtptest.Options{Script: []*smtp.SMTPError{smtptest.ReplySigV2}}, username: keyID, password: good,
			wantCode: exitcode.Rejected, wantErr: "535 Signature Version 2 is deprecated", wantCause: "waiting does not help"},
		{name: "not subscribed is final", opts: smtptest.Options{Script: []*smtp.SMTPError{smtptest.ReplyNotSubscribed}}, username: keyID, password: good,
			wantCode: exitcode.Rejected, wantErr: "535 Account not subscribed to SES", wantCause: "has not signed up for SES"},
		{name: "temporary keys refused before connecting", username: "ASIAIOSFODNN7EXAMPLE", password: good, wantCode: exitcode.Usage,
			wantErr: "temporary credentials"},
		{name: "no STARTTLS", opts: smtptest.Options{NoTLS: true}, username: keyID, password: good, wantCode: exitcode.Failed,
			wantErr: "does not offer STARTTLS; sesmtp never sends credentials unencrypted"},
		{name: "untrusted certificate", noCA: true, username: keyID, password: good, wantCode: exitcode.Failed,
			wantErr: "certificate is not trusted"},
		{name: "plain text to implicit TLS port", opts: smtptest.Options{Implicit: true}, mode: verify.STARTTLS, username: keyID, password: good,
			wantCode: exitcode.Failed, wantErr: "pass --tls implicit"},
		{name: "TLS to a STARTTLS port", mode: verify.Implicit, username: keyID, password: good,
			wantCode: exitcode.Failed, wantErr: "answered in plain text, not TLS; on STARTTLS ports (587, 25, 2587) pass --tls starttls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.AccessKeyID, tt.opts.Password = keyID, good
			srv := smtptest.NewServer(t, tt.opts)
			mode := tt.mode
			if mode == "" {
				mode = verify.STARTTLS
			}
			in := verify.Input{Username: tt.username, Password: credfile.Secret(tt.password), Region: region,
				Target: verify.Target{Host: srv.Host, Port: srv.Port, Mode: mode}, RootCAs: srv.CAPool, Timeout: 5 * time.Second}
			if tt.noCA {
				in.RootCAs = nil
			}
			if len(tt.opts.Script) > 0 {
				in.Wait, in.RetryInterval = time.Minute, time.Millisecond // final answers end the wait at once
			}
			if tt.opts.Implicit && mode == verify.STARTTLS {
				in.Timeout = 300 * time.Millisecond // both sides wait for the other to speak first
			}
			res, err := verify.Check(t.Context(), in)
			assert.Equal(t, tt.wantCode, exitcode.Of(err), "%v", err)
			if err != nil {
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), tt.wantCause)
				assert.NotContains(t, err.Error(), tt.password, "no secret in messages")
				assert.NotContains(t, err.Error(), "lacks ses:SendRawEmail", "AUTH never checks the policy")
			} else {
				assert.Equal(t, tt.wantMech, res.Mechanism)
				assert.NotEmpty(t, res.TLS)
			}
			assert.Zero(t, srv.Mails(), "verify never sends MAIL")
			if len(tt.opts.Script) > 0 {
				assert.Equal(t, 1, srv.Attempts(), "a final answer is not retried")
			}
			if strings.HasPrefix(tt.username, "ASIA") {
				assert.Zero(t, srv.Attempts(), "refused before connecting")
			}
		})
	}
}

func TestCheckRetriesTemporaryAnswers(t *testing.T) {
	good := derive.PasswordV4(secret, region)
	script := []*smtp.SMTPError{smtptest.ReplyTemporaryAuthFailure, smtptest.ReplyTooManyConnections, smtptest.ReplyTemporaryServiceFailure, smtptest.ReplyThrottled}
	srv := smtptest.NewServer(t, smtptest.Options{AccessKeyID: keyID, Password: good, Script: script})
	var progress []string
	in := verify.Input{Username: keyID, Password: credfile.Secret(good), Target: verify.Target{Host: srv.Host, Port: srv.Port, Mode: verify.STARTTLS},
		RootCAs: srv.CAPool, Wait: time.Minute, RetryInterval: time.Millisecond, Progress: func(s string) { progress = append(progress, s) }}
	res, err := verify.Check(t.Context(), in)
	require.NoError(t, err)
	assert.Equal(t, 5, res.Attempts)
	require.Len(t, progress, 4)
	assert.Contains(t, progress[0], "attempt 1: 454 Temporary authentication failure (temporary; SES says to retry 4xx answers)")
	assert.Contains(t, progress[1], "attempt 2: 421 Too many concurrent SMTP connections")
	assert.Contains(t, progress[2], "attempt 3: 451 Temporary service failure")

	// Without a wait, a temporary answer is a failure (exit 1), not a rejection.
	srv = smtptest.NewServer(t, smtptest.Options{AccessKeyID: keyID, Password: good, Script: script[:1]})
	in.Target.Port, in.RootCAs, in.Wait, in.WaitFlag = srv.Port, srv.CAPool, 0, "verify-wait"
	_, err = verify.Check(t.Context(), in)
	var temp *verify.TemporaryError
	require.ErrorAs(t, err, &temp)
	assert.Equal(t, exitcode.Failed, exitcode.Of(err))
	assert.Contains(t, err.Error(), "answered 454 Temporary authentication failure at AUTH")
	assert.Contains(t, err.Error(), "with a longer --verify-wait")
}

// TestCheckWaitsTheTimeAsked: retries go on until the deadline, the last
// pause shortened to end there, instead of stopping when the next full
// pause would pass it (which gave up on a 5s wait after 2.9s).
func TestCheckWaitsTheTimeAsked(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{AccessKeyID: keyID, Password: "other"})
	wait := 500 * time.Millisecond
	in := verify.Input{Username: keyID, Password: credfile.Secret(derive.PasswordV4(secret, region)),
		Target: verify.Target{Host: srv.Host, Port: srv.Port, Mode: verify.STARTTLS}, RootCAs: srv.CAPool,
		Wait: wait, RetryInterval: 200 * time.Millisecond}
	start := time.Now()
	res, err := verify.Check(t.Context(), in)
	elapsed := time.Since(start)
	assert.Equal(t, exitcode.Rejected, exitcode.Of(err))
	assert.GreaterOrEqual(t, elapsed, wait, "gave up before the wait was over")
	assert.Less(t, elapsed, wait+5*time.Second)
	assert.GreaterOrEqual(t, res.Attempts, 3)
	assert.Contains(t, err.Error(), "retried for 500ms; a longer --wait may help")
}

func TestPasswordProblem(t *testing.T) {
	good := derive.PasswordV4(secret, region)
	tests := []struct{ pw, want string }{
		{good, ""},
		{good[:10] + " " + good[11:], "a space at character 11"},
		{good[:10] + "%2B" + good[11:], "still percent-encoded"},
		{good[:40] + "\u201d", "outside base64"},
		{good + "=", "this one is 45"},
	}
	for _, tt := range tests {
		got := verify.PasswordProblem(tt.pw)
		if tt.want == "" {
			assert.Empty(t, got)
			continue
		}
		assert.Contains(t, got, tt.want)
		assert.NotContains(t, got, tt.pw)
	}
}

// stubResolver answers from a map; a missing host does not exist.
type stubResolver map[string]error

func (r stubResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	if err, ok := r[host]; ok {
		return nil, err
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestCheckResolves(t *testing.T) {
	r := stubResolver{"email-smtp.eu-west-1.amazonaws.com": nil,
		"email-smtp.us-east-1.amazonaws.com": &net.DNSError{Err: "i/o timeout", IsTimeout: true}}
	assert.NoError(t, verify.CheckResolves(t.Context(), r, "email-smtp.eu-west-1.amazonaws.com"))
	assert.NoError(t, verify.CheckResolves(t.Context(), r, "email-smtp.us-east-1.amazonaws.com"), "no answer is not a verdict")
	err := verify.CheckResolves(t.Context(), r, "email-smtp.af-south-1.amazonaws.com")
	var unresolved *verify.UnresolvedError
	require.ErrorAs(t, err, &unresolved)
	assert.Contains(t, err.Error(), "email-smtp.af-south-1.amazonaws.com does not resolve")
}

func TestCheckWaitsForPropagation(t *testing.T) {
	good := derive.PasswordV4(secret, region)
	srv := smtptest.NewServer(t, smtptest.Options{AccessKeyID: keyID, Password: good, RejectFirst: 3})
	var progress []string
	in := verify.Input{Username: keyID, Password: credfile.Secret(good), Target: verify.Target{Host: srv.Host, Port: srv.Port, Mode: verify.STARTTLS},
		RootCAs: srv.CAPool, Wait: time.Minute, RetryInterval: time.Millisecond, Progress: func(s string) { progress = append(progress, s) }}
	res, err := verify.Check(t.Context(), in)
	require.NoError(t, err)
	assert.Equal(t, 4, res.Attempts)
	assert.Equal(t, 4, srv.Attempts())
	require.Len(t, progress, 3)
	assert.Contains(t, progress[0], "attempt 1: 535 rejected")

	// Without --wait the first rejection is the answer.
	srv = smtptest.NewServer(t, smtptest.Options{AccessKeyID: keyID, Password: good, RejectFirst: 1})
	in.Target.Port, in.RootCAs, in.Wait = srv.Port, srv.CAPool, 0
	_, err = verify.Check(t.Context(), in)
	assert.Equal(t, exitcode.Rejected, exitcode.Of(err))
	assert.Equal(t, 1, srv.Attempts())
}

func TestCheckConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().(*net.TCPAddr)
	require.NoError(t, ln.Close())
	_, err = verify.Check(t.Context(), verify.Input{Username: keyID, Password: "x",
		Target: verify.Target{Host: "127.0.0.1", Port: addr.Port, Mode: verify.STARTTLS}, Wait: time.Minute})
	require.Error(t, err)
	assert.Equal(t, exitcode.Failed, exitcode.Of(err), "connection errors are not retried as rejections")
	assert.Contains(t, err.Error(), "connection refused")
}

func TestTargetFor(t *testing.T) {
	assert.Equal(t, "email-smtp.eu-west-1.amazonaws.com:587", verify.TargetFor("eu-west-1", false).String())
	assert.Equal(t, "email-smtp-fips.us-gov-west-1.amazonaws.com:587", verify.TargetFor("us-gov-west-1", true).String())
	assert.Equal(t, verify.Implicit, verify.ModeForPort(465))
	assert.Equal(t, verify.Implicit, verify.ModeForPort(2465))
	assert.Equal(t, verify.STARTTLS, verify.ModeForPort(2587))
	assert.True(t, verify.LooksLikeAccessKeyID(keyID))
	assert.False(t, verify.LooksLikeAccessKeyID("ses-smtp-user"))
}
