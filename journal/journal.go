// Package journal is the one owner of crash safety for sesmtp's runs that
// change IAM: a Journal holds an exclusive lock on its target, keeps a
// marker beside it that records, before each IAM change, what the run is
// about to do, hands the credentials over, and recovers what a dead run
// left. Every flow (create, each sender of a batch, rotate by either
// strategy) is given a Journal and can deliver only through it, so no flow
// can forget it.
//
// # Ownership, not guesswork
//
// The lock is flock(2) on .<file>.lock beside the target: the kernel
// releases it when its process dies, however it dies. A second run on the
// same target fails at once with a *HeldError (exit 2) naming the holder
// (pid, host, start time) and never reads the holder's marker. So a marker
// found under the lock belongs to a dead run, and Recover acts on it:
// from the marker and IAM, never from whether a file merely exists. A key
// counts as delivered only if the target names that key id (a file is
// read back with credfile); delivered work is never undone, undelivered
// work is removed, but only what the marker proves that run made (see
// provision.Resolve).
//
// # Plugging in
//
// A new flow (say, a setup command that creates a sending group and a
// boundary policy) takes a provision.Journal, opens one with Open for its
// target (OpenDir when it delivers nothing), calls Recover before its
// first IAM call, records each fact with Note before the IAM call it
// announces (provision.EnsureGroup already records the groups it
// creates), and calls Close with its result. provision.Resolve decides
// what its recorded progress means after a crash; a new kind of resource
// gets a field in provision.Progress and a case there.
//
// A delivery target implements Target: File (a credentials file), Store
// (a Secrets Manager secret or SSM parameters, see package store) and Both
// (a file and a store, delivered only when both are). Place is a local
// path to keep the lock and marker at (for a store, a file under the
// state directory, StorePlace: the lock then guards one machine only);
// Deliver records, before it creates anything a crash could leave, the
// names of what it creates (a file's temporary names; a store's writes are
// all keyed by the access key id the journal records first); Holds reads
// the target back and reports whether it names the key id; Retract and
// Cleanup remove this run's delivery and leftovers, never anyone else's.
// A Deliver that fails is taken back at once (Retract), unless it wrote
// nothing (NotWrittenError); if that fails too, the flow keeps the key
// (provision.PartialDeliveryError) and the next run finishes it.
package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
)

// Steps a Journal reports to Options.Step, in order, besides the target's
// own (credfile.StepTempWritten, credfile.StepPlaced for a file).
const (
	// StepNoted: a Note was made durable.
	StepNoted = "noted"
	// StepDelivered: the marker says delivered; leftovers are not yet removed.
	StepDelivered = "delivered"
	// StepFinished: the delivery's leftovers are removed.
	StepFinished = "finished"
	// StepClosing: the run is over; the marker is about to be removed.
	StepClosing = "closing"
)

// Target is where a journaled run delivers credentials. File is the one
// sesmtp has; see the package documentation for others.
type Target interface {
	// Name names the target in messages (a path, an ARN).
	Name() string
	// Place is the local path the lock and marker are kept beside.
	Place() string
	// Deliver puts creds in place. Before it creates anything a crash
	// could leave behind, it records its name with record; it reports
	// its steps to step.
	Deliver(ctx context.Context, creds credfile.Credentials, token string, record func(leftovers ...string) error, step func(string)) error
	// Holds reports whether the target now delivers access key id: it
	// names it, or the leftovers in m prove it was put in place (a file
	// moved since).
	Holds(ctx context.Context, m Marker, id string) (bool, error)
	// Retract removes the delivery of key id, if the target still names it.
	Retract(ctx context.Context, id string) error
	// Cleanup removes the leftovers m records; nothing else.
	Cleanup(m Marker) error
}

// Options configure a Journal.
type Options struct {
	// Command is recorded in the lock, e.g. "sesmtp create --user app".
	Command string
	// Step, if set, is called after each step (for tests that kill the
	// process at each one).
	Step func(string)
}

