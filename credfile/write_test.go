package credfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckRefusesNonRegular: a link (dangling or not), directory, FIFO or
// device is refused with and without force, and Write never replaces one.
func TestCheckRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.csv")
	require.NoError(t, os.WriteFile(file, []byte("old"), 0o600))
	link := filepath.Join(dir, "link.csv")
	require.NoError(t, os.Symlink(file, link))
	dangling := filepath.Join(dir, "dangling.csv")
	require.NoError(t, os.Symlink(filepath.Join(dir, "missing.csv"), dangling))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	tests := []struct{ name, path, want string }{
		{"symlink to a regular file", link, "is a symbolic link to " + file},
		{"dangling symlink", dangling, "which does not exist"},
		{"FIFO", fifo, "is a FIFO"},
		{"device", "/dev/null", "is a device"},
		{"directory", dir, "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, force := range []bool{false, true} {
				assert.ErrorContains(t, Check(tt.path, force), tt.want, "force=%v", force)
			}
			assert.Error(t, Write(tt.path, []byte("new"), true), "Write --force must refuse it too")
		})
	}
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "old", string(got), "nothing was written through the link")
	target, err := os.Readlink(link)
	require.NoError(t, err)
	assert.Equal(t, file, target, "the link is still a link")
	_, err = os.Lstat(filepath.Join(dir, "missing.csv"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing was created at a dangling link's target")
}

// TestForceKeepsTheOldFileUntilTheNewIsComplete: with force, the old file
// stays whole at every step until the rename, and a failure before it
// leaves the old file and no temporary name.
func TestForceKeepsTheOldFileUntilTheNewIsComplete(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.csv")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	p := NewPlacement(path, "tok", true)
	var seen []string
	p.Step = func(step string) {
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		seen = append(seen, step+":"+string(got))
	}
	require.NoError(t, p.Write([]byte("new")))
	assert.Equal(t, []string{StepTempWritten + ":old", StepPlaced + ":new"}, seen)
	info, err := os.Lstat(p.Temp)
	require.NoError(t, err, "the temporary name stays as a second link until Finish")
	assert.EqualValues(t, 2, info.Sys().(*syscall.Stat_t).Nlink)
	require.NoError(t, p.Finish())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "only the credentials file is left")

	// A failure while placing (here: the path became a directory) leaves
	// no temporary file behind.
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.Mkdir(path, 0o700))
	p = NewPlacement(path, "tok2", true)
	assert.ErrorContains(t, p.Write([]byte("new")), "is a directory")
	_, err = os.Lstat(p.Temp)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestPlacementWithoutForceNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.csv")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	p := NewPlacement(path, "tok", false)
	var exists *ExistsError
	require.ErrorAs(t, p.Write([]byte("new")), &exists)
	got, _ := os.ReadFile(path)
	assert.Equal(t, "old", string(got))
	_, err := os.Lstat(p.Temp)
	assert.True(t, errors.Is(err, os.ErrNotExist), "no temporary file is left")
}

// TestCSVFormulasAreEscaped: values a spreadsheet would run as formulas
// are written with a leading ' and read back as they were.
func TestCSVFormulasAreEscaped(t *testing.T) {
	for _, user := range []string{"=1+2", "+cmd", "-2", "@SUM(A1)", "plain", "a=b"} {
		t.Run(user, func(t *testing.T) {
			for _, pw := range []string{"+BAbCdEf/ghij", "=x", "BPlain", "'=quoted"} {
				creds := Credentials{UserName: user, AccessKeyID: "AKIAEXAMPLE000000001", SecretAccessKey: "+secret",
					Passwords: []RegionPassword{{Region: "eu-west-1", Endpoint: "email-smtp.eu-west-1.amazonaws.com", Password: Secret(pw)}}}
				var buf bytes.Buffer
				require.NoError(t, Render(&buf, CSV, creds, Options{IncludeSecretKey: true}))
				for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n")[1:] {
					for _, cell := range strings.Split(line, ",") {
						cell = strings.Trim(cell, `"`)
						assert.NotContains(t, "=+-@\t\r", cell[:1], "cell %q starts like a formula", cell)
					}
				}
				entries, err := Read(&buf)
				require.NoError(t, err)
				require.Len(t, entries, 1)
				assert.Equal(t, user, entries[0].IAMUser)
				assert.Equal(t, pw, entries[0].Password.Reveal())
			}
		})
	}
}

func TestKeyIDs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.csv")
	_, found, err := KeyIDs(path)
	require.NoError(t, err)
	assert.False(t, found)
	creds := Credentials{UserName: "u", AccessKeyID: "AKIAEXAMPLE000000001",
		Passwords: []RegionPassword{{Region: "eu-west-1", Endpoint: "email-smtp.eu-west-1.amazonaws.com", Password: "BPw"}}}
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, CSV, creds, Options{}))
	require.NoError(t, Write(path, buf.Bytes(), false))
	ids, found, err := KeyIDs(path)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, []string{"AKIAEXAMPLE000000001"}, ids)
	link := filepath.Join(dir, "l.csv")
	require.NoError(t, os.Symlink(path, link))
	_, found, err = KeyIDs(link)
	assert.True(t, found)
	assert.Error(t, err, "never read through a link")
}
