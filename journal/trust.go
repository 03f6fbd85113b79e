package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/sesmtp/sesmtp/exitcode"
)

// UntrustedError refuses a journal file (lock, marker or the marker's
// temporary file) that sesmtp's own runs cannot have left: not a regular
// file, owned by another user, or writable by group or others. Whoever
// can write the directory of a credentials file could otherwise plant a
// marker naming any IAM user, and the next run there, by an operator with
// IAM rights, would "recover" it; or plant a FIFO, whose open blocks.
// Nothing was changed: the run exits 2 before any IAM call.
type UntrustedError struct {
	Path string
	// Why says what is wrong with it.
	Why string
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("%s %s; sesmtp acts only on journal files its own runs leave (a regular file owned by you, uid %d, "+
		"and writable by nobody else), so it does not trust this one and changed nothing. Check who made it and why "+
		"(ls -l; a sesmtp run of another user, or someone planting a record of work that never happened); if no sesmtp "+
		"run of yours is working there, remove it and run again", e.Path, e.Why, os.Geteuid())
}

// ExitCode implements exitcode.Coder: nothing was attempted.
func (e *UntrustedError) ExitCode() int { return exitcode.Usage }

// checkTrusted reports whether path exists, and an *UntrustedError if it
// exists as anything but a regular file of this user writable by nobody
// else. It never follows a link, and opens nothing.
func checkTrusted(path string) (bool, error) {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, exitcode.UsageError(fmt.Errorf("check %s: %w", path, err))
	}
	return true, trusted(path, info)
}

// trusted checks info, the file at path (Lstat or Stat of an open file).
func trusted(path string, info fs.FileInfo) error {
	mode := info.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return &UntrustedError{Path: path, Why: "is a symbolic link"}
	case mode&fs.ModeNamedPipe != 0:
		return &UntrustedError{Path: path, Why: "is a FIFO (named pipe)"}
	case !mode.IsRegular():
		return &UntrustedError{Path: path, Why: "is not a regular file"}
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return &UntrustedError{Path: path, Why: fmt.Sprintf("is owned by uid %d, not by you", st.Uid)}
	}
	if mode.Perm()&0o022 != 0 {
		return &UntrustedError{Path: path, Why: fmt.Sprintf("is writable by group or others (mode %04o)", mode.Perm())}
	}
	return nil
}

// openTrusted opens path for reading if it is a trusted journal file
// (checkTrusted): it looks before it opens, and opens without following a
// link and without blocking (a FIFO swapped in between cannot hang the
// run), then checks that what it opened is what it looked at.
func openTrusted(path string) (*os.File, error) {
	if ok, err := checkTrusted(path); !ok || err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, exitcode.UsageError(fmt.Errorf("read %s: %w", path, err))
	}
	info, err := f.Stat()
	if err == nil {
		err = trusted(path, info)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// removeOwn removes path if it is a trusted journal file; a missing one
// is fine; anything else stays and is an error.
func removeOwn(path string) error {
	ok, err := checkTrusted(path)
	if !ok || err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
