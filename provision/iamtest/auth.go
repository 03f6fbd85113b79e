package iamtest

import (
	"net/http"
	"strings"
)

// authenticate checks the SigV4 Authorization header: the scheme, the
// access key, the service in the credential scope, the caller's expiry and
// its allow-list. The signature itself is not recomputed.
func (s *Server) authenticate(r *http.Request, action string) (Caller, *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return Caller{}, &apiError{Status: 403, Type: "Sender", Code: "MissingAuthenticationToken",
			Message: "Request is missing Authentication Token"}
	}
	const scheme = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, scheme) {
		return Caller{}, &apiError{Status: 400, Type: "Sender", Code: "IncompleteSignature",
			Message: "Authorization header requires the AWS4-HMAC-SHA256 scheme."}
	}
	scope := credentialScope(auth[len(scheme):])
	parts := strings.Split(scope, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return Caller{}, &apiError{Status: 400, Type: "Sender", Code: "IncompleteSignature",
			Message: "Authorization header requires a Credential parameter of the form KEY/DATE/REGION/SERVICE/aws4_request."}
	}
	if want := serviceOf(action); parts[3] != want {
		return Caller{}, &apiError{Status: 403, Type: "Sender", Code: "SignatureDoesNotMatch",
			Message: "Credential should be scoped to correct service: '" + want + "'."}
	}
	s.mu.Lock()
	caller, ok := s.callers[parts[0]]
	s.mu.Unlock()
	if !ok {
		return Caller{}, &apiError{Status: 403, Type: "Sender", Code: "InvalidClientTokenId",
			Message: "The security token included in the request is invalid."}
	}
	if caller.Expired {
		return Caller{}, &apiError{Status: 403, Type: "Sender", Code: "ExpiredToken",
			Message: "The security token included in the request is expired"}
	}
	if _, known := operations[action]; known && !caller.allowed(action) {
		return Caller{}, &apiError{Status: 403, Type: "Sender", Code: "AccessDenied",
			Message: "User: arn:aws:iam::" + s.account + ":user/" + caller.UserName +
				" is not authorized to perform: iam:" + action + " on resource: " + s.resourceARN(r, action) +
				" because no identity-based policy allows the iam:" + action + " action"}
	}
	return caller, nil
}

// serviceOf names the service an action belongs to: STS's AssumeRole is
// served here too, for role-assumption tests.
func serviceOf(action string) string {
	if action == "AssumeRole" {
		return "sts"
	}
	return "iam"
}

// credentialScope returns the value of the Credential= parameter.
func credentialScope(params string) string {
	for _, p := range strings.Split(params, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "Credential="); ok {
			return v
		}
	}
	return ""
}

// resourceARN names the resource an action is on, as IAM's AccessDenied
// message does.
func (s *Server) resourceARN(r *http.Request, action string) string {
	prefix := "arn:aws:iam::" + s.account + ":"
	if g := r.Form.Get("GroupName"); g != "" && !strings.Contains(action, "User") {
		return prefix + "group/" + g
	}
	if u := r.Form.Get("UserName"); u != "" {
		return prefix + "user/" + strings.TrimPrefix(r.Form.Get("Path"), "/") + u
	}
	return prefix + "user/"
}

// SetCaller adds or replaces a caller while the server runs.
func (s *Server) SetCaller(c Caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callers[c.AccessKeyID] = c
}
