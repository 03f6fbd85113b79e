package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// docExample is one shell command line of a document's sh blocks that
// runs sesmtp.
type docExample struct {
	line int
	cmd  string
}

// docExamples returns the sesmtp commands of path's ```sh blocks, with
// continued lines joined: lines whose command (after VAR=value
// assignments) is sesmtp, or that pipe into sesmtp.
func docExamples(t *testing.T, path string) []docExample {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []docExample
	inSh, cont, start := false, "", 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !inSh:
			inSh = strings.TrimSpace(line) == "```sh"
			continue
		case strings.TrimSpace(line) == "```":
			inSh = false
			continue
		}
		if cont == "" {
			start = n
		}
		if l, ok := strings.CutSuffix(line, `\`); ok {
			cont += l
			continue
		}
		cmd := strings.TrimSpace(cont + line)
		cont = ""
		if runsSesmtp(cmd) {
			out = append(out, docExample{line: start, cmd: cmd})
		}
	}
	require.NoError(t, sc.Err())
	return out
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|'[^']*'|\S*)\s+`)

func runsSesmtp(cmd string) bool {
	for assignment.MatchString(cmd) {
		cmd = assignment.ReplaceAllString(cmd, "")
	}
	return strings.HasPrefix(cmd, "sesmtp ") || strings.Contains(cmd, "| sesmtp ")
}

// exampleSecret is the secret access key the derive examples find in
// $secret, AWS's documented example key.
const docSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

// exampleFixtures are the files a reader of the documents is assumed to
// have: manifests (docs/batch.md shows their format) and a secret key.
var exampleFixtures = map[string]string{
	"senders.csv": "user,from_address\nnewsletter-mailer,news@example.com\nalerts-mailer,\n",
	"senders.txt": "plain-mailer-1\nplain-mailer-2\n",
	"secret.txt":  docSecret + "\n",
}

// exampleUsers are the SMTP users each document's examples work on
// without creating them first.
var exampleUsers = map[string][]string{
	"README.md": {"old-sender"},
	"rotate.md": {"billing-mailer", "legacy-sender"},
	"retire.md": {"billing-mailer", "newsletter-mailer", "alerts-mailer"}, // the last two: senders.csv's
	"delete.md": {"billing-mailer", "old-sender"},
	"verify.md": {"billing-mailer"}, // verify --permission-only asks IAM only
}

// exampleSkip says why an example cannot run here, or "".
func exampleSkip(cmd string) string {
	switch {
	case strings.Contains(cmd, "smtp.addr"):
		return "a step of the smtp-local rehearsal: needs the bin/iam-local and bin/smtp-local the block's first lines start (make demo runs this flow)"
	case (strings.HasPrefix(cmd, "sesmtp verify ") || strings.Contains(cmd, " sesmtp verify ")) && !strings.Contains(cmd, "--permission-only"):
		return "verify connects to the real SES endpoint of the file's region; nothing points it at a local one without --endpoint"
	case strings.Contains(cmd, "--role-arn"):
		return "assumes a role in other accounts: needs an STS endpoint, which the tests do not have"
	case strings.Contains(cmd, "# asks on a terminal"):
		return "asks for confirmation on a terminal, which sh -c has not (TestDeleteConfirmation covers the prompt)"
	}
	return ""
}

// TestDocExamplesRun runs every sesmtp command of the README's and the
// command pages' sh blocks as written, through sh, with `sesmtp` on PATH
// being this test binary acting as sesmtp, against a local IAM endpoint
// (AWS_ENDPOINT_URL_IAM, and its Secrets Manager and SSM endpoints) on a
// machine with no region configured. Each
// example runs in a fresh directory holding exampleFixtures; the examples
// of one document share one IAM account, in order. Each must exit 0.
func TestDocExamplesRun(t *testing.T) {
	docs := []string{"../README.md", "../docs/create.md", "../docs/batch.md", "../docs/rotate.md", "../docs/retire.md", "../docs/delete.md",
		"../docs/list.md", "../docs/derive.md", "../docs/policy.md", "../docs/verify.md", "../docs/setup.md", "../docs/store.md"}
	ran := 0
	for _, doc := range docs {
		t.Run(filepath.Base(doc), func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.State(t)
			for _, u := range exampleUsers[filepath.Base(doc)] {
				srv.PutUser(consoleUser(u))
			}
			env := exampleEnv(t, e)
			examples := docExamples(t, doc)
			require.NotEmpty(t, examples)
			for _, ex := range examples {
				t.Run(fmt.Sprintf("line %d", ex.line), func(t *testing.T) {
					if why := exampleSkip(ex.cmd); why != "" {
						t.Skip(why)
					}
					if strings.Contains(ex.cmd, "--permission-only") {
						needsSimulation(t, e)
					}
					ran++
					runExample(t, e, env, ex.cmd)
				})
			}
		})
	}
	t.Logf("doc examples: %d run", ran)
	assert.GreaterOrEqual(t, ran, 30, "the documents' examples are found and run")
}

// exampleEnv is the environment of a reader following the documents: the
// test isolation of iamtest.Start, no region, the local IAM endpoint, and
// `sesmtp` and a stub `pass` first on PATH.
func exampleEnv(t *testing.T, e *iamtest.Endpoint) []string {
	t.Helper()
	t.Setenv("AWS_REGION", "")
	require.NoError(t, unsetenv("AWS_REGION"))
	bin := t.TempDir()
	self, err := os.Executable()
	require.NoError(t, err)
	scripts := map[string]string{
		"sesmtp": fmt.Sprintf("#!/bin/sh\n%s=1 exec '%s' \"$@\"\n", runAsMainEnv, self),
		"pass":   "#!/bin/sh\necho '" + docSecret + "'\n",
	}
	for name, body := range scripts {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(body), 0o700))
	}
	return append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AWS_ENDPOINT_URL_IAM="+e.URL, "AWS_ENDPOINT_URL_SECRETS_MANAGER="+e.URL, "AWS_ENDPOINT_URL_SSM="+e.URL, "secret="+docSecret)
}

// runExample runs cmd with sh in a fresh directory and checks it exits 0.
// The README's by-hand example names iam-local's port 4599, which the line
// before it starts; here the test's own endpoint stands in for it.
func runExample(t *testing.T, e *iamtest.Endpoint, env []string, cmd string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range exampleFixtures {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
	cmd = strings.ReplaceAll(cmd, "http://127.0.0.1:4599", e.URL)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "sh", "-c", cmd)
	sh.Dir, sh.Env, sh.WaitDelay = dir, env, 5*time.Second
	out, err := sh.CombinedOutput()
	assert.NoError(t, err, "%s\n%s", cmd, out)
}
