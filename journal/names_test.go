package journal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
)

// TestCheckName: every name a journal keeps beside a target is refused
// as a credentials file (exit 2, naming the target it belongs to); other
// names, dot-files among them, are not.
func TestCheckName(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "creds.csv")
	place := credfile.NewPlacement(target, "0123abcd", false)
	for path, role := range map[string]string{
		LockPath(target):             "lock",
		MarkerPath(target):           "marker",
		tempPath(MarkerPath(target)): "marker's temporary file",
		place.Temp:                   "temporary credentials file",
		place.Witness:                "temporary credentials file",
		LockPath(Dir(dir).Place()):   "lock",
	} {
		err := CheckName(path)
		var reserved *ReservedNameError
		if assert.ErrorAs(t, err, &reserved, path) {
			assert.Equal(t, role, reserved.Role, path)
			assert.Equal(t, exitcode.Usage, exitcode.Of(err))
		}
	}
	var reserved *ReservedNameError
	require.ErrorAs(t, CheckName(LockPath(target)), &reserved)
	assert.Equal(t, target, reserved.Target)
	for _, ok := range []string{target, filepath.Join(dir, ".creds.csv"), filepath.Join(dir, ".lock"), filepath.Join(dir, "creds.lock"),
		filepath.Join(dir, ".env"), filepath.Join(dir, ".pending"), filepath.Join(dir, ".tmp-x"), credfile.Stdout} {
		assert.NoError(t, CheckName(ok), ok)
	}
}

// TestJournalFilesHoldingSomethingElse: a file of the user's own at a
// journal name (credentials saved as .FILE.lock, say) is not taken for a
// lock, marker or marker temp: the run exits 2 before anything, and the
// file stays as it was. An empty lock (its run died before writing it)
// and a dead run's lock record are taken as locks.
func TestJournalFilesHoldingSomethingElse(t *testing.T) {
	creds := []byte("IAM User Name,Access key ID,Secret access key\nu,AKIAEXAMPLE,secret\n")
	for _, which := range []string{"lock", "marker", "marker temp"} {
		t.Run(which, func(t *testing.T) {
			target := fileTarget(t)
			require.NoError(t, os.MkdirAll(filepath.Dir(target.Path), 0o700))
			path := map[string]string{"lock": LockPath(target.Path), "marker": MarkerPath(target.Path),
				"marker temp": tempPath(MarkerPath(target.Path))}[which]
			require.NoError(t, os.WriteFile(path, creds, 0o600))
			j, err := Open(target, Options{})
			if err == nil {
				_, err = j.Recover(t.Context(), nil)
				_ = j.Close(err)
			}
			var notJournal *NotJournalError
			require.ErrorAs(t, err, &notJournal)
			assert.Equal(t, exitcode.Usage, exitcode.Of(err))
			assert.Contains(t, err.Error(), target.Path)
			data, rerr := os.ReadFile(path)
			require.NoError(t, rerr, "left where it is")
			assert.Equal(t, creds, data, "left as it was")
		})
	}
	dead, _ := json.Marshal(Owner{PID: 4242, Host: "h", RunID: provision.NewRunID()})
	for name, content := range map[string][]byte{"empty lock": nil, "a dead run's lock": dead} {
		t.Run(name, func(t *testing.T) {
			target := fileTarget(t)
			require.NoError(t, os.MkdirAll(filepath.Dir(target.Path), 0o700))
			require.NoError(t, os.WriteFile(LockPath(target.Path), content, 0o600))
			j, err := Open(target, Options{})
			require.NoError(t, err)
			require.NoError(t, j.Close(nil))
		})
	}
}

// TestBatchMembers: a batch's own marker records its senders before any
// starts (a marker of the batch flow even before a group is noted); the
// next run on the directory reads them before Recover removes the marker.
func TestBatchMembers(t *testing.T) {
	d := Dir(t.TempDir())
	j, err := Open(d, Options{})
	require.NoError(t, err)
	members, err := j.DeadMembers()
	require.NoError(t, err)
	assert.Empty(t, members, "no dead batch")
	require.NoError(t, j.NoteMembers([]string{"first", "second"}))
	die(j)

	j, err = Open(d, Options{})
	require.NoError(t, err)
	members, err = j.DeadMembers()
	require.NoError(t, err)
	assert.Equal(t, []string{"first", "second"}, members)
	rec, err := j.Recover(t.Context(), nil)
	require.NoError(t, err)
	assert.Equal(t, provision.FlowBatch, rec.Flow)
	require.NoError(t, j.Close(nil))
	assert.NoFileExists(t, MarkerPath(d.Place()))
}
