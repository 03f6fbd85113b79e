package awscfg_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func TestLoadProfileAndRegion(t *testing.T) {
	iamtest.Isolate(t)
	t.Setenv("AWS_REGION", "")
	os.Unsetenv("AWS_REGION")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(cfgFile, []byte("[profile mail]\nregion = eu-west-1\n"), 0o600))
	t.Setenv("AWS_CONFIG_FILE", cfgFile)

	cfg, err := awscfg.Load(t.Context(), awscfg.Options{Profile: "mail"})
	require.NoError(t, err)
	assert.Equal(t, "eu-west-1", cfg.Region)

	cfg, err = awscfg.Load(t.Context(), awscfg.Options{Profile: "mail", Region: "us-east-2"})
	require.NoError(t, err)
	assert.Equal(t, "us-east-2", cfg.Region, "the flag wins over the profile")

	_, err = awscfg.Load(t.Context(), awscfg.Options{Profile: "missing"})
	assert.ErrorContains(t, err, `profile "missing"`)
}

func TestIAMClientEndpointAndLogging(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	var logs bytes.Buffer
	opts := awscfg.Options{EndpointURL: e.URL, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	cfg, err := awscfg.Load(t.Context(), opts)
	require.NoError(t, err)
	c := awscfg.IAM(cfg, opts)
	_, err = c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: ptr("u")})
	require.NoError(t, err)
	out, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: ptr("u")})
	require.NoError(t, err)

	assert.Equal(t, 2, srv.CallCount(""), "--endpoint-url reaches the local endpoint")
	assert.Contains(t, logs.String(), "operation=CreateAccessKey")
	assert.Contains(t, logs.String(), "status=200")
	assert.NotContains(t, logs.String(), *out.AccessKey.SecretAccessKey, "no response bodies in the log")
	assert.NotContains(t, logs.String(), "Authorization", "no headers in the log")
	assert.NotContains(t, logs.String(), iamtest.DefaultSecretAccessKey)
}

func TestEndpointFromEnvironment(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	t.Setenv("AWS_ENDPOINT_URL_IAM", e.URL)
	cfg, err := awscfg.Load(t.Context(), awscfg.Options{})
	require.NoError(t, err)
	_, err = awscfg.IAM(cfg, awscfg.Options{}).ListUsers(t.Context(), &iam.ListUsersInput{})
	require.NoError(t, err)
	assert.Equal(t, 1, srv.CallCount("ListUsers"))
}

func ptr(s string) *string { return &s }
