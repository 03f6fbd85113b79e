package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// consoleUser is a user as the SES console makes it: inline
// AmazonSesSendingAccess and one key, no sesmtp tag.
func consoleUser(name string) iamtest.User {
	return iamtest.User{Name: name,
		InlinePolicies: map[string]string{provision.DefaultPolicyName: senderPolicyJSON},
		AccessKeys:     []iamtest.AccessKey{{ID: "AKIA" + strings.Repeat("C", 15) + name[len(name)-1:], SecretAccessKey: "console-secret-" + name, Created: time.Now().Add(-100 * 24 * time.Hour)}}}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, e *iamtest.Endpoint)
		args    []string
		code    int
		gone    bool
		wantErr string
	}{
		{"sesmtp user", func(t *testing.T, e *iamtest.Endpoint) {
			res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "target", "--region", "eu-west-1")...)
			require.Equal(t, 0, res.code, res.stderr)
		}, nil, 0, true, ""},
		{"console user", func(t *testing.T, e *iamtest.Endpoint) { e.Server.PutUser(consoleUser("target")) }, nil, 0, true, ""},
		{"group user", func(t *testing.T, e *iamtest.Endpoint) {
			res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "target", "--group", provision.ConsoleGroupName, "--region", "eu-west-1")...)
			require.Equal(t, 0, res.code, res.stderr)
		}, nil, 0, true, ""},
		{"other policy refused", func(t *testing.T, e *iamtest.Endpoint) {
			u := consoleUser("target")
			u.InlinePolicies["admin"] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
			e.Server.PutUser(u)
		}, nil, exitcode.Usage, false, `inline policy "admin" (not an SES sending policy)`},
		{"login profile refused", func(t *testing.T, e *iamtest.Endpoint) {
			u := consoleUser("target")
			u.LoginProfile = true
			e.Server.PutUser(u)
		}, nil, exitcode.Usage, false, "console password"},
		{"plain key user refused", func(t *testing.T, e *iamtest.Endpoint) {
			e.Server.PutUser(iamtest.User{Name: "target", AccessKeys: []iamtest.AccessKey{{ID: "AKIAPLAINKEY00000001"}}})
		}, nil, exitcode.Usage, false, "no SES sending policy, group or sesmtp tag"},
		{"force deletes everything", func(t *testing.T, e *iamtest.Endpoint) {
			u := consoleUser("target")
			u.LoginProfile, u.SSHPublicKeys, u.SigningCertificates = true, []string{"APKA1"}, []string{"CERT1"}
			u.ServiceCredentials, u.MFADevices = []string{"ACCA1"}, []string{"arn:aws:iam::123456789012:mfa/target", "GAHT12345678"}
			u.AttachedPolicies = map[string]string{"arn:aws:iam::aws:policy/ReadOnlyAccess": "ReadOnlyAccess"}
			e.Server.PutUser(u)
		}, []string{"--force"}, 0, true, ""},
		{"missing", func(*testing.T, *iamtest.Endpoint) {}, nil, exitcode.Failed, false, "does not exist"},
		{"missing ignored", func(*testing.T, *iamtest.Endpoint) {}, []string{"--ignore-missing"}, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			srv.PutUser(consoleUser("bystander"))
			tt.setup(t, e)
			before := snapshot(srv)
			res := runCLI(t, "", append([]string{"delete", "--endpoint-url", e.URL, "--user", "target", "--yes"}, tt.args...)...)
			assert.Equal(t, tt.code, res.code, res.stderr)
			assert.Contains(t, res.stderr, tt.wantErr)
			_, exists := srv.User("target")
			if tt.gone {
				assert.False(t, exists)
				assert.Contains(t, res.stderr, `removed user "target"`)
			} else {
				assert.Equal(t, before, snapshot(srv), "nothing changed")
			}
			_, ok := srv.User("bystander")
			assert.True(t, ok)
			assertNoSecrets(t, e, res.stdout, res.stderr)
		})
	}
}

func TestDeleteGroupStays(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "target", "--group", "senders", "--region", "eu-west-1")...)
	require.Equal(t, 0, res.code, res.stderr)
	res = runCLI(t, "", "delete", "--endpoint-url", e.URL, "--user", "target", "--yes")
	require.Equal(t, 0, res.code, res.stderr)
	g, ok := srv.Group("senders")
	require.True(t, ok, "the group is shared: it stays")
	assert.Empty(t, g.Members)
}

func TestDeleteIsIdempotentAfterPartialFailure(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	srv.Inject(iamtest.Fault{Action: "DeleteUser", Kind: iamtest.FailBefore})
	res := runCLI(t, "", "delete", "--endpoint-url", e.URL, "--user", "target", "--yes")
	assert.Equal(t, exitcode.LeftBehind, res.code, res.stderr)
	assert.Contains(t, res.stderr, "sesmtp delete --user target --force --yes")
	u, ok := srv.User("target")
	require.True(t, ok)
	assert.Empty(t, u.AccessKeys, "what could be removed was")

	srv.ClearFaults()
	res = runCLI(t, "", "delete", "--endpoint-url", e.URL, "--user", "target", "--yes")
	assert.Equal(t, 0, res.code, "a second run finishes the job: %s", res.stderr)
	_, ok = srv.User("target")
	assert.False(t, ok)
}

