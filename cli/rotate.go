package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/store"
)

const (
	flagStrategy      = "strategy"
	flagReplaceOldest = "replace-oldest"
	flagDeactivateOld = "deactivate-old"
	flagRetireNow     = "retire-now"
)

func rotateCommand(io stdio) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: flagUser, Usage: "the IAM user whose SMTP credentials to rotate (required)"},
		&cli.StringFlag{Name: flagStrategy, Value: provision.StrategyRecreate, Usage: "recreate (delete the user and create it again, as AWS documents) or key (no downtime: add a key, leave the old one for 'sesmtp retire')"},
		regionFlag("SES region(s) to derive the new SMTP password for"),
		allowUnknownRegionFlag(),
		fipsFlag(),
		offlineFlag(),
		&cli.BoolFlag{Name: flagReplaceOldest, Usage: "key: if the user already has two keys (and none pending retirement), delete the older one first, whichever senders use"},
		&cli.BoolFlag{Name: flagRetireNow, Usage: "key: delete the old key as soon as the new one is written (one step, for a leaked key or one no sender uses)"},
		&cli.BoolFlag{Name: flagDeactivateOld, Hidden: true, Usage: "deprecated: deactivate the old key at once and record it for 'sesmtp retire'"},
		anyUserFlag("rotate a user that holds more than SMTP credentials (other policies, a console password ...)"),
		permissionsBoundaryFlag("recreate: managed policy ARN the recreated user gets as its permissions boundary instead of its old one"),
		&cli.BoolFlag{Name: flagYes, Aliases: []string{"y"}, Usage: "recreate: do not ask for confirmation (needed when stdin is not a terminal)"},
		&cli.BoolFlag{Name: flagDryRun, Usage: "print the IAM calls the rotation would make, and change nothing"},
	}
	flags = append(flags, fileFlags()...)
	flags = append(flags, storeFlags()...)
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

key is phase 1 of a rotation with no downtime: sesmtp creates a second access key, writes
the new credentials file (and --verify checks it), and leaves the old key ACTIVE, recorded
on the user as pending retirement (tag sesmtp:retire:OLDKEY=OLDKEY@TIME). Deploy the new
password to every sender, then run phase 2, 'sesmtp retire --user NAME' (see its help):
it deactivates the old key, and a later run deletes it. While a retirement is pending,
another key rotation of the user exits 2 with the command that finishes it. IAM allows
two keys per user: at two already (none pending), sesmtp refuses unless --replace-oldest,
which deletes the older first, whether or not a sender still uses it. --retire-now is the
one-step rotation: the old key is deleted as soon as the new one is written (a leaked key;
senders still on it fail). If anything fails before the new key is written, it is deleted
and the old one keeps working. (--deactivate-old, deprecated, deactivates the old key at
once and records that, as a first 'sesmtp retire' would.)

Both strategies first read the user and refuse, with exit 2 and nothing changed, a user
that does not exist or does not look like an SMTP user (the test 'sesmtp delete'
applies: a key for an administrator is not SMTP credentials); --any-user overrides.

File options are create's: --out, --format, --force, --include-secret-key.

A user whose credentials are in a secret store (its sesmtp:store tag, set by create
--store) gets its new ones there: a new secret version staged AWSCURRENT, or new
parameter versions; with --out a file too. --store sends them elsewhere (the user is
tagged with the new place; the old one keeps the retired key's, and a warning says how
to remove it). If anything fails, the store is put back as it was. See docs/store.md.

EXAMPLES:
   sesmtp rotate --user billing-mailer --strategy key --region eu-west-1 --out billing.csv
   # ... deploy billing.csv's password to every sender, then:
   sesmtp retire --user billing-mailer --if-unused-for 24h
   sesmtp rotate --user leaked-sender --strategy key --retire-now --region eu-west-1 --format env --out leaked.env
   sesmtp rotate --user legacy-sender --region us-east-1 --yes
   sesmtp rotate --user store-mailer --strategy key --region eu-west-1     # its tagged store gets a new version`,
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
		var tagged []string
		if target.store == nil {
			tagged = append(tagged, fmt.Sprintf("and the secret store IAM user %s's %s tag names, if any (iam:GetUser)", in.UserName, store.UserTagStore))
		}
		return target.printDryRun(io, format, "rotate --strategy "+in.Strategy, in.UserName, plan, "the credentials file: %s (%s, mode 0600)", tagged...)
	}
	if in.Strategy == provision.StrategyRecreate {
		if in.Confirm, err = confirmRecreate(c, io, in.UserName); err != nil {
			return err
		}
	}
	client, err := iamClient(c.Context, awsOptions(c, io))
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(c)
	defer cancel()
	in.Warn = warnTo(io)
	if in.Verify, err = verifyHook(c, io, client, nil); err != nil {
		return err
	}
	tags, err := resolveRotateStore(ctx, c, client, in, &target)
	if err != nil {
		return err
	}
	if target.store != nil {
		if err := target.store.bind(c.Context, c, io); err != nil {
			return err
		}
		if err := target.store.preflight(ctx, in.UserName); err != nil {
			return err
		}
		in.OwnTags = target.store.ownTags(tags)
	}
	in.Delivery = target.delivery()
	j, rec, err := openJournal(ctx, c, io, client, target)
	if err != nil {
		return err
	}
	err = afterRecovery(rec, rotateJournaled(ctx, io, client, j, rec, in, target, format))
	closeJournal(io, j, err)
	if err == nil && in.Strategy == provision.StrategyKey {
		retagStore(ctx, io, client, in, target, tags)
	}
	return err
}

