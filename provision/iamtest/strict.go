package iamtest

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// strictModes are the behaviours of real IAM that make clients' lives hard
// and that a local endpoint hides unless asked: eventual consistency,
// throttling, concurrent-modification conflicts, and the gaps of other
// emulators. Each is off by default.
type strictModes struct {
	now func() time.Time // the server's clock (WithClock)

	// Guarded by Server.mu, with the state they hide parts of.
	consistency Consistency
	seq         int                 // calls performed so far
	pending     map[entity]madeWhen // entities other calls do not see yet

	// mu guards the rest: they are decided before the state is touched.
	mu            sync.Mutex
	buckets       map[string]*tokenBucket // by account
	rate          float64
	burst         int
	conflictRate  float64
	rng           *rand.Rand
	unimplemented map[string]Unimplemented
}

func newStrictModes() strictModes {
	return strictModes{now: time.Now, pending: map[entity]madeWhen{}, buckets: map[string]*tokenBucket{},
		rng: rand.New(rand.NewPCG(1, 2)), unimplemented: map[string]Unimplemented{}}
}

// WithClock sets the clock the consistency delay and the rate limit read
// (default time.Now), so that tests can move time on instead of sleeping.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.strict.now = now } }

// refuse answers, before any fault or action, a call the server is set to
// refuse: an action it plays unimplemented, a call over the rate limit, or
// a random concurrent modification. It reports whether it answered.
func (s *Server) refuse(w http.ResponseWriter, req *request, call Call) bool {
	if how, ok := s.unimplementedAs(req.action); ok {
		call.Outcome = how.outcome()
		s.record(call)
		how.answer(w, req)
		return true
	}
	aerr := s.throttle()
	if aerr == nil {
		aerr = s.conflict(req.action)
	}
	if aerr == nil {
		return false
	}
	call.Outcome = aerr.Code
	s.record(call)
	writeError(w, req.id, aerr)
	return true
}
