package credfile

import (
	"fmt"
	"log/slog"
)

// Redacted is what a Secret prints as.
const Redacted = "[redacted]"

// Secret holds a secret access key or SMTP password. It prints, formats,
// logs and marshals as "[redacted]" so that it cannot reach a log line or an
// error by accident; Reveal returns the value for the one place that
// writes it: a credentials file.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter, redacting every verb (%s, %v, %q, %x ...).
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// RegionPassword is the SMTP password for one region's endpoint.
type RegionPassword struct {
	Region   string
	Endpoint string
	Password Secret
}

// Credentials are what one credentials file holds: the SMTP user name
// (the access key id) and a password per region.
type Credentials struct {
	// UserName is the IAM user's name (not the SMTP user name).
	UserName string
	// AccessKeyID is the SMTP user name.
	AccessKeyID string
	// SecretAccessKey is written only with IncludeSecretKey.
	SecretAccessKey Secret
	// Passwords has one entry per region.
	Passwords []RegionPassword
}
