package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
)

const (
	flagPath                = "path"
	flagTag                 = "tag"
	flagPermissionsBoundary = "permissions-boundary"
	flagPolicyName          = "policy-name"
	flagGroup               = "group"
	flagOut                 = "out"
	flagFormat              = "format"
	flagIncludeSecretKey    = "include-secret-key"
	// defaultOutBase is the credentials file's name when --out is not
	// given; the extension follows --format.
	defaultOutBase = "credentials"
	// defaultUserLayout is the console's default user name, in UTC.
	defaultUserLayout = "ses-smtp-user.20060102-150405"
)

func createCommand(io stdio) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: flagUser, Usage: "IAM user to create (default: ses-smtp-user.YYYYMMDD-HHMMSS, UTC, as the console names it)"},
		regionFlag("SES region(s) to derive the SMTP password for"),
		allowUnknownRegionFlag(),
		fipsFlag(),
		offlineFlag(),
		pathFlag(),
		&cli.StringSliceFlag{Name: flagTag, Usage: "tag the user KEY=VALUE (repeatable)"},
		permissionsBoundaryFlag("managed policy ARN every user created gets as its permissions boundary"),
		&cli.StringFlag{Name: flagPolicyName, Value: provision.DefaultPolicyName, Usage: "name of the inline sending policy"},
		&cli.StringFlag{Name: flagGroup, Usage: "put the user in this group instead of giving it an inline policy; an existing group must allow SES sending only; " +
			"a missing one is created with the sending policy, except with a permissions boundary (then 'sesmtp setup --group' makes it) " +
			"(the console uses " + provision.ConsoleGroupName + ")"},
		allowAnyGroupFlag(),
	}
	flags = append(flags, senderPolicyFlags()...)
	flags = append(flags, fileFlags()...)
	flags = append(flags, storeFlags()...)
	flags = append(flags, verifyFlags()...)
	flags = append(flags, batchFlags()...)
	flags = append(flags,
		&cli.BoolFlag{Name: flagDryRun, Usage: "print the IAM calls and the exact policy JSON, and change nothing"},
		outputFlag(),
	)
	flags = append(flags, awsFlags()...)
	return &cli.Command{
		Name:  "create",
		Usage: `create an SMTP user, its key and its credentials file (the console's "Create SMTP credentials")`,
		UsageText: "sesmtp create [--user NAME] [--region R]... [--out FILE] [--format csv|json|env|postfix|url|console-csv] [options]\n" +
			"sesmtp create [--user NAME] --region R --store secretsmanager:NAME|ssm:/PATH/NAME|ssm:/PATH/ [--out FILE] [options]",
		Description: `Does what the SES console does: checks the user name is free (iam:ListUsers),
creates the IAM user (iam:CreateUser), gives it the sending policy (iam:PutUserPolicy,
or group membership with --group) and an access key (iam:CreateAccessKey), derives
the SMTP password for each --region, and writes the credentials file: the only copy
of the password. The SMTP username is the access key id.

The file is checked before any IAM call, created 0600 (directories 0700), written
to a temporary file, fsynced and linked into place: it is never half-written and
never overwrites an existing file unless --force.

If anything fails after the user exists, sesmtp deletes what it created and exits 1;
if that cleanup fails too, it exits 4 and prints what remains and the command that
removes it. It never leaves an access key whose secret nobody has.

The user is tagged sesmtp:managed-by=sesmtp and sesmtp:run-id=<random>.

--store delivers the credentials to AWS Secrets Manager (secretsmanager:NAME, one secret
holding JSON) or SSM Parameter Store (ssm:/PATH/NAME, one SecureString holding JSON;
ssm:/PATH/, one SecureString per field) instead of the file, or as well with --out. The
store gets one region's password (one --region); it is in that region unless
--store-region. The user is tagged sesmtp:store=SPEC and sesmtp:store-region=REGION, so
that rotate writes there and delete finds it. The key counts as delivered only once the
store write succeeded; if it fails, the key and user are rolled back. See docs/store.md.

EXAMPLES:
   sesmtp create --region eu-west-1
   sesmtp create --user billing-mailer --region eu-west-1,us-east-1 --out secrets/billing.env --format env
   sesmtp create --user app --region eu-west-1 --from-address 'noreply@example.com' --tag team=payments
   sesmtp create --user app --region eu-west-1 --dry-run
   sesmtp create --user billing-mailer --region eu-west-1 --store secretsmanager:smtp/billing
   sesmtp create --user wiki-mailer --region eu-west-1 --store ssm:/smtp/wiki/ --kms-key-id alias/smtp
   sesmtp create --from-file senders.csv --region eu-west-1 --store 'secretsmanager:smtp/{user}/credentials'`,
		Flags:  flags,
		Action: func(c *cli.Context) error { return runCreate(c, io) },
	}
}

