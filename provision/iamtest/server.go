// Package iamtest holds the local IAM endpoint the tests, the demo and iam-local use.
//
// It runs a local IAM endpoint for tests and demos, in the
// spirit of net/http/httptest. It speaks the IAM Query API over HTTP
// (form-encoded POST in, XML out, IAM's error codes and HTTP statuses) so
// that tests drive the real aws-sdk-go-v2 IAM client end to end. It
// verifies each request's SigV4 signature against the caller's secret,
// authorizes it by evaluating the caller's IAM policies as AWS does,
// injects faults, logs calls and exposes its state to tests. It also
// answers sts:AssumeRole, and the Secrets Manager and SSM Parameter Store
// calls package store makes (AWS JSON 1.1 protocol: jsonproto.go,
// secretsmanager.go, ssm.go).
package iamtest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// Namespace is the XML namespace of every IAM response.
const Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// APIVersion is the only IAM API version the server accepts.
const APIVersion = "2010-05-08"

// The credentials every server knows unless told otherwise: AWS's documented
// example key pair, belonging to the caller user "admin" with every action allowed.
const (
	DefaultAccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	DefaultSecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	DefaultCallerName      = "admin"
	DefaultAccountID       = "123456789012"
)

// maxBody bounds a request body; IAM's largest documents are far smaller.
const maxBody = 1 << 20

// Caller is an identity the server accepts requests from. Every IAM call
// it makes is authorized by evaluating IAM policies (package iampolicy):
//   - with Allow or Policies set, the caller holds exactly those policies
//     (and Boundary, if set, as its permissions boundary);
//   - otherwise, if UserName names a user in the server's state, the caller
//     acts as that user with its live policies: inline, attached managed
//     (default version), its groups' inline and attached policies, within
//     its permissions boundary (Boundary, if set, replaces that boundary);
//   - otherwise it may do everything (within Boundary, if set).
//
// Keys the server issued with CreateAccessKey need no Caller: an active one
// authenticates as its user with the user's live policies.
type Caller struct {
	// AccessKeyID and SecretAccessKey sign the caller's requests.
	AccessKeyID     string
	SecretAccessKey string
	// UserName names the caller in AccessDenied messages and Calls, and
	// may name a user in the state whose policies the caller holds.
	UserName string
	// Allow lists actions ("iam:CreateUser", "CreateUser", "iam:Get*",
	// "*"; names without a service are IAM's) the caller may perform on
	// every resource: an identity policy allowing them on "*". An empty,
	// non-nil list allows nothing.
	Allow []string
	// Policies are identity-based policy documents (JSON) the caller holds.
	Policies []string
	// Boundary is a permissions boundary document (JSON), or "".
	Boundary string
	// Expired makes every request answer ExpiredToken.
	Expired bool
}

// Option configures a Server.
type Option func(*Server)

// WithAccountID sets the account id used in ARNs (default DefaultAccountID).
func WithAccountID(id string) Option { return func(s *Server) { s.account = id } }

// WithCaller adds (or, for a known access key id, replaces) a caller.
func WithCaller(c Caller) Option {
	return func(s *Server) { s.callers[c.AccessKeyID] = c }
}

// WithoutDefaultCaller removes the default caller, so only callers added with
// WithCaller are accepted.
func WithoutDefaultCaller() Option {
	return func(s *Server) { delete(s.callers, DefaultAccessKeyID) }
}

// Server is a running local IAM endpoint. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the base URL of the endpoint, e.g. http://127.0.0.1:41234.
	URL string

	http    *httptest.Server
	account string

	roles []Role

	mu      sync.Mutex // guards callers, state, calls and seq
	callers map[string]Caller
	state   *state
	stores  storeState // Secrets Manager and SSM (secretsmanager.go, ssm.go)
	calls   []Call
	seq     uint64

	// faultMu guards faults; it is apart from mu so that a Fault's Match
	// can call the Server's methods.
	faultMu sync.Mutex
	faults  []*faultRule

	strict strictModes // see strict.go

	// date is the clock of the answers' Date header (SetClock); nil: the real one.
	date atomic.Pointer[func() time.Time]
}

// SetClock sets the time the server's answers carry in their Date header:
// IAM's clock as a client sees it (every IAM answer has one; HTTP/1.1
// requires an origin server to send it, RFC 9110 section 6.6.1), which
// sesmtp reads where it records or compares times, e.g. 'retire --grace'.
// nil restores the real clock. Creation dates of what the server makes
// keep the real clock.
func (s *Server) SetClock(now func() time.Time) {
	if now == nil {
		s.date.Store(nil)
		return
	}
	s.date.Store(&now)
}

// dateHeader sets w's Date header from the server's clock, if set (else
// net/http sets the real time).
func (s *Server) dateHeader(w http.ResponseWriter) {
	if now := s.date.Load(); now != nil {
		w.Header().Set("Date", (*now)().UTC().Format(http.TimeFormat))
	}
}

