package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// matrixCommand is a command that changes IAM, set up for the fault matrix.
type matrixCommand struct {
	name string
	// setup puts the state the command works on (and a bystander) in place.
	setup func(srv *iamtest.Server)
	// args runs the command with its files in dir.
	args func(e *iamtest.Endpoint, dir string) []string
	// done reports whether IAM and dir show the command completed.
	done func(t *testing.T, srv *iamtest.Server, dir string)
	// faults, if set, picks the calls the matrix fails (default: all).
	faults func(action string) bool
}

// faultKind is one way to fail the n-th call of an action.
type faultKind struct {
	name  string
	fault func(action string, nth int) iamtest.Fault
}

var matrixFaults = []faultKind{
	{"error before it takes effect", func(a string, n int) iamtest.Fault {
		return iamtest.Fault{Action: a, Nth: n, Count: 20, Kind: iamtest.FailBefore}
	}},
	{"ServiceFailure after it took effect", func(a string, n int) iamtest.Fault {
		return iamtest.Fault{Action: a, Nth: n, Kind: iamtest.FailAfter}
	}},
	{"connection dropped after it took effect", func(a string, n int) iamtest.Fault {
		return iamtest.Fault{Action: a, Nth: n, Kind: iamtest.DropAfter}
	}},
	{"burst of Throttling", func(a string, n int) iamtest.Fault {
		return iamtest.Fault{Action: a, Nth: n, Count: 2, Kind: iamtest.FailBefore, Code: "Throttling"}
	}},
	{"5 s stall against --timeout 300ms", func(a string, n int) iamtest.Fault {
		return iamtest.Fault{Action: a, Nth: n, Kind: iamtest.Delay, Delay: 5 * time.Second}
	}},
}

const matrixRegion = "eu-west-1"

func bystander(srv *iamtest.Server) {
	srv.PutUser(iamtest.User{Name: "bystander", InlinePolicies: map[string]string{"AmazonSesSendingAccess": senderPolicyJSON},
		AccessKeys: []iamtest.AccessKey{{ID: "AKIABYSTANDER0000001", SecretAccessKey: "bystander-secret-0000000000000000000000"}}})
}

func targetUser(srv *iamtest.Server) {
	bystander(srv)
	u := consoleUser("target")
	u.Tags = []iamtest.Tag{{Key: "team", Value: "mail"}}
	srv.PutUser(u)
}

func commonArgs(e *iamtest.Endpoint) []string {
	return []string{"--endpoint-url", e.URL, "--timeout", "300ms", "--max-backoff", "5ms", "--propagation-wait", "500ms"}
}

// matrixConsistency is the consistency-delay column's mode: IAM shows each
// new user, key, policy, group and membership only to the third call after
// the one that made it (deterministic, unlike a delay in time).
var matrixConsistency = iamtest.WithConsistency(iamtest.Consistency{Calls: 2})

