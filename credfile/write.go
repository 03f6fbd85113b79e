package credfile

import (
	"crypto/rand"
	"encoding/hex"
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

// NotRegularError reports a path that is there but is not a regular file:
// sesmtp never writes credentials through a symbolic link, nor over a
// directory, device, FIFO or socket, even with --force.
type NotRegularError struct {
	Path string
	// Kind says what it is: "a symbolic link to X", "a directory", ...
	Kind string
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s; sesmtp writes credentials only to a regular file (or a new path), "+
		"never through a link or over anything else, even with --force: choose another --out", e.Path, e.Kind)
}

// Check reports whether path can receive a credentials file, without
// creating anything that stays. It looks at path itself (Lstat), never
// through a link: path must not exist, or, with force, be a regular file;
// a symbolic link (dangling or not), directory, device, FIFO or socket is
// refused even with force. Its nearest existing directory must be
// writable. Run it before any IAM call so that a bad path changes nothing.
func Check(path string, force bool) error {
	if path == Stdout {
		return nil
	}
	if path == "" {
		return errors.New("the output path is empty")
	}
	exists, err := checkKind(path)
	if err != nil {
		return err
	}
	if exists && !force {
		return &ExistsError{Path: path}
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

// checkKind reports whether path exists, and an error if it exists as
// anything but a regular file. It never follows a link.
func checkKind(path string) (bool, error) {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", path, unwrapPathError(err))
	}
	m := info.Mode()
	switch {
	case m.IsRegular():
		return true, nil
	case m.IsDir():
		return true, fmt.Errorf("%s is a directory; --out takes a file path", path)
	case m&fs.ModeSymlink != 0:
		kind := "a symbolic link"
		if dest, err := os.Readlink(path); err == nil {
			kind += " to " + dest
			if _, err := os.Stat(path); err != nil {
				kind += ", which does not exist"
			}
		}
		return true, &NotRegularError{Path: path, Kind: kind}
	case m&fs.ModeNamedPipe != 0:
		return true, &NotRegularError{Path: path, Kind: "a FIFO (named pipe)"}
	case m&fs.ModeSocket != 0:
		return true, &NotRegularError{Path: path, Kind: "a socket"}
	case m&fs.ModeDevice != 0:
		return true, &NotRegularError{Path: path, Kind: "a device"}
	}
	return true, &NotRegularError{Path: path, Kind: "not a regular file"}
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
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// Write stores data at path atomically with mode 0600, creating missing
// directories with mode 0700 (see Placement). It fails with an
// *ExistsError if path exists, unless force, which replaces a regular file
// only once the new one is complete.
func Write(path string, data []byte, force bool) error {
	p := NewPlacement(path, randomToken(), force)
	if err := p.Write(data); err != nil {
		return err
	}
	return p.Finish()
}

// Steps of Placement.Write, reported to Placement.Step.
const (
	// StepTempWritten: the temporary file is complete and synced; Path is untouched.
	StepTempWritten = "temp-written"
	// StepPlaced: Path names the new file; Temp is still a second link to it.
	StepPlaced = "placed"
)

// Placement is one atomic write of a credentials file through names the
// caller knows in advance, so that a journal can record each name before
// it exists and a later run can clean up after a crash:
//
//  1. Temp is created (O_EXCL, 0600), written and fsynced;
//  2. without Force, Temp is hard-linked as Path, which fails if Path
//     exists; with Force, Temp is linked as Witness and Witness renamed
//     over Path, so the old file stays whole until the new one replaces it;
//  3. the directory is fsynced.
//
// After Write, Temp is still a second link to the new file: while it is
// there, its link count proves the file was put in place, even if Path
// has been moved since. Finish removes it.
type Placement struct {
	Path, Temp, Witness string
	Force               bool
	// Step, if set, is called after each step (StepTempWritten, StepPlaced).
	Step func(string)
	// BeforePlace, if set, is called once Temp is complete, before it is
	// linked into place; an error stops the write (Temp is removed). A
	// journal records there that placing began: until then, another link
	// to Temp is not this placement's.
	BeforePlace func() error
}

// NewPlacement returns the placement of path whose temporary names carry
// token: .BASE.tmp-TOKEN and .BASE.tmp-TOKEN.new in path's directory.
func NewPlacement(path, token string, force bool) Placement {
	dir, base := filepath.Split(path)
	temp := filepath.Join(dir, "."+base+".tmp-"+token)
	return Placement{Path: path, Temp: temp, Witness: temp + ".new", Force: force}
}

// Write puts data in place (see Placement). On failure nothing of it stays.
func (p Placement) Write(data []byte) error {
	dir := filepath.Dir(p.Path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create directory for %s: %w", p.Path, err)
	}
	f, err := os.OpenFile(p.Temp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return fmt.Errorf("create %s: %w", p.Path, unwrapPathError(err))
	}
	if err := writeSynced(f, data); err != nil {
		_ = os.Remove(p.Temp)
		return fmt.Errorf("write %s: %w", p.Path, err)
	}
	p.step(StepTempWritten)
	if p.BeforePlace != nil {
		if err := p.BeforePlace(); err != nil {
			_ = os.Remove(p.Temp)
			return err
		}
	}
	if err := p.place(); err != nil {
		_ = os.Remove(p.Temp)
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	p.step(StepPlaced)
	return nil
}

func (p Placement) step(name string) {
	if p.Step != nil {
		p.Step(name)
	}
}

// place links the complete temporary file into place.
func (p Placement) place() error {
	if !p.Force {
		err := os.Link(p.Temp, p.Path)
		if errors.Is(err, fs.ErrExist) {
			return &ExistsError{Path: p.Path}
		}
		if err != nil {
			return fmt.Errorf("put %s in place: %w", p.Path, unwrapPathError(err))
		}
		return nil
	}
	if _, err := checkKind(p.Path); err != nil {
		return err // never replace a link, directory or device
	}
	if err := os.Link(p.Temp, p.Witness); err != nil {
		return fmt.Errorf("put %s in place: %w", p.Path, unwrapPathError(err))
	}
	if err := os.Rename(p.Witness, p.Path); err != nil {
		_ = os.Remove(p.Witness)
		return fmt.Errorf("put %s in place: %w", p.Path, unwrapPathError(err))
	}
	return nil
}

// Finish removes the temporary names, leaving Path the file's only name.
func (p Placement) Finish() error {
	for _, name := range []string{p.Witness, p.Temp} {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", name, unwrapPathError(err))
		}
	}
	return syncDir(filepath.Dir(p.Path))
}

func randomToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
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

// SyncDir makes the directory entries of dir durable (after a rename or
// remove), so that a crash cannot bring back what was removed.
func SyncDir(dir string) error { return syncDir(dir) }