// NewServer starts a server on 127.0.0.1 and returns it; Close stops it.
func NewServer(opts ...Option) *Server {
	s := newServer(opts...)
	s.http = httptest.NewServer(s)
	s.URL = s.http.URL
	return s
}

// NewUnstartedServer returns a server that is not yet listening, for
// callers that serve it themselves (see Handler).
func NewUnstartedServer(opts ...Option) *Server { return newServer(opts...) }

func newServer(opts ...Option) *Server {
	s := &Server{
		account: DefaultAccountID,
		strict:  newStrictModes(),
		callers: map[string]Caller{DefaultAccessKeyID: {
			AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey, UserName: DefaultCallerName,
			Allow: []string{"*"}, // allow-all even if a test creates a user named admin
		}},
	}
	for _, o := range opts {
		o(s)
	}
	s.state = newState(s.account)
	return s
}

// Close shuts the server down and waits for its requests to finish.
func (s *Server) Close() {
	if s.http != nil {
		s.http.Close()
	}
}

// ServeHTTP answers one IAM Query API request, or a Secrets Manager or
// SSM request in the JSON protocol (X-Amz-Target set; jsonproto.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.dateHeader(w)
	if r.URL.Path == SMTPAuthPath {
		s.serveSMTPAuth(w, r) // smtp-local's check; see smtpauth.go
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.serveJSON(w, r, target)
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		writeError(w, newRequestID(), &apiError{Status: 405, Type: "Sender", Code: "InvalidHttpMethod", Message: "Use POST."})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, newRequestID(), errValidation("could not read the request body: %v", err))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := r.ParseForm(); err != nil {
		writeError(w, newRequestID(), errValidation("could not parse the request body: %v", err))
		return
	}
	req := &request{action: r.Form.Get("Action"), form: r.Form, id: newRequestID()}
	caller, aerr := s.authenticate(r, body, req.action)
	if aerr != nil {
		s.record(Call{Action: req.action, UserName: req.form.Get("UserName"), Outcome: aerr.Code})
		writeError(w, req.id, aerr)
		return
	}
	req.caller = caller
	if req.action == "AssumeRole" {
		s.assumeRole(w, req)
		return
	}
	s.serve(r.Context(), w, req)
}

// serve applies faults around the action and writes its answer.
func (s *Server) serve(ctx context.Context, w http.ResponseWriter, req *request) {
	call := Call{Action: req.action, UserName: req.form.Get("UserName"), AccessKeyID: req.form.Get("AccessKeyId"), Caller: req.caller.UserName}
	if s.refuse(w, req, call) {
		return
	}
	faults := s.matchFaults(call)
	for _, f := range faults {
		if f.Kind == Delay && !sleep(ctx, f.Delay) {
			call.Outcome = "canceled"
			s.record(call)
			// No answer: the client gave up, or the server is stopping
			// (an empty 200 would read as success).
			panic(http.ErrAbortHandler)
		}
	}
	before := firstOf(faults, FailBefore, DropBefore)
	if before != nil {
		call.Outcome, call.Fault = outcomeOf(before), before.Kind
		s.record(call)
		if before.Kind == DropBefore {
			dropConnection(w)
			return
		}
		writeError(w, req.id, before.apiError())
		return
	}
	result, seq, aerr := s.perform(req)
	call.Outcome, call.Seq = "ok", seq
	if k, ok := result.(accessKeyResult); ok {
		call.AccessKeyID = k.AccessKey.AccessKeyID
	}
	if aerr != nil {
		call.Outcome = aerr.Code
	}
	for _, f := range faults {
		if f.OnPerformed != nil && aerr == nil {
			f.OnPerformed(call)
		}
	}
	after := firstOf(faults, FailAfter, DropAfter)
	if after != nil && aerr == nil {
		call.Outcome, call.Fault = "performed, then "+outcomeOf(after), after.Kind
		s.record(call)
		if after.Kind == DropAfter {
			dropConnection(w)
			return
		}
		writeError(w, req.id, after.apiError())
		return
	}
	s.record(call)
	if aerr != nil {
		writeError(w, req.id, aerr)
		return
	}
	writeResult(w, req.action, req.id, result)
}

// perform runs the action under the state lock and returns its Seq.
func (s *Server) perform(req *request) (any, uint64, *apiError) {
	if v := req.form.Get("Version"); v != APIVersion {
		return nil, 0, &apiError{Status: 400, Type: "Sender", Code: "InvalidParameterValue",
			Message: "The Version parameter must be " + APIVersion + "."}
	}
	op, ok := operations[req.action]
	if !ok {
		return nil, 0, &apiError{Status: 400, Type: "Sender", Code: "InvalidAction",
			Message: "Could not find operation " + req.action + " for version " + APIVersion}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	result, aerr := s.consistent(req, op)
	if aerr != nil {
		return result, 0, aerr
	}
	s.seq++
	return result, s.seq, nil
}

// sleep waits for d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropConnection closes the client's connection without an answer, as a
// network failure would: the client cannot tell whether the call happened.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // reset, not a clean close
	}
	_ = conn.Close()
}
