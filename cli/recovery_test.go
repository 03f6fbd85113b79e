package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// runKilled runs args as a process that kill ends, and waits for it.
func runKilled(t *testing.T, args []string, arm func(kill func())) {
	t.Helper()
	var proc atomic.Pointer[os.Process]
	exited := make(chan struct{})
	var once sync.Once
	arm(func() {
		once.Do(func() {
			if p := proc.Load(); p != nil {
				_ = p.Kill()
			}
			select {
			case <-exited:
			case <-time.After(time.Minute): // a guard against a hang
			}
		})
	})
	c := subprocess(t, args...)
	c.Env = mainEnv()
	var stderr bytes.Buffer
	c.Stderr = &stderr
	require.NoError(t, c.Start())
	proc.Store(c.Process)
	err := c.Wait()
	close(exited)
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v: %s", err, stderr.String())
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), stderr.String())
}

// TestRecoveryDeletesTheDeadRunsEmptyGroup: a create --group killed after
// making the group leaves it; the next run on that file, whatever it
// creates, removes the dead run's user and the group, which is empty again.
func TestRecoveryDeletesTheDeadRunsEmptyGroup(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	out := filepath.Join(t.TempDir(), "target.csv")
	runKilled(t, createArgs(e, out, "--user", "target", "--group", "fresh", "--region", matrixRegion), func(kill func()) {
		srv.Inject(iamtest.Fault{Action: "AddUserToGroup", Kind: iamtest.Delay, OnPerformed: func(iamtest.Call) { kill() }})
	})
	srv.ClearFaults()
	_, ok := srv.Group("fresh")
	require.True(t, ok, "the dead run made the group")

	res := runCLI(t, "", createArgs(e, out, "--user", "other", "--region", matrixRegion)...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, `removed what it made and had not delivered`)
	_, ok = srv.Group("fresh")
	assert.False(t, ok, "the dead run's group, empty again, is gone")
	_, ok = srv.User("target")
	assert.False(t, ok, "the dead run's user is gone")
	assert.NoFileExists(t, journal.MarkerPath(out))
}

// TestMovedFileAfterKillDuringVerify: a run killed during --verify had
// delivered its file; the file is then moved away (as the "already
// exists" message suggests). The next run keeps the user and key.
func TestMovedFileAfterKillDuringVerify(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "target.csv")
	accept := acceptIAMKeys(srv, matrixRegion)
	var killDuringAuth atomic.Pointer[func()]
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: func(u, p string) bool {
		if kill := killDuringAuth.Load(); kill != nil {
			(*kill)()
		}
		return accept(u, p)
	}})
	args := append(createArgs(e, out, "--user", "target", "--region", matrixRegion), "--verify", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile)
	runKilled(t, args, func(kill func()) { killDuringAuth.Store(&kill) })
	killDuringAuth.Store(nil)
	moved := filepath.Join(dir, "moved.csv")
	require.NoError(t, os.Rename(out, moved))

	res := runCLI(t, "", args...)
	assert.Equal(t, exitcode.OK, res.code, res.stderr)
	assert.Contains(t, res.stderr, "kept the delivered credentials")
	assert.Contains(t, res.stderr, "the file has been moved or replaced since")
	u, ok := srv.User("target")
	require.True(t, ok, "a delivered user is never undone")
	assertKeysAndFilesAgree(t, srv, dir, map[string]bool{})
	require.Len(t, u.AccessKeys, 1)
}
