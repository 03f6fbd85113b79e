package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/store"
)

// deleteStoreFlags are delete's flags for the credentials a user has in a store.
func deleteStoreFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: flagDeleteStored, Category: categoryStore, Usage: "also remove the credentials stored where the user's " +
			store.UserTagStore + " tag (or --store) says: a Secrets Manager secret is scheduled for deletion, SSM parameters are deleted"},
		&cli.IntFlag{Name: flagRecoveryWindow, Category: categoryStore, Value: store.DefaultRecoveryWindowDays,
			Usage: "with --delete-stored: days (7-30) a deleted secret can still be restored (aws secretsmanager restore-secret)"},
		&cli.StringFlag{Name: flagStore, Category: categoryStore, Usage: "the store to remove with --delete-stored when the user's tag does not name it (the user is gone, say)"},
		storeRegionFlag("the region of --store (default: AWS_REGION or the profile's region)"),
		storeEndpointFlag(),
	}
}

// deleteStored is what delete does about stored credentials.
type deleteStored struct {
	remove bool
	days   int
	// given is --store, if set.
	given *storeTarget
}

// readDeleteStored checks delete's store flags before anything is called.
func readDeleteStored(c *cli.Context, io stdio) (deleteStored, error) {
	d := deleteStored{remove: c.Bool(flagDeleteStored), days: c.Int(flagRecoveryWindow)}
	if err := store.CheckRecoveryWindow(d.days); err != nil {
		return d, err
	}
	if c.IsSet(flagRecoveryWindow) && !d.remove {
		return d, exitcode.UsageError(errors.New("--recovery-window-days goes with --delete-stored"))
	}
	if !c.IsSet(flagStore) {
		return d, checkStoreFlags(c, false)
	}
	if !d.remove {
		return d, exitcode.UsageError(errors.New("--store names what --delete-stored removes; without --delete-stored it does nothing"))
	}
	region := c.String(flagStoreRegion)
	if region == "" {
		configured, err := configuredRegion(c, io)
		if err != nil {
			return d, err
		}
		if region = configured; region == "" {
			return d, exitcode.UsageError(errors.New("--store needs --store-region (or AWS_REGION): a secret lives in one region"))
		}
	}
	s, err := readStore(c, c.String(flagStore), []string{region}, c.String(flagUser))
	d.given = s
	return d, err
}

// find returns the store the user's credentials are in: --store, else
// the user's tag; nil when neither names one.
func (d deleteStored) find(ctx context.Context, c *cli.Context, client provision.IAMAPI, user string) (*storeTarget, error) {
	if d.given != nil {
		return d.given, nil
	}
	tags, err := provision.UserTags(ctx, client, user, "delete")
	var missing *provision.NoSuchUserError
	if errors.As(err, &missing) {
		return nil, nil // provision.Delete reports it
	}
	if err != nil {
		return nil, err
	}
	loc, found, err := store.LocationOf(tags)
	if err != nil {
		return nil, exitcode.UsageError(fmt.Errorf("IAM user %s: %w; name the store with --store", user, err))
	}
	if !found {
		if d.remove {
			return nil, exitcode.UsageError(fmt.Errorf("--delete-stored: IAM user %s has no %s tag, so sesmtp does not know where its "+
				"credentials are stored; name the store with --store SPEC --store-region R. Nothing was changed", user, store.UserTagStore))
		}
		return nil, nil
	}
	return &storeTarget{loc: loc, fromTag: true, endpoint: c.String(flagStoreEndpointURL)}, nil
}

// storePlanLine is the confirmation's and --dry-run's line for s.
func (d deleteStored) storePlanLine(s *storeTarget) string {
	if !d.remove {
		return ""
	}
	if s.loc.Target.Kind == store.SecretsManager {
		return fmt.Sprintf("secret %s in %s (scheduled for deletion: restorable for %d days)", s.loc.Target.Name, s.loc.Region, d.days)
	}
	return fmt.Sprintf("SSM parameter(s) %s in %s (deleted at once: SSM keeps no deleted parameter)",
		strings.Join(s.loc.Target.ParameterNames(true), ", "), s.loc.Region)
}

