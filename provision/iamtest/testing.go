package iamtest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// ExternalEndpointEnv names the variable that points end-to-end tests at
// another IAM-compatible endpoint (LocalStack, moto) instead of a local Server.
const ExternalEndpointEnv = "SESMTP_TEST_IAM_ENDPOINT"

// Endpoint is the IAM endpoint an end-to-end test talks to.
type Endpoint struct {
	// URL is the endpoint's base URL.
	URL string
	// AccessKeyID and SecretAccessKey are credentials it accepts.
	AccessKeyID, SecretAccessKey string
	// Server is the local server, or nil for an external endpoint.
	Server *Server

	before    baseline        // what an external endpoint held when the test started
	transport *http.Transport // an external endpoint's clients', closed when the test ends
}

// Isolate shields a test from the machine's AWS set-up: dummy credentials,
// empty shared config and credentials files, no instance metadata, no
// endpoint or profile from the environment.
func Isolate(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", DefaultAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", DefaultSecretAccessKey)
	t.Setenv("AWS_REGION", "us-east-1")
	for _, v := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IAM", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CA_BUNDLE"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

// Start isolates the test (see Isolate) and returns the endpoint it should
// use: a new local Server closed at the end of the test, or the external
// endpoint named by SESMTP_TEST_IAM_ENDPOINT (opts are then ignored). On
// an external endpoint it records which users, groups and customer managed
// policies exist, and at the end of the test deletes the ones the test
// added (see State).
func Start(t testing.TB, opts ...Option) *Endpoint {
	t.Helper()
	Isolate(t)
	if url := os.Getenv(ExternalEndpointEnv); url != "" {
		return External(t, url)
	}
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	return &Endpoint{URL: s.URL, AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey, Server: s}
}

// External returns the IAM endpoint at url that someone else runs, with the
// credentials every test uses. It records which users, groups and customer
// managed policies exist there, and at the end of the test deletes those
// the test added (see State).
func External(t testing.TB, url string) *Endpoint {
	t.Helper()
	e := &Endpoint{URL: url, AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey,
		transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(e.transport.CloseIdleConnections) // after the clean-up below: no connection outlives the test
	takeBaseline(t, e)
	return e
}

// Local returns the local server, skipping the test on an external
// endpoint, which cannot inject faults, restrict permissions, log calls or
// show secrets; why, when given, says which the test needs. A test that
// only sets up or reads IAM state uses State instead.
func (e *Endpoint) Local(t testing.TB, why ...string) *Server {
	t.Helper()
	if e.Server == nil {
		reason := "fault injection, permissions, call log or secrets"
		if len(why) > 0 {
			reason = strings.Join(why, ", ")
		}
		t.Skipf("needs the local IAM endpoint (%s); %s is set", reason, ExternalEndpointEnv)
	}
	return e.Server
}

// Name returns base, made unique with a random suffix on an external
// endpoint whose state outlives the test.
func (e *Endpoint) Name(base string) string {
	if e.Server != nil {
		return base
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%x", base, b)
}

// Client returns an IAM client for the endpoint with static credentials and
// quick retries, as the SDK would be configured in production.
func (e *Endpoint) Client(opts ...func(*iam.Options)) *iam.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, ""),
	}
	return iam.NewFromConfig(cfg, append([]func(*iam.Options){func(o *iam.Options) {
		o.BaseEndpoint = aws.String(e.URL)
		if e.transport != nil {
			o.HTTPClient = &http.Client{Transport: e.transport}
		}
	}}, opts...)...)
}
