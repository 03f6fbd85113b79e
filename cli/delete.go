package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/store"
)

const flagIgnoreMissing = "ignore-missing"

func deleteCommand(io stdio) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: flagUser, Usage: "the IAM user to delete (required)"},
		anyUserFlag("delete a user that holds more than SMTP credentials (other policies, a console password ...)"),
		&cli.BoolFlag{Name: flagForce, Hidden: true, Usage: "old name of --" + flagAnyUser},
		&cli.BoolFlag{Name: flagYes, Aliases: []string{"y"}, Usage: "do not ask for confirmation (needed when stdin is not a terminal)"},
		&cli.BoolFlag{Name: flagIgnoreMissing, Usage: "succeed when the user does not exist (for scripts)"},
		&cli.BoolFlag{Name: flagDryRun, Usage: "list what would be deleted, and delete nothing"},
		outputFlag(),
	}
	flags = append(flags, deleteStoreFlags()...)
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete an SMTP user and everything IAM requires removed first",
		UsageText: "sesmtp delete --user NAME [--yes] [--any-user] [--dry-run] [--ignore-missing] [--delete-stored [--recovery-window-days N]]",
		Description: `Deletes the IAM user and, first, everything IAM requires gone: access keys,
inline policies, managed policies, group memberships, the console password (login
profile), signing certificates, SSH public keys, service-specific credentials and MFA
devices (deactivated; virtual ones deleted).

By default it deletes only a user that looks like an SMTP user: one holding only SES
sending policies or SES sending groups and access keys (and, if it has keys, at least one
of those or sesmtp's tag). Anything else is refused with exit 2 and listed; --any-user
deletes it anyway ('sesmtp rotate' refuses and overrides the same way).

It asks for confirmation on a terminal; scripts pass --yes. Running it again after a
partial failure finishes the job.

Credentials the user has in a secret store (its sesmtp:store tag) stay there unless
--delete-stored: a Secrets Manager secret is then scheduled for deletion after
--recovery-window-days (7-30, default 30; 'aws secretsmanager restore-secret' brings it
back until then), SSM parameters are deleted. The store goes first, then the user: a
delete stopped in between leaves the user and its tag, and running it again finishes
both. Without the flag, delete prints the command that removes the store later.

EXAMPLES:
   sesmtp delete --user billing-mailer
   sesmtp delete --user billing-mailer --dry-run
   sesmtp delete --user old-sender --yes --ignore-missing
   sesmtp delete --user billing-mailer --yes --delete-stored --recovery-window-days 7`,
		Flags:  append(flags, awsFlags()...),
		Action: func(c *cli.Context) error { return runDelete(c, io) },
	}
}

func runDelete(c *cli.Context, io stdio) error {
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	user := c.String(flagUser)
	if user == "" || c.Args().Present() {
		return exitcode.UsageError(errors.New("name the user to delete with --user NAME"))
	}
	if err := provision.CheckName("user name", user, provision.MaxUserNameLen); err != nil {
		return err
	}
	ds, err := readDeleteStored(c, io)
	if err != nil {
		return err
	}
	ask, err := confirm(c, io, "sesmtp delete will remove from IAM:")
	if err != nil {
		return err
	}
	client, err := iamClient(c.Context, awsOptions(c, io))
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(c)
	defer cancel()
	stored, err := ds.find(ctx, c, client, user)
	if err != nil {
		return err
	}
	in := provision.DeleteInput{
		UserName: user, Force: anyUser(c, io), IgnoreMissing: c.Bool(flagIgnoreMissing), DryRun: c.Bool(flagDryRun),
		Confirm: ds.confirm(ask, stored), Warn: warnTo(io),
	}
	var removed *store.Deletion // the stored credentials, removed before the user
	var storeDone bool          // the store step succeeded: a later failure leaves the user without them
	if stored != nil && ds.remove {
		in.BeforeRemove = func(ctx context.Context) error {
			del, err := ds.removeFirst(ctx, c, io, stored, user, in.Force)
			removed, storeDone = &del, err == nil
			return err
		}
	}
	res, err := provision.Delete(ctx, client, in)
	if err != nil && storeDone && removed.Changed() {
		return ds.storeRemovedThen(stored, res, *removed, in.Force, err)
	}
	if err != nil {
		return err
	}
	if stored != nil {
		return finishDeleteStored(ctx, c, io, ds, stored, res, removed, format)
	}
	if format == outputJSON {
		return writeJSON(io, res)
	}
	printDeleteResult(io, res)
	return nil
}

// printDeleteResult tells what delete removed (or, dry run, would).
func printDeleteResult(io stdio, res provision.DeleteResult) {
	user := res.UserName
	switch {
	case res.Missing:
		fmt.Fprintf(io.err, "IAM user %s does not exist; nothing to delete\n", user)
	case res.DryRun:
		fmt.Fprintln(io.err, "dry run: nothing was deleted; sesmtp delete would remove:")
		for _, r := range res.Removed {
			fmt.Fprintln(io.out, r)
		}
	default:
		fmt.Fprintf(io.err, "Deleted IAM user %s:\n", user)
		for _, r := range res.Removed {
			fmt.Fprintln(io.err, "  removed "+r)
		}
	}
}
