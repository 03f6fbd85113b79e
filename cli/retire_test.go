package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// runCLIAt runs sesmtp in-process at time now, with a terminal (answering
// stdin) if interactive: retire's grace is tested with a clock, not sleeps.
func runCLIAt(t testing.TB, now time.Time, interactive bool, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), append([]string{"sesmtp"}, args...), stdio{
		in: strings.NewReader(stdin), out: &out, err: &errOut, now: func() time.Time { return now },
		resolver: resolvesAll{}, interactive: interactive,
	})
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func retireArgs(e *iamtest.Endpoint, extra ...string) []string {
	return append([]string{"retire", "--endpoint-url", e.URL}, extra...)
}

// pendingUser is a user phase 1 left: its old key (pending retirement
// since fixedNow, or as tag says) and the new one.
func pendingUser(name, tag string) iamtest.User {
	u := consoleUser(name)
	old := u.AccessKeys[0].ID
	u.Tags = []iamtest.Tag{{Key: provision.TagManagedBy, Value: provision.ManagedByValue}}
	if tag == "" {
		tag = old + "@2026-11-28T12:00:00Z"
	}
	u.Tags = append(u.Tags, iamtest.Tag{Key: provision.TagRetire, Value: tag})
	u.AccessKeys = append(u.AccessKeys, iamtest.AccessKey{ID: "AKIANEWKEY" + strings.Repeat("0", 9) + name[len(name)-1:],
		SecretAccessKey: "new-secret-" + name, Created: fixedNow})
	return u
}

// TestRetireTwoPhases: phase 1 leaves two active keys and a recorded
// retirement; phase 2 refuses while the old key was used within
// --if-unused-for, then deactivates it, waits out --grace (a clock, no
// sleep), deletes it and removes the record; the new key never changes.
func TestRetireTwoPhases(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	iamClock(e, fixedNow)
	srv.PutUser(consoleUser("target"))
	oldKey := consoleUser("target").AccessKeys[0].ID
	out := filepath.Join(t.TempDir(), "new.csv")
	res := runCLI(t, "", rotateArgs(e, out, "--strategy", "key")...)
	require.Equal(t, 0, res.code, res.stderr)
	u, _ := srv.User("target")
	require.Len(t, u.AccessKeys, 2)
	newKey := u.AccessKeys[1]
	assertFileHoldsKey(t, out, newKey, "eu-west-1")

	// A sender used the old password an hour ago: refused, nothing changed.
	srv.SetKeyLastUsed(oldKey, fixedNow.Add(-time.Hour), "ses", "eu-west-1")
	before := snapshot(srv)
	res = runCLI(t, "", retireArgs(e, "--user", "target", "--if-unused-for", "24h")...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "was last used 2026-11-28T11:00:00Z (service ses, region eu-west-1), within --if-unused-for 24h")
	assert.Contains(t, res.stderr, "Nothing was changed")
	assert.Equal(t, before, snapshot(srv))

	// Two days later nothing used it: deactivated, and recorded.
	srv.SetKeyLastUsed(oldKey, fixedNow.Add(-48*time.Hour), "ses", "eu-west-1")
	day := fixedNow.Add(24 * time.Hour)
	iamClock(e, day)
	res = runCLIAt(t, day, false, "", retireArgs(e, "--user", "target", "--if-unused-for", "24h", "--grace", "7d")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Regexp(t, `target\s+`+oldKey+`\s+deactivated\s+sesmtp retire --user target \(deletes from 2026-12-06 12:00 UTC\)`, res.stdout)
	assert.Contains(t, res.stderr, "aws iam update-access-key --user-name target --access-key-id "+oldKey+" --status Active")
	u, _ = srv.User("target")
	require.Len(t, u.AccessKeys, 2)
	assert.Equal(t, "Inactive", u.AccessKeys[0].Status)
	assert.Equal(t, newKey.ID, u.AccessKeys[1].ID)
	assert.Equal(t, "Active", u.AccessKeys[1].Status)
	assert.Contains(t, u.Tags, iamtest.Tag{Key: provision.RetireTagKey(oldKey), Value: oldKey + "@2026-11-28T12:00:00Z/deactivated@2026-11-29T12:00:00Z"})

	// Within the grace: nothing changes, the run says when.
	before = snapshot(srv)
	iamClock(e, day.Add(6*24*time.Hour))
	res = runCLIAt(t, day.Add(6*24*time.Hour), false, "", retireArgs(e, "--user", "target", "--grace", "7d")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "inactive, waiting for its grace")
	assert.Contains(t, res.stdout, "deletes from 2026-12-06 12:00 UTC")
	assert.Equal(t, before, snapshot(srv))

	// After it: a delete needs --yes off a terminal.
	later := day.Add(7 * 24 * time.Hour)
	iamClock(e, later)
	res = runCLIAt(t, later, false, "", retireArgs(e, "--user", "target", "--grace", "7d")...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "pass --yes")
	assert.Equal(t, before, snapshot(srv))
	res = runCLIAt(t, later, false, "", retireArgs(e, "--user", "target", "--grace", "7d", "--yes", "--output", "json")...)
	require.Equal(t, 0, res.code, res.stderr)
	var sum provision.RetireSummary
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &sum))
	require.Len(t, sum.Outcomes, 1)
	assert.Equal(t, provision.RetireStepDelete, sum.Outcomes[0].Step)
	assert.True(t, sum.Outcomes[0].Done)
	u, _ = srv.User("target")
	require.Len(t, u.AccessKeys, 1)
	assert.Equal(t, newKey.ID, u.AccessKeys[0].ID)
	assert.Equal(t, []iamtest.Tag(nil), retireTags(u), "the record is removed with the key")
	assertFileHoldsKey(t, out, u.AccessKeys[0], "eu-west-1")

	// Done: a rerun finds nothing, and a new rotation may begin.
	res = runCLIAt(t, later, false, "", retireArgs(e, "--user", "target")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "nothing pending")
	res = runCLI(t, "", rotateArgs(e, filepath.Join(t.TempDir(), "third.csv"), "--strategy", "key")...)
	require.Equal(t, 0, res.code, res.stderr)
}

