package cli

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
)

const (
	flagAllUsers    = "all-users"
	flagOlderThan   = "older-than"
	flagConcurrency = "concurrency"
	flagPathPrefix  = "path-prefix"
	flagInUseWithin = "in-use-within"
)

func listCommand(io stdio) *cli.Command {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: flagAllUsers, Usage: "list every IAM user, not only SMTP users"},
		&cli.StringFlag{Name: flagOlderThan, Usage: "only keys older than this: whole days (90d), weeks (12w) or hours (2160h); m (minutes? months?) is refused"},
		&cli.StringFlag{Name: flagPathPrefix, Usage: "only users under this IAM path, e.g. /smtp/"},
		&cli.StringFlag{Name: flagInUseWithin, Value: "24h", Usage: "a key last used within this is marked in use: whole days (2d), weeks (1w) or hours (24h)"},
		&cli.IntFlag{Name: flagConcurrency, Value: provision.DefaultListConcurrency, Usage: "users inspected at once"},
		outputFlag(),
	}
	return &cli.Command{
		Name:      "list",
		Usage:     "show who has SMTP access, their keys, key ages and last use",
		UsageText: "sesmtp list [--older-than 90d] [--all-users] [--output json]",
		Description: `Lists the SMTP users of the account: users sesmtp tagged, users holding the console's
inline policy AmazonSesSendingAccess, and members of the console's group
AWSSESSendingGroupDoNotRename (--all-users shows every user). For each: when it was
created, how it was recognised, and each access key's id, status, age in days, and when,
where and for what it was last used (iam:GetAccessKeyLastUsed). The NOTE column marks a
key last used within --in-use-within (default 24h) "in use", and the old key of a key
rotation that 'sesmtp retire' has yet to finish "retiring" (since when; whether it is
deactivated yet).

--older-than finds keys due for rotation; it takes whole days (90d), weeks (12w) or hours
(2160h), not m (minutes or months?). It exits 0 either way (the list is the answer).
Users are inspected --concurrency at a time, so large accounts do not take one round
trip after another.

EXAMPLES:
   sesmtp list
   sesmtp list --older-than 90d
   sesmtp list --output json | jq '.[] | select(.pending_retirement)'
   sesmtp list --output json | jq '.[] | select(.access_keys | length > 1)'`,
		Flags:  append(flags, awsFlags()...),
		Action: func(c *cli.Context) error { return runList(c, io) },
	}
}

// ageUnits are the units --older-than takes: whole days, weeks or hours.
// "m" is refused: minutes to Go, months to many people.
var ageUnits = map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "h": time.Hour}

// parseAge reads a whole number of days (90d), weeks (12w) or hours (2160h).
func parseAge(s string) (time.Duration, error) { return parseAgeFor("--older-than", s) }

// parseAgeFor is parseAge for the value s of flag.
func parseAgeFor(flag, s string) (time.Duration, error) {
	want := fmt.Errorf("%s %q: want a whole number of days (90d), weeks (12w) or hours (2160h)", flag, s)
	if len(s) < 2 {
		return 0, want
	}
	n, unit := s[:len(s)-1], s[len(s)-1:]
	if unit == "m" || unit == "M" {
		return 0, fmt.Errorf("%w; m could mean minutes or months, so it is not accepted", want)
	}
	v, err := strconv.Atoi(n)
	if ageUnits[unit] == 0 || err != nil || v < 0 || strings.HasPrefix(n, "+") {
		return 0, want
	}
	return time.Duration(v) * ageUnits[unit], nil
}

