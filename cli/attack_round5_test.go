package cli

// Round 5 of the adversarial review, of the fixes of round 3 and 4:
// recovery ownership, recorded requests, delete --delete-stored, journal
// names, batch senders, the store's tag conditions. Each test is a break
// found on main: it asserts the promise, so it fails on main; it is
// skipped at its top with "BREAK: ..." so that the suite stays green
// until it is fixed (remove the t.Skip line to see it fail).
//
//	go test ./cli -run 'TestAttack5' -v

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
	"github.com/sesmtp/sesmtp/store"
)

// TestAttack5RerunWithUnrecordedOptionExits0: the marker records a
// create's request (policy, group, path, boundary, regions, FIPS, store,
// format) so that a rerun after a delivered kill that asks for something
// else is refused. It does not record --include-secret-key, and a create
// killed after delivering a file without the secret access key is rerun
// with --include-secret-key (the app needs it for the SES API): "Nothing
// more to do", exit 0, and the file has no secret access key. The other
// way round, a file holding a secret the rerun did not ask to write,
// exit 0 too. (--kms-key-id and --tag are not recorded either.)
func TestAttack5RerunWithUnrecordedOptionExits0(t *testing.T) {
	for _, tt := range []struct {
		name          string
		first, second []string
		advice        string // in the command the refusal names
	}{
		{"include secret key now", nil, []string{"--include-secret-key"}, "--include-secret-key'"},
		{"not any more", []string{"--include-secret-key"}, nil, "--strategy key --retire-now"},
		{"a tag now", []string{"--tag", "team=mail"}, []string{"--tag", "team=payments", "--tag", "env=prod"},
			"aws iam tag-user --user-name target --tags 'Key=env,Value=prod' 'Key=team,Value=payments'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			out := filepath.Join(t.TempDir(), "a.env")
			killedCreate(t, e.URL, "target", out, journal.StepDelivered+"#1", append([]string{"--format", "env"}, tt.first...)...)
			before, err := os.ReadFile(out)
			require.NoError(t, err)
			res := sesmtpProcess(t, e.URL, append([]string{"create", "--user", "target", "--region", matrixRegion, "--out", out, "--format", "env"}, tt.second...)...)
			t.Logf("rerun: exit %d\n%s", res.code, res.stderr)
			after, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Equal(t, before, after, "delivered credentials are never rewritten")
			assert.Equal(t, exitcode.Usage, res.code, "exit 0 says the file is as this run asked: it is not")
			assert.Contains(t, res.stderr, "To get what it asks: ")
			assert.Contains(t, res.stderr, tt.advice)
		})
	}
}

// TestAttack5DeleteStoredThenIAMFails: delete --delete-stored removes the
// stored credentials first, then the user. If IAM then refuses or fails
// the first removal (AccessDenied on DeleteAccessKey: an SCP, a
// permissions boundary; or ServiceFailure on every retry), provision.Delete
// reports "nothing changed" (exit 2 for AccessDenied, 1 otherwise) and the
// message says nothing of the store: the secret is scheduled for deletion
// (SSM parameters are gone for good), the user keeps a working key that no
// store names. Exit 1/2 say nothing was changed; it was: exit 4, naming
// what remains (the user) and the command that finishes.
func TestAttack5DeleteStoredThenIAMFails(t *testing.T) {
	for _, code := range []string{"AccessDenied", "ServiceFailure"} {
		t.Run(code, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			res := storeCLI(t, e, "create", "--user", "billing", "--region", matrixRegion, "--store", "secretsmanager:billing/smtp")
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			srv.Inject(iamtest.Fault{Action: "DeleteAccessKey", Kind: iamtest.FailBefore, Code: code})
			res = storeCLI(t, e, "delete", "--user", "billing", "--yes", "--delete-stored")
			t.Logf("delete: exit %d\n%s", res.code, res.stderr)
			sec, ok := srv.Secret("billing/smtp")
			require.True(t, ok)
			require.False(t, sec.DeletionDate.IsZero(), "the store was changed: the secret is scheduled for deletion")
			_, ok = srv.User("billing")
			require.True(t, ok, "the user is left")
			assert.Equal(t, exitcode.LeftBehind, res.code, "something was changed and something is left: not exit 1 or 2")
			assert.Contains(t, res.stderr, "billing/smtp", "the message says the secret was removed")
			srv.ClearFaults()
			res = storeCLI(t, e, "delete", "--user", "billing", "--yes", "--delete-stored")
			require.Equal(t, exitcode.OK, res.code, "the same command finishes: %s", res.stderr)
		})
	}
}

// TestAttack5RecoveryGroupNameCase: IAM's group names are not
// distinguished by case (GetGroup and AddUserToGroup find "senders" by
// "Senders"; ListGroupsForUser answers the group's own spelling). A create
// --group Senders, joining the existing sending group "senders", is
// killed after AddUserToGroup took effect, before CreateAccessKey; the
// same command run again: the recovery compares the membership IAM lists
// (group "senders") with the recorded request (group "Senders") byte for
// byte, takes the run's own membership for someone else's, leaves the
// dead run's user ("not that run's work (another run's, or made by
// hand)") and the rerun exits 1: the user exists. The same command never
// completes; the dead run's keyless user stays.
func TestAttack5RecoveryGroupNameCase(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := t.TempDir()
	res := runCLI(t, "", createArgs(e, filepath.Join(dir, "first.csv"), "--user", "first", "--group", "senders", "--region", matrixRegion)...)
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	out := filepath.Join(dir, "a.csv")
	args := createArgs(e, out, "--user", "target", "--group", "Senders", "--region", matrixRegion)
	runKilled(t, args, func(kill func()) {
		srv.Inject(iamtest.Fault{Action: "AddUserToGroup", Kind: iamtest.Delay, OnPerformed: func(iamtest.Call) { kill() }})
	})
	srv.ClearFaults()
	_, ok := srv.User("target")
	require.True(t, ok, "the dead run made its user")

	res = runCLI(t, "", args...)
	t.Logf("rerun: exit %d\n%s", res.code, res.stderr)
	assert.Equal(t, exitcode.OK, res.code, "the same command run again finishes")
	assert.NotContains(t, res.stderr, "not that run's work")
	if res.code == exitcode.OK {
		assert.Equal(t, []string{fileKey(t, out)}, keyIDsOfUser(srv, "target"))
	}
}

