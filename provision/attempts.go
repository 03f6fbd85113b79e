package provision

import (
	"context"
	"sync/atomic"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"
)

// attempts counts the HTTP attempts of one SDK call, the SDK's retries
// (and awscfg's propagation retries) included. A call answered with an
// error after a single attempt did not take effect; a call tried more than
// once may have taken effect in an attempt whose answer was lost or was a
// ServiceFailure after the fact.
type attempts struct{ n atomic.Int32 }

// option is the per-call option that counts: each attempt passes the end
// of the Finalize step (after the retry middleware) once.
func (a *attempts) option(o *iam.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("sesmtpCountAttempts", func(
			ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler,
		) (middleware.FinalizeOutput, middleware.Metadata, error) {
			a.n.Add(1)
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
	})
}

// retried reports whether the call was sent more than once.
func (a *attempts) retried() bool { return a.n.Load() > 1 }

// mayHaveTakenEffect reports whether a call that failed with err may have
// changed IAM anyway: it got no answer, or an attempt before the one that
// answered may have.
func (a *attempts) mayHaveTakenEffect(err error) bool {
	return !answered(err) || a.retried()
}

// iamTime is IAM's clock as an answer's Date header tells it (the SDK
// records it in the answer's metadata: aws/middleware.GetServerTime), or
// fallback when the answer carries none (a client that is not HTTP).
// HTTP/1.1 requires an origin server to send Date (RFC 9110, 6.6.1); IAM
// does. It is exact to the second, as IAM's CreateDate is.
func iamTime(md middleware.Metadata, fallback time.Time) time.Time {
	if t, ok := awsmiddleware.GetServerTime(md); ok && !t.IsZero() {
		return t.UTC()
	}
	return fallback.UTC().Truncate(time.Second)
}
