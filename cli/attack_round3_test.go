package cli

// Round 3 of the adversarial review of crash recovery, concurrency and
// two-phase rotation (issues 14 and 15). Each test began as a break found
// on main and asserts the promise that break violated; all are fixed and
// none is skipped.
//
//	go test ./cli -run 'TestAttack3' -v

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/store"
)

// deleteStoredArgs is the delete that removes the user and its secret.
func deleteStoredArgs(url string, extra ...string) []string {
	return append([]string{"delete", "--user", "billing", "--yes", "--delete-stored", "--endpoint-url", url, "--store-endpoint-url", url}, extra...)
}

// killedCreate runs create --user user --out out as a process that
// SIGKILLs itself at journal step spec ("STEP#N").
func killedCreate(t *testing.T, url, user, out, spec string, extra ...string) {
	t.Helper()
	args := append([]string{"create", "--user", user, "--region", matrixRegion, "--endpoint-url", url, "--out", out}, extra...)
	c := subprocess(t, args...)
	c.Env = mainEnv(killAtEnv + "=" + spec)
	var exit *exec.ExitError
	require.True(t, errors.As(c.Run(), &exit), "the run was killed")
}

// TestAttack3RecoveryPurgesUserRotatedSince (was a BREAK): a create killed
// after its CreateAccessKey, before the file was placed, leaves a user with
// an undelivered key (as documented: the next run on that file removes
// it). Meanwhile an operator finds the user without credentials and does
// what sesmtp itself advises for such a user (batch's rotateAdvice): a
// phase-1 'rotate --strategy key --out other.csv'. It delivers a new key,
// exit 0. Then the killed create is rerun (the CI job retries): its
// recovery saw the user still carrying the dead run's run-id and purged
// it, with every key, so the rotation's delivered key was deleted and
// other.csv named a key IAM no longer held. Now a recovery removes the
// whole user only while IAM shows nothing on it the dead run did not
// make: here it removes the dead run's own key, leaves the user (saying
// so, with the command that would remove it), and the create, whose user
// exists, exits 1 (its recovery changed IAM).
func TestAttack3RecoveryPurgesUserRotatedSince(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	killedCreate(t, e.URL, "target", a, credfile.StepTempWritten+"#1")
	require.Len(t, keyIDsOfUser(srv, "target"), 1, "the dead run's undelivered key")
	dead := keyIDsOfUser(srv, "target")[0]

	res := sesmtpProcess(t, e.URL, "rotate", "--user", "target", "--strategy", "key", "--region", matrixRegion, "--out", b)
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	delivered := fileKey(t, b)

	res = sesmtpProcess(t, e.URL, "create", "--user", "target", "--region", matrixRegion, "--out", a)
	t.Logf("rerun: exit %d\n%s", res.code, res.stderr)
	assert.Equal(t, []string{delivered}, keyIDsOfUser(srv, "target"),
		"the rerun's recovery removes the dead run's undelivered key %s and nothing else: access key %s, which the rotation delivered to %s, stays", dead, delivered, b)
	u, ok := srv.User("target")
	require.True(t, ok, "the user, which now carries another run's delivered key, stays")
	assert.Contains(t, u.InlinePolicies, provision.DefaultPolicyName, "with the policy the delivered key sends with")
	assert.Equal(t, exitcode.Failed, res.code, "the user exists, and the recovery changed IAM: exit 1, not 2")
	assert.Contains(t, res.stderr, "removed what it made and had not delivered: access key "+dead)
	assert.Contains(t, res.stderr, "which now holds access key "+delivered)
	assert.Contains(t, res.stderr, "sesmtp delete --user target")
	assert.NoFileExists(t, a)
	assert.NoFileExists(t, journal.MarkerPath(a), "the recovery is done: the record goes")
}

