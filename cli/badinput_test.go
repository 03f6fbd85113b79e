package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sesmtp/sesmtp/batch"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// TestBadInput runs every kind of bad input through the CLI and checks the
// exit code, the message, and that IAM is exactly as before.
func TestBadInput(t *testing.T) {
	tmp := t.TempDir()
	existing := filepath.Join(tmp, "exists.csv")
	writeTo := func(name, content string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	writeTo("exists.csv", "x")
	manifest := func(name, content string) []string {
		return []string{"create", "--from-file", writeTo(name, content), "--out-dir", filepath.Join(tmp, "out-"+name), "--region", "eu-west-1"}
	}
	out := func() string { return filepath.Join(t.TempDir(), "c.csv") }
	create := func(extra ...string) []string {
		return append([]string{"create", "--out", out(), "--region", "eu-west-1"}, extra...)
	}
	allowAllBut := func(cmd, missing string) []iamtest.Option {
		var allow []string
		for _, a := range policy.CommandActions(cmd) {
			if a != missing {
				allow = append(allow, a)
			}
		}
		return []iamtest.Option{iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
			AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops", Allow: allow})}
	}
	good := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		stdin string
		opts  []iamtest.Option
		code  int
		want  string
	}{
		// IAM's name rules.
		{name: "empty user name", args: create("--user", ""), code: exitcode.Usage, want: "the user name is empty"},
		{name: "65-char user name", args: create("--user", strings.Repeat("u", 65)), code: exitcode.Usage, want: "IAM allows at most 64"},
		{name: "user name with spaces", args: create("--user", "mail er"), code: exitcode.Usage, want: "characters IAM rejects"},
		{name: "unicode user name", args: create("--user", "mailér"), code: exitcode.Usage, want: "characters IAM rejects"},
		{name: "user name with slash", args: create("--user", "a/b"), code: exitcode.Usage, want: "characters IAM rejects"},
		{name: "bad group name", args: create("--user", "u", "--group", "a group"), code: exitcode.Usage, want: "group name"},
		{name: "bad policy name", args: create("--user", "u", "--policy-name", "a b"), code: exitcode.Usage, want: "policy name"},
		{name: "bad path", args: create("--user", "u", "--path", "/no-trailing"), code: exitcode.Usage, want: "not an IAM path"},
		{name: "bad tag", args: create("--user", "u", "--tag", "k"), code: exitcode.Usage, want: "not KEY=VALUE"},
		{name: "reserved tag", args: create("--user", "u", "--tag", "aws:k=v"), code: exitcode.Usage, want: "reserved by AWS"},
		{name: "bad boundary", args: create("--user", "u", "--permissions-boundary", "x"), code: exitcode.Usage, want: "not an IAM policy ARN"},
		// Regions.
		{name: "unknown region", args: []string{"create", "--user", "u", "--out", out(), "--region", "eu-wset-1"}, code: exitcode.Usage, want: "did you mean eu-west-1?"},
		{name: "malformed region", args: []string{"create", "--user", "u", "--out", out(), "--region", "nowhere"}, code: exitcode.Usage, want: "not an AWS region name"},
		{name: "upper-case region", args: []string{"create", "--user", "u", "--out", out(), "--region", "EU-WEST-1"}, code: exitcode.Usage, want: "did you mean eu-west-1?"},
		{name: "no region", args: []string{"create", "--user", "u", "--out", out()}, env: map[string]string{"AWS_REGION": ""}, code: exitcode.Usage, want: "no region"},
		// Output paths.
		{name: "existing output file", args: []string{"create", "--user", "u", "--out", existing, "--region", "eu-west-1"}, code: exitcode.Usage, want: "already exists"},
		{name: "unwritable output", args: []string{"create", "--user", "u", "--out", "/proc/c.csv", "--region", "eu-west-1"}, code: exitcode.Usage, want: "cannot write credentials"},
		{name: "directory as --out", args: []string{"create", "--user", "u", "--out", tmp, "--region", "eu-west-1"}, code: exitcode.Usage, want: "is a directory"},
		{name: "out-dir is a file", args: []string{"create", "--from-file", writeTo("one.txt", "a\n"), "--out-dir", existing, "--region", "eu-west-1"}, code: exitcode.Usage, want: "not a directory"},
		// Manifests.
		{name: "manifest duplicates", args: manifest("dup.csv", "user\na\nA\n"), code: exitcode.Usage, want: `line 3: user "A" is also on line 2`},
		{name: "manifest bad column", args: manifest("col.csv", "user,colour\na,red\n"), code: exitcode.Usage, want: `unknown column "colour"`},
		{name: "manifest huge line", args: manifest("huge.csv", "user\n"+strings.Repeat("a", batch.MaxLineLen+10)+"\n"), code: exitcode.Usage, want: "longer than"},
		{name: "manifest bad name", args: manifest("name.csv", "user\nbad name\n"), code: exitcode.Usage, want: "line 2:"},
		{name: "manifest field count", args: manifest("fields.csv", "user,group\na\n"), code: exitcode.Usage, want: "1 fields; the header has 2"},
		{name: "empty manifest", args: manifest("empty.csv", "# nothing\n"), code: exitcode.Usage, want: "lists no senders"},
		{name: "--user with --from-file", args: append(manifest("u.csv", "a\n"), "--user", "x"), code: exitcode.Usage, want: "does not go with --from-file"},
		// verify's credentials.
		{name: "verify short csv row", args: []string{"verify", "--credentials", writeTo("short.csv", "IAM User Name,Smtp Username,Smtp Password\nu,AKIA\n")}, code: exitcode.Usage, want: "line 2 has 2 columns"},
		{name: "verify bad json", args: []string{"verify", "--credentials", writeTo("bad.json", `{"smtp_username": 1`)}, code: exitcode.Usage, want: "not valid JSON"},
		{name: "verify unknown format", args: []string{"verify", "--credentials", writeTo("what.txt", "hello\n")}, code: exitcode.Usage, want: "not a credentials file"},
		{name: "verify bad env quoting", args: []string{"verify", "--credentials", writeTo("bad.env", "SMTP_USERNAME='AKIA\n")}, code: exitcode.Usage, want: "unterminated quote"},
		{name: "verify missing file", args: []string{"verify", "--credentials", filepath.Join(tmp, "none.csv")}, code: exitcode.Usage, want: "no such file"},
		{name: "verify no credentials", args: []string{"verify", "--region", "eu-west-1"}, code: exitcode.Usage, want: "set SMTP_USERNAME and SMTP_PASSWORD"},
		// Secrets.
		{name: "secret with whitespace", args: []string{"derive", "--stdin", "--region", "eu-west-1"}, stdin: "wJalrXUtnFEMI/K7MDENG bPxRfiCYEXAMPLEKEY\n", code: exitcode.Usage, want: "whitespace"},
		{name: "secret too short", args: []string{"derive", "--region", "eu-west-1"}, env: map[string]string{"AWS_SECRET_ACCESS_KEY": good[:39]}, code: exitcode.Usage, want: "39 characters long"},
		{name: "secret too long", args: []string{"derive", "--region", "eu-west-1"}, env: map[string]string{"AWS_SECRET_ACCESS_KEY": good + "A"}, code: exitcode.Usage, want: "41 characters long"},
		{name: "empty secret", args: []string{"derive", "--stdin", "--region", "eu-west-1"}, stdin: "\n", code: exitcode.Usage, want: "the secret access key is empty"},
		// AWS credentials.
		{name: "missing AWS credentials", args: create("--user", "u"), env: map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}, code: exitcode.Usage, want: "no usable AWS credentials"},
		{name: "expired credentials", args: create("--user", "u"), opts: []iamtest.Option{iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
			AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops", Expired: true})}, code: exitcode.Usage, want: "expired"},
		{name: "unknown access key", args: create("--user", "u"), env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY000001"}, code: exitcode.Usage, want: "does not accept the credentials"},
		{name: "unknown profile", args: create("--user", "u", "--profile", "nope"), code: exitcode.Usage, want: `profile "nope"`},
		// Each missing operator permission.
		{name: "create without iam:ListUsers", args: create("--user", "fresh"), opts: allowAllBut("create", "iam:ListUsers"), code: exitcode.Usage, want: "not allowed iam:ListUsers"},
		{name: "create without iam:CreateUser", args: create("--user", "fresh"), opts: allowAllBut("create", "iam:CreateUser"), code: exitcode.Usage, want: "not allowed iam:CreateUser"},
		{name: "create without iam:PutUserPolicy", args: create("--user", "fresh"), opts: allowAllBut("create", "iam:PutUserPolicy"), code: exitcode.Failed, want: "not allowed iam:PutUserPolicy"},
		{name: "create without iam:CreateAccessKey", args: create("--user", "fresh"), opts: allowAllBut("create", "iam:CreateAccessKey"), code: exitcode.Failed, want: "not allowed iam:CreateAccessKey"},
		{name: "delete without iam:GetUser", args: []string{"delete", "--user", "u", "--yes"}, opts: allowAllBut("delete", "iam:GetUser"), code: exitcode.Usage, want: "not allowed iam:GetUser"},
		{name: "rotate without iam:ListAccessKeys", args: []string{"rotate", "--user", "u", "--strategy", "key", "--out", out(), "--region", "eu-west-1"}, opts: allowAllBut("rotate", "iam:ListAccessKeys"), code: exitcode.Usage, want: "not allowed iam:ListAccessKeys"},
		{name: "list without iam:ListUsers", args: []string{"list"}, opts: allowAllBut("list", "iam:ListUsers"), code: exitcode.Usage, want: "not allowed iam:ListUsers"},
		// Other commands' flags.
		{name: "delete without --user", args: []string{"delete", "--yes"}, code: exitcode.Usage, want: "--user NAME"},
		{name: "rotate bad strategy", args: []string{"rotate", "--user", "u", "--strategy", "swap", "--region", "eu-west-1"}, code: exitcode.Usage, want: "--strategy must be recreate or key"},
		{name: "list bad --older-than", args: []string{"list", "--older-than", "old"}, code: exitcode.Usage, want: "--older-than"},
		{name: "list --concurrency 0", args: []string{"list", "--concurrency", "0"}, code: exitcode.Usage, want: "at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t, tt.opts...)
			if len(tt.opts) > 0 || tt.name == "unknown access key" {
				e.Local(t, "a caller with given permissions, or that checks credentials")
			}
			srv := e.State(t)
			srv.PutUser(consoleUser("u"))
			before := snapshot(srv)
			for k, v := range tt.env {
				t.Setenv(k, v)
				if v == "" {
					os.Unsetenv(k)
				}
			}
			args := append(append([]string{}, tt.args...), "--endpoint-url", e.URL)
			if tt.args[0] == "derive" || tt.args[0] == "verify" {
				args = tt.args
			}
			res := runCLI(t, tt.stdin, args...)
			assert.Equal(t, tt.code, res.code, res.stderr)
			assert.Contains(t, res.stderr, tt.want)
			assert.Equal(t, before, snapshot(srv), "IAM changed")
			assertNoSecrets(t, e, res.stdout, res.stderr)
			assert.NotContains(t, res.stderr, good, "a secret in a message")
		})
	}
	if len(tests) < 40 {
		t.Errorf("only %d bad-input cases", len(tests))
	}
}
