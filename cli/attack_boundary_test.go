package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
)

// TestAttackWidenedBoundary: someone with admin rights widened the
// boundary (a new default version allowing "*"). The bounded delegation
// rests on the boundary ("Permissions boundaries for IAM entities":
// effective permissions are the intersection), so create, a batch and
// rotate --strategy recreate refuse it (exit 2, nothing changed) until an
// admin puts SES sending only back with setup --update.
func TestAttackWidenedBoundary(t *testing.T) {
	a := setUpAccount(t)
	a.as(t, opsKeyID, opsSecret)
	a.createM1(t)
	m1Before, _ := a.srv.User("m1")
	_, err := a.e.Client().CreatePolicyVersion(t.Context(), &iam.CreatePolicyVersionInput{PolicyArn: aws.String(a.boundary),
		PolicyDocument: aws.String(allowAllJSON), SetAsDefault: true})
	require.NoError(t, err)

	manifest := filepath.Join(a.dir, "w.csv")
	require.NoError(t, os.WriteFile(manifest, []byte("user\nw2\n"), 0o600))
	for name, args := range map[string][]string{
		"create":  createArgs(a.e, filepath.Join(a.dir, "w1.csv"), "--user", "w1", "--region", "eu-west-1"),
		"batch":   batchArgs(a.e, manifest, filepath.Join(a.dir, "batch")),
		"rotate":  rotateUserArgs(a, "m1", "m1-new.csv", "--yes"),
		"rotate2": rotateUserArgs(a, "m1", "m1-new2.csv", "--yes", "--any-user"),
	} {
		res := runCLI(t, "", args...)
		assert.Equal(t, exitcode.Usage, res.code, "%s: %s", name, res.stderr)
		assert.Contains(t, res.stderr, "allows more than SES sending in its default version v2 (*)", name)
		assert.Contains(t, res.stderr, "sesmtp setup --update", name)
	}
	for _, u := range []string{"w1", "w2"} {
		_, made := a.srv.User(u)
		assert.False(t, made, "%s was created under a widened boundary", u)
	}
	m1, _ := a.srv.User("m1")
	assert.Equal(t, m1Before.AccessKeys, m1.AccessKeys, "m1 was recreated under a widened boundary")

	a.as(t, "", "") // the admin
	t.Setenv("AWS_ACCESS_KEY_ID", a.e.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", a.e.SecretAccessKey)
	res := runCLI(t, "", "setup", "--endpoint-url", a.e.URL, "--group", "ses-senders", "--allow-tag", "team", "--update")
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	a.as(t, opsKeyID, opsSecret)
	res = runCLI(t, "", createArgs(a.e, filepath.Join(a.dir, "w3.csv"), "--user", "w3", "--region", "eu-west-1")...)
	assert.Equal(t, exitcode.OK, res.code, res.stderr)
}
