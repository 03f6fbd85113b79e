package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/batch"
	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/verify"
)

const (
	flagCheckPermission = "check-permission"
	flagPermissionOnly  = "permission-only"
)

// permissionFlags are verify's flags for the IAM send-permission check.
func permissionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: flagCheckPermission, Usage: "also ask IAM whether the key's user may send (iam:SimulatePrincipalPolicy for " +
			policy.SendAction + "); needs AWS credentials, see 'sesmtp policy operator --command verify'"},
		&cli.BoolFlag{Name: flagPermissionOnly, Usage: "only the IAM check, no SMTP connection (implies --check-permission; with --user, no credentials file is needed)"},
		&cli.StringFlag{Name: flagFromAddress, Usage: "with --check-permission: the From address to check (the ses:FromAddress condition key)"},
		&cli.StringFlag{Name: flagIdentityARN, Usage: "with --check-permission: the SES identity ARN to check sending through (default: any, *)"},
		&cli.StringFlag{Name: flagUser, Usage: "with --check-permission: the IAM user that owns the key (default: the file's IAM user, else IAM is asked)"},
	}
}

// verifyAWSFlags are the AWS flags of verify: those of every command but
// --timeout, which verify has for each SMTP attempt.
func verifyAWSFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range awsFlags() {
		if !slices.Contains(f.Names(), flagTimeout) {
			out = append(out, f)
		}
	}
	return out
}

// permissionCheck is verify's --check-permission, as asked.
type permissionCheck struct {
	only        bool
	user        string
	fromAddress string
	identity    string
}

// readPermissionCheck reads the permission flags; nil when not asked.
func readPermissionCheck(c *cli.Context) (*permissionCheck, error) {
	pc := &permissionCheck{only: c.Bool(flagPermissionOnly), user: c.String(flagUser),
		fromAddress: c.String(flagFromAddress), identity: c.String(flagIdentityARN)}
	if !pc.only && !c.Bool(flagCheckPermission) {
		for _, f := range []string{flagFromAddress, flagIdentityARN, flagUser} {
			if c.IsSet(f) {
				return nil, exitcode.UsageError(fmt.Errorf("--%s belongs to the IAM permission check: add --check-permission (or --permission-only)", f))
			}
		}
		return nil, nil
	}
	if strings.ContainsAny(pc.fromAddress, "*?") || strings.ContainsAny(pc.fromAddress, " \t\"") {
		return nil, exitcode.UsageError(fmt.Errorf("--from-address %q: give one concrete address, as SES sees it in MAIL FROM (no wildcards, spaces or quotes)", pc.fromAddress))
	}
	if pc.identity != "" {
		if _, err := policy.Sender(policy.SenderOptions{IdentityARNs: []string{pc.identity}}); err != nil {
			return nil, exitcode.UsageError(fmt.Errorf("--identity-arn: %w", err))
		}
	}
	return pc, nil
}

