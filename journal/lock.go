package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/sesmtp/sesmtp/exitcode"
)

// Owner identifies the run that holds a lock; it is written into the
// lock file, so that a second run can say who holds it.
type Owner struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	RunID   string    `json:"run_id"`
	Command string    `json:"command,omitempty"`
}

func (o Owner) String() string {
	if o.PID == 0 {
		return "a sesmtp run that has not written its details yet"
	}
	s := fmt.Sprintf("pid %d on host %s, started %s", o.PID, o.Host, o.Started.Format(time.RFC3339))
	if o.Command != "" {
		s += ": " + o.Command
	}
	return s
}

// HeldError reports a target another live sesmtp run holds. Nothing was
// attempted: the run exits 2 at once and never touches the other run's
// marker.
type HeldError struct {
	// Target names what is held (a credentials file, an --out-dir).
	Target string
	Owner  Owner
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s is in use by another sesmtp run (%s), which may still be working on it; "+
		"nothing was changed. Wait for it to finish, then run again (if that process is gone, its lock went with it)",
		e.Target, e.Owner)
}

// ExitCode implements exitcode.Coder.
func (e *HeldError) ExitCode() int { return exitcode.Usage }

// lock is an exclusive flock(2) on a lock file. The kernel releases it
// when the process dies, however it dies: holding it proves that no live
// run works on the same target.
type lock struct {
	f    *os.File
	path string
}

// lockAttempts bounds how often acquire starts over when the file it
// locked was unlinked by its previous holder meanwhile.
const lockAttempts = 10

// acquire takes the lock at path without waiting, and writes owner into it.
func acquire(path, target string, owner Owner) (*lock, error) {
	for range lockAttempts {
		if _, err := checkTrusted(path); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, exitcode.UsageError(fmt.Errorf("open lock file %s: %w", path, err))
		}
		info, err := f.Stat()
		if err == nil {
			err = trusted(path, info)
		}
		if err != nil {
			_ = f.Close()
			return nil, exitcode.UsageError(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			held := readOwner(f)
			_ = f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, &HeldError{Target: target, Owner: held}
			}
			return nil, exitcode.UsageError(fmt.Errorf("lock %s: %w", path, err))
		}
		if sameFile(f, path) {
			if err := checkLockRecord(f, path); err != nil {
				_ = f.Close() // unlocks; the file stays as it is
				return nil, err
			}
			l := &lock{f: f, path: path}
			if err := l.write(owner); err != nil {
				_ = l.release()
				return nil, fmt.Errorf("write lock file %s: %w", path, err)
			}
			return l, nil
		}
		_ = f.Close() // its holder unlinked it as it finished: lock the new one
	}
	return nil, fmt.Errorf("lock %s: it keeps being replaced", path)
}

// sameFile reports whether f is still the file at path.
func sameFile(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Lstat(path)
	return err == nil && os.SameFile(fi, pi)
}

func (l *lock) write(o Owner) error {
	data, _ := json.Marshal(o)
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt(append(data, '\n'), 0)
	return err
}

func readOwner(f *os.File) Owner {
	var o Owner
	data, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, 4096), 4096))
	if err == nil {
		_ = json.Unmarshal(data, &o)
	}
	return o
}

// release unlinks the lock file while still holding it, then unlocks: a
// run that opened the old file meanwhile sees it unlinked and starts over.
func (l *lock) release() error {
	err := os.Remove(l.path)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
