package credfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// formulaStarts are the first characters that make a spreadsheet run a
// cell as a formula (OWASP, "CSV Injection": =, +, -, @, tab and carriage
// return), and the quote that escapes them, so that escaping stays reversible.
const formulaStarts = "=+-@\t\r'"

// SafeCell returns v as a CSV cell no spreadsheet runs as a formula: a
// value starting with =, +, -, @, tab, carriage return or ' gets a leading
// ' (OWASP's advice), which spreadsheets show as text. UnsafeCell undoes it.
// IAM user names may start with = + - @, and secret keys with +.
func SafeCell(v string) string {
	if v != "" && strings.IndexByte(formulaStarts, v[0]) >= 0 {
		return "'" + v
	}
	return v
}

// UnsafeCell undoes SafeCell: a leading ' before one of the characters
// SafeCell escapes is dropped; any other value is returned as it is (the
// console's CSV has no escapes, and no IAM name, key id or SMTP password
// starts with ').
func UnsafeCell(v string) string {
	if len(v) >= 2 && v[0] == '\'' && strings.IndexByte(formulaStarts, v[1]) >= 0 {
		return v[1:]
	}
	return v
}

func safeRow(row []string) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = SafeCell(v)
	}
	return out
}

// KeyIDs returns the SMTP usernames (access key ids) the credentials file
// at path names. It reads path itself, never through a symbolic link, and
// only a regular file; found is false when nothing is at path. A file that
// is not a credentials file names no key (ids is empty, err nil).
func KeyIDs(path string) (ids []string, found bool, err error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, true, fmt.Errorf("read %s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil, true, &NotRegularError{Path: path, Kind: "not a regular file"}
	}
	entries, err := Read(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, true, nil
	}
	for _, e := range entries {
		ids = append(ids, e.Username)
	}
	return ids, true, nil
}
