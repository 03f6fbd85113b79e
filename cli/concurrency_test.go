package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// concurrentTrials is how many times each pair of runs is tried.
const concurrentTrials = 20

// The two identities concurrent runs use (--profile a, --profile b), so
// that the endpoint's call log tells whose each call was.
var runCallers = map[string]iamtest.Caller{
	"a": {AccessKeyID: "AKIACONCURRENTRUNAAA", SecretAccessKey: "concurrent-run-a-secret-000000000000000", UserName: "run-a"},
	"b": {AccessKeyID: "AKIACONCURRENTRUNBBB", SecretAccessKey: "concurrent-run-b-secret-000000000000000", UserName: "run-b"},
}

// concurrentRun is one of the two runs of a trial.
type concurrentRun struct {
	profile string
	// args without --profile and --endpoint-url; files are what it may write.
	args  []string
	files []string
	// create says the run only creates (a create, a phase-1 key rotation):
	// it must never delete a key it did not make.
	create bool
	code   int
	stderr string
}

// concurrentPair is a scenario: two runs, the second started when the
// first makes its start-th IAM call (0: both at once).
type concurrentPair struct {
	name  string
	setup func(t *testing.T, srv *iamtest.Server, dir string)
	runs  func(dir string, trial int) [2]*concurrentRun
	// startAt, if set, is an action of the first run: in odd trials the
	// second run starts when the first makes that call, which then waits a
	// second before IAM performs it, so that the second run can end in
	// between (the window a concurrent run must not be hurt by).
	startAt string
	// check asserts what the scenario promises beyond the shared invariants.
	check func(t *testing.T, srv *iamtest.Server, dir string, runs [2]*concurrentRun)
}

