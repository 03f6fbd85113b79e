// Command iam-local serves a local IAM endpoint (package iamtest) for demos
// and manual testing; see its --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

const usage = `iam-local serves a local IAM endpoint: the IAM Query API over HTTP on
127.0.0.1, answering the calls sesmtp makes as IAM does (same XML, error codes,
HTTP statuses, SigV4 signature check), with its state in memory until it stops.
It accepts AWS's documented example credentials (access key %s,
its secret in the examples below) and nothing else. It is the endpoint sesmtp's
tests and 'make demo' use; nothing it does reaches AWS.

It can also behave as real IAM does at its least convenient, to rehearse a run:
eventual consistency (--consistency-delay), throttling (--rate-limit),
ConcurrentModification conflicts, latency, and the gaps of other emulators
(--unimplemented).

Each call is logged to stderr (time, action, user, caller, status, outcome,
milliseconds); never a secret, a header or a body.

Usage:
  iam-local [flags]

Examples:
  # Serve on port 4599 and point sesmtp (or the AWS CLI) at it:
  bin/iam-local --port 4599 &
  export AWS_ENDPOINT_URL_IAM=http://127.0.0.1:4599
  export AWS_ACCESS_KEY_ID=%s
  export AWS_SECRET_ACCESS_KEY=%s
  sesmtp create --user demo-mailer --region eu-west-1

  # Feel IAM's speed, its propagation delay and its throttling:
  bin/iam-local --latency 50ms --consistency-delay 3s --rate-limit 20

  # Rehearse against an emulator that lacks a call (moto's HTML 500):
  bin/iam-local --unimplemented ListServiceSpecificCredentials=html500

  # For scripts: a free port, its URL written to a file once listening:
  bin/iam-local --port 0 --url-file /tmp/iam-url

Flags:
`

// config is what the flags ask for.
type config struct {
	port             int
	account, urlFile string
	latency, delay   time.Duration
	rate             float64
	burst            int
	conflicts        float64
	unimplemented    map[string]iamtest.Unimplemented
	quiet            bool
	stdout, stderr   io.Writer
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = run(ctx, cfg)
		stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "iam-local:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stdout, stderr io.Writer) (config, error) {
	cfg := config{unimplemented: map[string]iamtest.Unimplemented{}, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("iam-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, usage, iamtest.DefaultAccessKeyID, iamtest.DefaultAccessKeyID, iamtest.DefaultSecretAccessKey)
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.port, "port", 4599, "TCP port to listen on (0 picks a free one)")
	fs.StringVar(&cfg.account, "account", iamtest.DefaultAccountID, "account id used in ARNs")
	fs.StringVar(&cfg.urlFile, "url-file", "", "write the endpoint URL to this file once listening (for scripts)")
	fs.DurationVar(&cfg.latency, "latency", 0, "delay added to every call, to stand in for IAM's real latency")
	fs.DurationVar(&cfg.delay, "consistency-delay", 0, "eventual consistency: new users, keys, policies, groups and memberships stay invisible to other calls this long (IAM: seconds)")
	fs.Float64Var(&cfg.rate, "rate-limit", 0, "throttle the account to this many calls per second (token bucket; over it: Throttling, HTTP 400)")
	fs.IntVar(&cfg.burst, "rate-burst", 0, "bursts the rate limit allows (default: one second's worth)")
	fs.Float64Var(&cfg.conflicts, "concurrent-modification", 0, "share (0-1) of changing calls answered ConcurrentModification (HTTP 409)")
	fs.Func("unimplemented", "ACTION=HOW: answer ACTION as an emulator lacking it; HOW is 501, html500, notimplemented or invalidaction (repeatable)", func(v string) error {
		action, how, ok := strings.Cut(v, "=")
		u, known := iamtest.ParseUnimplemented(how)
		if !ok || action == "" || !known {
			return fmt.Errorf("want ACTION=HOW with HOW one of 501, html500, notimplemented, invalidaction; got %q", v)
		}
		cfg.unimplemented[action] = u
		return nil
	})
	fs.BoolVar(&cfg.quiet, "quiet", false, "do not log each call")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.burst == 0 {
		cfg.burst = max(1, int(cfg.rate))
	}
	return cfg, nil
}

// server builds the endpoint the flags describe.
func (cfg config) server() *iamtest.Server {
	opts := []iamtest.Option{iamtest.WithAccountID(cfg.account)}
	if cfg.delay > 0 {
		opts = append(opts, iamtest.WithConsistency(iamtest.Consistency{Delay: cfg.delay}))
	}
	if cfg.rate > 0 {
		opts = append(opts, iamtest.WithRateLimit(cfg.rate, cfg.burst))
	}
	if cfg.conflicts > 0 {
		opts = append(opts, iamtest.WithConcurrentModification(cfg.conflicts))
	}
	for action, how := range cfg.unimplemented {
		opts = append(opts, iamtest.WithUnimplemented(how, action))
	}
	srv := iamtest.NewUnstartedServer(opts...)
	if cfg.latency > 0 {
		srv.Inject(iamtest.Fault{Kind: iamtest.Delay, Delay: cfg.latency})
	}
	return srv
}

// run serves until ctx ends (SIGINT, SIGTERM); calls in flight are
// cancelled, so that it exits at once and leaves nothing running.
func run(ctx context.Context, cfg config) error {
	srv := cfg.server()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.port)))
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if cfg.urlFile != "" {
		if err := os.WriteFile(cfg.urlFile, []byte(url+"\n"), 0o644); err != nil {
			ln.Close()
			return err
		}
	}
	fmt.Fprintf(cfg.stdout, "iam-local: serving IAM on %s (access key %s, account %s)\n", url, iamtest.DefaultAccessKeyID, cfg.account)
	var handler http.Handler = srv
	if !cfg.quiet {
		handler = srv.LogCalls(slog.New(slog.NewTextHandler(cfg.stderr, nil)))
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = hs.Shutdown(shutdown)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}