// TestAttack3DeleteStoredKilledAfterDeleteUser: 'delete --delete-stored'
// removed the user first, then the secret its sesmtp:store tag names.
// SIGKILL between the two and rerun the same command, as a script would
// with --ignore-missing: the user was gone, so was its tag, so the rerun
// no longer knew the store; it said "does not exist; nothing to delete"
// and exited 0, the secret left naming a deleted key. Fixed: the store
// goes first, so a kill after any call leaves the user and its tag, and
// the rerun finishes both. Killed right after DeleteSecret took effect,
// and right after DeleteUser did (the last call: nothing left to do).
func TestAttack3DeleteStoredKilledAfterDeleteUser(t *testing.T) {
	for _, action := range []string{"secretsmanager:DeleteSecret", "DeleteUser"} {
		t.Run(action, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			res := storeCLI(t, e, "create", "--user", "billing", "--region", matrixRegion, "--store", "secretsmanager:billing/smtp")
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			runKilled(t, deleteStoredArgs(e.URL), func(kill func()) {
				srv.Inject(iamtest.Fault{Action: action, Kind: iamtest.Delay, OnPerformed: func(iamtest.Call) { kill() }})
			})
			srv.ClearFaults()
			res = sesmtpProcess(t, e.URL, deleteStoredArgs(e.URL, "--ignore-missing")...)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			_, left := srv.User("billing")
			assert.False(t, left, "the rerun deleted the user")
			sec, ok := srv.Secret("billing/smtp")
			require.True(t, ok, "a deleted secret stays restorable for its recovery window")
			assert.False(t, sec.DeletionDate.IsZero(), "the secret is scheduled for deletion")
			assertStoresNameHeldKeys(t, srv)
		})
	}
}

// TestAttack3RerunWithNarrowerPolicyExits0 (was a BREAK): a create killed
// after its delivery (during --verify, say) is rerun on the same file with
// the sender narrowed (--from-address, as the operator meant all along),
// or with another --region. The rerun found the earlier run's delivery,
// said "Nothing more to do" and exited 0: the user kept the unrestricted
// policy of the first run (or the file lacked the region's password), and
// exit 0 said it was done. Now the marker records what the run was asked
// for; the rerun says what differs and the command that gets it, changes
// nothing, and exits 2 (its recovery changed nothing either).
func TestAttack3RerunWithNarrowerPolicyExits0(t *testing.T) {
	for _, tt := range []struct {
		name   string
		extra  []string
		differ string
		advice func(out string) string
	}{
		{"from-address", []string{"--region", matrixRegion, "--from-address", "noreply@example.com"}, "sender policy: the earlier run's AmazonSesSendingAccess",
			func(string) string {
				return `aws iam put-user-policy --user-name target --policy-name AmazonSesSendingAccess --policy-document '{"Version":"2012-10-17",` +
					`"Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{"StringLike":{"ses:FromAddress":"noreply@example.com"}}}]}'`
			}},
		{"region", []string{"--region", matrixRegion + ",us-east-1"}, "regions: the earlier run's " + matrixRegion + ", this run asks " + matrixRegion + ",us-east-1",
			func(out string) string {
				return "sesmtp rotate --user target --strategy key --retire-now --region " + matrixRegion + ",us-east-1 --format csv --out " + out + " --force"
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			out := filepath.Join(t.TempDir(), "a.csv")
			killedCreate(t, e.URL, "target", out, journal.StepDelivered+"#1")
			before, _ := srv.User("target")
			file, err := os.ReadFile(out)
			require.NoError(t, err)
			res := sesmtpProcess(t, e.URL, append([]string{"create", "--user", "target", "--out", out}, tt.extra...)...)
			t.Logf("rerun: exit %d\n%s", res.code, res.stderr)
			assert.Equal(t, exitcode.Usage, res.code, "what this run asks was not done, and nothing was changed")
			assert.Contains(t, res.stderr, tt.differ)
			assert.Contains(t, res.stderr, tt.advice(out))
			assert.NotContains(t, res.stderr, "Nothing more to do")
			after, _ := srv.User("target")
			assert.Equal(t, before.InlinePolicies, after.InlinePolicies, "delivered work is never changed")
			assert.Equal(t, keyIDsOfUser(srv, "target"), []string{fileKey(t, out)})
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Equal(t, file, got, "delivered credentials are never rewritten")
			// The dead run's marker stays (round 5): its own command, run
			// next, still says "Nothing more to do" (TestAttack5RerunSamePolicyOtherOrder).
			assert.FileExists(t, journal.MarkerPath(out))

			if tt.name == "region" { // the command it names gets what was asked
				res = sesmtpProcess(t, e.URL, strings.Fields(tt.advice(out))[1:]...)
				require.Equal(t, exitcode.OK, res.code, res.stderr)
				got, err := os.ReadFile(out)
				require.NoError(t, err)
				assert.Contains(t, string(got), "us-east-1")
				ids, _, err := credfile.KeyIDs(out)
				require.NoError(t, err)
				assert.Equal(t, keyIDsOfUser(srv, "target"), slices.Compact(ids), "one line a region, each naming the key IAM holds")
			}
		})
	}
}

