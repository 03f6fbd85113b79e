package journal

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
)

// TestUntrustedJournalFiles: a lock, marker or marker temp that sesmtp's
// own runs cannot have left (another owner, writable by group or others,
// a FIFO, a link) is refused with exit 2 before the run does anything, and
// stays where it is; the run's own leftover temp is replaced. Another
// owner is checked by chown when the tests run as root (they do in CI).
func TestUntrustedJournalFiles(t *testing.T) {
	plant := map[string]func(t *testing.T, path string){
		"group-writable": func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("{}"), 0o600))
			require.NoError(t, os.Chmod(path, 0o620))
		},
		"world-writable": func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("{}"), 0o600))
			require.NoError(t, os.Chmod(path, 0o606))
		},
		"another owner": func(t *testing.T, path string) {
			if os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			require.NoError(t, os.WriteFile(path, []byte("{}"), 0o600))
			require.NoError(t, os.Chown(path, 65534, 65534))
		},
		"FIFO": func(t *testing.T, path string) { require.NoError(t, syscall.Mkfifo(path, 0o600)) },
		"link": func(t *testing.T, path string) {
			require.NoError(t, os.Symlink(filepath.Join(filepath.Dir(path), "elsewhere"), path))
		},
	}
	for _, which := range []string{"lock", "marker", "marker temp"} {
		for kind, f := range plant {
			t.Run(which+"/"+kind, func(t *testing.T) {
				target := fileTarget(t)
				require.NoError(t, os.MkdirAll(filepath.Dir(target.Path), 0o700))
				path := map[string]string{"lock": LockPath(target.Path), "marker": MarkerPath(target.Path),
					"marker temp": tempPath(MarkerPath(target.Path))}[which]
				f(t, path)
				before, err := os.Lstat(path)
				require.NoError(t, err)
				j, err := Open(target, Options{})
				if err == nil {
					_, err = j.Recover(t.Context(), nil)
					_ = j.Close(err)
				}
				var untrusted *UntrustedError
				require.ErrorAs(t, err, &untrusted)
				assert.Equal(t, exitcode.Usage, exitcode.Of(err))
				after, err := os.Lstat(path)
				require.NoError(t, err, "left where it is")
				assert.True(t, os.SameFile(before, after))
			})
		}
	}
	t.Run("own leftover temp", func(t *testing.T) {
		target := fileTarget(t)
		require.NoError(t, os.MkdirAll(filepath.Dir(target.Path), 0o700))
		require.NoError(t, os.WriteFile(tempPath(MarkerPath(target.Path)), []byte(markerHead[:5]), 0o600)) // half a marker
		j, err := Open(target, Options{})
		require.NoError(t, err)
		require.NoError(t, j.Note(func(p *provision.Progress) { p.Flow, p.User = provision.FlowCreate, "u" }))
		require.NoError(t, j.Close(nil))
		assert.NoFileExists(t, tempPath(MarkerPath(target.Path)))
	})
}
