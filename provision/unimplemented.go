package provision

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// skippableListings are the listings of things sesmtp never gives a user
// (managed policies, a console password, signing certificates, SSH keys,
// service-specific credentials, MFA devices), which delete and rotate read
// only to remove them before DeleteUser. An endpoint that does not
// implement one (moto lacks ListServiceSpecificCredentials) is not a
// reason to stop: DeleteUser itself refuses, with IAM's DeleteConflict,
// while the user still holds any of them, so skipping a listing can never
// delete more than IAM allows.
var skippableListings = []string{"ListAttachedUserPolicies", "GetLoginProfile", "ListSigningCertificates",
	"ListSSHPublicKeys", "ListServiceSpecificCredentials", "ListMFADevices"}

// isUnimplemented reports whether err is how an endpoint says it does not
// implement a call: HTTP 501 (LocalStack), HTTP 500 whose body is not
// IAM's XML (moto's HTML error page, which the SDK cannot read as an API
// error), or the codes NotImplemented and InvalidAction (IAM API
// reference, Common Errors: InvalidAction, "The action or operation
// requested is invalid"). IAM's own 500, ServiceFailure, is an API error
// and is not among them.
func isUnimplemented(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NotImplemented" || ae.ErrorCode() == "InvalidAction") {
		return true
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	switch re.HTTPStatusCode() {
	case http.StatusNotImplemented:
		return true
	case http.StatusInternalServerError:
		return !errors.As(err, &ae)
	}
	return false
}

// skips remembers the listings an endpoint does not implement, so that
// each is called and warned about once per run.
type skips struct {
	warn func(string) // nil: skip silently

	mu      sync.Mutex
	skipped []string
}

// skip reports whether action's err means the endpoint lacks a listing
// that may be skipped; the first time, it warns.
func (s *skips) skip(action string, err error) bool {
	if s == nil || !slices.Contains(skippableListings, action) || !isUnimplemented(err) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.skipped, action) {
		return true
	}
	s.skipped = append(s.skipped, action)
	if s.warn != nil {
		s.warn(fmt.Sprintf("the IAM endpoint does not implement iam:%s (it answered %s); sesmtp skipped it. "+
			"If the user holds what it lists, IAM's DeleteUser refuses and says so", action, unimplementedAnswer(err)))
	}
	return true
}

// known reports whether action was already found unimplemented, so that
// it need not be called again.
func (s *skips) known(action string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.skipped, action)
}

// unimplementedAnswer describes an isUnimplemented error in a few words.
func unimplementedAnswer(err error) string {
	var ae smithy.APIError
	var re *awshttp.ResponseError
	switch {
	case errors.As(err, &re) && re.HTTPStatusCode() == http.StatusInternalServerError && !errors.As(err, &ae):
		return "HTTP 500 with a body that is not IAM's XML"
	case errors.As(err, &re) && errors.As(err, &ae):
		return fmt.Sprintf("HTTP %d %s", re.HTTPStatusCode(), ae.ErrorCode())
	case errors.As(err, &re):
		return fmt.Sprintf("HTTP %d", re.HTTPStatusCode())
	}
	return "that it is not implemented"
}