// TestAttack3RerunRetireNowAfterKilledPhase1 (was a BREAK): a phase-1 key
// rotation is killed after its delivery; the operator, who has just learnt
// that the old key leaked, reruns it with --retire-now on the same file.
// The recovery finished the dead run's plan (old key recorded as pending
// retirement, still active), then "Nothing more to do", exit 0: the
// leaked key this run was asked to delete stayed active. Now the rerun
// compares what it asks with what the dead run was asked (the marker
// records it): it says the old key was left pending and names the retire
// runs that delete it, and exits 1 (the recovery recorded the pending
// retirement). Those runs delete it.
func TestAttack3RerunRetireNowAfterKilledPhase1(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	old := keyIDsOfUser(srv, "target")[0]
	out := filepath.Join(t.TempDir(), "a.csv")
	args := []string{"rotate", "--user", "target", "--strategy", "key", "--region", matrixRegion, "--endpoint-url", e.URL, "--out", out}
	c := subprocess(t, args...)
	c.Env = mainEnv(killAtEnv + "=" + journal.StepDelivered + "#1")
	var exit *exec.ExitError
	require.True(t, errors.As(c.Run(), &exit), "the run was killed")
	res := sesmtpProcess(t, e.URL, "rotate", "--user", "target", "--strategy", "key", "--region", matrixRegion, "--out", out, "--retire-now")
	t.Logf("rerun: exit %d\n%s", res.code, res.stderr)
	assert.Equal(t, exitcode.Failed, res.code, "not done; the recovery recorded the old key's pending retirement, so 1, not 2")
	assert.Contains(t, res.stderr, "old keys: the earlier run's left active, pending retirement, this run asks deleted (--retire-now)")
	assert.Contains(t, res.stderr, "run 'sesmtp retire --user target --yes' twice")
	delivered := fileKey(t, out)
	assert.ElementsMatch(t, []string{old, delivered}, keyIDsOfUser(srv, "target"), "the refusal changed nothing more")

	for range 2 {
		res = sesmtpProcess(t, e.URL, "retire", "--user", "target", "--yes")
		require.Equal(t, exitcode.OK, res.code, res.stderr)
	}
	assert.Equal(t, []string{delivered}, keyIDsOfUser(srv, "target"), "the named command deletes the leaked key")
}

