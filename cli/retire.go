package cli

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/batch"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
)

const (
	flagGrace       = "grace"
	flagIfUnusedFor = "if-unused-for"
	flagAllPending  = "all-pending"
	flagSkipInUse   = "skip-in-use"
)

func retireCommand(io stdio) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: flagUser, Usage: "the IAM user whose old key to retire"},
		&cli.StringFlag{Name: flagFromFile, Usage: "retire the old keys of the users of this manifest (create --from-file's formats: its user column)"},
		&cli.BoolFlag{Name: flagAllPending, Usage: "retire the old key of every user under --path-prefix with a pending retirement (tag " + provision.TagRetire + ":KEYID)"},
		&cli.StringFlag{Name: flagPathPrefix, EnvVars: []string{envPath},
			Usage: "with --all-pending: the IAM path to look under (default: the profile's " + configPath + "; else /sesmtp/ when a permissions boundary is configured, and every user without one)"},
		&cli.StringFlag{Name: flagGrace, Value: "0", Usage: "delete a deactivated key only once it has been inactive this long: whole days (7d), weeks (1w) or hours (36h); 0 deletes it on the next run"},
		&cli.StringFlag{Name: flagIfUnusedFor, Usage: "refuse to deactivate an old key that iam:GetAccessKeyLastUsed shows used within this window, e.g. 24h or 7d"},
		&cli.BoolFlag{Name: flagSkipInUse, Usage: "with --if-unused-for: leave users whose old key is in use as they are (reported), and retire the others"},
		&cli.IntFlag{Name: flagConcurrency, Value: provision.DefaultRetireConcurrency, Usage: "users read and changed at once"},
		&cli.BoolFlag{Name: flagYes, Aliases: []string{"y"}, Usage: "do not ask before deleting keys (needed to delete when stdin is not a terminal)"},
		&cli.BoolFlag{Name: flagDryRun, Usage: "read IAM and say what each user's step would be, and change nothing"},
		outputFlag(),
	}
	return &cli.Command{
		Name:      "retire",
		Usage:     "phase 2 of a key rotation: deactivate, then delete, the old key once senders use the new one",
		UsageText: "sesmtp retire (--user NAME | --from-file FILE | --all-pending) [--if-unused-for 24h] [--grace 7d] [--yes] [options]",
		Description: `'sesmtp rotate --strategy key' gives a user a new key and leaves the old one active,
recorded on the user as pending retirement (tag ` + provision.TagRetire + `:OLDKEY=OLDKEY@TIME). Once every
sender uses the new password, retire finishes the rotation, one step per run:

  1. the old key is active: it is deactivated (iam:UpdateAccessKey), and the time recorded
     in the tag (…/deactivated@TIME). Senders still on it now fail; reactivate it with
     'aws iam update-access-key --status Active' if one does, and retire again later;
  2. the old key is inactive and --grace has passed since: it is deleted, and the tag
     removed. Before that, a run says when it may delete it and changes nothing.

Times are IAM's, read from the Date of its answers, not this machine's clock: a machine
whose clock is off neither records a wrong deactivation time nor shortens --grace.

A run never touches a key the tag does not name (it reads the tag again just before it
acts), nor the user's only active key, nor the user's newest key (a tag naming the key
the senders were moved to is refused, exit 2). With --if-unused-for WINDOW it refuses (exit 2,
nothing changed) to deactivate an old key that iam:GetAccessKeyLastUsed shows used within
WINDOW, saying when, for which service and in which region; IAM records a key's use with
a delay of up to hours, so use a window of a day or more. Deletions are confirmed on a
terminal; scripts pass --yes.

Batches: --from-file takes the users of a manifest (create --from-file's formats), and
--all-pending every user with a pending retirement under --path-prefix. Every user is
read first: if any is refused, nothing changes (--skip-in-use leaves the users in use
aside instead). Running the same command again finishes what a failed run began.

EXAMPLES:
   sesmtp retire --user billing-mailer --if-unused-for 24h
   sesmtp retire --user billing-mailer --grace 7d --yes
   sesmtp retire --all-pending --if-unused-for 24h --skip-in-use --dry-run
   sesmtp retire --from-file senders.csv --if-unused-for 24h --yes --output json`,
		Flags:  append(flags, awsFlags()...),
		Action: func(c *cli.Context) error { return runRetire(c, io) },
	}
}

