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
	"github.com/aws/smithy-go"
	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/verify"
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
	flagAnyUser            = "any-user"
	flagFIPS               = "fips"
	flagOffline            = "offline"
	envOffline             = "SESMTP_OFFLINE"
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

func fipsFlag() cli.Flag {
	return &cli.BoolFlag{Name: flagFIPS, Usage: "use the FIPS SMTP endpoints (email-smtp-fips.REGION...), which AWS documents in " +
		strings.Join(derive.FIPSRegions(), ", ")}
}

func offlineFlag() cli.Flag {
	return &cli.BoolFlag{Name: flagOffline, EnvVars: []string{envOffline},
		Usage: "skip the check that each SES SMTP host name resolves (DNS); the check only ever warns"}
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

// withTimeout applies --timeout to ctx, with a cause that lets errors say
// it was the timeout (and not Ctrl-C) that stopped a call.
func withTimeout(c *cli.Context) (context.Context, context.CancelFunc) {
	if d := c.Duration(flagTimeout); d > 0 {
		return context.WithTimeoutCause(c.Context, d, &provision.TimeoutError{After: d})
	}
	return context.WithCancel(c.Context)
}

// smtpRegions is sesRegions, then a warning for each region whose SMTP
// host does not resolve (unless --offline).
func smtpRegions(c *cli.Context, io stdio, configured string) ([]string, error) {
	regions, err := sesRegions(c, configured)
	if err != nil {
		return nil, err
	}
	var hosts []string
	for _, r := range regions {
		hosts = append(hosts, derive.Endpoint(r, c.Bool(flagFIPS)))
	}
	warnUnresolved(c, io, hosts...)
	return regions, nil
}

// warnUnresolved warns about each SES SMTP host that DNS says does not
// exist. It never fails: without a network it says nothing, and
// --offline skips it.
func warnUnresolved(c *cli.Context, io stdio, hosts ...string) {
	if c.Bool(flagOffline) || io.resolver == nil {
		return
	}
	for _, h := range hosts {
		if _, _, ses := derive.ParseEndpoint(h); !ses {
			continue
		}
		if err := verify.CheckResolves(c.Context, io.resolver, h); err != nil {
			fmt.Fprintf(io.err, "warning: %v (--offline skips this check)\n", err)
		}
	}
}

// sesRegions returns the --region values, or the configured region when
// none was given, each checked against the SES SMTP region list (and its
// FIPS hosts with --fips), all in one partition.
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
	if err := checkRegions(c, regions); err != nil {
		return nil, err
	}
	return regions, nil
}

// checkRegions checks regions against the SES SMTP region list (and its
// FIPS hosts with --fips), and that they are all in one partition.
func checkRegions(c *cli.Context, regions []string) error {
	allowUnknown := c.Bool(flagAllowUnknownRegion)
	for _, r := range regions {
		if err := derive.CheckRegion(r, allowUnknown); err != nil {
			return exitcode.UsageError(err)
		}
		if c.Bool(flagFIPS) {
			if err := derive.CheckFIPS(r, allowUnknown); err != nil {
				return exitcode.UsageError(err)
			}
		}
	}
	if err := derive.CheckSamePartition(regions); err != nil {
		return exitcode.UsageError(err)
	}
	return nil
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
			return nil, assumeRoleError(opts.RoleARN, err)
		}
		return nil, exitcode.UsageError(fmt.Errorf("%s (%w)", noCredentialsHint, err))
	}
	return awscfg.IAM(cfg, opts), nil
}

// assumeRoleError says why --role-arn could not be assumed: STS's refusal
// (the trust policy, --external-id, a role that does not exist) is bad
// input, exit 2; no answer at all (network, timeout) is a failure, exit 1.
// Neither changed anything.
func assumeRoleError(role string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return exitcode.UsageError(fmt.Errorf("cannot assume role %s (sts:AssumeRole): %w; check the role's trust policy and --external-id", role, err))
	}
	return &exitcode.Error{Code: exitcode.Failed, Err: fmt.Errorf("cannot assume role %s: STS did not answer (%w); nothing was changed: "+
		"check the network or AWS_ENDPOINT_URL_STS, then run the command again", role, err)}
}

const noCredentialsHint = "no usable AWS credentials: set AWS_PROFILE or --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"

// anyUserFlag is --any-user, the override of delete and rotate for a user
// that holds more than SMTP credentials.
func anyUserFlag(usage string) cli.Flag {
	return &cli.BoolFlag{Name: flagAnyUser, Usage: usage}
}

// anyUser reads --any-user and, for delete, its old name --force, with a
// note that the name changed.
func anyUser(c *cli.Context, io stdio) bool {
	if c.Command.Name == "delete" && c.Bool(flagForce) {
		fmt.Fprintf(io.err, "note: delete's --%s is now --%s (the same override as rotate's)\n", flagForce, flagAnyUser)
		return true
	}
	return c.Bool(flagAnyUser)
}

// credentialRegions returns the regions create, rotate and a batch derive
// passwords for: --region, or the configured region, each checked, and no
// more than format can hold (console-csv holds one).
func credentialRegions(c *cli.Context, io stdio, format credfile.Format) ([]string, error) {
	configured := ""
	if len(c.StringSlice(flagRegion)) == 0 {
		var err error
		if configured, err = configuredRegion(c, io); err != nil {
			return nil, err
		}
	}
	regions, err := smtpRegions(c, io, configured)
	if err != nil {
		return nil, err
	}
	if err := credfile.CheckRegions(format, regions); err != nil {
		return nil, exitcode.UsageError(err)
	}
	return regions, nil
}

// userTags reads the repeatable --tag KEY=VALUE.
func userTags(c *cli.Context) ([]provision.Tag, error) {
	var tags []provision.Tag
	for _, s := range c.StringSlice(flagTag) {
		t, err := provision.ParseTag(s)
		if err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	return tags, nil
}
