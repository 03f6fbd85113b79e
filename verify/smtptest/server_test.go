package smtptest_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// TestStartStopAtOnce starts servers and stops them before any client
// connects, the case that used to hang: go-smtp's Close closes only the
// listeners Serve has registered, so a test ending before the serve
// goroutine ran left Accept blocked forever. Each subtest ends at once, so
// its cleanup races the serve goroutine; goleak then checks that every
// serve goroutine returned.
func TestStartStopAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, implicit := range []bool{false, true} {
		for range 200 {
			t.Run("", func(t *testing.T) {
				smtptest.NewServer(t, smtptest.Options{Implicit: implicit})
			})
		}
	}
}

const (
	keyID = "AKIAIOSFODNN7EXAMPLE"
	good  = "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"
)

// dial connects a go-smtp client over STARTTLS, trusting the server's CA.
func dial(t *testing.T, s *smtptest.Server) *smtp.Client {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr)
	require.NoError(t, err)
	c, err := smtp.NewClientStartTLS(conn, &tls.Config{ServerName: "127.0.0.1", RootCAs: s.CAPool})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestStartWritesCAAndCloses(t *testing.T) {
	defer goleak.VerifyNone(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	s, err := smtptest.Start(smtptest.Options{AccessKeyID: keyID, Password: good, CAFile: caFile})
	require.NoError(t, err)
	pemBytes, err := os.ReadFile(caFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemBytes), "the CA file holds the CA")
	c := dial(t, &smtptest.Server{Addr: s.Addr, CAPool: pool})
	require.NoError(t, c.Auth(sasl.NewPlainClient("", keyID, good)), "its certificate verifies against the CA file")
	require.NoError(t, c.Close())
	require.NoError(t, s.Close())
}

func TestRepliesAsSES(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	s := smtptest.NewServer(t, smtptest.Options{AccessKeyID: keyID, Password: good,
		Log: func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() }})

	// AUTH on a plain connection: 530, as SES answers before STARTTLS.
	conn, err := net.Dial("tcp", s.Addr)
	require.NoError(t, err)
	plain := smtp.NewClient(conn)
	err = plain.Auth(sasl.NewPlainClient("", keyID, good))
	assert.Equal(t, 530, code(err), "%v", err)
	assert.ErrorContains(t, err, "Must issue a STARTTLS command first")
	require.NoError(t, plain.Close())

	c := dial(t, s)
	assert.Equal(t, 530, code(c.Mail("a@example.com", nil)), "MAIL before AUTH: 530 Authentication required")
	err = c.Auth(sasl.NewPlainClient("", keyID, "wrong"))
	assert.Equal(t, 535, code(err))
	assert.ErrorContains(t, err, "Authentication Credentials Invalid")
	require.NoError(t, c.Close())

	c = dial(t, s)
	require.NoError(t, c.Auth(sasl.NewLoginClient(keyID, good)))
	err = c.Mail("a@example.com", nil)
	assert.Equal(t, 554, code(err), "MAIL after AUTH: 554 Access denied, no mail is ever sent")
	require.NoError(t, c.Close())
	require.NoError(t, s.Close())

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, lines, 3, "one line per connection")
	// A line is written when the server sees its connection close, so two
	// connections closed one after the other may log in either order.
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, "no TLS, AUTH PLAIN: 530 Must issue a STARTTLS command first")
	assert.Contains(t, all, "AUTH PLAIN "+keyID+": 535 Authentication Credentials Invalid")
	assert.Contains(t, all, "TLS 1.3, AUTH LOGIN "+keyID+": 235 accepted, 1 MAIL refused")
	for _, l := range lines {
		assert.NotContains(t, l, good, "never a password in the log")
		assert.NotContains(t, l, "wrong")
	}
}

func TestScript(t *testing.T) {
	s := smtptest.NewServer(t, smtptest.Options{AccessKeyID: keyID, Password: good,
		Script: []*smtp.SMTPError{smtptest.ReplyTemporaryAuthFailure, smtptest.ReplyTemporaryAuthFailure}})
	for i, want := range []int{454, 454, 0, 535} {
		pw := good
		if i == 3 {
			pw = "wrong"
		}
		c := dial(t, s)
		assert.Equal(t, want, code(c.Auth(sasl.NewPlainClient("", keyID, pw))), "attempt %d", i+1)
		_ = c.Close()
	}
	assert.Equal(t, 4, s.Attempts())
	assert.Equal(t, 1, s.Accepted())
}

func TestIAMCheck(t *testing.T) {
	e := iamtest.Start(t)
	e.Local(t, "its SMTP AUTH check, which only iam-local serves")
	ctx := t.Context()
	client := e.Client()
	_, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("smtp")})
	require.NoError(t, err)
	out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("smtp")})
	require.NoError(t, err)
	id, secret := aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)
	pw := derive.PasswordV4(secret, "eu-west-1")

	check := smtptest.IAMCheck{URL: e.URL, Region: "eu-west-1"}
	assert.NoError(t, check.Check(ctx, id, pw))
	assert.Equal(t, 535, code(check.Check(ctx, id, derive.PasswordV4(secret, "us-east-1"))))
	assert.ErrorContains(t, check.Check(ctx, id, derive.PasswordV2(secret)), "Signature Version 2 is deprecated")

	check.MinKeyAge = time.Hour
	assert.Equal(t, 535, code(check.Check(ctx, id, pw)), "a key younger than the propagation delay is rejected")
	check.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	assert.NoError(t, check.Check(ctx, id, pw), "and accepted once it is old enough")

	// Through the server: an IAM endpoint that cannot be asked is SES's 454.
	s := smtptest.NewServer(t, smtptest.Options{Check: smtptest.IAMCheck{URL: "http://127.0.0.1:1", Region: "eu-west-1"}.Check})
	c := dial(t, s)
	assert.Equal(t, 454, code(c.Auth(sasl.NewPlainClient("", id, pw))))
}
