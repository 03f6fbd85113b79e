package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/store"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// The fault and kill matrices' commands that deliver to a secret store.
// They are appended to the matrices' lists (after the file commands,
// whose positions other entries refer to).
func init() {
	matrixCommands = append(matrixCommands, storeMatrixCommands...)
	killCommands = append(killCommands, storeKillCommands...)
}

const (
	matrixSecret    = "smtp/target"
	matrixParamPath = "/smtp/target/"
)

// storeClients are clients of srv's store endpoints that make each call once.
func storeClients(srv *iamtest.Server) store.Clients {
	e := &iamtest.Endpoint{URL: srv.URL, AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey}
	return store.Clients{SecretsManager: e.SecretsManager(), SSM: e.SSM()}
}

// storeUser puts the console-made target user in place, its credentials
// delivered (by an earlier sesmtp run) to spec and the user tagged so.
func storeUser(srv *iamtest.Server, spec string) {
	bystander(srv)
	u := consoleUser("target")
	loc := store.Location{Target: mustTarget(spec), Region: matrixRegion}
	u.Tags = []iamtest.Tag{{Key: "team", Value: "mail"}}
	for _, kv := range loc.UserTags(nil) {
		u.Tags = append(u.Tags, iamtest.Tag{Key: kv[0], Value: kv[1]})
	}
	srv.PutUser(u)
	deliverFor(srv, spec, "target", u.AccessKeys[0])
}

// deliverFor writes key's credentials to spec as sesmtp would. Set-up
// failures are bugs of the test: they panic.
func deliverFor(srv *iamtest.Server, spec, user string, key iamtest.AccessKey) {
	s, err := store.New(mustTarget(spec), storeClients(srv), store.Options{})
	if err == nil {
		var p store.Payload
		p, err = store.NewPayload(credfile.Credentials{UserName: user, AccessKeyID: key.ID, SecretAccessKey: credfile.Secret(key.SecretAccessKey),
			Passwords: []credfile.RegionPassword{{Region: matrixRegion, Endpoint: derive.Endpoint(matrixRegion, false),
				Password: credfile.Secret(derive.PasswordV4(key.SecretAccessKey, matrixRegion))}}}, store.PayloadOptions{})
		if err == nil {
			_, err = s.Deliver(context.Background(), p)
		}
	}
	if err != nil {
		panic("set-up: deliver to " + spec + ": " + err.Error())
	}
}

func mustTarget(spec string) store.Target {
	target, err := store.ParseTarget(spec)
	if err != nil {
		panic(err)
	}
	return target
}

// bystanderSecret is another user's secret in the same prefix: no run
// may touch it.
func bystanderSecret(srv *iamtest.Server) {
	bystander(srv)
	u, _ := srv.User("bystander")
	deliverFor(srv, "secretsmanager:smtp/bystander", "bystander", u.AccessKeys[0])
}

// assertStoreHolds checks that the store at spec holds a key user holds,
// with its password, and that the user is tagged with where; it returns
// that key's id. (After a phase-1 key rotation the user holds two keys:
// the store names the new one.)
func assertStoreHolds(t *testing.T, srv *iamtest.Server, spec, user string) string {
	t.Helper()
	u, ok := srv.User(user)
	require.True(t, ok)
	secrets := map[string]string{}
	for _, k := range u.AccessKeys {
		secrets[k.ID] = k.SecretAccessKey
	}
	target := mustTarget(spec)
	names := target.ParameterNames(false)
	if target.Kind == store.SecretsManager {
		names = []string{target.Name}
	}
	held := ""
	for _, e := range storedEntries(t, srv) {
		for _, n := range names {
			if !strings.HasSuffix(e.where, " "+n) {
				continue
			}
			secret, ok := secrets[e.keyID]
			assert.True(t, ok, "%s holds key %s, one of the user's", e.where, e.keyID)
			assert.True(t, held == "" || held == e.keyID, "every part of %s names one key", spec)
			held = e.keyID
			if e.password != "" {
				assert.Equal(t, derive.PasswordV4(secret, matrixRegion), e.password, "%s holds the key's password", e.where)
			}
		}
	}
	require.NotEmpty(t, held, "%s holds the user's credentials", spec)
	loc, tagged, err := store.LocationOf(tagMap(u.Tags))
	require.NoError(t, err)
	assert.True(t, tagged, "the user is tagged with where its credentials are")
	assert.Equal(t, spec, loc.Target.String())
	assertNoStoreJournal(t, srv.URL)
	if by, ok := srv.Secret("smtp/bystander"); ok {
		v, _ := by.Stage(iamtest.StageCurrent)
		assert.Len(t, by.Versions, 1, "the bystander's secret is untouched")
		assert.Contains(t, v.Value, "AKIABYSTANDER0000001")
	}
	return held
}

