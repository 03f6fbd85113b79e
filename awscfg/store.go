package awscfg

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"
)

// StoreOptions say where the secret store clients go.
type StoreOptions struct {
	// Region is the store's region (a secret lives in one region).
	Region string
	// EndpointURL overrides the service's endpoint; empty: the SDK's
	// AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_SSM, then
	// AWS_ENDPOINT_URL, then the service's own.
	EndpointURL string
}

// SecretsManager returns a Secrets Manager client for cfg, with the same
// retries, answer bound and request log as the IAM client (no IAM
// propagation wait: a store answers for what it just wrote).
func SecretsManager(cfg aws.Config, opts Options, so StoreOptions) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if so.Region != "" {
			o.Region = so.Region
		}
		if so.EndpointURL != "" {
			o.BaseEndpoint = aws.String(so.EndpointURL)
		}
		o.APIOptions = append(o.APIOptions, storeMiddleware(opts)...)
	})
}

// SSM returns an SSM client for cfg, as SecretsManager does.
func SSM(cfg aws.Config, opts Options, so StoreOptions) *ssm.Client {
	return ssm.NewFromConfig(cfg, func(o *ssm.Options) {
		if so.Region != "" {
			o.Region = so.Region
		}
		if so.EndpointURL != "" {
			o.BaseEndpoint = aws.String(so.EndpointURL)
		}
		o.APIOptions = append(o.APIOptions, storeMiddleware(opts)...)
	})
}

// storeMiddleware is the IAM client's stop cause and request log.
func storeMiddleware(opts Options) []func(*middleware.Stack) error {
	mw := []func(*middleware.Stack) error{func(s *middleware.Stack) error {
		return s.Initialize.Add(withStopCause(), middleware.Before)
	}}
	if opts.Logger != nil {
		logger := opts.Logger
		mw = append(mw, func(s *middleware.Stack) error {
			return s.Deserialize.Add(logAttempts(logger), middleware.After)
		})
	}
	return mw
}

// StoreEndpoint returns the endpoint a store client of service
// ("secretsmanager" or "ssm") will use, as the SDK resolves it: so.EndpointURL,
// else the service's AWS_ENDPOINT_URL_* variable, else AWS_ENDPOINT_URL;
// "" for the service's own. It names the store in sesmtp's journal.
func StoreEndpoint(service string, so StoreOptions) string {
	if so.EndpointURL != "" {
		return so.EndpointURL
	}
	env := map[string]string{"secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER", "ssm": "AWS_ENDPOINT_URL_SSM"}[service]
	if v := os.Getenv(env); env != "" && v != "" {
		return v
	}
	return os.Getenv("AWS_ENDPOINT_URL")
}