// Journal is one run's lock, marker and recovery for one target. It
// implements provision.Journal. Its methods are safe for one flow at a
// time (a run's concurrent grant and key calls may Note concurrently).
type Journal struct {
	target Target
	opts   Options
	lock   *lock
	marker string
	// m is the run's marker; begun says it has been written.
	m     Marker
	begun bool
	// deadDelivered says the marker is still a dead run's whose delivered
	// work Recover found complete: it goes at Close (a run that writes its
	// own marker replaces it first), unless KeepRecovered.
	deadDelivered, keepDead bool
	// mu serialises Notes (a run's grant and key calls run concurrently).
	mu chan struct{}
}

var _ provision.Journal = (*Journal)(nil)

// Open takes target's lock without waiting (a *HeldError, exit 2, if a
// live run holds it). It writes no marker until the first Note.
func Open(target Target, opts Options) (*Journal, error) {
	place := target.Place()
	if err := CheckName(place); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(place), credfile.DirMode); err != nil {
		return nil, exitcode.UsageError(fmt.Errorf("create directory for %s: %w", target.Name(), err))
	}
	runID := provision.NewRunID()
	host, _ := os.Hostname()
	owner := Owner{PID: os.Getpid(), Host: host, Started: time.Now().UTC().Truncate(time.Second), RunID: runID, Command: opts.Command}
	l, err := acquire(LockPath(place), target.Name(), owner)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{MarkerPath(place), tempPath(MarkerPath(place))} {
		if _, err := checkTrusted(p); err != nil {
			_ = l.release()
			return nil, err
		}
	}
	if err := checkMarkerTemp(tempPath(MarkerPath(place))); err != nil {
		_ = l.release()
		return nil, err
	}
	j := &Journal{target: target, opts: opts, lock: l, marker: MarkerPath(place), mu: make(chan struct{}, 1),
		m: Marker{Version: markerVersion, RunID: runID, Owner: owner}}
	return j, nil
}

// RunID is the run's random id; a user the run creates is tagged with it.
func (j *Journal) RunID() string { return j.m.RunID }

func (j *Journal) step(name string) {
	if j.opts.Step != nil {
		j.opts.Step(name)
	}
}

func (j *Journal) locked(f func() error) error {
	j.mu <- struct{}{}
	defer func() { <-j.mu }()
	return f()
}

// Note implements provision.Journal: it applies change and rewrites the
// marker durably before returning.
func (j *Journal) Note(change func(*provision.Progress)) error {
	return j.locked(func() error {
		change(&j.m.Progress)
		return j.save()
	})
}

// save writes the marker; the caller holds j.mu. A journal without a
// lock (Stdout) records nothing.
func (j *Journal) save() error {
	if j.lock == nil {
		return nil
	}
	if err := writeMarker(j.marker, j.m); err != nil {
		return err
	}
	j.begun = true
	j.step(StepNoted)
	return nil
}

func (j *Journal) update(change func(*Marker)) error {
	return j.locked(func() error {
		change(&j.m)
		return j.save()
	})
}

// NoteMembers records, in a batch's own journal, the user names of every
// sender the batch is about to work on, before any of them starts.
func (j *Journal) NoteMembers(users []string) error {
	return j.update(func(m *Marker) {
		m.Members = slices.Clone(users)
		if m.Flow == "" {
			m.Flow = provision.FlowBatch
		}
	})
}

// DeadMembers returns the senders a dead batch's marker records (see
// NoteMembers), without acting on it: a rerun recovers each one's target
// before Recover removes the marker. Call it with the lock held (after
// Open), before Recover.
func (j *Journal) DeadMembers() ([]string, error) {
	if j.lock == nil {
		return nil, nil
	}
	m, _, err := readMarker(j.marker)
	return m.Members, exitcode.UsageError(err)
}

