package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// TestExitCodesOfUsage maps urfave/cli's own outcomes to sesmtp's codes:
// unknown commands (cli: 3) and bad flags (cli: 1 or 0) are exit 2.
func TestExitCodesOfUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{"help", []string{"--help"}, exitcode.OK, "EXIT CODES", ""},
		{"command help", []string{"create", "--help"}, exitcode.OK, "EXAMPLES", ""},
		{"version", []string{"--version"}, exitcode.OK, "sesmtp version", ""},
		{"no command", nil, exitcode.Usage, "USAGE", "a command is required"},
		{"unknown command", []string{"crate"}, exitcode.Usage, "", `"crate" is not a sesmtp command (commands: create, `},
		{"unknown subcommand", []string{"policy", "nobody"}, exitcode.Usage, "", `"nobody" is not a sesmtp policy command (commands: sender, boundary, operator`},
		{"unknown flag", []string{"derive", "--secret", "x"}, exitcode.Usage, "", "flag provided but not defined: -secret (see 'sesmtp derive --help')"},
		{"missing flag value", []string{"create", "--user"}, exitcode.Usage, "", "flag needs an argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iamtest.Isolate(t)
			res := runCLI(t, "", tt.args...)
			assert.Equal(t, tt.code, res.code, res.stderr)
			assert.Contains(t, res.stdout, tt.wantStdout)
			assert.Contains(t, res.stderr, tt.wantStderr)
		})
	}
}

func TestEveryCommandHelpTeaches(t *testing.T) {
	iamtest.Isolate(t)
	app := newApp(stdio{})
	for _, c := range app.Commands {
		t.Run(c.Name, func(t *testing.T) {
			res := runCLI(t, "", c.Name, "--help")
			require.Equal(t, 0, res.code)
			assert.Contains(t, res.stdout, "DESCRIPTION")
			assert.Contains(t, res.stdout, "EXAMPLES")
			assert.Contains(t, res.stdout, "sesmtp "+c.Name)
		})
	}
}
