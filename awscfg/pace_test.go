package awscfg

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// t0 is the pacer tests' clock origin: the client's first attempt.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// answer is one attempt's answer at t0+at.
type answer struct {
	at        time.Duration
	throttled bool
}

// accepted returns n accepted answers, every apart, from t0+from on.
func accepted(from time.Duration, n int, every time.Duration) []answer {
	out := make([]answer, n)
	for i := range out {
		out[i] = answer{at: from + time.Duration(i)*every}
	}
	return out
}

func throttled(at time.Duration) []answer { return []answer{{at: at, throttled: true}} }

func answers(parts ...[]answer) []answer {
	var out []answer
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestPacerRate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []answer
		at      time.Duration // when the rate is read
		want    float64       // calls per second
	}{
		{"never throttled: no limit", accepted(0, 1000, time.Millisecond), time.Second, math.Inf(1)},
		{"a throttle sets 0.9 of the rate accepted over the last second",
			answers(accepted(0, 100, 10*time.Millisecond), accepted(time.Second, 200, 5*time.Millisecond), throttled(2*time.Second)),
			2 * time.Second, 180},
		{"a client younger than the window: the rate since its first attempt",
			answers(accepted(0, 50, 5*time.Millisecond), throttled(250*time.Millisecond)), 250 * time.Millisecond, 180},
		{"a throttle in the first milliseconds: a span of at least 100 ms",
			answers(accepted(0, 10, time.Millisecond), throttled(10*time.Millisecond)), 10 * time.Millisecond, 90},
		{"throttles do not compound: the last one measures again",
			answers(accepted(time.Second, 200, 5*time.Millisecond), throttled(2*time.Second), throttled(2*time.Second), throttled(2*time.Second)),
			2 * time.Second, 180},
		{"answers older than the window are forgotten",
			answers(accepted(0, 1000, time.Millisecond), accepted(1500*time.Millisecond, 100, 10*time.Millisecond), throttled(2500*time.Millisecond)),
			2500 * time.Millisecond, 90},
		{"nothing accepted: the floor", throttled(time.Second), time.Second, paceMinRate},
		{"additive increase: 10% of the set rate a second",
			answers(accepted(time.Second, 200, 5*time.Millisecond), throttled(2*time.Second)), 4 * time.Second, 180 + 2*18},
		{"additive increase from the floor: at least 0.5 calls/s a second",
			throttled(time.Second), 3 * time.Second, paceMinRate + 2*paceMinRate},
		{"a storm outlasting the window: the floor, doubling every 500 ms toward the last reference",
			answers(accepted(0, 100, 10*time.Millisecond), throttled(time.Second), throttled(2500*time.Millisecond)),
			3500 * time.Millisecond, 4 * paceMinRate},
		{"a throttle after an accepted answer sets a new reference",
			answers(accepted(0, 100, 10*time.Millisecond), throttled(time.Second), throttled(2500*time.Millisecond),
				accepted(3*time.Second, 10, 10*time.Millisecond), throttled(3100*time.Millisecond)),
			4100 * time.Millisecond, 9 + 0.9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pacer{}
			wait, _ := p.reserve(t0)
			require.Zero(t, wait, "the first attempt is never held")
			for _, a := range tc.answers {
				p.done(t0.Add(a.at), a.throttled)
			}
			assert.InDelta(t, tc.want, p.rate(t0.Add(tc.at)), 1e-6)
		})
	}
}

func TestPacerReserve(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	// The pacer was throttled at t0 to 100 calls/s.
	for _, tc := range []struct {
		name    string
		limited bool
		at      []time.Duration // reservations, from t0
		want    []time.Duration // their waits
	}{
		{"unlimited: no waits", false, []time.Duration{0, 0, 0}, []time.Duration{0, 0, 0}},
		{"attempts at once are spaced at the rate", true, []time.Duration{0, 0, 0}, []time.Duration{0, ms(10), ms(20)}},
		// 100 calls/s at t0, 10% more a second: 101/s 100 ms later.
		{"the spacing follows the rate when booked", true, []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}, []time.Duration{0, ms(1000. / 101)}},
		{"an attempt after the booked ones waits for none", true, []time.Duration{0, ms(50)}, []time.Duration{0, 0}},
		{"an attempt between booked slots waits for the next", true, []time.Duration{0, ms(4)}, []time.Duration{0, ms(6)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pacer{first: t0, limited: tc.limited, base: 100, cutAt: t0}
			for i, at := range tc.at {
				wait, _ := p.reserve(t0.Add(at))
				assert.InDelta(t, tc.want[i], wait, float64(time.Microsecond), "attempt %d", i)
			}
		})
	}
}

