package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// fullMatrixEnv runs the whole kill matrix (make test-full); without it,
// make test kills at every journal step, at --verify and after every IAM
// call that changes something, but not after read-only calls.
const fullMatrixEnv = "SESMTP_FULL_MATRIX"

// killEvent is a moment at which the kill matrix SIGKILLs sesmtp.
type killEvent struct {
	// kind is "iam" (after IAM performed the nth call of name, before its
	// answer arrives), "step" (the nth time the run reaches journal step
	// name) or "smtp" (during --verify's SMTP AUTH).
	kind, name string
	nth        int
}

func (e killEvent) String() string { return fmt.Sprintf("%s:%s#%d", e.kind, e.name, e.nth) }

// killCommand is a command the kill matrix runs, kills and runs again.
type killCommand struct {
	name string
	// setup puts the state the command works on in place (and the bystander).
	setup func(t *testing.T, srv *iamtest.Server, dir string)
	// args runs the command with its files in dir; smtp is nil unless verify.
	args   func(url, dir string, smtp *smtptest.Server) []string
	verify bool
	// files are the credentials files it delivers, in dir.
	files []string
	// afterKill, if set, checks dir right after the kill.
	afterKill func(t *testing.T, dir string)
	// done checks IAM and dir after the rerun.
	done func(t *testing.T, srv *iamtest.Server, dir string)
}

const killTimeout = "30s"

func killArgs(url string, args ...string) []string {
	return append(args, "--endpoint-url", url, "--region", matrixRegion, "--timeout", killTimeout, "--max-backoff", "5ms")
}

func verifyArgs(smtp *smtptest.Server) []string {
	return []string{"--verify", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile}
}

const oldFile = "an old credentials file that --force replaces\n"

var killCommands = []killCommand{
	{
		name:  "create",
		setup: func(t *testing.T, srv *iamtest.Server, dir string) { bystander(srv) },
		args: func(url, dir string, _ *smtptest.Server) []string {
			return killArgs(url, "create", "--user", "target", "--out", filepath.Join(dir, "target.csv"))
		},
		files: []string{"target.csv"},
		done:  matrixCommands[0].done,
	},
	{
		name: "create --group --force over an old file",
		setup: func(t *testing.T, srv *iamtest.Server, dir string) {
			bystander(srv)
			require.NoError(t, os.MkdirAll(dir, 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "target.csv"), []byte(oldFile), 0o600))
		},
		args: func(url, dir string, _ *smtptest.Server) []string {
			return killArgs(url, "create", "--user", "target", "--group", "senders", "--force", "--out", filepath.Join(dir, "target.csv"))
		},
		files: []string{"target.csv"},
		afterKill: func(t *testing.T, dir string) {
			data, err := os.ReadFile(filepath.Join(dir, "target.csv"))
			require.NoError(t, err, "--force never removes the old file before the new one is in place")
			if string(data) != oldFile {
				_, err := credfile.Read(bytes.NewReader(data))
				assert.NoError(t, err, "the file is the old one or a whole new one")
			}
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			matrixCommands[0].done(t, srv, dir)
			u, _ := srv.User("target")
			assert.Equal(t, []string{"senders"}, u.Groups)
		},
	},
	{
		name:   "create --verify",
		setup:  func(t *testing.T, srv *iamtest.Server, dir string) { bystander(srv) },
		verify: true,
		args: func(url, dir string, smtp *smtptest.Server) []string {
			return append(killArgs(url, "create", "--user", "target", "--out", filepath.Join(dir, "target.csv")), verifyArgs(smtp)...)
		},
		files: []string{"target.csv"},
		done:  matrixCommands[0].done,
	},
	{
		name: "create --from-file",
		setup: func(t *testing.T, srv *iamtest.Server, dir string) {
			bystander(srv)
			require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(dir), "senders.txt"), []byte("s1\ns2\n"), 0o600))
		},
		args: func(url, dir string, _ *smtptest.Server) []string {
			return killArgs(url, "create", "--from-file", filepath.Join(filepath.Dir(dir), "senders.txt"), "--out-dir", dir, "--concurrency", "2")
		},
		files: []string{"s1.csv", "s2.csv"},
		done:  matrixCommands[4].done,
	},
	{
		name:  "rotate --strategy key",
		setup: func(t *testing.T, srv *iamtest.Server, dir string) { targetUser(srv) },
		args: func(url, dir string, _ *smtptest.Server) []string {
			return killArgs(url, "rotate", "--user", "target", "--strategy", "key", "--out", filepath.Join(dir, "target.csv"))
		},
		files: []string{"target.csv"},
		done:  matrixCommands[1].done,
	},
	{
		name:   "rotate --strategy key --verify",
		setup:  func(t *testing.T, srv *iamtest.Server, dir string) { targetUser(srv) },
		verify: true,
		args: func(url, dir string, smtp *smtptest.Server) []string {
			return append(killArgs(url, "rotate", "--user", "target", "--strategy", "key", "--out", filepath.Join(dir, "target.csv")), verifyArgs(smtp)...)
		},
		files: []string{"target.csv"},
		done:  matrixCommands[1].done,
	},
	{
		name:  "rotate --strategy recreate",
		setup: func(t *testing.T, srv *iamtest.Server, dir string) { targetUser(srv) },
		args: func(url, dir string, _ *smtptest.Server) []string {
			return killArgs(url, "rotate", "--user", "target", "--yes", "--out", filepath.Join(dir, "target.csv"))
		},
		files: []string{"target.csv"},
		done:  matrixCommands[2].done,
	},
}

