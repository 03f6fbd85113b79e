package verify

import (
	"encoding/base64"
	"sort"
	"strconv"
	"strings"
)

// redacted replaces a secret in server text.
const redacted = "[redacted]"

// minSecretUsername is the shortest username hidden from server text: a
// shorter one is no secret worth mangling every reply for.
const minSecretUsername = 8

// UsernameLooksSecret reports whether u, given as an SMTP username, must
// never be printed: anything but an access key id may be a password
// passed as the username (the two swapped).
func UsernameLooksSecret(u string) bool { return !LooksLikeAccessKeyID(u) }

// DescribeUsername names u for messages without printing a secret: the
// access key id itself, else its length and what it looks like.
func DescribeUsername(u string) string {
	switch {
	case LooksLikeAccessKeyID(u):
		return u
	case PasswordProblem(u) == "":
		return "(not shown: " + strconv.Itoa(len(u)) + " characters, shaped like an SMTP password: are the username and password swapped?)"
	}
	return "(not shown: " + strconv.Itoa(len(u)) + " characters, not an access key id; it may be a password, swapped with the username?)"
}

// secrets lists what server text must not repeat: the password, the
// username when it may be one, and the base64 forms AUTH sends them in
// (PLAIN's "\x00user\x00password", LOGIN's user and password apart),
// padded and not, longest first.
func (in Input) secrets() []string {
	user, pw := in.Username, in.Password.Reveal()
	plain := []string{pw, "\x00" + user + "\x00" + pw}
	if UsernameLooksSecret(user) && len(user) >= minSecretUsername {
		plain = append(plain, user)
	}
	var out []string
	for _, p := range plain {
		if p == "" {
			continue
		}
		out = append(out, p, base64.StdEncoding.EncodeToString([]byte(p)), base64.RawStdEncoding.EncodeToString([]byte(p)))
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// redact removes the check's secrets from text a server sent (or an error
// quoting it), before it reaches an error, a log or a progress line.
func (in Input) redact(text string) string {
	for _, s := range in.secrets() {
		text = strings.ReplaceAll(text, s, redacted)
	}
	return text
}

// redactErr returns err, or, if its text holds a secret, an error with
// the redacted text that still unwraps to err (for exit codes and
// errors.As).
func (in Input) redactErr(err error) error {
	if err == nil {
		return nil
	}
	if text := in.redact(err.Error()); text != err.Error() {
		return &redactedError{text: text, err: err}
	}
	return err
}

// redactedError is an error whose text had a secret removed.
type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }
