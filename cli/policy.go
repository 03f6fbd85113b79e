package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
)

const (
	flagFromAddress = "from-address"
	flagIdentityARN = "identity-arn"
	flagCompact     = "compact"
	flagCommand     = "command"
)

func policyCommand(io stdio) *cli.Command {
	compact := &cli.BoolFlag{Name: flagCompact, Usage: "print the policy on one line"}
	return &cli.Command{
		Name:  "policy",
		Usage: "print the IAM policies sesmtp's users and operators need",
		Description: `Prints IAM policy documents as JSON on stdout:

   sender    the inline policy each SMTP user gets (ses:SendRawEmail), as the SES
             console attaches it, optionally narrowed to From addresses or identities.
   boundary  the permissions boundary of SMTP users: SES sending only. 'sesmtp setup'
             creates it in your account; you rarely need to print it.
   operator  the policy a person or role needs to run sesmtp. With --boundary-arn (what
             'sesmtp setup' prints), its holder can create only users that carry the
             boundary: SES sending, never more, for anyone, themselves included.
             Without it, the broad fallback: every IAM write on "*", admin-equivalent.

EXAMPLES:
   sesmtp setup --group ses-senders > sesmtp-operator.json      # once per account, as an admin
   sesmtp policy operator --boundary-arn arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary \
       --group ses-senders > sesmtp-operator.json
   sesmtp policy sender --from-address 'noreply@example.com'`,
		Subcommands: []*cli.Command{
			{
				Name:      "sender",
				Usage:     "the policy an SES SMTP user needs",
				UsageText: "sesmtp policy sender [--from-address ADDR]... [--identity-arn ARN]...",
				Description: `The policy sesmtp create puts on each SMTP user: Allow ses:SendRawEmail.
--from-address adds a StringLike condition on ses:FromAddress ("*" wildcards work);
--identity-arn replaces the "*" resource with those SES identities.`,
				Flags: append(senderPolicyFlags(), compact),
				Action: func(c *cli.Context) error {
					doc, err := policy.Sender(senderOptions(c))
					if err != nil {
						return exitcode.UsageError(err)
					}
					return printPolicy(c, io, doc)
				},
			},
			boundaryPolicyCommand(io, compact),
			operatorPolicyCommand(io, compact),
		},
	}
}

func boundaryPolicyCommand(io stdio, compact cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "boundary",
		Usage:     "the permissions boundary of SMTP users: SES sending only",
		UsageText: "sesmtp policy boundary [--from-address ADDR]... [--identity-arn ARN]...",
		Description: `The managed policy 'sesmtp setup' creates (` + policy.DefaultBoundaryPath + policy.DefaultBoundaryName + `) and sets as the
permissions boundary of every user a bounded operator creates: whatever policies such a
user is given later, it can send through SES and do nothing else. --from-address and
--identity-arn narrow it as for 'policy sender', for every SMTP user of the account.

EXAMPLES:
   sesmtp policy boundary
   aws iam create-policy --policy-name SesmtpSenderBoundary --path /sesmtp/ \
       --policy-document "$(sesmtp policy boundary --compact)"     # what 'sesmtp setup' does`,
		Flags: append(senderPolicyFlags(), compact),
		Action: func(c *cli.Context) error {
			doc, err := policy.Boundary(senderOptions(c))
			if err != nil {
				return exitcode.UsageError(err)
			}
			return printPolicy(c, io, doc)
		},
	}
}

const (
	flagBoundaryARN = "boundary-arn"
	flagUserPath    = "user-path"
	flagAllowTag    = "allow-tag"
)

