package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/provision"
)

// File is a credentials file: the target of create, rotate and each
// sender of a batch. Its lock and marker are kept beside it.
type File struct {
	Path    string
	Format  credfile.Format
	Options credfile.Options
	// Force replaces an existing regular file (only once the new one is complete).
	Force bool
}

// Name implements Target.
func (f File) Name() string { return f.Path }

// Place implements Target.
func (f File) Place() string { return f.Path }

// Deliver implements Target: it renders creds and writes them through a
// credfile.Placement whose temporary names it records first.
func (f File) Deliver(_ context.Context, creds credfile.Credentials, token string, record func(...string) error, step func(string)) error {
	var buf bytes.Buffer
	if err := credfile.Render(&buf, f.Format, creds, f.Options); err != nil {
		return err
	}
	p := credfile.NewPlacement(f.Path, token, f.Force)
	p.Step = step
	if err := record(filepath.Base(p.Temp)); err != nil {
		return fmt.Errorf("record the temporary name of %s: %w", f.Path, err)
	}
	// The witness's name, recorded once the temporary file is complete,
	// says that placing began: only then may a second link to the
	// temporary file be the placed file (see Holds).
	p.BeforePlace = func() error {
		if err := record(filepath.Base(p.Witness)); err != nil {
			return fmt.Errorf("record the temporary names of %s: %w", f.Path, err)
		}
		return nil
	}
	return p.Write(buf.Bytes())
}

// FileFormat is the format the file is written in (recorded in the marker).
func (f File) FileFormat() credfile.Format { return f.Format }

// Holds implements Target: the file at the path names key id, or a
// temporary name m recorded is still a second link to a file naming it
// after placing began (placedTemp): the file was put in place and has
// been moved since.
func (f File) Holds(_ context.Context, m Marker, id string) (bool, error) {
	ids, found, err := credfile.KeyIDs(f.Path)
	var notRegular *credfile.NotRegularError
	switch {
	case errors.As(err, &notRegular):
		// Something else is there now: it is not this run's delivery.
	case err != nil:
		return false, err
	case found && slices.Contains(ids, id):
		return true, nil
	}
	return f.placedTemp(m, id) != "", nil
}

// placedTemp returns the recorded temporary file naming id that has
// another link than the leftovers themselves (the placed file, wherever
// it has been moved to), "" if none. It counts only once m records that
// placing began (the witness's name, recorded after the temporary file
// was complete and before it was linked): a link someone made to the
// temporary file before (a backup job's) is not the placed file.
func (f File) placedTemp(m Marker, id string) string {
	if !slices.ContainsFunc(m.Leftovers, func(n string) bool { return removable(f.Path, n) && strings.HasSuffix(n, ".new") }) {
		return ""
	}
	dir := filepath.Dir(f.Path)
	var infos []os.FileInfo
	for _, name := range m.Leftovers {
		if !removable(f.Path, name) {
			continue
		}
		if info, err := os.Lstat(filepath.Join(dir, name)); err == nil && info.Mode().IsRegular() {
			infos = append(infos, info)
		}
	}
	for i, info := range infos {
		links := int(info.Sys().(*syscall.Stat_t).Nlink)
		for k, other := range infos {
			if k != i && os.SameFile(info, other) {
				links--
			}
		}
		if links < 2 {
			continue
		}
		path := filepath.Join(dir, info.Name())
		if ids, _, err := credfile.KeyIDs(path); err == nil && slices.Contains(ids, id) {
			return path
		}
	}
	return ""
}

// Restore puts the placed file back at the path when it was moved away
// since (Holds proved the delivery by placedTemp): it links the recorded
// temporary file there again, so that the path holds the credentials it
// was asked for. Anything at the path is left alone. It reports whether
// it put the file back.
func (f File) Restore(m Marker, id string) (bool, error) {
	if _, err := os.Lstat(f.Path); !errors.Is(err, fs.ErrNotExist) {
		return false, nil // the file is there, or something else is: not this run's to replace
	}
	temp := f.placedTemp(m, id)
	if temp == "" {
		return false, nil
	}
	if err := os.Link(temp, f.Path); err != nil {
		return false, fmt.Errorf("put the earlier run's credentials back at %s: %w", f.Path, err)
	}
	return true, credfile.SyncDir(filepath.Dir(f.Path))
}

// Retract implements Target: it removes the file if it still names id.
func (f File) Retract(_ context.Context, id string) error {
	ids, found, err := credfile.KeyIDs(f.Path)
	if err != nil || !found || !slices.Contains(ids, id) {
		return nil // not this run's delivery (any more): not this run's to remove
	}
	if err := os.Remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return credfile.SyncDir(filepath.Dir(f.Path))
}

// Cleanup implements Target: it removes the temporary names m records,
// if they are regular files.
func (f File) Cleanup(m Marker) error {
	dir := filepath.Dir(f.Path)
	removed := false
	for _, name := range m.Leftovers {
		if !removable(f.Path, name) {
			continue
		}
		full := filepath.Join(dir, name)
		if info, err := os.Lstat(full); err != nil || !info.Mode().IsRegular() {
			continue
		}
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove leftover %s: %w", full, err)
		}
		removed = true
	}
	if !removed {
		return nil
	}
	return credfile.SyncDir(dir)
}

// Stdout returns a journal that writes the credentials to w (--out -):
// there is no file to lock, prove or retract, so it records nothing; a
// run killed after creating the key leaves it, as the docs say.
func Stdout(w io.Writer, f credfile.Format, opts credfile.Options) *Journal {
	return &Journal{target: stdoutTarget{w: w, format: f, opts: opts}, mu: make(chan struct{}, 1), m: Marker{RunID: provision.NewRunID()}}
}

type stdoutTarget struct {
	w      io.Writer
	format credfile.Format
	opts   credfile.Options
}

func (s stdoutTarget) Name() string  { return "standard output" }
func (s stdoutTarget) Place() string { return "" }
func (s stdoutTarget) Deliver(_ context.Context, creds credfile.Credentials, _ string, _ func(...string) error, _ func(string)) error {
	var buf bytes.Buffer
	if err := credfile.Render(&buf, s.format, creds, s.opts); err != nil {
		return err
	}
	_, err := s.w.Write(buf.Bytes())
	return err
}
func (s stdoutTarget) Holds(context.Context, Marker, string) (bool, error) { return false, nil }
func (s stdoutTarget) Retract(context.Context, string) error {
	return errors.New("the credentials were already written to standard output")
}
func (s stdoutTarget) Cleanup(Marker) error { return nil }

// Dir is a batch's --out-dir: its own lock and marker (the groups the
// batch creates) are kept in it, as .sesmtp-batch.lock and .sesmtp-batch.pending.
type Dir string

// Name implements Target.
func (d Dir) Name() string { return string(d) }

// Place implements Target.
func (d Dir) Place() string { return filepath.Join(string(d), "sesmtp-batch") }

// Deliver implements Target: a batch delivers through each sender's File.
func (d Dir) Deliver(context.Context, credfile.Credentials, string, func(...string) error, func(string)) error {
	return errors.New("internal error: a batch delivers through each sender's own journal")
}

// Holds implements Target.
func (d Dir) Holds(context.Context, Marker, string) (bool, error) { return false, nil }

// Retract implements Target.
func (d Dir) Retract(context.Context, string) error { return nil }

// Cleanup implements Target.
func (d Dir) Cleanup(Marker) error { return nil }