func TestPacerGiveBack(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// Three attempts booked at t0, 10 ms and 20 ms (100 calls/s); some given back.
	for _, tc := range []struct {
		name     string
		given    []time.Duration
		wantWait time.Duration // of the next attempt at t0
	}{
		{"none given back", nil, ms(30)},
		{"the latest frees its slot", []time.Duration{ms(20)}, ms(20)},
		{"one before a booking still waited for stays a gap", []time.Duration{ms(10)}, ms(30)},
		{"given back in any order: all free", []time.Duration{ms(10), ms(20)}, ms(10)},
		{"an unbooked (zero) start changes nothing", []time.Duration{-1}, ms(30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pacer{first: t0, limited: true, base: 100, ref: 100, cutAt: t0}
			for range 3 {
				p.reserve(t0)
			}
			for _, at := range tc.given {
				if at < 0 {
					p.giveBack(time.Time{})
					continue
				}
				p.giveBack(t0.Add(at))
			}
			wait, _ := p.reserve(t0)
			assert.InDelta(t, tc.wantWait, wait, float64(time.Microsecond))
		})
	}
}

// fakeTime is a clock that stands still, and a sleep that records its
// waits instead of waiting.
type fakeTime struct {
	now   time.Time
	waits []time.Duration
}

func (f *fakeTime) sleep(ctx context.Context, d time.Duration) error {
	f.waits = append(f.waits, d)
	return ctx.Err()
}

// pacedForTest is a paced standard retryer (maxAttempts attempts, backoffs
// counted and of 1 ms) on a clock that stands still at t0.
func pacedForTest(maxAttempts int, backoffs *int) (pacedRetryer, *fakeTime) {
	clock := &fakeTime{now: t0}
	r := newPacedRetryer(retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
			*backoffs++
			return time.Millisecond, nil
		})
	}))
	r.now, r.sleep = func() time.Time { return clock.now }, clock.sleep
	return r, clock
}

// TestPacedRetryerOverIAM runs calls through the real SDK client against
// the local endpoint answering Throttling. On a clock that stands still,
// one accepted call before the throttles measures 1 call per 100 ms
// (paceMinSpan): every throttle sets 9 calls/s, three do not compound,
// and every later attempt, retries included, waits its turn at that rate.
func TestPacedRetryerOverIAM(t *testing.T) {
	for _, tc := range []struct {
		name         string
		throttles    int
		wantErr      bool
		wantAttempts int
		wantWaits    []float64 // seconds, one per attempt
	}{
		{"three throttles, retried and paced", 3, false, 8, []float64{0, 0, 0, 1. / 9, 2. / 9, 3. / 9, 4. / 9, 5. / 9}},
		{"at most 10 attempts a call", 20, true, 11, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			srv.Inject(iamtest.Fault{Action: "ListUsers", Nth: 2, Count: tc.throttles, Kind: iamtest.FailBefore, Code: "Throttling"})
			backoffs := 0
			r, clock := pacedForTest(10, &backoffs)
			c := e.Client(func(o *iam.Options) { o.Retryer = r })
			var err error
			for i := 0; i < 5 && err == nil; i++ {
				_, err = c.ListUsers(t.Context(), &iam.ListUsersInput{})
			}
			require.Equal(t, tc.wantErr, err != nil, "%v", err)
			assert.Equal(t, tc.wantAttempts, srv.CallCount("ListUsers"))
			assert.Equal(t, min(tc.throttles, 9), backoffs, "every retry backed off first")
			assert.True(t, r.pacer.limited)
			assert.InDelta(t, 9, r.pacer.rate(t0), 1e-9)
			if tc.wantWaits != nil {
				got := make([]float64, len(clock.waits))
				for i, w := range clock.waits {
					got[i] = w.Seconds()
				}
				assert.InDeltaSlice(t, tc.wantWaits, got, 1e-6)
			}
		})
	}
}

func TestPacedRetryerCountsOnlyAnswers(t *testing.T) {
	throttle := &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	for _, tc := range []struct {
		name         string
		err          error
		wantAccepted int
		wantLimited  bool
	}{
		{"success", nil, 1, false},
		{"an IAM error that is no throttle", &smithy.GenericAPIError{Code: "NoSuchEntity"}, 1, false},
		{"a throttle", throttle, 0, true},
		{"no answer (connection refused)", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backoffs := 0
			r, _ := pacedForTest(10, &backoffs)
			release, err := r.GetAttemptToken(t.Context())
			require.NoError(t, err)
			require.NoError(t, release(tc.err))
			assert.Len(t, r.pacer.accepted, tc.wantAccepted)
			assert.Equal(t, tc.wantLimited, r.pacer.limited)
		})
	}
}

func TestPacedRetryerWaitEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := newPacedRetryer(retry.NewStandard())
	r.pacer = &pacer{first: t0, limited: true, base: paceMinRate, cutAt: time.Now()}
	_, err := r.GetAttemptToken(ctx) // the first slot is now
	require.NoError(t, err)
	_, err = r.GetAttemptToken(ctx) // the next is 2 s away
	require.ErrorIs(t, err, context.Canceled)
}

func TestNewRetryer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       Options
		wantPaced  bool
		wantMaxAtt int
	}{
		{"standard", Options{}, false, retry.DefaultMaxAttempts},
		{"batch: paced, 10 attempts", Options{Adaptive: true, MaxAttempts: 10}, true, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRetryer(tc.opts)
			_, paced := r.(pacedRetryer)
			assert.Equal(t, tc.wantPaced, paced)
			assert.Equal(t, tc.wantMaxAtt, r.MaxAttempts())
			assert.Implements(t, (*aws.RetryerV2)(nil), r)
		})
	}
}
