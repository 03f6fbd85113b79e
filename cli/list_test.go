package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func TestList(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t, "keys of a given age and last use")
	now := fixedNow

	res := runCLI(t, "", "list", "--endpoint-url", e.URL)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "no SMTP users found")
	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "[]\n", res.stdout)

	srv.PutUser(consoleUser("only1"))
	res = runCLI(t, "", "list", "--endpoint-url", e.URL)
	require.Equal(t, 0, res.code, res.stderr)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, 2, "header and one user: %s", res.stdout)
	assert.Regexp(t, `^only1\s+\S+\s+inline AmazonSesSendingAccess\s+AKIA\w+\s+Active\s+\d+\s+never\s+-$`, lines[1])
	srv.PutUser(iamtest.User{Name: "only1"}) // no longer an SMTP user

	_, err := e.Client().CreateGroup(t.Context(), groupInput(provision.ConsoleGroupName))
	require.NoError(t, err)
	for i := range 260 {
		u := iamtest.User{Name: fmt.Sprintf("user%03d", i), Created: now.Add(-200 * 24 * time.Hour)}
		key := iamtest.AccessKey{ID: fmt.Sprintf("AKIALIST%012d", i), SecretAccessKey: "s", Created: now.Add(-time.Duration(i) * 24 * time.Hour)}
		switch i % 4 {
		case 0:
			u.Tags = []iamtest.Tag{{Key: provision.TagManagedBy, Value: provision.ManagedByValue}}
			u.AccessKeys = []iamtest.AccessKey{key}
		case 1:
			u.InlinePolicies = map[string]string{provision.DefaultPolicyName: senderPolicyJSON}
			u.AccessKeys = []iamtest.AccessKey{key}
		case 2:
			u.Groups = []string{provision.ConsoleGroupName}
			u.AccessKeys = []iamtest.AccessKey{key}
		case 3: // not an SMTP user
		}
		srv.PutUser(u)
	}
	srv.SetKeyLastUsed("AKIALIST000000000001", now.Add(-time.Hour), "ses", "eu-west-1")

	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var users []provision.ListedUser
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &users))
	require.Len(t, users, 195, "three in four users are SMTP users, across ListUsers pages")
	assert.Equal(t, []string{provision.ByTag}, users[0].Reasons)
	assert.Equal(t, []string{provision.ByPolicy}, users[1].Reasons)
	assert.Equal(t, []string{provision.ByGroup}, users[2].Reasons)
	assert.Equal(t, 1, users[1].Keys[0].AgeDays)
	require.NotNil(t, users[1].Keys[0].LastUsed)
	assert.Equal(t, "eu-west-1", users[1].Keys[0].LastUsedRegion)
	assert.GreaterOrEqual(t, srv.CallCount("ListUsers"), 1)

	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--all-users", "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &users))
	assert.Len(t, users, 261, "with only1, which is no SMTP user any more")

	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--older-than", "250d")
	require.Equal(t, 0, res.code, res.stderr)
	lines = strings.Split(strings.TrimSpace(res.stdout), "\n")
	assert.Len(t, lines, 1+6, "header and the SMTP keys older than 250 days (252-258): %s", res.stdout)
	assert.Contains(t, lines[0], "LAST USED")
	assert.Contains(t, res.stdout, "user252")
	assert.NotContains(t, res.stdout, "user248")

	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--older-than", "soon")
	assert.Equal(t, exitcode.Usage, res.code)
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour} {
		got, err := parseAge(in)
		require.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "d", "-1d", "ninety", "3m", "90", "1h30m", "2160h0m", "90s", "1.5d", "3M", "1y"} {
		_, err := parseAge(bad)
		assert.ErrorContains(t, err, "days (90d), weeks (12w) or hours (2160h)", bad)
	}
	_, err := parseAge("3m")
	assert.ErrorContains(t, err, "minutes or months")
}

// TestListOlderThanNoMatch: an empty answer says what was looked for and
// how many SMTP users there are, not that there are none.
func TestListOlderThanNoMatch(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t, "keys of a given age")
	u := consoleUser("fresh1")
	u.AccessKeys[0].Created = fixedNow.Add(-time.Hour)
	srv.PutUser(u)
	u = consoleUser("fresh2")
	u.AccessKeys[0].Created = fixedNow.Add(-time.Hour)
	srv.PutUser(u)
	res := runCLI(t, "", "list", "--endpoint-url", e.URL, "--older-than", "90d")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "no keys older than 90d (2 SMTP users)")
	res = runCLI(t, "", "list", "--endpoint-url", e.URL, "--older-than", "90d", "--all-users")
	assert.Contains(t, res.stderr, "no keys older than 90d (2 users)")
}