func tagMap(tags []iamtest.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// storeArgs point the store clients at the endpoint.
func storeArgs(url string, spec string) []string {
	return []string{"--store", spec, "--store-endpoint-url", url}
}

// onlyStoreCalls limits a matrix command's faults to the store's calls:
// its IAM calls are the file command's, faulted there.
func onlyStoreCalls(action string) bool { return strings.Contains(action, ":") }

var storeMatrixCommands = []matrixCommand{
	{
		name:   "create --store secretsmanager",
		setup:  func(srv *iamtest.Server) { bystanderSecret(srv) },
		faults: onlyStoreCalls,
		args: func(e *iamtest.Endpoint, dir string) []string {
			return append(append([]string{"create", "--user", "target", "--region", matrixRegion}, storeArgs(e.URL, "secretsmanager:"+matrixSecret)...), commonArgs(e)...)
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			assertStoreHolds(t, srv, "secretsmanager:"+matrixSecret, "target")
		},
	},
	{
		name:   "rotate --strategy key, tagged ssm:/path/",
		setup:  func(srv *iamtest.Server) { storeUser(srv, "ssm:"+matrixParamPath) },
		faults: onlyStoreCalls,
		args: func(e *iamtest.Endpoint, dir string) []string {
			return append([]string{"rotate", "--user", "target", "--strategy", "key", "--region", matrixRegion, "--store-endpoint-url", e.URL}, commonArgs(e)...)
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			assert.NotEqual(t, consoleUser("target").AccessKeys[0].ID, assertStoreHolds(t, srv, "ssm:"+matrixParamPath, "target"))
		},
	},
	{
		name:   "create --from-file --store secretsmanager:smtp/{user}",
		setup:  func(srv *iamtest.Server) { bystanderSecret(srv) },
		faults: onlyStoreCalls,
		args: func(e *iamtest.Endpoint, dir string) []string {
			list := filepath.Join(dir, "..", "senders.txt")
			if _, err := os.Stat(list); err != nil {
				_ = os.WriteFile(list, []byte("s1\ns2\n"), 0o600)
			}
			return append(append([]string{"create", "--from-file", list, "--concurrency", "2", "--region", matrixRegion},
				storeArgs(e.URL, "secretsmanager:smtp/{user}")...), commonArgs(e)...)
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			for _, s := range []string{"s1", "s2"} {
				assertStoreHolds(t, srv, "secretsmanager:smtp/"+s, s)
			}
		},
	},
}

func mustUser(t *testing.T, srv *iamtest.Server, name string) iamtest.User {
	u, ok := srv.User(name)
	require.True(t, ok, name)
	return u
}

// storeKillArgs are killArgs with the store's endpoint.
func storeKillArgs(url, spec string, args ...string) []string {
	return append(killArgs(url, args...), storeArgs(url, spec)...)
}

var storeKillCommands = []killCommand{
	{
		name:  "create --store secretsmanager",
		setup: func(t *testing.T, srv *iamtest.Server, dir string) { bystanderSecret(srv) },
		args: func(url, dir string, _ *smtptest.Server) []string {
			return storeKillArgs(url, "secretsmanager:"+matrixSecret, "create", "--user", "target")
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			assertStoreHolds(t, srv, "secretsmanager:"+matrixSecret, "target")
		},
	},
	{
		name:   "create --store ssm:/path/ --out --verify",
		setup:  func(t *testing.T, srv *iamtest.Server, dir string) { bystander(srv) },
		verify: true,
		args: func(url, dir string, smtp *smtptest.Server) []string {
			return append(storeKillArgs(url, "ssm:"+matrixParamPath, "create", "--user", "target", "--out", filepath.Join(dir, "target.csv")), verifyArgs(smtp)...)
		},
		files: []string{"target.csv"},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			matrixCommands[0].done(t, srv, dir)
			assertStoreHolds(t, srv, "ssm:"+matrixParamPath, "target")
		},
	},
	{
		name:  "rotate --strategy key, tagged secretsmanager",
		setup: func(t *testing.T, srv *iamtest.Server, dir string) { storeUser(srv, "secretsmanager:"+matrixSecret) },
		args: func(url, dir string, _ *smtptest.Server) []string {
			return append(killArgs(url, "rotate", "--user", "target", "--strategy", "key"), "--store-endpoint-url", url)
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			assert.NotEqual(t, consoleUser("target").AccessKeys[0].ID, assertStoreHolds(t, srv, "secretsmanager:"+matrixSecret, "target"))
		},
	},
	{
		name: "create --from-file --store ssm:/smtp/{user}",
		setup: func(t *testing.T, srv *iamtest.Server, dir string) {
			bystander(srv)
			require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(dir), "senders.txt"), []byte("s1\ns2\n"), 0o600))
		},
		args: func(url, dir string, _ *smtptest.Server) []string {
			return storeKillArgs(url, "ssm:/smtp/{user}", "create", "--from-file", filepath.Join(filepath.Dir(dir), "senders.txt"), "--concurrency", "2")
		},
		done: func(t *testing.T, srv *iamtest.Server, dir string) {
			for _, s := range []string{"s1", "s2"} {
				assertStoreHolds(t, srv, "ssm:/smtp/"+s, s)
			}
		},
	},
}

// The delete --delete-stored commands of the kill matrix: the store the
// user's tag names goes first, then the user.
func init() {
	for _, spec := range []string{"secretsmanager:" + matrixSecret, "ssm:" + matrixParamPath} {
		killCommands = append(killCommands, killCommand{
			name: "delete --delete-stored, tagged " + spec,
			setup: func(t *testing.T, srv *iamtest.Server, dir string) {
				bystanderSecret(srv)
				storeUser(srv, spec)
			},
			args: func(url, dir string, _ *smtptest.Server) []string {
				return deleteKillArgs(url, "--delete-stored", "--store-endpoint-url", url)
			},
			done: func(t *testing.T, srv *iamtest.Server, dir string) { assertDeleted(t, srv, "target") },
		})
	}
}

// assertNoStoreJournal: no lock or marker of url's stores is left in the
// state directory.
func assertNoStoreJournal(t *testing.T, url string) {
	t.Helper()
	host := strings.TrimPrefix(url, "http://")
	dir := filepath.Join(os.Getenv(journal.EnvStateDir), "stores", strings.ReplaceAll(host, ":", "_"))
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left in the state directory: %s", path)
		}
		return nil
	})
}