// deleteFrom binds s and removes what sesmtp stored there for user.
func (d deleteStored) deleteFrom(ctx context.Context, c *cli.Context, io stdio, s *storeTarget, user string) (store.Deletion, error) {
	if err := s.bind(ctx, c, io); err != nil {
		return store.Deletion{}, err
	}
	return s.bound.Store.Delete(ctx, user, store.DeleteOptions{RecoveryWindowDays: d.days})
}

// removeFirst removes what sesmtp stored for user in s while the user
// still exists, before anything of it is removed from IAM: if the run
// dies between the two, the user and its tag (which names the store) are
// left, and running the same command again finishes both. Stopped in
// between, the user is left with a working key that no store names,
// rather than a store naming a deleted key that nothing names any more.
func (d deleteStored) removeFirst(ctx context.Context, c *cli.Context, io stdio, s *storeTarget, user string, anyUser bool) (store.Deletion, error) {
	del, err := d.deleteFrom(ctx, c, io, s, user)
	var conflict *store.ConflictError
	switch {
	case err == nil:
		return del, nil
	case errors.As(err, &conflict):
		return del, err // refused before anything changed: exit 2
	case !del.Attempted:
		return del, &exitcode.Error{Code: exitcode.Failed, Err: fmt.Errorf("removing the credentials IAM user %s has stored in %s failed "+
			"before anything was removed: %w. Nothing was changed (sesmtp removes the stored credentials first, then the user); "+
			"run the same command again once the cause is fixed", user, s.loc, err)}
	}
	cmd := d.cleanup(s, user)
	if anyUser {
		cmd += " " + provision.AnyUserFlag
	}
	return del, &exitcode.Error{Code: exitcode.LeftBehind, Err: fmt.Errorf("removing the credentials IAM user %s has stored in %s "+
		"failed part way: %w. Left behind: IAM user %s, not touched (the stored credentials go first), and what remains of %s. "+
		"Finish the job with: %s", user, s.loc, err, user, s.loc, cmd)}
}

// storeRemovedThen is the error of a delete --delete-stored whose IAM
// removal failed (err) after the stored credentials were removed: exit 4
// whatever err says, since the store was changed (a secret scheduled for
// deletion, parameters deleted for good), naming what went from the
// store, what is left in IAM and the same command, which finishes both
// (the user's tag still names the store; a removed store is no error).
func (d deleteStored) storeRemovedThen(s *storeTarget, res provision.DeleteResult, del store.Deletion, anyUser bool, err error) error {
	var gone []string
	for _, it := range del.Items {
		if it.Outcome != store.Untouched && it.Outcome != store.Unchanged {
			gone = append(gone, fmt.Sprintf("%s %s (%s)", kindNoun(s.loc.Target), it.Name, it.Outcome))
		}
	}
	left := fmt.Sprintf("IAM user %s and what it holds (its access keys still work, though no store names them any more)", res.UserName)
	if len(res.Removed) > 0 {
		left += fmt.Sprintf(", less what was removed: %s", strings.Join(res.Removed, ", "))
	}
	cmd := fmt.Sprintf("sesmtp delete --user %s --yes --delete-stored", res.UserName)
	if !s.fromTag {
		cmd += fmt.Sprintf(" --store %s --store-region %s", s.loc.Target, s.loc.Region)
	}
	if d.days != store.DefaultRecoveryWindowDays {
		cmd += fmt.Sprintf(" --recovery-window-days %d", d.days)
	}
	if anyUser {
		cmd += " " + provision.AnyUserFlag
	}
	return &exitcode.Error{Code: exitcode.LeftBehind, Err: fmt.Errorf("deleting IAM user %s failed after its stored credentials were removed from %s: "+
		"%w. Removed from the store: %s. Left behind: %s. Finish the job, once the cause is fixed, with: %s", res.UserName, s.loc, err,
		strings.Join(gone, ", "), left, cmd)}
}

