package awscfg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// The pacer's settings. IAM documents no request quota; it answers
// Throttling when an account calls it faster than its token bucket refills
// (see provision/iamtest/throttle.go). The pacer learns that rate from the
// answers instead of guessing it.
const (
	// paceWindow is how far back the pacer measures the calls IAM accepted.
	paceWindow = time.Second
	// paceMinSpan is the shortest span a measurement divides by, so that a
	// throttle in a client's first milliseconds is not read as a huge rate.
	paceMinSpan = paceWindow / 10
	// paceCut is the share of the measured accepted rate a throttle sets.
	paceCut = 0.9
	// paceProbe is how fast the rate grows after a throttle, once it is
	// back at the reference (see paceRegain): by this share of it, per
	// second (linearly: the 10%
	// cut is made up in about a second, and then the rate probes above
	// the limit by 10% a second until the next throttle), but by at least
	// paceMinRate per second.
	paceProbe = 0.10
	// paceMinRate is the lowest rate, in calls per second, a throttle sets
	// (the SDK's adaptive mode has the same floor).
	paceMinRate = 0.5
	// paceRegain is how often the rate doubles while it is below the
	// reference (the rate set by the last throttle that followed an
	// accepted answer): after a throttle storm of another client of the
	// account, the floor regains 90 calls/s in under 4 s, where probing
	// at paceMinRate per second would take minutes.
	paceRegain = 500 * time.Millisecond
)

// pacer is a client-side rate limit on the attempts of one client, shared
// by every goroutine calling through it (a batch's workers). It does not
// limit a client IAM has never throttled. On a throttle it sets its rate
// to paceCut of the rate at which IAM accepted this client's calls over
// the last paceWindow, which is IAM's limit as this client sees it (less
// what other clients of the account take), and then raises it linearly
// (additive increase) until the next throttle measures again. A throttle
// never compounds with the previous one: the rate comes from what was
// measured, not from the rate before, so a flurry of throttles from calls
// already in flight sets the same rate, instead of the deep repeated
// cuts of the SDK's adaptive mode (CUBIC, 0.7x a throttle and seconds to
// climb back). The rate is what the client may send, not what it must: a
// client that sends less (workers backing off) is not held back, and the
// first throttle after that measures again.
//
// A throttle that follows throttles only (another client of the account
// takes IAM's whole bucket for longer than paceWindow, and nothing of this
// client's is accepted) still measures, and may measure nothing: the rate
// drops as far as paceMinRate while the storm lasts. The rate set by the
// last throttle that followed an accepted answer stays the reference:
// below it the rate doubles every paceRegain (multiplicative increase,
// each step at most twice the rate IAM last answered without a throttle,
// never above what it was measured to accept), and only above it grows
// linearly.
//
// IAM is never pushed harder than by the SDK alone: each throttled attempt
// is still retried only after the standard retryer's backoff, with at most
// MaxAttempts attempts a call and its retry quota, and after a throttle
// every attempt of the client, retries included, waits its turn at a rate
// below the one IAM was measured to accept.
//
// Its methods take the time, so that tests drive it with a clock of their own.
type pacer struct {
	mu       sync.Mutex
	first    time.Time   // the first attempt; zero before it
	accepted []time.Time // answers that were not throttles, within paceWindow, oldest first
	limited  bool        // a throttle was seen: the rate applies
	base     float64     // calls per second set by the last throttle
	cutAt    time.Time   // when
	ref      float64     // calls per second set by the last throttle after an accepted answer
	fresh    bool        // an answer was accepted since the last throttle
	next     time.Time   // the earliest start of the next attempt
	booked   []slot      // the booked starts not yet reached, oldest first
}

// slot is a booked attempt start; a given-back one is waited for by nobody.
type slot struct {
	at    time.Time
	given bool
}

// reserve books the next attempt's start and returns how long to wait for
// it, and the start booked (zero if none was: an unlimited pacer books
// nothing). Booked starts are one over the rate at booking time apart.
func (p *pacer) reserve(now time.Time) (time.Duration, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.first.IsZero() {
		p.first = now
	}
	if !p.limited {
		return 0, time.Time{}
	}
	i := 0
	for i < len(p.booked) && !p.booked[i].at.After(now) {
		i++
	}
	p.booked = p.booked[i:]
	at := now
	if p.next.After(at) {
		at = p.next
	}
	p.next = at.Add(time.Duration(float64(time.Second) / p.rateAt(now)))
	p.booked = append(p.booked, slot{at: at})
	return at.Sub(now), at
}

