package iamtest

import "net/http"

// Unimplemented is how the server answers an action it is told to lack,
// the way another IAM emulator that lacks it answers, so that clients can
// be tested against those emulators' gaps.
type Unimplemented int

// The answers of emulators that lack an action.
const (
	// Answer501 answers HTTP 501 with an XML error, code InternalFailure,
	// as LocalStack does for an operation it has not implemented ("API
	// action ... not yet implemented or pro feature"; localstack issue
	// 11364 shows the code and text).
	Answer501 Unimplemented = iota + 1
	// Answer500HTML answers HTTP 500 with an HTML page, as moto's server
	// (Flask/werkzeug) does when an action raises NotImplementedError: for
	// IAM's ListServiceSpecificCredentials among others (sesmtp issue 13;
	// localstack issue 3241 quotes the same page from a moto-backed call).
	Answer500HTML
	// AnswerNotImplemented answers IAM's XML error shape with the code
	// NotImplemented (HTTP 400).
	AnswerNotImplemented
	// AnswerInvalidAction answers as IAM itself does for an action it does
	// not know: InvalidAction, HTTP 400 (IAM API reference, Common Errors:
	// "The action or operation requested is invalid").
	AnswerInvalidAction
)

// WithUnimplemented makes the server answer actions as an emulator that
// lacks them does (see Unimplemented).
func WithUnimplemented(how Unimplemented, actions ...string) Option {
	return func(s *Server) { s.Unimplement(how, actions...) }
}

// Unimplement makes the server answer actions as an emulator that lacks
// them does, from now on; a zero how implements them again.
func (s *Server) Unimplement(how Unimplemented, actions ...string) {
	s.strict.mu.Lock()
	defer s.strict.mu.Unlock()
	for _, a := range actions {
		if how == 0 {
			delete(s.strict.unimplemented, a)
		} else {
			s.strict.unimplemented[a] = how
		}
	}
}

func (s *Server) unimplementedAs(action string) (Unimplemented, bool) {
	s.strict.mu.Lock()
	defer s.strict.mu.Unlock()
	how, ok := s.strict.unimplemented[action]
	return how, ok
}

// String names the answer, as iam-local's --unimplemented flag takes it.
func (u Unimplemented) String() string {
	switch u {
	case Answer501:
		return "501"
	case Answer500HTML:
		return "html500"
	case AnswerNotImplemented:
		return "notimplemented"
	case AnswerInvalidAction:
		return "invalidaction"
	}
	return "implemented"
}

// ParseUnimplemented reads an Unimplemented from its String form.
func ParseUnimplemented(s string) (Unimplemented, bool) {
	for _, u := range []Unimplemented{Answer501, Answer500HTML, AnswerNotImplemented, AnswerInvalidAction} {
		if u.String() == s {
			return u, true
		}
	}
	return 0, false
}

func (u Unimplemented) outcome() string { return "unimplemented (" + u.String() + ")" }

// werkzeugInternalError is the page a Flask application answers an
// unhandled exception with.
const werkzeugInternalError = `<!doctype html>
<html lang=en>
<title>500 Internal Server Error</title>
<h1>Internal Server Error</h1>
<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>
`

func (u Unimplemented) answer(w http.ResponseWriter, req *request) {
	switch u {
	case Answer501:
		writeError(w, req.id, &apiError{Status: 501, Type: "Receiver", Code: "InternalFailure",
			Message: "API action '" + req.action + "' for service 'iam' not yet implemented or pro feature"})
	case Answer500HTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(werkzeugInternalError))
	case AnswerNotImplemented:
		writeError(w, req.id, &apiError{Status: 400, Type: "Sender", Code: "NotImplemented",
			Message: "The " + req.action + " action has not been implemented."})
	default:
		writeError(w, req.id, &apiError{Status: 400, Type: "Sender", Code: "InvalidAction",
			Message: "Could not find operation " + req.action + " for version " + APIVersion})
	}
}
