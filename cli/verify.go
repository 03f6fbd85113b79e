package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/verify"
)

const (
	flagCredentials    = "credentials"
	flagSMTPEndpoint   = "endpoint"
	flagTLS            = "tls"
	flagCAFile         = "ca-file"
	flagWait           = "wait"
	flagRetryInterval  = "retry-interval"
	flagVerify         = "verify"
	flagVerifyWait     = "verify-wait"
	flagVerifyEndpoint = "smtp-endpoint"
	envSMTPUsername    = "SMTP_USERNAME"
	envSMTPPassword    = "SMTP_PASSWORD"
	envSMTPHost        = "SMTP_HOST"
	// defaultVerifyWait is how long create --verify and rotate --verify
	// wait for a new key to reach SES.
	defaultVerifyWait = 2 * time.Minute
)

func verifyCommand(io stdio) *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "prove SMTP credentials authenticate against the SES SMTP endpoint (and, with --check-permission, that IAM lets their user send), without sending mail",
		UsageText: "sesmtp verify [--credentials FILE | --store SPEC] [--region R] [--wait 2m] [--endpoint HOST:PORT] [--tls starttls|implicit]\n" +
			"sesmtp verify --check-permission [--from-address A] [--identity-arn ARN] [--credentials FILE]\n" +
			"sesmtp verify --permission-only --user NAME [--from-address A] [--identity-arn ARN]",
		Description: `Connects to email-smtp.REGION.amazonaws.com (port 587; email-smtp-fips with --fips),
does EHLO, STARTTLS, EHLO and AUTH (PLAIN or LOGIN, as the server offers), reports the
answer and QUITs. It never sends MAIL FROM, so it never sends mail. Certificates are
verified. Before connecting it warns if the host name does not resolve (--offline skips that).

The credentials come from a file sesmtp wrote or the console's CSV (--credentials, any
format; every region in it is checked unless --region picks one), from a secret store
(--store secretsmanager:NAME or ssm:/PATH/..., read as an application reads it: the
AWSCURRENT version, the newest parameters, decrypted) or from SMTP_USERNAME
and SMTP_PASSWORD (SMTP_HOST, if set, names the endpoint). Passwords are never taken as
arguments. Temporary keys (ASIA...) are refused before connecting: SES's SMTP interface
does not accept passwords derived from temporary credentials.

AUTH proves the key and the password, not the right to send: SES checks ses:SendRawEmail
only when mail is sent (554 Access denied), so a user with a wrong policy passes AUTH.
--check-permission also asks IAM (iam:SimulatePrincipalPolicy, with your AWS credentials)
whether the key's user may call ses:SendRawEmail: its policies, its groups', its permissions
boundary and your organization's SCPs. The user is the file's IAM user, --user, or the key's
owner as IAM says (iam:GetAccessKeyLastUsed). --from-address and --identity-arn give the
From address (ses:FromAddress) and the SES identity to ask about; a user narrowed to From
addresses gets an undetermined answer without --from-address. --permission-only skips SMTP.
If your AWS identity may not call the simulator, a warning says the check could not run.

With --wait, rejections (535, e.g. a key IAM has not propagated yet) and SES's temporary
answers (421, 451, 454: SES asks clients to retry 4xx) are retried until the time is up,
and so is an implicit deny of the permission check that no policy explains (a policy
changed moments ago may not be visible to IAM's simulator yet).
535 "Signature Version 2 is deprecated" and 535 "Account not subscribed to SES" are final.

Exit 0: accepted (and, with --check-permission, IAM allows sending or says it depends on
the From address). Exit 3: rejected (535), with the likely causes in order: the IAM user
name used instead of the access key id, a password mangled on the way, a password derived
for another region, a key IAM has not propagated yet (use --wait), an inactive key; or
IAM denies the user ses:SendRawEmail (implicit or explicit deny, with the deciding policy),
so SES would answer 554 Access denied to its mail.
Exit 1: TLS, connection or protocol errors, or a temporary answer that outlasted --wait.
Exit 2: bad input, a temporary (ASIA) key; with --permission-only, AWS credentials that
may not run the check.

EXAMPLES:
   sesmtp verify --credentials credentials.csv
   sesmtp verify --credentials app.env --wait 2m
   sesmtp verify --store secretsmanager:smtp/billing --store-region eu-west-1
   SMTP_USERNAME=AKIA... SMTP_PASSWORD=... sesmtp verify --region eu-west-1
   sesmtp verify --credentials relay.json --endpoint smtp.internal:465 --tls implicit --ca-file ca.pem
   sesmtp verify --credentials credentials.csv --check-permission --from-address noreply@example.com
   sesmtp verify --permission-only --user billing-mailer --from-address billing@example.com \
       --identity-arn arn:aws:ses:eu-west-1:123456789012:identity/example.com`,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: flagCredentials, Aliases: []string{"c"}, Usage: "credentials file written by sesmtp (or the console's CSV)"},
			&cli.StringFlag{Name: flagRegion, Usage: "SES region whose password to check (default: the file's regions, or AWS_REGION)"},
			&cli.StringFlag{Name: flagSMTPEndpoint, Usage: "check against HOST:PORT instead of the region's SES endpoint"},
			&cli.StringFlag{Name: flagTLS, Usage: "starttls or implicit (default: implicit on ports 465 and 2465, else starttls)"},
			&cli.StringFlag{Name: flagCAFile, Usage: "PEM file of CA certificates to trust besides the system's"},
			&cli.DurationFlag{Name: flagWait, Usage: "retry rejections and temporary (4xx) answers until this long has passed (new keys take a while to reach SES), e.g. 2m"},
			&cli.DurationFlag{Name: flagRetryInterval, Value: verify.DefaultRetryInterval, Usage: "first pause between retries with --wait; it doubles, with jitter, up to 30s"},
			&cli.DurationFlag{Name: flagTimeout, Value: verify.DefaultTimeout, Usage: "give up on one attempt after this long"},
			allowUnknownRegionFlag(),
			fipsFlag(),
			offlineFlag(),
			outputFlag(),
		}, append(verifyStoreFlags(), permissionFlags()...)...), verifyAWSFlags()...),
		Action: func(c *cli.Context) error { return runVerify(c, io) },
	}
}

