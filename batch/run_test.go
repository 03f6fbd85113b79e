package batch_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/batch"
	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func senders(n int) []batch.Sender {
	var out []batch.Sender
	for i := range n {
		out = append(out, batch.Sender{Line: i + 2, User: fmt.Sprintf("s%03d", i)})
	}
	return out
}

func options(dir string, ss []batch.Sender) batch.Options {
	return batch.Options{Senders: ss, Dir: dir, Format: credfile.CSV, Regions: []string{"eu-west-1"}, Concurrency: 4}
}

func TestRunEnsuresEachGroupOnce(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	ss := senders(10)
	for i := range ss {
		ss[i].Group = []string{"a", "b"}[i%2]
	}
	sum, err := batch.Run(t.Context(), e.Client(), options(t.TempDir(), ss))
	require.NoError(t, err)
	require.NoError(t, sum.Err())
	assert.Equal(t, 4, srv.CallCount("GetGroup"), "each group checked once (before anything changes) and ensured once")
	assert.Equal(t, 2, srv.CallCount("CreateGroup"))
	assert.Equal(t, 10, srv.CallCount("AddUserToGroup"))
	assert.Zero(t, srv.CallCount("PutUserPolicy"), "group members get no inline policy")
}

func TestRunClassifiesLeftovers(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	dir := t.TempDir()
	srv.PutUser(iamtest.User{Name: "s000"}) // exists, no file: its password is lost
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s001.csv"), []byte("stale"), 0o600))
	sum, err := batch.Run(t.Context(), e.Client(), options(dir, senders(3)))
	require.NoError(t, err)
	assert.Equal(t, batch.StatusFailed, sum.Outcomes[0].Status)
	assert.Contains(t, sum.Outcomes[0].Next, "sesmtp rotate --user s000 --strategy key")
	assert.Equal(t, batch.StatusFailed, sum.Outcomes[1].Status)
	assert.Contains(t, sum.Outcomes[1].Error, "already exists")
	assert.Equal(t, batch.StatusCreated, sum.Outcomes[2].Status)
	assert.Equal(t, exitcode.Failed, exitcode.Of(sum.Err()))
	if e.Server != nil { // an external endpoint keeps no call log
		assert.Equal(t, 1, e.Server.CallCount("CreateUser"))
	}
}

func TestRunRejectsBadDir(t *testing.T) {
	e := iamtest.Start(t)
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := batch.Run(t.Context(), e.Client(), options(file, senders(1)))
	assert.Equal(t, exitcode.Usage, exitcode.Of(err))
	if e.Server != nil {
		assert.Zero(t, e.Server.CallCount(""))
	}
}

// BenchmarkBatch creates 100 senders against the local endpoint with 50 ms
// of latency per IAM call (IAM's own, roughly), at concurrency 1, 4 and
// 16, with the client sesmtp uses for batches (paced retries). It
// reports IAM calls per credential and each wall time as a ratio to its
// floor: each worker's share of the senders (100 / concurrency, rounded
// up) x 3 dependent round trips (CreateUser; then PutUserPolicy and
// CreateAccessKey together; then ListAccessKeys, the check that IAM still
// holds the delivered key) x 50 ms, plus the one listing. Run with
// -benchtime 1x.
func BenchmarkBatch(b *testing.B) {
	const n, latency = 100, 50 * time.Millisecond
	for _, conc := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			var wall time.Duration
			calls := 0
			for b.Loop() {
				e := iamtest.Start(b)
				srv := e.Local(b)
				srv.Inject(iamtest.Fault{Kind: iamtest.Delay, Delay: latency})
				opts := awscfg.Options{EndpointURL: e.URL, Adaptive: true, MaxAttempts: 10}
				cfg, err := awscfg.Load(b.Context(), opts)
				if err != nil {
					b.Fatal(err)
				}
				o := options(b.TempDir(), senders(n))
				o.Concurrency = conc
				start := time.Now()
				sum, err := batch.Run(b.Context(), awscfg.IAM(cfg, opts), o)
				wall += time.Since(start)
				if err != nil || sum.Err() != nil {
					b.Fatal(err, sum.Err())
				}
				calls += srv.CallCount("")
			}
			const roundTrips = 3
			floor := time.Duration((n+conc-1)/conc*roundTrips)*latency + latency
			perRun := wall / time.Duration(b.N)
			b.ReportMetric(float64(calls)/float64(b.N)/n, "calls/credential")
			b.ReportMetric(perRun.Seconds(), "s/batch")
			b.ReportMetric(floor.Seconds(), "s-floor")
			b.ReportMetric(float64(perRun)/float64(floor), "x-floor")
		})
	}
}

// TestRunAdviceFitsEachFailure: the summary tells each failed sender what
// will actually help; "run the same command again" only for those a re-run
// can finish.
func TestRunAdviceFitsEachFailure(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	dir := t.TempDir()
	srv.PutUser(iamtest.User{Name: "s000"}) // exists, no file: a re-run fails the same way
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s001.csv"), []byte("stale"), 0o600))
	sum, err := batch.Run(t.Context(), e.Client(), options(dir, senders(3)))
	require.NoError(t, err)
	msg := sum.Err().Error()
	assert.Contains(t, sum.Outcomes[0].Next, "sesmtp rotate --user s000 --strategy key --region eu-west-1 --out "+filepath.Join(dir, "s000.csv"))
	assert.Contains(t, msg, "s000: "+sum.Outcomes[0].Next)
	assert.Contains(t, msg, "sesmtp delete --user s000")
	assert.Contains(t, sum.Outcomes[1].Next, "--force")
	assert.NotContains(t, msg, "same command again", "a re-run cannot fix these")

	srv.Inject(iamtest.Fault{Action: "CreateUser", Kind: iamtest.FailBefore, Count: 20})
	sum, err = batch.Run(t.Context(), e.Client(), options(dir, append(senders(2), batch.Sender{Line: 9, User: "s009"})))
	require.NoError(t, err)
	msg = sum.Err().Error()
	assert.Contains(t, msg, "run the same command again to retry s009")
	assert.Contains(t, msg, "s000: if the user is this sender's, 'sesmtp rotate --user s000")
	assert.Contains(t, msg, "3 of 3 senders were not created: s000, s001, s009\n")
	assert.Equal(t, "run the same command again", sum.Outcomes[2].Next)
}
