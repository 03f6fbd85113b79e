package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
)

func TestParseTarget(t *testing.T) {
	deep := strings.Repeat("/l", 14)
	tests := []struct {
		spec    string
		want    Target
		wantErr string
	}{
		{spec: "secretsmanager:prod/mail/smtp", want: Target{SecretsManager, "prod/mail/smtp"}},
		{spec: "SecretsManager:a+b=c.d@e_f-g", want: Target{SecretsManager, "a+b=c.d@e_f-g"}},
		{spec: "ssm:/mail/smtp", want: Target{SSMParameter, "/mail/smtp"}},
		{spec: "ssm:smtp-credentials", want: Target{SSMParameter, "smtp-credentials"}},
		{spec: "ssm:/mediawiki/smtp/", want: Target{SSMPath, "/mediawiki/smtp/"}},
		{spec: "ssm:" + deep + "/name", want: Target{SSMParameter, deep + "/name"}},

		{spec: "", wantErr: "not a store spec"},
		{spec: "secretsmanager:", wantErr: "not a store spec"},
		{spec: "vault:secret/smtp", wantErr: `unknown store "vault"`},
		{spec: "secretsmanager:mail smtp", wantErr: "may hold only ASCII letters"},
		{spec: "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf", wantErr: "a secret ARN is not a name"},
		{spec: "secretsmanager:" + strings.Repeat("a", 513), wantErr: "at most 512"},
		{spec: "secretsmanager:billing-mailer", wantErr: "a hyphen and six characters"},
		{spec: "secretsmanager:billing-mailer/smtp", want: Target{SecretsManager, "billing-mailer/smtp"}},
		{spec: "ssm:mail/smtp", wantErr: "must start with /"},
		{spec: "ssm:/mail//smtp", wantErr: "no empty level"},
		{spec: "ssm:/mail/smtp password", wantErr: "only letters, digits"},
		{spec: "ssm:/aws/smtp", wantErr: `begin with "aws" or "ssm"`},
		{spec: "ssm:/SSM/smtp", wantErr: `begin with "aws" or "ssm"`},
		{spec: "ssm:awsmail", wantErr: `begin with "aws" or "ssm"`},
		{spec: "ssm:" + deep + "/a/name", wantErr: "16 levels; SSM allows at most 15"},
		{spec: "ssm:" + deep + "/", want: Target{SSMPath, deep + "/"}},
		{spec: "ssm:" + deep + "/m/", wantErr: "16 levels"},
		{spec: "ssm:/", wantErr: "name at least one level"},
		{spec: "ssm:/" + strings.Repeat("a", 1000), wantErr: "characters; SSM allows about 954"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseTarget(tt.spec)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, exitcode.Usage, exitcode.Of(err), "bad input is exit 2")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := ParseTarget(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again, "String gives the spec back")
		})
	}
}

func TestParameterNames(t *testing.T) {
	path := Target{SSMPath, "/app/smtp/"}
	assert.Equal(t, []string{"/app/smtp/password", "/app/smtp/host", "/app/smtp/port", "/app/smtp/username"}, path.ParameterNames(false),
		"the user name is written last")
	assert.Equal(t, []string{"/app/smtp/password", "/app/smtp/host", "/app/smtp/port", "/app/smtp/secret_access_key", "/app/smtp/username"}, path.ParameterNames(true))
	assert.Equal(t, []string{"/app/smtp"}, Target{SSMParameter, "/app/smtp"}.ParameterNames(true))
	assert.Nil(t, Target{SecretsManager, "x"}.ParameterNames(true))
}

func TestCheckIAMUser(t *testing.T) {
	assert.NoError(t, CheckIAMUser("ses-smtp-user.20261128-120000"))
	assert.NoError(t, CheckIAMUser("a+b=c@d_e"))
	assert.ErrorContains(t, CheckIAMUser("a,b"), "may not hold a comma")
	assert.Error(t, CheckIAMUser(""))
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"secretsmanager:a/b", "ssm:/a/b", "ssm:/a/", "ssm:x", "ssm:/aws/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		tg, err := ParseTarget(spec)
		if err != nil {
			if exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("%q: error %v is not a usage error", spec, err)
			}
			return
		}
		again, err := ParseTarget(tg.String())
		if err != nil || again != tg {
			t.Fatalf("%q parsed to %+v, which does not parse back (%v)", spec, tg, err)
		}
	})
}