// smtpTarget is where verify connects: a region's endpoint or --endpoint.
type smtpTarget struct {
	endpoint string // HOST:PORT override, or ""
	mode     verify.Mode
	fips     bool
	rootCAs  *x509.CertPool
}

// readSMTPTarget reads --endpoint (or the named flag), --tls and --ca-file.
func readSMTPTarget(c *cli.Context, endpointFlag string) (smtpTarget, error) {
	t := smtpTarget{endpoint: c.String(endpointFlag), mode: verify.Mode(c.String(flagTLS)), fips: c.Bool(flagFIPS)}
	if t.mode != "" && t.mode != verify.STARTTLS && t.mode != verify.Implicit {
		return t, exitcode.UsageError(fmt.Errorf("--tls must be starttls or implicit, not %q", t.mode))
	}
	if t.endpoint != "" {
		if _, port, err := net.SplitHostPort(t.endpoint); err != nil || port == "" {
			return t, exitcode.UsageError(fmt.Errorf("--%s %q is not HOST:PORT", endpointFlag, t.endpoint))
		}
	}
	if f := c.String(flagCAFile); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return t, exitcode.UsageError(fmt.Errorf("--ca-file: %w", err))
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return t, exitcode.UsageError(fmt.Errorf("--ca-file %s holds no PEM certificate", f))
		}
		t.rootCAs = pool
	}
	return t, nil
}

// target returns where to check a password for region (host from a file, if any).
func (t smtpTarget) target(region, host string, port int) verify.Target {
	var tg verify.Target
	switch {
	case t.endpoint != "":
		h, p, _ := net.SplitHostPort(t.endpoint)
		n, _ := strconv.Atoi(p)
		tg = verify.Target{Host: h, Port: n}
	case host != "" && !(t.fips && credfile.RegionOfHost(host) != ""):
		// A file's SES host is used as written, unless --fips asks for
		// its region's FIPS host.
		if port == 0 {
			port = derive.PortSubmission
		}
		tg = verify.Target{Host: host, Port: port}
	case host != "":
		tg = verify.TargetFor(credfile.RegionOfHost(host), true)
		if port != 0 {
			tg.Port = port
		}
	default:
		tg = verify.TargetFor(region, t.fips)
	}
	tg.Mode = t.mode
	if tg.Mode == "" {
		tg.Mode = verify.ModeForPort(tg.Port)
	}
	return tg
}

