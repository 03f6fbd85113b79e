package batch

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestManifestBounds: a manifest beyond the size or row bound is refused
// with one clear problem, and a manifest with many bad rows lists the
// first 50, then a count.
func TestManifestBounds(t *testing.T) {
	names := func(n int, name func(int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(name(i) + "\n")
		}
		return b.String()
	}
	good := func(i int) string { return fmt.Sprintf("sender-%d", i) }
	tests := []struct {
		name, manifest, want string
	}{
		{"too many rows", names(MaxSenders+1, good), "lists 5001 senders, more than 5000"},
		{"too many rows with a header", "user\n" + names(MaxSenders+2, good), "lists more than 5000 senders"},
		{"too large", strings.Repeat(strings.Repeat("x", 60_000)+"\n", MaxManifestBytes/60_000+2), "is larger than 8 MiB"},
		{"two million bad lines", strings.Repeat("bad name!\n", 2_000_000), "lists more than 5000 senders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest(strings.NewReader(tt.manifest))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Less(t, len(err.Error()), 1000)
		})
	}
	_, err := ParseManifest(strings.NewReader(names(MaxSenders, good)))
	assert.NoError(t, err, "5000 senders are fine")

	_, err = ParseManifest(strings.NewReader(names(3000, func(i int) string { return fmt.Sprintf("bad name %d", i) })))
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "the manifest has 3000 problem(s)")
	assert.Equal(t, 50, strings.Count(msg, "\n  line "), "the first 50 problems are listed")
	assert.Contains(t, msg, "... and 2950 more")
	assert.Less(t, len(msg), 20_000)
}