// fileFlags are the credentials-file flags of create and rotate.
func fileFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagOut, Usage: "credentials file to write, - for stdout (default: credentials.csv, or .json, .env, .sasl_passwd, .url, .yaml as --format says)"},
		&cli.StringFlag{Name: flagFormat, Value: string(credfile.CSV), Usage: "file format: csv (the console's columns, then region and endpoint), json, env, postfix (sasl_passwd), url, k8s-secret (a Kubernetes Secret), or console-csv (exactly the console's 3 columns; one region)"},
		&cli.BoolFlag{Name: flagForce, Usage: "overwrite an existing credentials file"},
		&cli.BoolFlag{Name: flagIncludeSecretKey, Usage: "also write the secret access key (SMTP needs only the password)"},
	}
}

// fileTarget is where and how the credentials go.
type fileTarget struct {
	path   string // "" when the credentials go to a store only
	format credfile.Format
	force  bool
	opts   credfile.Options
	// store, if set, is the secret store the credentials go to as well
	// (or instead, when path is "").
	store *storeTarget
}

// fileFormat reads --format, --force and --include-secret-key.
func fileFormat(c *cli.Context) (fileTarget, error) {
	f, err := credfile.ParseFormat(c.String(flagFormat))
	if err != nil {
		return fileTarget{}, exitcode.UsageError(err)
	}
	t := fileTarget{path: c.String(flagOut), format: f, force: c.Bool(flagForce),
		opts: credfile.Options{IncludeSecretKey: c.Bool(flagIncludeSecretKey)}}
	if t.path == "" {
		t.path = defaultOutBase + "." + f.Ext()
	}
	if t.opts.IncludeSecretKey && (f == credfile.Postfix || f == credfile.URL || f == credfile.ConsoleCSV) {
		return fileTarget{}, exitcode.UsageError(fmt.Errorf("--include-secret-key needs the csv, json or env format; %s has no place for it", f))
	}
	return t, nil
}

// readFileTarget reads and checks the file flags; it creates nothing.
// Whether the file already exists is checked again once the run holds its
// lock (checkFree), after the recovery of a dead run's work.
func readFileTarget(c *cli.Context) (fileTarget, error) {
	t, err := fileFormat(c)
	if err != nil {
		return fileTarget{}, err
	}
	if c.String(flagStore) != "" && !c.IsSet(flagOut) {
		return t, nil // no file: withStore checks the file flags
	}
	if err := credfile.Check(t.path, true); err != nil {
		return fileTarget{}, exitcode.UsageError(err)
	}
	if err := journal.CheckName(t.path); err != nil {
		return fileTarget{}, err
	}
	return t, nil
}

// checkFree fails (exit 2) if the file exists and --force was not given.
func (t fileTarget) checkFree() error {
	if t.path == "" {
		return nil
	}
	return exitcode.UsageError(credfile.Check(t.path, t.force))
}

func runCreate(c *cli.Context, io stdio) error {
	if c.Args().Present() {
		return exitcode.UsageError(fmt.Errorf("unexpected argument %q (the user name goes in --user)", c.Args().First()))
	}
	if c.IsSet(flagFromFile) {
		return runBatch(c, io)
	}
	in, target, format, err := readCreateInput(c, io)
	if err != nil {
		return err
	}
	if c.Bool(flagDryRun) {
		plan, err := provision.PlanCreate(in)
		if err != nil {
			return err
		}
		return target.printDryRun(io, format, "create", in.UserName, plan, "write the credentials file %s (%s, mode 0600)")
	}
	opts := awsOptions(c, io)
	client, err := iamClient(c.Context, opts)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(c)
	defer cancel()
	if target.store != nil {
		if err := target.store.bind(c.Context, c, io); err != nil {
			return err
		}
		if err := target.store.preflight(ctx, in.UserName); err != nil {
			return err
		}
	}
	if in.Verify, err = verifyHook(c, io, client, createdWith(c)); err != nil {
		return err
	}
	j, rec, err := openJournal(ctx, c, io, client, target)
	if err != nil {
		return err
	}
	err = afterRecovery(rec, createJournaled(ctx, io, client, j, rec, in, target, format))
	closeJournal(io, j, err)
	return err
}

// createJournaled runs create under the lock on its file, after the
// recovery rec of what a dead run left there.
func createJournaled(ctx context.Context, io stdio, client provision.IAMAPI, j *journal.Journal, rec journal.Recovery,
	in provision.CreateInput, target fileTarget, format string) error {
	if err := rec.RequireNoResume(target.name(), false); err != nil {
		return err
	}
	if rec.Completed(provision.FlowCreate, in.UserName) {
		if err := checkSameRequest(rec, *in.Request(), target); err != nil {
			j.KeepRecovered() // the dead run's own command still finishes
			return err
		}
		return printAlreadyDelivered(io, rec, target, in.Verify != nil, format)
	}
	if err := target.checkFree(); err != nil {
		return err
	}
	in.Journal, in.RunID = j, j.RunID()
	res, err := provision.Create(ctx, client, in)
	if err != nil {
		return err
	}
	printCreateSummary(io, res, target, in.FIPS)
	if format == outputJSON {
		return writeJSON(io, createOutput{CreateResult: res, File: target.path, Format: fileFormatName(target), Store: target.storeLocation()})
	}
	return nil
}

