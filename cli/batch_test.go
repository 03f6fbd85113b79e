package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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

	"github.com/sesmtp/sesmtp/batch"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// manifest writes a plain list of n senders named sender01... and returns its path.
func manifest(t *testing.T, n int) string {
	var b strings.Builder
	b.WriteString("user,tags\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "sender%02d,n=%d\n", i, i)
	}
	return writeFile(t, "senders.csv", b.String())
}

func batchArgs(e *iamtest.Endpoint, file, dir string, extra ...string) []string {
	return append([]string{"create", "--endpoint-url", e.URL, "--from-file", file, "--out-dir", dir, "--region", "eu-west-1", "--max-backoff", "20ms"}, extra...)
}

// assertBatchConsistent checks the batch invariants: every user the batch
// made has exactly one key whose secret is in its file, and every file
// names a key IAM holds.
func assertBatchConsistent(t *testing.T, srv stateView, dir string) (users int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	byName := map[string]string{}
	for _, f := range files {
		byName[strings.TrimSuffix(filepath.Base(f), ".csv")] = f
	}
	for _, u := range srv.Users() {
		file, ok := byName[u.Name]
		require.True(t, ok, "user %s has no credentials file", u.Name)
		require.Len(t, u.AccessKeys, 1, "user %s", u.Name)
		assertFileHoldsKey(t, file, u.AccessKeys[0], "eu-west-1")
		delete(byName, u.Name)
		users++
	}
	assert.Empty(t, byName, "files for users IAM does not hold")
	return users
}

func TestBatchCreate(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	dir := filepath.Join(t.TempDir(), "out")
	res := runCLI(t, "", batchArgs(e, manifest(t, 50), dir, "--concurrency", "8", "--output", "json")...)
	require.Equal(t, 0, res.code, res.stderr)
	assertNoSecrets(t, e, res.stdout, res.stderr)
	assert.Equal(t, 50, assertBatchConsistent(t, srv, dir))
	assertCalls(t, e, "ListUsers", 1, "one listing for the whole batch")
	assertCalls(t, e, "", 50*4+1, "three writes and a final check of the key per sender, plus the listing")
	var sum batch.Summary
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &sum))
	require.Len(t, sum.Outcomes, 50)
	assert.Equal(t, "sender01", sum.Outcomes[0].User, "summary in manifest order")
	assert.Equal(t, batch.StatusCreated, sum.Outcomes[49].Status)
	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	u, _ := srv.User("sender07")
	assert.Contains(t, u.Tags, iamtest.Tag{Key: "n", Value: "7"})
	assert.Contains(t, res.stderr, "[50/50]")
}

func TestBatchBadManifestCreatesNothing(t *testing.T) {
	e := iamtest.Start(t)
	file := writeFile(t, "bad.csv", "user,from_address,identity_arn\n"+
		"good,,\n"+
		"bad name,,\n"+
		"Good,,\n"+
		"x,not an address,\n"+
		"y,,example.com\n")
	res := runCLI(t, "", batchArgs(e, file, t.TempDir())...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	for _, want := range []string{"line 3:", `line 4: user "Good" is also on line 2`, "line 5:", "line 6:", "nothing was created"} {
		assert.Contains(t, res.stderr, want)
	}
	assertCalls(t, e, "", 0, "nothing attempted")
}

func TestBatchPartialFailureAndResume(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := t.TempDir()
	file := manifest(t, 50)
	srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.FailBefore, Match: func(c iamtest.Call) bool { return c.UserName == "sender17" }})

	res := runCLI(t, "", batchArgs(e, file, dir)...)
	assert.Equal(t, exitcode.Failed, res.code, res.stderr)
	assert.Contains(t, res.stderr, "1 of 50 senders were not created: sender17")
	assert.Contains(t, res.stdout, "sender17")
	assert.Contains(t, res.stdout, batch.StatusRolledBack)
	assert.Equal(t, 49, assertBatchConsistent(t, srv, dir), "16 before and 33 after it are done; sender17 is rolled back")
	_, ok := srv.User("sender17")
	assert.False(t, ok)

	srv.ClearFaults()
	srv.ResetCalls()
	res = runCLI(t, "", batchArgs(e, file, dir)...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, 50, assertBatchConsistent(t, srv, dir))
	assert.Equal(t, 1, srv.CallCount("CreateUser"), "the resume creates only sender17")
	assert.Contains(t, res.stderr, "50 senders: 1 created, 49 skipped, 0 failed")
}

func TestBatchRidesOutThrottling(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := t.TempDir()
	for _, f := range []iamtest.Fault{
		{Action: "CreateUser", Nth: 2, Count: 3},
		{Action: "PutUserPolicy", Nth: 5, Count: 3},
		{Action: "CreateAccessKey", Nth: 8, Count: 3},
	} {
		f.Kind, f.Code = iamtest.FailBefore, "Throttling"
		srv.Inject(f)
	}
	res := runCLI(t, "", batchArgs(e, manifest(t, 12), dir)...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, 12, assertBatchConsistent(t, srv, dir))
	throttled := 0
	for _, c := range srv.Calls() {
		if c.Outcome == "Throttling" {
			throttled++
		}
	}
	assert.Equal(t, 9, throttled, "every throttle was retried, none failed a sender")
}

