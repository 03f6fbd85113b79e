package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/sesmtp/sesmtp/exitcode"
)

// APIError is a Secrets Manager or SSM call that failed, with what the
// operator should do. Its text is AWS's answer and sesmtp's hint; neither
// ever holds a secret value.
type APIError struct {
	// Action is the IAM action, e.g. "secretsmanager:CreateSecret".
	Action string
	// Resource names what the call was about, e.g. `secret "mail/smtp"`.
	Resource string
	// Code is the AWS error code, "" for a failure with no answer.
	Code string
	// Hint says what to do about it.
	Hint string
	// Caller is true when the fault lies with the caller's credentials or
	// permissions rather than with the service.
	Caller bool
	Err    error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Action)
	if e.Resource != "" {
		b.WriteString(" " + e.Resource)
	}
	b.WriteString(": " + strings.TrimSuffix(e.Err.Error(), "."))
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// Unwrap returns the SDK's error.
func (e *APIError) Unwrap() error { return e.Err }

// Answered reports whether the service answered the call with an error:
// the call then did not take effect. A failure without an answer (network,
// timeout, Ctrl-C) may have.
func (e *APIError) Answered() bool { return e.Code != "" }

// PermissionsHint is the advice every permission error carries.
const PermissionsHint = "docs/store.md lists the Secrets Manager, SSM and KMS permissions a store needs"

// awsError wraps an SDK error from action (e.g. "secretsmanager:PutSecretValue")
// about resource with a hint. It matches typed exceptions first, then API
// error codes; never error text.
func awsError(action, resource string, err error) error {
	if err == nil {
		return nil
	}
	e := &APIError{Action: action, Resource: resource, Err: err}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
	}
	e.Hint = typedHint(err)
	if hint, caller := codeHint(e.Code, action); hint != "" {
		e.Hint, e.Caller = hint, caller
	}
	var signing *v4.SigningError
	if errors.As(err, &signing) {
		e.Caller, e.Hint = true, "no usable AWS credentials: set AWS_PROFILE or --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	}
	if e.Code == "" && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		e.Hint = "interrupted or timed out (--timeout)"
	}
	return e
}

// typedHint explains the services' modelled exceptions.
func typedHint(err error) string {
	var (
		smNotFound   *smtypes.ResourceNotFoundException
		smExists     *smtypes.ResourceExistsException
		smRequest    *smtypes.InvalidRequestException
		smParam      *smtypes.InvalidParameterException
		smLimit      *smtypes.LimitExceededException
		smEncrypt    *smtypes.EncryptionFailure
		smDecrypt    *smtypes.DecryptionFailure
		smInternal   *smtypes.InternalServiceError
		pExists      *ssmtypes.ParameterAlreadyExists
		pNotFound    *ssmtypes.ParameterNotFound
		pBadID       *ssmtypes.InvalidResourceId
		pKey         *ssmtypes.InvalidKeyId
		pLevels      *ssmtypes.HierarchyLevelLimitExceededException
		pLimit       *ssmtypes.ParameterLimitExceeded
		pVersions    *ssmtypes.ParameterMaxVersionLimitExceeded
		pTooMany     *ssmtypes.TooManyUpdates
		pInternal    *ssmtypes.InternalServerError
		pUnsupported *ssmtypes.UnsupportedParameterType
	)
	switch {
	case errors.As(err, &smNotFound), errors.As(err, &pNotFound), errors.As(err, &pBadID):
		return "it does not exist (any more)"
	case errors.As(err, &smExists), errors.As(err, &pExists):
		return "it was created meanwhile, by another run or by hand; run again to see whose it is"
	case errors.As(err, &smRequest):
		return "Secrets Manager refused it in the secret's present state (scheduled for deletion? " +
			"'aws secretsmanager restore-secret' brings it back)"
	case errors.As(err, &smParam), errors.As(err, &pLevels), errors.As(err, &pUnsupported):
		return "the service rejected a parameter of the request"
	case errors.As(err, &smEncrypt), errors.As(err, &smDecrypt), errors.As(err, &pKey):
		return "the KMS key cannot be used: check --kms-key-id, the key's state and policy, and the caller's kms:GenerateDataKey, kms:Encrypt and kms:Decrypt permissions"
	case errors.As(err, &smLimit), errors.As(err, &pLimit), errors.As(err, &pVersions):
		return "a service quota was reached"
	case errors.As(err, &pTooMany):
		return "another writer is updating the parameter; run again"
	case errors.As(err, &smInternal), errors.As(err, &pInternal):
		return "the service failed internally after retries; run again"
	}
	return ""
}

