package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func rotateArgs(e *iamtest.Endpoint, out string, extra ...string) []string {
	return append([]string{"rotate", "--endpoint-url", e.URL, "--user", "target", "--region", "eu-west-1", "--out", out}, extra...)
}

func TestRotateKey(t *testing.T) {
	e := iamtest.Start(t)
	iamClock(e, fixedNow)
	srv := e.State(t)
	srv.PutUser(consoleUser("target"))
	old, _ := srv.User("target")
	oldKey := old.AccessKeys[0].ID
	out := filepath.Join(t.TempDir(), "new.csv")

	res := runCLI(t, "", rotateArgs(e, out, "--strategy", "key", "--output", "json")...)
	require.Equal(t, 0, res.code, res.stderr)
	assertNoSecrets(t, e, res.stdout, res.stderr)
	u, _ := srv.User("target")
	require.Len(t, u.AccessKeys, 2, "phase 1 leaves the old key")
	assert.Equal(t, oldKey, u.AccessKeys[0].ID)
	assert.Equal(t, "Active", u.AccessKeys[0].Status, "senders on the old password keep working")
	assert.Equal(t, "Active", u.AccessKeys[1].Status)
	assertFileHoldsKey(t, out, u.AccessKeys[1], "eu-west-1")
	assertRetireRecord(t, e, u, oldKey, false)
	assert.Equal(t, old.InlinePolicies, u.InlinePolicies, "the user is otherwise untouched")
	assertCalls(t, e, "DeleteUser", 0, "no downtime: the user is never deleted")
	assertCalls(t, e, "DeleteAccessKey", 0, "the old key stays")
	assertCalls(t, e, "UpdateAccessKey", 0, "the old key stays active")
	var got provision.RotateResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
	assert.Equal(t, "active, pending retirement", got.OldKeys)
	require.NotNil(t, got.PendingRetirement)
	assert.Equal(t, oldKey, got.PendingRetirement.AccessKeyID)
	assert.Equal(t, "sesmtp retire --user target", got.Next)
	assert.Contains(t, res.stderr, "sesmtp retire --user target --if-unused-for 24h")
}

// TestRotateKeyPendingRetirement: while a retirement is pending, another
// key rotation (with --replace-oldest too) exits 2 with the command that
// finishes it, and calls nothing that changes IAM; a record naming a key
// the user no longer holds is stale and does not stop it.
func TestRotateKeyPendingRetirement(t *testing.T) {
	e := iamtest.Start(t)
	iamClock(e, fixedNow)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	res := runCLI(t, "", rotateArgs(e, filepath.Join(t.TempDir(), "a.csv"), "--strategy", "key")...)
	require.Equal(t, 0, res.code, res.stderr)
	before := snapshot(srv)
	for _, extra := range [][]string{nil, {"--replace-oldest"}, {"--retire-now"}} {
		srv.ResetCalls()
		out := filepath.Join(t.TempDir(), "b.csv")
		res = runCLI(t, "", rotateArgs(e, out, append([]string{"--strategy", "key"}, extra...)...)...)
		assert.Equal(t, exitcode.Usage, res.code, res.stderr)
		assert.Contains(t, res.stderr, "pending retirement since 2026-11-28T12:00:00Z")
		assert.Contains(t, res.stderr, "'sesmtp retire --user target'")
		assert.Equal(t, before, snapshot(srv), "nothing changed")
		for _, c := range srv.Calls() {
			assert.False(t, isWrite(c.Action), "%s called", c.Action)
		}
		assert.NoFileExists(t, out)
	}

	u, _ := srv.User("target")
	u.AccessKeys = u.AccessKeys[1:] // the old key deleted by hand; the record stays
	srv.PutUser(u)
	out := filepath.Join(t.TempDir(), "c.csv")
	res = runCLI(t, "", rotateArgs(e, out, "--strategy", "key")...)
	require.Equal(t, 0, res.code, res.stderr)
	u, _ = srv.User("target")
	require.Len(t, u.AccessKeys, 2)
	assertRetireRecord(t, e, u, u.AccessKeys[0].ID, false)
	assert.Len(t, retireTags(u), 2, "the stale record stays, for retire to remove: a rotation removes no record")
}