// The retire commands of the kill matrix: a deactivation (its grace
// outlasts the rerun, whose clock is the tests' fixed one) and the
// deletion of a key inactive long enough. retire keeps no journal: a
// rerun reads the tag and the keys and finishes the step.
func init() {
	retireArgs := func(url string, extra ...string) []string {
		return append([]string{"retire", "--user", "target", "--yes", "--endpoint-url", url, "--timeout", killTimeout, "--max-backoff", "5ms"}, extra...)
	}
	killCommands = append(killCommands,
		killCommand{
			name: "retire (deactivate)",
			setup: func(t *testing.T, srv *iamtest.Server, dir string) {
				bystander(srv)
				srv.PutUser(pendingUser("target", ""))
			},
			args: func(url, dir string, _ *smtptest.Server) []string { return retireArgs(url, "--grace", "7d") },
			done: func(t *testing.T, srv *iamtest.Server, dir string) { retiredTo("Inactive")(t, srv, dir) },
		},
		killCommand{
			name: "retire (delete)",
			setup: func(t *testing.T, srv *iamtest.Server, dir string) {
				bystander(srv)
				srv.PutUser(deactivatedUser("target"))
			},
			args: func(url, dir string, _ *smtptest.Server) []string { return retireArgs(url) },
			done: func(t *testing.T, srv *iamtest.Server, dir string) { retiredTo("")(t, srv, dir) },
		},
		killCommand{
			name: "retire (delete), a record in the key's own tag",
			setup: func(t *testing.T, srv *iamtest.Server, dir string) {
				bystander(srv)
				srv.PutUser(perKeyRecord(deactivatedUser("target")))
			},
			args: func(url, dir string, _ *smtptest.Server) []string { return retireArgs(url) },
			done: func(t *testing.T, srv *iamtest.Server, dir string) { retiredTo("")(t, srv, dir) },
		})
}

// The delete commands of the kill matrix: a rerun after a kill at any
// call finishes the job (with --ignore-missing, as a script runs it: the
// kill may come after DeleteUser took effect). delete keeps no journal:
// what is left is in IAM (and, with --delete-stored, the user's
// sesmtp:store tag still names the store, which goes first).
func init() {
	killCommands = append(killCommands, killCommand{
		name:  "delete",
		setup: func(t *testing.T, srv *iamtest.Server, dir string) { targetUser(srv) },
		args: func(url, dir string, _ *smtptest.Server) []string {
			return deleteKillArgs(url)
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) { assertDeleted(t, srv, "target") },
	})
}

// deleteKillArgs is the delete the kill matrix runs (delete takes no --region).
func deleteKillArgs(url string, extra ...string) []string {
	return append([]string{"delete", "--user", "target", "--yes", "--ignore-missing", "--endpoint-url", url,
		"--timeout", killTimeout, "--max-backoff", "5ms"}, extra...)
}

// assertDeleted: nothing of user is left in IAM, nor in a store.
func assertDeleted(t *testing.T, srv *iamtest.Server, user string) {
	t.Helper()
	_, left := srv.User(user)
	assert.False(t, left, "IAM user %s is left", user)
	for _, e := range storedEntries(t, srv) {
		assert.NotContains(t, e.where, user, "%s is left (naming key %s)", e.where, e.keyID)
	}
}

