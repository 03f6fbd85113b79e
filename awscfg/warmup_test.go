package awscfg

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWarmAdaptiveKeepsAnEarlyThrottleFromTheLimiter: a throttle in the
// first half-second pins the SDK's adaptive limiter to no tokens at all
// (FailOnNoAttemptTokens makes that visible as an error instead of a
// sleep); during the warm-up it does not.
func TestWarmAdaptiveKeepsAnEarlyThrottleFromTheLimiter(t *testing.T) {
	throttle := &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	for _, tc := range []struct {
		name    string
		warmup  bool
		wantErr bool
	}{{"SDK as it is", false, true}, {"with the warm-up", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			mode := retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) { o.FailOnNoAttemptTokens = true })
			w := newWarmAdaptive(mode, 0)
			if tc.warmup {
				w = newWarmAdaptive(mode, adaptiveWarmup)
			}
			release, err := w.GetAttemptToken(t.Context())
			require.NoError(t, err)
			require.NoError(t, release(throttle))
			_, err = w.GetAttemptToken(t.Context())
			assert.Equal(t, tc.wantErr, err != nil, "%v", err)
		})
	}
}
