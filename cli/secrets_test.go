package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// TestNoFlagTakesASecret walks every command's flags: none that takes a
// value may be for a secret, so no secret can reach argv (ps, shell history).
func TestNoFlagTakesASecret(t *testing.T) {
	var walk func(prefix string, cmds []*cli.Command)
	checked := 0
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				for _, name := range f.Names() {
					checked++
					if _, isBool := f.(*cli.BoolFlag); isBool || name == flagKMSKeyID {
						continue // --kms-key-id (aws-cli's name) names a KMS key; it holds no secret
					}
					for _, word := range []string{"secret", "password", "passwd", "token", "key"} {
						assert.NotContains(t, name, word, "%s%s --%s takes a value and looks like a secret", prefix, c.Name, name)
					}
				}
			}
			walk(prefix+c.Name+" ", c.Subcommands)
		}
	}
	walk("sesmtp ", newApp(stdio{}).Commands)
	assert.Greater(t, checked, 100)
}

// TestNoSecretLeaks runs every command, with --verbose where it calls AWS,
// and checks that no secret the endpoint issued, no SMTP password derived
// from one and not the operator's secret appear in stdout, stderr or the
// request log; and that files with secrets are 0600 in 0700 directories.
func TestNoSecretLeaks(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := filepath.Join(t.TempDir(), "secrets")
	v := []string{"--endpoint-url", e.URL, "--verbose"}
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, "eu-west-1")})
	list := writeFile(t, "senders.txt", "b1\nb2\n")
	steps := [][]string{
		append([]string{"create", "--user", "leaky", "--region", "eu-west-1", "--out", filepath.Join(dir, "leaky.csv"),
			"--verify", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile}, v...),
		append([]string{"create", "--user", "leaky-env", "--region", "eu-west-1", "--format", "env", "--include-secret-key", "--out", filepath.Join(dir, "leaky.env")}, v...),
		append([]string{"create", "--from-file", list, "--out-dir", filepath.Join(dir, "batch"), "--region", "eu-west-1", "--output", "json"}, v...),
		{"verify", "--credentials", filepath.Join(dir, "leaky.csv"), "--endpoint", smtp.Addr, "--ca-file", smtp.CAFile, "--output", "json"},
		{"verify", "--credentials", filepath.Join(dir, "leaky.env"), "--endpoint", smtp.Addr, "--ca-file", smtp.CAFile, "--region", "us-east-1"}, // rejected
		append([]string{"rotate", "--user", "leaky", "--strategy", "key", "--region", "eu-west-1", "--out", filepath.Join(dir, "rotated.json"), "--format", "json", "--output", "json"}, v...),
		append([]string{"rotate", "--user", "leaky", "--yes", "--region", "eu-west-1", "--out", filepath.Join(dir, "recreated.csv")}, v...),
		append([]string{"list", "--all-users", "--output", "json"}, v...),
		append([]string{"list"}, v...),
		append([]string{"delete", "--user", "leaky-env", "--yes", "--output", "json"}, v...),
		append([]string{"create", "--user", "bad user", "--out", filepath.Join(dir, "x.csv")}, v...), // an error
		{"policy", "operator"},
	}
	for _, args := range steps {
		res := runCLI(t, "", args...)
		assert.Contains(t, []int{0, 2, 3}, res.code, "%v: %s", args, res.stderr)
		assertNoSecrets(t, e, res.stdout, res.stderr)
	}
	require.NotEmpty(t, srv.IssuedSecrets())

	// derive prints the password it is asked for, and nothing else secret.
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	res := runCLI(t, secret+"\n", "derive", "--stdin", "--region", "eu-west-1")
	assert.Equal(t, derive.PasswordV4(secret, "eu-west-1")+"\n", res.stdout)
	assert.NotContains(t, res.stdout+res.stderr, secret)

	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		require.NoError(t, err)
		if info.IsDir() {
			assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), path)
		} else {
			assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), path)
			assert.False(t, strings.HasSuffix(path, ".pending"), "a pending marker was left: %s", path)
		}
		return nil
	})
	require.NoError(t, err)
}