var matrixCommands = []matrixCommand{
	{
		name:  "create",
		setup: bystander,
		args: func(e *iamtest.Endpoint, dir string) []string {
			return append([]string{"create", "--user", "target", "--region", matrixRegion, "--out", filepath.Join(dir, "target.csv")}, commonArgs(e)...)
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			u, ok := srv.User("target")
			require.True(t, ok)
			require.Len(t, u.AccessKeys, 1)
			assert.FileExists(t, filepath.Join(dir, "target.csv"))
		},
	},
	{
		name:  "rotate --strategy key",
		setup: targetUser,
		args: func(e *iamtest.Endpoint, dir string) []string {
			return append([]string{"rotate", "--user", "target", "--strategy", "key", "--region", matrixRegion, "--out", filepath.Join(dir, "target.csv")}, commonArgs(e)...)
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			u, _ := srv.User("target")
			old := consoleUser("target").AccessKeys[0].ID
			require.Len(t, u.AccessKeys, 2, "phase 1 leaves the old key")
			assert.Equal(t, old, u.AccessKeys[0].ID)
			assert.Equal(t, "Active", u.AccessKeys[0].Status)
			require.Len(t, retireTags(u), 1, "the old key's retirement is recorded")
			assert.True(t, strings.HasPrefix(retireTags(u)[0].Value, old+"@"))
			assert.FileExists(t, filepath.Join(dir, "target.csv"))
		},
	},
	{
		name:  "rotate --strategy recreate",
		setup: targetUser,
		args: func(e *iamtest.Endpoint, dir string) []string {
			return append([]string{"rotate", "--user", "target", "--yes", "--region", matrixRegion, "--out", filepath.Join(dir, "target.csv")}, commonArgs(e)...)
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			u, ok := srv.User("target")
			require.True(t, ok)
			require.Len(t, u.AccessKeys, 1)
			assert.Contains(t, u.Tags, iamtest.Tag{Key: "team", Value: "mail"}, "configuration restored")
			assert.Contains(t, u.InlinePolicies, "AmazonSesSendingAccess")
			assert.FileExists(t, filepath.Join(dir, "target.csv"))
		},
	},
	{
		name:  "delete",
		setup: targetUser,
		args: func(e *iamtest.Endpoint, dir string) []string {
			return append([]string{"delete", "--user", "target", "--yes"}, commonArgs(e)...)
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			_, ok := srv.User("target")
			assert.False(t, ok)
		},
	},
	{
		name:  "create --from-file",
		setup: bystander,
		args: func(e *iamtest.Endpoint, dir string) []string {
			list := filepath.Join(dir, "..", "senders.txt")
			if _, err := os.Stat(list); err != nil {
				_ = os.WriteFile(list, []byte("s1\ns2\n"), 0o600)
			}
			return append([]string{"create", "--from-file", list, "--out-dir", dir, "--concurrency", "2", "--region", matrixRegion}, commonArgs(e)...)
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			for _, s := range []string{"s1", "s2"} {
				_, ok := srv.User(s)
				assert.True(t, ok, s)
				assert.FileExists(t, filepath.Join(dir, s+".csv"))
			}
		},
	},
}

// The retire commands of the fault matrix: the deactivation, and the
// deletion of a key inactive long enough.
func init() {
	matrixCommands = append(matrixCommands,
		matrixCommand{
			name:  "retire (deactivate)",
			setup: func(srv *iamtest.Server) { bystander(srv); srv.PutUser(pendingUser("target", "")) },
			args: func(e *iamtest.Endpoint, dir string) []string {
				return append([]string{"retire", "--user", "target", "--if-unused-for", "24h"}, commonArgs(e)...)
			},
			done: retiredTo("Inactive"),
		},
		matrixCommand{
			name:  "retire (delete)",
			setup: func(srv *iamtest.Server) { bystander(srv); srv.PutUser(deactivatedUser("target")) },
			args: func(e *iamtest.Endpoint, dir string) []string {
				return append([]string{"retire", "--user", "target", "--yes"}, commonArgs(e)...)
			},
			done: retiredTo(""),
		})
}

// deactivatedUser is pendingUser after a first retire, long ago.
func deactivatedUser(name string) iamtest.User {
	u := pendingUser(name, consoleUser(name).AccessKeys[0].ID+"@2026-11-20T12:00:00Z/deactivated@2026-11-21T12:00:00Z")
	u.AccessKeys[0].Status = "Inactive"
	return u
}

// retiredTo checks that retire left target's old key with status (""
// for deleted, with its record) and never touched the new one.
func retiredTo(status string) func(t *testing.T, srv *iamtest.Server, dir string) {
	return func(t *testing.T, srv *iamtest.Server, dir string) {
		t.Helper()
		u, _ := srv.User("target")
		newKey := pendingUser("target", "").AccessKeys[1].ID
		record := retireTags(u)
		if status == "" {
			require.Len(t, u.AccessKeys, 1, "the old key is deleted")
			assert.Empty(t, record, "and its record removed")
		} else {
			require.Len(t, u.AccessKeys, 2)
			assert.Equal(t, status, u.AccessKeys[0].Status)
			require.Len(t, record, 1)
			assert.Contains(t, record[0].Value, "/deactivated@", "the deactivation is recorded")
		}
		assert.Equal(t, newKey, u.AccessKeys[len(u.AccessKeys)-1].ID, "the new key is never touched")
		assert.Equal(t, "Active", u.AccessKeys[len(u.AccessKeys)-1].Status)
	}
}