func TestDeleteConfirmation(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	before := snapshot(srv)

	res := runCLI(t, "", "delete", "--endpoint-url", e.URL, "--user", "target")
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, "pass --yes")
	assert.Zero(t, srv.CallCount(""), "nothing attempted")

	res = runCLI(t, "", "delete", "--endpoint-url", e.URL, "--user", "target", "--dry-run")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "inline policy \"AmazonSesSendingAccess\"\n")
	assert.Contains(t, res.stdout, "user \"target\"\n")
	assert.Equal(t, before, snapshot(srv))

	interactive := func(answer string) result {
		var out, errOut strings.Builder
		code := run(t.Context(), []string{"sesmtp", "delete", "--endpoint-url", e.URL, "--user", "target"},
			stdio{in: strings.NewReader(answer), out: &out, err: &errOut, interactive: true, now: time.Now})
		return result{code, out.String(), errOut.String()}
	}
	res = interactive("n\n")
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, "Proceed? [y/N]")
	assert.Contains(t, res.stderr, "aborted")
	assert.Equal(t, before, snapshot(srv))

	res = interactive("y\n")
	assert.Equal(t, 0, res.code, res.stderr)
	_, ok := srv.User("target")
	assert.False(t, ok)
}

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

func TestList(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	now := fixedNow

	res := runCLI(t, "", "list", "--endpoint-url", e.URL)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "no SMTP users found")
	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "[]\n", res.stdout)

	srv.PutUser(consoleUser("only1"))
	res = runCLI(t, "", "list", "--endpoint-url", e.URL)
	require.Equal(t, 0, res.code, res.stderr)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, 2, "header and one user: %s", res.stdout)
	assert.Regexp(t, `^only1\s+\S+\s+inline AmazonSesSendingAccess\s+AKIA\w+\s+Active\s+\d+\s+never$`, lines[1])
	srv.PutUser(iamtest.User{Name: "only1"}) // no longer an SMTP user

	_, err := e.Client().CreateGroup(t.Context(), groupInput(provision.ConsoleGroupName))
	require.NoError(t, err)
	for i := range 260 {
		u := iamtest.User{Name: fmt.Sprintf("user%03d", i), Created: now.Add(-200 * 24 * time.Hour)}
		key := iamtest.AccessKey{ID: fmt.Sprintf("AKIALIST%012d", i), SecretAccessKey: "s", Created: now.Add(-time.Duration(i) * 24 * time.Hour)}
		switch i % 4 {
		case 0:
			u.Tags = []iamtest.Tag{{Key: provision.TagManagedBy, Value: provision.ManagedByValue}}
			u.AccessKeys = []iamtest.AccessKey{key}
		case 1:
			u.InlinePolicies = map[string]string{provision.DefaultPolicyName: senderPolicyJSON}
			u.AccessKeys = []iamtest.AccessKey{key}
		case 2:
			u.Groups = []string{provision.ConsoleGroupName}
			u.AccessKeys = []iamtest.AccessKey{key}
		case 3: // not an SMTP user
		}
		srv.PutUser(u)
	}
	srv.SetKeyLastUsed("AKIALIST000000000001", now.Add(-time.Hour), "ses", "eu-west-1")

	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var users []provision.ListedUser
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &users))
	require.Len(t, users, 195, "three in four users are SMTP users, across ListUsers pages")
	assert.Equal(t, []string{provision.ByTag}, users[0].Reasons)
	assert.Equal(t, []string{provision.ByPolicy}, users[1].Reasons)
	assert.Equal(t, []string{provision.ByGroup}, users[2].Reasons)
	assert.Equal(t, 1, users[1].Keys[0].AgeDays)
	require.NotNil(t, users[1].Keys[0].LastUsed)
	assert.Equal(t, "eu-west-1", users[1].Keys[0].LastUsedRegion)
	assert.GreaterOrEqual(t, srv.CallCount("ListUsers"), 1)

	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--all-users", "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &users))
	assert.Len(t, users, 261, "with only1, which is no SMTP user any more")

	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--older-than", "250d")
	require.Equal(t, 0, res.code, res.stderr)
	lines = strings.Split(strings.TrimSpace(res.stdout), "\n")
	assert.Len(t, lines, 1+6, "header and the SMTP keys older than 250 days (252-258): %s", res.stdout)
	assert.Contains(t, lines[0], "LAST USED")
	assert.Contains(t, res.stdout, "user252")
	assert.NotContains(t, res.stdout, "user248")

	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--older-than", "soon")
	assert.Equal(t, exitcode.Usage, res.code)
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour} {
		got, err := parseAge(in)
		require.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "d", "-1d", "ninety"} {
		_, err := parseAge(bad)
		assert.Error(t, err, bad)
	}
}

// TestOperatorPolicyCoversLifecycle runs delete, rotate and list as a
// caller allowed exactly the operator policy's actions for each.
func TestOperatorPolicyCoversLifecycle(t *testing.T) {
	for _, cmd := range []string{"delete", "rotate", "list"} {
		t.Run(cmd, func(t *testing.T) {
			e := iamtest.Start(t, iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
				AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops",
				Allow: policy.CommandActions(cmd)}))
			srv := e.Local(t)
			srv.PutUser(consoleUser("target"))
			var runs [][]string
			switch cmd {
			case "delete":
				runs = [][]string{{"delete", "--endpoint-url", e.URL, "--user", "target", "--yes"}}
			case "rotate":
				runs = [][]string{rotateArgs(e, filepath.Join(t.TempDir(), "a.csv"), "--strategy", "key"),
					rotateArgs(e, filepath.Join(t.TempDir(), "b.csv"), "--yes")}
			case "list":
				runs = [][]string{{"list", "--endpoint-url", e.URL, "--all-users"}}
			}
			for _, args := range runs {
				res := runCLI(t, "", args...)
				require.Equal(t, 0, res.code, res.stderr)
			}
			for _, c := range srv.Calls() {
				assert.NotEqual(t, "AccessDenied", c.Outcome, "%s is missing from the operator policy for %s", c.Action, cmd)
			}
		})
	}
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
