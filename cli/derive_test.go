package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
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
