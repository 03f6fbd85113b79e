package iamtest

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// LogCalls returns a handler that serves s and logs one line per call to
// logger: the action, the UserName it names, the caller, the HTTP status,
// the outcome ("ok", IAM's error code, or "dropped") and the milliseconds
// it took. It never logs a header, a secret or a body; it reads only the
// error code from an error answer (which holds no secret).
func (s *Server) LogCalls(logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") == "" { // a GET carries its parameters in the query
			form, _ = url.ParseQuery(r.URL.RawQuery)
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		s.ServeHTTP(rec, r)
		outcome := "ok"
		switch {
		case rec.dropped:
			outcome, rec.status = "dropped", 0
		case rec.status >= 400:
			outcome = errorCode(rec.errBody.Bytes(), rec.status)
		}
		logger.Info("call", "action", form.Get("Action"), "user", form.Get("UserName"),
			"caller", s.callerName(r), "status", rec.status, "outcome", outcome,
			"ms", time.Since(start).Milliseconds())
	})
}

// callerName names the caller whose access key signed r, "" if unknown.
func (s *Server) callerName(r *http.Request) string {
	scope := credentialScope(strings.TrimPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "))
	id, _, _ := strings.Cut(scope, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callers[id].UserName
}

// errorCode reads IAM's error code from an error answer, or names the
// status when the answer is not IAM's XML (an emulator's HTML page).
func errorCode(body []byte, status int) string {
	var e errorResponse
	if xml.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return http.StatusText(status)
	}
	return e.Error.Code
}

// recorder notes the status of an answer, keeps the body of an error
// answer (never of a success, which may hold a secret), and passes a
// hijack (a dropped connection) through.
type recorder struct {
	http.ResponseWriter
	status  int
	errBody bytes.Buffer
	dropped bool
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status >= 400 && r.errBody.Len() < 4096 {
		r.errBody.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

// Hijack implements http.Hijacker, so that dropped connections still drop.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	r.dropped = true
	return hj.Hijack()
}
