package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/store"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// storeCLI runs sesmtp against e with its store endpoint, --verbose so
// that the request log is checked for secrets too.
func storeCLI(t *testing.T, e *iamtest.Endpoint, args ...string) result {
	t.Helper()
	res := runCLI(t, "", append(args, "--endpoint-url", e.URL, "--store-endpoint-url", e.URL, "--max-backoff", "5ms", "--verbose")...)
	assertNoSecrets(t, e, res.stdout, res.stderr)
	return res
}

// TestStoreLifecycle: create delivers to each kind of store and tags the
// user; verify --store reads it back and authenticates; both rotation
// strategies write a new version to the tagged store without --store;
// delete leaves the store (and says how to remove it) unless
// --delete-stored, which the follow-up command does.
func TestStoreLifecycle(t *testing.T) {
	for _, spec := range []string{"secretsmanager:billing/smtp", "ssm:/billing/smtp", "ssm:/billing/smtp/"} {
		t.Run(spec, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			bystanderSecret(srv)
			smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, matrixRegion)})

			res := storeCLI(t, e, "create", "--user", "billing", "--region", matrixRegion, "--store", spec)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			assert.NoFileExists(t, "credentials.csv", "--store replaces the file")
			assert.Contains(t, res.stderr, "Next: sesmtp verify --store "+spec+" --store-region "+matrixRegion)
			first := assertStoreHolds(t, srv, spec, "billing")

			res = storeCLI(t, e, "verify", "--store", spec, "--store-region", matrixRegion, "--endpoint", smtp.Addr, "--ca-file", smtp.CAFile)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			assert.Contains(t, res.stdout, "credentials accepted")

			res = storeCLI(t, e, "rotate", "--user", "billing", "--strategy", "key", "--region", matrixRegion)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			second := assertStoreHolds(t, srv, spec, "billing")
			assert.NotEqual(t, first, second)
			assert.Len(t, mustUser(t, srv, "billing").AccessKeys, 2, "phase 1: the old key stays until retire")
			if strings.HasPrefix(spec, "secretsmanager:") {
				sec, _ := srv.Secret("billing/smtp")
				prev, ok := sec.Stage(iamtest.StagePrevious)
				require.True(t, ok, "rotation writes a new version; the old one is AWSPREVIOUS")
				assert.Contains(t, prev.Value, first)
			}

			res = storeCLI(t, e, "rotate", "--user", "billing", "--yes", "--region", matrixRegion)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			third := assertStoreHolds(t, srv, spec, "billing")
			assert.NotEqual(t, second, third)
			assert.Equal(t, third, mustUser(t, srv, "billing").AccessKeys[0].ID, "recreate: one key")

			if strings.HasSuffix(spec, "/") {
				res = storeCLI(t, e, "delete", "--user", "billing", "--yes", "--delete-stored")
				require.Equal(t, exitcode.OK, res.code, res.stderr)
				assert.Equal(t, 4, srv.CallCount("ssm:DeleteParameter"), "the tag names the store; every parameter goes")
			} else {
				res = storeCLI(t, e, "delete", "--user", "billing", "--yes")
				require.Equal(t, exitcode.OK, res.code, res.stderr)
				cleanup := "sesmtp delete --user billing --store " + spec + " --store-region " + matrixRegion + " --delete-stored --ignore-missing --yes"
				assert.Contains(t, res.stderr, "remain there")
				assert.Contains(t, res.stderr, cleanup)
				assert.NotEmpty(t, storedEntries(t, srv), "without --delete-stored the store stays")
				res = storeCLI(t, e, strings.Fields(cleanup)[1:]...)
				require.Equal(t, exitcode.OK, res.code, res.stderr)
			}
			for _, en := range storedEntries(t, srv) {
				assert.Contains(t, en.where, "bystander", "only the bystander's secret is left: %s", en.where)
			}
			if strings.HasPrefix(spec, "secretsmanager:") {
				sec, ok := srv.Secret("billing/smtp")
				require.True(t, ok, "a deleted secret stays restorable for its recovery window")
				assert.WithinDuration(t, time.Now().AddDate(0, 0, 30), sec.DeletionDate, 48*time.Hour)
				assert.Contains(t, res.stderr, "aws secretsmanager restore-secret --secret-id billing/smtp")
			}
		})
	}
}