func testCreds(keyID, password string, regions ...string) credfile.Credentials {
	c := credfile.Credentials{UserName: "billing-mailer", AccessKeyID: keyID, SecretAccessKey: "secret-" + credfile.Secret(keyID)}
	for _, r := range regions {
		c.Passwords = append(c.Passwords, credfile.RegionPassword{Region: r, Endpoint: "email-smtp." + r + ".amazonaws.com",
			Password: credfile.Secret(password)})
	}
	return c
}

func TestNewPayload(t *testing.T) {
	p, err := NewPayload(testCreds("AKIAIOSFODNN7EXAMPLE", "BLBM/9hSUELfq8Gw+rU1", "eu-west-1"), PayloadOptions{})
	require.NoError(t, err)
	doc, err := p.document()
	require.NoError(t, err)
	assert.JSONEq(t, `{"username":"AKIAIOSFODNN7EXAMPLE","password":"BLBM/9hSUELfq8Gw+rU1","host":"email-smtp.eu-west-1.amazonaws.com",
		"port":587,"region":"eu-west-1","iam_user":"billing-mailer","access_key_id":"AKIAIOSFODNN7EXAMPLE"}`, doc)
	assert.NotContains(t, doc, "secret-", "the secret access key only when asked")

	p, err = NewPayload(testCreds("AKIAIOSFODNN7EXAMPLE", "pw", "eu-west-1"), PayloadOptions{IncludeSecretKey: true})
	require.NoError(t, err)
	doc, _ = p.document()
	assert.Contains(t, doc, `"secret_access_key":"secret-AKIAIOSFODNN7EXAMPLE"`)
	assert.Equal(t, "587", p.fieldValue(FieldPort))

	_, err = NewPayload(testCreds("AKIAIOSFODNN7EXAMPLE", "pw", "eu-west-1", "us-east-1"), PayloadOptions{})
	assert.Equal(t, exitcode.Usage, exitcode.Of(err))
	assert.ErrorContains(t, err, "2 regions were given")
	c := testCreds("AKIAIOSFODNN7EXAMPLE", "pw", "eu-west-1")
	c.UserName = "a,b"
	_, err = NewPayload(c, PayloadOptions{})
	assert.Equal(t, exitcode.Usage, exitcode.Of(err))
}

func TestPayloadNeverPrintsSecrets(t *testing.T) {
	p, err := NewPayload(testCreds("AKIAIOSFODNN7EXAMPLE", "hunter2-password", "eu-west-1"), PayloadOptions{IncludeSecretKey: true})
	require.NoError(t, err)
	js, err := json.Marshal(p)
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprintf("%v", p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), string(js)} {
		assert.NotContains(t, s, "hunter2")
		assert.NotContains(t, s, "secret-AKIA")
	}
}

// TestK8sSecretHoldsThePayloadFields keeps credfile's k8s-secret format
// and the store payload in step: the same keys.
func TestK8sSecretHoldsThePayloadFields(t *testing.T) {
	creds := testCreds("AKIAIOSFODNN7EXAMPLE", "pw", "eu-west-1")
	var manifest strings.Builder
	require.NoError(t, credfile.Render(&manifest, credfile.K8sSecret, creds, credfile.Options{IncludeSecretKey: true}))
	_, data, ok := strings.Cut(manifest.String(), "stringData:\n")
	require.True(t, ok)
	var k8sKeys []string
	for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
		k, _, _ := strings.Cut(strings.TrimSpace(line), ":")
		k8sKeys = append(k8sKeys, k)
	}
	p, err := NewPayload(creds, PayloadOptions{IncludeSecretKey: true})
	require.NoError(t, err)
	doc, err := p.document()
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &fields))
	assert.ElementsMatch(t, k8sKeys, slices.Collect(maps.Keys(fields)))
}