func runVerify(c *cli.Context, io stdio) error {
	if c.Args().Present() {
		// Not quoted: a stray argument may be a password typed on the command line.
		return exitcode.UsageError(fmt.Errorf("verify takes no arguments (%d given): the credentials come from --credentials, --store "+
			"or SMTP_USERNAME and SMTP_PASSWORD, never the command line (see 'sesmtp verify --help')", c.Args().Len()))
	}
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	target, err := readSMTPTarget(c, flagSMTPEndpoint)
	if err != nil {
		return err
	}
	pc, err := readPermissionCheck(c)
	if err != nil {
		return err
	}
	if pc != nil && pc.only {
		return runPermissionOnly(c, io, pc, format)
	}
	entries, err := verifyEntries(c, io)
	if err != nil {
		return err
	}
	var client provision.PermissionAPI
	if pc != nil {
		if client, err = verifyIAMClient(c, io, entries); err != nil {
			return err
		}
	}
	outs, smtpErr := checkSMTP(c, io, target, entries, format)
	if pc == nil || c.Context.Err() != nil {
		return finishVerify(io, format, outs, smtpErr)
	}
	perms, permErr := pc.run(c, io, client, pc.keyOwners(entries))
	printPermissions(io, format, perms)
	for i := range outs {
		outs[i].Permission = permissionOf(perms, outs[i].Username)
	}
	if smtpErr != nil {
		return errors.Join(smtpErr, permErr)
	}
	return errors.Join(finishVerify(io, format, outs, nil), permErr)
}

// verifyOutput is one element of verify's --output json: an SMTP check,
// the permission check of its key, or both. It holds no secret.
type verifyOutput struct {
	*verify.Result
	Permission *provision.PermissionResult `json:"permission,omitempty"`
}

// checkSMTP authenticates with each entry, stopping at the first failure.
func checkSMTP(c *cli.Context, io stdio, target smtpTarget, entries []credfile.Entry, format string) ([]verifyOutput, error) {
	var outs []verifyOutput
	for _, e := range entries {
		warnEntry(io, e)
		in := verify.Input{Username: e.Username, Password: e.Password, Region: e.Region, Target: target.target(e.Region, e.Host, e.Port),
			RootCAs: target.rootCAs, Timeout: c.Duration(flagTimeout), Wait: c.Duration(flagWait), RetryInterval: c.Duration(flagRetryInterval),
			Progress: func(s string) { fmt.Fprintln(io.err, s) }}
		warnUnresolved(c, io, in.Target.Host)
		res, err := verify.Check(c.Context, in)
		if err != nil {
			return outs, err
		}
		outs = append(outs, verifyOutput{Result: &res})
		if format == outputText {
			fmt.Fprintf(io.out, "credentials accepted by %s%s (AUTH %s over %s, %s)\n", res.Target, regionNote(res.Region), res.Mechanism, in.Target.Mode, res.TLS)
		}
	}
	return outs, nil
}

// finishVerify writes --output json (when nothing failed) and returns err.
func finishVerify(io stdio, format string, outs []verifyOutput, err error) error {
	if err != nil || format != outputJSON {
		return err
	}
	if outs == nil {
		outs = []verifyOutput{}
	}
	return writeJSON(io, outs)
}

// runPermissionOnly is verify --permission-only: the IAM check alone.
func runPermissionOnly(c *cli.Context, io stdio, pc *permissionCheck, format string) error {
	entries, err := permissionEntries(c, pc)
	if err != nil {
		return err
	}
	client, err := verifyIAMClient(c, io, entries)
	if err != nil {
		return err
	}
	perms, err := pc.run(c, io, client, pc.keyOwners(entries))
	printPermissions(io, format, perms)
	var outs []verifyOutput
	for i := range perms {
		outs = append(outs, verifyOutput{Permission: &perms[i]})
	}
	if perms == nil {
		return err
	}
	return errors.Join(finishVerify(io, format, outs, nil), err)
}

