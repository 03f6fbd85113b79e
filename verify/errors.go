package verify

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
)

// RejectedError reports credentials the server refused (535).
type RejectedError struct {
	Target  string
	Code    int
	Message string
	// Final is true for answers that no wait changes (a legacy v2
	// password, an account not subscribed to SES); Causes then holds
	// the one explanation.
	Final bool
	// Causes are the likely causes, most likely first.
	Causes []string
}

func (e *RejectedError) Error() string {
	if e.Final {
		return fmt.Sprintf("%s rejected the credentials: %d %s\n%s", e.Target, e.Code, e.Message, strings.Join(e.Causes, "\n"))
	}
	return fmt.Sprintf("%s rejected the credentials: %d %s.\nLikely causes, most likely first:\n  - %s\n%s",
		e.Target, e.Code, e.Message, strings.Join(e.Causes, "\n  - "), policyNote)
}

// ExitCode implements exitcode.Coder.
func (e *RejectedError) ExitCode() int { return exitcode.Rejected }

// TemporaryError reports a 4xx answer: SES could not deal with the
// request this time (SES Developer Guide, "SMTP response codes returned by
// Amazon SES": "You should retry SMTP requests that receive 400 errors").
type TemporaryError struct {
	Target  string
	Code    int
	Message string
	// Stage is where the answer came: "greeting", "EHLO/STARTTLS" or "AUTH".
	Stage    string
	WaitFlag string
}

func (e *TemporaryError) Error() string {
	return fmt.Sprintf("%s answered %d %s at %s: a temporary failure on SES's side (throttling or a failed credentials check), "+
		"not a verdict on the credentials; retry later, or with a longer --%s", e.Target, e.Code, e.Message, e.Stage, e.WaitFlag)
}

// ExitCode implements exitcode.Coder: the check failed, nothing is known.
func (e *TemporaryError) ExitCode() int { return exitcode.Failed }

func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// replyError turns an SMTP answer at stage into a *TemporaryError for
// 4xx, or nil.
func replyError(in Input, err error, stage string) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 400 && se.Code < 500 {
		return &TemporaryError{Target: in.Target.String(), Code: se.Code, Message: in.redact(se.Message), Stage: stage, WaitFlag: in.waitFlag()}
	}
	return nil
}

func (in Input) waitFlag() string {
	if in.WaitFlag == "" {
		return "wait"
	}
	return in.WaitFlag
}

func tlsError(t Target, err error) error {
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verr *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown), errors.As(err, &hostErr), errors.As(err, &verr):
		return fmt.Errorf("TLS with %s failed: its certificate is not trusted (%v); sesmtp verifies certificates: "+
			"for a private relay or test server pass its CA with --ca-file", t, unwrapOp(err))
	case errors.As(err, &record) && t.Mode == Implicit:
		return fmt.Errorf("TLS with %s failed: it answered in plain text, not TLS; on STARTTLS ports (587, 25, 2587) pass --tls starttls", t)
	}
	return fmt.Errorf("TLS with %s failed: %w%s", t, unwrapOp(err), implicitHint(t, err))
}

// implicitHint suggests --tls implicit when a STARTTLS attempt met a port
// or a silence that says the server speaks TLS from the first byte.
func implicitHint(t Target, err error) string {
	if t.Mode != STARTTLS {
		return ""
	}
	var ne net.Error
	timeout := errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	switch {
	case t.Port == derive.PortTLS || t.Port == derive.PortTLSAlt:
		return fmt.Sprintf("; port %d is an implicit-TLS port: pass --tls implicit", t.Port)
	case timeout:
		return "; no SMTP greeting came: a server that speaks TLS from the first byte (as SES does on 465 and 2465) " +
			"waits for us as we wait for it; if that is the case, pass --tls implicit"
	}
	return ""
}

func startTLSError(in Input, err error) error {
	t := in.Target
	var se *smtp.SMTPError
	switch {
	case replyError(in, err, "EHLO/STARTTLS") != nil:
		return replyError(in, err, "EHLO/STARTTLS")
	case errors.As(err, &se):
		return fmt.Errorf("%s answered %d %s during EHLO/STARTTLS", t, se.Code, in.redact(se.Message))
	case strings.Contains(err.Error(), "STARTTLS"):
		// go-smtp's only signal for a server without STARTTLS is a plain
		// errors.New, and its client cannot upgrade a connection it did not
		// start with NewClientStartTLS: the text is all there is to match.
		return fmt.Errorf("%s does not offer STARTTLS; sesmtp never sends credentials unencrypted "+
			"(for ports 465 and 2465 use --tls implicit)", t)
	}
	return tlsError(t, err)
}

