package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// TestOperatorPolicyCoversLifecycle runs delete, rotate and list as a
// caller allowed exactly the operator policy's actions for each.
func TestOperatorPolicyCoversLifecycle(t *testing.T) {
	for _, cmd := range []string{"delete", "rotate", "retire", "list"} {
		t.Run(cmd, func(t *testing.T) {
			e := iamtest.Start(t, iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
				AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops",
				Allow: policy.CommandActions(cmd)}))
			srv := e.Local(t)
			srv.PutUser(consoleUser("target"))
			if cmd == "retire" {
				srv.PutUser(pendingUser("target", ""))
			}
			var runs [][]string
			switch cmd {
			case "delete":
				runs = [][]string{{"delete", "--endpoint-url", e.URL, "--user", "target", "--yes"}}
			case "rotate":
				runs = [][]string{rotateArgs(e, filepath.Join(t.TempDir(), "a.csv"), "--strategy", "key"),
					rotateArgs(e, filepath.Join(t.TempDir(), "b.csv"), "--yes")}
			case "retire":
				runs = [][]string{{"retire", "--endpoint-url", e.URL, "--all-pending", "--if-unused-for", "24h"},
					{"retire", "--endpoint-url", e.URL, "--user", "target", "--yes"}, {"retire", "--endpoint-url", e.URL, "--user", "target"}}
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

func TestPolicyCommands(t *testing.T) {
	iamtest.Isolate(t)
	res := runCLI(t, "", "policy", "sender", "--compact")
	require.Equal(t, 0, res.code)
	assert.Equal(t, senderPolicyJSON+"\n", res.stdout)

	res = runCLI(t, "", "policy", "sender", "--identity-arn", "arn:aws:ses:eu-west-1:123456789012:identity/example.com", "--compact")
	require.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, `"Resource":"arn:aws:ses:eu-west-1:123456789012:identity/example.com"`)

	res = runCLI(t, "", "policy", "operator")
	require.Equal(t, 0, res.code)
	var doc policy.Document
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &doc))
	assert.Equal(t, policy.OperatorActions(), []string(doc.Statement[0].Action))

	res = runCLI(t, "", "policy", "operator", "--command", "nope")
	assert.Equal(t, exitcode.Usage, res.code)
}

// TestOperatorPolicyCoversEveryCall runs create's flows against a caller
// allowed exactly the operator policy's actions for create: a missing
// action would fail with AccessDenied.
func TestOperatorPolicyCoversEveryCall(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
		AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops",
		Allow: policy.CommandActions("create"),
	}))
	srv := e.Local(t)
	for i, extra := range [][]string{nil, {"--group", "senders"}} {
		out := fmt.Sprintf("%s/c%d.csv", t.TempDir(), i)
		res := runCLI(t, "", append(createArgs(e, out, "--user", fmt.Sprintf("u%d", i), "--region", "eu-west-1"), extra...)...)
		require.Equal(t, 0, res.code, res.stderr)
	}
	// A rollback's calls too.
	srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.FailBefore, Code: "LimitExceeded"})
	res := runCLI(t, "", createArgs(e, t.TempDir()+"/x.csv", "--user", "u9", "--group", "fresh", "--region", "eu-west-1")...)
	require.Equal(t, exitcode.Failed, res.code, res.stderr)
	for _, c := range srv.Calls() {
		assert.NotEqual(t, "AccessDenied", c.Outcome, "%s is missing from the operator policy", c.Action)
	}
}