// Deliver implements provision.Journal: it records the key id and the
// names the target is about to create, delivers, records the delivery,
// then removes the leftovers.
func (j *Journal) Deliver(ctx context.Context, creds credfile.Credentials) error {
	var format credfile.Format
	if f, ok := j.target.(formatted); ok {
		format = f.FileFormat()
	}
	if err := j.update(func(m *Marker) { m.KeyID, m.Delivered, m.Retracted, m.Format = creds.AccessKeyID, false, false, format }); err != nil {
		return fmt.Errorf("record the delivery: %w", err)
	}
	record := func(names ...string) error {
		return j.update(func(m *Marker) { m.Leftovers = append(m.Leftovers, names...) })
	}
	if err := j.target.Deliver(ctx, creds, j.m.RunID, record, j.step); err != nil {
		return j.undoDelivery(ctx, creds.AccessKeyID, err)
	}
	if err := j.update(func(m *Marker) { m.Delivered = true }); err != nil {
		return fmt.Errorf("record the delivery: %w", err)
	}
	j.step(StepDelivered)
	if err := j.target.Cleanup(j.m); err != nil {
		return err
	}
	if err := j.update(func(m *Marker) { m.Leftovers = nil }); err != nil {
		return err
	}
	j.step(StepFinished)
	return nil
}

// formatted is a target with a credentials file, whose format the marker records.
type formatted interface{ FileFormat() credfile.Format }

// restorer is a target that can put a delivery back in place when Holds
// proved it from the leftovers alone (File: the placed file was moved away).
type restorer interface {
	Restore(m Marker, id string) (bool, error)
}

// retractTimeout bounds taking back a failed delivery, which runs after
// Ctrl-C or --timeout too.
const retractTimeout = 2 * time.Minute

// undoDelivery takes back what a failed delivery may have written (a
// store write whose answer was lost, the first parameters of several, a
// file placed before a later step failed), so that no target names a key
// the flow is about to delete. If that fails too, the target may still
// name the key: a *provision.PartialDeliveryError tells the flow to keep
// the key and exit 4; the marker records the retraction, so the next run
// on the target finishes it before anything else.
func (j *Journal) undoDelivery(ctx context.Context, id string, cause error) error {
	var notWritten *NotWrittenError
	if j.lock == nil || errors.As(cause, &notWritten) {
		return cause // standard output, or nothing written: nothing to take back
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), retractTimeout)
	defer cancel()
	err := j.update(func(m *Marker) { m.Retracted = true })
	if err == nil {
		err = j.target.Cleanup(j.m)
	}
	if err == nil {
		err = j.target.Retract(ctx, id)
	}
	if err != nil {
		return &provision.PartialDeliveryError{Target: j.target.Name(), KeyID: id, Err: cause, RetractErr: err}
	}
	return cause
}

// Retract implements provision.Journal: it records the retraction, then
// removes the delivery if the target still names this run's key.
func (j *Journal) Retract(ctx context.Context) error {
	if err := j.update(func(m *Marker) { m.Delivered, m.Retracted = false, true }); err != nil {
		return fmt.Errorf("record the retraction: %w", err)
	}
	if err := j.target.Cleanup(j.m); err != nil {
		return err
	}
	return j.target.Retract(ctx, j.m.KeyID)
}

// Close ends the run: unless err left something behind (exit 4, when the
// next run must finish the cleanup), it removes the marker; then it
// releases the lock. A marker Recover left for this run to take over
// stays if the run never began.
func (j *Journal) Close(err error) error {
	if j.lock == nil {
		return nil
	}
	j.step(StepClosing)
	var rerr error
	switch {
	case j.begun && exitcode.Of(err) != exitcode.LeftBehind:
		rerr = removeMarker(j.marker)
	case !j.begun && j.deadDelivered && !j.keepDead:
		rerr = removeMarker(j.marker)
	}
	if lerr := j.lock.release(); rerr == nil {
		rerr = lerr
	}
	j.lock = nil
	return rerr
}

