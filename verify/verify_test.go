package verify_test

import (
	"net"
	"testing"
	"time"

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
			wantCause: "[this one is 43 characters]"},
		{name: "no STARTTLS", opts: smtptest.Options{NoTLS: true}, username: keyID, password: good, wantCode: exitcode.Failed,
			wantErr: "does not offer STARTTLS; sesmtp never sends credentials unencrypted"},
		{name: "untrusted certificate", noCA: true, username: keyID, password: good, wantCode: exitcode.Failed,
			wantErr: "certificate is not trusted"},
		{name: "plain text to implicit TLS port", opts: smtptest.Options{Implicit: true}, mode: verify.STARTTLS, username: keyID, password: good,
			wantCode: exitcode.Failed},
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
			if tt.opts.Implicit && mode == verify.STARTTLS {
				in.Timeout = 300 * time.Millisecond // both sides wait for the other to speak first
			}
			res, err := verify.Check(t.Context(), in)
			assert.Equal(t, tt.wantCode, exitcode.Of(err), "%v", err)
			if err != nil {
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), tt.wantCause)
				assert.NotContains(t, err.Error(), tt.password, "no secret in messages")
			} else {
				assert.Equal(t, tt.wantMech, res.Mechanism)
				assert.NotEmpty(t, res.TLS)
			}
			assert.Zero(t, srv.Mails(), "verify never sends MAIL")
		})
	}
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
	assert.Equal(t, "email-smtp.eu-west-1.amazonaws.com:587", verify.TargetFor("eu-west-1").String())
	assert.Equal(t, verify.Implicit, verify.ModeForPort(465))
	assert.Equal(t, verify.Implicit, verify.ModeForPort(2465))
	assert.Equal(t, verify.STARTTLS, verify.ModeForPort(2587))
	assert.True(t, verify.LooksLikeAccessKeyID(keyID))
	assert.False(t, verify.LooksLikeAccessKeyID("ses-smtp-user"))
}
