package awscfg

import (
	"context"
	"fmt"
	"io"
	"net/http"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// MaxAnswerBytes bounds the body of any AWS answer sesmtp reads. The
// largest real IAM answers (a ListUsers page of 1,000 users, a policy
// document) are a few hundred KB; an endpoint that sends more is not IAM,
// and reading it all could exhaust memory.
const MaxAnswerBytes = 8 << 20

// AnswerTooLargeError reports an answer longer than MaxAnswerBytes.
type AnswerTooLargeError struct {
	Operation string
	Limit     int64
}

func (e *AnswerTooLargeError) Error() string {
	return fmt.Sprintf("the answer to %s is larger than %d MiB, far larger than any real AWS answer; sesmtp stopped reading it "+
		"(is --endpoint-url an AWS endpoint?)", e.Operation, e.Limit>>20)
}

// limitAnswers bounds every answer's body: it sits between the
// operation's deserializer and the HTTP client, so the deserializer reads
// through the limit.
func limitAnswers(limit int64) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("sesmtpLimitAnswers", func(
			ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler,
		) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			resp, ok := out.RawResponse.(*smithyhttp.Response)
			if !ok || resp.Body == nil {
				return out, md, err
			}
			tooLarge := &AnswerTooLargeError{Operation: awsmiddleware.GetOperationName(ctx), Limit: limit}
			if resp.ContentLength > limit {
				_ = resp.Body.Close()
				resp.Body = http.NoBody // nothing left for the SDK to drain
				return out, md, tooLarge
			}
			resp.Body = &limitedBody{r: resp.Body, left: limit, err: tooLarge}
			return out, md, err
		}), middleware.After)
	}
}

// limitedBody reads at most left bytes, then fails with err, once: after
// that it reads as empty, so that the SDK's draining of an unread body
// stops at once.
type limitedBody struct {
	r      io.ReadCloser
	left   int64
	err    error
	failed bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.failed {
		return 0, io.EOF
	}
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			b.failed = true
			return 0, b.err
		}
		return 0, err // io.EOF at the end; (0, nil) means "call again"
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }
