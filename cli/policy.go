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
   operator  the least-privilege policy a person or role needs to run sesmtp.

EXAMPLES:
   sesmtp policy sender --from-address 'noreply@example.com'
   sesmtp policy operator > operator.json
   aws iam put-role-policy --role-name mail-admin --policy-name sesmtp \
       --policy-document "$(sesmtp policy operator --compact)"`,
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
			{
				Name:      "operator",
				Usage:     "the least-privilege policy an operator needs to run sesmtp",
				UsageText: "sesmtp policy operator [--command NAME]...",
				Description: "Every IAM action sesmtp calls, and no other. --command limits it to what\n" +
					"the named commands need (" + strings.Join(policy.Commands(), ", ") + ").",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: flagCommand, Usage: "only the actions these commands need"},
					compact,
				},
				Action: func(c *cli.Context) error {
					cmds := c.StringSlice(flagCommand)
					for _, name := range cmds {
						if !slices.Contains(policy.Commands(), name) {
							return exitcode.UsageError(fmt.Errorf("--command %q: commands that call IAM are %s", name, strings.Join(policy.Commands(), ", ")))
						}
					}
					return printPolicy(c, io, policy.Operator(cmds...))
				},
			},
		},
	}
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