// Recovery says what Recover found and did.
type Recovery struct {
	// Found says a dead run's marker was there; the rest is about that run.
	Found bool
	Owner Owner
	provision.Progress
	// Delivered says its key was delivered (the target names it).
	Delivered bool
	// Restored says the placed file had been moved away and was put back.
	Restored bool
	// Format is the dead run's credentials file format ("" if unknown).
	Format credfile.Format
	provision.Recovered
}

// Changed reports whether the recovery changed IAM or took back a delivery.
func (r Recovery) Changed() bool {
	return len(r.Removed) > 0 || len(r.Finished) > 0 || r.Withdrawn
}

// Recover finishes or undoes what a dead run left at the target: it must
// be called with the lock held (after Open), before the run's first IAM
// call. It removes the dead run's leftovers, proves from the target
// whether its key was delivered, and lets provision.Resolve keep or
// complete delivered work and remove the rest. If a rotation must be
// resumed (Recovery.Resume), the marker stays until this run records its
// own progress.
func (j *Journal) Recover(ctx context.Context, c provision.IAMAPI) (Recovery, error) {
	if j.lock == nil {
		return Recovery{}, nil
	}
	m, found, err := readMarker(j.marker)
	if err != nil || !found {
		return Recovery{}, exitcode.UsageError(err)
	}
	rec := Recovery{Found: true, Owner: m.Owner, Progress: m.Progress, Format: m.Format}
	if m.KeyID != "" {
		held, err := j.target.Holds(ctx, m, m.KeyID)
		if err != nil {
			return rec, fmt.Errorf("an earlier run died while working on %s; cannot tell whether it delivered key %s: %w", j.target.Name(), m.KeyID, err)
		}
		// A run that took its delivery back (a failed write, --verify)
		// had not delivered, whatever the target still holds.
		rec.Delivered = !m.Retracted && (held || m.Delivered)
		if r, ok := j.target.(restorer); ok && rec.Delivered {
			if rec.Restored, err = r.Restore(m, m.KeyID); err != nil {
				return rec, fmt.Errorf("an earlier run (%s) died after delivering to %s: %w", m.Owner, j.target.Name(), err)
			}
		}
		if !rec.Delivered {
			// A part of an undelivered write (the first parameters of
			// several, a file without its store) names a key about to go.
			if err := j.target.Retract(ctx, m.KeyID); err != nil {
				return rec, fmt.Errorf("an earlier run (%s) died while working on %s; taking back its undelivered key %s failed (run again to retry): %w",
					m.Owner, j.target.Name(), m.KeyID, err)
			}
		}
	}
	if err := j.target.Cleanup(m); err != nil {
		return rec, err
	}
	rec.Recovered, err = provision.Resolve(ctx, c, m.Progress, rec.Delivered)
	var unproven *provision.UnprovenKeysError
	if errors.As(err, &unproven) {
		// Reported with what to check and how to remove them; another run
		// would find the same, so the record goes.
		if rerr := removeMarker(j.marker); rerr != nil {
			return rec, errors.Join(err, rerr)
		}
		return rec, fmt.Errorf("an earlier run (%s) died while working on %s: %w", m.Owner, j.target.Name(), err)
	}
	if err != nil && exitcode.Of(err) == exitcode.LeftBehind {
		// What remains is listed with its command; the marker stays, so
		// that the next run finishes the removal.
		return rec, fmt.Errorf("an earlier run (%s) died while working on %s; %w", m.Owner, j.target.Name(), err)
	}
	if err != nil {
		return rec, fmt.Errorf("an earlier run (%s) died while working on %s and left IAM changes; removing them failed (run again to retry): %w",
			m.Owner, j.target.Name(), err)
	}
	if rec.Withdrawn {
		// Delivered, but IAM no longer holds the key: the delivery names a
		// deleted key, and goes.
		if err := j.target.Retract(ctx, m.KeyID); err != nil {
			return rec, fmt.Errorf("an earlier run (%s) delivered key %s to %s, which IAM no longer holds; removing it failed (run again to retry): %w",
				m.Owner, m.KeyID, j.target.Name(), err)
		}
		rec.Delivered = false
	}
	if rec.Resume != nil {
		return rec, nil // the marker stays until this run records its own progress
	}
	if rec.Delivered {
		// Removed at Close: a run refused for asking something else
		// (KeepRecovered) leaves it for the command that asks the same.
		j.deadDelivered = true
		return rec, nil
	}
	return rec, removeMarker(j.marker)
}