func TestRotateKeyRetireNow(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	out := filepath.Join(t.TempDir(), "n.csv")
	res := runCLI(t, "", rotateArgs(e, out, "--strategy", "key", "--retire-now")...)
	require.Equal(t, 0, res.code, res.stderr)
	u, _ := srv.User("target")
	require.Len(t, u.AccessKeys, 1, "the old key is deleted at once")
	assertFileHoldsKey(t, out, u.AccessKeys[0], "eu-west-1")
	assert.Empty(t, u.Tags, "nothing pending")
	assert.NotContains(t, res.stderr, "sesmtp retire")

	res = runCLI(t, "", rotateArgs(e, filepath.Join(t.TempDir(), "x.csv"), "--strategy", "key", "--retire-now", "--deactivate-old")...)
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, "choose one")
}

func TestRotateKeyDeactivateOld(t *testing.T) {
	e := iamtest.Start(t)
	iamClock(e, fixedNow)
	srv := e.State(t)
	srv.PutUser(consoleUser("target"))
	res := runCLI(t, "", rotateArgs(e, filepath.Join(t.TempDir(), "n.csv"), "--strategy", "key", "--deactivate-old", "--output", "json")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "--deactivate-old is deprecated")
	u, _ := srv.User("target")
	require.Len(t, u.AccessKeys, 2)
	assert.Equal(t, "Inactive", u.AccessKeys[0].Status)
	assert.Equal(t, "Active", u.AccessKeys[1].Status)
	var got provision.RotateResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
	assert.Equal(t, "deactivated, pending retirement", got.OldKeys)
	assert.Equal(t, u.AccessKeys[1].ID, got.NewAccessKeyID)
	assertRetireRecord(t, e, u, u.AccessKeys[0].ID, true) // recorded as a first retire would
}

func TestRotateKeyTwoKeyLimit(t *testing.T) {
	e := iamtest.Start(t)
	iamClock(e, fixedNow)
	srv := e.State(t)
	u := consoleUser("target")
	u.AccessKeys = append(u.AccessKeys, iamtest.AccessKey{ID: "AKIASECONDKEY0000001", SecretAccessKey: "second", Created: time.Now()})
	srv.PutUser(u)
	before := snapshot(srv)
	made, _ := srv.User("target") // an external endpoint issues its own key ids
	second := made.AccessKeys[1].ID

	res := runCLI(t, "", rotateArgs(e, filepath.Join(t.TempDir(), "n.csv"), "--strategy", "key")...)
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, "already has the two access keys IAM allows")
	assert.Contains(t, res.stderr, "--replace-oldest")
	assert.Equal(t, before, snapshot(srv))

	out := filepath.Join(t.TempDir(), "n.csv")
	res = runCLI(t, "", rotateArgs(e, out, "--strategy", "key", "--replace-oldest")...)
	require.Equal(t, 0, res.code, res.stderr)
	got, _ := srv.User("target")
	require.Len(t, got.AccessKeys, 2, "the oldest made room; the other old key is pending retirement")
	assert.Equal(t, second, got.AccessKeys[0].ID)
	assertFileHoldsKey(t, out, got.AccessKeys[1], "eu-west-1")
	assertRetireRecord(t, e, got, second, false)
}

func TestRotateKeyFailureKeepsOldKey(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	before := snapshot(srv)
	out := filepath.Join(t.TempDir(), "n.csv")
	srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.DropAfter})
	res := runCLI(t, "", rotateArgs(e, out, "--strategy", "key")...)
	assert.Equal(t, exitcode.Failed, res.code, res.stderr)
	assert.Contains(t, res.stderr, "rolled back")
	assert.Equal(t, before, snapshot(srv), "the new keys are gone, the old one works on")
	assert.NoFileExists(t, out)
}