// TestFaultMatrix fails every IAM call of every command that changes IAM,
// in every way in matrixFaults, and checks after each run that:
//   - it completed, or left IAM exactly as before (exit 1), or exited 4
//     naming what remains and the command that removes it;
//   - IAM holds no key the run made whose secret is not in a written file;
//   - no credentials file names a key IAM does not hold;
//   - nothing it did not target changed.
func TestFaultMatrix(t *testing.T) {
	cases, held := 0, 0
	for _, cmd := range matrixCommands {
		calls, nths := faulted(cmd, discoverCalls(t, cmd))
		for i, call := range calls {
			nth := nths[i]
			for _, fk := range matrixFaults {
				cases++
				name := fmt.Sprintf("%s/%s#%d/%s", cmd.name, call, nth, fk.name)
				fault := fk.fault(call, nth)
				if t.Run(name, func(t *testing.T) { runMatrixCase(t, cmd, &fault) }) {
					held++
				}
			}
			// The consistency-delay column, sampled to keep the matrix's
			// time: every call, with one fault kind each, in rotation.
			fk := matrixFaults[i%len(matrixFaults)]
			cases++
			name := fmt.Sprintf("%s/%s#%d/consistency delay + %s", cmd.name, call, nth, fk.name)
			fault := fk.fault(call, nth)
			if t.Run(name, func(t *testing.T) { runMatrixCase(t, cmd, &fault, matrixConsistency) }) {
				held++
			}
		}
		cases++
		if t.Run(cmd.name+"/consistency delay, no fault", func(t *testing.T) { runMatrixCase(t, cmd, nil, matrixConsistency) }) {
			held++
		}
	}
	t.Logf("fault matrix: %d cases, %d held", cases, held)
}

// discoverCalls runs cmd without faults and returns the actions it called.
func discoverCalls(t *testing.T, cmd matrixCommand) []string {
	t.Helper()
	e := iamtest.Start(t)
	srv := e.Local(t)
	cmd.setup(srv)
	srv.ResetCalls()
	dir := filepath.Join(t.TempDir(), "out")
	// Without faults the run must complete: a loaded machine must not
	// make it miss the cases' 300 ms timeout (the last --timeout wins).
	res := runCLI(t, "", append(cmd.args(e, dir), "--timeout", "30s")...)
	require.Equal(t, 0, res.code, "%s without faults: %s", cmd.name, res.stderr)
	var actions []string
	for _, c := range srv.Calls() {
		actions = append(actions, c.Action)
	}
	return actions
}

// faulted is the calls of calls the matrix fails for cmd, with the number
// of each (a Fault's Nth): every call, or those cmd.faults picks.
func faulted(cmd matrixCommand, calls []string) (picked []string, nth []int) {
	seen := map[string]int{}
	for _, call := range calls {
		seen[call]++
		if cmd.faults == nil || cmd.faults(call) {
			picked, nth = append(picked, call), append(nth, seen[call])
		}
	}
	return picked, nth
}

// runMatrixCase runs cmd against a server started with opts, with fault
// injected (nil: none, which must complete).
func runMatrixCase(t *testing.T, cmd matrixCommand, fault *iamtest.Fault, opts ...iamtest.Option) {
	e := iamtest.Start(t, opts...)
	srv := e.Local(t)
	cmd.setup(srv)
	before := snapshot(srv)
	beforeKeys := keyIDs(srv)
	bystanderBefore, _ := srv.User("bystander")
	if fault != nil {
		srv.Inject(*fault)
	}
	dir := filepath.Join(t.TempDir(), "out")

	res := runCLI(t, "", cmd.args(e, dir)...)
	assertNoSecrets(t, e, res.stdout, res.stderr)
	by, _ := srv.User("bystander")
	assert.Equal(t, bystanderBefore, by, "a user the command did not target changed")
	assertKeysAndFilesAgree(t, srv, dir, beforeKeys)
	if fault == nil {
		require.Equal(t, exitcode.OK, res.code, "with no fault the command completes: %s", res.stderr)
	}
	switch res.code {
	case exitcode.OK:
		cmd.done(t, srv, dir)
	case exitcode.Failed:
		if !strings.Contains(cmd.name, "--from-file") {
			assert.Equal(t, before, snapshot(srv), "exit 1 must leave IAM exactly as it was: %s", res.stderr)
		}
	case exitcode.LeftBehind:
		assert.Regexp(t, `Remove it with|remove it|Recreate it with|running it again|delete-access-key|sesmtp delete|Run the same command again`, res.stderr)
	default:
		t.Errorf("exit %d is not 0, 1 or 4: %s", res.code, res.stderr)
	}
}

