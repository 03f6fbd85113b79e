package iamtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The store services speak the AWS JSON 1.1 protocol: a POST to "/" with
// Content-Type application/x-amz-json-1.1, the operation in the
// X-Amz-Target header ("secretsmanager.CreateSecret", "AmazonSSM.PutParameter"),
// the input as a JSON object; answers are JSON, errors a JSON object whose
// "__type" names the error, with HTTP 400 for client errors and 500 for the
// service's own (aws-sdk-go-v2's request and response snapshots of these
// services, request_snapshot/*.snap; smithy-go transport/http/protocol/awsjson).
const jsonContentType = "application/x-amz-json-1.1"

// jsonServices maps an X-Amz-Target prefix to the service (the SigV4
// signing name and the prefix of its IAM actions).
var jsonServices = map[string]string{"secretsmanager": "secretsmanager", "AmazonSSM": "ssm"}

// jsonRequest is one parsed JSON-protocol call.
type jsonRequest struct {
	service string // "secretsmanager" or "ssm"
	action  string // "secretsmanager:CreateSecret"
	body    []byte
	region  string // from the credential scope
	id      string
	caller  Caller
	name    string // the secret or parameter the call is about
	tagged  bool   // the call carries Tags
}

// jsonOperation performs one action under the state lock.
type jsonOperation func(s *Server, st *storeState, req *jsonRequest) (any, *apiError)

// jsonOperations are the store actions the server implements: the calls
// package store makes, and the tagging calls the operator policy grants.
var jsonOperations map[string]jsonOperation

func init() {
	jsonOperations = map[string]jsonOperation{}
	for name, op := range secretsManagerOperations {
		jsonOperations["secretsmanager:"+name] = op
	}
	for name, op := range ssmOperations {
		jsonOperations["ssm:"+name] = op
	}
}

// serveJSON answers one JSON-protocol request (X-Amz-Target set).
func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request, target string) {
	req := &jsonRequest{id: newRequestID()}
	prefix, op, _ := strings.Cut(target, ".")
	req.service = jsonServices[prefix]
	req.action = req.service + ":" + op
	if aerr := s.parseJSON(r, req); aerr != nil {
		s.record(Call{Action: req.action, Outcome: aerr.Code})
		writeJSONError(w, req.id, aerr)
		return
	}
	caller, aerr := s.authenticate(r, req.body, req.action)
	if aerr != nil {
		s.record(Call{Action: req.action, Resource: req.name, Outcome: aerr.Code})
		writeJSONError(w, req.id, jsonAuthError(aerr))
		return
	}
	req.caller = caller
	resource := s.jsonResource(req)
	for _, action := range req.actions() {
		if aerr := s.authorizeStore(req, action, resource); aerr != nil {
			s.record(Call{Action: req.action, Resource: req.name, Caller: caller.UserName, Outcome: aerr.Code})
			writeJSONError(w, req.id, aerr)
			return
		}
	}
	s.serveJSONCall(r.Context(), w, req)
}

// taggingActions are the actions a call with Tags is also authorized as:
// "If you include tags in the secret, you also need
// secretsmanager:TagResource" (Secrets Manager API reference, CreateSecret,
// required permissions); a PutParameter with Tags is refused without
// ssm:AddTagsToResource (the AccessDenied AWS answers, quoted in
// pepperize/cdk-ssm-parameters-cross-region#442).
var taggingActions = map[string]string{
	"secretsmanager:CreateSecret": "secretsmanager:TagResource",
	"ssm:PutParameter":            "ssm:AddTagsToResource",
}

// actions are the IAM actions the call is authorized as.
func (req *jsonRequest) actions() []string {
	if tagging, ok := taggingActions[req.action]; ok && req.tagged {
		return []string{req.action, tagging}
	}
	return []string{req.action}
}

// parseJSON checks the protocol envelope and reads the body and the name
// of the resource the call is about.
func (s *Server) parseJSON(r *http.Request, req *jsonRequest) *apiError {
	if _, known := jsonOperations[req.action]; !known || req.service == "" {
		return &apiError{Status: 400, Code: "UnknownOperationException",
			Message: "iamtest does not implement " + r.Header.Get("X-Amz-Target")}
	}
	if r.Method != http.MethodPost {
		return &apiError{Status: 405, Code: "InvalidHttpMethod", Message: "Use POST."}
	}
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); ct != jsonContentType {
		return &apiError{Status: 400, Code: "SerializationException",
			Message: "Content-Type must be " + jsonContentType}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return errJSONValidation("could not read the request body: %v", err)
	}
	req.body = body
	var names struct {
		Name, SecretId, ResourceId string
		Tags                       []json.RawMessage
	}
	if err := json.Unmarshal(body, &names); err != nil {
		return &apiError{Status: 400, Code: "SerializationException", Message: "the request body is not a JSON object"}
	}
	req.name, req.tagged = names.Name+names.SecretId+names.ResourceId, len(names.Tags) > 0
	if scope := strings.Split(credentialScope(strings.TrimPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")), "/"); len(scope) == 5 {
		req.region = scope[2]
	}
	return nil
}