func runRetire(c *cli.Context, io stdio) error {
	in, format, err := readRetireInput(c, io)
	if err != nil {
		return err
	}
	var refusal error
	if !c.Bool(flagYes) && !in.DryRun {
		in.Confirm = func(deletes []provision.RetirePlan) bool {
			ask, err := confirm(c, io, "sesmtp retire will delete these old access keys (inactive since):")
			if err != nil {
				refusal = err
				return false
			}
			return ask(deletePlanLines(deletes))
		}
	}
	client, err := iamClient(c.Context, awsOptions(c, io))
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(c)
	defer cancel()
	sum, err := provision.RetireMany(ctx, client, in)
	if refusal != nil {
		return refusal
	}
	for _, name := range sum.Gone {
		fmt.Fprintf(io.err, "note: IAM user %s was deleted during the run; nothing to retire there\n", name)
	}
	if err == nil || len(sum.Outcomes) > 0 && format == outputJSON {
		if perr := printRetired(io, format, in, sum); perr != nil {
			return perr
		}
	}
	if err != nil {
		return err
	}
	return sum.Err()
}

// readRetireInput reads and checks the flags, before any AWS call.
func readRetireInput(c *cli.Context, io stdio) (provision.RetireManyInput, string, error) {
	var in provision.RetireManyInput
	format, err := outputFormat(c)
	if err != nil {
		return in, "", err
	}
	if err := checkRetireTargets(c); err != nil {
		return in, "", err
	}
	if in.Grace, err = parseWindow(flagGrace, c.String(flagGrace)); err != nil {
		return in, "", err
	}
	if c.IsSet(flagIfUnusedFor) {
		if in.IfUnusedFor, err = parseWindow(flagIfUnusedFor, c.String(flagIfUnusedFor)); err != nil {
			return in, "", err
		}
	}
	if c.Bool(flagSkipInUse) && in.IfUnusedFor == 0 {
		return in, "", exitcode.UsageError(errors.New("--skip-in-use goes with --if-unused-for WINDOW (it skips the users whose old key was used within it)"))
	}
	if c.Int(flagConcurrency) < 1 {
		return in, "", exitcode.UsageError(errors.New("--concurrency must be at least 1"))
	}
	in.Now, in.SkipInUse, in.DryRun, in.Concurrency = io.now(), c.Bool(flagSkipInUse), c.Bool(flagDryRun), c.Int(flagConcurrency)
	in.AllPending = c.Bool(flagAllPending)
	switch {
	case in.AllPending:
		in.PathPrefix, err = retirePathPrefix(c)
	case c.IsSet(flagFromFile):
		in.Users, err = manifestUsers(c.String(flagFromFile))
	default:
		in.Users = []string{c.String(flagUser)}
		err = provision.CheckName("user name", in.Users[0], provision.MaxUserNameLen)
	}
	return in, format, err
}

// checkRetireTargets requires exactly one of --user, --from-file and --all-pending.
func checkRetireTargets(c *cli.Context) error {
	n := 0
	for _, f := range []string{flagUser, flagFromFile, flagAllPending} {
		if c.IsSet(f) {
			n++
		}
	}
	if n != 1 || c.Args().Present() {
		return exitcode.UsageError(errors.New("name the users with one of --user NAME, --from-file MANIFEST or --all-pending"))
	}
	if c.IsSet(flagPathPrefix) && !c.Bool(flagAllPending) {
		return exitcode.UsageError(errors.New("--path-prefix goes with --all-pending"))
	}
	return nil
}

// parseWindow reads a duration flag as --older-than reads its value:
// whole days, weeks or hours; "0" is zero.
func parseWindow(flag, s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := parseAgeFor("--"+flag, s)
	if err != nil {
		return 0, exitcode.UsageError(err)
	}
	return d, nil
}

// retirePathPrefix is where --all-pending looks: --path-prefix or
// SESMTP_PATH, the profile's sesmtp_path, /sesmtp/ with a boundary, else /.
func retirePathPrefix(c *cli.Context) (string, error) {
	boundary, err := configuredBoundary(c)
	if err != nil {
		return "", err
	}
	p, err := flagOrProfile(c, flagPathPrefix, configPath)
	if err != nil || p != "" {
		return p, err
	}
	return configuredPath(c, boundary)
}