func keyIDs(srv *iamtest.Server) map[string]bool {
	ids := map[string]bool{}
	for _, u := range srv.Users() {
		for _, k := range u.AccessKeys {
			ids[k.ID] = true
		}
	}
	return ids
}

// assertKeysAndFilesAgree: every key made during the run is in a file or a
// secret store with its right password, and every file's key, and every
// key a secret or parameter names, is one IAM holds.
func assertKeysAndFilesAgree(t *testing.T, srv *iamtest.Server, dir string, before map[string]bool) {
	t.Helper()
	inFiles := map[string]string{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	for _, p := range paths {
		f, err := os.Open(p)
		require.NoError(t, err)
		entries, err := credfile.Read(f)
		f.Close()
		require.NoError(t, err, p)
		for _, en := range entries {
			inFiles[en.Username] = en.Password.Reveal()
		}
	}
	for id, pw := range storedPasswords(t, srv) { // a secret store is as good as a file
		if _, inFile := inFiles[id]; !inFile {
			inFiles[id] = pw
		}
	}
	assertStoresNameHeldKeys(t, srv)
	held := map[string]bool{}
	for _, u := range srv.Users() {
		for _, k := range u.AccessKeys {
			held[k.ID] = true
			if before[k.ID] {
				continue
			}
			pw, ok := inFiles[k.ID]
			if assert.True(t, ok, "IAM holds key %s of %s whose secret is in no file or store", k.ID, u.Name) {
				assert.Equal(t, derive.PasswordV4(k.SecretAccessKey, matrixRegion), pw, "the file's password is not the key's")
			}
		}
	}
	for id := range inFiles {
		assert.True(t, held[id], "a file names key %s, which IAM does not hold", id)
	}
}

// TestCrashBetweenKeyAndFile kills sesmtp with SIGKILL after IAM made the
// key and before the file exists: the pending marker lets the next run
// remove that key and user, so no key whose secret nobody has survives.
func TestCrashBetweenKeyAndFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		args func(e *iamtest.Endpoint, dir string) []string
	}{
		{"create", func(e *iamtest.Endpoint, dir string) []string {
			return []string{"create", "--endpoint-url", e.URL, "--user", "target", "--region", matrixRegion, "--out", filepath.Join(dir, "target.csv")}
		}},
		{"create --from-file", func(e *iamtest.Endpoint, dir string) []string {
			list := filepath.Join(filepath.Dir(dir), "senders.txt")
			_ = os.WriteFile(list, []byte("target\n"), 0o600)
			return []string{"create", "--endpoint-url", e.URL, "--from-file", list, "--out-dir", dir, "--region", matrixRegion}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			dir := filepath.Join(t.TempDir(), "out")
			cmd := subprocess(t, tc.args(e, dir)...)
			cmd.Env = append(os.Environ(), runAsMainEnv+"=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			var proc atomic.Pointer[os.Process]
			exited := make(chan struct{})
			srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.Delay, OnPerformed: func(iamtest.Call) {
				_ = proc.Load().Kill() // SIGKILL: no rollback can run
				select {
				case <-exited:
				case <-time.After(time.Minute): // a guard, not a synchronisation: the test fails below
				}
			}})
			require.NoError(t, cmd.Start())
			proc.Store(cmd.Process)
			err := cmd.Wait()
			close(exited)
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "%v: %s", err, stderr.String())
			assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())

			u, ok := srv.User("target")
			require.True(t, ok, "the crash left the user")
			require.Len(t, u.AccessKeys, 1, "and a key whose secret nobody has")
			crashed := u.AccessKeys[0].ID
			assert.NoFileExists(t, filepath.Join(dir, "target.csv"))
			assert.FileExists(t, journal.MarkerPath(filepath.Join(dir, "target.csv")))

			srv.ClearFaults()
			res := runCLI(t, "", tc.args(e, dir)...)
			require.Equal(t, 0, res.code, res.stderr)
			u, _ = srv.User("target")
			require.Len(t, u.AccessKeys, 1)
			assert.NotEqual(t, crashed, u.AccessKeys[0].ID, "the crashed run's key is gone")
			assertKeysAndFilesAgree(t, srv, dir, map[string]bool{})
			assert.NoFileExists(t, journal.MarkerPath(filepath.Join(dir, "target.csv")))
		})
	}
}
