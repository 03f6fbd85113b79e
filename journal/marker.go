package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/provision"
)

// markerVersion is the version of the marker's JSON shape. Version 0 is
// the first one ({"user_name", "run_id"}), read as a create.
const markerVersion = 2

// maxMarkerSize bounds what is read as a marker; real ones are a few KB.
const maxMarkerSize = 1 << 20

// Marker is the journal's record beside the target: who ran, and how far
// it got. It is rewritten atomically, under the lock, before each step it
// announces. It holds no secret.
type Marker struct {
	Version int    `json:"version"`
	RunID   string `json:"run_id"`
	Owner   Owner  `json:"owner"`
	provision.Progress
	// Leftovers are names the target is about to create and removes once
	// delivery is done (a file's temporary names), recorded before they
	// exist, so that a recovery can remove them and nothing else.
	Leftovers []string `json:"leftovers,omitempty"`
	// Delivered: the credentials were put in place, and not retracted since.
	Delivered bool `json:"delivered,omitempty"`
	// Retracted: the run itself removed its delivery (a later step failed).
	Retracted bool `json:"retracted,omitempty"`
	// Format is the credentials file's format, for a file target.
	Format credfile.Format `json:"format,omitempty"`
	// Members (a batch's own marker) are the user names of every sender
	// the batch works on, recorded before any of them starts: a rerun
	// recovers each one's target, whatever its manifest says by then.
	Members []string `json:"members,omitempty"`
	// LegacyUser is version 0's user name.
	LegacyUser string `json:"user_name,omitempty"`
}

// MarkerPath is the marker's path for the target kept at place.
func MarkerPath(place string) string { return besidePath(place, ".pending") }

// LockPath is the lock file's path for the target kept at place.
func LockPath(place string) string { return besidePath(place, ".lock") }

func besidePath(place, ext string) string {
	dir, base := filepath.Split(place)
	return filepath.Join(dir, "."+base+ext)
}

// readMarker returns the marker at path, if there is one.
func readMarker(path string) (Marker, bool, error) {
	f, err := openTrusted(path)
	if err != nil || f == nil {
		return Marker{}, false, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMarkerSize))
	if err != nil {
		return Marker{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	var m Marker
	if err := json.Unmarshal(data, &m); err != nil {
		return Marker{}, false, notMarker(path)
	}
	if m.Version == 0 && m.LegacyUser != "" {
		m.Flow, m.User, m.UserRunID = provision.FlowCreate, m.LegacyUser, m.RunID
	}
	if m.RunID == "" || m.Flow == "" {
		return Marker{}, false, notMarker(path)
	}
	return m, true, nil
}

func notMarker(path string) error { return &NotJournalError{Path: path, Role: "marker"} }

// writeMarker replaces the marker at path atomically and durably.
func writeMarker(path string, m Marker) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := tempPath(path)
	if err := checkMarkerTemp(tmp); err != nil {
		return err
	}
	if err := removeOwn(tmp); err != nil { // a leftover of a write this user's run did not finish
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, credfile.FileMode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return credfile.SyncDir(filepath.Dir(path))
}

// removeMarker removes the marker at path durably; a missing one is fine.
func removeMarker(path string) error {
	if err := removeOwn(tempPath(path)); err != nil {
		return err
	}
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return credfile.SyncDir(filepath.Dir(path))
}

// tempPath is the temporary file a marker at path is written through.
func tempPath(path string) string { return path + ".tmp" }
