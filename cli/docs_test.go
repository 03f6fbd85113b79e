package cli

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateDocs = flag.Bool("update-docs", false, "regenerate docs/reference.md")

// TestReferenceDocUpToDate keeps docs/reference.md, generated from the CLI
// definitions, in step with them. Regenerate with `make docs`.
func TestReferenceDocUpToDate(t *testing.T) {
	md, err := newApp(stdio{}).ToMarkdown()
	require.NoError(t, err)
	md = "<!-- Generated from the CLI definitions by `make docs`; do not edit. -->\n\n" + md
	const path = "../docs/reference.md"
	if *updateDocs {
		require.NoError(t, os.WriteFile(path, []byte(md), 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	if md != string(got) {
		t.Fatal("docs/reference.md is stale: run make docs")
	}
}