// TestStoreAndFile: --out with --store writes both; a rotation of the
// tagged user with --out writes the file and the store.
func TestStoreAndFile(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := t.TempDir()
	spec := "secretsmanager:app/smtp"
	res := storeCLI(t, e, "create", "--user", "app", "--region", matrixRegion, "--store", spec, "--out", filepath.Join(dir, "app.env"),
		"--format", "env", "--output", "json")
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	var out struct{ File, Store, AccessKeyID string }
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out))
	assert.Equal(t, filepath.Join(dir, "app.env"), out.File)
	assert.Equal(t, spec+" ("+matrixRegion+")", out.Store)
	assertStoreHolds(t, srv, spec, "app")
	assertKeysAndFilesAgree(t, srv, dir, nil)

	res = storeCLI(t, e, "rotate", "--user", "app", "--strategy", "key", "--region", matrixRegion, "--out", filepath.Join(dir, "new.csv"))
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	stored := assertStoreHolds(t, srv, spec, "app")
	ids, _, err := credfile.KeyIDs(filepath.Join(dir, "new.csv"))
	require.NoError(t, err)
	assert.Equal(t, []string{stored}, ids, "the file and the store hold the new key")
}

// TestStoreVerifyRejectedRetracts: when --verify fails, the store write is
// taken back with the key: a created secret is gone, an updated one holds
// the old key again.
func TestStoreVerifyRejectedRetracts(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: func(string, string) bool { return false }})
	verifyFlags := []string{"--verify", "--smtp-endpoint", smtp.Addr, "--ca-file", smtp.CAFile, "--verify-wait", "0s"}

	res := storeCLI(t, e, append([]string{"create", "--user", "new", "--region", matrixRegion, "--store", "secretsmanager:new/smtp"}, verifyFlags...)...)
	assert.Equal(t, exitcode.Rejected, res.code, res.stderr)
	_, ok := srv.User("new")
	assert.False(t, ok, "the user is rolled back")
	_, ok = srv.Secret("new/smtp")
	assert.False(t, ok, "the secret the run created is removed")

	storeUser(srv, "secretsmanager:"+matrixSecret)
	old := mustUser(t, srv, "target").AccessKeys[0].ID
	res = storeCLI(t, e, append([]string{"rotate", "--user", "target", "--strategy", "key", "--region", matrixRegion}, verifyFlags...)...)
	assert.Equal(t, exitcode.Rejected, res.code, res.stderr)
	u := mustUser(t, srv, "target")
	require.Len(t, u.AccessKeys, 1)
	assert.Equal(t, old, u.AccessKeys[0].ID, "the old key stays, the new one is gone")
	assertStoreHolds(t, srv, "secretsmanager:"+matrixSecret, "target")
	assertKeysAndFilesAgree(t, srv, t.TempDir(), map[string]bool{"AKIABYSTANDER0000001": true})
}