// run removes what sesmtp stored for user in s once the user is gone
// (--ignore-missing with --store, the command delete prints).
func (d deleteStored) run(ctx context.Context, c *cli.Context, io stdio, s *storeTarget, user string) (store.Deletion, error) {
	del, err := d.deleteFrom(ctx, c, io, s, user)
	if err == nil {
		return del, nil
	}
	var conflict *store.ConflictError
	if errors.As(err, &conflict) {
		return del, err // refused before anything changed: exit 2
	}
	return del, &exitcode.Error{Code: exitcode.LeftBehind, Err: fmt.Errorf("removing the credentials IAM user %s had stored in %s failed: %w. "+
		"Left behind: %s. Remove it with: %s", user, s.loc, err, s.loc, d.cleanup(s, user))}
}

// cleanup is the command that removes the stored credentials of a deleted user.
func (d deleteStored) cleanup(s *storeTarget, user string) string {
	return fmt.Sprintf("sesmtp delete --user %s --store %s --store-region %s --delete-stored --ignore-missing --yes", user, s.loc.Target, s.loc.Region)
}

// printOutcome tells what became of the stored credentials.
func (d deleteStored) printOutcome(io stdio, s *storeTarget, user string, del store.Deletion) {
	if !d.remove {
		fmt.Fprintf(io.err, "note: the credentials IAM user %s had stored in %s remain there (they name its deleted key); remove them with '%s'\n",
			user, s.loc, d.cleanup(s, user))
		return
	}
	for _, it := range del.Items {
		line := fmt.Sprintf("  %s %s: %s", kindNoun(s.loc.Target), it.Name, it.Outcome)
		if !it.DeletionDate.IsZero() {
			line += fmt.Sprintf(" on %s (restore it until then: aws secretsmanager restore-secret --secret-id %s --region %s)",
				it.DeletionDate.UTC().Format(time.DateOnly), it.Name, s.loc.Region)
		}
		fmt.Fprintln(io.err, line)
	}
}

func kindNoun(t store.Target) string {
	if t.Kind == store.SecretsManager {
		return "secret"
	}
	return "parameter"
}

// storedOutput is delete's --output json about the store.
type storedOutput struct {
	Store string       `json:"store"`
	Items []store.Item `json:"items,omitempty"`
	Kept  bool         `json:"kept,omitempty"`
}

// confirm adds the store's line to the question delete asks (first: the
// store goes before the user).
func (d deleteStored) confirm(ask func([]string) bool, s *storeTarget) func([]string) bool {
	if ask == nil || s == nil || !d.remove {
		return ask
	}
	return func(plan []string) bool { return ask(append([]string{d.storePlanLine(s)}, plan...)) }
}

// finishDeleteStored reports the IAM deletion and handles the stored
// credentials: removed with --delete-stored (before the user, removed
// says how; or now, when the user was already gone), else named with the
// command that removes them.
func finishDeleteStored(ctx context.Context, c *cli.Context, io stdio, d deleteStored, s *storeTarget, res provision.DeleteResult,
	removed *store.Deletion, format string) error {
	out := deleteOutput{DeleteResult: res, Stored: &storedOutput{Store: s.loc.String(), Kept: !d.remove}}
	var del store.Deletion
	var err error
	switch {
	case removed != nil:
		del = *removed
	case d.remove && !res.DryRun:
		del, err = d.run(ctx, c, io, s, res.UserName)
	}
	out.Stored.Items = del.Items
	if format == outputJSON {
		if werr := writeJSON(io, out); err == nil {
			err = werr
		}
		return err
	}
	printDeleteResult(io, res)
	switch {
	case res.DryRun && d.remove:
		fmt.Fprintln(io.out, d.storePlanLine(s))
	case res.DryRun:
		fmt.Fprintf(io.err, "note: the credentials stored in %s would remain (--delete-stored removes them)\n", s.loc)
	case err == nil:
		d.printOutcome(io, s, res.UserName, del)
	}
	return err
}

// deleteOutput is delete's --output json with stored credentials.
type deleteOutput struct {
	provision.DeleteResult
	Stored *storedOutput `json:"stored,omitempty"`
}
