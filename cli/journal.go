package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/credfile"
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
	if verify {
		check := "sesmtp verify --credentials FILE"
		if target.path == "" {
			check = target.store.verifyHint()
		}
		fmt.Fprintf(io.err, "It may have died before --verify finished: check them with '%s'.\n", check)
	}
}
