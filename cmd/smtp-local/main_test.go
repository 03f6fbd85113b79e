package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// syncBuffer is a bytes.Buffer safe for the server's log goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// local is an smtp-local running in-process.
type local struct {
	*smtptest.Server
	stdout, stderr *syncBuffer
	stop           func() // stops it and waits; every connection's line is logged by then
}

// start runs smtp-local with args until stop or the end of the test.
func start(t *testing.T, args ...string) local {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan *smtptest.Server, 1)
	done := make(chan error, 1)
	l := local{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	go func() { done <- run(ctx, args, l.stdout, l.stderr, func(s *smtptest.Server) { ready <- s }) }()
	var once sync.Once
	l.stop = func() { once.Do(func() { cancel(); assert.NoError(t, <-done) }) }
	t.Cleanup(l.stop)
	select {
	case l.Server = <-ready:
		return l
	case err := <-done:
		t.Fatalf("smtp-local stopped: %v", err)
	case <-time.After(30 * time.Second): // a guard against a hang, not a synchronisation
		t.Fatal("smtp-local did not start")
	}
	return l
}

func TestSMTPLocalAcceptsKeysIAMLocalIssued(t *testing.T) {
	e := iamtest.Start(t)
	e.Local(t, "its SMTP AUTH check, which only iam-local serves")
	ctx := t.Context()
	c := e.Client()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("app")})
	require.NoError(t, err)
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("app")})
	require.NoError(t, err)
	id, secret := aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)

	dir := t.TempDir()
	caFile, addrFile, urlFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "smtp.addr"), filepath.Join(dir, "smtp.url")
	srv := start(t, "--port", "0", "--iam-endpoint", e.URL, "--region", "eu-west-1",
		"--ca-file-out", caFile, "--addr-file", addrFile, "--url-file", urlFile)
	addr, err := os.ReadFile(addrFile)
	require.NoError(t, err)
	assert.Equal(t, srv.Addr+"\n", string(addr))
	url, err := os.ReadFile(urlFile)
	require.NoError(t, err)
	assert.Equal(t, "smtp://"+srv.Addr+"\n", string(url))
	assert.Contains(t, srv.stdout.String(), "serving SMTP (starttls) on "+srv.Addr)

	target := verify.Target{Host: srv.Host, Port: srv.Port, Mode: verify.STARTTLS}
	pw := derive.PasswordV4(secret, "eu-west-1")
	_, err = verify.Check(ctx, verify.Input{Username: id, Password: credfile.Secret(pw), Target: target, RootCAs: srv.CAPool})
	require.NoError(t, err)
	_, err = verify.Check(ctx, verify.Input{Username: id, Password: credfile.Secret(derive.PasswordV4(secret, "us-east-1")),
		Region: "us-east-1", Target: target, RootCAs: srv.CAPool})
	assert.Equal(t, exitcode.Rejected, exitcode.Of(err), "another region's password")

	srv.stop()
	log := srv.stderr.String()
	assert.Equal(t, 2, strings.Count(log, "\n"), "one line per connection")
	assert.Contains(t, log, "AUTH PLAIN "+id+": 235 accepted")
	assert.Contains(t, log, "AUTH PLAIN "+id+": 535 Authentication Credentials Invalid")
	assert.NotContains(t, log, pw, "never a password in the log")
}

func TestSMTPLocalPropagationDelayAndImplicitTLS(t *testing.T) {
	e := iamtest.Start(t)
	e.Local(t, "its SMTP AUTH check, which only iam-local serves")
	ctx := t.Context()
	c := e.Client()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("app")})
	require.NoError(t, err)
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("app")})
	require.NoError(t, err)
	srv := start(t, "--port", "0", "--tls", "implicit", "--iam-endpoint", e.URL, "--region", "eu-west-1",
		"--ca-file-out", filepath.Join(t.TempDir(), "ca.pem"), "--propagation-delay", "1h")
	_, err = verify.Check(ctx, verify.Input{Username: aws.ToString(out.AccessKey.AccessKeyId),
		Password: credfile.Secret(derive.PasswordV4(aws.ToString(out.AccessKey.SecretAccessKey), "eu-west-1")),
		Target:   verify.Target{Host: srv.Host, Port: srv.Port, Mode: verify.Implicit}, RootCAs: srv.CAPool})
	assert.Equal(t, exitcode.Rejected, exitcode.Of(err), "a key younger than the delay is rejected, as SES does")
}

func TestSMTPLocalFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--region", "eu-west-1"}, "--iam-endpoint is required"},
		{[]string{"--iam-endpoint", "http://127.0.0.1:1"}, "--region is required"},
		{[]string{"--iam-endpoint", "http://127.0.0.1:1", "--region", "eu-west-1", "--tls", "ssl"}, "--tls must be starttls or implicit"},
		{[]string{"--iam-endpoint", "http://127.0.0.1:1", "--region", "nowhere"}, "not an AWS region name"},
	} {
		err := run(t.Context(), tt.args, &bytes.Buffer{}, &bytes.Buffer{}, nil)
		assert.ErrorContains(t, err, tt.want)
	}
}