func authError(in Input, err error) error {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return fmt.Errorf("AUTH with %s failed: %w", in.Target, unwrapOp(err))
	}
	if temp := replyError(in, err, "AUTH"); temp != nil {
		return temp
	}
	switch {
	case se.Code == 535 && strings.Contains(se.Message, "Signature Version 2"):
		return &RejectedError{Target: in.Target.String(), Code: se.Code, Message: in.redact(se.Message), Final: true, Causes: []string{
			"The password is a legacy version 2 SMTP password, which SES has refused since March 2021; waiting does not help. " +
				"Derive a version 4 password for this region from the same secret (sesmtp derive), or make new credentials (sesmtp rotate)."}}
	case se.Code == 535 && strings.Contains(se.Message, "not subscribed"):
		return &RejectedError{Target: in.Target.String(), Code: se.Code, Message: in.redact(se.Message), Final: true, Causes: []string{
			"The credentials are valid, but the AWS account that owns them has not signed up for SES (or SES was suspended there); " +
				"waiting does not help. Open SES in this account and region in the console, or use credentials from the account that sends."}}
	case se.Code == 535:
		return &RejectedError{Target: in.Target.String(), Code: se.Code, Message: in.redact(se.Message), Causes: causes(in)}
	case se.Code == 530:
		return fmt.Errorf("%s answered 530 %s: the connection was not encrypted when it expected it to be; "+
			"use --tls starttls on 587/25/2587 and --tls implicit on 465/2465", in.Target, in.redact(se.Message))
	}
	return fmt.Errorf("%s refused AUTH: %d %s", in.Target, se.Code, in.redact(se.Message))
}

// causes lists why SES answers 535, most likely first, and marks what
// the input itself shows.
func causes(in Input) []string {
	var out []string
	pw := in.Password.Reveal()
	if !LooksLikeAccessKeyID(in.Username) {
		out = append(out, "the username is not an access key id (AKIA...): SES SMTP usernames are the access key id, not the IAM user name [this username does not look like one]")
	}
	if problem := PasswordProblem(pw); problem != "" {
		out = append(out, "the password was mangled on the way (a paste, a config format or a URL parser changed it) ["+problem+"]")
	} else if strings.HasPrefix(pw, "A") {
		out = append(out, "the password is a legacy version 2 password, which SES rejects since March 2021: derive a v4 one (sesmtp derive, or sesmtp rotate) [this password starts with A, as v2 passwords do]")
	}
	region := in.Region
	if region == "" {
		region = credfile.RegionOfHost(in.Target.Host)
	}
	out = append(out,
		fmt.Sprintf("the password was derived for another region than this endpoint's%s: passwords differ per region", regionNote(region)),
		propagationCause(in),
		"the access key is inactive or deleted (sesmtp list shows the key's status)")
	return out
}

// policyNote follows every list of causes: the policy is never one.
const policyNote = "Not a cause: the IAM policy. SES checks ses:SendRawEmail only when mail is sent (554 Access denied), " +
	"never at AUTH; 'sesmtp verify --check-permission' asks IAM whether the user may send."

func propagationCause(in Input) string {
	if in.Wait > 0 {
		return fmt.Sprintf("the key is new and IAM has not propagated it to SES yet: retried for %s; a longer --%s may help", in.Wait, in.waitFlag())
	}
	return fmt.Sprintf("the key is new and IAM has not propagated it to SES yet: retry with --%s 2m", in.waitFlag())
}

func regionNote(region string) string {
	if region == "" {
		return ""
	}
	return " (" + region + ")"
}

// PasswordProblem describes what makes pw unlike an SES SMTP password
// (PasswordLen characters of base64), without quoting it; "" if nothing.
func PasswordProblem(pw string) string {
	for i, r := range pw {
		switch {
		case r == ' ':
			return fmt.Sprintf("this one has a space at character %d, which base64 never has: a + turned into a space by URL or form decoding?", i+1)
		case r == '%':
			return fmt.Sprintf("this one has a %% at character %d: still percent-encoded (as in an smtp:// URL, %%2B for + and %%2F for /)?", i+1)
		case !isBase64(r):
			return fmt.Sprintf("this one has a character outside base64 (A-Z, a-z, 0-9, +, /, =) at character %d: an editor or a quote changed it?", i+1)
		}
	}
	if len(pw) != derive.PasswordLen {
		return fmt.Sprintf("SMTP passwords are %d characters; this one is %d", derive.PasswordLen, len(pw))
	}
	return ""
}

func isBase64(r rune) bool {
	return 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '+' || r == '/' || r == '='
}
