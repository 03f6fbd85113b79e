// Package awscfg holds the one AWS configuration loader and the IAM client.
//
// It is sesmtp's one AWS configuration loader: profile, region,
// endpoint override, retries and request logging, the way aws-cli users
// expect them (flags first, then the AWS_* environment, then the profile).
package awscfg

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// DefaultIAMRegion is the region the IAM client signs for when none is
// configured: IAM is a global service of the aws partition, served from us-east-1.
const DefaultIAMRegion = "us-east-1"

// Options are the AWS settings a command was given.
type Options struct {
	// Profile is the shared-config profile ("" for AWS_PROFILE or default).
	Profile string
	// Region overrides AWS_REGION and the profile's region when set.
	Region string
	// EndpointURL overrides the IAM endpoint (AWS_ENDPOINT_URL_IAM and
	// AWS_ENDPOINT_URL are honoured by the SDK when this is empty).
	EndpointURL string
	// Adaptive paces the client's attempts once IAM throttles it: on a
	// Throttling answer it slows to just below the rate IAM measurably
	// accepted, then probes upward gently (see pacer); for batch runs.
	Adaptive bool
	// MaxAttempts caps attempts per call (0: the SDK default, 3).
	MaxAttempts int
	// MaxBackoff caps the pause between retries (0: the SDK default, 20 s).
	MaxBackoff time.Duration
	// RoleARN, if set, is assumed with sts:AssumeRole (stscreds), so one
	// operator identity can work in many accounts. ExternalID and
	// RoleSessionName go with it (default session name "sesmtp").
	RoleARN, ExternalID, RoleSessionName string
	// Logger receives one debug line per HTTP attempt (no headers, no
	// bodies), the SDK's retry notices and the waits for IAM to propagate.
	// Nil: no logging.
	Logger *slog.Logger
	// PropagationWait bounds how long a call about an entity this client
	// just created is retried while IAM answers NoSuchEntity or lists it
	// not yet (0: DefaultPropagationWait; negative: no waiting).
	PropagationWait time.Duration
}

// Load returns the AWS configuration for opts. It makes no network call.
func Load(ctx context.Context, opts Options) (aws.Config, error) {
	loaders := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return newRetryer(opts) }),
	}
	if opts.Profile != "" {
		loaders = append(loaders, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.Region != "" {
		loaders = append(loaders, config.WithRegion(opts.Region))
	}
	if opts.Logger != nil {
		loaders = append(loaders,
			config.WithLogger(slogAdapter{opts.Logger}),
			config.WithClientLogMode(aws.LogRetries))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration (profile %q): %w", opts.Profile, err)
	}
	// Every client made from cfg (IAM, STS) reads at most MaxAnswerBytes of an answer.
	cfg.APIOptions = append(cfg.APIOptions, limitAnswers(MaxAnswerBytes))
	if opts.RoleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(assumeRole(cfg, opts))
	}
	return cfg, nil
}

// DefaultRoleSessionName names sessions of assumed roles in CloudTrail.
const DefaultRoleSessionName = "sesmtp"

// assumeRole returns a provider of the role's temporary credentials, got
// with the configuration's own credentials. The STS endpoint follows
// AWS_ENDPOINT_URL_STS like any other.
func assumeRole(cfg aws.Config, opts Options) aws.CredentialsProvider {
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		if o.Region == "" {
			o.Region = DefaultIAMRegion
		}
	})
	return stscreds.NewAssumeRoleProvider(client, opts.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = opts.RoleSessionName
		if o.RoleSessionName == "" {
			o.RoleSessionName = DefaultRoleSessionName
		}
		if opts.ExternalID != "" {
			o.ExternalID = aws.String(opts.ExternalID)
		}
	})
}

// retryConcurrentModification retries IAM's ConcurrentModification (HTTP
// 409: "multiple requests to change this object were submitted
// simultaneously. Wait a few minutes and submit your request again", IAM
// API reference), which the SDK's standard retryer does not: the request
// was rejected, so sending it again is safe.
var retryConcurrentModification = retry.RetryableErrorCode{Codes: map[string]struct{}{"ConcurrentModification": {}}}

func newRetryer(opts Options) aws.Retryer {
	standard := func(so *retry.StandardOptions) {
		so.Retryables = append(so.Retryables, retryConcurrentModification)
		if opts.MaxAttempts > 0 {
			so.MaxAttempts = opts.MaxAttempts
		}
		if opts.MaxBackoff > 0 {
			so.MaxBackoff = opts.MaxBackoff
			so.Backoff = retry.NewExponentialJitterBackoff(opts.MaxBackoff)
		}
	}
	if opts.Adaptive {
		return newPacedRetryer(retry.NewStandard(standard))
	}
	return retry.NewStandard(standard)
}

// IAM returns an IAM client for cfg, honouring opts.EndpointURL and
// logging each attempt to opts.Logger.
func IAM(cfg aws.Config, opts Options) *iam.Client {
	return iam.NewFromConfig(cfg, func(o *iam.Options) {
		if o.Region == "" {
			o.Region = DefaultIAMRegion
		}
		if opts.EndpointURL != "" {
			o.BaseEndpoint = aws.String(opts.EndpointURL)
		}
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(withStopCause(), middleware.Before)
		})
		if opts.Logger != nil {
			logger := opts.Logger
			o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
				return s.Deserialize.Add(logAttempts(logger), middleware.After)
			})
		}
		if p := newPropagation(opts); p != nil {
			o.APIOptions = append(o.APIOptions, p.addTo)
		}
	})
}

// withStopCause adds, to a call its context cut short, the context's cause
// (context.Cause: e.g. the --timeout that expired), which the SDK's error
// leaves out, so that callers can say why the call stopped.
func withStopCause() middleware.InitializeMiddleware {
	return middleware.InitializeMiddlewareFunc("sesmtpStopCause", func(
		ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
	) (middleware.InitializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleInitialize(ctx, in)
		if err != nil && ctx.Err() != nil {
			if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
				err = fmt.Errorf("%w (%w)", err, cause)
			}
		}
		return out, md, err
	})
}

// logAttempts logs the operation, URL, status and duration of each HTTP
// attempt. It never logs headers or bodies: the Authorization header and
// CreateAccessKey's response must not reach a log.
func logAttempts(logger *slog.Logger) middleware.DeserializeMiddleware {
	return middleware.DeserializeMiddlewareFunc("sesmtpLogAttempts", func(
		ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler,
	) (middleware.DeserializeOutput, middleware.Metadata, error) {
		start := time.Now()
		out, md, err := next.HandleDeserialize(ctx, in)
		attrs := []any{"operation", awsmiddleware.GetOperationName(ctx), "duration", time.Since(start).Round(time.Millisecond)}
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			attrs = append(attrs, "url", req.URL.Scheme+"://"+req.URL.Host+req.URL.Path)
		}
		if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
			attrs = append(attrs, "status", resp.StatusCode)
		}
		if err != nil {
			attrs = append(attrs, "error", err.Error())
		}
		logger.DebugContext(ctx, "aws request", attrs...)
		return out, md, err
	})
}