// iamClock sets the local endpoint's clock (the Date of its answers,
// which sesmtp records in retirement tags and measures --grace by) to now.
// An external endpoint keeps its own.
func iamClock(e *iamtest.Endpoint, now time.Time) {
	if e.Server != nil {
		e.Server.SetClock(func() time.Time { return now })
	}
}

// assertRetireRecord checks that u records key id pending retirement in
// its own tag (sesmtp:retire:ID) with the time of IAM's clock, which
// iamClock set to fixedNow on the local endpoint (an external one's is
// its own), and deactivated then too if deactivated.
func assertRetireRecord(t *testing.T, e *iamtest.Endpoint, u iamtest.User, id string, deactivated bool) {
	t.Helper()
	at := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`
	if e.Server != nil {
		at = regexp.QuoteMeta(fixedNow.Format(time.RFC3339))
	}
	want := regexp.QuoteMeta(id) + "@(" + at + ")"
	if deactivated {
		want += "/deactivated@(" + at + ")"
	}
	tags := tagsNamed(u, provision.RetireTagKey(id))
	if assert.Len(t, tags, 1, "the retirement of %s is recorded in its own tag", id) {
		m := regexp.MustCompile("^" + want + "$").FindStringSubmatch(tags[0].Value)
		if assert.NotNil(t, m, "tag value %q", tags[0].Value) && deactivated {
			assert.Equal(t, m[1], m[2], "deactivated when the rotation began")
		}
	}
}

// retireTags are u's records of keys pending retirement: a tag of each
// key (sesmtp:retire:KEYID), or the single sesmtp:retire earlier versions wrote.
func retireTags(u iamtest.User) []iamtest.Tag {
	var out []iamtest.Tag
	for _, tag := range u.Tags {
		if provision.IsRetireTag(tag.Key) {
			out = append(out, tag)
		}
	}
	return out
}

func tagsNamed(u iamtest.User, key string) []iamtest.Tag {
	var out []iamtest.Tag
	for _, tag := range u.Tags {
		if tag.Key == key {
			out = append(out, tag)
		}
	}
	return out
}

// TestRetireRefusals: each refusal exits 2 before any change, saying why.
func TestRetireRefusals(t *testing.T) {
	only := consoleUser("lone1")
	only.Tags = []iamtest.Tag{{Key: provision.TagRetire, Value: only.AccessKeys[0].ID + "@2026-11-28T12:00:00Z"}}
	deactivatedAlone := pendingUser("lone2", "")
	deactivatedAlone.AccessKeys[0].Status = "Inactive"
	deactivatedAlone.AccessKeys = deactivatedAlone.AccessKeys[:1]
	tests := []struct {
		name string
		user iamtest.User
		want string
	}{
		{"the only active key", only, "holds no active access key besides"},
		{"an inactive key and no active one", deactivatedAlone, "holds no active access key besides"},
		{"a tag sesmtp cannot read", pendingUser("bad1", "AKIA@yesterday"), "is not KEYID@TIME"},
		{"a tag with a separator IAM refuses", pendingUser("bad2", "AKIAAAAAAAAAAAAAAAAA;2026"), "sesmtp does not guess"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			srv.PutUser(tt.user)
			before := snapshot(srv)
			res := runCLI(t, "", retireArgs(e, "--user", tt.user.Name, "--yes")...)
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, tt.want)
			assert.Contains(t, res.stderr, "Nothing was changed")
			assert.Equal(t, before, snapshot(srv))
		})
	}
	t.Run("no such user", func(t *testing.T) {
		e := iamtest.Start(t)
		res := runCLI(t, "", retireArgs(e, "--user", "ghost")...)
		assert.Equal(t, exitcode.Usage, res.code, res.stderr)
		assert.Contains(t, res.stderr, `no IAM user "ghost": nothing to retire`)
	})
}

// TestRetireKeyAlreadyGone: a record naming a key deleted by hand (or by a
// run that died before removing the record) is removed; nothing else is.
func TestRetireKeyAlreadyGone(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	u := pendingUser("gone1", "")
	u.AccessKeys = u.AccessKeys[1:]
	srv.PutUser(u)
	res := runCLI(t, "", retireArgs(e, "--user", "gone1")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "already gone: record removed")
	got, _ := srv.User("gone1")
	assert.Empty(t, retireTags(got))
	require.Len(t, got.AccessKeys, 1)
	assert.Equal(t, u.AccessKeys[0].ID, got.AccessKeys[0].ID)
	assert.Equal(t, "Active", got.AccessKeys[0].Status, "the new key is never touched")
}

// TestRetireBatches: --all-pending finds the pending users under the
// path, --from-file takes a manifest's users; one user in use refuses the
// whole run, unless --skip-in-use; users not named are never touched.
func TestRetireBatches(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	for _, name := range []string{"p1", "p2", "p3"} {
		u := pendingUser(name, "")
		u.Path = "/sesmtp/"
		srv.PutUser(u)
	}
	outside := pendingUser("o4", "")
	srv.PutUser(outside)
	plain := consoleUser("q5")
	plain.Path = "/sesmtp/"
	srv.PutUser(plain)
	srv.SetKeyLastUsed(consoleUser("p2").AccessKeys[0].ID, fixedNow.Add(-time.Hour), "ses", "eu-west-1")
	before := snapshot(srv)

	res := runCLI(t, "", retireArgs(e, "--all-pending", "--path-prefix", "/sesmtp/", "--if-unused-for", "24h")...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, `IAM user "p2" was last used`)
	assert.Equal(t, before, snapshot(srv), "one refusal refuses the run")

	res = runCLI(t, "", retireArgs(e, "--all-pending", "--path-prefix", "/sesmtp/", "--if-unused-for", "24h", "--skip-in-use", "--output", "json")...)
	require.Equal(t, 0, res.code, res.stderr)
	var sum provision.RetireSummary
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &sum))
	status := map[string]string{}
	for _, o := range sum.Outcomes {
		status[o.UserName] = o.Status
	}
	assert.Equal(t, map[string]string{"p1": "deactivated", "p2": "in use: skipped", "p3": "deactivated"}, status)
	for name, want := range map[string]string{"p1": "Inactive", "p2": "Active", "p3": "Inactive", "o4": "Active", "q5": "Active"} {
		u, _ := srv.User(name)
		assert.Equal(t, want, u.AccessKeys[0].Status, name)
	}

	manifest := filepath.Join(t.TempDir(), "senders.csv")
	require.NoError(t, os.WriteFile(manifest, []byte("user,from_address\np1,a@example.com\no4,\n"), 0o600))
	res = runCLI(t, "", retireArgs(e, "--from-file", manifest, "--yes")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Regexp(t, `p1\s+\S+\s+deleted`, res.stdout)
	assert.Regexp(t, `o4\s+\S+\s+deactivated`, res.stdout)
	p1, _ := srv.User("p1")
	assert.Len(t, p1.AccessKeys, 1)
	o4, _ := srv.User("o4")
	assert.Equal(t, "Inactive", o4.AccessKeys[0].Status)
	p3, _ := srv.User("p3")
	assert.Len(t, p3.AccessKeys, 2, "not in the manifest")

	res = runCLI(t, "", retireArgs(e, "--all-pending", "--path-prefix", "/nobody/")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "no retirement pending under /nobody/")
}

// TestRetireDryRunAndConfirmation: --dry-run reads and changes nothing; on
// a terminal a delete is asked about, and "n" changes nothing.
func TestRetireDryRunAndConfirmation(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	u := pendingUser("d1", "AKIACCCCCCCCCCCCCCC1@2026-11-20T12:00:00Z/deactivated@2026-11-21T12:00:00Z")
	u.AccessKeys[0].Status = "Inactive"
	srv.PutUser(u)
	srv.PutUser(pendingUser("d2", ""))
	before := snapshot(srv)

	res := runCLI(t, "", retireArgs(e, "--all-pending", "--dry-run", "--output", "json")...)
	require.Equal(t, 0, res.code, res.stderr)
	var sum provision.RetireSummary
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &sum))
	assert.True(t, sum.DryRun)
	require.Len(t, sum.Outcomes, 2)
	assert.Equal(t, "would delete", sum.Outcomes[0].Status)
	assert.Equal(t, "would deactivate", sum.Outcomes[1].Status)
	assert.Equal(t, before, snapshot(srv))

	res = runCLIAt(t, fixedNow, true, "n\n", retireArgs(e, "--all-pending")...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "access key AKIACCCCCCCCCCCCCCC1 of IAM user d1 (inactive since 2026-11-21T12:00:00Z)")
	assert.Contains(t, res.stderr, "aborted: nothing was changed")
	assert.Equal(t, before, snapshot(srv))

	res = runCLIAt(t, fixedNow, true, "y\n", retireArgs(e, "--all-pending")...)
	require.Equal(t, 0, res.code, res.stderr)
	d1, _ := srv.User("d1")
	assert.Len(t, d1.AccessKeys, 1)
	d2, _ := srv.User("d2")
	assert.Equal(t, "Inactive", d2.AccessKeys[0].Status)
}

// TestRetireBadInput: flags that cannot work exit 2 before any call.
func TestRetireBadInput(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	tests := []struct {
		args []string
		want string
	}{
		{nil, "one of --user NAME, --from-file MANIFEST or --all-pending"},
		{[]string{"--user", "a", "--all-pending"}, "one of --user NAME"},
		{[]string{"--user", "a", "--grace", "3m"}, "minutes or months"},
		{[]string{"--user", "a", "--grace", "1.5d"}, "--grace \"1.5d\""},
		{[]string{"--user", "a", "--if-unused-for", "soon"}, "--if-unused-for \"soon\""},
		{[]string{"--user", "a", "--skip-in-use"}, "--skip-in-use goes with --if-unused-for"},
		{[]string{"--user", "a", "--path-prefix", "/x/"}, "--path-prefix goes with --all-pending"},
		{[]string{"--user", "bad name"}, "characters IAM rejects"},
		{[]string{"--from-file", "/nonexistent/manifest.csv"}, "--from-file"},
		{[]string{"--user", "a", "--concurrency", "0"}, "--concurrency must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			res := runCLI(t, "", retireArgs(e, tt.args...)...)
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, tt.want)
		})
	}
	assert.Zero(t, srv.CallCount(""), "nothing attempted")
}

// TestRetireStopsPartWay: a step that stops after its first IAM change
// exits 4 saying what is left, and running the command again finishes it.
func TestRetireStopsPartWay(t *testing.T) {
	tests := []struct {
		name, action string
		inactive     bool
		want         string
	}{
		{"deactivated, not recorded", "TagUser", false, "tag sesmtp:retire does not record when"},
		{"deleted, record left", "UntagUser", true, "still names access key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			iamClock(e, fixedNow)
			u := pendingUser("s1", "")
			if tt.inactive {
				u = pendingUser("s1", u.AccessKeys[0].ID+"@2026-11-20T12:00:00Z/deactivated@2026-11-21T12:00:00Z")
				u.AccessKeys[0].Status = "Inactive"
			}
			srv.PutUser(u)
			srv.Inject(iamtest.Fault{Action: tt.action, Kind: iamtest.FailBefore, Count: 20})
			res := runCLI(t, "", retireArgs(e, "--user", "s1", "--yes", "--max-backoff", "5ms")...)
			assert.Equal(t, exitcode.LeftBehind, res.code, res.stderr)
			assert.Contains(t, res.stderr, tt.want)
			assert.Contains(t, res.stderr, "Run the same command again to finish it")
			srv.ClearFaults()
			res = runCLI(t, "", retireArgs(e, "--user", "s1", "--yes")...)
			require.Equal(t, 0, res.code, res.stderr)
			got, _ := srv.User("s1")
			if tt.inactive {
				assert.Len(t, got.AccessKeys, 1)
				assert.Empty(t, retireTags(got))
			} else {
				assert.Equal(t, "Inactive", got.AccessKeys[0].Status)
				assert.Contains(t, retireTags(got)[0].Value, "/deactivated@2026-11-28T12:00:00Z")
			}
		})
	}
}

// TestListPendingRetirement: list shows which key is pending retirement,
// since when and whether it is deactivated, and which keys are in use
// (last used within --in-use-within), in the table and in JSON.
func TestListPendingRetirement(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(pendingUser("r1", ""))
	r2 := pendingUser("r2", "AKIACCCCCCCCCCCCCCC2@2026-11-20T12:00:00Z/deactivated@2026-11-21T08:30:00Z")
	r2.AccessKeys[0].Status = "Inactive"
	srv.PutUser(r2)
	srv.SetKeyLastUsed("AKIACCCCCCCCCCCCCCC1", fixedNow.Add(-2*time.Hour), "ses", "eu-west-1")
	srv.SetKeyLastUsed("AKIANEWKEY0000000001", fixedNow.Add(-30*time.Hour), "ses", "eu-west-1")

	res := runCLI(t, "", "list", "--endpoint-url", e.URL)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, strings.Split(res.stdout, "\n")[0], "NOTE")
	assert.Regexp(t, `r1 .*AKIACCCCCCCCCCCCCCC1\s+Active .*ses eu-west-1\s+in use; retiring since 2026-11-28 12:00\n`, res.stdout)
	assert.Regexp(t, `r1 .*AKIANEWKEY0000000001\s+Active .*ses eu-west-1\s+-\n`, res.stdout, "30 hours ago is not within 24h")
	assert.Regexp(t, `r2 .*AKIACCCCCCCCCCCCCCC2\s+Inactive .*never\s+retiring since 2026-11-20 12:00, deactivated 2026-11-21 08:30\n`, res.stdout)

	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--in-use-within", "2d", "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var users []provision.ListedUser
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &users))
	require.Len(t, users, 2)
	require.NotNil(t, users[0].PendingRetirement)
	assert.Equal(t, "AKIACCCCCCCCCCCCCCC1", users[0].PendingRetirement.AccessKeyID)
	assert.True(t, users[0].PendingRetirement.Deactivated.IsZero())
	assert.True(t, users[0].Keys[0].Retiring)
	assert.True(t, users[0].Keys[1].InUse, "30 hours ago is within 2d")
	assert.False(t, users[0].Keys[1].Retiring)
	assert.Equal(t, time.Date(2026, 11, 21, 8, 30, 0, 0, time.UTC), users[1].PendingRetirement.Deactivated)

	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--in-use-within", "0")
	assert.Equal(t, exitcode.Usage, res.code)
}

// TestRotateKeyKilledBeforeTheRecord: phase 1 killed after delivering the
// new key and before recording the old key's retirement leaves two active
// keys and no record; the rerun on the same file records it (the journal's
// recovery) and changes nothing else.
func TestRotateKeyKilledBeforeTheRecord(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(consoleUser("target"))
	out := filepath.Join(t.TempDir(), "new.csv")
	args := rotateArgs(e, out, "--strategy", "key")
	c := subprocess(t, args...)
	c.Env = append(mainEnv(), killAtEnv+"=delivered#1")
	err := c.Run()
	require.Error(t, err, "killed")
	u, _ := srv.User("target")
	require.Len(t, u.AccessKeys, 2)
	assert.Empty(t, retireTags(u), "killed before the record")
	assertFileHoldsKey(t, out, u.AccessKeys[1], "eu-west-1")

	res := runCLI(t, "", args...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "recorded old access key "+u.AccessKeys[0].ID+" as pending retirement")
	assert.Contains(t, res.stderr, "Nothing more to do")
	got, _ := srv.User("target")
	assert.Equal(t, u.AccessKeys, got.AccessKeys)
	require.Len(t, retireTags(got), 1)
	assert.True(t, strings.HasPrefix(retireTags(got)[0].Value, u.AccessKeys[0].ID+"@"))
}

// TestRotateKeyRecordFails: phase 1 whose record cannot be written keeps
// the delivered key (exit 4, saying what is missing and how to finish),
// and running the same command again records it and changes nothing else.
func TestRotateKeyRecordFails(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	iamClock(e, fixedNow)
	srv.PutUser(consoleUser("target"))
	out := filepath.Join(t.TempDir(), "new.csv")
	args := append(rotateArgs(e, out, "--strategy", "key"), "--max-backoff", "5ms")
	srv.Inject(iamtest.Fault{Action: "TagUser", Kind: iamtest.FailBefore, Count: 20})
	res := runCLI(t, "", args...)
	assert.Equal(t, exitcode.LeftBehind, res.code, res.stderr)
	assert.Contains(t, res.stderr, "its pending retirement could not be recorded")
	assert.Contains(t, res.stderr, "Run the same command again")
	assert.Contains(t, res.stderr, "aws iam tag-user --user-name target --tags Key=sesmtp:retire:AKIACCCCCCCCCCCCCCCt,Value=AKIACCCCCCCCCCCCCCCt@2026-11-28T12:00:00Z")
	u, _ := srv.User("target")
	require.Len(t, u.AccessKeys, 2)
	assertFileHoldsKey(t, out, u.AccessKeys[1], "eu-west-1")

	srv.ClearFaults()
	res = runCLI(t, "", args...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "Nothing more to do")
	got, _ := srv.User("target")
	assert.Equal(t, u.AccessKeys, got.AccessKeys)
	assertRetireRecord(t, e, got, "AKIACCCCCCCCCCCCCCCt", false)
}
