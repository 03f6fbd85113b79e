package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// truthArgs are the AWS flags of these tests: quick retries, a short wait
// for IAM to propagate, and the request log.
func truthArgs(e *iamtest.Endpoint) []string {
	return []string{"--endpoint-url", e.URL, "--max-backoff", "5ms", "--propagation-wait", "5s", "--verbose"}
}

// TestFlowsSurviveEventualConsistency runs every command that creates
// something against an endpoint that shows each new entity only to the
// fourth call after the one that made it: each completes, and says with
// --verbose that it waited for IAM.
func TestFlowsSurviveEventualConsistency(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(srv *iamtest.Server, dir string)
		args  func(dir string) []string
		check func(t *testing.T, srv *iamtest.Server, dir string)
		waits bool // reads back something it made (rotate --strategy key does not)
	}{
		{"create", func(srv *iamtest.Server, _ string) { bystander(srv) }, func(dir string) []string {
			return []string{"create", "--user", "target", "--region", matrixRegion, "--out", filepath.Join(dir, "t.csv")}
		}, func(t *testing.T, srv *iamtest.Server, dir string) {
			u, _ := srv.User("target")
			assert.Len(t, u.AccessKeys, 1)
			assert.Contains(t, u.InlinePolicies, "AmazonSesSendingAccess")
		}, true},
		{"create --group (a new group)", func(srv *iamtest.Server, _ string) { bystander(srv) }, func(dir string) []string {
			return []string{"create", "--user", "target", "--group", "new-senders", "--region", matrixRegion, "--out", filepath.Join(dir, "t.csv")}
		}, func(t *testing.T, srv *iamtest.Server, dir string) {
			g, ok := srv.Group("new-senders")
			require.True(t, ok)
			assert.Equal(t, []string{"target"}, g.Members)
			assert.Len(t, g.InlinePolicies, 1)
		}, true},
		{"rotate --strategy recreate", func(srv *iamtest.Server, _ string) { targetUser(srv) }, func(dir string) []string {
			return []string{"rotate", "--user", "target", "--yes", "--region", matrixRegion, "--out", filepath.Join(dir, "t.csv")}
		}, func(t *testing.T, srv *iamtest.Server, dir string) {
			u, _ := srv.User("target")
			assert.Len(t, u.AccessKeys, 1)
			assert.Contains(t, u.Tags, iamtest.Tag{Key: "team", Value: "mail"})
		}, true},
		{"rotate --strategy key", func(srv *iamtest.Server, _ string) { targetUser(srv) }, func(dir string) []string {
			return []string{"rotate", "--user", "target", "--strategy", "key", "--region", matrixRegion, "--out", filepath.Join(dir, "t.csv")}
		}, func(t *testing.T, srv *iamtest.Server, dir string) {
			u, _ := srv.User("target")
			assert.Len(t, u.AccessKeys, 2, "phase 1 leaves the old key")
			assert.Len(t, retireTags(u), 1, "and records it")
		}, false},
		{"retire", func(srv *iamtest.Server, _ string) { bystander(srv); srv.PutUser(pendingUser("target", "")) }, func(dir string) []string {
			return []string{"retire", "--user", "target", "--if-unused-for", "24h"}
		}, func(t *testing.T, srv *iamtest.Server, dir string) { retiredTo("Inactive")(t, srv, dir) }, false},
		{"create --from-file with a group", func(srv *iamtest.Server, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "senders.csv"), []byte("user,group\ns1,mailers\ns2,mailers\n"), 0o600))
		}, func(dir string) []string {
			return []string{"create", "--from-file", filepath.Join(dir, "senders.csv"), "--out-dir", filepath.Join(dir, "out"), "--region", matrixRegion}
		}, func(t *testing.T, srv *iamtest.Server, dir string) {
			g, _ := srv.Group("mailers")
			assert.ElementsMatch(t, []string{"s1", "s2"}, g.Members)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := iamtest.Start(t, iamtest.WithConsistency(iamtest.Consistency{Calls: 3}))
			srv := e.Local(t)
			dir := t.TempDir()
			tc.setup(srv, dir)
			res := runCLI(t, "", append(tc.args(dir), truthArgs(e)...)...)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			tc.check(t, srv, dir)
			assertNoSecrets(t, e, res.stdout, res.stderr)
			if !tc.waits {
				return
			}
			assert.Contains(t, res.stderr, "waiting for IAM to propagate", "--verbose says why it waits")
			noSuch := 0
			for _, c := range srv.Calls() {
				if c.Outcome == "NoSuchEntity" {
					noSuch++
				}
			}
			assert.Positive(t, noSuch, "IAM did answer NoSuchEntity for what the run had just made")
		})
	}
}

