package cli

import (
	"regexp"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// Helpers for tests that also run against an external IAM endpoint
// (SESMTP_TEST_IAM_ENDPOINT): there, state is read through IAM's own calls
// (iamtest.State), which never show the secret of a key sesmtp made.

// passwordRE matches key's SMTP password for region: exactly where the
// test knows the key's secret, by its shape (base64 of a version byte and
// an HMAC-SHA256: 33 bytes, 44 characters) where it does not.
func passwordRE(key iamtest.AccessKey, region string) string {
	if key.SecretAccessKey == "" {
		return `[A-Za-z0-9+/]{44}`
	}
	return regexp.QuoteMeta(derive.PasswordV4(key.SecretAccessKey, region))
}

// stateView is what snapshot reads: the local server or an iamtest.State.
type stateView interface {
	Users() []iamtest.User
	Groups() []string
}