// printAlreadyDelivered reports a rerun whose work an earlier run, killed
// after delivering it, had done.
func printAlreadyDelivered(io stdio, rec journal.Recovery, target fileTarget, verify bool, format string) error {
	reportDelivered(io, rec, target, verify)
	if format == outputJSON {
		return writeJSON(io, createOutput{CreateResult: provision.CreateResult{UserName: rec.User, AccessKeyID: rec.KeyID, RunID: rec.Owner.RunID},
			File: target.path, Format: fileFormatName(target), Store: target.storeLocation()})
	}
	return nil
}

// createOutput is create's --output json result. It holds no secret.
type createOutput struct {
	provision.CreateResult
	File   string `json:"file,omitempty"`
	Format string `json:"format,omitempty"`
	// Store is where the credentials are stored, e.g. "secretsmanager:mail/smtp (eu-west-1)".
	Store string `json:"store,omitempty"`
}

// planOutput is what --dry-run prints: the steps a command would take.
type planOutput struct {
	DryRun  bool     `json:"dry_run"`
	Command string   `json:"command"`
	Steps   []string `json:"steps"`
	File    string   `json:"file,omitempty"`
	Format  string   `json:"format,omitempty"`
	Store   string   `json:"store,omitempty"`
}

// printDryRun ends command's dry run for user: it refuses a taken file,
// then prints plan and the delivery's steps: fileStep (formatted with the
// file and its format) when there is a file, then extra, then the store's.
func (t fileTarget) printDryRun(io stdio, format, command, user string, plan []string, fileStep string, extra ...string) error {
	if err := t.checkFree(); err != nil {
		return err
	}
	if t.path != "" {
		plan = append(plan, fmt.Sprintf(fileStep, t.path, t.format))
	}
	plan = append(plan, extra...)
	plan = append(plan, t.store.storePlan(user)...)
	return printPlan(io, format, planOutput{Command: command, Steps: plan, File: t.path, Format: fileFormatName(t), Store: t.storeSpec()})
}

// printPlan prints a dry run's plan: a step a line, or with --output json
// one JSON object.
func printPlan(io stdio, format string, p planOutput) error {
	p.DryRun = true
	if format == outputJSON {
		return writeJSON(io, p)
	}
	fmt.Fprintf(io.err, "dry run: nothing will be changed; sesmtp %s would:\n", p.Command)
	for _, step := range p.Steps {
		fmt.Fprintln(io.out, step)
	}
	return nil
}

func writeJSON(io stdio, v any) error {
	enc := json.NewEncoder(io.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func readCreateInput(c *cli.Context, io stdio) (provision.CreateInput, fileTarget, string, error) {
	var in provision.CreateInput
	format, err := outputFormat(c)
	if err != nil {
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
	doc, err := policy.Sender(senderOptions(c))
	if err != nil {
		return in, fileTarget{}, "", exitcode.UsageError(err)
	}
	tags, err := userTags(c)
	if err != nil {
		return in, fileTarget{}, "", err
	}
	user := c.String(flagUser)
	if !c.IsSet(flagUser) {
		user = io.now().UTC().Format(defaultUserLayout)
	}
	s, err := readStore(c, c.String(flagStore), regions, user)
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
	path, err := configuredPath(c, boundary)
	if err != nil {
		return in, fileTarget{}, "", err
	}
	in = provision.CreateInput{
		UserName: user, Path: path, Tags: tags, PermissionsBoundary: boundary,
		Policy: doc, PolicyName: c.String(flagPolicyName), Group: c.String(flagGroup), Regions: regions, FIPS: c.Bool(flagFIPS),
		AllowAnyGroup: c.Bool(flagAllowAnyGroup), Warn: func(msg string) { fmt.Fprintln(io.err, "warning: "+msg) },
		OwnTags: target.store.ownTags(nil), Delivery: target.delivery(),
	}
	return in, target, format, in.Validate()
}

func printCreateSummary(io stdio, res provision.CreateResult, target fileTarget, fips bool) {
	w := io.err
	fmt.Fprintf(w, "Created SMTP credentials for IAM user %s (%s)\n", res.UserName, res.UserARN)
	fmt.Fprintf(w, "  SMTP username: %s (the access key id)\n", res.AccessKeyID)
	var eps []string
	for _, r := range res.Regions {
		eps = append(eps, fmt.Sprintf("%s:%d", derive.Endpoint(r, fips), derive.PortSubmission))
	}
	fmt.Fprintf(w, "  SMTP endpoint: %s\n", strings.Join(eps, ", "))
	if res.Group != "" {
		printGroupAccess(w, res)
	} else {
		fmt.Fprintf(w, "  access:        inline policy %s\n", res.PolicyName)
	}
	switch target.path {
	case credfile.Stdout:
		fmt.Fprintln(w, "  credentials:   written to stdout: the only copy of the password")
	case "":
	default:
		only := ": the only copy of the password"
		if target.store != nil {
			only = ""
		}
		fmt.Fprintf(w, "  credentials:   %s (%s, mode 0600)%s\n", target.path, target.format, only)
	}
	printStored(io, target, res.UserName)
	if target.path != credfile.Stdout && target.path != "" {
		fmt.Fprintf(w, "Next: sesmtp verify --credentials %s\n", target.path)
	}
}
