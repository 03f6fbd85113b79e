package smtptest

import "github.com/emersion/go-smtp"

// SES's replies, from the SES Developer Guide, "SMTP response codes
// returned by Amazon SES" (docs.aws.amazon.com/ses/latest/dg/troubleshoot-smtp.html),
// with the enhanced status codes SES sends. The guide says to retry 4xx
// answers with growing pauses and to fix the request on 5xx ones.
var (
	// ReplyInvalid answers wrong credentials, and a key SES does not know
	// yet because IAM has not propagated it.
	ReplyInvalid = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication Credentials Invalid"}
	// ReplyTemporaryAuthFailure answers when SES could not check the
	// credentials this time ("Amazon SES issue when validating SMTP credentials").
	ReplyTemporaryAuthFailure = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}
	// ReplyThrottled is SES's answer to an account over its sending rate.
	ReplyThrottled = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Throttling failure: Maximum sending rate exceeded."}
	// ReplyTooManyConnections is SES's "Service unavailable" answer.
	ReplyTooManyConnections = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Too many concurrent SMTP connections"}
	// ReplyTemporaryServiceFailure is SES's "Local processing error" answer.
	ReplyTemporaryServiceFailure = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary service failure"}
	// ReplySigV2 answers a legacy version 2 password: SES's text, as
	// reported by its users since March 2021 (e.g. EFForg/action-center-platform#873).
	ReplySigV2 = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Signature Version 2 is deprecated for use with SES from March 26, 2021. " +
		"From that date on, we are progressively rejecting such requests. To resolve the issue, you must migrate to Signature Version 4."}
	// ReplyNotSubscribed answers credentials of an account not signed up for SES.
	ReplyNotSubscribed = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Account not subscribed to SES"}
	// ReplyMustStartTLS answers AUTH or MAIL on a connection that is not
	// encrypted yet (the wording is RFC 3207's, section 4).
	ReplyMustStartTLS = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	// ReplyAuthRequired answers MAIL before AUTH.
	ReplyAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	// ReplyAccessDenied answers MAIL: SES checks ses:SendRawEmail when mail
	// is sent, not at AUTH; smtptest and smtp-local never send mail.
	ReplyAccessDenied = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Access denied: this test endpoint checks SMTP credentials only and sends no mail"}
)