// rotateJournaled runs the rotation under the lock on its file, after the
// recovery rec of what a dead run left there.
func rotateJournaled(ctx context.Context, io stdio, client provision.IAMAPI, j *journal.Journal, rec journal.Recovery,
	in provision.RotateInput, target fileTarget, format string) error {
	flow := provision.FlowRotateKey
	if in.Strategy == provision.StrategyRecreate {
		flow = provision.FlowRecreate
	}
	resuming := flow == provision.FlowRecreate && rec.Flow == flow && strings.EqualFold(rec.User, in.UserName)
	if err := rec.RequireNoResume(target.name(), resuming); err != nil {
		return err
	}
	if rec.Completed(flow, in.UserName) {
		if err := checkSameRequest(rec, *in.Request(), target); err != nil {
			j.KeepRecovered() // the dead run's own command still finishes
			return err
		}
		reportDelivered(io, rec, target, in.Verify != nil)
		return nil
	}
	if err := target.checkFree(); err != nil {
		return err
	}
	in.Journal, in.Resume = j, rec.Resume
	res, err := provision.Rotate(ctx, client, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.err, "Rotated SMTP credentials of %s (%s): new SMTP username %s; old key(s) %v %s\n",
		res.UserName, res.Strategy, res.NewAccessKeyID, res.OldAccessKeys, res.OldKeys)
	if target.path != credfile.Stdout && target.path != "" {
		fmt.Fprintf(io.err, "  credentials: %s (%s, mode 0600)\nNext: sesmtp verify --credentials %s\n", target.path, target.format, target.path)
	}
	printStored(io, target, in.UserName)
	printRetireNext(io, res)
	if format == outputJSON {
		return writeJSON(io, res)
	}
	return nil
}

// confirmRecreate returns the check Rotate makes once the user is known to
// be an SMTP user: ask on a terminal (or --yes), then warn.
func confirmRecreate(c *cli.Context, io stdio, user string) (func() bool, error) {
	ask, err := confirm(c, io, "sesmtp rotate --strategy recreate will delete and recreate:")
	if err != nil {
		return nil, err
	}
	return func() bool {
		if ask != nil && !ask([]string{fmt.Sprintf("IAM user %s (its senders fail until they use the new password)", user)}) {
			return false
		}
		fmt.Fprintf(io.err, "warning: senders using %s fail from now until they use the new password (--strategy key avoids that)\n", user)
		return true
	}, nil
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
	if err := checkStrategyFlags(c, strategy); err != nil {
		return in, fileTarget{}, "", err
	}
	if err := checkRetireFlags(c, io); err != nil {
		return in, fileTarget{}, "", err
	}
	target, err := readFileTarget(c)
	if err != nil {
		return in, fileTarget{}, "", err
	}
	if target.path == credfile.Stdout && format == outputJSON {
		return in, fileTarget{}, "", exitcode.UsageError(errors.New("--out - and --output json both want stdout; write the file elsewhere"))
	}
	regions, err := credentialRegions(c, io, target.format)
	if err != nil {
		return in, fileTarget{}, "", err
	}
	s, err := readStore(c, c.String(flagStore), regions, c.String(flagUser))
	if err != nil {
		return in, fileTarget{}, "", err
	}
	if err := target.withStore(c, s); err != nil {
		return in, fileTarget{}, "", err
	}
	boundary, err := configuredBoundary(c)
	if err != nil {
		return in, fileTarget{}, "", err
	}
	in = provision.RotateInput{
		UserName: c.String(flagUser), Strategy: strategy, Regions: regions, FIPS: c.Bool(flagFIPS),
		ReplaceOldest: c.Bool(flagReplaceOldest), DeactivateOld: c.Bool(flagDeactivateOld), Force: anyUser(c, io),
		PermissionsBoundary: boundary, RetireNow: c.Bool(flagRetireNow), Now: io.now(),
	}
	return in, target, format, provision.CheckName("user name", in.UserName, provision.MaxUserNameLen)
}

// checkStrategyFlags refuses flags that mean nothing with strategy.
func checkStrategyFlags(c *cli.Context, strategy string) error {
	only := map[string]string{flagReplaceOldest: provision.StrategyKey, flagDeactivateOld: provision.StrategyKey,
		flagRetireNow: provision.StrategyKey, flagYes: provision.StrategyRecreate}
	for _, f := range []string{flagReplaceOldest, flagRetireNow, flagDeactivateOld, flagYes} {
		if c.IsSet(f) && only[f] != strategy {
			why := "it changes how the old key is retired"
			if f == flagYes {
				why = "key rotation asks nothing: senders keep working"
			}
			return exitcode.UsageError(fmt.Errorf("--%s only goes with --strategy %s (%s); this rotation is --strategy %s", f, only[f], why, strategy))
		}
	}
	return nil
}
