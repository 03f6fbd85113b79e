package cli

// A recovery removes a dead create's user only while IAM shows nothing on
// it that run did not make; one that stops part way, after it began
// changing IAM, exits 4 (TestAttack3RecoveryPurgesUserRotatedSince and
// TestAttack3RecoveryFailsPartWay are the attacks that found it).

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// TestRecoveryLeavesAHandChangedUser: between a create killed before its
// delivery and its rerun, someone changes the dead run's user by hand
// (aws iam create-access-key, attach-user-policy, put-user-policy). The
// user is no longer the dead run's alone: the recovery removes that run's
// undelivered key only, leaves the user with what was added, names it,
// and the create (whose user exists) exits 1.
func TestRecoveryLeavesAHandChangedUser(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(t *testing.T, c *iam.Client, srv *iamtest.Server) string // what it added, as the message names it
		keeps  func(t *testing.T, u iamtest.User)
	}{
		{"create-access-key", func(t *testing.T, c *iam.Client, _ *iamtest.Server) string {
			k, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("target")})
			require.NoError(t, err)
			return "access key " + aws.ToString(k.AccessKey.AccessKeyId)
		}, func(t *testing.T, u iamtest.User) { assert.Len(t, u.AccessKeys, 1) }},
		{"attach-user-policy", func(t *testing.T, c *iam.Client, srv *iamtest.Server) string {
			arn := srv.PutPolicy("/", "ReadOnly", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
			_, err := c.AttachUserPolicy(t.Context(), &iam.AttachUserPolicyInput{UserName: aws.String("target"), PolicyArn: aws.String(arn)})
			require.NoError(t, err)
			return "managed policy " + arn
		}, func(t *testing.T, u iamtest.User) { assert.Len(t, u.AttachedPolicies, 1) }},
		{"put-user-policy", func(t *testing.T, c *iam.Client, _ *iamtest.Server) string {
			_, err := c.PutUserPolicy(t.Context(), &iam.PutUserPolicyInput{UserName: aws.String("target"), PolicyName: aws.String("extra"),
				PolicyDocument: aws.String(senderPolicyJSON)})
			require.NoError(t, err)
			return `inline policy "extra"`
		}, func(t *testing.T, u iamtest.User) { assert.Contains(t, u.InlinePolicies, "extra") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			out := filepath.Join(t.TempDir(), "a.csv")
			killedCreate(t, e.URL, "target", out, credfile.StepTempWritten+"#1")
			dead := keyIDsOfUser(srv, "target")[0]
			added := tt.change(t, e.Client(), srv)

			res := sesmtpProcess(t, e.URL, "create", "--user", "target", "--region", matrixRegion, "--out", out)
			t.Logf("rerun: exit %d\n%s", res.code, res.stderr)
			assert.Equal(t, exitcode.Failed, res.code)
			u, ok := srv.User("target")
			require.True(t, ok, "the user stays: it holds what the dead run did not make")
			assert.NotContains(t, keyIDsOfUser(srv, "target"), dead, "the dead run's undelivered key goes")
			tt.keeps(t, u)
			assert.Contains(t, res.stderr, "which now holds "+added)
			assert.NoFileExists(t, journal.MarkerPath(out))
		})
	}
}

// TestRecoveryKeyWindow: a create killed as its CreateAccessKey took
// effect, before it recorded the new key's id. Its recovery counts as the
// run's only a key created within its window (from the user's creation to
// the run's --timeout and a minute after): a key made an hour later, by
// hand, is not; the user stays with it.
func TestRecoveryKeyWindow(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	out := filepath.Join(t.TempDir(), "a.csv")
	runKilled(t, createArgs(e, out, "--user", "target", "--region", matrixRegion, "--timeout", "30s"), func(kill func()) {
		srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.Delay, OnPerformed: func(iamtest.Call) { kill() }})
	})
	srv.ClearFaults()
	dead := keyIDsOfUser(srv, "target")[0]
	u, _ := srv.User("target")
	k, err := e.Client().CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("target")})
	require.NoError(t, err)
	later := aws.ToString(k.AccessKey.AccessKeyId)
	require.True(t, srv.SetKeyCreated(later, u.Created.Add(time.Hour)))

	res := sesmtpProcess(t, e.URL, "create", "--user", "target", "--region", matrixRegion, "--out", out)
	t.Logf("rerun: exit %d\n%s", res.code, res.stderr)
	assert.Equal(t, exitcode.Failed, res.code)
	assert.Equal(t, []string{later}, keyIDsOfUser(srv, "target"), "the key made within the window goes (%s), the later one stays", dead)
	assert.Contains(t, res.stderr, "which now holds access key "+later)
}

// TestRecoveryInterrupted: Ctrl-C, or --timeout, while a recovery removes
// a dead create's user, after it deleted the key: the run changed IAM and
// left the user, so exit 4 names it and the command that removes it; the
// dead run's record stays, and the next run finishes the removal.
func TestRecoveryInterrupted(t *testing.T) {
	for _, tt := range []struct {
		name, why string
		arm       func(srv *iamtest.Server, cancel func())
		extra     []string
	}{
		{"ctrl-c", "interrupted (Ctrl-C/SIGTERM)", func(srv *iamtest.Server, cancel func()) {
			srv.Inject(iamtest.Fault{Action: "DeleteUserPolicy", Kind: iamtest.Delay, OnPerformed: func(iamtest.Call) { cancel() }})
		}, nil},
		{"timeout", "timed out after --timeout 2s", func(srv *iamtest.Server, _ func()) {
			srv.Inject(iamtest.Fault{Action: "DeleteUser", Kind: iamtest.Delay, Delay: time.Minute})
		}, []string{"--timeout", "2s"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			out := filepath.Join(t.TempDir(), "a.csv")
			killedCreate(t, e.URL, "target", out, credfile.StepTempWritten+"#1")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			tt.arm(srv, cancel)
			args := append(createArgs(e, out, "--user", "target", "--region", matrixRegion, "--max-backoff", "5ms"), tt.extra...)
			res := runCLIContext(t, ctx, "", args...)
			t.Logf("rerun: exit %d\n%s", res.code, res.stderr)
			assert.Equal(t, exitcode.LeftBehind, res.code)
			assert.Contains(t, res.stderr, tt.why)
			assert.Contains(t, res.stderr, `Left behind: user "target"`)
			assert.Contains(t, res.stderr, "Remove it with: sesmtp delete --user target")
			_, left := srv.User("target")
			require.True(t, left)
			assert.Empty(t, keyIDsOfUser(srv, "target"), "the dead run's key was removed first")
			assert.FileExists(t, journal.MarkerPath(out))

			srv.ClearFaults()
			res = runCLI(t, "", createArgs(e, out, "--user", "target", "--region", matrixRegion)...)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			assert.Equal(t, keyIDsOfUser(srv, "target"), []string{fileKey(t, out)})
		})
	}
}
