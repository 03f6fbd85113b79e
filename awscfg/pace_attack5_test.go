package awscfg

// Round 5 of the adversarial review: the batch client's pacer. Each test
// began as a break found on main and asserts the promise it violated; all
// are fixed and none is skipped.

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttack5PacerPinnedAfterThrottleStorm: a batch runs at 100 calls/s
// accepted; another client of the account (a second batch, a terraform
// apply) then takes IAM's whole bucket for two seconds, so every answer
// this client gets is a throttle. Once its accepted window (one second)
// is empty, each throttle sets the rate to paceMinRate (0.9 x 0 measured,
// floored at 0.5/s), and from the storm's end the rate climbs by only
// 0.5/s per second: five seconds after the other client stopped, the
// batch may send about 3 calls/s of the 100/s IAM accepted from it, and
// it needs over three minutes to get back there. Expected: a rate that
// recovers toward what IAM was measured to accept before the storm
// within seconds.
func TestAttack5PacerPinnedAfterThrottleStorm(t *testing.T) {
	p := &pacer{}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for i := range 100 { // 100/s accepted for a second
		p.reserve(at(time.Duration(i) * 10 * time.Millisecond))
		p.done(at(time.Duration(i)*10*time.Millisecond), false)
	}
	for d := time.Second; d < 3*time.Second; d += 100 * time.Millisecond { // another client takes the bucket
		p.reserve(at(d))
		p.done(at(d), true)
	}
	got := p.rate(at(8 * time.Second))
	t.Logf("rate 5 s after the storm: %.1f calls/s (IAM accepted 100/s before it)", got)
	assert.GreaterOrEqual(t, got, 50.0, "five seconds after the storm the pacer allows at least half the rate IAM accepted before it")
}

// TestAttack5PacerCancelledWaitKeepsItsSlot: reserve books a slot before
// the wait; an attempt whose context ends while it waits (Ctrl-C stops a
// batch's workers that have not started) keeps its booking. At the
// pinned rate of 0.5/s, ten such workers push the next attempt of a
// sender still in flight (its rollback, which ignores Ctrl-C but not
// --timeout) 22 s out instead of 2 s: the rollback can run out of its
// --timeout waiting for slots nobody uses, and exit 4.
func TestAttack5PacerCancelledWaitKeepsItsSlot(t *testing.T) {
	r := newPacedRetryer(retry.NewStandard())
	r.now = func() time.Time { return t0 }
	r.pacer = &pacer{first: t0, limited: true, base: paceMinRate, cutAt: t0}
	var waits []time.Duration
	r.sleep = func(ctx context.Context, d time.Duration) error {
		if d > 0 && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		waits = append(waits, d)
		return nil
	}
	release, err := r.GetAttemptToken(t.Context()) // the slot now
	require.NoError(t, err)
	require.NoError(t, release(nil))
	stopped, cancel := context.WithCancel(t.Context())
	cancel()
	for range 10 { // workers stopped by Ctrl-C while they waited
		_, err := r.GetAttemptToken(stopped)
		require.ErrorIs(t, err, context.Canceled)
	}
	_, err = r.GetAttemptToken(t.Context()) // an in-flight sender's next call
	require.NoError(t, err)
	require.Len(t, waits, 2)
	t.Logf("the in-flight call waits %s", waits[1])
	assert.LessOrEqual(t, waits[1], 2*time.Second, "one slot at 0.5/s: cancelled waits gave theirs back")
}