func runList(c *cli.Context, io stdio) error {
	if c.Args().Present() {
		return exitcode.UsageError(fmt.Errorf("unexpected argument %q: list takes only flags (to see some users, --path-prefix "+
			"narrows the listing to an IAM path, or filter --output json with jq)", c.Args().First()))
	}
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	var olderThan time.Duration
	if s := c.String(flagOlderThan); s != "" {
		if olderThan, err = parseAge(s); err != nil {
			return exitcode.UsageError(err)
		}
	}
	if c.Int(flagConcurrency) < 1 {
		return exitcode.UsageError(fmt.Errorf("--concurrency must be at least 1"))
	}
	inUse, err := parseAgeFor("--"+flagInUseWithin, c.String(flagInUseWithin))
	if err != nil || inUse == 0 {
		return exitcode.UsageError(cmp.Or(err, fmt.Errorf("--%s must be more than 0", flagInUseWithin)))
	}
	client, err := iamClient(c.Context, awsOptions(c, io))
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(c)
	defer cancel()
	now := io.now()
	listing, err := provision.List(ctx, client, provision.ListInput{
		AllUsers: c.Bool(flagAllUsers), PathPrefix: c.String(flagPathPrefix), Concurrency: c.Int(flagConcurrency), Now: now,
		InUseWithin: inUse,
	})
	if err != nil {
		return err
	}
	for _, name := range listing.Gone {
		fmt.Fprintf(io.err, "note: IAM user %s was deleted while listing; it is not listed\n", name)
	}
	users := listing.Users
	listed := len(users)
	if c.IsSet(flagOlderThan) {
		users = provision.KeysOlderThan(users, olderThan, now)
	}
	if format == outputJSON {
		if users == nil {
			users = []provision.ListedUser{}
		}
		return writeJSON(io, users)
	}
	if len(users) == 0 {
		printNoneFound(c, io, listed)
		return nil
	}
	return printUserTable(io, users)
}

// printNoneFound says on stderr why the listing is empty.
func printNoneFound(c *cli.Context, io stdio, listed int) {
	kind := "SMTP users"
	if c.Bool(flagAllUsers) {
		kind = "users"
	}
	if listed > 0 && c.IsSet(flagOlderThan) {
		if listed == 1 {
			kind = strings.TrimSuffix(kind, "s")
		}
		fmt.Fprintf(io.err, "no keys older than %s (%d %s)\n", c.String(flagOlderThan), listed, kind)
		return
	}
	fmt.Fprintf(io.err, "no %s found\n", kind)
}

func printUserTable(io stdio, users []provision.ListedUser) error {
	w := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USER\tCREATED\tRECOGNISED BY\tACCESS KEY\tSTATUS\tAGE (DAYS)\tLAST USED\tNOTE")
	for _, u := range users {
		why := strings.Join(u.Reasons, ", ")
		if why == "" {
			why = "-"
		}
		head := fmt.Sprintf("%s\t%s\t%s", u.UserName, u.Created.Format("2006-01-02"), why)
		if len(u.Keys) == 0 {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t%s\n", head, dash(userNote(u)))
		}
		for _, k := range u.Keys {
			used := "never"
			if k.LastUsed != nil {
				used = fmt.Sprintf("%s %s %s", k.LastUsed.Format("2006-01-02"), k.LastUsedService, k.LastUsedRegion)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", head, k.AccessKeyID, k.Status, k.AgeDays, used, dash(keyNote(u, k)))
		}
	}
	return w.Flush()
}

// keyNote says that k is in use, or pending retirement, for the table.
func keyNote(u provision.ListedUser, k provision.ListedKey) string {
	var notes []string
	if k.InUse {
		notes = append(notes, "in use")
	}
	if r := u.PendingRetirement; k.Retiring && r != nil {
		note := "retiring since " + r.Since.UTC().Format("2006-01-02 15:04")
		if !r.Deactivated.IsZero() {
			note += ", deactivated " + r.Deactivated.UTC().Format("2006-01-02 15:04")
		}
		notes = append(notes, note)
	}
	if u.PendingRetirementError != "" {
		notes = append(notes, "unreadable "+provision.TagRetire+" tag")
	}
	return strings.Join(notes, "; ")
}

// userNote is the note of a user without keys: a record of a retirement
// of a key that is gone ('sesmtp retire' removes it).
func userNote(u provision.ListedUser) string {
	if u.PendingRetirement != nil {
		return "retiring " + u.PendingRetirement.AccessKeyID + ", which is gone"
	}
	return ""
}
