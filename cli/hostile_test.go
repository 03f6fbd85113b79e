package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// actionHeader carries a request's IAM action from the proxy's director
// to its response hook; it is not signed, so the endpoint ignores it.
const actionHeader = "X-Sesmtp-Test-Action"

// rewritingProxy serves e's endpoint through a proxy that rewrites the
// answer to the first call of action with rewrite.
func rewritingProxy(t *testing.T, e *iamtest.Endpoint, action string, rewrite func([]byte) []byte) string {
	t.Helper()
	target, err := url.Parse(e.URL)
	require.NoError(t, err)
	var done atomic.Bool
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			body, _ := io.ReadAll(r.In.Body)
			form, _ := url.ParseQuery(string(body))
			r.Out.Body = io.NopCloser(bytes.NewReader(body))
			r.Out.Header.Set(actionHeader, form.Get("Action"))
			r.SetURL(target)
			r.Out.Host = r.In.Host // signed by the client for the proxy's host
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Header.Get(actionHeader) != action || resp.StatusCode != 200 || done.Swap(true) {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			body = rewrite(body)
			resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
			return nil
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

// without removes every <name>...</name> element.
func without(name string) func([]byte) []byte {
	re := regexp.MustCompile(`(?s)<` + name + `>.*?</` + name + `>`)
	return func(b []byte) []byte { return re.ReplaceAll(b, nil) }
}

// TestIncompleteAnswers: an IAM answer without a field sesmtp needs is an
// error that rolls back (exit 1, IAM as before), never a panic.
func TestIncompleteAnswers(t *testing.T) {
	tests := []struct {
		name, action, element string
		args                  func(out string) []string
		setup                 func(srv *iamtest.Server)
	}{
		{"CreateUser without User", "CreateUser", "User", createUserArgs, nil},
		{"CreateUser without Arn", "CreateUser", "Arn", createUserArgs, nil},
		{"CreateAccessKey without AccessKey", "CreateAccessKey", "AccessKey", createUserArgs, nil},
		{"CreateAccessKey without AccessKeyId", "CreateAccessKey", "AccessKeyId", createUserArgs, nil},
		{"CreateAccessKey without SecretAccessKey", "CreateAccessKey", "SecretAccessKey", createUserArgs, nil},
		{"rotate: CreateAccessKey without SecretAccessKey", "CreateAccessKey", "SecretAccessKey", rotateKeyArgs, targetUser},
		{"rotate: ListAccessKeys without AccessKeyId", "ListAccessKeys", "AccessKeyId", rotateKeyArgs, targetUser},
		{"rotate recreate: GetUser without User", "GetUser", "User", recreateArgs, targetUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			bystander(srv)
			if tt.setup != nil {
				tt.setup(srv)
			}
			before := snapshot(srv)
			url := rewritingProxy(t, e, tt.action, without(tt.element))
			out := filepath.Join(t.TempDir(), "target.csv")
			res := runCLI(t, "", append(tt.args(out), "--endpoint-url", url, "--region", matrixRegion, "--max-backoff", "5ms", "--propagation-wait", "1s")...)
			assert.Equal(t, exitcode.Failed, res.code, res.stderr)
			assert.NotContains(t, res.stderr, "panic")
			assert.Contains(t, res.stderr, "IAM's answer has no ")
			assert.Equal(t, before, snapshot(srv), "IAM is as it was")
			assert.NoFileExists(t, out)
			assertNoSecrets(t, e, res.stdout, res.stderr)
		})
	}
}

func createUserArgs(out string) []string { return []string{"create", "--user", "target", "--out", out} }
func rotateKeyArgs(out string) []string {
	return []string{"rotate", "--user", "target", "--strategy", "key", "--out", out}
}
func recreateArgs(out string) []string {
	return []string{"rotate", "--user", "target", "--yes", "--out", out}
}

// TestHugeAnswer: a ListUsers answer of 12 MB (awscfg tests 2 GB) is refused after
// 8 MiB: create exits 1 with nothing changed.
func TestHugeAnswer(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	bystander(srv)
	before := snapshot(srv)
	padding := []byte(strings.Repeat("<member><UserName>x</UserName></member>", 1000))
	url := rewritingProxy(t, e, "ListUsers", func(b []byte) []byte {
		return bytes.Replace(b, []byte("<Users>"), append([]byte("<Users>"), bytes.Repeat(padding, 300)...), 1)
	})
	out := filepath.Join(t.TempDir(), "target.csv")
	res := runCLI(t, "", append(createUserArgs(out), "--endpoint-url", url, "--region", matrixRegion)...)
	assert.Equal(t, exitcode.Failed, res.code, res.stderr)
	assert.Contains(t, res.stderr, "larger than 8 MiB")
	assert.Equal(t, before, snapshot(srv))
}

// TestHugeManifest: a manifest of two million bad lines is refused in a
// few lines of error, exit 2, before any IAM call; of many bad rows only
// the first 50 are listed.
func TestHugeManifest(t *testing.T) {
	e := iamtest.Start(t)
	dir := t.TempDir()
	huge := writeFile(t, "huge.txt", strings.Repeat("bad name!\n", 2_000_000))
	res := runCLI(t, "", batchArgs(e, huge, filepath.Join(dir, "out"))...)
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, "lists more than 5000 senders")
	assert.Less(t, len(res.stderr), 1000)

	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "bad name %d\n", i)
	}
	bad := writeFile(t, "bad.txt", b.String())
	res = runCLI(t, "", batchArgs(e, bad, filepath.Join(dir, "out"))...)
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Equal(t, 50, strings.Count(res.stderr, "\n  line "))
	assert.Contains(t, res.stderr, "... and 2950 more")
	assert.Less(t, len(res.stderr), 20_000)
	assertCalls(t, e, "", 0, "no IAM call")
}

