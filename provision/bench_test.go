package provision_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// BenchmarkListLatency lists 1,000 SMTP users (one key each) with 20 ms of
// latency injected into every IAM call, one user at a time and eight at a
// time, and reports the speed-up ("x-speedup"). Each run takes about a
// minute at concurrency 1: run it with -benchtime 1x.
func BenchmarkListLatency(b *testing.B) {
	const users, latency = 1000, 20 * time.Millisecond
	e := iamtest.Start(b)
	srv := e.Local(b)
	for i := range users {
		srv.PutUser(iamtest.User{Name: fmt.Sprintf("sender%04d", i),
			Tags:       []iamtest.Tag{{Key: provision.TagManagedBy, Value: provision.ManagedByValue}},
			AccessKeys: []iamtest.AccessKey{{ID: fmt.Sprintf("AKIABENCH%011d", i), SecretAccessKey: "s"}}})
	}
	srv.Inject(iamtest.Fault{Kind: iamtest.Delay, Delay: latency})
	c := e.Client()
	timeList := func(concurrency int) time.Duration {
		start := time.Now()
		got, err := provision.List(b.Context(), c, provision.ListInput{Concurrency: concurrency})
		if err != nil || len(got.Users) != users {
			b.Fatalf("list: %d users, %v", len(got.Users), err)
		}
		return time.Since(start)
	}
	var seq, par time.Duration
	for b.Loop() {
		seq += timeList(1)
		par += timeList(provision.DefaultListConcurrency)
	}
	calls := srv.CallCount("") / b.N
	b.ReportMetric(seq.Seconds()/float64(b.N), "s-concurrency-1")
	b.ReportMetric(par.Seconds()/float64(b.N), "s-concurrency-8")
	b.ReportMetric(float64(seq)/float64(par), "x-speedup")
	b.ReportMetric(float64(calls)/2/users, "calls/user")
}
