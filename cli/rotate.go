package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
)

const (
	flagStrategy      = "strategy"
	flagReplaceOldest = "replace-oldest"
	flagDeactivateOld = "deactivate-old"
	flagAnyUser       = "any-user"
)

func rotateCommand(io stdio) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: flagUser, Usage: "the IAM user whose SMTP credentials to rotate (required)"},
		&cli.StringFlag{Name: flagStrategy, Value: provision.StrategyRecreate, Usage: "recreate (delete the user and create it again, as AWS documents) or key (zero downtime: add a key, then remove the old)"},
		regionFlag("SES region(s) to derive the new SMTP password for"),
		allowUnknownRegionFlag(),
		&cli.BoolFlag{Name: flagReplaceOldest, Usage: "key: if the user already has two keys, delete the older one first"},
		&cli.BoolFlag{Name: flagDeactivateOld, Usage: "key: deactivate the old key instead of deleting it (a grace period; delete it later)"},
		&cli.BoolFlag{Name: flagAnyUser, Usage: "recreate: rotate a user that holds more than SMTP credentials"},
		&cli.BoolFlag{Name: flagYes, Aliases: []string{"y"}, Usage: "recreate: do not ask for confirmation (needed when stdin is not a terminal)"},
		&cli.BoolFlag{Name: flagDryRun, Usage: "print the IAM calls the rotation would make, and change nothing"},
	}
	flags = append(flags, fileFlags()...)
	flags = append(flags, verifyFlags()...)
	flags = append(flags, outputFlag())
	return &cli.Command{
		Name:      "rotate",
		Usage:     "give an SMTP user a new key and password, and retire the old",
		UsageText: "sesmtp rotate --user NAME [--strategy recreate|key] [--region R]... [--out FILE] [options]",
		Description: `Two strategies:

recreate (default) is the method AWS documents: sesmtp reads the user's configuration
(path, tags, inline policies, groups, permissions boundary), deletes the user as
'sesmtp delete' does, creates it again with the same name and configuration and a new
key, and writes the new credentials file. Senders fail from the delete until they use
the new password. If the user cannot be recreated, exit 4 prints the saved configuration.

key rotates with no downtime: sesmtp creates a second access key, writes the new
credentials file, then deletes the old key (or, with --deactivate-old, deactivates it for
a grace period). IAM allows two keys per user: at two already, sesmtp refuses unless
--replace-oldest. If anything fails before the old key goes, the new key is deleted and
the old one keeps working.

File options are create's: --out, --format, --force, --include-secret-key.

EXAMPLES:
   sesmtp rotate --user billing-mailer --strategy key --region eu-west-1 --out billing.csv
   sesmtp rotate --user billing-mailer --strategy key --deactivate-old --format env --out billing.env
   sesmtp rotate --user legacy-sender --region us-east-1 --yes`,
		Flags:  append(flags, awsFlags()...),
		Action: func(c *cli.Context) error { return runRotate(c, io) },
	}
}

func runRotate(c *cli.Context, io stdio) error {
	in, target, format, err := readRotateInput(c, io)
	if err != nil {
		return err
	}
	if c.Bool(flagDryRun) {
		plan, err := provision.PlanRotate(in)
		if err != nil {
			return err
		}
		fmt.Fprintf(io.err, "dry run: nothing will be changed; sesmtp rotate --strategy %s would:\n", in.Strategy)
		for _, step := range plan {
			fmt.Fprintln(io.out, step)
		}
		fmt.Fprintf(io.out, "the credentials file: %s (%s, mode 0600)\n", target.path, target.format)
		return nil
	}
	var ask func([]string) bool
	if in.Strategy == provision.StrategyRecreate {
		if ask, err = confirm(c, io, "sesmtp rotate --strategy recreate will delete and recreate:"); err != nil {
			return err
		}
		if ask != nil && !ask([]string{fmt.Sprintf("IAM user %s (its senders fail until they use the new password)", in.UserName)}) {
			return provision.ErrAborted
		}
		fmt.Fprintf(io.err, "warning: senders using %s fail from now until they use the new password (--strategy key avoids that)\n", in.UserName)
	}
	client, err := iamClient(c.Context, awsOptions(c, io))
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(c)
	defer cancel()
	in.Deliver = func(_ context.Context, creds credfile.Credentials) error { return target.deliver(io, creds) }
	in.Retract = target.retract
	in.Warn = warnTo(io)
	if in.Verify, err = verifyHook(c, io); err != nil {
		return err
	}
	res, err := provision.Rotate(ctx, client, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.err, "Rotated SMTP credentials of %s (%s): new SMTP username %s; old key(s) %v %s\n",
		res.UserName, res.Strategy, res.NewAccessKeyID, res.OldAccessKeys, res.OldKeys)
	if target.path != credfile.Stdout {
		fmt.Fprintf(io.err, "  credentials: %s (%s, mode 0600)\nNext: sesmtp verify --credentials %s\n", target.path, target.format, target.path)
	}
	if format == outputJSON {
		return writeJSON(io, res)
	}
	return nil
}

func readRotateInput(c *cli.Context, io stdio) (provision.RotateInput, fileTarget, string, error) {
	var in provision.RotateInput
	format, err := outputFormat(c)
	if err != nil {
		return in, fileTarget{}, "", err
	}
	if c.String(flagUser) == "" || c.Args().Present() {
		return in, fileTarget{}, "", exitcode.UsageError(errors.New("name the user to rotate with --user NAME"))
	}
	strategy := c.String(flagStrategy)
	if strategy != provision.StrategyRecreate && strategy != provision.StrategyKey {
		return in, fileTarget{}, "", exitcode.UsageError(fmt.Errorf("--strategy must be recreate or key, not %q", strategy))
	}
	target, err := readFileTarget(c)
	if err != nil {
		return in, fileTarget{}, "", err
	}
	configured := ""
	if len(c.StringSlice(flagRegion)) == 0 {
		if configured, err = configuredRegion(c, io); err != nil {
			return in, fileTarget{}, "", err
		}
	}
	regions, err := sesRegions(c, configured)
	if err != nil {
		return in, fileTarget{}, "", err
	}
	in = provision.RotateInput{
		UserName: c.String(flagUser), Strategy: strategy, Regions: regions,
		ReplaceOldest: c.Bool(flagReplaceOldest), DeactivateOld: c.Bool(flagDeactivateOld), Force: c.Bool(flagAnyUser),
	}
	return in, target, format, provision.CheckName("user name", in.UserName, provision.MaxUserNameLen)
}
