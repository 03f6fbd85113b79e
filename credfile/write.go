package credfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Stdout is the --out value that means standard output.
const Stdout = "-"

// File and directory modes for credentials.
const (
	FileMode = 0o600
	DirMode  = 0o700
)

// ExistsError reports a credentials file that is already there.
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s already exists; sesmtp never overwrites a credentials file silently: "+
		"move it away, choose another --out, or pass --force", e.Path)
}

// Check reports whether path can receive a credentials file, without
// creating anything that stays: it must not be a directory, must not exist
// unless force, and its nearest existing directory must be writable. Run
// it before any IAM call so that a bad path changes nothing.
func Check(path string, force bool) error {
	if path == Stdout {
		return nil
	}
	if path == "" {
		return errors.New("the output path is empty")
	}
	info, err := os.Stat(path)
	switch {
	case err == nil && info.IsDir():
		return fmt.Errorf("%s is a directory; --out takes a file path", path)
	case err == nil && !force:
		return &ExistsError{Path: path}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("check %s: %w", path, err)
	}
	dir := existingAncestor(filepath.Dir(path))
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return fmt.Errorf("%s: %s is not a directory", path, dir)
	}
	probe, err := os.CreateTemp(dir, ".sesmtp-probe-*")
	if err != nil {
		return fmt.Errorf("cannot write credentials to %s: %w", path, unwrapPathError(err))
	}
	name := probe.Name()
	_ = probe.Close()
	return os.Remove(name)
}

// existingAncestor returns dir or its nearest ancestor that exists.
func existingAncestor(dir string) string {
	for {
		if _, err := os.Lstat(dir); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Write stores data at path atomically with mode 0600, creating missing
// directories with mode 0700. Data goes to a temporary file in the same
// directory, is fsynced, then linked into place, which fails if path
// exists (an *ExistsError), or with force renamed over it. A reader sees
// no file or the whole file, never part of one.
func Write(path string, data []byte, force bool) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // O_EXCL, 0600
	if err != nil {
		return fmt.Errorf("create %s: %w", path, unwrapPathError(err))
	}
	defer func() {
		_ = os.Remove(tmp.Name()) // the temporary name; path itself stays
	}()
	if err := writeSynced(tmp, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if force {
		err = os.Rename(tmp.Name(), path)
	} else {
		err = os.Link(tmp.Name(), path)
	}
	if errors.Is(err, fs.ErrExist) {
		return &ExistsError{Path: path}
	}
	if err != nil {
		return fmt.Errorf("put %s in place: %w", path, unwrapPathError(err))
	}
	return syncDir(dir)
}

func writeSynced(f *os.File, data []byte) error {
	if err := f.Chmod(FileMode); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes the new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
