package cli

import (
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
		{"console user", func(t *testing.T, e *iamtest.Endpoint) { e.State(t).PutUser(consoleUser("target")) }, nil, 0, true, ""},
		{"group user", func(t *testing.T, e *iamtest.Endpoint) {
			res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "target", "--group", provision.ConsoleGroupName, "--region", "eu-west-1")...)
			require.Equal(t, 0, res.code, res.stderr)
		}, nil, 0, true, ""},
		{"other policy refused", func(t *testing.T, e *iamtest.Endpoint) {
			u := consoleUser("target")
			u.InlinePolicies["admin"] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
			e.State(t).PutUser(u)
		}, nil, exitcode.Usage, false, `inline policy "admin" (not an SES sending policy)`},
		{"login profile refused", func(t *testing.T, e *iamtest.Endpoint) {
			u := consoleUser("target")
			u.LoginProfile = true
			e.State(t).PutUser(u)
		}, nil, exitcode.Usage, false, "console password"},
		{"plain key user refused", func(t *testing.T, e *iamtest.Endpoint) {
			e.State(t).PutUser(iamtest.User{Name: "target", AccessKeys: []iamtest.AccessKey{{ID: "AKIAPLAINKEY00000001"}}})
		}, nil, exitcode.Usage, false, "no SES sending policy, group or sesmtp tag"},
		{"force deletes everything", func(t *testing.T, e *iamtest.Endpoint) {
			u := consoleUser("target")
			u.LoginProfile, u.SSHPublicKeys, u.SigningCertificates = true, []string{"APKA1"}, []string{"CERT1"}
			u.ServiceCredentials, u.MFADevices = []string{"ACCA1"}, []string{"arn:aws:iam::123456789012:mfa/target", "GAHT12345678"}
			u.AttachedPolicies = map[string]string{"arn:aws:iam::aws:policy/ReadOnlyAccess": "ReadOnlyAccess"}
			e.State(t).PutUser(u)
		}, []string{"--any-user"}, 0, true, ""},
		{"old name --force still works", func(t *testing.T, e *iamtest.Endpoint) {
			u := consoleUser("target")
			u.LoginProfile = true
			e.State(t).PutUser(u)
		}, []string{"--force"}, 0, true, "is now --any-user"},
		{"refusal names the override", func(t *testing.T, e *iamtest.Endpoint) {
			u := consoleUser("target")
			u.LoginProfile = true
			e.State(t).PutUser(u)
		}, nil, exitcode.Usage, false, "pass --any-user to delete it"},
		{"missing", func(*testing.T, *iamtest.Endpoint) {}, nil, exitcode.Usage, false, `no IAM user "target": nothing to delete`},
		{"missing ignored", func(*testing.T, *iamtest.Endpoint) {}, []string{"--ignore-missing"}, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.State(t)
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
	srv := e.State(t)
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
	assert.Contains(t, res.stderr, "sesmtp delete --user target --any-user --yes")
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
	srv := e.State(t)
	srv.PutUser(consoleUser("target"))
	before := snapshot(srv)

	res := runCLI(t, "", "delete", "--endpoint-url", e.URL, "--user", "target")
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, "pass --yes")
	if e.Server != nil {
		assert.Zero(t, e.Server.CallCount(""), "nothing attempted")
	}

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
