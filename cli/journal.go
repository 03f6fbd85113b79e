package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision"
)

// file is the journal target for the credentials file.
func (t fileTarget) file() journal.File {
	return journal.File{Path: t.path, Format: t.format, Options: t.opts, Force: t.force}
}

// journalOptions are the journal options of the command c runs.
func journalOptions(c *cli.Context, io stdio) journal.Options {
	cmd := "sesmtp " + c.Command.FullName()
	if u := c.String(flagUser); u != "" {
		cmd += " --user " + u
	}
	return journal.Options{Command: cmd, Step: io.step}
}

// openJournal takes the lock on the credentials file and recovers what a
// dead run left there, before this run's first IAM call. For --out - it
// returns a journal that writes to stdout and records nothing.
func openJournal(ctx context.Context, c *cli.Context, io stdio, client provision.IAMAPI, t fileTarget) (*journal.Journal, journal.Recovery, error) {
	if t.path == credfile.Stdout {
		return journal.Stdout(io.out, t.format, t.opts), journal.Recovery{}, nil
	}
	j, err := journal.Open(t.journalTarget(), journalOptions(c, io))
	if err != nil {
		return nil, journal.Recovery{}, err
	}
	rec, err := j.Recover(ctx, client)
	if s := rec.Summary(t.name()); s != "" {
		fmt.Fprintln(io.err, s)
	}
	if err != nil {
		_ = j.Close(err)
		return nil, rec, err
	}
	return j, rec, nil
}

// refusedAfterRecoveryError is a refusal (exit 2, "nothing attempted")
// by a run whose recovery of a dead run's work had already changed
// something: exit 2 would not be true, so it is exit 1, saying why.
type refusedAfterRecoveryError struct{ err error }

func (e *refusedAfterRecoveryError) Error() string {
	return e.err.Error() + ". This run itself changed nothing, but the recovery above did (it finished or removed the earlier " +
		"run's work), so it exits 1, not 2"
}

func (e *refusedAfterRecoveryError) Unwrap() error { return e.err }

// ExitCode implements exitcode.Coder.
func (e *refusedAfterRecoveryError) ExitCode() int { return exitcode.Failed }

// afterRecovery is err as a run reports it after its recovery rec.
func afterRecovery(rec journal.Recovery, err error) error {
	if exitcode.Of(err) != exitcode.Usage || !rec.Changed() {
		return err
	}
	return &refusedAfterRecoveryError{err: err}
}

// closeJournal ends the journaled run with its result err.
func closeJournal(io stdio, j *journal.Journal, err error) {
	if cerr := j.Close(err); cerr != nil {
		fmt.Fprintf(io.err, "warning: %v\n", cerr)
	}
}

// reportDelivered tells that the earlier run on target, killed after its
// delivery, had already done what this run was asked to do.
func reportDelivered(io stdio, rec journal.Recovery, target fileTarget, verify bool) {
	where := target.name() + " holds"
	if ids, _, _ := credfile.KeyIDs(target.path); target.path != "" && !slices.Contains(ids, rec.KeyID) {
		where = "the earlier run had written (the file has been moved or replaced since)"
	}
	fmt.Fprintf(io.err, "Nothing more to do: %s the credentials of IAM user %s (access key %s), delivered by the earlier run before it died.\n",
		where, rec.User, rec.KeyID)
	if target.path != "" && rec.Format != "" && rec.Format != target.format {
		fmt.Fprintf(io.err, "Note: %s is in the %s format the earlier run wrote, not %s as this run asks; sesmtp never rewrites "+
			"delivered credentials. For %s, move the file away and run 'sesmtp rotate --user %s --strategy key --format %s --out %s'.\n",
			target.path, rec.Format, target.format, target.format, rec.User, target.format, target.path)
	}
	if verify {
		check := "sesmtp verify --credentials FILE"
		if target.path == "" {
			check = target.store.verifyHint()
		}
		fmt.Fprintf(io.err, "It may have died before --verify finished: check them with '%s'.\n", check)
	}
}
