// Package verify holds the SMTP AUTH check of credentials; it never sends mail.
//
// It proves that SMTP credentials authenticate against an SES
// SMTP endpoint: it connects, upgrades to TLS, runs AUTH and QUITs. It
// never sends MAIL FROM, so it never sends mail.
package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
)

// Mode is how the connection is encrypted.
type Mode string

// The TLS modes of SES SMTP endpoints.
const (
	// STARTTLS connects in plain text and upgrades (ports 587, 25, 2587).
	STARTTLS Mode = "starttls"
	// Implicit starts with TLS (ports 465, 2465).
	Implicit Mode = "implicit"
)

// Defaults for Input.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultRetryInterval = 2 * time.Second
	maxRetryInterval     = 30 * time.Second
)

// helloName is the name sesmtp gives in EHLO.
const helloName = "sesmtp.invalid"

// Target is the SMTP server to check against.
type Target struct {
	Host string
	Port int
	Mode Mode
}

func (t Target) String() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// TargetFor returns the SES SMTP endpoint of region (its FIPS one if
// fips) on port 587 (STARTTLS).
func TargetFor(region string, fips bool) Target {
	return Target{Host: derive.Endpoint(region, fips), Port: derive.PortSubmission, Mode: STARTTLS}
}

// ModeForPort returns the TLS mode a port uses by convention.
func ModeForPort(port int) Mode {
	if port == derive.PortTLS || port == derive.PortTLSAlt {
		return Implicit
	}
	return STARTTLS
}

// Input is one check.
type Input struct {
	Username string
	Password credfile.Secret
	// Region is the region the password was derived for, if known: it
	// only sharpens the explanation of a rejection.
	Region string
	Target Target
	// RootCAs verifies the server's certificate (nil: the system's).
	RootCAs *x509.CertPool
	// Timeout bounds each attempt (default 30 s).
	Timeout time.Duration
	// Wait retries rejections (535) and temporary answers (4xx) until
	// this long has passed: a new key can be rejected for a while as IAM
	// propagates it, and SES asks clients to retry 4xx answers.
	Wait time.Duration
	// WaitFlag names the flag that sets Wait, for hints (default "wait";
	// create and rotate say "verify-wait").
	WaitFlag string
	// RetryInterval is the first pause between retries (default 2 s);
	// it doubles, with jitter, up to 30 s.
	RetryInterval time.Duration
	// Progress receives a line per retry, for stderr.
	Progress func(string)
}

// Result describes accepted credentials.
type Result struct {
	Target string `json:"endpoint"`
	Region string `json:"region,omitempty"`
	// Username is the access key id; empty (and left out) when the
	// username is not one, as it may then be a password.
	Username  string `json:"username,omitempty"`
	Mechanism string `json:"mechanism"`
	TLS       string `json:"tls"`
	Attempts  int    `json:"attempts"`
}

var accessKeyIDShape = regexp.MustCompile(`^(AKIA|ASIA)[A-Z0-9]{16}$`)

// LooksLikeAccessKeyID reports whether u is shaped like an access key id,
// which the SMTP username of SES always is.
func LooksLikeAccessKeyID(u string) bool { return accessKeyIDShape.MatchString(u) }

// errTemporaryKey refuses an access key id of temporary credentials.
var errTemporaryKey = exitcode.UsageError(errors.New("the SMTP username starts with ASIA: it is the access key id of temporary " +
	"credentials (STS, an assumed role, an instance profile), and SES's SMTP interface does not accept SMTP credentials " +
	"derived from temporary credentials (SES Developer Guide, \"Obtaining Amazon SES SMTP credentials\"); " +
	"derive the password from an IAM user's long-term key (AKIA...), e.g. with sesmtp create"))

// CheckUsername refuses an SMTP username SES can never accept before any
// connection: the access key id of temporary credentials (exit 2).
func CheckUsername(username string) error {
	if strings.HasPrefix(username, "ASIA") {
		return errTemporaryKey
	}
	return nil
}

