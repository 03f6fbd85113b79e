package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/store"
)

// The two keys of a rotation, and their passwords: the passwords must
// never reach an error or a log.
const (
	key1, password1 = "AKIAIOSFODNN7EXAMPLE", "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"
	key2, password2 = "AKIAI44QH8DHBEXAMPLE", "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS"
	user            = "billing-mailer"
)

// env is a local endpoint with store clients that retry quickly (the
// standard retryer without backoff delays), so faults exercise retries.
type env struct {
	srv *iamtest.Server
	e   *iamtest.Endpoint
	sm  *secretsmanager.Client
	ssm *ssm.Client
}

func fastRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}

func newEnv(t *testing.T, opts ...iamtest.Option) *env {
	t.Helper()
	e := iamtest.Start(t, opts...)
	return &env{srv: e.Local(t), e: e,
		sm:  e.SecretsManager(func(o *secretsmanager.Options) { o.Retryer = fastRetryer() }),
		ssm: e.SSM(func(o *ssm.Options) { o.Retryer = fastRetryer() })}
}

// noRetries returns clients that make each call once, so that a dropped
// connection reaches the writer as a failure without an answer.
func (v *env) noRetries() store.Clients {
	return store.Clients{
		SecretsManager: v.e.SecretsManager(func(o *secretsmanager.Options) { o.Retryer = aws.NopRetryer{} }),
		SSM:            v.e.SSM(func(o *ssm.Options) { o.Retryer = aws.NopRetryer{} }),
	}
}

func (v *env) clients() store.Clients { return store.Clients{SecretsManager: v.sm, SSM: v.ssm} }

func (v *env) store(t *testing.T, spec string, opts store.Options) store.Store {
	t.Helper()
	return v.storeWith(t, spec, v.clients(), opts)
}

func (v *env) storeWith(t *testing.T, spec string, c store.Clients, opts store.Options) store.Store {
	t.Helper()
	target, err := store.ParseTarget(spec)
	require.NoError(t, err)
	s, err := store.New(target, c, opts)
	require.NoError(t, err)
	return s
}

func payload(t *testing.T, keyID, password string, withSecretKey bool) store.Payload {
	t.Helper()
	p, err := store.NewPayload(credfile.Credentials{UserName: user, AccessKeyID: keyID, SecretAccessKey: "sk-" + credfile.Secret(password),
		Passwords: []credfile.RegionPassword{{Region: "eu-west-1", Endpoint: "email-smtp.eu-west-1.amazonaws.com", Password: credfile.Secret(password)}}},
		store.PayloadOptions{IncludeSecretKey: withSecretKey})
	require.NoError(t, err)
	return p
}

// stored is the JSON payload as an application reads it.
type stored struct {
	Username        string `json:"username"`
	Password        string `json:"password"`
	Host            string `json:"host"`
	Port            int    `json:"port"`
	Region          string `json:"region"`
	IAMUser         string `json:"iam_user"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

func decode(t *testing.T, value string) stored {
	t.Helper()
	var s stored
	require.NoError(t, json.Unmarshal([]byte(value), &s))
	return s
}

// assertNoSecret fails when an error's text holds a password or secret key.
func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, secret := range []string{password1, password2, "sk-"} {
		assert.NotContains(t, err.Error(), secret, "no secret in an error")
	}
}

func outcomes(items []store.Item) []store.Outcome {
	var out []store.Outcome
	for _, it := range items {
		out = append(out, it.Outcome)
	}
	return out
}