// perKeyRecord is u with its retirement recorded as sesmtp writes it now,
// in its key's own tag (sesmtp:retire:KEYID), not the single tag of an
// earlier sesmtp.
func perKeyRecord(u iamtest.User) iamtest.User {
	for i, tag := range u.Tags {
		if tag.Key == provision.TagRetire {
			r, _ := provision.ParseRetirement(tag.Value)
			u.Tags[i].Key = provision.RetireTagKey(r.AccessKeyID)
		}
	}
	return u
}

// TestKillMatrix SIGKILLs the real sesmtp binary at every step of create,
// create --from-file and rotate (both strategies): after each IAM call
// took effect (before its answer arrives), at each journal step (marker
// written, temporary file written, file placed, delivery recorded,
// temporary name removed, run closing) and during --verify. After each
// kill it runs the same command again and checks that it succeeds, that
// IAM holds exactly the keys the credentials files deliver (no key whose
// secret is in no file, no file naming a key IAM lacks), that nothing
// else changed, that no temporary file, marker, lock or extra link is
// left, and that no secret is anywhere but in its own final file.
func TestKillMatrix(t *testing.T) {
	if os.Getenv(iamtest.ExternalEndpointEnv) != "" {
		t.Skip("needs the local IAM endpoint")
	}
	iamtest.Isolate(t)
	full := os.Getenv(fullMatrixEnv) != ""
	var cases, held atomic.Int64
	t.Run("cases", func(t *testing.T) {
		for _, cmd := range killCommands {
			for _, ev := range discoverKillEvents(t, cmd) {
				if !full && !sampled(ev) {
					continue
				}
				cases.Add(1)
				t.Run(cmd.name+"/"+ev.String(), func(t *testing.T) {
					t.Parallel()
					runKillCase(t, cmd, ev)
					if !t.Failed() {
						held.Add(1)
					}
				})
			}
		}
	})
	scope := "sampled: every journal step, --verify and every IAM call that changes something; make test-full for all"
	if full {
		scope = "full"
	}
	t.Logf("kill matrix: %d cases, %d held (%s)", cases.Load(), held.Load(), scope)
}

// sampled reports whether make test runs ev: read-only calls (IAM's and
// the stores') are left to the full matrix (a kill after one is a kill
// before the next write).
func sampled(ev killEvent) bool {
	if ev.kind != "iam" {
		return true
	}
	_, name, _ := strings.Cut(ev.name, ":") // a store call: "secretsmanager:DescribeSecret"
	if name == "" {
		name = ev.name
	}
	return !strings.HasPrefix(name, "List") && !strings.HasPrefix(name, "Get") && !strings.HasPrefix(name, "Describe")
}

func localServer(t *testing.T) (*iamtest.Endpoint, *iamtest.Server) {
	s := iamtest.NewServer()
	t.Cleanup(s.Close)
	return &iamtest.Endpoint{URL: s.URL, AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, Server: s}, s
}

// runCLISteps runs sesmtp in-process, telling step each journal step.
func runCLISteps(t testing.TB, step func(string), args ...string) result {
	var out, errOut bytes.Buffer
	code := run(t.Context(), append([]string{"sesmtp"}, args...), stdio{
		in: strings.NewReader(""), out: &out, err: &errOut, now: func() time.Time { return fixedNow }, step: step,
	})
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// inProcess serialises the in-process runs of parallel subtests: two
// cannot overlap in one process (urfave/cli applies its package-level help
// flag on every run). Runs that must overlap run as processes.
var inProcess sync.Mutex

// discoverKillEvents runs cmd cleanly and lists every moment to kill it at.
func discoverKillEvents(t *testing.T, cmd killCommand) []killEvent {
	t.Helper()
	e, srv := localServer(t)
	dir := filepath.Join(t.TempDir(), "out")
	cmd.setup(t, srv, dir)
	srv.ResetCalls()
	var smtp *smtptest.Server
	if cmd.verify {
		smtp = smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, matrixRegion)})
	}
	var mu sync.Mutex
	var events []killEvent
	seen := map[string]int{}
	add := func(kind, name string, performed bool) {
		mu.Lock()
		defer mu.Unlock()
		seen[kind+name]++ // as a Fault's Nth counts: every call of the action
		if performed {
			events = append(events, killEvent{kind, name, seen[kind+name]})
		}
	}
	res := runCLISteps(t, func(s string) { add("step", s, true) }, cmd.args(e.URL, dir, smtp)...)
	require.Equal(t, 0, res.code, "%s without a kill: %s", cmd.name, res.stderr)
	for _, c := range srv.Calls() {
		add("iam", c.Action, c.Performed()) // OnPerformed kills only after a call took effect
	}
	if cmd.verify {
		add("smtp", "AUTH", true)
	}
	return events
}