func operatorPolicyCommand(io stdio, compact cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "operator",
		Usage:     "the policy an operator needs to run sesmtp (bounded with --boundary-arn)",
		UsageText: "sesmtp policy operator --boundary-arn ARN [--user-path PATH] [--group NAME] [--allow-tag KEY]...\n   sesmtp policy operator [--command NAME]...   (the broad fallback: admin-equivalent)",
		Description: `With --boundary-arn (printed by 'sesmtp setup'): AWS's permissions-boundary delegation.
Its holder may create users only under --user-path (default ` + policy.DefaultUserPath + `), only with that
boundary and sesmtp's tags; may change policies, keys and tags only of users that carry
the boundary or sesmtp's tag under that path; may add users only to --group (the sending
group 'sesmtp setup --group' made); may never remove or replace a boundary or change the
boundary policy. Reads (Get*, List*) are allowed everywhere. See docs/security.md.

--allow-tag KEY lets operators tag new users KEY=VALUE (create --tag) besides
sesmtp's own sesmtp:* tags; choose keys no other policy of the account trusts.

--store-prefix adds what --store needs: secretsmanager:PREFIX/ allows Secrets Manager
secrets whose names start with PREFIX/, ssm:/PATH/ SSM parameters under the path; both
created only with sesmtp's tags, and written, read or deleted only while they carry
sesmtp:managed-by=sesmtp. Operators may tag anything under a prefix so: every item under
a --store-prefix is readable, writable and deletable by operators, so give prefixes that
hold only sesmtp's items (secretsmanager:smtp/, ssm:/smtp/), never an application's
own (prod/, /mediawiki/); a warning on stderr says so. --kms-key-id adds the customer
managed key by its key ARN (an alias names no key in a policy), usable only through
Secrets Manager and SSM (kms:ViaService). See docs/store.md.

Without --boundary-arn: the broad policy, every IAM action sesmtp calls on every resource
(--command narrows it to those commands: ` + strings.Join(policy.Commands(), ", ") + `). Whoever holds it can
give any user, themselves included, any permission: it is admin-equivalent, and a
warning says so.

EXAMPLES:
   sesmtp policy operator --boundary-arn arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary \
       --group ses-senders --allow-tag team > sesmtp-operator.json
   aws iam create-policy --policy-name SesmtpOperator --policy-document file://sesmtp-operator.json
   aws iam attach-role-policy --role-name mail-admin --policy-arn arn:aws:iam::123456789012:policy/SesmtpOperator
   sesmtp policy operator --boundary-arn arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary \
       --store-prefix secretsmanager:smtp/ --store-prefix ssm:/smtp/ \
       --kms-key-id arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
   aws kms describe-key --key-id alias/smtp --query KeyMetadata.Arn --output text   # the key ARN behind an alias`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: flagBoundaryARN, Usage: "the boundary policy 'sesmtp setup' created: print the bounded policy"},
			&cli.StringFlag{Name: flagUserPath, Usage: "with --boundary-arn: the IAM path of sesmtp's users (default " + policy.DefaultUserPath + ")"},
			&cli.StringFlag{Name: flagGroup, Usage: "with --boundary-arn: the sending group operators may add users to, spelt as IAM spells it (policy ARNs are case-sensitive; setup reads it from IAM)"},
			&cli.StringSliceFlag{Name: flagAllowTag, Usage: "with --boundary-arn: a tag key operators may put on new users (repeatable)"},
			&cli.StringSliceFlag{Name: flagCommand, Usage: "without --boundary-arn: only the actions these commands need"},
			compact,
		}, operatorStoreFlags()...),
		Action: func(c *cli.Context) error { return runOperatorPolicy(c, io) },
	}
}

func runOperatorPolicy(c *cli.Context, io stdio) error {
	if !c.IsSet(flagBoundaryARN) {
		for _, f := range []string{flagUserPath, flagGroup, flagAllowTag} {
			if c.IsSet(f) {
				return exitcode.UsageError(fmt.Errorf("--%s goes with --boundary-arn: it shapes the bounded policy (the broad one has no such limits)", f))
			}
		}
		return printBroadPolicy(c, io)
	}
	if c.IsSet(flagCommand) {
		return exitcode.UsageError(errors.New("--command narrows the broad policy; the bounded policy (--boundary-arn) covers every command " +
			"and is safe to grant whole: leave out --command"))
	}
	doc, err := policy.OperatorWithBoundary(policy.BoundedOptions{BoundaryARN: c.String(flagBoundaryARN), UserPath: c.String(flagUserPath),
		Group: c.String(flagGroup), TagKeys: c.StringSlice(flagAllowTag)})
	if err != nil {
		return exitcode.UsageError(err)
	}
	if doc, err = withStorePrefixes(c, doc, c.String(flagBoundaryARN)); err != nil {
		return err
	}
	if err := printPolicy(c, io, doc); err != nil {
		return err
	}
	warnStorePrefixes(c, io)
	return nil
}

// broadPolicyWarning goes to stderr with the broad operator policy.
const broadPolicyWarning = `warning: this operator policy is admin-equivalent: it allows iam:PutUserPolicy, iam:CreateAccessKey and
every other IAM write sesmtp calls on every user, so whoever holds it can give any user, themselves included,
any permission. Grant the bounded policy instead: an admin runs 'sesmtp setup' once (it creates the SES-only
permissions boundary and prints the policy), or 'sesmtp policy operator --boundary-arn ARN'. See docs/security.md.`

func printBroadPolicy(c *cli.Context, io stdio) error {
	cmds := c.StringSlice(flagCommand)
	for _, name := range cmds {
		if !slices.Contains(policy.Commands(), name) {
			return exitcode.UsageError(fmt.Errorf("--command %q: commands that call IAM are %s", name, strings.Join(policy.Commands(), ", ")))
		}
	}
	doc, err := withStorePrefixes(c, policy.Operator(cmds...), "")
	if err != nil {
		return err
	}
	if err := printPolicy(c, io, doc); err != nil {
		return err
	}
	warnStorePrefixes(c, io)
	if len(cmds) == 0 || slices.ContainsFunc(cmds, func(c string) bool { return c != "list" }) {
		fmt.Fprintln(io.err, broadPolicyWarning)
	}
	return nil
}

func senderPolicyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: flagFromAddress, Usage: "allow sending only From these addresses (repeatable; * wildcards)"},
		&cli.StringSliceFlag{Name: flagIdentityARN, Usage: "allow sending only through these SES identity ARNs (repeatable)"},
	}
}

func senderOptions(c *cli.Context) policy.SenderOptions {
	return policy.SenderOptions{FromAddresses: c.StringSlice(flagFromAddress), IdentityARNs: c.StringSlice(flagIdentityARN)}
}

func printPolicy(c *cli.Context, io stdio, doc policy.Document) error {
	if c.Args().Present() {
		return exitcode.UsageError(errors.New("unexpected argument " + c.Args().First()))
	}
	out := doc.Indented()
	if c.Bool(flagCompact) {
		out = doc.JSON() + "\n"
	}
	_, err := fmt.Fprint(io.out, out)
	return err
}
