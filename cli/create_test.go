package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

const senderPolicyJSON = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`

// createArgs are the flags every create test passes.
func createArgs(e *iamtest.Endpoint, out string, extra ...string) []string {
	return append([]string{"create", "--endpoint-url", e.URL, "--out", out}, extra...)
}

func TestCreateHappyPath(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	out := filepath.Join(t.TempDir(), "secrets", "creds.csv")

	res := runCLI(t, "", createArgs(e, out, "--region", "eu-west-1,us-east-1", "--tag", "team=mail", "--path", "/smtp/")...)
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	assert.Empty(t, res.stdout)
	assertNoSecrets(t, e, res.stdout, res.stderr)

	name := "ses-smtp-user.20261128-120000"
	u, ok := srv.User(name)
	require.True(t, ok, "default name is the console's, from the clock")
	assert.Equal(t, "/smtp/", u.Path)
	assert.Equal(t, map[string]string{provision.DefaultPolicyName: senderPolicyJSON}, u.InlinePolicies)
	require.Len(t, u.AccessKeys, 1)
	tags := map[string]string{}
	for _, tg := range u.Tags {
		tags[tg.Key] = tg.Value
	}
	assert.Equal(t, "mail", tags["team"])
	assert.Equal(t, provision.ManagedByValue, tags[provision.TagManagedBy])
	assert.Len(t, tags[provision.TagRunID], 16)

	key := u.AccessKeys[0]
	want := regexp.QuoteMeta("IAM User Name,Smtp Username,Smtp Password,Region,Smtp Endpoint\n") +
		fmt.Sprintf("%s,%s,%s,eu-west-1,email-smtp.eu-west-1.amazonaws.com\n", regexp.QuoteMeta(name), key.ID, passwordRE(key, "eu-west-1")) +
		fmt.Sprintf("%s,%s,%s,us-east-1,email-smtp.us-east-1.amazonaws.com\n", regexp.QuoteMeta(name), key.ID, passwordRE(key, "us-east-1"))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Regexp(t, "^"+want+"$", string(got))
	info, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	dirInfo, err := os.Stat(filepath.Dir(out))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dirInfo.Mode().Perm())

	assert.Contains(t, res.stderr, key.ID)
	assert.Contains(t, res.stderr, "sesmtp verify --credentials "+out)

	// The console's four calls, one each, and the check that the key is
	// still there at the end (another run may have deleted it).
	if e.Server == nil {
		return // an external endpoint keeps no call log
	}
	var actions []string
	for _, c := range e.Server.Calls() {
		actions = append(actions, c.Action)
	}
	assert.ElementsMatch(t, []string{"ListUsers", "CreateUser", "PutUserPolicy", "CreateAccessKey", "ListAccessKeys"}, actions)
}

func TestCreateGroupAndJSON(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	out := filepath.Join(t.TempDir(), "creds.json")
	res := runCLI(t, "", createArgs(e, out, "--user", "grouped", "--group", provision.ConsoleGroupName,
		"--region", "eu-west-1", "--format", "json", "--output", "json")...)
	require.Equal(t, 0, res.code, res.stderr)
	assertNoSecrets(t, e, res.stdout, res.stderr)

	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
	assert.Equal(t, "grouped", got["user_name"])
	assert.Equal(t, true, got["group_created"])
	assert.Equal(t, out, got["file"])

	g, ok := srv.Group(provision.ConsoleGroupName)
	require.True(t, ok)
	assert.Equal(t, []string{"grouped"}, g.Members)
	assert.JSONEq(t, senderPolicyJSON, g.InlinePolicies[provision.DefaultPolicyName])
	u, _ := srv.User("grouped")
	assert.Empty(t, u.InlinePolicies, "with --group the policy is on the group")

	// A second user joins the existing group without touching it.
	res = runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "grouped2", "--group", provision.ConsoleGroupName, "--region", "eu-west-1")...)
	require.Equal(t, 0, res.code, res.stderr)
	g, _ = srv.Group(provision.ConsoleGroupName)
	assert.ElementsMatch(t, []string{"grouped", "grouped2"}, g.Members)
}

// snapshot is what the endpoint holds, to compare before and after a run.
func snapshot(srv stateView) string {
	b, _ := json.Marshal(struct {
		Users  []iamtest.User
		Groups []string
	}{srv.Users(), srv.Groups()})
	return string(b)
}

// TestCreateFailurePoints fails each IAM call of create in turn, in each
// way, and checks that the run either completes with one key whose secret
// is in the file, or leaves IAM exactly as it was and no file.
func TestCreateFailurePoints(t *testing.T) {
	type outcome int
	const (
		completes outcome = iota
		rollsBack
	)
	tests := []struct {
		action string
		fault  iamtest.Fault
		want   outcome
		code   int
	}{
		{"ListUsers", iamtest.Fault{Kind: iamtest.FailBefore}, rollsBack, exitcode.Failed},
		{"ListUsers", iamtest.Fault{Kind: iamtest.FailBefore, Nth: 1}, completes, 0},
		{"CreateUser", iamtest.Fault{Kind: iamtest.FailBefore}, rollsBack, exitcode.Failed},
		// Every attempt fails after taking effect: the retry's EntityAlreadyExists
		// carries this run's id, so the run adopts its own user and completes.
		{"CreateUser", iamtest.Fault{Kind: iamtest.FailAfter}, completes, 0},
		{"CreateUser", iamtest.Fault{Kind: iamtest.DropAfter}, completes, 0},
		{"CreateUser", iamtest.Fault{Kind: iamtest.DropAfter, Nth: 1}, completes, 0},
		{"CreateUser", iamtest.Fault{Kind: iamtest.FailAfter, Nth: 1}, completes, 0},
		{"PutUserPolicy", iamtest.Fault{Kind: iamtest.FailBefore}, rollsBack, exitcode.Failed},
		{"PutUserPolicy", iamtest.Fault{Kind: iamtest.DropAfter}, rollsBack, exitcode.Failed},
		{"PutUserPolicy", iamtest.Fault{Kind: iamtest.DropAfter, Nth: 1}, completes, 0},
		{"PutUserPolicy", iamtest.Fault{Kind: iamtest.FailBefore, Code: "MalformedPolicyDocument"}, rollsBack, exitcode.Failed},
		{"CreateAccessKey", iamtest.Fault{Kind: iamtest.FailBefore}, rollsBack, exitcode.Failed},
		{"CreateAccessKey", iamtest.Fault{Kind: iamtest.FailAfter}, rollsBack, exitcode.Failed},
		{"CreateAccessKey", iamtest.Fault{Kind: iamtest.DropAfter}, rollsBack, exitcode.Failed},
		{"CreateAccessKey", iamtest.Fault{Kind: iamtest.DropAfter, Nth: 1}, completes, 0},
		{"CreateAccessKey", iamtest.Fault{Kind: iamtest.FailAfter, Nth: 1}, completes, 0},
		{"CreateAccessKey", iamtest.Fault{Kind: iamtest.FailBefore, Code: "Throttling", Nth: 1, Count: 2}, completes, 0},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%s/nth=%d/%s", tt.action, tt.fault.Kind, tt.fault.Nth, tt.fault.Code)
		t.Run(name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			srv.PutUser(iamtest.User{Name: "bystander", InlinePolicies: map[string]string{"p": senderPolicyJSON},
				AccessKeys: []iamtest.AccessKey{{ID: "AKIABYSTANDER0000001", SecretAccessKey: "bystander-secret"}}})
			before := snapshot(srv)
			f := tt.fault
			f.Action = tt.action
			srv.Inject(f)
			out := filepath.Join(t.TempDir(), "creds.csv")

			res := runCLI(t, "", createArgs(e, out, "--user", "mailer", "--region", "eu-west-1")...)
			assert.Equal(t, tt.code, res.code, res.stderr)
			assertNoSecrets(t, e, res.stdout, res.stderr)
			switch tt.want {
			case completes:
				u, ok := srv.User("mailer")
				require.True(t, ok)
				require.Len(t, u.AccessKeys, 1, "IAM holds exactly one key: its secret is in the file")
				assertFileHoldsKey(t, out, u.AccessKeys[0], "eu-west-1")
			case rollsBack:
				assert.Equal(t, before, snapshot(srv), "IAM is exactly as before")
				assert.NoFileExists(t, out)
				assert.Contains(t, res.stderr, "iam:"+tt.action)
			}
		})
	}
}

func assertFileHoldsKey(t *testing.T, path string, key iamtest.AccessKey, region string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, key.ID, rows[1][1])
	assert.Regexp(t, "^"+passwordRE(key, region)+"$", rows[1][2])
}

func TestCreateFileWriteFailureRollsBack(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	out := filepath.Join(t.TempDir(), "creds.csv")
	// Between the check and the write, something else takes the path.
	srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.Delay, Match: func(iamtest.Call) bool {
		require.NoError(t, os.WriteFile(out, []byte("someone else's"), 0o600))
		return false
	}})
	res := runCLI(t, "", createArgs(e, out, "--user", "mailer", "--region", "eu-west-1")...)
	assert.Equal(t, exitcode.Failed, res.code)
	assert.Contains(t, res.stderr, "already exists")
	assert.Contains(t, res.stderr, "rolled back")
	assert.Empty(t, srv.Users(), "the key whose secret could not be handed over is gone, with its user")
	got, _ := os.ReadFile(out)
	assert.Equal(t, "someone else's", string(got), "the other file is untouched")
	assertNoSecrets(t, e, res.stdout, res.stderr)
}

func TestCreateRollbackFailureExits4(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.FailBefore, Code: "LimitExceeded"})
	srv.Inject(iamtest.Fault{Action: "DeleteUser", Kind: iamtest.FailBefore})
	out := filepath.Join(t.TempDir(), "creds.csv")
	res := runCLI(t, "", createArgs(e, out, "--user", "mailer", "--region", "eu-west-1")...)
	assert.Equal(t, exitcode.LeftBehind, res.code, res.stderr)
	assert.Contains(t, res.stderr, `Left behind: user "mailer"`)
	assert.Contains(t, res.stderr, "sesmtp delete --user mailer --any-user --yes")
	assert.Contains(t, res.stderr, "two access keys per user", "LimitExceeded is explained")
	u, ok := srv.User("mailer")
	require.True(t, ok)
	assert.Empty(t, u.AccessKeys)
	assert.Empty(t, u.InlinePolicies, "what could be undone was")
}

func TestCreatePermissionErrors(t *testing.T) {
	tests := []struct {
		name    string
		allow   []string
		missing string
		code    int
	}{
		{"no ListUsers", []string{"iam:CreateUser", "iam:PutUserPolicy", "iam:CreateAccessKey"}, "iam:ListUsers", exitcode.Usage},
		{"no CreateUser", []string{"iam:ListUsers"}, "iam:CreateUser", exitcode.Usage},
		{"no CreateAccessKey", []string{"iam:ListUsers", "iam:CreateUser", "iam:TagUser", "iam:PutUserPolicy", "iam:ListAccessKeys",
			"iam:DeleteAccessKey", "iam:ListUserPolicies", "iam:DeleteUserPolicy", "iam:ListGroupsForUser", "iam:DeleteUser"},
			"iam:CreateAccessKey", exitcode.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t, iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
				AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops", Allow: tt.allow,
			}))
			srv := e.Local(t)
			out := filepath.Join(t.TempDir(), "creds.csv")
			res := runCLI(t, "", createArgs(e, out, "--user", "mailer", "--region", "eu-west-1")...)
			assert.Equal(t, tt.code, res.code, res.stderr)
			assert.Contains(t, res.stderr, "not allowed "+tt.missing)
			assert.Contains(t, res.stderr, "sesmtp policy operator")
			assert.Empty(t, srv.Users())
			assert.NoFileExists(t, out)
		})
	}
}

func TestCreateRefusesExistingUser(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	srv.PutUser(iamtest.User{Name: "Mailer"})
	before := snapshot(srv)
	res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "mailer", "--region", "eu-west-1")...)
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, `"Mailer" already exists`)
	assert.Contains(t, res.stderr, "--user")
	assert.Contains(t, res.stderr, "sesmtp rotate")
	assert.Equal(t, before, snapshot(srv))
}

func TestCreateNeverAdoptsAStrangersUser(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	// Someone creates the same name between sesmtp's listing and its CreateUser.
	srv.Inject(iamtest.Fault{Action: "CreateUser", Kind: iamtest.Delay, Match: func(iamtest.Call) bool {
		srv.PutUser(iamtest.User{Name: "mailer", Tags: []iamtest.Tag{{Key: provision.TagRunID, Value: "someone-else"}}})
		return false
	}})
	res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "mailer", "--region", "eu-west-1")...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "already exists")
	u, ok := srv.User("mailer")
	require.True(t, ok, "the stranger's user is untouched")
	assert.Empty(t, u.AccessKeys)
	assert.Empty(t, u.InlinePolicies)
}

func TestCreateBadInputChangesNothing(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "exists.csv")
	require.NoError(t, os.WriteFile(existing, []byte("x"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"space in name", []string{"--user", "a b"}, "characters IAM rejects"},
		{"65-char name", []string{"--user", strings.Repeat("a", 65)}, "at most 64"},
		{"unicode name", []string{"--user", "mailér"}, "characters IAM rejects"},
		{"unknown region", []string{"--region", "eu-wset-1"}, "did you mean eu-west-1?"},
		{"malformed region", []string{"--region", "nowhere"}, "not an AWS region name"},
		{"bad tag", []string{"--tag", "novalue"}, "not KEY=VALUE"},
		{"aws tag", []string{"--tag", "aws:x=1"}, "reserved by AWS"},
		{"own tag", []string{"--tag", "sesmtp:run-id=1"}, "reserved for sesmtp"},
		{"bad path", []string{"--path", "smtp"}, "not an IAM path"},
		{"bad boundary", []string{"--permissions-boundary", "boundary"}, "not an IAM policy ARN"},
		{"bad identity", []string{"--identity-arn", "example.com"}, "not an SES identity ARN"},
		{"existing file", []string{"--out", existing}, "already exists"},
		{"directory out", []string{"--out", t.TempDir()}, "is a directory"},
		{"unwritable out", []string{"--out", "/proc/creds.csv"}, "cannot write credentials"},
		{"bad format", []string{"--format", "xml"}, "unknown format"},
		{"secret key in url", []string{"--format", "url", "--include-secret-key"}, "needs the csv, json or env format"},
		{"stdout twice", []string{"--out", "-", "--output", "json"}, "both want stdout"},
		{"bad output", []string{"--output", "yaml"}, "--output must be text or json"},
		{"stray argument", []string{"mailer"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			args := append([]string{"create", "--endpoint-url", e.URL, "--out", filepath.Join(t.TempDir(), "c.csv"), "--region", "eu-west-1"}, tt.args...)
			res := runCLI(t, "", args...)
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, tt.want)
			assert.Zero(t, srv.CallCount(""), "nothing is attempted")
			assert.Equal(t, 1, strings.Count(res.stderr, "\n"), "one paragraph: %q", res.stderr)
		})
	}
}

func TestCreateDryRun(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	out := filepath.Join(t.TempDir(), "c.csv")
	res := runCLI(t, "", createArgs(e, out, "--user", "mailer", "--region", "eu-west-1", "--dry-run")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "iam:PutUserPolicy UserName=mailer PolicyName=AmazonSesSendingAccess PolicyDocument="+senderPolicyJSON)
	assert.Contains(t, res.stdout, "iam:CreateAccessKey UserName=mailer")
	assert.Zero(t, srv.CallCount(""))
	assert.NoFileExists(t, out)
}

func TestCreateInterruptRollsBack(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Ctrl-C arrives while CreateAccessKey is in flight.
	srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.Delay, Delay: time.Minute, Match: func(iamtest.Call) bool {
		cancel()
		return true
	}})
	out := filepath.Join(t.TempDir(), "c.csv")
	res := runCLIContext(t, ctx, "", createArgs(e, out, "--user", "mailer", "--region", "eu-west-1")...)
	assert.Equal(t, exitcode.Failed, res.code, res.stderr)
	assert.Regexp(t, `(?i)rolled back`, res.stderr, "one cause or two (PutUserPolicy may be in flight too)")
	assert.Empty(t, srv.Users())
	assert.NoFileExists(t, out)
}

// TestCreateDefaultFileFollowsFormat: with no --out, the file is
// credentials.<the format's extension>, never env content in a .csv.
func TestCreateDefaultFileFollowsFormat(t *testing.T) {
	e := iamtest.Start(t)
	t.Chdir(t.TempDir())
	for format, file := range map[string]string{"csv": "credentials.csv", "json": "credentials.json", "env": "credentials.env",
		"postfix": "credentials.sasl_passwd", "url": "credentials.url"} {
		t.Run(format, func(t *testing.T) {
			res := runCLI(t, "", "create", "--endpoint-url", e.URL, "--user", "u-"+format, "--region", "eu-west-1", "--format", format)
			require.Equal(t, 0, res.code, res.stderr)
			assert.FileExists(t, file)
			assert.Contains(t, res.stderr, "credentials:   "+file+" ("+format)
		})
	}
	res := runCLI(t, "", "rotate", "--endpoint-url", e.URL, "--user", "u-env", "--region", "eu-west-1", "--strategy", "key", "--format", "env")
	assert.Equal(t, exitcode.Usage, res.code, "credentials.env exists: %s", res.stderr)
	assert.Contains(t, res.stderr, "credentials.env")
}

// TestCreateConsoleCSV: --format console-csv writes the console's three
// columns for one region, refuses several regions or the secret key before
// any call, and verify reads the file back.
func TestCreateConsoleCSV(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := t.TempDir()
	for _, tt := range []struct{ args []string }{
		{[]string{"--region", "eu-west-1,us-east-1"}},
		{[]string{"--region", "eu-west-1", "--include-secret-key"}},
	} {
		res := runCLI(t, "", createArgs(e, filepath.Join(dir, "bad.csv"), append(tt.args, "--user", "target", "--format", "console-csv")...)...)
		assert.Equal(t, exitcode.Usage, res.code, res.stderr)
		assert.Contains(t, res.stderr, "console-csv")
	}
	res := runCLI(t, "", append(batchArgs(e, writeFile(t, "m.txt", "a\n"), dir), "--region", "eu-west-1,us-east-1", "--format", "console-csv")...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "holds one region")
	assert.Zero(t, srv.CallCount(""), "nothing attempted")

	out := filepath.Join(dir, "console.csv")
	res = runCLI(t, "", createArgs(e, out, "--user", "target", "--region", "eu-west-1", "--format", "console-csv")...)
	require.Equal(t, 0, res.code, res.stderr)
	u, _ := srv.User("target")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "IAM User Name,Smtp Username,Smtp Password\n"+
		fmt.Sprintf("\"target\",%s,%s\n", u.AccessKeys[0].ID, derive.PasswordV4(u.AccessKeys[0].SecretAccessKey, "eu-west-1")), string(got))

	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, "eu-west-1")})
	res = runCLI(t, "", "verify", "--credentials", out, "--region", "eu-west-1", "--endpoint", smtp.Addr, "--ca-file", smtp.CAFile)
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, 1, smtp.Accepted())
}

// TestDryRunJSON: --dry-run --output json prints a JSON plan on stdout for
// every command that changes IAM, and calls nothing.
func TestDryRunJSON(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	dir := t.TempDir()
	tests := map[string][]string{
		"create": createArgs(e, filepath.Join(dir, "c.csv"), "--user", "new", "--region", "eu-west-1"),
		"rotate": rotateArgs(e, filepath.Join(dir, "r.csv"), "--strategy", "key"),
		"batch":  batchArgs(e, writeFile(t, "m.txt", "a\nb\n"), dir),
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			res := runCLI(t, "", append(args, "--dry-run", "--output", "json")...)
			require.Equal(t, 0, res.code, res.stderr)
			var plan struct {
				DryRun  bool     `json:"dry_run"`
				Command string   `json:"command"`
				Steps   []string `json:"steps"`
			}
			require.NoError(t, json.Unmarshal([]byte(res.stdout), &plan), res.stdout)
			assert.True(t, plan.DryRun)
			assert.NotEmpty(t, plan.Command)
			assert.NotEmpty(t, plan.Steps)
		})
	}
	assert.Zero(t, srv.CallCount(""), "a dry run calls nothing")
	t.Run("delete", func(t *testing.T) {
		res := runCLI(t, "", "delete", "--endpoint-url", e.URL, "--user", "target", "--dry-run", "--output", "json")
		require.Equal(t, 0, res.code, res.stderr)
		var got provision.DeleteResult
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &got), res.stdout)
		assert.True(t, got.DryRun)
		assert.Contains(t, got.Removed, `user "target"`)
	})
}

// TestCreateStopSaysWhy: Ctrl-C and --timeout while a call is in flight
// each say which happened, with no SDK text, and roll back.
func TestCreateStopSaysWhy(t *testing.T) {
	tests := []struct {
		name      string
		timeout   string
		interrupt bool
		want      string
		notWant   string
	}{
		{"Ctrl-C", "5m", true, "interrupted (Ctrl-C/SIGTERM)", "timed out"},
		{"--timeout", "300ms", false, "timed out after --timeout 300ms", "interrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.Delay, Delay: time.Minute, Match: func(iamtest.Call) bool {
				if tt.interrupt {
					cancel()
				}
				return true
			}})
			out := filepath.Join(t.TempDir(), "c.csv")
			res := runCLIContext(t, ctx, "", createArgs(e, out, "--user", "mailer", "--region", "eu-west-1", "--timeout", tt.timeout)...)
			assert.Equal(t, exitcode.Failed, res.code, res.stderr)
			assert.Contains(t, res.stderr, "iam:CreateAccessKey for user \"mailer\": "+tt.want)
			assert.NotContains(t, res.stderr, tt.notWant)
			for _, noise := range []string{"StatusCode", "RequestID", "canceled", "deadline exceeded", "operation error"} {
				assert.NotContains(t, res.stderr, noise)
			}
			assert.Regexp(t, `(?i)rolled back`, res.stderr)
			assert.Empty(t, srv.Users())
		})
	}
}
