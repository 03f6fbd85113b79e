package credfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Pending is the marker a run leaves beside a credentials file from before
// it creates an IAM user until the file is written. If the process dies in
// between (SIGKILL, power loss), the marker names the user and the run
// that made it, so the next run can remove that user and its key, whose
// secret nobody has. It holds no secret.
type Pending struct {
	UserName string `json:"user_name"`
	RunID    string `json:"run_id"`
}

// PendingPath is the marker's path for the credentials file path.
func PendingPath(path string) string {
	dir, base := filepath.Split(path)
	return filepath.Join(dir, "."+base+".pending")
}

// WritePending creates the marker for path (0600, O_EXCL; directories 0700).
func WritePending(path string, p Pending) error {
	marker := PendingPath(path)
	if err := os.MkdirAll(filepath.Dir(marker), DirMode); err != nil {
		return fmt.Errorf("create directory for %s: %w", marker, err)
	}
	f, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return fmt.Errorf("create %s: %w", marker, unwrapPathError(err))
	}
	data, _ := json.Marshal(p)
	if err := writeSynced(f, append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", marker, err)
	}
	return syncDir(filepath.Dir(marker))
}

// ReadPending returns the marker for path, if there is one.
func ReadPending(path string) (Pending, bool, error) {
	data, err := os.ReadFile(PendingPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return Pending{}, false, nil
	}
	if err != nil {
		return Pending{}, false, err
	}
	var p Pending
	if err := json.Unmarshal(data, &p); err != nil || p.UserName == "" || p.RunID == "" {
		return Pending{}, false, fmt.Errorf("%s is not a sesmtp pending marker; remove it if you know where it came from", PendingPath(path))
	}
	return p, true, nil
}

// RemovePending removes the marker for path; a missing one is fine.
func RemovePending(path string) error {
	err := os.Remove(PendingPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