// permissionEntries are the credentials the permission-only check reads:
// --credentials or SMTP_USERNAME, no password or region needed; none with
// --user alone.
func permissionEntries(c *cli.Context, pc *permissionCheck) ([]credfile.Entry, error) {
	if c.String(flagCredentials) == "" && pc.user != "" {
		return nil, nil
	}
	entries, err := readCredentials(c)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := verify.CheckUsername(e.Username); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// keyOwners are the distinct (user, key) pairs to check: one per key.
func (pc *permissionCheck) keyOwners(entries []credfile.Entry) []credfile.Entry {
	if len(entries) == 0 {
		return []credfile.Entry{{IAMUser: pc.user}}
	}
	var out []credfile.Entry
	for _, e := range entries {
		if pc.user != "" {
			e.IAMUser = pc.user
		}
		if !slices.ContainsFunc(out, func(o credfile.Entry) bool { return o.Username == e.Username && o.IAMUser == e.IAMUser }) {
			out = append(out, credfile.Entry{IAMUser: e.IAMUser, Username: e.Username})
		}
	}
	return out
}

// run checks each key's user. A check that cannot run (the operator may
// not call IAM's simulator) is a warning when SMTP was checked, and the
// error itself with --permission-only.
func (pc *permissionCheck) run(c *cli.Context, io stdio, client provision.PermissionAPI, owners []credfile.Entry) ([]provision.PermissionResult, error) {
	var results []provision.PermissionResult
	var errs []error
	for _, o := range owners {
		opts := provision.PermissionOptions{AccessKeyID: o.Username, FromAddress: pc.fromAddress, Wait: c.Duration(flagWait),
			RetryInterval: c.Duration(flagRetryInterval), Progress: func(s string) { fmt.Fprintln(io.err, "permission: "+s) }}
		if pc.identity != "" {
			opts.IdentityARNs = []string{pc.identity}
		}
		res, err := provision.CheckSendPermission(c.Context, client, o.IAMUser, opts)
		switch {
		case err != nil && (pc.only || c.Context.Err() != nil):
			errs = append(errs, permissionCheckError(err))
		case err != nil:
			fmt.Fprintf(io.err, "warning: the send-permission check could not run (%v); this says nothing about the credentials\n", err)
		case res.Err() != nil:
			results = append(results, res)
			errs = append(errs, &provision.SendDeniedError{Result: res, Hint: verifyDenyHint(res, pc)})
		default:
			results = append(results, res)
			if undeterminedNote := pc.undeterminedHint(res); undeterminedNote != "" {
				fmt.Fprintln(io.err, "note: "+undeterminedNote)
			}
		}
	}
	return results, errors.Join(errs...)
}

// permissionCheckError gives a check that could not run its exit code:
// 2 when the operator's credentials or permissions are at fault.
func permissionCheckError(err error) error {
	var ae *provision.APIError
	err = fmt.Errorf("the send-permission check could not run: %w", err)
	if errors.As(err, &ae) && ae.Caller {
		return exitcode.UsageError(err)
	}
	return err
}

// undeterminedHint says which flag would decide an undetermined verdict.
func (pc *permissionCheck) undeterminedHint(res provision.PermissionResult) string {
	if res.Verdict != provision.VerdictUndetermined {
		return ""
	}
	if slices.Contains(res.MissingContext, "ses:FromAddress") && pc.fromAddress == "" {
		return "pass --from-address ADDRESS to ask IAM about one From address"
	}
	return "the policies test context keys sesmtp cannot supply (" + strings.Join(res.MissingContext, ", ") + "); " +
		"the IAM policy simulator (console) can take them"
}

// verifyDenyHint says what to do about a denial verify found.
func verifyDenyHint(res provision.PermissionResult, pc *permissionCheck) string {
	if res.Decision == provision.DecisionExplicitDeny {
		return "An explicit deny overrides every allow: remove or narrow the denying statement."
	}
	hint := "Give the user the sending policy ('sesmtp policy sender' prints it), and check its permissions boundary and your organization's SCPs."
	if pc.identity == "" {
		hint += " If the user's policy names SES identities rather than *, check with --identity-arn."
	}
	return hint
}

// sendNarrowing is how a user was narrowed when it was created: the From
// addresses and identity ARNs of its sending policy.
type sendNarrowing func(user string) policy.SenderOptions

// createdWith is the narrowing of create's flags, the same for any user.
func createdWith(c *cli.Context) sendNarrowing {
	opts := senderOptions(c)
	return func(string) policy.SenderOptions { return opts }
}

// permissionHook runs the send-permission check of create, rotate and
// batch --verify on new credentials.
type permissionHook struct {
	client provision.PermissionAPI
	io     stdio
	// narrowing is nil for rotate, which keeps the user's policy as it
	// was: a denial is reported, never rolled back for.
	narrowing sendNarrowing
	interval  time.Duration
	// skip is set once the operator proved unable to run the check, so a
	// batch warns once and asks no more.
	skip     atomic.Bool
	warnOnce sync.Once
}

// check asks IAM whether creds' user may send, retrying an implicit deny
// within wait. A denial fails create's verification (rolled back as for a
// 535); a check the operator may not run is skipped with one warning.
func (h *permissionHook) check(ctx context.Context, creds credfile.Credentials, wait time.Duration) error {
	if h.skip.Load() {
		return nil
	}
	opts, why := h.options(creds.UserName)
	opts.AccessKeyID, opts.Wait, opts.RetryInterval = creds.AccessKeyID, wait, h.interval
	opts.Progress = func(s string) { fmt.Fprintln(h.io.err, "verify: permission: "+s) }
	res, err := provision.CheckSendPermission(ctx, h.client, creds.UserName, opts)
	switch {
	case err != nil && ctx.Err() != nil:
		return err
	case err != nil && provision.IsAccessDenied(err):
		h.skip.Store(true)
		h.warnOnce.Do(func() {
			fmt.Fprintf(h.io.err, "warning: skipped the send-permission check: %v (the SMTP check stands)\n", err)
		})
		return nil
	case err != nil:
		fmt.Fprintf(h.io.err, "warning: the send-permission check of %s could not run: %v (the SMTP check stands)\n", creds.UserName, err)
		return nil
	case res.Verdict == provision.VerdictDenied && h.narrowing == nil:
		fmt.Fprintf(h.io.err, "warning: %v\n(rotate keeps the user's policies as they were, so it does not roll back for this; "+
			"sesmtp verify --check-permission --identity-arn/--from-address checks a narrowed user)\n", res.Err())
		return nil
	case res.Verdict == provision.VerdictDenied:
		hint := "Check --permissions-boundary, the group's policies and your organization's SCPs."
		if res.Decision == provision.DecisionExplicitDeny {
			hint = "An explicit deny overrides every allow: the statement named above decides."
		}
		return fmt.Errorf("check the new user's send permission: %w", &provision.SendDeniedError{Result: res, Hint: hint})
	}
	fmt.Fprintf(h.io.err, "verified: %s%s\n", res.Describe(), why)
	return nil
}

// options are the From address and identities the user was created
// with, and a note when the From addresses could not be used.
func (h *permissionHook) options(user string) (provision.PermissionOptions, string) {
	if h.narrowing == nil {
		return provision.PermissionOptions{}, ""
	}
	n := h.narrowing(user)
	opts := provision.PermissionOptions{IdentityARNs: n.IdentityARNs}
	switch {
	case len(n.FromAddresses) == 1 && !strings.ContainsAny(n.FromAddresses[0], "*?"):
		opts.FromAddress = n.FromAddresses[0]
		return opts, ""
	case len(n.FromAddresses) == 1:
		return opts, " (the simulation used no From address: the user's From address has wildcards)"
	case len(n.FromAddresses) > 1:
		return opts, " (the simulation used no From address: the user has several)"
	}
	return opts, ""
}

// manifestNarrowing is the narrowing of each sender of a batch manifest.
func manifestNarrowing(senders []batch.Sender) sendNarrowing {
	byUser := map[string]policy.SenderOptions{}
	for _, s := range senders {
		byUser[strings.ToLower(s.User)] = policy.SenderOptions{FromAddresses: s.FromAddresses, IdentityARNs: s.IdentityARNs}
	}
	// IAM user names are unique case-insensitively.
	return func(user string) policy.SenderOptions { return byUser[strings.ToLower(user)] }
}
