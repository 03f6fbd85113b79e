package cli

// Round 5 of the adversarial review, of the fixes of round 3 and 4:
// recovery ownership, recorded requests, delete --delete-stored, journal
// names, batch senders, the store's tag conditions. Each test began as a
// break found on main and asserts the promise it violated; all are fixed
// and none is skipped.
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
// else is refused. It did not record --include-secret-key: a create killed
// after delivering a file without the secret access key, rerun with
// --include-secret-key, said "Nothing more to do", exit 0 (and the other
// way round too). Now such a rerun leaves the file as it is, exits 2 and
// says what gets what it asks.
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
// reported "nothing changed" (exit 2 for AccessDenied, 1 otherwise) though
// the secret was already scheduled for deletion. Now: exit 4, naming the
// store and what remains (the user), and the same command finishes.
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
// same command run again: the recovery compared the membership IAM lists
// (group "senders") with the recorded request (group "Senders") byte for
// byte, took the run's own membership for someone else's and left the
// dead run's keyless user (exit 1). Now the rerun finishes (exit 0) and
// the user holds only the key its file names.
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
// recorded request was compared byte for byte, so the rerun was refused
// (exit 2): a false refusal. Now it says "Nothing more to do", exit 0;
// a rerun with other addresses is still refused (exit 2).
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
