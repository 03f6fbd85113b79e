package iamtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// authenticate checks the SigV4 Authorization header: the scheme, the
// access key, the service in the credential scope, the signature itself
// (recomputed with the caller's secret over the signed headers and body),
// the caller's expiry, and then authorizes the call with the caller's
// policies (see authorize).
func (s *Server) authenticate(r *http.Request, body []byte, action string) (Caller, *apiError) {
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
	caller, ok := s.callerFor(parts[0])
	if !ok {
		return Caller{}, &apiError{Status: 403, Type: "Sender", Code: "InvalidClientTokenId",
			Message: "The security token included in the request is invalid."}
	}
	if !signatureMatches(r, body, caller, auth[len(scheme):], parts[2], parts[3]) {
		return Caller{}, &apiError{Status: 403, Type: "Sender", Code: "SignatureDoesNotMatch",
			Message: "The request signature we calculated does not match the signature you provided. " +
				"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	if caller.Expired {
		return Caller{}, &apiError{Status: 403, Type: "Sender", Code: "ExpiredToken",
			Message: "The security token included in the request is expired"}
	}
	if isIAMAction(action) {
		if aerr := s.authorize(r.Form, caller, action, parts[2]); aerr != nil {
			return Caller{}, aerr
		}
	}
	s.noteKeyUse(caller.AccessKeyID, parts[2])
	return caller, nil
}

// noteKeyUse records the use of a key the server issued, as IAM does for
// GetAccessKeyLastUsed.
func (s *Server) noteKeyUse(id, region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, configured := s.callers[id]; configured {
		return
	}
	if u, i := s.state.findKey(id); u != nil {
		k := &u.AccessKeys[i]
		k.LastUsed, k.LastUsedService, k.LastUsedRegion = time.Now().UTC().Truncate(time.Second), "iam", region
	}
}

// callerFor finds the caller an access key id belongs to: a configured
// caller, or an active key the server issued with CreateAccessKey, which
// acts as its user with the user's live policies. IAM refuses inactive and
// deleted keys as unknown ones: InvalidClientTokenId ("Managing access keys
// for IAM users": an inactive key cannot be used to sign requests). A
// successful use is recorded as the key's last use (GetAccessKeyLastUsed).
func (s *Server) callerFor(id string) (Caller, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.callers[id]; ok {
		return c, true
	}
	u, i := s.state.findKey(id)
	if u == nil || u.AccessKeys[i].Status != "Active" {
		return Caller{}, false
	}
	return Caller{AccessKeyID: id, SecretAccessKey: u.AccessKeys[i].SecretAccessKey, UserName: u.Name}, true
}

// serviceOf names the service an action belongs to: STS's AssumeRole is
// served here too, for role-assumption tests, and the store actions
// ("secretsmanager:CreateSecret", "ssm:PutParameter") are signed for their
// service.
func serviceOf(action string) string {
	if action == "AssumeRole" {
		return "sts"
	}
	if service, _, ok := strings.Cut(action, ":"); ok {
		return service
	}
	return "iam"
}

// credentialScope returns the value of the Credential= parameter.
func credentialScope(params string) string { return authParam(params, "Credential") }

// authParam returns the value of one NAME=VALUE parameter of a SigV4
// Authorization header.
func authParam(params, name string) string {
	for _, p := range strings.Split(params, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), name+"="); ok {
			return v
		}
	}
	return ""
}

// signatureMatches signs a copy of the request, holding only the headers
// the client signed, with the caller's secret, and compares signatures.
func signatureMatches(r *http.Request, body []byte, caller Caller, params, region, service string) bool {
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return false
	}
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return false
	}
	for _, h := range strings.Split(authParam(params, "SignedHeaders"), ";") {
		switch h {
		case "host":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: caller.AccessKeyID, SecretAccessKey: caller.SecretAccessKey,
		SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, req, hex.EncodeToString(sum[:]), service, region, when); err != nil {
		return false
	}
	want := authParam(req.Header.Get("Authorization")[len("AWS4-HMAC-SHA256 "):], "Signature")
	return hmac.Equal([]byte(want), []byte(authParam(params, "Signature")))
}

// SetCaller adds or replaces a caller while the server runs.
func (s *Server) SetCaller(c Caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callers[c.AccessKeyID] = c
}
