// Package smtptest holds a local SES-like SMTP server, for tests and smtp-local.
//
// It runs an SMTP server on 127.0.0.1 that behaves as an SES
// SMTP endpoint does for authentication: TLS (STARTTLS or implicit) with a
// CA it generates, AUTH PLAIN and LOGIN, SES's reply codes, and scripted
// answers. Tests use it through NewServer; cmd/smtp-local serves it with
// credentials checked by the local IAM endpoint (IAMCheck). It never
// delivers mail.
package smtptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sesmtp/sesmtp/derive"
)

// Options configure a Server.
type Options struct {
	// AccessKeyID and Password are the only credentials accepted, unless
	// Accept or Check decides.
	AccessKeyID string
	Password    string
	// Accept, if set, decides instead of AccessKeyID and Password (for
	// keys that do not exist yet when the server starts).
	Accept func(username, password string) bool
	// Check, if set, answers each AUTH instead of Accept: nil accepts, an
	// *smtp.SMTPError is the reply, any other error answers 454 4.7.0
	// Temporary authentication failure (SES could not check).
	Check func(ctx context.Context, username, password string) error
	// RejectFirst rejects the first N AUTH attempts even with the right
	// credentials, as SES does while a new key propagates.
	RejectFirst int
	// Script answers the first AUTH attempts, in order, before any check
	// (e.g. ReplyTemporaryAuthFailure twice, then check as usual); a nil
	// entry checks as usual.
	Script []*smtp.SMTPError
	// Implicit serves TLS from the first byte (ports 465/2465) instead of STARTTLS.
	Implicit bool
	// NoTLS offers no STARTTLS at all.
	NoTLS bool
	// LoginOnly offers AUTH LOGIN but not PLAIN.
	LoginOnly bool
	// Addr is where to listen (default 127.0.0.1:0, a free port).
	Addr string
	// CAFile, if set, receives the CA certificate (PEM, 0644).
	CAFile string
	// Log, if set, receives one line per connection when it closes:
	// client, TLS, AUTH mechanism, username and answer. Never a password.
	Log func(line string)
}

// Server is a running SMTP server.
type Server struct {
	// Host and Port are where it listens; Addr is "host:port".
	Host string
	Port int
	Addr string
	// CAFile is the PEM file with the CA that signed its certificate
	// (Options.CAFile).
	CAFile string
	// CAPool holds the same CA.
	CAPool *x509.CertPool

	opts Options
	srv  *smtp.Server
	ln   net.Listener
	done chan struct{}

	mu       sync.Mutex
	attempts int
	mails    int
	accepted int
}

// Start starts a server; Close stops it.
func Start(opts Options) (*Server, error) {
	s := &Server{opts: opts, CAFile: opts.CAFile, done: make(chan struct{})}
	tlsConfig, caDER, err := s.makeCA()
	if err != nil {
		return nil, err
	}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.srv.ErrorLog = discardLogger{}
	// AUTH is offered before STARTTLS too, so that AUTH on a plain
	// connection gets SES's 530 (session.Auth) rather than go-smtp's 523.
	s.srv.AllowInsecureAuth = true
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	// Listen before writing the CA file: on a port in use, the running
	// server's CA file is left as it is.
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := s.writeCA(caDER); err != nil {
		_ = tcp.Close()
		return nil, err
	}
	s.ln = &logListener{Listener: tcp, log: opts.Log}
	switch {
	case opts.Implicit:
		s.ln = tls.NewListener(s.ln, tlsConfig)
	case !opts.NoTLS:
		s.srv.TLSConfig = tlsConfig
	}
	s.Addr = tcp.Addr().String()
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(s.ln)
	}()
	return s, nil
}

// Close stops the server and waits for it. It closes the listener itself:
// go-smtp's Close only closes the listeners Serve has registered, and a
// server closed before its goroutine reached Serve would leave Accept
// blocked forever. Close first marks the server done, so Serve returns.
func (s *Server) Close() error {
	err := s.srv.Close()
	_ = s.ln.Close()
	<-s.done
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	return err
}

// NewServer starts a server closed at the end of the test, its CA in a
// temporary file unless opts.CAFile names one.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.CAFile == "" {
		opts.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Attempts returns how many AUTH attempts the server answered.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Accepted returns how many AUTH attempts succeeded.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Mails returns how many MAIL commands the server received (verify must send none).
func (s *Server) Mails() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mails
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c, info: infoOf(c)}, nil
}

// answer answers one AUTH attempt: the script, then the checks.
func (s *Server) answer(username, password string) error {
	s.mu.Lock()
	s.attempts++
	n := s.attempts
	s.mu.Unlock()
	if n <= len(s.opts.Script) && s.opts.Script[n-1] != nil {
		return s.opts.Script[n-1]
	}
	if n <= s.opts.RejectFirst {
		return ReplyInvalid
	}
	err := s.decide(username, password)
	if err == nil {
		s.mu.Lock()
		s.accepted++
		s.mu.Unlock()
	}
	return err
}

// decide checks the credentials with Check, Accept or the fixed pair.
func (s *Server) decide(username, password string) error {
	switch {
	case s.opts.Check != nil:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.opts.Check(ctx, username, password)
		var reply *smtp.SMTPError
		if err != nil && !errors.As(err, &reply) {
			return ReplyTemporaryAuthFailure
		}
		return err
	case s.opts.Accept != nil:
		if s.opts.Accept(username, password) {
			return nil
		}
	case username == s.opts.AccessKeyID && password == s.opts.Password:
		return nil
	}
	return ReplyInvalid
}

// session is one SMTP session (a connection has one before and one after STARTTLS).
type session struct {
	s      *Server
	conn   *smtp.Conn
	info   *connInfo
	authed bool
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.LoginOnly {
		return []string{sasl.Login}
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if _, isTLS := ss.conn.TLSConnectionState(); !isTLS {
		ss.info.auth(mech, "", ReplyMustStartTLS)
		return nil, ReplyMustStartTLS
	}
	check := func(username, password string) error {
		err := ss.s.answer(username, password)
		ss.info.auth(mech, username, err)
		ss.authed = err == nil
		return err
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error { return check(username, password) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(string, *smtp.MailOptions) error {
	ss.s.mu.Lock()
	ss.s.mails++
	ss.s.mu.Unlock()
	ss.info.mail()
	if !ss.authed {
		return ReplyAuthRequired
	}
	return ReplyAccessDenied
}

func (ss *session) Rcpt(string, *smtp.RcptOptions) error { return ReplyAuthRequired }
func (ss *session) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }
func (ss *session) Reset()                               {}
func (ss *session) Logout() error                        { return nil }

// loginServer is the server side of AUTH LOGIN: "Username:", "Password:".
type loginServer struct {
	check    func(user, pass string) error
	step     int
	username string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if response != nil {
			l.username = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.username = string(response)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.username, string(response))
	}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

// PasswordFor is the v4 password a Server for secret and region expects.
func PasswordFor(secret, region string) string { return derive.PasswordV4(secret, region) }

// describe is the log text of an AUTH answer.
func describe(err error) string {
	var reply *smtp.SMTPError
	switch {
	case err == nil:
		return "235 accepted"
	case errors.As(err, &reply):
		return fmt.Sprintf("%d %s", reply.Code, reply.Message)
	}
	return err.Error()
}
