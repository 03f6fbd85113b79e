package credfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func oneRegion() Credentials {
	c := testCreds()
	c.UserName = "Billing_Mailer@example.com"
	c.Passwords = c.Passwords[:1]
	return c
}

func TestK8sSecretOneRegionGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, K8sSecret, oneRegion(), Options{}))
	golden := filepath.Join("testdata", "k8s-secret-one-region.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), buf.String())

	// A YAML parser reads the manifest as Kubernetes will: every value a string.
	assert.YAMLEq(t, `
apiVersion: v1
kind: Secret
metadata:
  name: billing-mailer-example.com-1d803a
  labels: {app.kubernetes.io/managed-by: sesmtp}
type: Opaque
stringData:
  username: AKIAIOSFODNN7EXAMPLE
  password: BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9
  host: email-smtp.us-east-1.amazonaws.com
  port: "587"
  region: us-east-1
  iam_user: Billing_Mailer@example.com
  access_key_id: AKIAIOSFODNN7EXAMPLE
`, buf.String())
}

var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func TestK8sSecretNameLong(t *testing.T) {
	got := K8sSecretName(strings.Repeat("a.", 130))
	assert.Regexp(t, dns1123Subdomain, got)
	assert.LessOrEqual(t, len(got), MaxK8sNameLen)
	assert.NotEqual(t, got, K8sSecretName(strings.Repeat("a.", 131)), "truncated names still differ by their hash")
}

func TestK8sSecretName(t *testing.T) {
	// A name changed by more than case carries a hash of the exact IAM name
	// (sha256, six hex digits), so distinct users never share one Secret.
	for in, want := range map[string]string{
		"ses-smtp-user.20261128-120000": "ses-smtp-user.20261128-120000",
		"Billing-Mailer":                "billing-mailer",
		"Billing_Mailer":                "billing-mailer%s",
		"a+b=c,d@e":                     "a-b-c-d-e%s",
		"a..b":                          "a.b%s",
		"-x-.-y_":                       "x.y%s",
		"@@":                            "ses-smtp-credentials%s",
		".":                             "ses-smtp-credentials%s",
	} {
		if strings.Contains(want, "%s") {
			sum := sha256.Sum256([]byte(in))
			want = fmt.Sprintf(want, "-"+hex.EncodeToString(sum[:3]))
		}
		got := K8sSecretName(in)
		assert.Equal(t, want, got, in)
		assert.Regexp(t, dns1123Subdomain, got)
		assert.LessOrEqual(t, len(got), MaxK8sNameLen)
	}
}

func TestReadK8sSecret(t *testing.T) {
	// As `kubectl get secret -o yaml` prints it: base64 data, keys sorted.
	kubectl := `apiVersion: v1
data:
  host: ZW1haWwtc210cC5ldS13ZXN0LTEuYW1hem9uYXdzLmNvbQ==
  password: cCthc3M=
  port: NTg3
  username: QUtJQUlPU0ZPRE5ON0VYQU1QTEU=
kind: Secret
metadata:
  name: app
  namespace: mail
type: Opaque
`
	entries, err := Read(strings.NewReader(kubectl))
	require.NoError(t, err)
	assert.Equal(t, []Entry{{Username: "AKIAIOSFODNN7EXAMPLE", Password: "p+ass", Host: "email-smtp.eu-west-1.amazonaws.com",
		Region: "eu-west-1", Port: 587}}, entries)

	entries, err = Read(strings.NewReader("apiVersion: v1\nkind: Secret\nstringData:\n  username: AKIA\n  password: 'it''s'\n"))
	require.NoError(t, err)
	assert.Equal(t, "it's", entries[0].Password.Reveal())

	secret := "BLBM/9hSUELfq8Gw+rU1"
	for _, in := range []string{
		"apiVersion: v1\nkind: Secret\nstringData:\n  username: AKIA\n  password: \"" + secret + "\n",
		"apiVersion: v1\nkind: Secret\ndata:\n  username: QUtJQQ==\n  password: " + secret + "!\n",
	} {
		_, err := Read(strings.NewReader(in))
		require.ErrorContains(t, err, "credentials line 5")
		assert.NotContains(t, err.Error(), secret, "errors never quote the file")
	}
	_, err = Read(strings.NewReader("apiVersion: v1\nkind: Secret\nstringData:\n  username: AKIA\n"))
	assert.ErrorContains(t, err, "no SMTP username or password")
}
