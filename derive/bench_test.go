package derive

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"
)

// sink keeps the compiler from removing benchmarked work.
var sink string

// BenchmarkPasswordV4 measures the full v4 derivation, base64 included.
func BenchmarkPasswordV4(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sink = PasswordV4(awsExampleKey, "eu-west-1")
	}
}

// BenchmarkFloorFiveHMAC is the floor PasswordV4 is measured against: five
// bare HMAC-SHA256 computations with keys and messages of the same sizes.
func BenchmarkFloorFiveHMAC(b *testing.B) {
	b.ReportAllocs()
	first := []byte("AWS4" + awsExampleKey)
	for b.Loop() {
		sink = string(fiveHMAC(first))
	}
}

// BenchmarkPasswordV4VsFloor interleaves PasswordV4 and the five-HMAC
// floor in one loop, so machine noise hits both alike, and reports the
// ratio of their times ("x-floor"); the goal is at most 1.5.
func BenchmarkPasswordV4VsFloor(b *testing.B) {
	first := []byte("AWS4" + awsExampleKey)
	var v4, floor time.Duration
	for b.Loop() {
		t0 := time.Now()
		sink = PasswordV4(awsExampleKey, "eu-west-1")
		t1 := time.Now()
		sink = string(fiveHMAC(first))
		floor += time.Since(t1)
		v4 += t1.Sub(t0)
	}
	b.ReportMetric(float64(v4)/float64(floor), "x-floor")
}

// fiveHMAC computes five chained HMAC-SHA256s with messages of the sizes
// PasswordV4 uses; it returns one byte of the result.
func fiveHMAC(first []byte) []byte {
	key := first
	var out [sha256.Size]byte
	for _, msg := range []string{sigDate, "eu-west-1", sigService, sigTerminal, sigMessage} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		key = m.Sum(out[:0])
	}
	return key[:1]
}
