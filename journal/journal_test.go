package journal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// die drops the journal's lock as the kernel does when its process dies:
// the lock file and the marker stay.
func die(j *Journal) {
	_ = j.lock.f.Close()
	j.lock = nil
}

func fileTarget(t *testing.T) File {
	return File{Path: filepath.Join(t.TempDir(), "out", "creds.csv"), Format: credfile.CSV}
}

func creds(id string) credfile.Credentials {
	return credfile.Credentials{UserName: "u", AccessKeyID: id, SecretAccessKey: "secret",
		Passwords: []credfile.RegionPassword{{Region: "eu-west-1", Endpoint: "email-smtp.eu-west-1.amazonaws.com", Password: "BPassword"}}}
}

// TestSecondRunIsRefused: a second Open on a held target fails at once
// with exit 2, naming the holder, and does not touch its marker; once the
// holder closes, the lock file is gone and the target is free.
func TestSecondRunIsRefused(t *testing.T) {
	f := fileTarget(t)
	a, err := Open(f, Options{Command: "sesmtp create --user a"})
	require.NoError(t, err)
	require.NoError(t, a.Note(func(p *provision.Progress) { p.Flow, p.User = provision.FlowCreate, "a" }))
	before, err := os.ReadFile(MarkerPath(f.Path))
	require.NoError(t, err)

	_, err = Open(f, Options{})
	var held *HeldError
	require.ErrorAs(t, err, &held)
	assert.Equal(t, exitcode.Usage, exitcode.Of(err))
	assert.Equal(t, os.Getpid(), held.Owner.PID)
	assert.Contains(t, err.Error(), "sesmtp create --user a")
	assert.Contains(t, err.Error(), f.Path+" is in use by another sesmtp run (pid ")
	after, _ := os.ReadFile(MarkerPath(f.Path))
	assert.Equal(t, before, after, "the holder's marker is untouched")

	require.NoError(t, a.Close(nil))
	assert.NoFileExists(t, LockPath(f.Path))
	assert.NoFileExists(t, MarkerPath(f.Path))
	b, err := Open(f, Options{})
	require.NoError(t, err)
	require.NoError(t, b.Close(nil))
}

// TestLeftBehindKeepsTheMarker: after exit 4 the marker stays for the next
// run to finish the cleanup; the lock goes.
func TestLeftBehindKeepsTheMarker(t *testing.T) {
	f := fileTarget(t)
	j, err := Open(f, Options{})
	require.NoError(t, err)
	require.NoError(t, j.Note(func(p *provision.Progress) { p.Flow, p.User = provision.FlowCreate, "u" }))
	require.NoError(t, j.Close(&exitcode.Error{Code: exitcode.LeftBehind, Err: errors.New("left")}))
	assert.FileExists(t, MarkerPath(f.Path))
	assert.NoFileExists(t, LockPath(f.Path))
}

// deadRun returns an endpoint with user u, made by a run with one key,
// whose journal at f died after noting it (and, if deliver, delivering).
func deadRun(t *testing.T, f File, note func(*provision.Progress), deliver bool) (*iamtest.Server, *iam.Client, string) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	c := e.Client()
	j, err := Open(f, Options{})
	require.NoError(t, err)
	// A create records the time it has left (--timeout and a minute) with its first note.
	require.NoError(t, j.Note(func(p *provision.Progress) {
		p.Flow, p.User, p.UserRunID, p.Budget = provision.FlowCreate, "u", j.RunID(), 6*time.Minute
	}))
	_, err = c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("u"), Tags: runTag(j.RunID())})
	require.NoError(t, err)
	key, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("u")})
	require.NoError(t, err)
	id := aws.ToString(key.AccessKey.AccessKeyId)
	if note != nil {
		require.NoError(t, j.Note(note))
	}
	if deliver {
		require.NoError(t, j.Deliver(t.Context(), creds(id)))
	}
	die(j)
	return srv, c, id
}

func runTag(id string) []types.Tag {
	return []types.Tag{{Key: aws.String(provision.TagRunID), Value: aws.String(id)}}
}

func recoverWith(t *testing.T, f File, c provision.IAMAPI) Recovery {
	j, err := Open(f, Options{})
	require.NoError(t, err)
	rec, err := j.Recover(t.Context(), c)
	require.NoError(t, err)
	require.NoError(t, j.Close(nil))
	return rec
}

func TestRecoverUndeliveredCreate(t *testing.T) {
	f := fileTarget(t)
	srv, c, _ := deadRun(t, f, nil, false)
	rec := recoverWith(t, f, c)
	assert.True(t, rec.Found)
	assert.False(t, rec.Delivered)
	_, ok := srv.User("u")
	assert.False(t, ok, "the dead run's undelivered user is removed")
	assert.NoFileExists(t, MarkerPath(f.Path))
}

