package iamtest

import (
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/sesmtp/sesmtp/derive"
)

// SMTPAuthPath is where the server answers smtp-local's credential
// checks. It is no IAM API: it stands in for what SES does when a client
// authenticates, which is to look the access key up in IAM and compare
// the password derived from its secret. The secret never leaves the
// server; the answer says only whether the password fits.
const SMTPAuthPath = "/sesmtp-local/smtp-auth"

// The results of an SMTP credentials check.
const (
	// SMTPAuthOK: the v4 password of an active key for the region.
	SMTPAuthOK = "ok"
	// SMTPAuthRejected: no such key, or another password.
	SMTPAuthRejected = "rejected"
	// SMTPAuthInactive: the right password of an inactive key.
	SMTPAuthInactive = "inactive"
	// SMTPAuthV2: the legacy version 2 password of an active key.
	SMTPAuthV2 = "v2"
)

// SMTPAuthAnswer is the JSON answer of SMTPAuthPath.
type SMTPAuthAnswer struct {
	Result string `json:"result"`
	// KeyCreated is when the key was created (for a propagation delay);
	// zero unless the key exists.
	KeyCreated time.Time `json:"key_created,omitzero"`
}

// serveSMTPAuth answers a POST of username, password and region from a
// loopback client.
func (s *Server) serveSMTPAuth(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		http.Error(w, "loopback clients only", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "unreadable form", http.StatusBadRequest)
		return
	}
	answer := s.checkSMTPAuth(r.PostForm.Get("username"), r.PostForm.Get("password"), r.PostForm.Get("region"))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

// checkSMTPAuth compares password with the passwords derived from the
// secret of access key id username.
func (s *Server) checkSMTPAuth(username, password, region string) SMTPAuthAnswer {
	s.mu.Lock()
	u, i := s.state.findKey(username)
	var key AccessKey
	if u != nil {
		key = u.AccessKeys[i]
	}
	s.mu.Unlock()
	if u == nil || region == "" {
		return SMTPAuthAnswer{Result: SMTPAuthRejected}
	}
	answer := SMTPAuthAnswer{Result: SMTPAuthRejected, KeyCreated: key.Created}
	switch {
	case same(password, derive.PasswordV4(key.SecretAccessKey, region)) && key.Status != "Active":
		answer.Result = SMTPAuthInactive
	case same(password, derive.PasswordV4(key.SecretAccessKey, region)):
		answer.Result = SMTPAuthOK
	case same(password, derive.PasswordV2(key.SecretAccessKey)):
		answer.Result = SMTPAuthV2
	}
	return answer
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