// verifyIAMClient is the IAM client of the permission check, in the
// partition of the credentials' region (--region, else the file's).
func verifyIAMClient(c *cli.Context, io stdio, entries []credfile.Entry) (provision.PermissionAPI, error) {
	opts := awsOptions(c, io)
	opts.Region = c.String(flagRegion)
	for _, e := range entries {
		if opts.Region == "" {
			opts.Region = e.Region
		}
	}
	return iamClient(c.Context, opts)
}

// printPermissions writes a line per verdict that is not a denial (those
// are errors) in text mode.
func printPermissions(io stdio, format string, perms []provision.PermissionResult) {
	if format != outputText {
		return
	}
	for _, p := range perms {
		if p.Verdict != provision.VerdictDenied {
			fmt.Fprintln(io.out, "send permission: "+p.Describe())
		}
	}
}

// permissionOf returns the result for the access key keyID, if any.
func permissionOf(perms []provision.PermissionResult, keyID string) *provision.PermissionResult {
	for i := range perms {
		if perms[i].AccessKeyID == keyID {
			return &perms[i]
		}
	}
	return nil
}

// warnEntry warns, before connecting, about what will make SES reject e.
func warnEntry(io stdio, e credfile.Entry) {
	if !verify.LooksLikeAccessKeyID(e.Username) {
		// Never quoted: it may be the password, the two swapped.
		fmt.Fprintf(io.err, "warning: the SMTP username %s does not look like an access key id (AKIA...); SES expects the access key id, not the IAM user name\n", verify.DescribeUsername(e.Username))
	}
	if p := verify.PasswordProblem(e.Password.Reveal()); p != "" {
		fmt.Fprintf(io.err, "warning: the SMTP password looks mangled (%s); SES will reject it\n", p)
	}
}

// regionNote names the password's region in the success line.
func regionNote(region string) string {
	if region == "" {
		return ""
	}
	return ", " + region + "'s password"
}

// verifyEntries reads the credentials to check, from --credentials or the
// SMTP_* environment, narrowed to --region.
func verifyEntries(c *cli.Context, io stdio) ([]credfile.Entry, error) {
	region := c.String(flagRegion)
	if region != "" {
		if err := checkRegions(c, []string{region}); err != nil {
			return nil, err
		}
	}
	var entries []credfile.Entry
	var err error
	if c.IsSet(flagStore) {
		entries, err = storeEntries(c, io)
	} else {
		if c.IsSet(flagStoreRegion) || c.IsSet(flagStoreEndpointURL) {
			return nil, exitcode.UsageError(errors.New("--store-region and --store-endpoint-url go with --store"))
		}
		entries, err = readCredentials(c)
	}
	if err != nil {
		return nil, err
	}
	picked, err := pickRegion(c, io, entries, region)
	if err != nil || !c.Bool(flagFIPS) {
		return picked, err
	}
	for _, e := range picked {
		if err := derive.CheckFIPS(e.Region, c.Bool(flagAllowUnknownRegion)); e.Region != "" && err != nil {
			return nil, exitcode.UsageError(err)
		}
	}
	return picked, nil
}

// readCredentials reads --credentials, or the SMTP_* environment.
func readCredentials(c *cli.Context) ([]credfile.Entry, error) {
	if path := c.String(flagCredentials); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, exitcode.UsageError(fmt.Errorf("--credentials: %w", err))
		}
		defer f.Close()
		entries, err := credfile.Read(f)
		if err != nil {
			return nil, exitcode.UsageError(fmt.Errorf("%s: %w", path, err))
		}
		return entries, nil
	}
	user, pw := os.Getenv(envSMTPUsername), os.Getenv(envSMTPPassword)
	if user == "" || pw == "" {
		return nil, exitcode.UsageError(errors.New("no credentials: pass --credentials FILE, or set SMTP_USERNAME and SMTP_PASSWORD (never as arguments)"))
	}
	host := os.Getenv(envSMTPHost)
	return []credfile.Entry{{Username: user, Password: credfile.Secret(pw), Host: host, Region: credfile.RegionOfHost(host)}}, nil
}

