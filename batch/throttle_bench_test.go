package batch_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/batch"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// throttleBurst is the burst the local endpoint's rate limit allows in
// BenchmarkBatchThrottled.
const throttleBurst = 50

// BenchmarkBatchThrottled creates 500 senders with the batch client
// (paced once throttled, 10 attempts, as `create --from-file` configures it)
// against the local endpoint rate-limited to R calls per second (a token
// bucket with bursts of 50), and reports the call rate sustained, as calls
// IAM performed per second of the batch and as a fraction of the limit
// ("x-of-limit"; the goal is at least 0.9), beside the same batch
// unthrottled. Every sender must be created. Run it with -benchtime 1x: a
// throttled batch takes about 2,000 calls / R seconds (40 s at 50/s).
func BenchmarkBatchThrottled(b *testing.B) {
	b.Run("unthrottled", func(b *testing.B) { benchmarkBatchRate(b, 0) })
	for _, rate := range []float64{50, 200} {
		b.Run(fmt.Sprintf("limit=%g/s", rate), func(b *testing.B) { benchmarkBatchRate(b, rate) })
	}
}

// benchmarkBatchRate runs the 500-sender batch against a limit of rate
// calls per second (0: none) and reports what it sustained.
func benchmarkBatchRate(b *testing.B, rate float64) {
	const n = 500
	var wall time.Duration
	performed, throttled := 0, 0
	for b.Loop() {
		e := iamtest.Start(b, iamtest.WithRateLimit(rate, throttleBurst))
		srv := e.Local(b)
		opts := awscfg.Options{EndpointURL: e.URL, Adaptive: true, MaxAttempts: 10}
		cfg, err := awscfg.Load(b.Context(), opts)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		sum, err := batch.Run(b.Context(), awscfg.IAM(cfg, opts), options(b.TempDir(), senders(n)))
		wall += time.Since(start)
		if err != nil || sum.Err() != nil {
			b.Fatal(err, sum.Err())
		}
		for _, c := range srv.Calls() {
			if c.Performed() {
				performed++
			} else if c.Outcome == "Throttling" {
				throttled++
			}
		}
	}
	perSecond := float64(performed) / wall.Seconds()
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/batch")
	b.ReportMetric(perSecond, "calls/s")
	b.ReportMetric(float64(throttled)/float64(b.N), "throttled/batch")
	if rate > 0 {
		b.ReportMetric(perSecond/rate, "x-of-limit")
	}
}
