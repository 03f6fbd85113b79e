package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// fixedNow is the clock of every test run: default user names derive from it.
var fixedNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// result is what one sesmtp run produced.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs sesmtp in-process with args and stdin.
func runCLI(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	return runCLIContext(t, t.Context(), stdin, args...)
}

func runCLIContext(t testing.TB, ctx context.Context, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, append([]string{"sesmtp"}, args...), stdio{
		in: strings.NewReader(stdin), out: &out, err: &errOut, now: func() time.Time { return fixedNow }, resolver: resolvesAll{},
	})
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// assertNoSecrets fails if any secret the endpoint issued, or any SMTP
// password derived from one, appears in texts.
func assertNoSecrets(t testing.TB, e *iamtest.Endpoint, texts ...string) {
	t.Helper()
	if e.Server == nil {
		return
	}
	secrets := e.Server.IssuedSecrets()
	for _, s := range secrets {
		forbidden := []string{s, derive.PasswordV2(s)}
		for _, r := range derive.Regions() {
			forbidden = append(forbidden, derive.PasswordV4(s, r))
		}
		for _, text := range texts {
			for _, f := range forbidden {
				if strings.Contains(text, f) {
					t.Errorf("a secret or SMTP password leaked into output:\n%s", text)
					return
				}
			}
		}
	}
	for _, text := range texts {
		assert.NotContains(t, text, iamtest.DefaultSecretAccessKey, "the operator's own secret leaked")
	}
}

// unsetenv removes a variable for the rest of a test that has already
// registered its restoration with t.Setenv.
func unsetenv(key string) error { return os.Unsetenv(key) }

func groupInput(name string) *iam.CreateGroupInput { return &iam.CreateGroupInput{GroupName: &name} }

// runAsMainEnv makes the test binary act as sesmtp itself, so that tests
// can run it as a process and signal it.
const runAsMainEnv = "SESMTP_TEST_RUN_MAIN"

// killAtEnv makes a process run as sesmtp kill itself with SIGKILL at a
// journal step: "STEP#N" is the Nth time it reaches STEP.
const killAtEnv = "SESMTP_TEST_KILL_AT"

func TestMain(m *testing.M) {
	if os.Getenv(runAsMainEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		io := newStdio()
		io.resolver = resolvesAll{} // tests never ask real DNS
		io.step = killAt(os.Getenv(killAtEnv))
		code := run(ctx, os.Args, io)
		stop()
		os.Exit(code)
	}
	// Store journals go to a directory of this run's, never to ~/.local/state.
	state, err := os.MkdirTemp("", "sesmtp-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv(journal.EnvStateDir, state)
	code := m.Run()
	os.RemoveAll(state)
	os.Exit(code)
}

// killAt returns a step hook that SIGKILLs this process at spec ("STEP#N"),
// or nil for "".
func killAt(spec string) func(string) {
	if spec == "" {
		return nil
	}
	var mu sync.Mutex
	seen := map[string]int{}
	return func(step string) {
		mu.Lock()
		defer mu.Unlock()
		seen[step]++
		if fmt.Sprintf("%s#%d", step, seen[step]) == spec {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the kernel ends the process before anything else runs here
		}
	}
}

// subprocess returns a command that runs this test binary as sesmtp with
// args; a watchdog kills it if it runs for over a minute, so that a hang
// fails the test instead of stalling the suite.
func subprocess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// consoleUser is a user as the SES console makes it: inline
// AmazonSesSendingAccess and one key, no sesmtp tag.
func consoleUser(name string) iamtest.User {
	return iamtest.User{Name: name,
		InlinePolicies: map[string]string{provision.DefaultPolicyName: senderPolicyJSON},
		AccessKeys:     []iamtest.AccessKey{{ID: "AKIA" + strings.Repeat("C", 15) + name[len(name)-1:], SecretAccessKey: "console-secret-" + name, Created: fixedNow.Add(-100 * 24 * time.Hour)}}}
}

// resolvesAll is the resolver of every test run: every host resolves (to
// a documentation address), so no test asks real DNS.
type resolvesAll struct{}

func (resolvesAll) LookupHost(context.Context, string) ([]string, error) {
	return []string{"192.0.2.1"}, nil
}