func TestRotateRecreate(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	srv.PutPolicy("/", "boundary", senderPolicyJSON) // IAM refuses a boundary that does not exist
	srv.PutUser(iamtest.User{Name: "target", Path: "/smtp/", PermissionsBoundary: "arn:aws:iam::123456789012:policy/boundary",
		Tags:           []iamtest.Tag{{Key: "team", Value: "mail"}, {Key: provision.TagRunID, Value: "old-run"}},
		InlinePolicies: map[string]string{provision.DefaultPolicyName: senderPolicyJSON},
		AccessKeys:     []iamtest.AccessKey{{ID: "AKIAOLDKEY0000000001", SecretAccessKey: "old-secret"}}})
	out := filepath.Join(t.TempDir(), "n.csv")
	res := runCLI(t, "", rotateArgs(e, out, "--yes")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "senders using target fail")
	u, ok := srv.User("target")
	require.True(t, ok)
	assert.Equal(t, "/smtp/", u.Path)
	assert.Equal(t, "arn:aws:iam::123456789012:policy/boundary", u.PermissionsBoundary)
	assert.Equal(t, map[string]string{provision.DefaultPolicyName: senderPolicyJSON}, u.InlinePolicies)
	assert.Contains(t, u.Tags, iamtest.Tag{Key: "team", Value: "mail"})
	assert.NotContains(t, u.Tags, iamtest.Tag{Key: provision.TagRunID, Value: "old-run"}, "a new run id")
	require.Len(t, u.AccessKeys, 1)
	assert.NotEqual(t, "AKIAOLDKEY0000000001", u.AccessKeys[0].ID)
	assertFileHoldsKey(t, out, u.AccessKeys[0], "eu-west-1")
	assertCalls(t, e, "DeleteUser", 1)
}

func TestRotateRecreateFailureAfterDelete(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	srv.Inject(iamtest.Fault{Action: "CreateUser", Kind: iamtest.FailBefore})
	out := filepath.Join(t.TempDir(), "n.csv")
	res := runCLI(t, "", rotateArgs(e, out, "--yes")...)
	assert.Equal(t, exitcode.LeftBehind, res.code, res.stderr)
	assert.Contains(t, res.stderr, `"inline_policies":{"AmazonSesSendingAccess":`)
	assert.Contains(t, res.stderr, "sesmtp create --user target")
	_, ok := srv.User("target")
	assert.False(t, ok)
	assert.NoFileExists(t, out)
}

func TestRotateRecreateNeedsConfirmation(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	srv.PutUser(consoleUser("target"))
	res := runCLI(t, "", rotateArgs(e, filepath.Join(t.TempDir(), "n.csv"))...)
	assert.Equal(t, exitcode.Usage, res.code)
	assertCalls(t, e, "", 0)
}

func TestRotateDryRun(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	out := filepath.Join(t.TempDir(), "n.csv")
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--strategy", "key"}, []string{"stop if it does not exist or holds more than SMTP credentials)\n", "iam:CreateAccessKey UserName=target\n",
			"a retirement pending in tag sesmtp:retire, or two keys: stop", "iam:TagUser UserName=target Tags=sesmtp:retire:<old key id>=<old key id>@<now> (the old key stays active until 'sesmtp retire --user target')\n"}},
		{[]string{"--strategy", "key", "--deactivate-old"}, []string{"iam:UpdateAccessKey UserName=target Status=Inactive for each old key, then iam:TagUser"}},
		{[]string{"--strategy", "key", "--replace-oldest", "--retire-now"}, []string{"iam:DeleteAccessKey of the older first", "iam:DeleteAccessKey UserName=target for each old key\n"}},
		{nil, []string{"then iam:DeleteUser UserName=target", "iam:CreateUser UserName=target with the same path", "stop if it does not exist or holds more than SMTP credentials"}},
	}
	for _, tt := range tests {
		res := runCLI(t, "", append(rotateArgs(e, out, "--dry-run"), tt.args...)...)
		require.Equal(t, 0, res.code, res.stderr)
		for _, w := range tt.want {
			assert.Contains(t, res.stdout, w)
		}
		assert.Contains(t, res.stdout, "the credentials file: "+out)
	}
	assert.Zero(t, srv.CallCount(""), "a dry run calls nothing")
	assert.NoFileExists(t, out)
}