func runKillCase(t *testing.T, cmd killCommand, ev killEvent) {
	e, srv := localServer(t)
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	cmd.setup(t, srv, dir)
	bystanderBefore, _ := srv.User("bystander")
	keysBefore := keyIDs(srv) // the bystander's, and the old keys a rotation or retire works on
	var proc atomic.Pointer[os.Process]
	exited := make(chan struct{})
	kill := func() {
		if p := proc.Load(); p != nil {
			_ = p.Kill()
		}
		select {
		case <-exited:
		case <-time.After(time.Minute): // a guard against a hang, not a synchronisation
		}
	}
	var smtp *smtptest.Server
	if cmd.verify {
		accept := acceptIAMKeys(srv, matrixRegion)
		var once sync.Once
		smtp = smtptest.NewServer(t, smtptest.Options{Accept: func(u, p string) bool {
			if ev.kind == "smtp" {
				once.Do(kill)
			}
			return accept(u, p)
		}})
	}
	args := cmd.args(e.URL, dir, smtp)
	c := subprocess(t, args...)
	c.Env = append(os.Environ(), runAsMainEnv+"=1")
	switch ev.kind {
	case "step":
		c.Env = append(c.Env, fmt.Sprintf("%s=%s#%d", killAtEnv, ev.name, ev.nth))
	case "iam":
		srv.Inject(iamtest.Fault{Action: ev.name, Nth: ev.nth, Kind: iamtest.Delay, OnPerformed: func(iamtest.Call) { kill() }})
	}
	var stderr bytes.Buffer
	c.Stderr = &stderr
	require.NoError(t, c.Start())
	proc.Store(c.Process)
	err := c.Wait()
	close(exited)
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "not killed at %s: %v: %s", ev, err, stderr.String())
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "%s", stderr.String())
	srv.ClearFaults()
	if cmd.afterKill != nil {
		cmd.afterKill(t, dir)
	}

	inProcess.Lock()
	res := runCLI(t, "", args...)
	inProcess.Unlock()
	require.Equal(t, 0, res.code, "the rerun after a kill at %s: %s", ev, res.stderr)
	assertNoSecrets(t, e, stderr.String(), res.stdout, res.stderr)
	by, _ := srv.User("bystander")
	assert.Equal(t, bystanderBefore, by, "a user the command did not target changed")
	cmd.done(t, srv, dir)
	assertKeysAndFilesAgree(t, srv, dir, keysBefore)
	assertOnlyFinalFiles(t, srv, root, dir, cmd.files)
}

// assertOnlyFinalFiles checks that under root the only files are the
// final credentials files in dir (one link each, 0600) and the inputs the
// command read, and that no secret IAM ever issued, nor a password derived
// from one, is in any file but the final file of its own key.
func assertOnlyFinalFiles(t *testing.T, srv *iamtest.Server, root, dir string, finals []string) {
	t.Helper()
	current := map[string]string{} // key id -> secret, for keys IAM holds
	for _, u := range srv.Users() {
		for _, k := range u.AccessKeys {
			current[k.ID] = k.SecretAccessKey
		}
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := os.Lstat(path)
		require.NoError(t, err)
		require.True(t, info.Mode().IsRegular(), "%s is not a regular file", path)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		final := filepath.Dir(path) == dir && slices.Contains(finals, filepath.Base(path))
		allowed := ""
		if final {
			assert.EqualValues(t, 1, info.Sys().(*syscall.Stat_t).Nlink, "%s has an extra hard link", path)
			assert.Equal(t, os.FileMode(credfile.FileMode), info.Mode().Perm())
			ids, _, err := credfile.KeyIDs(path)
			require.NoError(t, err)
			require.Len(t, ids, 1)
			allowed = current[ids[0]]
		} else {
			assert.False(t, strings.HasPrefix(filepath.Base(path), "."), "leftover %s", path)
		}
		for _, s := range srv.IssuedSecrets() {
			if s == allowed {
				continue
			}
			for _, forbidden := range []string{s, derive.PasswordV4(s, matrixRegion), derive.PasswordV2(s)} {
				assert.NotContains(t, string(data), forbidden, "a secret is in %s, which is not its final file", path)
			}
		}
		return nil
	})
	require.NoError(t, err)
	for _, f := range finals {
		assert.FileExists(t, filepath.Join(dir, f))
	}
}
