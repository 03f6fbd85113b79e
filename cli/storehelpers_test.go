package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// storedEntry is one secret or parameter whose current value names an
// access key, as a test reads the local endpoint's state.
type storedEntry struct {
	where string // "secret NAME" or "parameter NAME"
	keyID string
	// password is the SMTP password it holds ("" for a parameter of
	// another field: username, host, port).
	password string
}

// storedJSON is the JSON payload of a secret or a single parameter.
type storedJSON struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Region      string `json:"region"`
	IAMUser     string `json:"iam_user"`
	AccessKeyID string `json:"access_key_id"`
}

var paramKeyMarker = regexp.MustCompile(`access key (\S+) \(written by sesmtp\)$`)

// storedEntries lists what every secret (not scheduled for deletion) and
// every parameter holds now: a secret's AWSCURRENT JSON, a parameter's
// newest version (the key its description names; the password of a JSON
// parameter or of a /password parameter).
func storedEntries(t *testing.T, srv *iamtest.Server) []storedEntry {
	t.Helper()
	var out []storedEntry
	for _, s := range srv.Secrets() {
		v, ok := s.Stage(iamtest.StageCurrent)
		if !ok || !s.DeletionDate.IsZero() {
			continue
		}
		var doc storedJSON
		if assert.NoError(t, json.Unmarshal([]byte(v.Value), &doc), "secret %s", s.Name) {
			assert.Equal(t, doc.Username, doc.AccessKeyID, "secret %s", s.Name)
			out = append(out, storedEntry{where: "secret " + s.Name, keyID: doc.Username, password: doc.Password})
		}
	}
	for _, p := range srv.Parameters() {
		v := p.Latest()
		assert.Equal(t, "SecureString", v.Type, "parameter %s holds a secret: never a String", p.Name)
		m := paramKeyMarker.FindStringSubmatch(v.Description)
		if m == nil {
			continue // not sesmtp's
		}
		e := storedEntry{where: "parameter " + p.Name, keyID: m[1]}
		switch {
		case strings.HasSuffix(p.Name, "/password"):
			e.password = v.Value
		case strings.HasPrefix(v.Value, "{"):
			var doc storedJSON
			if assert.NoError(t, json.Unmarshal([]byte(v.Value), &doc), "parameter %s", p.Name) {
				assert.Equal(t, m[1], doc.Username, "parameter %s: the description and the value name one key", p.Name)
				e.password = doc.Password
			}
		case strings.HasSuffix(p.Name, "/username"):
			assert.Equal(t, m[1], v.Value, "parameter %s: the description and the value name one key", p.Name)
		}
		out = append(out, e)
	}
	return out
}

// storedPasswords maps each access key a store entry holds a password of
// to that password.
func storedPasswords(t *testing.T, srv *iamtest.Server) map[string]string {
	pw := map[string]string{}
	for _, e := range storedEntries(t, srv) {
		if e.password != "" {
			pw[e.keyID] = e.password
		}
	}
	return pw
}

// assertStoresNameHeldKeys: no secret or parameter names a key IAM does not hold.
func assertStoresNameHeldKeys(t *testing.T, srv *iamtest.Server) {
	t.Helper()
	held := map[string]bool{}
	for _, u := range srv.Users() {
		for _, k := range u.AccessKeys {
			held[k.ID] = true
		}
	}
	for _, e := range storedEntries(t, srv) {
		assert.True(t, held[e.keyID], "%s names key %s, which IAM does not hold", e.where, e.keyID)
	}
}

// lastLine is the last line of s (an error message after a --verbose log).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
