package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify"
)

const exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func TestDerive(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		stdin      string
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{"env, one region", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--region", "us-east-1"},
			0, "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9\n", ""},
		{"stdin, two regions", nil, exampleSecret + "\n", []string{"--stdin", "--region", "us-east-1,us-east-2"},
			0, "us-east-1 BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9\nus-east-2 BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS\n", ""},
		{"stdin CRLF", nil, exampleSecret + "\r\n", []string{"--stdin", "--region", "us-east-1"},
			0, "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9\n", ""},
		{"stdin without newline", nil, exampleSecret, []string{"--stdin", "--region", "us-east-1"},
			0, "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9\n", ""},
		{"default region from AWS_REGION", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret, "AWS_REGION": "us-east-2"}, "", nil,
			0, "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS\n", ""},
		{"legacy v2 warns", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--legacy-v2", "--region", "us-east-1"},
			0, "An60U4ZD3sd4fg+FvXUjayOipTt8LO4rUUmhpdX6ctDy\n", "rejected them since March 2021"},
		{"short secret needs force", map[string]string{"AWS_SECRET_ACCESS_KEY": "some+secret+key"}, "", []string{"--region", "eu-central-1"},
			exitcode.Usage, "", "15 characters long"},
		{"short secret forced", map[string]string{"AWS_SECRET_ACCESS_KEY": "some+secret+key"}, "", []string{"--region", "eu-central-1", "--force"},
			0, "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2\n", ""},
		{"no secret", nil, "", []string{"--region", "us-east-1"}, exitcode.Usage, "", "set AWS_SECRET_ACCESS_KEY or pipe it to --stdin"},
		{"empty stdin", nil, "", []string{"--stdin", "--region", "us-east-1"}, exitcode.Usage, "", "no secret access key on standard input"},
		{"inner space", nil, "wJalrXUtnFEMI/K7MDENG bPxRfiCYEXAMPLEKEY\n", []string{"--stdin", "--region", "us-east-1"}, exitcode.Usage, "", "whitespace"},
		{"unknown region", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--region", "nowhere-1"}, exitcode.Usage, "", "not an AWS region name"},
		{"typo region", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--region", "eu-west-l"}, exitcode.Usage, "", "did you mean eu-west-1?"},
		{"new region allowed", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--region", "xx-north-9", "--allow-unknown-region"}, 0, "B", ""},
		{"no region", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret, "AWS_REGION": ""}, "", nil, exitcode.Usage, "", "no region"},
		{"legacy v2 needs no region", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret, "AWS_REGION": ""}, "", []string{"--legacy-v2"},
			0, "An60U4ZD3sd4fg+FvXUjayOipTt8LO4rUUmhpdX6ctDy\n", "rejected them since March 2021"},
		{"documented: no SMTP in Cape Town", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--region", "af-south-1"},
			exitcode.Usage, "", "SES Developer Guide"},
		{"not an SES region", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--region", "eu-south-2"},
			exitcode.Usage, "", "SES does not operate there"},
		{"china", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--region", "cn-north-1"},
			exitcode.Usage, "", "not offered in the China regions"},
		{"mixed partitions", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--region", "eu-west-1,us-gov-west-1"},
			exitcode.Usage, "", "different AWS partitions"},
		{"fips where AWS has none", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--region", "eu-west-1", "--fips"},
			exitcode.Usage, "", "no documented FIPS SMTP endpoint"},
		{"secret as argument", map[string]string{"AWS_SECRET_ACCESS_KEY": exampleSecret}, "", []string{"--region", "us-east-1", exampleSecret}, exitcode.Usage, "", "never the command line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iamtest.Isolate(t)
			t.Setenv("AWS_SECRET_ACCESS_KEY", "")
			require.NoError(t, unsetenv("AWS_SECRET_ACCESS_KEY"))
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			res := runCLI(t, tt.stdin, append([]string{"derive"}, tt.args...)...)
			assert.Equal(t, tt.code, res.code, res.stderr)
			if tt.code == 0 {
				assert.True(t, strings.HasPrefix(res.stdout, tt.wantStdout), "stdout %q", res.stdout)
			} else {
				assert.Empty(t, res.stdout)
			}
			assert.Contains(t, res.stderr, tt.wantStderr)
			for _, secret := range []string{exampleSecret, "some+secret+key"} {
				assert.NotContains(t, res.stderr, secret, "no secret in messages")
			}
		})
	}
}