func TestRecoverDeliveredCreate(t *testing.T) {
	f := fileTarget(t)
	srv, c, id := deadRun(t, f, nil, true)
	rec := recoverWith(t, f, c)
	assert.True(t, rec.Delivered)
	assert.True(t, rec.Completed(provision.FlowCreate, "u"))
	u, ok := srv.User("u")
	require.True(t, ok, "delivered work is never undone")
	assert.Equal(t, id, u.AccessKeys[0].ID)
}

// TestRecoverMovedFile: the run died after putting the file in place and
// before recording it; the file was then moved away. The temporary name,
// still a second link, proves the delivery: the user stays.
func TestRecoverMovedFile(t *testing.T) {
	for _, force := range []bool{false, true} {
		f := fileTarget(t)
		f.Force = force
		e := iamtest.Start(t)
		srv := e.Local(t)
		c := e.Client()
		j, err := Open(f, Options{Step: func(step string) {
			if step == credfile.StepPlaced {
				panic(errKilled) // dies here, before the marker says delivered
			}
		}})
		require.NoError(t, err)
		// A create records the time it has left (--timeout and a minute) with its first note.
		require.NoError(t, j.Note(func(p *provision.Progress) {
			p.Flow, p.User, p.UserRunID, p.Budget = provision.FlowCreate, "u", j.RunID(), 6*time.Minute
		}))
		_, err = c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("u"), Tags: runTag(j.RunID())})
		require.NoError(t, err)
		key, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("u")})
		require.NoError(t, err)
		require.PanicsWithValue(t, errKilled, func() { _ = j.Deliver(t.Context(), creds(aws.ToString(key.AccessKey.AccessKeyId))) })
		die(j)
		moved := filepath.Join(filepath.Dir(f.Path), "moved.csv")
		require.NoError(t, os.Rename(f.Path, moved))

		rec := recoverWith(t, f, c)
		assert.True(t, rec.Delivered, "force=%v", force)
		assert.True(t, rec.Restored, "force=%v", force)
		_, ok := srv.User("u")
		assert.True(t, ok, "a moved delivery is never undone (force=%v)", force)
		entries, _ := os.ReadDir(filepath.Dir(f.Path))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		assert.Equal(t, []string{"creds.csv", "moved.csv"}, names, "the file is put back; the temporary link is removed, nothing else is left")
		ids, _, err := credfile.KeyIDs(f.Path)
		require.NoError(t, err)
		assert.Equal(t, []string{aws.ToString(key.AccessKey.AccessKeyId)}, ids)
	}
}

// TestRecoverForeignLinkToTemp: a run dies once its temporary file is
// complete, before placing it; someone links the temporary file
// elsewhere. That link is not the placed file (the marker does not say
// placing began): the key is undelivered, and goes.
func TestRecoverForeignLinkToTemp(t *testing.T) {
	f := fileTarget(t)
	e := iamtest.Start(t)
	srv := e.Local(t)
	c := e.Client()
	j, err := Open(f, Options{Step: func(step string) {
		if step == credfile.StepTempWritten {
			panic(errKilled)
		}
	}})
	require.NoError(t, err)
	// A create records the time it has left (--timeout and a minute) with its first note.
	require.NoError(t, j.Note(func(p *provision.Progress) {
		p.Flow, p.User, p.UserRunID, p.Budget = provision.FlowCreate, "u", j.RunID(), 6*time.Minute
	}))
	_, err = c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("u"), Tags: runTag(j.RunID())})
	require.NoError(t, err)
	key, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("u")})
	require.NoError(t, err)
	require.PanicsWithValue(t, errKilled, func() { _ = j.Deliver(t.Context(), creds(aws.ToString(key.AccessKey.AccessKeyId))) })
	die(j)
	temps, _ := filepath.Glob(filepath.Join(filepath.Dir(f.Path), ".creds.csv.tmp-*"))
	require.Len(t, temps, 1)
	require.NoError(t, os.Link(temps[0], filepath.Join(t.TempDir(), "backup")))

	rec := recoverWith(t, f, c)
	assert.False(t, rec.Delivered)
	_, ok := srv.User("u")
	assert.False(t, ok, "undelivered: removed")
	assert.NoFileExists(t, temps[0])
}

var errKilled = errors.New("killed")