// serveJSONCall applies faults around the action and writes its answer,
// as serve does for IAM calls.
func (s *Server) serveJSONCall(ctx context.Context, w http.ResponseWriter, req *jsonRequest) {
	call := Call{Action: req.action, Resource: req.name, Caller: req.caller.UserName}
	faults := s.matchFaults(call)
	for _, f := range faults {
		if f.Kind == Delay && !sleep(ctx, f.Delay) {
			call.Outcome = "canceled"
			s.record(call)
			return
		}
	}
	if before := firstOf(faults, FailBefore, DropBefore); before != nil {
		call.Outcome, call.Fault = jsonOutcomeOf(req.service, before), before.Kind
		s.record(call)
		s.answerFault(w, req, before)
		return
	}
	result, aerr := s.performJSON(req)
	call.Outcome = "ok"
	if aerr != nil {
		call.Outcome = aerr.Code
	}
	for _, f := range faults {
		if f.OnPerformed != nil && aerr == nil {
			f.OnPerformed(call)
		}
	}
	if after := firstOf(faults, FailAfter, DropAfter); after != nil && aerr == nil {
		call.Outcome, call.Fault = "performed, then "+jsonOutcomeOf(req.service, after), after.Kind
		s.record(call)
		s.answerFault(w, req, after)
		return
	}
	s.record(call)
	if aerr != nil {
		writeJSONError(w, req.id, aerr)
		return
	}
	writeJSONResult(w, req.id, result)
}

// answerFault drops the connection or answers the fault's error.
func (s *Server) answerFault(w http.ResponseWriter, req *jsonRequest, f *Fault) {
	if f.Kind == DropBefore || f.Kind == DropAfter {
		dropConnection(w)
		return
	}
	writeJSONError(w, req.id, jsonFaultError(req.service, f.Code))
}

// jsonOutcomeOf is the call log's outcome of a fault on a store call.
func jsonOutcomeOf(service string, f *Fault) string {
	if f.Kind == DropBefore || f.Kind == DropAfter {
		return "dropped"
	}
	return jsonFaultError(service, f.Code).Code
}

// performJSON runs the action under the state lock.
func (s *Server) performJSON(req *jsonRequest) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return jsonOperations[req.action](s, s.stores.get(), req)
}

// jsonResource names the resource a call is about, as an ARN, for
// authorization.
func (s *Server) jsonResource(req *jsonRequest) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.service == "secretsmanager" {
		if sec := s.stores.get().secret(req.name); sec != nil {
			return sec.ARN
		}
		return secretARNPrefix(req.region, s.account) + req.name
	}
	return parameterARN(req.region, s.account, req.name)
}

// decodeInput parses the request body into in, refusing fields the local
// endpoint does not implement rather than ignoring them.
func decodeInput(req *jsonRequest, in any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(req.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		var field string
		if _, after, ok := strings.Cut(err.Error(), "unknown field "); ok {
			field = after
		}
		if field != "" {
			return errJSONValidation("iamtest does not implement the %s field of %s", field, req.action)
		}
		return &apiError{Status: 400, Code: "SerializationException", Message: "could not parse the request body"}
	}
	return nil
}

// errJSONValidation is the model-validation error of the JSON services
// (HTTP 400 ValidationException).
func errJSONValidation(format string, args ...any) *apiError {
	return &apiError{Status: 400, Code: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

// jsonError is the wire shape of an error: {"__type": CODE, "message": TEXT}.
type jsonError struct {
	Type    string `json:"__type"`
	Message string `json:"message,omitempty"`
}

func writeJSONError(w http.ResponseWriter, requestID string, e *apiError) {
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(e.Status)
	body, _ := json.Marshal(jsonError{Type: e.Code, Message: e.Message})
	_, _ = w.Write(body)
}

func writeJSONResult(w http.ResponseWriter, requestID string, result any) {
	body, err := json.Marshal(result)
	if err != nil {
		writeJSONError(w, requestID, &apiError{Status: 500, Code: "InternalFailure", Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-Requestid", requestID)
	_, _ = w.Write(body)
}

// jsonAuthError turns an authentication failure into the code the JSON
// services answer with: they name the same failures differently from IAM's
// Query API (UnrecognizedClientException for an unknown key,
// InvalidSignatureException, ExpiredTokenException...), all HTTP 400.
func jsonAuthError(e *apiError) *apiError {
	codes := map[string]string{
		"MissingAuthenticationToken": "MissingAuthenticationTokenException",
		"IncompleteSignature":        "IncompleteSignatureException",
		"SignatureDoesNotMatch":      "InvalidSignatureException",
		"InvalidClientTokenId":       "UnrecognizedClientException",
		"ExpiredToken":               "ExpiredTokenException",
		"AccessDenied":               "AccessDeniedException",
	}
	code, ok := codes[e.Code]
	if !ok {
		code = e.Code
	}
	return &apiError{Status: 400, Code: code, Message: e.Message}
}

// jsonFaultError is the error an injected fault answers on a store call.
// IAM's codes are translated, so one fault matrix can cover every service:
// "" and ServiceFailure become the service's internal error
// (Secrets Manager InternalServiceError, SSM InternalServerError, both 500),
// Throttling becomes ThrottlingException and AccessDenied
// AccessDeniedException (400).
func jsonFaultError(service, code string) *apiError {
	switch code {
	case "", "ServiceFailure", "InternalServiceError", "InternalServerError":
		if service == "ssm" {
			return &apiError{Status: 500, Code: "InternalServerError", Message: "An error occurred on the server side."}
		}
		return &apiError{Status: 500, Code: "InternalServiceError", Message: "An error occurred on the server side."}
	case "Throttling", "ThrottlingException":
		return &apiError{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"}
	case "AccessDenied", "AccessDeniedException":
		return &apiError{Status: 400, Code: "AccessDeniedException", Message: "Access denied (injected)."}
	}
	return &apiError{Status: 400, Code: code, Message: "Injected fault " + code + "."}
}

// storeState holds the secrets and parameters; the Server's mu guards it.
type storeState struct {
	secrets map[string]*secret    // by name
	params  map[string]*parameter // by name
}

// get returns the state, made on first use; the caller holds the Server's mu.
func (st *storeState) get() *storeState {
	if st.secrets == nil {
		st.secrets = map[string]*secret{}
		st.params = map[string]*parameter{}
	}
	return st
}
