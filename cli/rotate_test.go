package cli

import (
	"encoding/json"
	"path/filepath"
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
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	old, _ := srv.User("target")
	oldKey := old.AccessKeys[0].ID
	out := filepath.Join(t.TempDir(), "new.csv")

	res := runCLI(t, "", rotateArgs(e, out, "--strategy", "key")...)
	require.Equal(t, 0, res.code, res.stderr)
	assertNoSecrets(t, e, res.stdout, res.stderr)
	u, _ := srv.User("target")
	require.Len(t, u.AccessKeys, 1)
	assert.NotEqual(t, oldKey, u.AccessKeys[0].ID, "the old key is deleted")
	assertFileHoldsKey(t, out, u.AccessKeys[0], "eu-west-1")
	assert.Equal(t, old.InlinePolicies, u.InlinePolicies, "the user is otherwise untouched")
	assert.Zero(t, srv.CallCount("DeleteUser"), "no downtime: the user is never deleted")
}

func TestRotateKeyDeactivateOld(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	res := runCLI(t, "", rotateArgs(e, filepath.Join(t.TempDir(), "n.csv"), "--strategy", "key", "--deactivate-old", "--output", "json")...)
	require.Equal(t, 0, res.code, res.stderr)
	u, _ := srv.User("target")
	require.Len(t, u.AccessKeys, 2)
	assert.Equal(t, "Inactive", u.AccessKeys[0].Status)
	assert.Equal(t, "Active", u.AccessKeys[1].Status)
	var got provision.RotateResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
	assert.Equal(t, "deactivated", got.OldKeys)
	assert.Equal(t, u.AccessKeys[1].ID, got.NewAccessKeyID)
}

func TestRotateKeyTwoKeyLimit(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	u := consoleUser("target")
	u.AccessKeys = append(u.AccessKeys, iamtest.AccessKey{ID: "AKIASECONDKEY0000001", SecretAccessKey: "second", Created: time.Now()})
	srv.PutUser(u)
	before := snapshot(srv)

	res := runCLI(t, "", rotateArgs(e, filepath.Join(t.TempDir(), "n.csv"), "--strategy", "key")...)
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, "already has the two access keys IAM allows")
	assert.Contains(t, res.stderr, "--replace-oldest")
	assert.Equal(t, before, snapshot(srv))

	out := filepath.Join(t.TempDir(), "n.csv")
	res = runCLI(t, "", rotateArgs(e, out, "--strategy", "key", "--replace-oldest")...)
	require.Equal(t, 0, res.code, res.stderr)
	got, _ := srv.User("target")
	require.Len(t, got.AccessKeys, 1, "the oldest made room, then the other old key was retired")
	assertFileHoldsKey(t, out, got.AccessKeys[0], "eu-west-1")
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
	srv := e.Local(t)
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
	assert.Equal(t, 1, srv.CallCount("DeleteUser"))
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
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	res := runCLI(t, "", rotateArgs(e, filepath.Join(t.TempDir(), "n.csv"))...)
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Zero(t, srv.CallCount(""))
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
		{[]string{"--strategy", "key", "--deactivate-old"}, []string{"iam:CreateAccessKey UserName=target\n", "iam:UpdateAccessKey UserName=target Status=Inactive for each old key\n"}},
		{[]string{"--strategy", "key", "--replace-oldest"}, []string{"iam:DeleteAccessKey of the older first", "iam:DeleteAccessKey UserName=target for each old key\n"}},
		{nil, []string{"then iam:DeleteUser UserName=target", "iam:CreateUser UserName=target with the same path", "stop if it holds more than SMTP credentials"}},
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
