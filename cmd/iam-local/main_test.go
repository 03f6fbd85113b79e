package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// runAsMainEnv makes the test binary run main, so that tests can run
// iam-local as a built binary and signal it.
const runAsMainEnv = "IAM_LOCAL_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHelpTeaches(t *testing.T) {
	var out bytes.Buffer
	_, err := parseFlags([]string{"--help"}, &out, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"local IAM endpoint", "Examples:", "--consistency-delay", "--rate-limit", "--unimplemented",
		"-latency", "AWS_ENDPOINT_URL_IAM"} {
		assert.Contains(t, out.String(), want)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--unimplemented", "ListUsers=bogus"}, {"--unimplemented", "ListUsers"}, {"extra"}} {
		_, err := parseFlags(args, &bytes.Buffer{}, &bytes.Buffer{})
		assert.Error(t, err, args)
	}
	cfg, err := parseFlags([]string{"--rate-limit", "20", "--unimplemented", "ListServiceSpecificCredentials=html500"}, &bytes.Buffer{}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 20, cfg.burst, "one second's worth by default")
	assert.Equal(t, iamtest.Answer500HTML, cfg.unimplemented["ListServiceSpecificCredentials"])
}

func client(url string) *iam.Client {
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(iamtest.DefaultAccessKeyID, iamtest.DefaultSecretAccessKey, "")})
}

// TestLogsEachCallWithoutSecrets runs the server in-process and checks the
// per-call log lines and that stopping it ends a call in flight.
func TestLogsEachCallWithoutSecrets(t *testing.T) {
	var stdout, stderr lockedBuffer
	cfg, err := parseFlags([]string{"--port", "0", "--url-file", t.TempDir() + "/url", "--unimplemented", "ListMFADevices=501"}, &stdout, &stderr)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg) }()
	url := waitForURL(t, cfg.urlFile, done)

	c := client(url)
	_, err = c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("mailer")})
	require.NoError(t, err)
	key, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("mailer")})
	require.NoError(t, err)
	_, err = c.GetUser(t.Context(), &iam.GetUserInput{UserName: aws.String("ghost")})
	require.Error(t, err)
	_, err = c.ListMFADevices(t.Context(), &iam.ListMFADevicesInput{UserName: aws.String("mailer")})
	require.Error(t, err)
	cancel()
	require.NoError(t, <-done)

	log := stderr.String()
	assert.Regexp(t, `time=\S+ level=INFO msg=call action=CreateUser user=mailer caller=admin status=200 outcome=ok ms=\d+`, log)
	assert.Contains(t, log, "action=CreateAccessKey user=mailer caller=admin status=200 outcome=ok")
	assert.Contains(t, log, "action=GetUser user=ghost caller=admin status=404 outcome=NoSuchEntity")
	assert.Contains(t, log, "action=ListMFADevices user=mailer caller=admin status=501 outcome=InternalFailure")
	assert.NotContains(t, log, aws.ToString(key.AccessKey.SecretAccessKey), "never a secret")
	assert.NotContains(t, log, iamtest.DefaultSecretAccessKey)
	assert.Contains(t, stdout.String(), "serving IAM on "+url)
}

func waitForURL(t *testing.T, file string, done <-chan error) string {
	t.Helper()
	deadline := time.After(10 * time.Second) // a guard against a hang, not synchronisation
	for {
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		select {
		case err := <-done:
			t.Fatalf("iam-local stopped: %v", err)
		case <-deadline:
			t.Fatal("iam-local did not start")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestBinaryStopsOnSignal runs iam-local as a process, signals it while a
// slow call is in flight, and checks that it exits at once and frees its
// port: nothing is left running.
func TestBinaryStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // watchdog
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "--port", "0", "--latency", "30s", "--quiet")
			cmd.Env = append(os.Environ(), runAsMainEnv+"=1")
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			line, err := bufio.NewReader(out).ReadString('\n')
			require.NoError(t, err)
			_, rest, _ := strings.Cut(line, "serving IAM on ")
			url, _, _ := strings.Cut(rest, " ")
			require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), line)

			inFlight := make(chan error, 1)
			go func() {
				_, err := client(url).ListUsers(ctx, &iam.ListUsersInput{}, func(o *iam.Options) { o.Retryer = aws.NopRetryer{} })
				inFlight <- err
			}()
			waitListening(t, url)
			start := time.Now()
			require.NoError(t, cmd.Process.Signal(sig))
			require.NoError(t, cmd.Wait(), "a clean exit")
			assert.Less(t, time.Since(start), 5*time.Second, "the 30 s call in flight did not hold it")
			assert.Error(t, <-inFlight, "the call in flight got no answer")
			_, err = net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			var opErr *net.OpError
			assert.True(t, errors.As(err, &opErr), "the port is free: nothing holds it (%v)", err)
		})
	}
}

// waitListening returns once the server accepts connections.
func waitListening(t *testing.T, url string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 5*time.Second)
	require.NoError(t, err)
	conn.Close()
}