// giveBack returns the start at, booked by reserve, that nobody will use
// (its wait ended with its context). The latest bookings given back free
// their slots for the next attempts; one given back before a booking
// still waited for stays a gap, as that booking's start is set.
func (p *pacer) giveBack(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.booked {
		if p.booked[i].at.Equal(at) {
			p.booked[i].given = true
		}
	}
	for n := len(p.booked); n > 0 && p.booked[n-1].given; n-- {
		p.next = p.booked[n-1].at
		p.booked = p.booked[:n-1]
	}
}

// done records an attempt's answer: accepted, or throttled.
func (p *pacer) done(now time.Time, throttled bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forget(now)
	if !throttled {
		p.accepted = append(p.accepted, now)
		p.fresh = true
		return
	}
	set := math.Max(paceMinRate, paceCut*p.measured(now))
	if p.fresh || !p.limited {
		p.ref = set
	}
	p.limited, p.cutAt, p.base, p.ref, p.fresh = true, now, set, math.Max(p.ref, set), false
}

// rate returns the calls per second the pacer allows at now (+Inf before
// the first throttle).
func (p *pacer) rate(now time.Time) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.limited {
		return math.Inf(1)
	}
	return p.rateAt(now)
}

// rateAt is the rate at t: from the last throttle's rate, doubling every
// paceRegain up to the reference, then linearly up by paceProbe of the
// reference (at least paceMinRate) per second.
func (p *pacer) rateAt(t time.Time) float64 {
	since := math.Max(0, t.Sub(p.cutAt).Seconds())
	rate := p.base
	if rate < p.ref {
		regain := paceRegain.Seconds() * math.Log2(p.ref/rate) // to double up to the reference
		if since < regain {
			return rate * math.Exp2(since/paceRegain.Seconds())
		}
		rate, since = p.ref, since-regain
	}
	slope := math.Max(paceProbe*rate, paceMinRate)
	return rate + slope*since
}

// measured is the rate at which calls were accepted over the last
// paceWindow, or since the first attempt if that is more recent.
func (p *pacer) measured(now time.Time) float64 {
	span := min(paceWindow, now.Sub(p.first))
	return float64(len(p.accepted)) / max(span, paceMinSpan).Seconds()
}

// forget drops the answers older than paceWindow.
func (p *pacer) forget(now time.Time) {
	i := 0
	for i < len(p.accepted) && now.Sub(p.accepted[i]) > paceWindow {
		i++
	}
	p.accepted = p.accepted[i:]
}

// pacedRetryer is the SDK's standard retryer (backoff, bounded attempts,
// retry quota) with a pacer in front of every attempt, retries included.
type pacedRetryer struct {
	aws.RetryerV2
	pacer     *pacer
	throttles retry.IsErrorThrottles
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
}

// newPacedRetryer puts a new pacer in front of standard; each client gets
// its own (aws.Config's Retryer is called once per client).
func newPacedRetryer(standard aws.RetryerV2) pacedRetryer {
	return pacedRetryer{RetryerV2: standard, pacer: &pacer{},
		throttles: retry.IsErrorThrottles(retry.DefaultThrottles), now: time.Now, sleep: sleepContext}
}

// GetAttemptToken implements aws.RetryerV2: it waits for the pacer, and
// tells it how the attempt was answered.
func (r pacedRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	wait, at := r.pacer.reserve(r.now())
	if err := r.sleep(ctx, wait); err != nil {
		r.pacer.giveBack(at)
		return nil, fmt.Errorf("wait for the client's rate limit: %w", err)
	}
	release, err := r.RetryerV2.GetAttemptToken(ctx)
	if err != nil {
		return nil, err
	}
	return func(opErr error) error {
		var apiErr smithy.APIError
		// Only answers count: a call that did not reach IAM says nothing of its rate.
		if opErr == nil || errors.As(opErr, &apiErr) {
			r.pacer.done(r.now(), r.throttles.IsErrorThrottle(opErr).Bool())
		}
		return release(opErr)
	}, nil
}

// sleepContext waits for d, or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