// TestStoreBadInput: each is refused with exit 2 before anything changes.
func TestStoreBadInput(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	storeUser(srv, "secretsmanager:"+matrixSecret)
	srv.PutUser(consoleUser("plain1"))
	deliverFor(srv, "secretsmanager:taken/smtp", "someone-else", iamtest.AccessKey{ID: "AKIAOTHER00000000001", SecretAccessKey: "other-secret"})
	manifest := writeFile(t, "senders.txt", "s1\ns2\n")
	commaManifest := writeFile(t, "comma.csv", "user\n\"a,b\"\n")
	create := func(extra ...string) []string {
		return append([]string{"create", "--user", "fresh", "--region", matrixRegion}, extra...)
	}
	tests := []struct {
		name, want string
		args       []string
	}{
		{"no kind", "not a store spec", create("--store", "billing/smtp")},
		{"unknown kind", "unknown store", create("--store", "vault:billing/smtp")},
		{"empty name", "not a store spec", create("--store", "secretsmanager:")},
		{"a secret ARN", "ASCII letters", create("--store", "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:x")},
		{"secret name Secrets Manager rejects", "ASCII letters", create("--store", "secretsmanager:billing smtp")},
		{"secret name like an ARN suffix", "hyphen and six", create("--store", "secretsmanager:app/billing-mailer")},
		{"secret name too long", "at most 512", create("--store", "secretsmanager:"+strings.Repeat("a", 513))},
		{"parameter path SSM rejects", "may hold only", create("--store", "ssm:/billing smtp/")},
		{"reserved parameter prefix", "reserves", create("--store", "ssm:/aws/smtp")},
		{"parameter not under /", "must start with /", create("--store", "ssm:billing/smtp")},
		{"too many levels", "levels", create("--store", "ssm:/"+strings.Repeat("a/", 16)+"x")},
		{"file format without a file", "--format is about the credentials file", create("--store", "secretsmanager:x/smtp", "--format", "postfix")},
		{"--force without a file", "--force is about the credentials file", create("--store", "secretsmanager:x/smtp", "--force")},
		{"stdout and a store", "--out - with --store", create("--store", "secretsmanager:x/smtp", "--out", "-")},
		{"several regions", "one region", []string{"create", "--user", "fresh", "--region", "eu-west-1,us-east-1", "--store", "secretsmanager:x/smtp"}},
		{"--kms-key-id without --store", "--kms-key-id goes with --store", create("--kms-key-id", "alias/smtp")},
		{"--store-region without --store", "--store-region goes with --store", create("--store-region", "eu-west-1")},
		{"bad --store-region", "--store-region", create("--store", "secretsmanager:x/smtp", "--store-region", "mars")},
		{"a user name tags cannot hold", "comma", []string{"create", "--user", "a,b", "--region", matrixRegion, "--store", "ssm:/x/smtp"}},
		{"someone else's secret", "holds the credentials of IAM user someone-else", create("--store", "secretsmanager:taken/smtp")},
		{"rotate: several regions", "one region", []string{"rotate", "--user", "target", "--strategy", "key", "--region", "eu-west-1,us-east-1"}},
		{"rotate: to someone else's secret", "someone-else", []string{"rotate", "--user", "plain1", "--strategy", "key", "--region", matrixRegion, "--store", "secretsmanager:taken/smtp"}},
		{"rotate: --format without a file", "--format is about", []string{"rotate", "--user", "target", "--strategy", "key", "--region", matrixRegion, "--format", "env"}},
		{"batch: one secret for all", "put {user} in the name", []string{"create", "--from-file", manifest, "--region", matrixRegion, "--store", "secretsmanager:smtp/all"}},
		{"batch: a name a sender makes bad", "ASCII letters", []string{"create", "--from-file", commaManifest, "--region", matrixRegion, "--store", "secretsmanager:smtp/{user}"}},
		{"batch: --format without --out-dir", "--format is about", []string{"create", "--from-file", manifest, "--region", matrixRegion, "--store", "secretsmanager:smtp/{user}", "--format", "env"}},
		{"delete: --recovery-window-days out of range", "7 to 30", []string{"delete", "--user", "target", "--yes", "--delete-stored", "--recovery-window-days", "3"}},
		{"delete: --store without --delete-stored", "without --delete-stored", []string{"delete", "--user", "target", "--yes", "--store", "secretsmanager:x/smtp", "--store-region", matrixRegion}},
		{"delete --delete-stored: nothing names the store", "no sesmtp:store tag", []string{"delete", "--user", "plain1", "--yes", "--delete-stored"}},
		{"verify: --store and --credentials", "give one", []string{"verify", "--store", "secretsmanager:" + matrixSecret, "--credentials", manifest, "--region", matrixRegion}},
		{"verify: nothing stored", "holds no credentials", []string{"verify", "--store", "secretsmanager:none/smtp", "--region", matrixRegion}},
		{"policy: --kms-key-id without --store-prefix", "goes with --store-prefix", []string{"policy", "operator", "--kms-key-id", "arn:aws:kms:eu-west-1:123456789012:key/k"}},
		{"policy: a bad prefix", "use secretsmanager:PREFIX/ or ssm:/PATH/", []string{"policy", "operator", "--store-prefix", "smtp/"}},
		{"policy: an SSM path without /", "starts and ends with /", []string{"policy", "operator", "--store-prefix", "ssm:/smtp"}},
		{"policy: a secret prefix of no whole level", "too broad", []string{"policy", "operator", "--store-prefix", "secretsmanager:prod"}},
		{"policy: a secret prefix /", "too broad", []string{"policy", "operator", "--store-prefix", "secretsmanager:/"}},
		{"policy: a wildcard", "without wildcards", []string{"policy", "operator", "--store-prefix", "ssm:/smtp/*"}},
		{"policy: a key that is not an ARN", "give the key ARN", []string{"policy", "operator", "--store-prefix", "ssm:/smtp/", "--kms-key-id", "alias/smtp"}},
		{"policy: an alias ARN", "aws kms describe-key --key-id alias/smtp --query KeyMetadata.Arn", []string{"policy", "operator",
			"--store-prefix", "ssm:/smtp/", "--kms-key-id", "arn:aws:kms:eu-west-1:123456789012:alias/smtp"}},
	}
	before := snapshot(srv)
	stores := storedEntries(t, srv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res result
			if tt.args[0] == "policy" {
				res = runCLI(t, "", tt.args...)
			} else {
				res = storeCLI(t, e, tt.args...)
			}
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, tt.want)
			if tt.args[0] == "policy" {
				assert.Empty(t, res.stdout, "no policy is printed")
				assert.NotContains(t, res.stderr, "warning:", "one paragraph: the error")
			}
			assert.Equal(t, before, snapshot(srv), "IAM is unchanged")
			assert.Equal(t, stores, storedEntries(t, srv), "the stores are unchanged")
		})
	}
}

