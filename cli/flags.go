package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
)

// Flag names shared by several commands.
const (
	flagRegion             = "region"
	flagAllowUnknownRegion = "allow-unknown-region"
	flagProfile            = "profile"
	flagEndpointURL        = "endpoint-url"
	flagVerbose            = "verbose"
	flagTimeout            = "timeout"
	flagOutput             = "output"
	flagDryRun             = "dry-run"
	flagRoleARN            = "role-arn"
	flagMaxBackoff         = "max-backoff"
	flagPropagationWait    = "propagation-wait"
	flagExternalID         = "external-id"
	flagRoleSessionName    = "role-session-name"
	flagForce              = "force"
	flagUser               = "user"
)

// Values of --output.
const (
	outputText = "text"
	outputJSON = "json"
)

// awsFlags are the flags of every command that calls AWS.
func awsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagProfile, Usage: "AWS profile from ~/.aws/config", EnvVars: []string{"AWS_PROFILE"}, Category: "AWS"},
		&cli.StringFlag{Name: flagEndpointURL, Usage: "IAM endpoint URL (default: AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL, or IAM's own)", Category: "AWS"},
		&cli.BoolFlag{Name: flagVerbose, Usage: "log each AWS request (action, status, duration; never headers or bodies) to stderr", Category: "AWS"},
		&cli.DurationFlag{Name: flagTimeout, Value: 5 * time.Minute, Usage: "give up on AWS after this long (rolling back what was done)", Category: "AWS"},
		&cli.DurationFlag{Name: flagMaxBackoff, Usage: "longest pause between retries of an AWS call (default 20s)", Category: "AWS", Hidden: true},
		&cli.DurationFlag{Name: flagPropagationWait, Value: awscfg.DefaultPropagationWait, EnvVars: []string{"SESMTP_PROPAGATION_WAIT"}, Category: "AWS",
			Usage: "how long to wait for IAM to show what this run just created (IAM is eventually consistent); 0s: do not wait"},
		&cli.StringFlag{Name: flagRoleARN, Usage: "assume this IAM role (sts:AssumeRole) and work in its account", EnvVars: []string{"SESMTP_ROLE_ARN"}, Category: "AWS"},
		&cli.StringFlag{Name: flagExternalID, Usage: "external id the role's trust policy requires", Category: "AWS"},
		&cli.StringFlag{Name: flagRoleSessionName, Value: awscfg.DefaultRoleSessionName, Usage: "session name of the assumed role (shows in CloudTrail)", Category: "AWS"},
	}
}

// regionFlag is --region, repeatable and comma-separated.
func regionFlag(usage string) cli.Flag {
	return &cli.StringSliceFlag{Name: flagRegion, Usage: usage + " (repeatable, comma-separated; default: AWS_REGION or the profile's region)"}
}

func allowUnknownRegionFlag() cli.Flag {
	return &cli.BoolFlag{Name: flagAllowUnknownRegion, Usage: "accept a region shaped like one that is not in sesmtp's SES SMTP list (new regions)"}
}

func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: flagOutput, Value: outputText, Usage: "result format on stdout: text or json"}
}

// outputFormat returns --output, or a usage error for an unknown value.
func outputFormat(c *cli.Context) (string, error) {
	o := c.String(flagOutput)
	if o != outputText && o != outputJSON {
		return "", exitcode.UsageError(fmt.Errorf("--output must be text or json, not %q", o))
	}
	return o, nil
}

// awsOptions reads the AWS flags into awscfg.Options.
func awsOptions(c *cli.Context, io stdio) awscfg.Options {
	opts := awscfg.Options{Profile: c.String(flagProfile), EndpointURL: c.String(flagEndpointURL),
		RoleARN: c.String(flagRoleARN), ExternalID: c.String(flagExternalID), RoleSessionName: c.String(flagRoleSessionName),
		MaxBackoff: c.Duration(flagMaxBackoff), PropagationWait: propagationWait(c)}
	if rs := c.StringSlice(flagRegion); len(rs) > 0 {
		opts.Region = rs[0]
	}
	if c.Bool(flagVerbose) {
		opts.Logger = slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return opts
}

// propagationWait reads --propagation-wait as awscfg takes it (0: none).
func propagationWait(c *cli.Context) time.Duration {
	if d := c.Duration(flagPropagationWait); d > 0 {
		return d
	}
	return -1
}

// withTimeout applies --timeout to ctx.
func withTimeout(c *cli.Context) (context.Context, context.CancelFunc) {
	if d := c.Duration(flagTimeout); d > 0 {
		return context.WithTimeout(c.Context, d)
	}
	return context.WithCancel(c.Context)
}

// sesRegions returns the --region values, or the configured region when
// none was given, each checked against the SES SMTP region list.
func sesRegions(c *cli.Context, configured string) ([]string, error) {
	var regions []string
	for _, r := range c.StringSlice(flagRegion) {
		if r = strings.TrimSpace(r); r != "" && !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	if len(regions) == 0 && configured != "" {
		regions = []string{configured}
	}
	if len(regions) == 0 {
		return nil, exitcode.UsageError(errors.New("no region: pass --region REGION (the SES region the SMTP password is for) or set AWS_REGION"))
	}
	for _, r := range regions {
		if err := derive.CheckRegion(r, c.Bool(flagAllowUnknownRegion)); err != nil {
			return nil, exitcode.UsageError(err)
		}
	}
	return regions, nil
}

// configuredRegion returns the region from AWS_REGION or the profile, ""
// if none; it makes no network call.
func configuredRegion(c *cli.Context, io stdio) (string, error) {
	opts := awsOptions(c, io)
	opts.Region = ""
	cfg, err := awscfg.Load(c.Context, opts)
	if err != nil {
		return "", exitcode.UsageError(err)
	}
	return cfg.Region, nil
}

// iamClient loads the AWS configuration, makes sure it yields credentials
// (so that a missing or unusable identity is bad input, found before any
// IAM call) and returns an IAM client.
func iamClient(ctx context.Context, opts awscfg.Options) (*iam.Client, error) {
	cfg, err := awscfg.Load(ctx, opts)
	if err != nil {
		return nil, exitcode.UsageError(err)
	}
	if cfg.Credentials == nil {
		return nil, exitcode.UsageError(errors.New(noCredentialsHint))
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if opts.RoleARN != "" {
			return nil, exitcode.UsageError(fmt.Errorf("cannot assume role %s (sts:AssumeRole): %w; check the role's trust policy and --external-id", opts.RoleARN, err))
		}
		return nil, exitcode.UsageError(fmt.Errorf("%s (%w)", noCredentialsHint, err))
	}
	return awscfg.IAM(cfg, opts), nil
}

const noCredentialsHint = "no usable AWS credentials: set AWS_PROFILE or --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