// TestAttack3CredentialsAtALockPath: sesmtp's journal names are plain
// names beside the file, and nothing stopped --out from being one of them.
// A create wrote its credentials to .creds.csv.lock (a dot-file, as ops
// engineers name secrets to keep them out of ls); a later create on
// creds.csv took that file as its lock: a regular 0600 file of the user,
// so trusted; the run truncated it, wrote its owner record into it, and
// unlinked it as it ended: the first run's delivered credentials gone.
// Fixed: every journal name (.FILE.lock, .FILE.pending, .FILE.pending.tmp,
// .FILE.tmp-*) is refused as --out and as a batch sender's file, before
// anything (exit 2); and a journal file of the user's that holds
// something else (credentials saved there by hand, or by an earlier
// sesmtp) is left as it is and the run refused (exit 2), the store
// journals in the state directory too.
func TestAttack3CredentialsAtALockPath(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "creds.csv")
	create := func(user, out string, extra ...string) result {
		return runCLI(t, "", append([]string{"create", "--user", user, "--region", matrixRegion, "--endpoint-url", e.URL, "--out", out}, extra...)...)
	}
	placement := credfile.NewPlacement(out, "0123abcd", false)
	journalFiles := []string{journal.LockPath(out), journal.MarkerPath(out), journal.MarkerPath(out) + ".tmp"}

	t.Run("refused as --out", func(t *testing.T) {
		for _, p := range append(journalFiles, placement.Temp, placement.Witness) {
			res := create("first", p)
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, "is a name sesmtp keeps for itself")
			assert.NoFileExists(t, p)
		}
		res := runCLI(t, "", "rotate", "--user", "bystander", "--strategy", "key", "--region", matrixRegion, "--endpoint-url", e.URL, "--out", journal.LockPath(out))
		assert.Equal(t, exitcode.Usage, res.code, res.stderr)
		assert.Contains(t, res.stderr, "is a name sesmtp keeps for itself")
		_, made := srv.User("first")
		assert.False(t, made, "nothing was created")
	})

	t.Run("a file already there is left as it is", func(t *testing.T) {
		other := filepath.Join(dir, "other.csv")
		res := create("first", other)
		require.Equal(t, exitcode.OK, res.code, res.stderr)
		creds, err := os.ReadFile(other)
		require.NoError(t, err)
		for _, p := range journalFiles {
			require.NoError(t, os.WriteFile(p, creds, 0o600))
			res := create("second", out)
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, "holds something else")
			data, err := os.ReadFile(p)
			require.NoError(t, err, "%s is left where it is", p)
			assert.Equal(t, creds, data, "%s is left as it was", p)
			assert.NoFileExists(t, out)
			require.NoError(t, os.Remove(p))
		}
		_, made := srv.User("second")
		assert.False(t, made, "nothing was created")
		res = create("second", out)
		assert.Equal(t, exitcode.OK, res.code, "once moved away, the run goes on: %s", res.stderr)
	})

	t.Run("a batch sender whose file is a journal name", func(t *testing.T) {
		manifest := filepath.Join(t.TempDir(), "senders.txt")
		require.NoError(t, os.WriteFile(manifest, []byte("s1\n.creds.csv.tmp-x\n"), 0o600))
		res := runCLI(t, "", "create", "--from-file", manifest, "--out-dir", dir, "--region", matrixRegion, "--endpoint-url", e.URL)
		assert.Equal(t, exitcode.Usage, res.code, res.stderr)
		assert.Contains(t, res.stderr, "line 2: ")
		assert.Contains(t, res.stderr, "is a name sesmtp keeps for itself")
		_, made := srv.User("s1")
		assert.False(t, made, "nothing was created")
	})

	t.Run("a store journal's lock", func(t *testing.T) {
		spec := "secretsmanager:lockpath/smtp"
		target, err := store.ParseTarget(spec)
		require.NoError(t, err)
		place := journal.StorePlace(os.Getenv(journal.EnvStateDir), store.Location{Target: target, Region: matrixRegion}, journal.StoreIdentity{Endpoint: e.URL})
		lock := journal.LockPath(place)
		res := create("third", lock)
		assert.Equal(t, exitcode.Usage, res.code, res.stderr)
		require.NoError(t, os.MkdirAll(filepath.Dir(lock), 0o700))
		require.NoError(t, os.WriteFile(lock, []byte("not a lock\n"), 0o600))
		res = storeCLI(t, e, "create", "--user", "third", "--region", matrixRegion, "--store", spec)
		assert.Equal(t, exitcode.Usage, res.code, res.stderr)
		assert.Contains(t, res.stderr, "holds something else")
		data, err := os.ReadFile(lock)
		require.NoError(t, err)
		assert.Equal(t, "not a lock\n", string(data))
		_, made := srv.User("third")
		assert.False(t, made, "nothing was created")
		require.NoError(t, os.Remove(lock))
	})
}

// TestAttack3RecoveryFailsPartWay (was a BREAK): a create killed before
// its delivery; the rerun's recovery removes the dead run's key and
// policy, then IAM refuses DeleteUser (AccessDenied: an operator policy
// without it, or a persistent failure). The run changed IAM and left a
// user behind, and exited 1 without a command: now exit 4 with what
// remains and the command that removes it; the dead run's record stays,
// so the same command, once DeleteUser is allowed, finishes the removal
// and goes on.
func TestAttack3RecoveryFailsPartWay(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	out := filepath.Join(t.TempDir(), "a.csv")
	killedCreate(t, e.URL, "target", out, credfile.StepTempWritten+"#1")
	srv.Inject(iamtest.Fault{Action: "DeleteUser", Kind: iamtest.FailBefore, Code: "AccessDenied"})
	res := sesmtpProcess(t, e.URL, "create", "--user", "target", "--region", matrixRegion, "--out", out)
	t.Logf("rerun: exit %d\n%s", res.code, res.stderr)
	u, left := srv.User("target")
	require.True(t, left)
	assert.Empty(t, u.AccessKeys)
	assert.Equal(t, exitcode.LeftBehind, res.code, "the recovery removed the key and policy and left the user")
	assert.Contains(t, res.stderr, `Left behind: user "target". Remove it with: sesmtp delete --user target`, "exit 4 names what remains and the command that removes it")
	assert.FileExists(t, journal.MarkerPath(out), "the record stays for the next run")

	srv.ClearFaults()
	res = sesmtpProcess(t, e.URL, "create", "--user", "target", "--region", matrixRegion, "--out", out)
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	assert.Contains(t, res.stderr, `removed what it made and had not delivered: user "target"`)
	assert.Equal(t, keyIDsOfUser(srv, "target"), []string{fileKey(t, out)})
}