// TestStoreBatch: a batch delivers each sender to its own secret (files
// too with --out-dir); a re-run skips them all.
func TestStoreBatch(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		spec, prefix string
		extra        []string
	}{
		{"secretsmanager:smtp/{user}", "s", nil},
		{"ssm:/files/{user}/", "f", []string{"--out-dir", dir}},
	} {
		users := []string{tc.prefix + "1", tc.prefix + "2", tc.prefix + "3"}
		manifest := writeFile(t, "senders.txt", strings.Join(users, "\n")+"\n")
		args := append([]string{"create", "--from-file", manifest, "--region", matrixRegion, "--store", tc.spec, "--output", "json"}, tc.extra...)
		res := storeCLI(t, e, args...)
		require.Equal(t, exitcode.OK, res.code, res.stderr)
		for _, u := range users {
			assertStoreHolds(t, srv, strings.ReplaceAll(tc.spec, "{user}", u), u)
		}
		res = storeCLI(t, e, args...)
		require.Equal(t, exitcode.OK, res.code, res.stderr)
		assert.Equal(t, 3, strings.Count(res.stdout, `"status": "skipped`), res.stdout)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	assert.Len(t, files, 3, "--out-dir writes files too")
	assertKeysAndFilesAgree(t, srv, dir, nil)
}

// TestStorePartialDelivery: a store write that fails part way and cannot
// be taken back (SSM keeps failing) keeps the new key, whose password the
// store holds, and exits 4; the same command run again takes the write
// back, removes that key and rotates.
func TestStorePartialDelivery(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	spec := "ssm:" + matrixParamPath
	storeUser(srv, spec)
	args := []string{"rotate", "--user", "target", "--strategy", "key", "--region", matrixRegion}
	srv.Inject(iamtest.Fault{Action: "ssm:PutParameter", Nth: 2, Count: 20, Kind: iamtest.FailBefore})

	res := storeCLI(t, e, args...)
	require.Equal(t, exitcode.LeftBehind, res.code, res.stderr)
	assert.Contains(t, res.stderr, "run again")
	u := mustUser(t, srv, "target")
	require.Len(t, u.AccessKeys, 2, "the new key stays while the store may hold it; the old one too")
	assertKeysAndFilesAgree(t, srv, t.TempDir(), map[string]bool{consoleUser("target").AccessKeys[0].ID: true, "AKIABYSTANDER0000001": true})

	srv.ClearFaults()
	res = storeCLI(t, e, args...)
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	assert.Contains(t, res.stderr, "recovered:")
	stored := assertStoreHolds(t, srv, spec, "target")
	for _, k := range u.AccessKeys {
		assert.NotEqual(t, k.ID, stored, "the kept key is gone, a new one is stored")
	}
}

// TestDeleteStoredFaults: the stored credentials go before the user. When
// removing them fails before any deleting call, delete exits 1 with
// everything as it was; when a deleting call may have taken effect, it
// exits 4 naming the user (untouched) and the command that finishes the
// job; that command then does.
func TestDeleteStoredFaults(t *testing.T) {
	for _, fk := range matrixFaults {
		for _, action := range []string{"secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret"} {
			t.Run(action+"/"+fk.name, func(t *testing.T) {
				e := iamtest.Start(t)
				srv := e.Local(t)
				storeUser(srv, "secretsmanager:"+matrixSecret)
				srv.Inject(fk.fault(action, 1))
				// --timeout 2s: room for the IAM deletion on a loaded machine, not for the 5 s stall.
				res := storeCLI(t, e, "delete", "--user", "target", "--yes", "--delete-stored", "--timeout", "2s")
				t.Logf("exit %d: %s", res.code, lastLine(res.stderr))
				require.NotZero(t, srv.CallCount("secretsmanager:DescribeSecret"), "the store calls reach the local endpoint")
				_, userLeft := srv.User("target")
				sec, ok := srv.Secret(matrixSecret)
				require.True(t, ok)
				switch res.code {
				case exitcode.OK:
					assert.False(t, userLeft)
				case exitcode.LeftBehind:
					assert.True(t, userLeft, "the user goes after the store")
					cleanup := "sesmtp delete --user target --store secretsmanager:" + matrixSecret + " --store-region " + matrixRegion +
						" --delete-stored --ignore-missing --yes"
					require.Contains(t, res.stderr, cleanup)
					srv.ClearFaults()
					res = storeCLI(t, e, strings.Fields(cleanup)[1:]...)
					require.Equal(t, exitcode.OK, res.code, res.stderr)
					_, userLeft = srv.User("target")
					assert.False(t, userLeft)
				case exitcode.Failed:
					assert.True(t, userLeft, "exit 1 leaves everything")
					assert.True(t, sec.DeletionDate.IsZero(), "exit 1 leaves everything")
					return
				default:
					t.Fatalf("exit %d: %s", res.code, res.stderr)
				}
				sec, _ = srv.Secret(matrixSecret)
				assert.False(t, sec.DeletionDate.IsZero(), "scheduled for deletion")
			})
		}
	}
}

