package iamtest

import (
	"strings"
	"time"
)

// IAM throttles: its API answers the query-protocol error Throttling
// (HTTP 400, "Rate exceeded") when an account calls it faster than its
// request quota allows. IAM API reference, Common Errors
// (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html:
// "The request was denied due to request throttling", HTTP 400); the
// SDK's retry package lists "Throttling" among the throttle codes it backs
// off on (aws/retry DefaultThrottleErrorCodes).
var errThrottling = apiError{Status: 400, Type: "Sender", Code: "Throttling", Message: "Rate exceeded"}

// errConcurrentModification is IAM's answer when "multiple requests to
// change this object were submitted simultaneously" (IAM API reference,
// ConcurrentModification, HTTP 409; e.g. API_CreateAccessKey's Errors, and
// the SDK model's ConcurrentModificationException). The request did not
// take effect.
var errConcurrentModification = apiError{Status: 409, Type: "Sender", Code: "ConcurrentModification",
	Message: "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again."}

// tokenBucket is a rate limit of rate calls per second with bursts of up
// to burst calls, the model AWS documents for its API request quotas.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

// WithRateLimit limits each account to ratePerSecond IAM calls per second,
// with bursts of up to burst calls (a token bucket); calls over the limit
// answer Throttling and do not take effect. Zero turns it off.
func WithRateLimit(ratePerSecond float64, burst int) Option {
	return func(s *Server) { s.strict.rate, s.strict.burst = ratePerSecond, max(burst, 1) }
}

// SetRateLimit changes the rate limit while the server runs.
func (s *Server) SetRateLimit(ratePerSecond float64, burst int) {
	s.strict.mu.Lock()
	defer s.strict.mu.Unlock()
	s.strict.rate, s.strict.burst = ratePerSecond, max(burst, 1)
	clear(s.strict.buckets)
}

// throttle takes a token from the account's bucket, or answers Throttling.
// The server holds one account, so every caller draws from its bucket.
func (s *Server) throttle() *apiError {
	st := &s.strict
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.rate <= 0 {
		return nil
	}
	now := st.now()
	b, ok := st.buckets[s.account]
	if !ok {
		b = &tokenBucket{tokens: float64(st.burst), last: now}
		st.buckets[s.account] = b
	}
	b.tokens = min(float64(st.burst), b.tokens+now.Sub(b.last).Seconds()*st.rate)
	b.last = now
	if b.tokens < 1 {
		e := errThrottling
		return &e
	}
	b.tokens--
	return nil
}

// WithConcurrentModification makes a share rate (0 to 1) of the calls that
// change IAM answer ConcurrentModification without taking effect, chosen
// by a seeded generator so that a run can be repeated.
func WithConcurrentModification(rate float64) Option {
	return func(s *Server) { s.strict.conflictRate = rate }
}

// SetConcurrentModification changes that share while the server runs.
func (s *Server) SetConcurrentModification(rate float64) {
	s.strict.mu.Lock()
	defer s.strict.mu.Unlock()
	s.strict.conflictRate = rate
}

// mutatingPrefixes name the actions that change IAM.
var mutatingPrefixes = []string{"Create", "Put", "Delete", "Add", "Remove", "Attach", "Detach",
	"Update", "Tag", "Untag", "Deactivate", "Enable", "Upload"}

func (s *Server) conflict(action string) *apiError {
	st := &s.strict
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.conflictRate <= 0 || !isMutating(action) || st.rng.Float64() >= st.conflictRate {
		return nil
	}
	e := errConcurrentModification
	return &e
}

func isMutating(action string) bool {
	for _, p := range mutatingPrefixes {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}