// TestRollbackWaitsForAUserIAMDoesNotShowYet: CreateUser takes effect but
// its answer never comes (--timeout), and IAM does not show the user yet.
// The rollback must not read that NoSuchEntity as "never made": it waits,
// finds its own user, and removes it.
func TestRollbackWaitsForAUserIAMDoesNotShowYet(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithConsistency(iamtest.Consistency{Calls: 3}))
	srv := e.Local(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the server closes
	srv.Inject(iamtest.Fault{Action: "CreateUser", Kind: iamtest.Delay, OnPerformed: func(iamtest.Call) {
		select { // hold the answer past the client's --timeout
		case <-release:
		case <-time.After(time.Minute):
		}
	}})
	res := runCLI(t, "", append([]string{"create", "--user", "target", "--region", matrixRegion,
		"--out", filepath.Join(t.TempDir(), "t.csv"), "--timeout", "300ms"}, truthArgs(e)...)...)
	assert.Equal(t, exitcode.Failed, res.code, res.stderr)
	_, ok := srv.User("target")
	assert.False(t, ok, "the user the unanswered CreateUser made is removed, not left behind: %s", res.stderr)
}

func TestConcurrentModificationIsRetried(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.Inject(iamtest.Fault{Action: "PutUserPolicy", Nth: 1, Count: 2, Kind: iamtest.FailBefore, Code: "ConcurrentModification"})
	srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Nth: 1, Kind: iamtest.FailBefore, Code: "ConcurrentModification"})
	res := runCLI(t, "", append([]string{"create", "--user", "target", "--region", matrixRegion,
		"--out", filepath.Join(t.TempDir(), "t.csv")}, truthArgs(e)...)...)
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	assert.Equal(t, 3, srv.CallCount("PutUserPolicy"))
	assert.Equal(t, 2, srv.CallCount("CreateAccessKey"))
}

// TestListingTheEndpointLacksIsSkipped: against an endpoint that does not
// implement ListServiceSpecificCredentials (moto, LocalStack, ...), delete
// and rotate --strategy recreate work, warning once; and when the user does
// hold such a credential, IAM's DeleteConflict is the final word.
func TestListingTheEndpointLacksIsSkipped(t *testing.T) {
	const lacking = "ListServiceSpecificCredentials"
	warning := regexp.MustCompile(`(?m)^warning: the IAM endpoint does not implement iam:` + lacking + ` \(it answered [^)]+\); sesmtp skipped it`)
	for _, how := range []iamtest.Unimplemented{iamtest.Answer501, iamtest.Answer500HTML, iamtest.AnswerNotImplemented, iamtest.AnswerInvalidAction} {
		t.Run(how.String(), func(t *testing.T) {
			for _, args := range [][]string{
				{"delete", "--user", "target", "--yes"},
				{"rotate", "--user", "target", "--yes", "--region", matrixRegion, "--out", filepath.Join(t.TempDir(), "t.csv")},
			} {
				e := iamtest.Start(t, iamtest.WithUnimplemented(how, lacking))
				srv := e.Local(t)
				targetUser(srv)
				res := runCLI(t, "", append(args, "--endpoint-url", e.URL, "--max-backoff", "5ms")...)
				require.Equal(t, exitcode.OK, res.code, "%s: %s", args[0], res.stderr)
				assert.Len(t, warning.FindAllString(res.stderr, -1), 1, "one warning naming the call: %s", res.stderr)
				u, exists := srv.User("target")
				if args[0] == "delete" {
					assert.False(t, exists)
				} else {
					assert.Len(t, u.AccessKeys, 1, "recreated with a new key")
				}
			}
		})
	}

	t.Run("DeleteConflict has the last word", func(t *testing.T) {
		e := iamtest.Start(t, iamtest.WithUnimplemented(iamtest.Answer500HTML, lacking))
		srv := e.Local(t)
		u := consoleUser("target")
		u.ServiceCredentials = []string{"ACCAEXAMPLE123EXAMPLE"}
		srv.PutUser(u)
		res := runCLI(t, "", "delete", "--user", "target", "--yes", "--endpoint-url", e.URL, "--max-backoff", "5ms")
		assert.NotEqual(t, exitcode.OK, res.code)
		assert.Contains(t, res.stderr, "DeleteConflict", "IAM's own answer reaches the user")
		assert.Contains(t, res.stderr, "must delete service specific credentials first")
		assert.Equal(t, 1, strings.Count(res.stderr, "warning: the IAM endpoint does not implement"))
		_, exists := srv.User("target")
		assert.True(t, exists, "nothing IAM forbids was done")
	})
}