// TestStoreJournalPlace: store journals live under the state directory,
// one place per endpoint, profile, region and target.
func TestStoreJournalPlace(t *testing.T) {
	dir := t.TempDir()
	loc := func(spec, region string) string {
		return journal.StorePlace(dir, storeLocation(t, spec, region), journal.StoreIdentity{Endpoint: "http://127.0.0.1:4599"})
	}
	a := loc("secretsmanager:billing/smtp", "eu-west-1")
	assert.True(t, strings.HasPrefix(a, filepath.Join(dir, "stores", "127.0.0.1_4599", "default", "eu-west-1")), a)
	assert.Equal(t, a, loc("secretsmanager:billing/smtp", "eu-west-1"), "the same store, the same place")
	assert.NotEqual(t, a, loc("secretsmanager:billing/smtp", "us-east-1"))
	assert.NotEqual(t, a, loc("ssm:/billing/smtp", "eu-west-1"))
	long := loc("secretsmanager:"+strings.Repeat("a/", 250), "eu-west-1")
	assert.Less(t, len(filepath.Base(long)), 200, "a long name still makes a file name")
}

func storeLocation(t *testing.T, spec, region string) store.Location {
	return store.Location{Target: mustTarget(spec), Region: region}
}

// TestStoreMove: a key rotation with another --store delivers there,
// re-tags the user and says how to remove what the old store holds.
func TestStoreMove(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	res := storeCLI(t, e, "create", "--user", "mover", "--region", matrixRegion, "--store", "ssm:/old/smtp/")
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	res = storeCLI(t, e, "rotate", "--user", "mover", "--strategy", "key", "--region", matrixRegion, "--store", "secretsmanager:new/smtp")
	require.Equal(t, exitcode.OK, res.code, res.stderr)
	del := func(field string) string {
		return "aws ssm delete-parameter --name /old/smtp/" + field + " --region " + matrixRegion
	}
	assert.Contains(t, res.stderr, strings.Join([]string{del("password"), del("host"), del("port"), del("username"), del("secret_access_key")}, " && "))
	assertStoreHolds(t, srv, "secretsmanager:new/smtp", "mover")
}

// TestVerifyStoreRegionNamesItsSource: a region verify --store cannot use
// is reported under the flag it came from, never blamed on a flag the
// operator did not give.
func TestVerifyStoreRegionNamesItsSource(t *testing.T) {
	iamtest.Isolate(t)
	res := runCLI(t, "", "verify", "--store", "secretsmanager:smtp/x", "--store-region", "mars")
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "--store-region: ")
	res = runCLI(t, "", "verify", "--store", "secretsmanager:smtp/x", "--region", "mars")
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, `"mars" is not an AWS region name`)
	assert.NotContains(t, res.stderr, "--store-region", "the region came from --region")
}

// TestVerifyStoreConfiguredRegionNamesItsSource: a bad configured region
// (AWS_REGION) is not blamed on --store-region, which was not given.
func TestVerifyStoreConfiguredRegionNamesItsSource(t *testing.T) {
	iamtest.Isolate(t)
	t.Setenv("AWS_REGION", "mars")
	res := runCLI(t, "", "verify", "--store", "secretsmanager:smtp/x")
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.NotContains(t, res.stderr, "--store-region:", "the region came from AWS_REGION")
	assert.Contains(t, res.stderr, "mars")
}
