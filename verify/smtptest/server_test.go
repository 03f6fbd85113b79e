package smtptest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sesmtp/sesmtp/verify/smtptest"
)

// TestStartStopAtOnce starts servers and stops them before any client
// connects, the case that used to hang: go-smtp's Close closes only the
// listeners Serve has registered, so a test ending before the serve
// goroutine ran left Accept blocked forever. Each subtest ends at once, so
// its cleanup races the serve goroutine; goleak then checks that every
// serve goroutine returned.
func TestStartStopAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, implicit := range []bool{false, true} {
		for range 200 {
			t.Run("", func(t *testing.T) {
				smtptest.NewServer(t, smtptest.Options{Implicit: implicit})
			})
		}
	}
}
