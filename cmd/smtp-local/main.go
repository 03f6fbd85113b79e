// Command smtp-local serves the local SES-like SMTP endpoint (smtptest) on a port.
//
// It serves it for demos and rehearsals: STARTTLS or implicit TLS with a CA
// it generates and writes to a file, AUTH PLAIN and LOGIN accepted only
// for the v4 password of an active key that a local IAM endpoint
// (iam-local) issued, SES's reply codes, and one log line per connection
// (never a password). It never delivers mail.
//
//	bin/iam-local --port 0 --url-file iam.url &
//	bin/smtp-local --port 0 --iam-endpoint "$(cat iam.url)" --region eu-west-1 \
//	    --ca-file-out ca.pem --addr-file smtp.addr &
//	sesmtp verify --credentials c.csv --endpoint "$(cat smtp.addr)" --ca-file ca.pem
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "smtp-local:", err)
		os.Exit(2)
	}
}

const usage = `smtp-local serves a local SES-like SMTP endpoint on 127.0.0.1 for rehearsing
sesmtp verify, create --verify and rotate --verify without AWS. It accepts AUTH only
for the v4 SMTP password, for --region, of an active access key that the local IAM
endpoint (--iam-endpoint, an iam-local) issued, and answers as SES does: 535 5.7.8
Authentication Credentials Invalid, 535 Signature Version 2 is deprecated, 454 4.7.0
Temporary authentication failure (IAM endpoint unreachable), 530 Must issue a STARTTLS
command first, 554 Access denied to MAIL (it never delivers mail).

EXAMPLE:
   smtp-local --port 0 --iam-endpoint http://127.0.0.1:4599 --region eu-west-1 \
       --ca-file-out ca.pem --addr-file smtp.addr
   sesmtp verify --credentials c.csv --endpoint "$(cat smtp.addr)" --ca-file ca.pem

FLAGS:
`

// config is smtp-local's command line.
type config struct {
	port              int
	tls               string
	iamURL, region    string
	caOut             string
	urlFile, addrFile string
	delay             time.Duration
}

func parse(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("smtp-local", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprint(out, usage); fs.PrintDefaults() }
	fs.IntVar(&c.port, "port", 4587, "TCP port to listen on, on 127.0.0.1 (0 picks a free one)")
	fs.StringVar(&c.tls, "tls", "starttls", "starttls (as SES on 587, 25, 2587) or implicit (as SES on 465, 2465)")
	fs.StringVar(&c.iamURL, "iam-endpoint", "", "URL of the local IAM endpoint whose keys are accepted (required)")
	fs.StringVar(&c.region, "region", "", "region whose SMTP passwords are accepted (required)")
	fs.StringVar(&c.caOut, "ca-file-out", "smtp-local-ca.pem", "write the generated CA certificate here (PEM), for --ca-file")
	fs.StringVar(&c.urlFile, "url-file", "", "write smtp://HOST:PORT (smtps:// with --tls implicit) here once listening")
	fs.StringVar(&c.addrFile, "addr-file", "", "write HOST:PORT here once listening, ready for sesmtp --endpoint")
	fs.DurationVar(&c.delay, "propagation-delay", 0, "reject keys younger than this with 535, as SES does while a new key propagates")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.iamURL == "":
		return c, errors.New("--iam-endpoint is required (the URL iam-local prints)")
	case c.region == "":
		return c, errors.New("--region is required (passwords differ per region)")
	case c.tls != "starttls" && c.tls != "implicit":
		return c, fmt.Errorf("--tls must be starttls or implicit, not %q", c.tls)
	}
	return c, derive.CheckRegion(c.region, true)
}

// run serves until ctx ends; ready, if set, gets the server once it listens.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(*smtptest.Server)) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	srv, err := smtptest.Start(smtptest.Options{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), Implicit: c.tls == "implicit", CAFile: c.caOut,
		Check: smtptest.IAMCheck{URL: c.iamURL, Region: c.region, MinKeyAge: c.delay}.Check,
		Log:   func(line string) { fmt.Fprintln(stderr, "smtp-local:", line) },
	})
	if err != nil {
		return err
	}
	if err := writeFiles(c, srv.Addr); err != nil {
		_ = srv.Close()
		return err
	}
	fmt.Fprintf(stdout, "smtp-local: serving SMTP (%s) on %s for %s keys of %s; CA in %s\n", c.tls, srv.Addr, c.region, c.iamURL, c.caOut)
	if ready != nil {
		ready(srv)
	}
	<-ctx.Done()
	return srv.Close()
}

// writeFiles writes --url-file and --addr-file, for scripts, once the
// server listens (atomically: a script polling for them reads all or none).
func writeFiles(c config, addr string) error {
	scheme := "smtp"
	if c.tls == "implicit" {
		scheme = "smtps"
	}
	for path, content := range map[string]string{c.urlFile: scheme + "://" + addr, c.addrFile: addr} {
		if path == "" {
			continue
		}
		if err := smtptest.WriteFileAtomic(path, []byte(content+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}