// TestAttack3BatchManifestEditedAfterKill: a batch is killed while its
// second sender's key exists and its file (or secret) does not yet. The
// operator drops that sender from the manifest (it was a mistake) and
// reruns the batch on the same --out-dir (or --store). The rerun used to
// recover only the senders the new manifest names: the dead sender's
// marker was never read, its user and undelivered key stayed in IAM, and
// the batch exited 0 without a word about them. Fixed: the batch records
// every sender in its own marker before any starts; a rerun recovers each
// one the dead batch recorded, listed or not, and says so.
func TestAttack3BatchManifestEditedAfterKill(t *testing.T) {
	for _, tc := range []struct {
		name string
		dest func(url, root string) []string
		kill string // a journal step, or "" to kill after the second CreateAccessKey
	}{
		{"files", func(url, root string) []string { return []string{"--out-dir", filepath.Join(root, "out")} }, credfile.StepTempWritten + "#2"},
		{"store", func(url, root string) []string {
			return []string{"--store", "ssm:/dropped/{user}", "--store-endpoint-url", url}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			root := t.TempDir()
			manifest := filepath.Join(root, "senders.txt")
			require.NoError(t, os.WriteFile(manifest, []byte("first\nsecond\n"), 0o600))
			args := append([]string{"create", "--from-file", manifest, "--concurrency", "1", "--region", matrixRegion}, tc.dest(e.URL, root)...)
			killed := append(slices.Clone(args), "--endpoint-url", e.URL)
			if tc.kill != "" {
				c := subprocess(t, killed...)
				c.Env = mainEnv(killAtEnv + "=" + tc.kill)
				var exit *exec.ExitError
				require.True(t, errors.As(c.Run(), &exit), "the run was killed")
			} else {
				runKilled(t, killed, func(kill func()) {
					srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Nth: 2, Kind: iamtest.Delay, OnPerformed: func(iamtest.Call) { kill() }})
				})
				srv.ClearFaults()
			}
			require.Len(t, keyIDsOfUser(srv, "second"), 1, "the killed sender's undelivered key")

			require.NoError(t, os.WriteFile(manifest, []byte("first\n"), 0o600))
			res := sesmtpProcess(t, e.URL, args...)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			_, left := srv.User("second")
			assert.False(t, left, "the dead run's user \"second\" and its undelivered key (no file or store has its secret) stay")
			assert.Contains(t, res.stderr, "sender second, no longer in the manifest")
			assert.Len(t, keyIDsOfUser(srv, "first"), 1)
			assertStoresNameHeldKeys(t, srv)
			if tc.kill != "" {
				entries, err := os.ReadDir(filepath.Join(root, "out"))
				require.NoError(t, err)
				for _, en := range entries {
					assert.Equal(t, "first.csv", en.Name(), "only the first sender's file is left")
				}
			} else {
				assertNoStoreJournal(t, e.URL)
			}
		})
	}
}

// TestAttack3ConcurrentAliasedPaths holds: a second create on the same
// file named another way (./sub/../creds.csv, or through a symbolic link
// to the directory) while the first is inside its CreateUser: the lock is
// the same file, so the second exits 2 at once and changes nothing.
func TestAttack3ConcurrentAliasedPaths(t *testing.T) {
	for _, alias := range []string{"sub/../creds.csv", "link/creds.csv"} {
		t.Run(alias, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			dir := t.TempDir()
			require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
			require.NoError(t, os.Symlink(dir, filepath.Join(dir, "link")))
			var second result
			srv.Inject(iamtest.Fault{Action: "CreateUser", Kind: iamtest.Delay, OnPerformed: func(iamtest.Call) {
				second = sesmtpProcess(t, e.URL, "create", "--user", "other", "--region", matrixRegion, "--out", filepath.Join(dir, alias))
			}})
			first := sesmtpProcess(t, e.URL, "create", "--user", "target", "--region", matrixRegion, "--out", filepath.Join(dir, "creds.csv"))
			require.Equal(t, exitcode.OK, first.code, first.stderr)
			assert.Equal(t, exitcode.Usage, second.code, second.stderr)
			assert.Contains(t, second.stderr, "in use by another sesmtp run")
			_, made := srv.User("other")
			assert.False(t, made)
		})
	}
}