// Check authenticates once, or with Wait, until accepted, a final answer
// or the deadline. Rejections (535) and temporary answers (4xx) are
// retried within Wait, the pause doubling with jitter and the last one
// shortened to end at the deadline, where one last attempt is made.
func Check(ctx context.Context, in Input) (Result, error) {
	if err := CheckUsername(in.Username); err != nil {
		return Result{}, err
	}
	if in.Timeout <= 0 {
		in.Timeout = DefaultTimeout
	}
	interval := in.RetryInterval
	if interval <= 0 {
		interval = DefaultRetryInterval
	}
	deadline := time.Now().Add(in.Wait)
	for attempt := 1; ; attempt++ {
		res, err := attemptAuth(ctx, in)
		// Server text reaches errors through many paths (replies, and
		// protocol errors quoting a malformed line): one last sweep.
		err = in.redactErr(err)
		res.Attempts = attempt
		why := retryable(err)
		left := time.Until(deadline)
		if why == "" || left <= 0 {
			return res, err
		}
		pause := min(interval/2+rand.N(interval/2+1), left)
		if in.Progress != nil {
			in.Progress(fmt.Sprintf("attempt %d: %s: retrying in %s (giving up in %s)",
				attempt, why, pause.Round(time.Millisecond), left.Round(time.Second)))
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(pause):
		}
		interval = min(2*interval, maxRetryInterval)
	}
}

// retryable says why err is worth another attempt, or "" if it is not.
func retryable(err error) string {
	var rejected *RejectedError
	var temporary *TemporaryError
	switch {
	case errors.As(err, &rejected) && !rejected.Final:
		return fmt.Sprintf("%d rejected; a new key can take a while to reach SES", rejected.Code)
	case errors.As(err, &temporary):
		return fmt.Sprintf("%d %s (temporary; SES says to retry 4xx answers)", temporary.Code, temporary.Message)
	}
	return ""
}

// attemptAuth connects, secures the connection, authenticates and quits.
func attemptAuth(ctx context.Context, in Input) (Result, error) {
	res := Result{Target: in.Target.String(), Region: in.Region}
	if !UsernameLooksSecret(in.Username) {
		res.Username = in.Username
	}
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", in.Target.String())
	if err != nil {
		return res, fmt.Errorf("connect to %s: %w", in.Target, unwrapOp(err))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	tlsConfig := &tls.Config{ServerName: in.Target.Host, RootCAs: in.RootCAs, MinVersion: tls.VersionTLS12}
	var c *smtp.Client
	if in.Target.Mode == Implicit {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return res, tlsError(in.Target, err)
		}
		c = smtp.NewClient(tc)
	} else if c, err = smtp.NewClientStartTLS(conn, tlsConfig); err != nil {
		return res, startTLSError(in, err)
	}
	defer c.Close()
	// EHLO (again, after STARTTLS) completes the TLS handshake, which
	// go-smtp otherwise leaves to the first command, hiding its error.
	if err := c.Hello(helloName); err != nil {
		return res, startTLSError(in, err)
	}
	if state, ok := c.TLSConnectionState(); ok {
		res.TLS = tls.VersionName(state.Version)
	}
	var mech sasl.Client
	switch {
	case c.SupportsAuth(sasl.Plain):
		mech, res.Mechanism = sasl.NewPlainClient("", in.Username, in.Password.Reveal()), sasl.Plain
	case c.SupportsAuth(sasl.Login):
		mech, res.Mechanism = sasl.NewLoginClient(in.Username, in.Password.Reveal()), sasl.Login
	default:
		return res, fmt.Errorf("%s offers neither AUTH PLAIN nor AUTH LOGIN; is it an SES SMTP endpoint?", in.Target)
	}
	if err := c.Auth(mech); err != nil {
		return res, authError(in, err)
	}
	_ = c.Quit()
	return res, nil
}
