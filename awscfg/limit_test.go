package awscfg_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// hugeListUsers answers every request with a ListUsers answer of about
// size bytes, streamed, and counts the bytes the client took and the requests.
func hugeListUsers(t *testing.T, size int64, declare bool) (url string, written, requests *atomic.Int64) {
	written, requests = new(atomic.Int64), new(atomic.Int64)
	member := []byte(strings.Repeat("<member><UserName>u</UserName><Path>/</Path><Arn>arn:aws:iam::123456789012:user/u</Arn>"+
		"<UserId>AIDAEXAMPLE</UserId><CreateDate>2020-01-01T00:00:00Z</CreateDate></member>", 64))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // as a real server does before answering
		w.Header().Set("Content-Type", "text/xml")
		if declare {
			w.Header().Set("Content-Length", fmt.Sprint(size))
		}
		w.WriteHeader(200)
		n, _ := fmt.Fprintf(w, `<ListUsersResponse xmlns="%s"><ListUsersResult><IsTruncated>false</IsTruncated><Users>`, iamtest.Namespace)
		written.Add(int64(n))
		for written.Load() < size {
			n, err := w.Write(member)
			written.Add(int64(n))
			if err != nil {
				return // the client hung up
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, written, requests
}

// TestAnswersAreBounded: a 2 GB ListUsers answer (streamed, or announced
// by Content-Length) is refused after MaxAnswerBytes, with a clear error
// that is not retried, without reading it all, in bounded memory.
func TestAnswersAreBounded(t *testing.T) {
	for _, declare := range []bool{false, true} {
		t.Run(fmt.Sprintf("content-length=%v", declare), func(t *testing.T) {
			iamtest.Isolate(t)
			url, written, requests := hugeListUsers(t, 2<<30, declare)
			// Attempts to spare: a local server answers before the SDK's
			// request writer has finished, and the SDK closes the request
			// body when Do returns, which sometimes resets the connection.
			opts := awscfg.Options{EndpointURL: url, MaxAttempts: 10}
			cfg, err := awscfg.Load(t.Context(), opts)
			require.NoError(t, err)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = awscfg.IAM(cfg, opts).ListUsers(t.Context(), &iam.ListUsersInput{})
			runtime.ReadMemStats(&after)
			var tooLarge *awscfg.AnswerTooLargeError
			require.True(t, errors.As(err, &tooLarge), "%v", err)
			assert.ErrorContains(t, err, "larger than 8 MiB")
			// What the server wrote includes what socket buffers took in.
			assert.Less(t, written.Load(), requests.Load()*(awscfg.MaxAnswerBytes+32<<20), "each attempt stopped reading early")
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(256<<20), "memory stays bounded")
		})
	}
}

func TestAnswerTooLargeIsNotRetried(t *testing.T) {
	err := &awscfg.AnswerTooLargeError{Operation: "ListUsers", Limit: awscfg.MaxAnswerBytes}
	assert.NotEqual(t, aws.TrueTernary, retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err))
}
