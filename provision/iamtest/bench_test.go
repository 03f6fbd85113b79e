package iamtest_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// BenchmarkServerCalls measures the local endpoint's throughput through the
// real SDK client (signing, HTTP, XML) with parallel callers: each
// iteration is a CreateUser, a CreateAccessKey and a GetUser.
func BenchmarkServerCalls(b *testing.B) {
	e := iamtest.Start(b)
	c := e.Client()
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := aws.String(fmt.Sprintf("bench%d", n.Add(1)))
			if _, err := c.CreateUser(b.Context(), &iam.CreateUserInput{UserName: name}); err != nil {
				b.Error(err)
				return
			}
			if _, err := c.CreateAccessKey(b.Context(), &iam.CreateAccessKeyInput{UserName: name}); err != nil {
				b.Error(err)
				return
			}
			if _, err := c.GetUser(b.Context(), &iam.GetUserInput{UserName: name}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(3*b.N)/b.Elapsed().Seconds(), "calls/s")
}
