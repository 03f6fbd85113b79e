package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
)

const (
	flagBoundaryName = "boundary-name"
	flagBoundaryPath = "boundary-path"
	flagUpdate       = "update"
)

func setupCommand(io stdio) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: flagGroup, Usage: "also make this sending group (SES sending only), for create --group"},
		&cli.StringFlag{Name: flagUserPath, Value: policy.DefaultUserPath, Usage: "IAM path of the users operators create (only sesmtp's users may live there)"},
		&cli.StringSliceFlag{Name: flagAllowTag, Usage: "a tag key operators may put on new users (create --tag KEY=VALUE), besides sesmtp's own (repeatable)"},
		&cli.StringFlag{Name: flagBoundaryName, Value: policy.DefaultBoundaryName, Usage: "name of the boundary policy"},
		&cli.StringFlag{Name: flagBoundaryPath, Value: policy.DefaultBoundaryPath, Usage: "IAM path of the boundary policy"},
		&cli.StringFlag{Name: flagPolicyName, Value: provision.DefaultPolicyName, Usage: "name of the sending group's inline policy"},
		&cli.BoolFlag{Name: flagUpdate, Usage: "replace a boundary (or the group's sesmtp policy) whose document differs, instead of refusing"},
		&cli.BoolFlag{Name: flagDryRun, Usage: "read what exists, print what would change, and change nothing"},
		outputFlag(),
	}
	flags = append(flags, senderPolicyFlags()...)
	return &cli.Command{
		Name:      "setup",
		Usage:     "once per account, as an admin: the SES-only permissions boundary, the sending group, and the operator policy",
		UsageText: "sesmtp setup [--group NAME] [--from-address ADDR]... [--identity-arn ARN]... [--dry-run] [--output json] [options]",
		Description: `Makes an account ready for operators who may hand out SES sending and nothing more
(AWS's permissions-boundary delegation):

 1. creates the customer managed policy ` + policy.DefaultBoundaryPath + policy.DefaultBoundaryName + `: SES sending only
    (ses:SendRawEmail; --from-address and --identity-arn narrow it for every SMTP user);
 2. with --group, creates the sending group with that policy (an existing group is used
    only if it allows SES sending at most);
 3. checks that no user under --user-path lacks the boundary;
 4. prints the operator policy that goes with them (JSON on stdout; with --output json,
    an object with the ARNs, what was done, and the policy).

Grant that policy to your operators and set SESMTP_PERMISSIONS_BOUNDARY (or
sesmtp_permissions_boundary in their ~/.aws/config profile) to the boundary's ARN: their
'sesmtp create' then makes bounded users under ` + policy.DefaultUserPath + `.

Setup is idempotent: run it again and it checks what exists and does only what is
missing, so a run that died part way is finished by the next. It never changes a
boundary or group policy whose document differs from its own unless --update, and
then adds a new default version (IAM keeps five; the oldest other one goes).

The admin running it needs: ` + strings.Join(policy.SetupActions(), ", ") + `.

EXAMPLES:
   sesmtp setup --dry-run
   sesmtp setup --group ses-senders > sesmtp-operator.json
   sesmtp setup --from-address '*@mail.example.com' --update --output json`,
		Flags:  append(flags, awsFlags()...),
		Action: func(c *cli.Context) error { return runSetup(c, io) },
	}
}

func runSetup(c *cli.Context, io stdio) error {
	if c.Args().Present() {
		return exitcode.UsageError(fmt.Errorf("unexpected argument %q", c.Args().First()))
	}
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	in := provision.SetupInput{
		BoundaryName: c.String(flagBoundaryName), BoundaryPath: c.String(flagBoundaryPath), Sender: senderOptions(c),
		Group: c.String(flagGroup), GroupPolicyName: c.String(flagPolicyName), UserPath: c.String(flagUserPath),
		TagKeys: c.StringSlice(flagAllowTag), Update: c.Bool(flagUpdate), DryRun: c.Bool(flagDryRun),
		Progress: func(line string) { fmt.Fprintln(io.err, line) },
	}
	if err := in.Validate(); err != nil {
		return err
	}
	client, err := iamClient(c.Context, awsOptions(c, io))
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(c)
	defer cancel()
	res, err := provision.Setup(ctx, client, in)
	if err != nil {
		return err
	}
	if format == outputJSON {
		return writeJSON(io, res)
	}
	printSetup(io, res)
	return nil
}

// printSetup writes the plan (dry run) or the operator policy on stdout,
// and what was found and what to do next on stderr.
func printSetup(io stdio, res provision.SetupResult) {
	w := io.err
	if res.DryRun {
		fmt.Fprintln(w, "dry run: nothing was changed; sesmtp setup would:")
		if len(res.Plan) == 0 {
			fmt.Fprintln(w, "  change nothing: everything is in place")
		}
		for _, step := range res.Plan {
			fmt.Fprintln(io.out, step)
		}
	}
	if res.BoundaryARN != "" {
		fmt.Fprintf(w, "boundary: %s (%s)\n", res.BoundaryARN, res.BoundaryStatus)
	}
	if res.Group != "" {
		fmt.Fprintf(w, "group:    %s (%s)\n", res.Group, res.GroupStatus)
	}
	if len(res.UnboundedUsers) > 0 {
		fmt.Fprintf(w, "warning: users under %s without the boundary: %s. Operators holding the policy may create keys for "+
			"those tagged %s=%s there; give each the boundary (aws iam put-user-permissions-boundary --user-name NAME "+
			"--permissions-boundary %s) or move it out (aws iam update-user --user-name NAME --new-path /). See docs/security.md.\n",
			res.UserPath, strings.Join(res.UnboundedUsers, ", "), policy.ManagedByTag, policy.ManagedByValue, boundaryOrPlaceholder(res))
	}
	if res.DryRun || res.OperatorPolicy == nil {
		return
	}
	fmt.Fprint(io.out, res.OperatorPolicy.Indented())
	fmt.Fprintf(w, `Next: grant your operators the policy above (it is on stdout), e.g.
   aws iam create-policy --policy-name SesmtpOperator --policy-document file://sesmtp-operator.json
   aws iam attach-role-policy --role-name ROLE --policy-arn arn:aws:iam::ACCOUNT:policy/SesmtpOperator
and have them set SESMTP_PERMISSIONS_BOUNDARY=%s
(or sesmtp_permissions_boundary in their ~/.aws/config profile); their users go under %s.
`, res.BoundaryARN, res.UserPath)
}

func boundaryOrPlaceholder(res provision.SetupResult) string {
	if res.BoundaryARN == "" {
		return "BOUNDARY_ARN"
	}
	return res.BoundaryARN
}
