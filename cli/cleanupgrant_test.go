package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
	"github.com/sesmtp/sesmtp/store"
)

// grantAccount is the account of the operator policy the cleanup tests print.
const grantAccount = "123456789012"

// operatorPolicyForStores prints the bounded operator policy for stores
// under ssm:/smtp/ and secretsmanager:smtp/, parsed.
func operatorPolicyForStores(t *testing.T) iampolicy.Policy {
	t.Helper()
	pol := runCLI(t, "", "policy", "operator", "--boundary-arn", "arn:aws:iam::"+grantAccount+":policy/sesmtp/SesmtpSenderBoundary",
		"--store-prefix", "ssm:/smtp/", "--store-prefix", "secretsmanager:smtp/", "--compact")
	require.Equal(t, exitcode.OK, pol.code, pol.stderr)
	doc, err := iampolicy.Parse(pol.stdout)
	require.NoError(t, err)
	return iampolicy.Policy{ID: "operator", Type: iampolicy.SourceNone, Document: doc}
}

// storeCleanupRequests returns the IAM requests a printed store cleanup
// (aws-cli commands joined with &&) makes, one per resource; the test
// fails on a command it does not know.
func storeCleanupRequests(t *testing.T, cleanup, region string) []iampolicy.Request {
	t.Helper()
	var out []iampolicy.Request
	for _, cmd := range strings.Split(cleanup, " && ") {
		f := strings.Fields(cmd)
		require.GreaterOrEqual(t, len(f), 5, "an aws-cli command: %q", cmd)
		require.Equal(t, "aws", f[0], cmd)
		require.Contains(t, f, "--region", "%q names its region", cmd)
		arg := func(flag string) string {
			for i := range f[:len(f)-1] {
				if f[i] == flag {
					return f[i+1]
				}
			}
			t.Fatalf("%q: no %s", cmd, flag)
			return ""
		}
		switch f[1] + " " + f[2] {
		case "ssm delete-parameter":
			out = append(out, iampolicy.Request{Action: "ssm:DeleteParameter",
				Resource: "arn:aws:ssm:" + region + ":" + grantAccount + ":parameter" + arg("--name")})
		case "ssm delete-parameters":
			out = append(out, iampolicy.Request{Action: "ssm:DeleteParameters",
				Resource: "arn:aws:ssm:" + region + ":" + grantAccount + ":parameter" + arg("--names")})
		case "secretsmanager delete-secret", "secretsmanager restore-secret":
			action := map[string]string{"delete-secret": "secretsmanager:DeleteSecret", "restore-secret": "secretsmanager:RestoreSecret"}[f[2]]
			out = append(out, iampolicy.Request{Action: action,
				Resource: "arn:aws:secretsmanager:" + region + ":" + grantAccount + ":secret:" + arg("--secret-id") + "-AbCdEf"})
		default:
			t.Fatalf("an aws-cli command this test knows: %q", cmd)
		}
		assert.Equal(t, region, arg("--region"), cmd)
	}
	return out
}

// assertCleanupGranted asserts that the operator policy allows every
// request of cleanup on what sesmtp wrote for user.
func assertCleanupGranted(t *testing.T, operator iampolicy.Policy, cleanup, region, user string) {
	t.Helper()
	ctx := iampolicy.Context{}
	ctx.Set("aws:ResourceTag/"+store.TagManagedBy, store.ManagedByValue)
	ctx.Set("aws:ResourceTag/"+store.TagIAMUser, user)
	for _, req := range storeCleanupRequests(t, cleanup, region) {
		req.Context = ctx
		r, err := iampolicy.Evaluate(req, iampolicy.Principal{Identity: []iampolicy.Policy{operator}})
		require.NoError(t, err)
		assert.Equal(t, iampolicy.Allowed, r.Decision, "the printed operator policy allows %s on %s (%q)", req.Action, req.Resource, cleanup)
	}
}

// TestAwsRemoveCommandGranted: the command printed to remove each kind of
// store asks only what the printed operator policy grants.
func TestAwsRemoveCommandGranted(t *testing.T) {
	operator := operatorPolicyForStores(t)
	for _, loc := range []string{"ssm:/smtp/x/", "ssm:/smtp/x", "secretsmanager:smtp/x"} {
		t.Run(loc, func(t *testing.T) {
			target, err := store.ParseTarget(loc)
			require.NoError(t, err)
			cmd := awsRemoveCommand(store.Location{Target: target, Region: matrixRegion})
			assertCleanupGranted(t, operator, cmd, matrixRegion, "x")
		})
	}
}

// TestRestoreAdviceGranted: the way back sesmtp prints after deleting a
// stored secret ('aws secretsmanager restore-secret') is one the printed
// operator policy allows on sesmtp's secrets.
func TestRestoreAdviceGranted(t *testing.T) {
	operator := operatorPolicyForStores(t)
	cmd := "aws secretsmanager restore-secret --secret-id smtp/x --region " + matrixRegion
	assertCleanupGranted(t, operator, cmd, matrixRegion, "x")
}