// KeepRecovered keeps the marker of the dead run whose delivered work
// Recover found, when this run then refuses before it writes a marker of
// its own (a rerun asking for something that run was not asked, exit 2
// or 1): the same command as the dead run's, run next, still finds its
// delivery and says "Nothing more to do", rather than finding its file
// taken. A rerun recovers delivered work again without changing it.
func (j *Journal) KeepRecovered() { j.keepDead = true }

// Summary describes the recovery in one line, "" if there was nothing.
func (r Recovery) Summary(target string) string {
	if !r.Found {
		return ""
	}
	what := string(r.Flow)
	if r.User != "" {
		what += fmt.Sprintf(" of IAM user %q", r.User)
	}
	msg := fmt.Sprintf("recovered: an earlier run (%s) died while working on %s (%s)", r.Owner, target, what)
	var parts []string
	if r.Kept != "" {
		parts = append(parts, "kept "+r.Kept)
	}
	if r.Restored {
		parts = append(parts, "the file had been moved away since it was put in place: put it back from the earlier run's temporary copy")
	}
	if r.Withdrawn {
		parts = append(parts, fmt.Sprintf("its delivered credentials named access key %s of IAM user %q, which IAM no longer holds "+
			"(another process deleted it): removed them from %s", r.KeyID, r.User, target))
	}
	if len(r.Finished) > 0 {
		parts = append(parts, "finished what it had begun: "+strings.Join(r.Finished, ", "))
	}
	if len(r.Removed) > 0 {
		parts = append(parts, "removed what it made and had not delivered: "+strings.Join(r.Removed, ", "))
	}
	if len(r.Left) > 0 {
		parts = append(parts, "left what nothing proves was that run's: "+strings.Join(r.Left, ", "))
	}
	if r.Resume != nil {
		parts = append(parts, "its rotation deleted the user; the saved configuration is kept to finish it")
	}
	if len(parts) == 0 {
		parts = append(parts, "it had changed nothing that remains")
	}
	return msg + "; " + strings.Join(parts, "; ")
}

// Completed reports whether the dead run had delivered what flow would
// now do for user: the rerun of a command killed after its delivery.
func (r Recovery) Completed(flow provision.Flow, user string) bool {
	return r.Found && r.Delivered && r.Flow == flow && strings.EqualFold(r.User, user)
}

// ErrUnfinishedRotation refuses a run on a target whose earlier rotation
// must be finished first.
var ErrUnfinishedRotation = errors.New("unfinished rotation")

// RequireNoResume fails unless r leaves nothing to resume, or this run
// resumes it (a rotate --strategy recreate of the same user).
func (r Recovery) RequireNoResume(target string, resuming bool) error {
	if r.Resume == nil || resuming {
		return nil
	}
	return exitcode.UsageError(fmt.Errorf("%w: an earlier 'sesmtp rotate --strategy recreate --user %s' deleted the user and died before "+
		"delivering to %s; run it again, delivering to the same place (--out, --store), to finish it (its saved configuration is kept in "+
		"sesmtp's journal there); nothing was changed", ErrUnfinishedRotation, r.User, target))
}

// removable reports whether name is a leftover of the target at place: a
// plain name (no directory) starting with ".<base>.tmp-".
func removable(place, name string) bool {
	return filepath.Base(name) == name && strings.HasPrefix(name, "."+filepath.Base(place)+".tmp-")
}
