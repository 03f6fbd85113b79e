package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
)

const (
	flagStdin    = "stdin"
	flagLegacyV2 = "legacy-v2"
	envSecretKey = "AWS_SECRET_ACCESS_KEY"
	// maxSecretLine bounds what --stdin reads: a secret is 40 characters.
	maxSecretLine = 4096
)

const v2Warning = "warning: this is a legacy version 2 SMTP password; SES has rejected them since March 2021 " +
	"(\"535 Signature Version 2 is deprecated\"). Use it only to reproduce an old setup; omit --legacy-v2 for a working password."

func deriveCommand(io stdio) *cli.Command {
	return &cli.Command{
		Name:      "derive",
		Usage:     "print the SMTP password for an existing secret access key",
		UsageText: "AWS_SECRET_ACCESS_KEY=... sesmtp derive [--region R[,R...]] [--output json]\n   sesmtp derive --stdin --region R < secret.txt",
		Description: `Derives the Amazon SES SMTP password from an IAM secret access key, locally,
with AWS's published algorithm (SigV4, "version 4"). The password differs per region:
use the region of the SMTP endpoint the password is for. The SMTP user name is the
access key id, unchanged.

The secret is read from AWS_SECRET_ACCESS_KEY or, with --stdin, from one line of
standard input. There is deliberately no flag that takes the secret: arguments are
visible to every user in 'ps' and stay in shell history.

One region prints just the password, so $(sesmtp derive ...) works; several print
one "REGION PASSWORD" line each.

EXAMPLES:
   AWS_SECRET_ACCESS_KEY="$secret" sesmtp derive --region eu-west-1
   pass show ses/secret | sesmtp derive --stdin --region us-east-1,eu-west-1
   sesmtp derive --stdin --region eu-west-1 --output json < secret.txt`,
		Flags: []cli.Flag{
			regionFlag("SES region the password is for (not needed with --legacy-v2)"),
			&cli.BoolFlag{Name: flagStdin, Usage: "read the secret access key from one line of stdin instead of " + envSecretKey},
			&cli.BoolFlag{Name: flagLegacyV2, Usage: "derive the legacy version 2 password (SES rejects it since 2021; for old setups only)"},
			&cli.BoolFlag{Name: flagForce, Usage: "derive from a secret that is not 40 characters long"},
			allowUnknownRegionFlag(),
			fipsFlag(),
			offlineFlag(),
			outputFlag(),
			&cli.StringFlag{Name: flagProfile, Usage: "AWS profile whose region is the default", EnvVars: []string{"AWS_PROFILE"}},
		},
		Action: func(c *cli.Context) error { return runDerive(c, io) },
	}
}

// derivedPassword is one line of derive's output.
type derivedPassword struct {
	Region   string `json:"region,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Password string `json:"password"`
}

func runDerive(c *cli.Context, io stdio) error {
	if c.Args().Present() {
		return exitcode.UsageError(errors.New("derive takes no arguments: the secret comes from " + envSecretKey + " or --stdin, never the command line"))
	}
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	regions, err := deriveRegions(c, io)
	if err != nil {
		return err
	}
	secret, err := readSecret(c, io)
	if err != nil {
		return err
	}
	if c.Bool(flagLegacyV2) {
		fmt.Fprintln(io.err, v2Warning)
		if len(regions) == 0 {
			return printPasswords(io, format, []derivedPassword{{Password: derive.PasswordV2(secret)}})
		}
	}
	var out []derivedPassword
	for _, r := range regions {
		p := derive.PasswordV4(secret, r)
		if c.Bool(flagLegacyV2) {
			p = derive.PasswordV2(secret)
		}
		out = append(out, derivedPassword{Region: r, Endpoint: derive.Endpoint(r, c.Bool(flagFIPS)), Password: p})
	}
	return printPasswords(io, format, out)
}

// deriveRegions returns the regions to derive for: --region or the
// configured region, checked; none for --legacy-v2 without --region, as
// v2 passwords do not depend on the region.
func deriveRegions(c *cli.Context, io stdio) ([]string, error) {
	if len(c.StringSlice(flagRegion)) > 0 {
		return smtpRegions(c, io, "")
	}
	if c.Bool(flagLegacyV2) {
		return nil, nil
	}
	configured, err := configuredRegion(c, io)
	if err != nil {
		return nil, err
	}
	return smtpRegions(c, io, configured)
}

func printPasswords(io stdio, format string, ps []derivedPassword) error {
	switch {
	case format == outputJSON:
		enc := json.NewEncoder(io.out)
		enc.SetIndent("", "  ")
		return enc.Encode(ps)
	case len(ps) == 1:
		_, err := fmt.Fprintln(io.out, ps[0].Password)
		return err
	default:
		for _, p := range ps {
			if _, err := fmt.Fprintf(io.out, "%s %s\n", p.Region, p.Password); err != nil {
				return err
			}
		}
		return nil
	}
}

// readSecret returns the secret from --stdin or the environment, checked.
func readSecret(c *cli.Context, io stdio) (string, error) {
	var secret string
	switch {
	case c.Bool(flagStdin):
		r := bufio.NewReaderSize(io.in, maxSecretLine)
		line, err := r.ReadSlice('\n')
		if err != nil && len(line) == 0 {
			return "", exitcode.UsageError(fmt.Errorf("--stdin: no secret access key on standard input (%v)", err))
		}
		if err == bufio.ErrBufferFull {
			return "", exitcode.UsageError(fmt.Errorf("--stdin: the first line is longer than %d bytes; a secret access key is 40 characters", maxSecretLine))
		}
		secret = strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
	default:
		v, ok := os.LookupEnv(envSecretKey)
		if !ok {
			return "", exitcode.UsageError(errors.New("no secret access key: set " + envSecretKey +
				" or pipe it to --stdin (it is never taken as an argument, where ps and shell history would show it)"))
		}
		secret = v
	}
	if err := derive.CheckSecret(secret, c.Bool(flagForce)); err != nil {
		return "", exitcode.UsageError(err)
	}
	return secret, nil
}
