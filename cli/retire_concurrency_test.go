package cli

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// The retire pairs of TestConcurrentRuns: two retires on one user (both
// deactivating, both deleting), and retire racing phase 1 of a key
// rotation of the same user (one ready to be deleted, one with nothing
// pending yet).
func init() {
	retire := func(profile string, extra ...string) *concurrentRun {
		return &concurrentRun{profile: profile, args: append([]string{"retire", "--user", "target", "--yes"}, extra...)}
	}
	rotate := func(profile, dir string) *concurrentRun {
		out := filepath.Join(dir, "rotated.csv")
		return &concurrentRun{profile: profile, files: []string{out}, args: []string{"rotate", "--user", "target", "--strategy", "key", "--out", out}}
	}
	concurrentPairs = append(concurrentPairs,
		concurrentPair{
			name:  "two retires on one user, deactivating",
			setup: func(t *testing.T, srv *iamtest.Server, dir string) { srv.PutUser(pendingUser("target", "")) },
			// --grace: a run that starts after the other ended waits, rather than delete.
			runs: func(dir string, _ int) [2]*concurrentRun {
				return [2]*concurrentRun{retire("a", "--grace", "7d"), retire("b", "--grace", "7d")}
			},
			check: func(t *testing.T, srv *iamtest.Server, dir string, runs [2]*concurrentRun) {
				assertTwoRetires(t, srv, runs)
				retiredTo("Inactive")(t, srv, dir)
			},
		},
		concurrentPair{
			name:  "two retires on one user, deleting",
			setup: func(t *testing.T, srv *iamtest.Server, dir string) { srv.PutUser(deactivatedUser("target")) },
			runs:  func(dir string, _ int) [2]*concurrentRun { return [2]*concurrentRun{retire("a"), retire("b")} },
			check: func(t *testing.T, srv *iamtest.Server, dir string, runs [2]*concurrentRun) {
				assertTwoRetires(t, srv, runs)
				retiredTo("")(t, srv, dir)
			},
		},
		concurrentPair{
			name:  "retire vs phase-1 rotate, a key ready to delete",
			setup: func(t *testing.T, srv *iamtest.Server, dir string) { srv.PutUser(deactivatedUser("target")) },
			runs: func(dir string, trial int) [2]*concurrentRun {
				if trial%2 == 0 {
					return [2]*concurrentRun{retire("a"), rotate("b", dir)}
				}
				return [2]*concurrentRun{rotate("a", dir), retire("b")}
			},
			check: assertRetireVsRotate(true),
		},
		concurrentPair{
			name:  "retire vs phase-1 rotate, nothing pending yet",
			setup: func(t *testing.T, srv *iamtest.Server, dir string) { srv.PutUser(consoleUser("target")) },
			runs: func(dir string, trial int) [2]*concurrentRun {
				if trial%2 == 0 {
					return [2]*concurrentRun{retire("a"), rotate("b", dir)}
				}
				return [2]*concurrentRun{rotate("a", dir), retire("b")}
			},
			check: assertRetireVsRotate(false),
		})
}

// assertTwoRetires: both runs tell the truth about the one step, and
// neither touched a key but the one the tag named.
func assertTwoRetires(t *testing.T, srv *iamtest.Server, runs [2]*concurrentRun) {
	t.Helper()
	codes := []int{runs[0].code, runs[1].code}
	slices.Sort(codes)
	assert.Contains(t, [][]int{{0, 0}, {0, 1}}, codes, "one run or both did it; the other found it done, or changed since it read it (exit 1, nothing changed)")
	old := consoleUser("target").AccessKeys[0].ID
	for _, c := range srv.Calls() {
		if c.Seq > 0 && (c.Action == "UpdateAccessKey" || c.Action == "DeleteAccessKey") {
			assert.Equal(t, old, c.AccessKeyID, "%s of a key the tag did not name", c.Action)
		}
	}
}

// assertRetireVsRotate returns the check of a retire racing phase 1 of a
// rotation: retire deletes only the key the tag named for deletion, and
// deactivates a key only after the rotation that recorded it delivered
// the new one (never, on a user whose old key was already inactive); the
// user always keeps an active key; the record, if any, names a key the
// user holds.
func assertRetireVsRotate(readyToDelete bool) func(t *testing.T, srv *iamtest.Server, dir string, runs [2]*concurrentRun) {
	return func(t *testing.T, srv *iamtest.Server, dir string, runs [2]*concurrentRun) {
		t.Helper()
		rot, ret := runs[0], runs[1]
		if rot.args[0] != "rotate" {
			rot, ret = ret, rot
		}
		assert.Contains(t, []int{exitcode.OK, exitcode.Usage}, rot.code, "rotate completes, or is refused while a retirement is pending: %s", rot.stderr)
		assert.Contains(t, []int{exitcode.OK, exitcode.Failed}, ret.code, ret.stderr)
		if !readyToDelete {
			assert.Equal(t, exitcode.OK, rot.code, "nothing was pending: %s", rot.stderr)
		}
		calls := srv.Calls()
		var tagged uint64 // when the rotation recorded its old key, after delivering the new one
		for _, c := range calls {
			if c.Seq > 0 && c.Caller == runCallers[rot.profile].UserName && c.Action == "TagUser" {
				tagged = c.Seq
			}
		}
		old := consoleUser("target").AccessKeys[0].ID
		for _, c := range calls {
			if c.Seq == 0 || c.Caller != runCallers[ret.profile].UserName {
				continue
			}
			switch c.Action {
			case "DeleteAccessKey":
				assert.True(t, readyToDelete, "retire deleted a key nobody deactivated")
				assert.Equal(t, old, c.AccessKeyID, "retire deleted a key the tag did not name for deletion")
			case "UpdateAccessKey":
				assert.False(t, readyToDelete, "retire deactivated a key while the one it was retiring was inactive")
				assert.Equal(t, old, c.AccessKeyID)
				assert.Greater(t, c.Seq, tagged, "retire deactivated the old key before the rotation had delivered the new one")
			}
		}
		assertKeepsAnActiveKey(t, srv)
	}
}

// assertKeepsAnActiveKey: target has an active key, and its retirement
// record, if any, names a key it holds.
func assertKeepsAnActiveKey(t *testing.T, srv *iamtest.Server) {
	t.Helper()
	u, ok := srv.User("target")
	require.True(t, ok)
	var active, ids []string
	for _, k := range u.AccessKeys {
		ids = append(ids, k.ID)
		if k.Status == "Active" {
			active = append(active, k.ID)
		}
	}
	assert.NotEmpty(t, active, "the user kept a working key")
	for _, tag := range retireTags(u) {
		r, err := provision.ParseRetirement(tag.Value)
		require.NoError(t, err)
		assert.Contains(t, ids, r.AccessKeyID, "the record names a key the user holds")
	}
}