// manifestUsers reads the user column of a manifest.
func manifestUsers(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, exitcode.UsageError(fmt.Errorf("--from-file: %w", err))
	}
	defer f.Close()
	senders, err := batch.ParseManifest(f)
	if err != nil {
		return nil, err
	}
	users := make([]string, 0, len(senders))
	for _, s := range senders {
		users = append(users, s.User)
	}
	return users, nil
}

// deletePlanLines names each key a run would delete, for the confirmation.
func deletePlanLines(plans []provision.RetirePlan) []string {
	lines := make([]string, 0, len(plans))
	for _, p := range plans {
		lines = append(lines, fmt.Sprintf("access key %s of IAM user %s (inactive since %s)", p.KeyID(), p.UserName,
			p.Retirement.Deactivated.Format(time.RFC3339)))
	}
	return lines
}

// printRetired prints the outcome: JSON, or a table on stdout and notes
// on stderr.
func printRetired(io stdio, format string, in provision.RetireManyInput, sum provision.RetireSummary) error {
	if format == outputJSON {
		if sum.Outcomes == nil {
			sum.Outcomes = []provision.RetireOutcome{}
		}
		return writeJSON(io, sum)
	}
	if len(sum.Outcomes) == 0 {
		fmt.Fprintf(io.err, "no retirement pending under %s\n", cmp.Or(in.PathPrefix, "/"))
		return nil
	}
	if sum.DryRun {
		fmt.Fprintln(io.err, "dry run: nothing was changed")
	}
	w := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USER\tOLD KEY\tRESULT\tNEXT")
	for _, o := range sum.Outcomes {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.UserName, dash(o.KeyID()), o.Status, dash(nextText(o)))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, o := range sum.Outcomes {
		if o.Done && o.Step == provision.RetireStepDeactivate {
			fmt.Fprintf(io.err, "Deactivated %s of %s: senders still using it now fail. To undo: aws iam update-access-key --user-name %s --access-key-id %s --status Active\n",
				o.KeyID(), o.UserName, o.UserName, o.KeyID())
		}
	}
	return nil
}

// nextText is the outcome's next command, with when it may run.
func nextText(o provision.RetireOutcome) string {
	if o.Next == "" || o.Error != "" {
		return ""
	}
	if o.DeleteAfter.IsZero() {
		return o.Next
	}
	return fmt.Sprintf("%s (deletes from %s)", o.Next, o.DeleteAfter.UTC().Format("2006-01-02 15:04 UTC"))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkRetireFlags checks rotate's retirement flags and says that
// --deactivate-old is deprecated.
func checkRetireFlags(c *cli.Context, io stdio) error {
	if c.Bool(flagRetireNow) && c.Bool(flagDeactivateOld) {
		return exitcode.UsageError(errors.New("--retire-now deletes the old key and --deactivate-old keeps it, inactive: choose one"))
	}
	if c.Bool(flagDeactivateOld) {
		fmt.Fprintln(io.err, "note: --deactivate-old is deprecated: 'rotate --strategy key' leaves the old key active and "+
			"'sesmtp retire' deactivates it, then deletes it after --grace. --deactivate-old still deactivates it at once and "+
			"records that, so 'sesmtp retire' deletes it later")
	}
	return nil
}

// printRetireNext tells what finishes a key rotation's pending retirement.
func printRetireNext(io stdio, res provision.RotateResult) {
	r := res.PendingRetirement
	if r == nil {
		return
	}
	state := "still ACTIVE, so senders using the old password keep working"
	if !r.Deactivated.IsZero() {
		state = "deactivated now"
	}
	fmt.Fprintf(io.err, "Old access key %s is %s; it is recorded as pending retirement (tag %s).\n", r.AccessKeyID, state, provision.RetireTagKey(r.AccessKeyID))
	fmt.Fprintf(io.err, "Deploy the new password to every sender, then finish the rotation with: %s --if-unused-for 24h\n",
		strings.TrimSpace(res.Next))
}
