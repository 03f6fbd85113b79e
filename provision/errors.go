package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/sesmtp/sesmtp/exitcode"
)

// APIError is an IAM call that failed, with what the operator should do.
type APIError struct {
	// Action is the IAM action, e.g. "iam:CreateUser".
	Action string
	// Target names what the call was about, e.g. `user "app-mailer"`.
	Target string
	// Code is the AWS error code, "" for a failure with no answer.
	Code string
	// Hint says what to do about it.
	Hint string
	// Caller is true when the fault lies with the caller's credentials or
	// permissions rather than with IAM.
	Caller bool
	// Stopped is true when the call was cut short by Ctrl-C or --timeout;
	// Hint then says which, and the SDK's text is left out.
	Stopped bool
	Err     error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Action)
	if e.Target != "" {
		b.WriteString(" " + e.Target)
	}
	if e.Stopped {
		b.WriteString(": " + e.Hint)
		return b.String()
	}
	b.WriteString(": " + strings.TrimSuffix(e.Err.Error(), "."))
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// TimeoutError is the cause of a context that --timeout ended; the AWS
// client passes it on with the calls it cut short (awscfg.IAM).
type TimeoutError struct {
	After time.Duration
}

func (e *TimeoutError) Error() string { return fmt.Sprintf("timed out after --timeout %s", e.After) }

// StopReason says why work stopped, if err is (or carries) a context's
// end: --timeout (with its value when err carries a TimeoutError) or
// Ctrl-C/SIGTERM; "" otherwise. Pass context.Cause(ctx) for a context.
func StopReason(err error) string {
	var timeout *TimeoutError
	switch {
	case errors.As(err, &timeout):
		return timeout.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out (--timeout)"
	case errors.Is(err, context.Canceled):
		return "interrupted (Ctrl-C/SIGTERM)"
	}
	return ""
}

// Unwrap returns the SDK's error.
func (e *APIError) Unwrap() error { return e.Err }

// OperatorPolicyHint is the advice every permission error carries.
const OperatorPolicyHint = "run 'sesmtp policy operator' to print the least-privilege policy an operator needs"

// awsError wraps an SDK error from action with a hint. It matches typed
// exceptions first, then API error codes; never error text.
func awsError(action, target string, err error) error {
	if err == nil {
		return nil
	}
	e := &APIError{Action: "iam:" + action, Target: target, Err: err}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
	}
	var (
		limit     *types.LimitExceededException
		exists    *types.EntityAlreadyExistsException
		conflict  *types.DeleteConflictException
		noSuch    *types.NoSuchEntityException
		credsErr  *v4.SigningError
		malformed *types.MalformedPolicyDocumentException
	)
	switch {
	case errors.As(err, &credsErr):
		e.Caller, e.Hint = true, "no usable AWS credentials: set AWS_PROFILE or --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	case errors.As(err, &limit) && action == "CreateAccessKey":
		e.Hint = "IAM allows at most two access keys per user; delete one (sesmtp list shows them) or use 'sesmtp rotate --strategy key --replace-oldest'"
	case errors.As(err, &limit):
		e.Hint = "an IAM quota was reached"
	case errors.As(err, &exists):
		e.Hint = "the name is taken; choose another with --user, or renew that user's credentials with 'sesmtp rotate'"
	case errors.As(err, &conflict):
		e.Hint = "the entity still has attachments; 'sesmtp delete' removes them first"
	case errors.As(err, &noSuch):
		e.Hint = "it does not exist (any more)"
	case errors.As(err, &malformed):
		e.Hint = "IAM rejected the policy document; check --from-address and --identity-arn"
	}
	switch e.Code {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		e.Caller = true
		e.Hint = fmt.Sprintf("the AWS identity running sesmtp is not allowed %s; grant it, or %s", e.Action, OperatorPolicyHint)
	case "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken":
		e.Caller = true
		e.Hint = "AWS does not accept the credentials sesmtp signs with; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or --profile"
	case "ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired":
		e.Caller = true
		e.Hint = "the AWS session credentials have expired; refresh them (e.g. 'aws sso login') and run again"
	case "Throttling", "ThrottlingException":
		e.Hint = "IAM kept throttling after retries; run again later, or with a lower --concurrency"
	case "ServiceFailure":
		e.Hint = "IAM failed internally after retries; run again"
	}
	if reason := StopReason(err); e.Code == "" && reason != "" {
		e.Hint, e.Stopped = reason, true
	}
	return e
}

// isCallerError reports whether err is a credentials or permission
// problem: bad input rather than a failure, when nothing was changed.
func isCallerError(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Caller
}

// beforeChange gives err its exit code for a failure before anything was
// changed: 2 for caller problems (credentials, permissions), else 1.
func beforeChange(err error) error {
	if isCallerError(err) {
		return exitcode.UsageError(err)
	}
	return err
}

// isNoSuchEntity reports whether err is IAM's NoSuchEntity.
func isNoSuchEntity(err error) bool {
	var e *types.NoSuchEntityException
	return errors.As(err, &e)
}

// answered reports whether IAM answered the call with an error: the call
// then did not take effect. A failure without an answer (network, timeout,
// Ctrl-C) may have.
func answered(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae)
}