var concurrentPairs = []concurrentPair{
	{
		name: "two creates on the same path",
		runs: func(dir string, _ int) [2]*concurrentRun {
			out := filepath.Join(dir, "credentials.csv")
			return [2]*concurrentRun{
				{profile: "a", create: true, files: []string{out}, args: []string{"create", "--user", "ua", "--out", out}},
				{profile: "b", create: true, files: []string{out}, args: []string{"create", "--user", "ub", "--out", out}},
			}
		},
		check: func(t *testing.T, srv *iamtest.Server, dir string, runs [2]*concurrentRun) {
			codes := []int{runs[0].code, runs[1].code}
			slices.Sort(codes)
			require.Equal(t, []int{0, 2}, codes, "one run holds the path, the other exits 2 at once")
			_, a := srv.User("ua")
			_, b := srv.User("ub")
			assert.True(t, a != b, "the winner's user exists, the loser's does not")
		},
	},
	{
		name: "two batches on the same manifest",
		setup: func(t *testing.T, srv *iamtest.Server, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(dir), "senders.txt"), []byte("s1\ns2\ns3\n"), 0o600))
		},
		runs: func(dir string, _ int) [2]*concurrentRun {
			list := filepath.Join(filepath.Dir(dir), "senders.txt")
			var files []string
			for _, s := range []string{"s1", "s2", "s3"} {
				files = append(files, filepath.Join(dir, s+".csv"))
			}
			args := []string{"create", "--from-file", list, "--out-dir", dir, "--concurrency", "2"}
			return [2]*concurrentRun{{profile: "a", create: true, files: files, args: args}, {profile: "b", create: true, files: files, args: args}}
		},
		check: func(t *testing.T, srv *iamtest.Server, dir string, runs [2]*concurrentRun) {
			codes := []int{runs[0].code, runs[1].code}
			slices.Sort(codes)
			if codes[1] == 0 { // the second started after the first ended: it found every sender done
				assert.True(t, writes(srv, runs[0]) == 0 || writes(srv, runs[1]) == 0, "only one batch created anything")
			} else {
				assert.Equal(t, []int{0, 2}, codes, "one batch holds the directory, the other exits 2 at once")
			}
			for _, s := range []string{"s1", "s2", "s3"} {
				u, ok := srv.User(s)
				if assert.True(t, ok, s) {
					assert.Len(t, u.AccessKeys, 1, s)
				}
			}
		},
	},
	{
		name: "create vs delete",
		runs: func(dir string, _ int) [2]*concurrentRun {
			out := filepath.Join(dir, "target.csv")
			return [2]*concurrentRun{
				{profile: "a", create: true, files: []string{out}, args: []string{"create", "--user", "target", "--out", out}},
				{profile: "b", args: []string{"delete", "--user", "target", "--yes"}},
			}
		},
	},
	{
		name: "create vs rotate on one user",
		runs: func(dir string, trial int) [2]*concurrentRun {
			out, rotated := filepath.Join(dir, "target.csv"), filepath.Join(dir, "rotated.csv")
			rotate := []string{"rotate", "--user", "target", "--strategy", "key", "--out", rotated}
			if trial%2 == 1 {
				rotate = []string{"rotate", "--user", "target", "--strategy", "recreate", "--yes", "--out", rotated}
			}
			return [2]*concurrentRun{
				{profile: "a", create: true, files: []string{out}, args: []string{"create", "--user", "target", "--out", out}},
				{profile: "b", files: []string{rotated}, args: rotate},
			}
		},
	},
	{
		// Two phase-1 rotations of one user, each with its own file (two
		// operators, two CI jobs): neither deletes a key it did not make
		// (a LimitExceeded is an answer: nothing to sweep), the old key stays.
		name:    "two key rotations of one user, other files",
		setup:   func(t *testing.T, srv *iamtest.Server, dir string) { srv.PutUser(consoleUser("target")) },
		startAt: "CreateAccessKey",
		runs: func(dir string, _ int) [2]*concurrentRun {
			a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
			return [2]*concurrentRun{
				{profile: "a", create: true, files: []string{a}, args: []string{"rotate", "--user", "target", "--strategy", "key", "--out", a}},
				{profile: "b", create: true, files: []string{b}, args: []string{"rotate", "--user", "target", "--strategy", "key", "--out", b}},
			}
		},
		check: func(t *testing.T, srv *iamtest.Server, dir string, runs [2]*concurrentRun) {
			assert.Contains(t, keyIDsOfUser(srv, "target"), consoleUser("target").AccessKeys[0].ID, "phase 1 never deletes the old key")
		},
	},
	{
		// A delete of the user during a phase-1 rotation: the rotation
		// exits 1 (or 0 if it ended first), never 4 for a user that is gone.
		name:    "key rotation vs delete",
		setup:   func(t *testing.T, srv *iamtest.Server, dir string) { srv.PutUser(consoleUser("target")) },
		startAt: "CreateAccessKey",
		runs: func(dir string, _ int) [2]*concurrentRun {
			out := filepath.Join(dir, "rotated.csv")
			return [2]*concurrentRun{
				{profile: "a", files: []string{out}, args: []string{"rotate", "--user", "target", "--strategy", "key", "--out", out}},
				{profile: "b", args: []string{"delete", "--user", "target", "--yes"}},
			}
		},
		check: func(t *testing.T, srv *iamtest.Server, dir string, runs [2]*concurrentRun) {
			if _, ok := srv.User("target"); !ok {
				assert.NotEqual(t, exitcode.LeftBehind, runs[0].code, "nothing of the rotation can remain of a user that is gone")
			}
		},
	},
}

// TestConcurrentRuns runs two sesmtp processes at once against a slow
// endpoint (every call delayed), the second started at a different IAM
// call of the first in each trial: two creates on the same path, two
// batches on the same manifest, create vs delete, create vs rotate of one
// user. After each trial: IAM holds no key whose secret is in no file;
// every exit code tells the truth (exit 0: its key was still in IAM when
// the run ended; exit 1: nothing it made is left; exit 2: it changed
// nothing); a create never deletes a key it did not make.
func TestConcurrentRuns(t *testing.T) {
	if os.Getenv(iamtest.ExternalEndpointEnv) != "" {
		t.Skip("needs the local IAM endpoint")
	}
	iamtest.Isolate(t)
	var creds strings.Builder
	for name, c := range runCallers {
		fmt.Fprintf(&creds, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", name, c.AccessKeyID, c.SecretAccessKey)
	}
	require.NoError(t, os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), []byte(creds.String()), 0o600))
	var trials, held atomic.Int64
	t.Run("trials", func(t *testing.T) {
		for _, pair := range concurrentPairs {
			for trial := range concurrentTrials {
				trials.Add(1)
				t.Run(fmt.Sprintf("%s/%d", pair.name, trial), func(t *testing.T) {
					t.Parallel()
					runConcurrentTrial(t, pair, trial)
					if !t.Failed() {
						held.Add(1)
					}
				})
			}
		}
	})
	t.Logf("concurrency: %d trials, %d held", trials.Load(), held.Load())
}

