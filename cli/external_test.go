package cli

import (
	"errors"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
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

// policyPutter makes managed policies: the local server or an iamtest.State.
type policyPutter interface {
	PutPolicy(path, name, document string) string
}

// stateView is what snapshot reads: the local server or an iamtest.State.
type stateView interface {
	Users() []iamtest.User
	Groups() []string
}

// TestExternalEndpointLackingACall runs delete and rotate --strategy
// recreate against the external endpoint as a team rehearsing sesmtp on
// its emulator would. Where the endpoint lacks ListServiceSpecificCredentials
// (moto answers it HTTP 500 with an HTML page), each run warns once, naming
// the call, and completes; where it has it, no run warns. Locally,
// TestListingTheEndpointLacksIsSkipped covers every way of lacking it.
func TestExternalEndpointLackingACall(t *testing.T) {
	e := iamtest.Start(t)
	if e.Server != nil {
		t.Skipf("runs against an external IAM endpoint only (%s)", iamtest.ExternalEndpointEnv)
	}
	_, err := e.Client().ListServiceSpecificCredentials(t.Context(), &iam.ListServiceSpecificCredentialsInput{})
	warnings := 0
	if err != nil {
		warnings = 1
		t.Logf("the endpoint lacks ListServiceSpecificCredentials: %v", err)
	}
	warning := regexp.MustCompile(`(?m)^warning: the IAM endpoint does not implement iam:ListServiceSpecificCredentials \(it answered [^)]+\); sesmtp skipped it`)
	st := e.State(t)
	name := e.Name("target")
	for _, args := range [][]string{
		{"rotate", "--user", name, "--yes", "--region", "eu-west-1", "--out", filepath.Join(t.TempDir(), "t.csv")},
		{"delete", "--user", name, "--yes"},
	} {
		if args[0] == "rotate" {
			st.PutUser(consoleUser(name))
		}
		res := runCLI(t, "", append(args, "--endpoint-url", e.URL)...)
		require.Equal(t, exitcode.OK, res.code, "%s: %s", args[0], res.stderr)
		assert.Len(t, warning.FindAllString(res.stderr, -1), warnings, "%s: %s", args[0], res.stderr)
	}
	_, exists := st.User(name)
	assert.False(t, exists, "delete removed the user")
}

// needsSimulation skips the test where the endpoint does not implement
// iam:SimulatePrincipalPolicy (moto 5.2 answers it HTTP 500 with an HTML
// page, which is no IAM error): it asks about a user that does not exist,
// which IAM answers NoSuchEntity.
func needsSimulation(t *testing.T, e *iamtest.Endpoint) {
	t.Helper()
	if e.Server != nil {
		return
	}
	_, err := e.Client().SimulatePrincipalPolicy(t.Context(), &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::123456789012:user/" + e.Name("nobody")), ActionNames: []string{"ses:SendRawEmail"}})
	var apiErr smithy.APIError
	if err != nil && !errors.As(err, &apiErr) {
		t.Skipf("needs iam:SimulatePrincipalPolicy, which the external IAM endpoint does not implement (%v)", err)
	}
}

// assertCalls checks that the local endpoint logged n calls of action
// ("" for any); an external endpoint keeps no call log, so there it
// checks nothing.
func assertCalls(t *testing.T, e *iamtest.Endpoint, action string, n int, msgAndArgs ...any) {
	t.Helper()
	if e.Server != nil {
		assert.Equal(t, n, e.Server.CallCount(action), msgAndArgs...)
	}
}