// TestRecoverGroupAndKeyRotation: an undelivered key rotation loses only
// its new key; a delivered one retires the old keys; a group the dead run
// created goes only while empty.
func TestRecoverGroupAndKeyRotation(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	c := e.Client()
	ctx := t.Context()
	srv.PutUser(iamtest.User{Name: "r", AccessKeys: []iamtest.AccessKey{{ID: "AKIAOLD0000000000001", SecretAccessKey: "old"}}})
	newKey := func() string {
		k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("r")})
		require.NoError(t, err)
		return aws.ToString(k.AccessKey.AccessKeyId)
	}
	for _, g := range []string{"empty", "used"} {
		_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(g)})
		require.NoError(t, err)
	}
	_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("used"), UserName: aws.String("r")})
	require.NoError(t, err)

	undelivered := newKey()
	p := provision.Progress{Flow: provision.FlowRotateKey, User: "r", OldKeys: []string{"AKIAOLD0000000000001"}, Retire: provision.RetireDelete,
		KeyID: undelivered, Groups: []provision.CreatedGroup{{Name: "empty", Policy: "p"}, {Name: "used", Policy: "p"}}}
	rec, err := provision.Resolve(ctx, c, p, false)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"access key " + undelivered, `group policy "p"`, `group "empty"`}, rec.Removed)
	u, _ := srv.User("r")
	require.Len(t, u.AccessKeys, 1)
	assert.Equal(t, "AKIAOLD0000000000001", u.AccessKeys[0].ID)
	assert.Equal(t, []string{"used"}, srv.Groups())

	delivered := newKey()
	p.KeyID, p.Groups = delivered, nil
	rec, err = provision.Resolve(ctx, c, p, true)
	require.NoError(t, err)
	assert.Equal(t, []string{"old access key AKIAOLD0000000000001 deleted"}, rec.Finished)
	u, _ = srv.User("r")
	require.Len(t, u.AccessKeys, 1)
	assert.Equal(t, delivered, u.AccessKeys[0].ID)
}

// TestResumeKeepsTheMarker: a dead recreate's saved configuration stays
// in the marker until a run records its own progress.
func TestResumeKeepsTheMarker(t *testing.T) {
	e := iamtest.Start(t)
	c := e.Client()
	f := fileTarget(t)
	j, err := Open(f, Options{})
	require.NoError(t, err)
	saved := &provision.SavedConfig{Path: "/smtp/", Groups: []string{"g"}}
	require.NoError(t, j.Note(func(p *provision.Progress) { p.Flow, p.User, p.Saved = provision.FlowRecreate, "gone", saved }))
	die(j)

	j, err = Open(f, Options{})
	require.NoError(t, err)
	rec, err := j.Recover(context.Background(), c)
	require.NoError(t, err)
	assert.Equal(t, saved, rec.Resume)
	assert.Error(t, rec.RequireNoResume(f.Path, false), "another flow must not run over an unfinished rotation")
	require.NoError(t, j.Close(nil))
	assert.FileExists(t, MarkerPath(f.Path), "kept: this run never began")

	j, err = Open(f, Options{})
	require.NoError(t, err)
	rec, err = j.Recover(context.Background(), c)
	require.NoError(t, err)
	require.NotNil(t, rec.Resume)
	require.NoError(t, j.Note(func(p *provision.Progress) { p.Flow, p.User, p.Saved = provision.FlowRecreate, "gone", rec.Resume }))
	require.NoError(t, j.Close(nil))
	assert.NoFileExists(t, MarkerPath(f.Path), "the resuming run finished")
}

func TestLegacyMarker(t *testing.T) {
	f := fileTarget(t)
	require.NoError(t, os.MkdirAll(filepath.Dir(f.Path), 0o700))
	require.NoError(t, os.WriteFile(MarkerPath(f.Path), []byte(`{"user_name":"u","run_id":"abc"}`), 0o600))
	m, found, err := readMarker(MarkerPath(f.Path))
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, provision.FlowCreate, m.Flow)
	assert.Equal(t, "u", m.User)
	assert.Equal(t, "abc", m.UserRunID)

	require.NoError(t, os.WriteFile(MarkerPath(f.Path), []byte(`garbage`), 0o600))
	_, _, err = readMarker(MarkerPath(f.Path))
	var notJournal *NotJournalError
	assert.ErrorAs(t, err, &notJournal)
}

// A create's marker without a budget (--timeout 0, or an earlier sesmtp's)
// that never learned its key's id cannot prove any key on the user is the
// dead run's: recovery leaves the user and its key and says so.
func TestRecoverUndeliveredCreateWithoutWindow(t *testing.T) {
	f := fileTarget(t)
	srv, c, id := deadRun(t, f, func(p *provision.Progress) { p.Budget = 0 }, false)
	j, err := Open(f, Options{})
	require.NoError(t, err)
	_, err = j.Recover(t.Context(), c)
	_ = j.Close(nil)
	require.Error(t, err, "a key it cannot prove the dead run's is left, and reported")
	assert.Equal(t, exitcode.LeftBehind, exitcode.Of(err))
	assert.Contains(t, err.Error(), id)
	assert.Contains(t, err.Error(), "aws iam delete-access-key --user-name u --access-key-id "+id)
	_, ok := srv.User("u")
	assert.True(t, ok, "the user stays")
}