func runConcurrentTrial(t *testing.T, pair concurrentPair, trial int) {
	srv := iamtest.NewServer(iamtest.WithCaller(runCallers["a"]), iamtest.WithCaller(runCallers["b"]))
	t.Cleanup(srv.Close)
	dir := filepath.Join(t.TempDir(), "out")
	if pair.setup != nil {
		pair.setup(t, srv, dir)
	}
	bystander(srv)
	bystanderBefore, _ := srv.User("bystander")
	keysBefore := keyIDs(srv)
	runs := pair.runs(dir, trial)
	// An endpoint slow for the first run, and the second run started at
	// the first's start-th call: the second overtakes the first.
	srv.Inject(iamtest.Fault{Kind: iamtest.Delay, Delay: time.Duration(30+trial%3*30) * time.Millisecond,
		Match: func(c iamtest.Call) bool { return c.Caller == runCallers["a"].UserName }})
	start := trial % 5
	byAction := pair.startAt != "" && trial%2 == 1
	second := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(second) }) }
	var calls atomic.Int64
	isA := func(c iamtest.Call) bool { return c.Caller == runCallers["a"].UserName }
	srv.Inject(iamtest.Fault{Match: func(c iamtest.Call) bool {
		if !isA(c) {
			return false
		}
		if n := calls.Add(1); byAction && c.Action == pair.startAt || !byAction && n == int64(start) {
			release()
		}
		return false
	}})
	if byAction {
		srv.Inject(iamtest.Fault{Kind: iamtest.Delay, Delay: time.Second, Match: func(c iamtest.Call) bool { return isA(c) && c.Action == pair.startAt }})
	}
	if start == 0 && !byAction {
		release()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-second:
		case <-time.After(30 * time.Second): // the first run ended before its start-th call
		}
		runConcurrent(t, srv.URL, runs[1])
	}()
	runConcurrent(t, srv.URL, runs[0])
	release() // the first run never made the call: start the second now
	<-done
	for _, r := range runs {
		assert.NotContains(t, r.stderr, "panic", r.profile)
		assert.Contains(t, []int{exitcode.OK, exitcode.Failed, exitcode.Usage, exitcode.LeftBehind}, r.code, "%s: %s", r.profile, r.stderr)
	}
	by, _ := srv.User("bystander")
	assert.Equal(t, bystanderBefore, by, "a user neither run targeted changed")
	assertRunsTellTheTruth(t, srv, runs, keysBefore)
	if pair.check != nil {
		pair.check(t, srv, dir, runs)
	}
	if t.Failed() {
		for _, r := range runs {
			t.Logf("run %s %v: exit %d\n%s", r.profile, r.args, r.code, r.stderr)
		}
	}
}

// runConcurrent runs r as a process (two runs cannot share one process).
func runConcurrent(t *testing.T, url string, r *concurrentRun) {
	args := append(slices.Clone(r.args), "--profile", r.profile, "--endpoint-url", url, "--max-backoff", "5ms", "--timeout", "30s")
	if r.args[0] != "delete" && r.args[0] != "retire" {
		args = append(args, "--region", matrixRegion)
	}
	c := subprocess(t, args...)
	c.Env = mainEnv()
	var stderr bytes.Buffer
	c.Stderr = &stderr
	err := c.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Errorf("run %v: %v", args, err)
	}
	r.stderr = stderr.String()
}

