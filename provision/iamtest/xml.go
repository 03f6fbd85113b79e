package iamtest

import (
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
)

// request is one parsed IAM call.
type request struct {
	action string
	form   url.Values
	id     string
	caller Caller
}

// apiError is an IAM error answer.
type apiError struct {
	Status  int
	Type    string
	Code    string
	Message string
}

func errValidation(format string, args ...any) *apiError {
	return &apiError{Status: 400, Type: "Sender", Code: "ValidationError", Message: fmt.Sprintf(format, args...)}
}

func errNoSuchEntity(format string, args ...any) *apiError {
	return &apiError{Status: 404, Type: "Sender", Code: "NoSuchEntity", Message: fmt.Sprintf(format, args...)}
}

func errAlreadyExists(format string, args ...any) *apiError {
	return &apiError{Status: 409, Type: "Sender", Code: "EntityAlreadyExists", Message: fmt.Sprintf(format, args...)}
}

func errDeleteConflict(format string, args ...any) *apiError {
	return &apiError{Status: 409, Type: "Sender", Code: "DeleteConflict", Message: fmt.Sprintf(format, args...)}
}

func errLimitExceeded(format string, args ...any) *apiError {
	return &apiError{Status: 409, Type: "Sender", Code: "LimitExceeded", Message: fmt.Sprintf(format, args...)}
}

func errInvalidInput(format string, args ...any) *apiError {
	return &apiError{Status: 400, Type: "Sender", Code: "InvalidInput", Message: fmt.Sprintf(format, args...)}
}

func errMalformedPolicy(format string, args ...any) *apiError {
	return &apiError{Status: 400, Type: "Sender", Code: "MalformedPolicyDocument", Message: fmt.Sprintf(format, args...)}
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Error     errorXML `xml:"Error"`
	RequestID string   `xml:"RequestId"`
}

type errorXML struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func writeError(w http.ResponseWriter, requestID string, e *apiError) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(e.Status)
	body, _ := xml.Marshal(errorResponse{Xmlns: Namespace, Error: errorXML{e.Type, e.Code, e.Message}, RequestID: requestID})
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// writeResult writes <ActionResponse><ActionResult>result</ActionResult>
// <ResponseMetadata/></ActionResponse>; a nil result has no Result element.
func writeResult(w http.ResponseWriter, action, requestID string, result any) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	type response struct {
		XMLName  xml.Name
		Xmlns    string           `xml:"xmlns,attr"`
		Result   any              `xml:",omitempty"`
		Metadata responseMetadata `xml:"ResponseMetadata"`
	}
	resp := response{XMLName: xml.Name{Local: action + "Response"}, Xmlns: Namespace, Metadata: responseMetadata{requestID}}
	if result != nil {
		resp.Result = resultElement{name: action + "Result", v: result}
	}
	body, err := xml.Marshal(resp)
	if err != nil {
		writeError(w, requestID, &apiError{Status: 500, Type: "Receiver", Code: "ServiceFailure", Message: err.Error()})
		return
	}
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

// resultElement marshals v under the element name.
type resultElement struct {
	name string
	v    any
}

// MarshalXML implements xml.Marshaler.
func (r resultElement) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	return e.EncodeElement(r.v, xml.StartElement{Name: xml.Name{Local: r.name}})
}

// newRequestID returns a random id shaped like IAM's request ids.
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// members is an IAM list: <member>...</member> elements.
type members[T any] struct {
	Member []T `xml:"member"`
}