// pickRegion keeps the entry for region, or fills in a missing region.
func pickRegion(c *cli.Context, io stdio, entries []credfile.Entry, region string) ([]credfile.Entry, error) {
	if region == "" {
		for i, e := range entries {
			if e.Region == "" && e.Host == "" && c.String(flagSMTPEndpoint) == "" {
				configured, err := configuredRegion(c, io)
				if err != nil || configured == "" {
					return nil, exitcode.UsageError(errors.New("the credentials name no region: pass --region (the region the password was derived for)"))
				}
				entries[i].Region = configured
			}
		}
		if c.String(flagSMTPEndpoint) != "" && len(entries) > 1 {
			fmt.Fprintf(io.err, "note: the credentials hold a password for each of %s; --endpoint is one server, "+
				"so this checks %s's there (--region picks another)\n", strings.Join(entryRegions(entries), ", "), entries[0].Region)
			return entries[:1], nil
		}
		return entries, nil
	}
	var picked []credfile.Entry
	for _, e := range entries {
		if e.Region == region || e.Region == "" {
			e.Region = region
			if e.Host != "" && credfile.RegionOfHost(e.Host) != region {
				e.Host = ""
			}
			picked = append(picked, e)
		}
	}
	if len(picked) == 0 {
		return nil, exitcode.UsageError(fmt.Errorf("the credentials hold no password for %s", region))
	}
	return picked[:1], nil
}

// entryRegions lists the regions of entries ("?" for one without).
func entryRegions(entries []credfile.Entry) []string {
	var out []string
	for _, e := range entries {
		r := e.Region
		if r == "" {
			r = "?"
		}
		out = append(out, r)
	}
	return out
}

// verifyHook returns the Verify function of create, rotate and batch for
// --verify, or nil: SMTP AUTH with each region's password, then IAM's
// answer on whether the user may send (see permissionHook), both within
// --verify-wait. narrowing is how the users were created (nil for rotate).
func verifyHook(c *cli.Context, io stdio, client provision.PermissionAPI, narrowing sendNarrowing) (func(context.Context, credfile.Credentials) error, error) {
	if !c.Bool(flagVerify) {
		return nil, nil
	}
	target, err := readSMTPTarget(c, flagVerifyEndpoint)
	if err != nil {
		return nil, err
	}
	wait := c.Duration(flagVerifyWait)
	perm := &permissionHook{client: client, io: io, narrowing: narrowing, interval: c.Duration(flagRetryInterval)}
	return func(ctx context.Context, creds credfile.Credentials) error {
		deadline := time.Now().Add(wait)
		for _, p := range creds.Passwords {
			in := verify.Input{Username: creds.AccessKeyID, Password: p.Password, Region: p.Region, Target: target.target(p.Region, "", 0),
				RootCAs: target.rootCAs, Wait: wait, WaitFlag: flagVerifyWait, RetryInterval: c.Duration(flagRetryInterval),
				Progress: func(s string) { fmt.Fprintln(io.err, "verify: "+s) }}
			res, err := verify.Check(ctx, in)
			if err != nil {
				return fmt.Errorf("verify the new credentials: %w", err)
			}
			fmt.Fprintf(io.err, "verified: %s accepted the new credentials (attempt %d)\n", res.Target, res.Attempts)
		}
		return perm.check(ctx, creds, time.Until(deadline))
	}, nil
}

// verifyFlags are create's and rotate's --verify flags.
func verifyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: flagVerify, Usage: "check that the new credentials authenticate (SMTP AUTH, no mail sent); on failure, roll back"},
		&cli.DurationFlag{Name: flagVerifyWait, Value: defaultVerifyWait, Usage: "with --verify: how long to retry while a new key reaches SES (and SES answers 4xx)"},
		&cli.DurationFlag{Name: flagRetryInterval, Value: verify.DefaultRetryInterval, Usage: "with --verify: first pause between retries"},
		&cli.StringFlag{Name: flagVerifyEndpoint, Usage: "with --verify: check against HOST:PORT instead of each region's SES endpoint"},
		&cli.StringFlag{Name: flagTLS, Usage: "with --verify: starttls or implicit (default by port)"},
		&cli.StringFlag{Name: flagCAFile, Usage: "with --verify: PEM CA certificates to trust besides the system's"},
	}
}