// mainEnv is the environment of a process run as sesmtp: without the race
// detector's one-second pause at exit, and with a short propagation wait.
// The local endpoint is consistent unless a test turns that on, so a
// NoSuchEntity about a user this run made means another run deleted it;
// sesmtp then waits --propagation-wait (default 2 minutes) in case IAM has
// not propagated the user yet, before it reports the failure. Three seconds
// still exercise that wait without stalling a trial.
func mainEnv(extra ...string) []string {
	env := append(os.Environ(), runAsMainEnv+"=1", "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"),
		"SESMTP_PROPAGATION_WAIT=3s")
	return append(env, extra...)
}

// assertRunsTellTheTruth checks the invariants every trial must keep;
// keysBefore are the keys made before the runs (no run's to deliver).
func assertRunsTellTheTruth(t *testing.T, srv *iamtest.Server, runs [2]*concurrentRun, keysBefore map[string]bool) {
	t.Helper()
	calls := srv.Calls()
	secrets := map[string]string{} // every key IAM holds now -> its secret
	for _, u := range srv.Users() {
		for _, k := range u.AccessKeys {
			secrets[k.ID] = k.SecretAccessKey
		}
	}
	inFiles := map[string]string{} // key id -> password, over every file either run may write
	for _, r := range runs {
		for _, f := range r.files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			entries, err := credfile.Read(bytes.NewReader(data))
			require.NoError(t, err, f)
			for _, e := range entries {
				inFiles[e.Username] = e.Password.Reveal()
			}
		}
	}
	for id, secret := range secrets {
		if keysBefore[id] {
			continue
		}
		pw, ok := inFiles[id]
		if assert.True(t, ok, "IAM holds key %s whose secret is in no file", id) {
			assert.Equal(t, derive.PasswordV4(secret, matrixRegion), pw, "the file's password is not key %s's", id)
		}
	}
	for _, r := range runs {
		caller := runCallers[r.profile].UserName
		var last uint64
		made := map[string]bool{}
		for _, c := range calls {
			if c.Caller != caller || c.Seq == 0 {
				continue
			}
			last = max(last, c.Seq)
			if c.Action == "CreateAccessKey" {
				made[c.AccessKeyID] = true
			}
			if isWrite(c.Action) {
				assert.NotEqual(t, exitcode.Usage, r.code, "run %s exited 2 (nothing attempted) but called %s", r.profile, c.Action)
			}
			if r.create && c.Action == "DeleteAccessKey" {
				assert.True(t, made[c.AccessKeyID], "run %s, a create, deleted key %s, which it did not make", r.profile, c.AccessKeyID)
			}
		}
		for id := range made {
			_, inIAM := secrets[id]
			_, inFile := inFiles[id]
			switch r.code {
			case exitcode.OK:
				if !inIAM {
					removed := removalOf(calls, id)
					assert.True(t, inFile, "run %s exited 0 but no file holds its key %s", r.profile, id)
					assert.Greater(t, removed, last, "run %s exited 0 although its key %s was deleted (call %d) before it ended (call %d)", r.profile, id, removed, last)
				}
			case exitcode.Failed:
				assert.False(t, inIAM && !inFile, "run %s exited 1 but its key %s is left", r.profile, id)
			}
		}
	}
}

// writes counts the calls of r that changed something.
func writes(srv *iamtest.Server, r *concurrentRun) int {
	n := 0
	for _, c := range srv.Calls() {
		if c.Caller == runCallers[r.profile].UserName && c.Seq > 0 && isWrite(c.Action) {
			n++
		}
	}
	return n
}

// removalOf returns the Seq of the call that deleted key id, 0 if none.
func removalOf(calls []iamtest.Call, id string) uint64 {
	for _, c := range calls {
		if c.Action == "DeleteAccessKey" && c.AccessKeyID == id && c.Seq > 0 {
			return c.Seq
		}
	}
	return 0
}

// isWrite reports whether an IAM action changes something.
func isWrite(action string) bool {
	for _, p := range []string{"Create", "Put", "Add", "Delete", "Remove", "Update", "Deactivate", "Attach", "Detach", "Tag", "Untag"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}