// codeHint explains the errors every AWS service answers; caller is true
// for the caller's own credentials and permissions.
func codeHint(code, action string) (hint string, caller bool) {
	switch code {
	case "AccessDeniedException", "AccessDenied":
		return fmt.Sprintf("the AWS identity running sesmtp is not allowed %s or an action it implies (tagging, the KMS key); grant it: %s", action, PermissionsHint), true
	case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
		"MissingAuthenticationTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch":
		return "AWS does not accept the credentials sesmtp signs with; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or --profile", true
	case "ExpiredTokenException", "ExpiredToken", "RequestExpired":
		return "the AWS session credentials have expired; refresh them (e.g. 'aws sso login') and run again", true
	case "ThrottlingException", "Throttling":
		return "the service kept throttling after retries; run again later, or with a lower --concurrency", false
	}
	return "", false
}

// isCode reports whether err is the typed exception T.
func isCode[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// Sentinels for ConflictError.Kind, to test with errors.Is.
var (
	// ErrNotManaged: the secret or parameter exists and sesmtp did not make it.
	ErrNotManaged = errors.New("not made by sesmtp")
	// ErrOtherUser: sesmtp made it for another IAM user.
	ErrOtherUser = errors.New("holds another IAM user's credentials")
	// ErrScheduledForDeletion: the secret is scheduled for deletion.
	ErrScheduledForDeletion = errors.New("is scheduled for deletion")
	// ErrCannotRestore: Retract cannot bring back an overwritten value.
	ErrCannotRestore = errors.New("the previous value cannot be restored")
)

// ConflictError is a secret or parameter sesmtp refuses to write or
// delete. It is found before anything changes: exit 2.
type ConflictError struct {
	// Resource names it, e.g. `secret "mail/smtp"`.
	Resource string
	// Kind is ErrNotManaged, ErrOtherUser or ErrScheduledForDeletion.
	Kind error
	// Detail and Hint complete the message.
	Detail, Hint string
}

func (e *ConflictError) Error() string {
	msg := e.Resource + " " + e.Kind.Error()
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg + "; " + e.Hint
}

// Unwrap returns Kind.
func (e *ConflictError) Unwrap() error { return e.Kind }

// ExitCode implements exitcode.Coder: nothing was changed, the input
// names a store sesmtp may not use.
func (e *ConflictError) ExitCode() int { return exitcode.Usage }

// ownerConflict checks the tags of an existing secret or parameter: made
// by sesmtp, for iamUser.
func ownerConflict(resource string, tags map[string]string, iamUser string) error {
	if tags[TagManagedBy] != ManagedByValue {
		return &ConflictError{Resource: resource, Kind: ErrNotManaged, Detail: "it has no " + TagManagedBy + "=" + ManagedByValue + " tag",
			Hint: "sesmtp overwrites only what it wrote; choose another name, or delete it yourself if it is stale"}
	}
	if owner := tags[TagIAMUser]; !strings.EqualFold(owner, iamUser) { // IAM user names are not distinguished by case (IAM API reference, CreateUser)
		return &ConflictError{Resource: resource, Kind: ErrOtherUser, Detail: "tag " + TagIAMUser + "=" + owner,
			Hint: fmt.Sprintf("sesmtp replaces stored credentials only on rotation of the same user; choose another name for %s", iamUser)}
	}
	return nil
}
