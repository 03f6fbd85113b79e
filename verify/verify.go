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

// TargetFor returns the SES SMTP endpoint of region on port 587 (STARTTLS).
func TargetFor(region string) Target {
	return Target{Host: derive.Endpoint(region), Port: derive.PortSubmission, Mode: STARTTLS}
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
	// Wait retries rejections (535) until this long has passed: a new key
	// can be rejected for a while as IAM propagates it.
	Wait time.Duration
	// RetryInterval is the first pause between retries (default 2 s);
	// it doubles, with jitter, up to 30 s.
	RetryInterval time.Duration
	// Progress receives a line per retry, for stderr.
	Progress func(string)
}

// Result describes accepted credentials.
type Result struct {
	Target    string `json:"endpoint"`
	Username  string `json:"username"`
	Mechanism string `json:"mechanism"`
	TLS       string `json:"tls"`
	Attempts  int    `json:"attempts"`
}

// RejectedError reports credentials the server refused (535).
type RejectedError struct {
	Target  string
	Code    int
	Message string
	// Causes are the likely causes, most likely first.
	Causes []string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("%s rejected the credentials: %d %s. Likely causes, most likely first:\n  - %s",
		e.Target, e.Code, e.Message, strings.Join(e.Causes, "\n  - "))
}

// ExitCode implements exitcode.Coder.
func (e *RejectedError) ExitCode() int { return exitcode.Rejected }

var accessKeyIDShape = regexp.MustCompile(`^(AKIA|ASIA)[A-Z0-9]{16}$`)

// LooksLikeAccessKeyID reports whether u is shaped like an access key id,
// which the SMTP username of SES always is.
func LooksLikeAccessKeyID(u string) bool { return accessKeyIDShape.MatchString(u) }

// Check authenticates once, or with Wait, until accepted or the deadline.
func Check(ctx context.Context, in Input) (Result, error) {
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
		res.Attempts = attempt
		var rejected *RejectedError
		if err == nil || !errors.As(err, &rejected) || time.Now().Add(interval).After(deadline) {
			return res, err
		}
		pause := interval/2 + rand.N(interval/2+1)
		if in.Progress != nil {
			in.Progress(fmt.Sprintf("attempt %d: %d rejected; a new key can take a while to reach SES: retrying in %s (giving up in %s)",
				attempt, rejected.Code, pause.Round(100*time.Millisecond), time.Until(deadline).Round(time.Second)))
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(pause):
		}
		interval = min(2*interval, maxRetryInterval)
	}
}

// attemptAuth connects, secures the connection, authenticates and quits.
func attemptAuth(ctx context.Context, in Input) (Result, error) {
	res := Result{Target: in.Target.String(), Username: in.Username}
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
		return res, startTLSError(in.Target, err)
	}
	defer c.Close()
	// EHLO (again, after STARTTLS) completes the TLS handshake, which
	// go-smtp otherwise leaves to the first command, hiding its error.
	if err := c.Hello(helloName); err != nil {
		return res, startTLSError(in.Target, err)
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

func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

func tlsError(t Target, err error) error {
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown), errors.As(err, &hostErr), errors.As(err, &verr):
		return fmt.Errorf("TLS with %s failed: its certificate is not trusted (%v); sesmtp verifies certificates: "+
			"for a private relay or test server pass its CA with --ca-file", t, unwrapOp(err))
	}
	return fmt.Errorf("TLS with %s failed: %w", t, unwrapOp(err))
}

func startTLSError(t Target, err error) error {
	var se *smtp.SMTPError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%s answered %d %s during EHLO/STARTTLS", t, se.Code, se.Message)
	case strings.Contains(err.Error(), "STARTTLS"):
		// go-smtp's only signal for a server without STARTTLS is a plain
		// errors.New, and its client cannot upgrade a connection it did not
		// start with NewClientStartTLS: the text is all there is to match.
		return fmt.Errorf("%s does not offer STARTTLS; sesmtp never sends credentials unencrypted "+
			"(for ports 465 and 2465 use --tls implicit)", t)
	}
	return tlsError(t, err)
}

func authError(in Input, err error) error {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return fmt.Errorf("AUTH with %s failed: %w", in.Target, unwrapOp(err))
	}
	switch se.Code {
	case 535:
		return &RejectedError{Target: in.Target.String(), Code: se.Code, Message: se.Message, Causes: causes(in)}
	case 530:
		return fmt.Errorf("%s answered 530 %s: the connection was not encrypted when it expected it to be; "+
			"use --tls starttls on 587/25/2587 and --tls implicit on 465/2465", in.Target, se.Message)
	}
	return fmt.Errorf("%s refused AUTH: %d %s", in.Target, se.Code, se.Message)
}

// causes lists why SES answers 535, most likely first, and marks what
// the input itself shows.
func causes(in Input) []string {
	var out []string
	pw := in.Password.Reveal()
	if !LooksLikeAccessKeyID(in.Username) {
		out = append(out, "the username is not an access key id (AKIA...): SES SMTP usernames are the access key id, not the IAM user name [this username does not look like one]")
	}
	if strings.HasPrefix(pw, "A") && len(pw) == derive.PasswordLen {
		out = append(out, "the password is a legacy version 2 password, which SES rejects since March 2021: derive a v4 one (sesmtp derive, or sesmtp rotate) [this password starts with A, as v2 passwords do]")
	}
	if len(pw) != derive.PasswordLen {
		out = append(out, fmt.Sprintf("the password was mangled on the way (SMTP passwords are %d characters and contain + and /, which some config formats and URL parsers change) [this one is %d characters]", derive.PasswordLen, len(pw)))
	}
	region := in.Region
	if region == "" {
		region = credfile.RegionOfHost(in.Target.Host)
	}
	out = append(out,
		fmt.Sprintf("the password was derived for another region than this endpoint's%s: passwords differ per region", regionNote(region)),
		"the key is new and IAM has not propagated it to SES yet: retry with --wait 2m",
		"the access key is inactive or deleted, or its IAM user lacks ses:SendRawEmail (sesmtp list shows the key's status)")
	return out
}

func regionNote(region string) string {
	if region == "" {
		return ""
	}
	return " (" + region + ")"
}
