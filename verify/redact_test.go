package verify_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/verify"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// TestCheckRedactsSecretsServersEcho: a server reply quoting the password,
// or the base64 AUTH PLAIN and LOGIN sent it in, or a username that may
// be a password (the two swapped), reaches no error and no progress line.
func TestCheckRedactsSecretsServersEcho(t *testing.T) {
	good := derive.PasswordV4(secret, region)
	b64 := base64.StdEncoding.EncodeToString
	echoes := map[string]func(user, pw string) string{
		"password":              func(_, pw string) string { return "bad password " + pw },
		"base64 password":       func(_, pw string) string { return "got " + b64([]byte(pw)) },
		"unpadded base64":       func(_, pw string) string { return "got " + strings.TrimRight(b64([]byte(pw)), "=") },
		"PLAIN blob":            func(user, pw string) string { return "AUTH PLAIN " + b64([]byte("\x00"+user+"\x00"+pw)) },
		"username and password": func(user, pw string) string { return "bad credentials " + user + " / " + pw },
	}
	for _, swapped := range []bool{false, true} {
		for name, echo := range echoes {
			for _, code := range []int{535, 454, 550, 530} {
				t.Run(fmt.Sprintf("%s/%d/swapped=%v", name, code, swapped), func(t *testing.T) {
					user, pw := keyID, good
					if swapped {
						user, pw = good, keyID
					}
					srv := smtptest.NewServer(t, smtptest.Options{Check: func(_ context.Context, u, p string) error {
						return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 7, 8}, Message: echo(u, p)}
					}})
					var progress []string
					_, err := verify.Check(t.Context(), verify.Input{Username: user, Password: credfile.Secret(pw),
						Target: verify.Target{Host: srv.Host, Port: srv.Port, Mode: verify.STARTTLS}, RootCAs: srv.CAPool,
						Wait: 30 * time.Millisecond, RetryInterval: 10 * time.Millisecond, Progress: func(s string) { progress = append(progress, s) }})
					require.Error(t, err)
					text := err.Error() + strings.Join(progress, "\n")
					assert.NotContains(t, text, good)
					assert.NotContains(t, text, strings.TrimRight(b64([]byte(good)), "="))
					assert.Contains(t, text, "[redacted]")
				})
			}
		}
	}
}

func TestDescribeUsername(t *testing.T) {
	good := derive.PasswordV4(secret, region)
	tests := []struct{ username, want string }{
		{keyID, keyID},
		{good, "44 characters, shaped like an SMTP password: are the username and password swapped?"},
		{"billing-mailer", "14 characters, not an access key id"},
	}
	for _, tt := range tests {
		got := verify.DescribeUsername(tt.username)
		assert.Contains(t, got, tt.want)
		if tt.username != keyID {
			assert.NotContains(t, got, tt.username)
		}
	}
}