func TestDeriveEndpoints(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"fips", []string{"--region", "us-east-1", "--fips"}, "email-smtp-fips.us-east-1.amazonaws.com"},
		{"govcloud fips", []string{"--region", "us-gov-west-1", "--fips"}, "email-smtp-fips.us-gov-west-1.amazonaws.com"},
		{"govcloud", []string{"--region", "us-gov-east-1"}, "email-smtp.us-gov-east-1.amazonaws.com"},
		{"china, allowed", []string{"--region", "cn-north-1", "--allow-unknown-region"}, "email-smtp.cn-north-1.amazonaws.com.cn"},
		{"iso, allowed", []string{"--region", "us-iso-east-1", "--allow-unknown-region"}, "email-smtp.us-iso-east-1.c2s.ic.gov"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iamtest.Isolate(t)
			res := runCLI(t, exampleSecret+"\n", append([]string{"derive", "--stdin", "--output", "json"}, tt.args...)...)
			require.Equal(t, 0, res.code, res.stderr)
			var got []map[string]string
			require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
			require.Len(t, got, 1)
			assert.Equal(t, tt.want, got[0]["endpoint"])
		})
	}
}

// dnsStub answers from a map; a host it does not list does not exist.
type dnsStub map[string]bool

func (d dnsStub) LookupHost(_ context.Context, host string) ([]string, error) {
	if d[host] {
		return []string{"192.0.2.1"}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// runCLIResolving runs sesmtp with r as its resolver.
func runCLIResolving(t *testing.T, r verify.Resolver, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), append([]string{"sesmtp"}, args...), stdio{in: strings.NewReader(stdin), out: &out, err: &errOut,
		now: func() time.Time { return fixedNow }, resolver: r})
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func TestUnresolvedHostWarns(t *testing.T) {
	iamtest.Isolate(t)
	dns := dnsStub{"email-smtp.eu-west-1.amazonaws.com": true}
	res := runCLIResolving(t, dns, exampleSecret+"\n", "derive", "--stdin", "--region", "eu-west-1,ap-southeast-5")
	require.Equal(t, 0, res.code, "a host that does not resolve warns, never fails: %s", res.stderr)
	assert.Contains(t, res.stderr, "warning: email-smtp.ap-southeast-5.amazonaws.com does not resolve")
	assert.NotContains(t, res.stderr, "eu-west-1.amazonaws.com does not resolve")
	assert.Equal(t, 2, strings.Count(res.stdout, "\n"))

	res = runCLIResolving(t, dns, exampleSecret+"\n", "derive", "--stdin", "--region", "ap-southeast-5", "--offline")
	require.Equal(t, 0, res.code)
	assert.NotContains(t, res.stderr, "does not resolve", "--offline skips the check")
	t.Setenv("SESMTP_OFFLINE", "true")
	res = runCLIResolving(t, dns, exampleSecret+"\n", "derive", "--stdin", "--region", "ap-southeast-5")
	assert.NotContains(t, res.stderr, "does not resolve", "SESMTP_OFFLINE skips the check")

	t.Setenv("SESMTP_OFFLINE", "")
	res = runCLIResolving(t, dns, "", "create", "--user", "u", "--region", "ap-southeast-5", "--dry-run")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "warning: email-smtp.ap-southeast-5.amazonaws.com does not resolve")

	// No answer at all (no network) is not a verdict: nothing is said.
	res = runCLIResolving(t, noNetwork{}, exampleSecret+"\n", "derive", "--stdin", "--region", "eu-west-1")
	require.Equal(t, 0, res.code)
	assert.Empty(t, res.stderr)
}

// noNetwork fails every look-up as a machine without DNS does.
type noNetwork struct{}

func (noNetwork) LookupHost(_ context.Context, host string) ([]string, error) {
	return nil, &net.DNSError{Err: "server misbehaving", Name: host, IsTemporary: true}
}

func TestDeriveJSON(t *testing.T) {
	iamtest.Isolate(t)
	res := runCLI(t, exampleSecret+"\n", "derive", "--stdin", "--region", "us-east-1,us-east-2", "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var got []map[string]string
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
	assert.Equal(t, []map[string]string{
		{"region": "us-east-1", "endpoint": "email-smtp.us-east-1.amazonaws.com", "password": "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"},
		{"region": "us-east-2", "endpoint": "email-smtp.us-east-2.amazonaws.com", "password": "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS"},
	}, got)
}

func TestCreateFIPSWritesFIPSEndpoints(t *testing.T) {
	e := iamtest.Start(t)
	out := filepath.Join(t.TempDir(), "c.json")
	res := runCLI(t, "", createArgs(e, out, "--user", "gov", "--region", "us-east-1,us-west-2", "--fips", "--format", "json")...)
	require.Equal(t, 0, res.code, res.stderr)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"host": "email-smtp-fips.us-east-1.amazonaws.com"`)
	assert.Contains(t, string(data), `"host": "email-smtp-fips.us-west-2.amazonaws.com"`)
	assert.Contains(t, res.stderr, "SMTP endpoint: email-smtp-fips.us-east-1.amazonaws.com:587, email-smtp-fips.us-west-2.amazonaws.com:587")

	res = runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "x.csv"), "--user", "mixed", "--region", "eu-west-1,us-gov-west-1")...)
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, "one SMTP user cannot work in both")
	assert.Len(t, e.Local(t).Users(), 1, "nothing attempted")
}
