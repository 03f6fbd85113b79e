package awscfg

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// adaptiveWarmup is how long a new client keeps throttles from the SDK's
// adaptive rate limiter.
const adaptiveWarmup = time.Second

// warmAdaptive is the SDK's adaptive retry mode with a cold start that
// works. The SDK's limiter sets its rate, on a throttle, from the send rate
// it has measured; that measurement is zero until its first half-second
// has ended, so a throttle before then (a batch that bursts at once) pins
// the client to 0.5 calls per second, and its CUBIC growth takes seconds
// to climb back: measured with BenchmarkBatchThrottled, a 500-sender batch
// sent almost nothing for 7 s. For the client's first second a throttled
// attempt is still retried with backoff (the retry middleware sees the
// error), but the limiter is told of it as a plain attempt; the first
// throttle after that meets a real measurement.
type warmAdaptive struct {
	*retry.AdaptiveMode
	until    time.Time
	throttle retry.IsErrorThrottles
}

func newWarmAdaptive(mode *retry.AdaptiveMode, warmup time.Duration) warmAdaptive {
	return warmAdaptive{AdaptiveMode: mode, until: time.Now().Add(warmup), throttle: retry.IsErrorThrottles(retry.DefaultThrottles)}
}

// GetAttemptToken implements aws.RetryerV2.
func (w warmAdaptive) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	release, err := w.AdaptiveMode.GetAttemptToken(ctx)
	if err != nil {
		return nil, err
	}
	return func(opErr error) error {
		if time.Now().Before(w.until) && w.throttle.IsErrorThrottle(opErr).Bool() {
			opErr = nil
		}
		return release(opErr)
	}, nil
}