// TestAttack5StoreMoveCleanupNotGranted: a key rotation that moves a
// user's credentials from ssm:/smtp/mover/ to another store told the
// operator to remove the old parameters with 'aws ssm delete-parameters
// --names ...'. That is the action ssm:DeleteParameters (aws-cli
// reference, ssm delete-parameter: "Denying that action alone doesn't
// restrict DeleteParameters, which is authorized against its own
// action"), which the operator policy sesmtp prints does not grant (it
// grants ssm:DeleteParameter, on sesmtp's tag): the operator holding
// exactly that policy met AccessDenied on the command sesmtp told it to
// run, and the old parameters (naming the retired key, the password among
// them) stayed. Fixed: one delete-parameter a parameter; every command of
// the printed cleanup, from each kind of store, is granted.
func TestAttack5StoreMoveCleanupNotGranted(t *testing.T) {
	var operator iampolicy.Policy = operatorPolicyForStores(t)
	for _, tt := range []struct{ from, to string }{
		{"ssm:/smtp/mover/", "secretsmanager:smtp/mover"},
		{"ssm:/smtp/mover", "ssm:/smtp/mover/"},
		{"secretsmanager:smtp/mover", "ssm:/smtp/mover"},
	} {
		t.Run(tt.from, func(t *testing.T) {
			e := iamtest.Start(t)
			res := storeCLI(t, e, "create", "--user", "mover", "--region", matrixRegion, "--store", tt.from)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			res = storeCLI(t, e, "rotate", "--user", "mover", "--strategy", "key", "--region", matrixRegion, "--store", tt.to)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			i := strings.Index(res.stderr, "remove them with '")
			require.GreaterOrEqual(t, i, 0, res.stderr)
			advice := strings.SplitN(res.stderr[i+len("remove them with '"):], "'", 2)[0]
			t.Logf("advice: %s", advice)
			assertCleanupGranted(t, operator, advice, matrixRegion, "mover")
			old, err := store.ParseTarget(tt.from)
			require.NoError(t, err)
			names := old.ParameterNames(true)
			if old.Kind == store.SecretsManager {
				names = []string{old.Name}
			}
			for _, name := range names {
				assert.Contains(t, advice, name+" ", "the cleanup removes all the old store holds")
			}
		})
	}
}

// TestAttack5RerunSamePolicyOtherOrder: a create killed after its delivery
// is rerun with the same --from-address values in another order (a script
// that builds its flags from a set, or an operator retyping them). The
// condition is StringLike over a set of values: the same policy. The
// recorded request compares the documents' JSON byte for byte, so the
// rerun is refused (exit 2, "sender policy: the earlier run's ..., this
// run asks ...") and tells the operator to put-user-policy what the user
// already has: a false refusal of a request that was carried out.
func TestAttack5RerunSamePolicyOtherOrder(t *testing.T) {
	e := iamtest.Start(t)
	out := filepath.Join(t.TempDir(), "a.csv")
	killedCreate(t, e.URL, "target", out, journal.StepDelivered+"#1", "--from-address", "a@example.com", "--from-address", "b@example.com")
	res := sesmtpProcess(t, e.URL, "create", "--user", "target", "--region", matrixRegion, "--out", out,
		"--from-address", "b@example.com", "--from-address", "a@example.com")
	t.Logf("rerun: exit %d\n%s", res.code, res.stderr)
	assert.Equal(t, exitcode.OK, res.code, "the same request: nothing more to do")
	assert.Contains(t, res.stderr, "Nothing more to do")

	// A rerun asking for another policy is refused (exit 2, nothing
	// attempted); the dead run's own command run next must still find its
	// delivery ("Nothing more to do", exit 0), not a file that "exists".
	t.Run("a refused rerun keeps the dead run's marker", func(t *testing.T) {
		e := iamtest.Start(t) // another user: an external endpoint keeps the outer test's "target"
		out := filepath.Join(t.TempDir(), "a.csv")
		killedCreate(t, e.URL, "target-refused", out, journal.StepDelivered+"#1", "--from-address", "a@example.com")
		res := sesmtpProcess(t, e.URL, "create", "--user", "target-refused", "--region", matrixRegion, "--out", out, "--from-address", "b@example.com")
		require.Equal(t, exitcode.Usage, res.code, res.stderr)
		require.Contains(t, res.stderr, "sender policy: the earlier run's")
		_, err := os.Stat(journal.MarkerPath(out))
		require.NoError(t, err, "the refused rerun keeps the dead run's marker")
		res = sesmtpProcess(t, e.URL, "create", "--user", "target-refused", "--region", matrixRegion, "--out", out, "--from-address", "a@example.com")
		assert.Equal(t, exitcode.OK, res.code, res.stderr)
		assert.Contains(t, res.stderr, "Nothing more to do")
		_, err = os.Stat(journal.MarkerPath(out))
		assert.True(t, os.IsNotExist(err), "the marker goes once the same command found the delivery: %v", err)
	})
}
