package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
)

// journalName is one kind of name a journal keeps beside its target.
type journalName struct {
	// role says what it is, in messages.
	role string
	// of is its path for the target kept at place.
	of func(place string) string
	// open says a token follows (a temporary credentials file's run id).
	open bool
}

// journalNames are every name a journal keeps beside the target at a
// place, from the functions that make them: so CheckName knows them all.
var journalNames = []journalName{
	{role: "lock", of: LockPath},
	{role: "marker", of: MarkerPath},
	{role: "marker's temporary file", of: func(p string) string { return tempPath(MarkerPath(p)) }},
	{role: "temporary credentials file", of: func(p string) string { return credfile.NewPlacement(p, "", false).Temp }, open: true},
}

// namesProbe stands for a target's base name when journalNames are
// turned into patterns: no file name holds it.
const namesProbe = "\x00"

// ReservedNameError refuses a credentials file whose name is one sesmtp's
// journal keeps beside another target (.FILE.lock, .FILE.pending, ...):
// credentials there would be taken for that journal file, and overwritten
// or removed by the next run on FILE. Nothing was changed (exit 2).
type ReservedNameError struct {
	Path string
	// Role is what the journal keeps there; Target is the file it is for.
	Role, Target string
}

func (e *ReservedNameError) Error() string {
	return fmt.Sprintf("%s is a name sesmtp keeps for itself: the %s of a run on %s (beside each credentials file FILE "+
		"sesmtp keeps .FILE.lock, .FILE.pending, .FILE.pending.tmp and .FILE.tmp-*), so credentials written there would be "+
		"taken for it, and overwritten or removed by the next run on %s. Choose another name; nothing was changed",
		e.Path, e.Role, e.Target, filepath.Base(e.Target))
}

// ExitCode implements exitcode.Coder: bad input, found before anything changed.
func (e *ReservedNameError) ExitCode() int { return exitcode.Usage }

// CheckName refuses (a *ReservedNameError, exit 2) a credentials file path
// whose base name is one a journal keeps beside another target: run it on
// every path credentials are written to, before any IAM call.
func CheckName(path string) error {
	dir, base := filepath.Split(path)
	for _, n := range journalNames {
		pre, suf, _ := strings.Cut(n.of(namesProbe), namesProbe)
		rest, ok := strings.CutPrefix(base, pre)
		if !ok {
			continue
		}
		target := ""
		if n.open {
			target, _, _ = strings.Cut(rest, suf)
			if target == rest {
				continue
			}
		} else if t, ok := strings.CutSuffix(rest, suf); ok {
			target = t
		}
		if target != "" {
			return &ReservedNameError{Path: path, Role: n.role, Target: filepath.Join(dir, target)}
		}
	}
	return nil
}

// NotJournalError refuses a file at a journal's own name (its lock,
// marker or the marker's temporary file) that holds something a sesmtp
// run does not write there: credentials saved under that name, say. The
// run would otherwise truncate, replace or remove it. It is left as it
// is, and nothing was changed (exit 2).
type NotJournalError struct {
	Path string
	// Role is what the journal keeps there: "lock", "marker", ...
	Role string
}

func (e *NotJournalError) Error() string {
	return fmt.Sprintf("%s is where sesmtp keeps its %s for %s, but it holds something else (not a %s a sesmtp run "+
		"writes; a credentials file saved under that name, perhaps). sesmtp left it as it is and changed nothing: move it "+
		"to another name (keep it, if it holds credentials), then run again", e.Path, e.Role, journalOf(e.Path), e.Role)
}

// ExitCode implements exitcode.Coder.
func (e *NotJournalError) ExitCode() int { return exitcode.Usage }

// journalOf names the target a journal file at path belongs to.
func journalOf(path string) string {
	var reserved *ReservedNameError
	if errors.As(CheckName(path), &reserved) {
		return reserved.Target
	}
	return "a target beside it"
}

// maxLockSize bounds what is read as a lock record; real ones are a few
// hundred bytes.
const maxLockSize = 4096

// checkLockRecord reads the file f, just locked at path: empty (a new
// lock, or one whose run died before writing it) or one Owner record as
// acquire writes it. Anything else is not sesmtp's lock, and must not
// be truncated.
func checkLockRecord(f *os.File, path string) error {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, maxLockSize+1))
	if err != nil {
		return exitcode.UsageError(fmt.Errorf("read lock file %s: %w", path, err))
	}
	if len(data) == 0 {
		return nil
	}
	var o Owner
	if len(data) > maxLockSize || json.Unmarshal(data, &o) != nil || o.PID <= 0 || o.RunID == "" {
		return &NotJournalError{Path: path, Role: "lock"}
	}
	return nil
}

// markerHead is how every marker this sesmtp writes begins.
var markerHead = func() string {
	data, _ := json.MarshalIndent(Marker{}, "", "  ")
	head, _, _ := strings.Cut(string(data), ":")
	return head
}()

// checkMarkerTemp refuses a file at a marker's temporary name that is
// not what writeMarker leaves when it dies: a beginning of a marker (or
// a whole one). A run of this user that finds it removes it.
func checkMarkerTemp(path string) error {
	f, err := openTrusted(path)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMarkerSize))
	if err != nil {
		return exitcode.UsageError(fmt.Errorf("read %s: %w", path, err))
	}
	s := string(data)
	if strings.HasPrefix(s, markerHead) || strings.HasPrefix(markerHead, s) {
		return nil
	}
	var m Marker
	if json.Unmarshal(data, &m) == nil && m.RunID != "" {
		return nil // a whole marker, of an earlier shape
	}
	return &NotJournalError{Path: path, Role: "marker's temporary file"}
}