// TestOutputPathsAreChecked: a symbolic link (dangling or not), a device
// or a FIFO as --out is an error before any IAM call, even with --force,
// and nothing is written through it or created beside it.
func TestOutputPathsAreChecked(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.csv")
	require.NoError(t, os.WriteFile(real, []byte("keep"), 0o600))
	link := filepath.Join(dir, "link.csv")
	require.NoError(t, os.Symlink(real, link))
	dangling := filepath.Join(dir, "dangling.csv")
	require.NoError(t, os.Symlink(filepath.Join(dir, "nowhere.csv"), dangling))
	fifo := filepath.Join(dir, "fifo.csv")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for _, tt := range []struct{ name, out, want string }{
		{"dangling symlink", dangling, "which does not exist"},
		{"symlink to a file", link, "is a symbolic link to " + real},
		{"device", "/dev/full", "is a device"},
		{"FIFO", fifo, "is a FIFO"},
	} {
		for _, force := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/force=%v", tt.name, force), func(t *testing.T) {
				e := iamtest.Start(t)
				args := createArgs(e, tt.out, "--user", "target", "--region", matrixRegion)
				if force {
					args = append(args, "--force")
				}
				res := runCLI(t, "", args...)
				assert.Equal(t, exitcode.Usage, res.code, res.stderr)
				assert.Contains(t, res.stderr, tt.want)
				assertCalls(t, e, "", 0, "no IAM call")
			})
		}
	}
	got, _ := os.ReadFile(real)
	assert.Equal(t, "keep", string(got))
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 4, "no lock, marker or file was created beside them")
	assert.NoFileExists(t, filepath.Join(dir, "nowhere.csv"))
}

// TestCSVFormulaUserName: a user named like a spreadsheet formula is
// written safely (a leading ') and verify reads the file back.
func TestCSVFormulaUserName(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t, "the secrets of the keys it issued, for an SES stand-in")
	out := filepath.Join(t.TempDir(), "formula.csv")
	res := runCLI(t, "", createArgs(e, out, "--user", "=1+2", "--region", matrixRegion)...)
	require.Equal(t, 0, res.code, res.stderr)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Contains(t, string(data), "\n'=1+2,")
	assert.NotContains(t, string(data), "\n=1+2,")
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(srv, matrixRegion)})
	res = runCLI(t, "", "verify", "--credentials", out, "--endpoint", smtp.Addr, "--ca-file", smtp.CAFile)
	assert.Equal(t, 0, res.code, res.stderr)
}

// TestKeyDeletedBeforeTheRunEnds: another process deletes the key a run
// has just delivered, before the run ends: exit 0 would be a lie, so the
// run says so, exits 1, removes its file (it names a deleted key) and
// leaves the user as the other process made it.
func TestKeyDeletedBeforeTheRunEnds(t *testing.T) {
	for _, tt := range []struct {
		name  string
		args  func(out string) []string
		setup func(srv *iamtest.Server)
		nth   int // the ListAccessKeys call that is the run's last check
	}{
		{"create", createUserArgs, nil, 1},
		{"rotate --strategy key", rotateKeyArgs, targetUser, 2},
		{"rotate --strategy recreate", recreateArgs, targetUser, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			if tt.setup != nil {
				tt.setup(srv)
			}
			srv.Inject(iamtest.Fault{Action: "ListAccessKeys", Nth: tt.nth, Match: func(c iamtest.Call) bool {
				u, _ := srv.User("target") // another process deletes its keys now
				u.AccessKeys = nil
				srv.PutUser(u)
				return false
			}})
			out := filepath.Join(t.TempDir(), "target.csv")
			res := runCLI(t, "", append(tt.args(out), "--endpoint-url", e.URL, "--region", matrixRegion, "--propagation-wait", "1s")...)
			assert.Equal(t, exitcode.Failed, res.code, res.stderr)
			assert.Contains(t, res.stderr, `no longer holds access key`)
			assert.Contains(t, res.stderr, "The credentials, which named a deleted key, were removed")
			assert.NoFileExists(t, out)
			assert.NoFileExists(t, journal.MarkerPath(out))
			_, ok := srv.User("target")
			assert.True(t, ok, "the user is left as the other process made it")
		})
	}
}

// TestSecondRunOnTheSamePath: a second run on a path another live run
// holds exits 2 at once, naming the holder, and touches neither IAM nor
// the holder's marker.
func TestSecondRunOnTheSamePath(t *testing.T) {
	e := iamtest.Start(t)
	out := filepath.Join(t.TempDir(), "credentials.csv")
	holder, err := journal.Open(journal.File{Path: out, Format: credfile.CSV}, journal.Options{Command: "sesmtp create --user first"})
	require.NoError(t, err)
	defer holder.Close(nil)
	res := runCLI(t, "", createArgs(e, out, "--user", "second", "--region", matrixRegion)...)
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, out+" is in use by another sesmtp run (pid ")
	assert.Contains(t, res.stderr, "sesmtp create --user first")
	assertCalls(t, e, "", 0)
}
