package iamtest

import (
	"slices"
	"strings"
	"time"
)

// FaultKind says what an injected fault does.
type FaultKind int

// The kinds of fault the server can inject.
const (
	// FailBefore answers an error without performing the action.
	FailBefore FaultKind = iota + 1
	// FailAfter performs the action, then answers an error.
	FailAfter
	// DropBefore closes the connection without performing the action.
	DropBefore
	// DropAfter performs the action, then closes the connection without an
	// answer: the client cannot tell whether it happened.
	DropAfter
	// Delay waits before handling the call (or until the client gives up).
	Delay
)

func (k FaultKind) String() string {
	switch k {
	case FailBefore:
		return "fail-before"
	case FailAfter:
		return "fail-after"
	case DropBefore:
		return "drop-before"
	case DropAfter:
		return "drop-after"
	case Delay:
		return "delay"
	}
	return "none"
}

// Fault is a rule for injecting a failure.
type Fault struct {
	// Action is the action it applies to ("" for every action): an IAM
	// action by its bare name ("CreateUser"), a store action with its
	// service prefix ("secretsmanager:CreateSecret", "ssm:PutParameter").
	Action string
	// Nth is the 1-based number, counted from when the rule was added, of the
	// first matching call it applies to; 0
	// applies it to every matching call.
	Nth int
	// Count is how many matching calls from the Nth on it applies to (0 is 1).
	Count int
	// Match, if set, further restricts the calls it applies to. It may call
	// the Server's methods (to change state at that moment, say).
	Match func(Call) bool
	// Kind is what it does.
	Kind FaultKind
	// Code is the error code for FailBefore and FailAfter (default
	// ServiceFailure); Throttling, AccessDenied and the others IAM sends work.
	Code string
	// Delay is how long a Delay fault waits.
	Delay time.Duration
	// OnPerformed, if set, runs after the action took effect and before
	// the answer is sent: the moment to crash a client in a test.
	OnPerformed func(Call)
}

type faultRule struct {
	Fault
	seen int // matching calls so far
}

// Inject adds a fault rule. Rules apply in the order they were added; a
// call can be delayed by one rule and failed by another.
func (s *Server) Inject(f Fault) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = append(s.faults, &faultRule{Fault: f})
}

// ClearFaults removes every fault rule.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = nil
}

// matchFaults counts call against every rule and returns the rules that fire.
func (s *Server) matchFaults(c Call) []Fault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	var fire []Fault
	for _, r := range s.faults {
		if r.Action != "" && r.Action != c.Action || r.Match != nil && !r.Match(c) {
			continue
		}
		r.seen++
		count := max(r.Count, 1)
		if r.Nth == 0 || r.seen >= r.Nth && r.seen < r.Nth+count {
			fire = append(fire, r.Fault)
		}
	}
	return fire
}

func firstOf(fs []Fault, kinds ...FaultKind) *Fault {
	for i := range fs {
		if slices.Contains(kinds, fs[i].Kind) {
			return &fs[i]
		}
	}
	return nil
}

func (f *Fault) code() string {
	if f.Code == "" {
		return "ServiceFailure"
	}
	return f.Code
}

func outcomeOf(f *Fault) string {
	if f.Kind == DropBefore || f.Kind == DropAfter {
		return "dropped"
	}
	return f.code()
}

func (f *Fault) apiError() *apiError {
	code := f.code()
	if known, ok := faultErrors[code]; ok {
		e := known
		return &e
	}
	return &apiError{Status: 400, Type: "Sender", Code: code, Message: "Injected fault " + code + "."}
}

// faultErrors are the errors a fault answers, with IAM's status and text.
var faultErrors = map[string]apiError{
	"ServiceFailure": {Status: 500, Type: "Receiver", Code: "ServiceFailure",
		Message: "The request processing has failed because of an unknown error, exception or failure."},
	"Throttling":   errThrottling,
	"AccessDenied": {Status: 403, Type: "Sender", Code: "AccessDenied", Message: "Access denied (injected)."},
	"LimitExceeded": {Status: 409, Type: "Sender", Code: "LimitExceeded",
		Message: "Cannot exceed quota (injected)."},
	"ConcurrentModification": errConcurrentModification,
}

// Call is one request the server answered.
type Call struct {
	// Action is the IAM action ("CreateUser"), or a store action with its
	// service prefix ("secretsmanager:CreateSecret", "ssm:PutParameter").
	Action string
	// UserName is the request's UserName parameter, if any.
	UserName string
	// Resource is the secret or parameter a store action is about.
	Resource string
	// AccessKeyID is the request's AccessKeyId parameter, or for a
	// CreateAccessKey the server performed, the id of the key it made.
	AccessKeyID string
	// Seq orders the calls the server performed (1, 2, ...), in the order
	// their actions took effect; 0 for a call it did not perform.
	Seq uint64
	// Caller is the user name of the caller, "" if authentication failed.
	Caller string
	// Outcome is "ok", the error code answered, "dropped", "canceled", or
	// "performed, then X" for a FailAfter or DropAfter fault.
	Outcome string
	// Fault is the kind of fault that decided the outcome, if any.
	Fault FaultKind
}

// Performed reports whether the action took effect.
func (c Call) Performed() bool {
	return c.Outcome == "ok" || strings.HasPrefix(c.Outcome, "performed")
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// Calls returns the calls answered so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallCount returns how many calls of action were answered ("" for all).
func (s *Server) CallCount(action string) int {
	n := 0
	for _, c := range s.Calls() {
		if action == "" || c.Action == action {
			n++
		}
	}
	return n
}

// ResetCalls forgets the call log.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}