// TestRotateStrategyFlags refuses, before any call, flags that mean
// nothing with the strategy chosen.
func TestRotateStrategyFlags(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	srv.PutUser(consoleUser("target"))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--deactivate-old", "--yes"}, "--deactivate-old only goes with --strategy key"},
		{[]string{"--replace-oldest", "--yes"}, "--replace-oldest only goes with --strategy key"},
		{[]string{"--strategy", "recreate", "--deactivate-old", "--yes"}, "--deactivate-old only goes with --strategy key"},
		{[]string{"--strategy", "key", "--yes"}, "--yes only goes with --strategy recreate"},
		{[]string{"--retire-now", "--yes"}, "--retire-now only goes with --strategy key"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			res := runCLI(t, "", rotateArgs(e, filepath.Join(t.TempDir(), "n.csv"), tt.args...)...)
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, tt.want)
			assertCalls(t, e, "", 0, "nothing attempted")
		})
	}
}

// adminUser is a user no rotation may touch without --any-user: an
// administrator with a key.
func adminUser(name string) iamtest.User {
	return iamtest.User{Name: name, AttachedPolicies: map[string]string{"arn:aws:iam::aws:policy/AdministratorAccess": "AdministratorAccess"},
		AccessKeys: []iamtest.AccessKey{{ID: "AKIAADMINKEY00000001", SecretAccessKey: "admin-secret", Created: time.Now().Add(-time.Hour)}}}
}

// TestRotateRefusesNonSMTPUser: both strategies refuse a user that holds
// more than SMTP credentials, as delete does, naming rotate's override;
// nothing changes and no "senders fail" warning is printed.
func TestRotateRefusesNonSMTPUser(t *testing.T) {
	users := map[string]func() iamtest.User{
		"admin": func() iamtest.User { return adminUser("target") },
		"inline star policy": func() iamtest.User {
			u := consoleUser("target")
			u.InlinePolicies["admin"] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
			return u
		},
		"plain key user": func() iamtest.User {
			return iamtest.User{Name: "target", AccessKeys: []iamtest.AccessKey{{ID: "AKIAPLAINKEY00000001", SecretAccessKey: "plain"}}}
		},
	}
	for name, user := range users {
		for _, strategy := range [][]string{{"--strategy", "key"}, {"--strategy", "recreate", "--yes"}} {
			t.Run(name+" "+strategy[1], func(t *testing.T) {
				e := iamtest.Start(t)
				srv := e.State(t)
				srv.PutUser(user())
				before := snapshot(srv)
				out := filepath.Join(t.TempDir(), "n.csv")
				res := runCLI(t, "", rotateArgs(e, out, strategy...)...)
				assert.Equal(t, exitcode.Usage, res.code, res.stderr)
				assert.Contains(t, res.stderr, "does not look like an SMTP user")
				assert.Contains(t, res.stderr, "pass --any-user to rotate it anyway")
				assert.NotContains(t, res.stderr, "--force")
				assert.NotContains(t, res.stderr, "fail from now", "no warning before the checks pass")
				assert.Equal(t, before, snapshot(srv), "nothing changed")
				assert.NoFileExists(t, out)
			})
		}
	}
}

func TestRotateAnyUserOverride(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	srv.PutUser(adminUser("target"))
	out := filepath.Join(t.TempDir(), "n.csv")
	res := runCLI(t, "", rotateArgs(e, out, "--strategy", "key", "--any-user")...)
	require.Equal(t, 0, res.code, res.stderr)
	u, _ := srv.User("target")
	require.Len(t, u.AccessKeys, 2)
	assertFileHoldsKey(t, out, u.AccessKeys[1], "eu-west-1")
}

// TestRotateMissingUser: a user that does not exist is named plainly, as
// delete names it, with no SDK text and no warning; exit 2, nothing changed.
func TestRotateMissingUser(t *testing.T) {
	for _, strategy := range [][]string{{"--strategy", "key"}, {"--strategy", "recreate", "--yes"}} {
		t.Run(strategy[1], func(t *testing.T) {
			e := iamtest.Start(t)
			args := append([]string{"rotate", "--endpoint-url", e.URL, "--user", "ghost", "--region", "eu-west-1",
				"--out", filepath.Join(t.TempDir(), "n.csv")}, strategy...)
			res := runCLI(t, "", args...)
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, `no IAM user "ghost"`)
			assert.NotContains(t, res.stderr, "StatusCode")
			assert.NotContains(t, res.stderr, "RequestID")
			assert.NotContains(t, res.stderr, "fail from now")
		})
	}
}
