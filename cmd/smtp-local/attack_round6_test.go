package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttack6PortInUseKeepsTheRunningCA: a second smtp-local started on a
// port already in use (with the default, shared --ca-file-out) must fail
// without touching the running one's CA file; it writes a new CA first
// and only then finds the port taken, so the running server's clients
// (sesmtp verify --ca-file) no longer trust it.
func TestAttack6PortInUseKeepsTheRunningCA(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	first := start(t, "--port", "0", "--iam-endpoint", "http://127.0.0.1:1", "--region", "eu-west-1", "--ca-file-out", ca)
	before, err := os.ReadFile(ca)
	require.NoError(t, err)
	var stdout, stderr syncBuffer
	err = run(t.Context(), []string{"--port", strconv.Itoa(first.Port), "--iam-endpoint", "http://127.0.0.1:1",
		"--region", "eu-west-1", "--ca-file-out", ca}, &stdout, &stderr, nil)
	require.Error(t, err, "the port is in use")
	after, err := os.ReadFile(ca)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the running smtp-local's CA file is unchanged")
}
