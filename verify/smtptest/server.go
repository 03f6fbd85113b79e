// Package smtptest holds a local SES-like SMTP server for tests of verify.
//
// It runs an SMTP server on 127.0.0.1 that behaves as an SES
// SMTP endpoint does for authentication, for tests of sesmtp verify: TLS
// (STARTTLS or implicit) with a test CA, AUTH PLAIN and LOGIN, accepting
// only one access key id with the v4 password of one region.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
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
	// AccessKeyID and Password are the only credentials accepted.
	AccessKeyID string
	Password    string
	// Accept, if set, decides instead of AccessKeyID and Password (for
	// keys that do not exist yet when the server starts).
	Accept func(username, password string) bool
	// RejectFirst rejects the first N AUTH attempts even with the right
	// credentials, as SES does while a new key propagates.
	RejectFirst int
	// Implicit serves TLS from the first byte (ports 465/2465) instead of STARTTLS.
	Implicit bool
	// NoTLS offers no STARTTLS at all.
	NoTLS bool
	// LoginOnly offers AUTH LOGIN but not PLAIN.
	LoginOnly bool
}

// Server is a running test SMTP server.
type Server struct {
	// Host and Port are where it listens; Addr is "host:port".
	Host string
	Port int
	Addr string
	// CAFile is a PEM file with the CA that signed its certificate.
	CAFile string
	// CAPool holds the same CA.
	CAPool *x509.CertPool

	opts Options
	srv  *smtp.Server

	mu       sync.Mutex
	attempts int
	mails    int
	accepted int
}

// NewServer starts a server closed at the end of the test.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts}
	tlsConfig := s.makeCA(t)
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.ErrorLog = discardLogger{}
	var ln net.Listener
	var err error
	switch {
	case opts.Implicit:
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsConfig)
	default:
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if !opts.NoTLS {
			s.srv.TLSConfig = tlsConfig
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		// Close the listener ourselves: go-smtp's Close only closes the
		// listeners Serve has registered, and a test that ends before the
		// goroutine above reaches Serve would leave Accept blocked forever.
		// Close first marks the server done, so Serve returns nil either way.
		_ = s.srv.Close()
		_ = ln.Close()
		<-done
	})
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
func (s *Server) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

// errRejected is SES's answer to bad credentials.
var errRejected = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication Credentials Invalid"}

// check answers one AUTH attempt.
func (s *Server) check(username, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	ok := username == s.opts.AccessKeyID && password == s.opts.Password
	if s.opts.Accept != nil {
		ok = s.opts.Accept(username, password)
	}
	if s.attempts <= s.opts.RejectFirst || !ok {
		return errRejected
	}
	s.accepted++
	return nil
}

type session struct{ s *Server }

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.LoginOnly {
		return []string{sasl.Login}
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error { return ss.s.check(username, password) }), nil
	case sasl.Login:
		return &loginServer{check: ss.s.check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(string, *smtp.MailOptions) error {
	ss.s.mu.Lock()
	ss.s.mails++
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
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

// makeCA creates a CA and a certificate for 127.0.0.1 and localhost.
func (s *Server) makeCA(t testing.TB) *tls.Config {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sesmtp test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	must(t, err)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	must(t, err)
	s.CAPool = x509.NewCertPool()
	s.CAPool.AddCert(caCert)
	s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	must(t, os.WriteFile(s.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600))
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}, MinVersion: tls.VersionTLS12}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// PasswordFor is the v4 password a Server for secret and region expects.
func PasswordFor(secret, region string) string { return derive.PasswordV4(secret, region) }