func TestBatchRoleAssumption(t *testing.T) {
	const role = "arn:aws:iam::210987654321:role/mail-admin"
	e := iamtest.Start(t, iamtest.WithRole(iamtest.Role{ARN: role, ExternalID: "ext-1"}))
	srv := e.Local(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", e.URL)
	dir := t.TempDir()
	res := runCLI(t, "", batchArgs(e, manifest(t, 3), dir, "--role-arn", role, "--external-id", "ext-1")...)
	require.Equal(t, 0, res.code, res.stderr)
	for _, c := range srv.Calls() {
		if c.Action == "AssumeRole" {
			assert.Equal(t, iamtest.DefaultCallerName, c.Caller)
			continue
		}
		assert.Equal(t, "assumed-role/mail-admin/sesmtp", c.Caller, "%s ran with the role's credentials", c.Action)
	}
	assert.Equal(t, 1, srv.CallCount("AssumeRole"), "the role's credentials are cached")

	res = runCLI(t, "", batchArgs(e, manifest(t, 3), t.TempDir(), "--role-arn", role, "--external-id", "wrong")...)
	assert.NotEqual(t, 0, res.code)
	assert.Contains(t, res.stderr, "sts:AssumeRole")
}

// TestBatchInterrupt sends SIGINT to a real sesmtp process in the middle
// of a batch: senders in flight finish or roll back, no new one starts,
// the summary is printed, and IAM and the files agree.
func TestBatchInterrupt(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := t.TempDir()
	cmd := subprocess(t, batchArgs(e, manifest(t, 40), dir, "--concurrency", "2")...)
	cmd.Env = append(os.Environ(), runAsMainEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var proc atomic.Pointer[os.Process] // set after Start, read by the server's goroutines
	srv.Inject(iamtest.Fault{Kind: iamtest.Delay, Delay: 10 * time.Millisecond})
	srv.Inject(iamtest.Fault{Action: "CreateUser", Kind: iamtest.Delay, Match: func(c iamtest.Call) bool {
		if p := proc.Load(); c.UserName == "sender10" && p != nil {
			_ = p.Signal(syscall.SIGINT)
		}
		return false
	}})
	require.NoError(t, cmd.Start())
	proc.Store(cmd.Process)
	err := cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "exit: %v\n%s", err, stderr.String())
	assert.Equal(t, exitcode.Failed, exit.ExitCode(), stderr.String())
	assert.Contains(t, stderr.String(), "interrupted (Ctrl-C/SIGTERM): ")
	assert.Contains(t, stdout.String(), batch.StatusNotStarted, "the summary is printed")
	created := assertBatchConsistent(t, srv, dir)
	assert.GreaterOrEqual(t, created, 9)
	assert.Less(t, created, 40)
}

func TestBatchDryRun(t *testing.T) {
	e := iamtest.Start(t)
	dir := filepath.Join(t.TempDir(), "out")
	file := writeFile(t, "s.csv", "user,group\na,senders\nb,senders\nc,\n")
	res := runCLI(t, "", batchArgs(e, file, dir, "--dry-run")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, 1, strings.Count(res.stdout, "iam:ListUsers"), "one listing for the batch:\n%s", res.stdout)
	assert.Equal(t, 1, strings.Count(res.stdout, "iam:GetGroup GroupName=senders"), "each group ensured once")
	assert.Contains(t, res.stdout, "# c -> "+filepath.Join(dir, "c.csv"))
	assert.Contains(t, res.stdout, "iam:AddUserToGroup GroupName=senders UserName=b")
	assert.Contains(t, res.stdout, "iam:PutUserPolicy UserName=c PolicyName=AmazonSesSendingAccess")
	assertCalls(t, e, "", 0)
	assert.NoDirExists(t, dir)
}

// TestAssumeRoleExitCodes: STS refusing --role-arn (trust policy,
// --external-id) is bad input, exit 2; STS not answering at all is a
// failure, exit 1. Neither calls IAM.
func TestAssumeRoleExitCodes(t *testing.T) {
	const role = "arn:aws:iam::210987654321:role/mail-admin"
	e := iamtest.Start(t, iamtest.WithRole(iamtest.Role{ARN: role, ExternalID: "ext-1"}))
	srv := e.Local(t)

	t.Setenv("AWS_ENDPOINT_URL_STS", e.URL)
	res := runCLI(t, "", "list", "--endpoint-url", e.URL, "--role-arn", role, "--external-id", "wrong")
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "trust policy")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	t.Setenv("AWS_ENDPOINT_URL_STS", closed)
	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--role-arn", role, "--external-id", "ext-1", "--max-backoff", "5ms")
	assert.Equal(t, exitcode.Failed, res.code, res.stderr)
	assert.Contains(t, res.stderr, "STS did not answer")
	assert.Zero(t, srv.CallCount("ListUsers"), "no IAM call without credentials")
}
