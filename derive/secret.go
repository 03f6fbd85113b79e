package derive

import (
	"errors"
	"fmt"
	"unicode"
)

// SecretKeyLen is the length of every secret access key IAM issues.
const SecretKeyLen = 40

// ErrEmptySecret reports a secret access key that is empty.
var ErrEmptySecret = errors.New("the secret access key is empty")

// SecretLengthError reports a secret that is not SecretKeyLen characters
// long. It never holds the secret itself.
type SecretLengthError struct {
	// Len is the length that was given.
	Len int
}

func (e *SecretLengthError) Error() string {
	return fmt.Sprintf("the secret access key is %d characters long; IAM secret keys are %d "+
		"(was it cut or pasted with extra text? --force derives from it anyway)", e.Len, SecretKeyLen)
}

// CheckSecret reports whether secret can be a secret access key: not empty,
// no whitespace or non-printable characters, and (unless anyLength)
// exactly SecretKeyLen characters. The error never contains the secret.
func CheckSecret(secret string, anyLength bool) error {
	if secret == "" {
		return ErrEmptySecret
	}
	for i, r := range secret {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) || r > unicode.MaxASCII {
			return fmt.Errorf("the secret access key has a whitespace, non-printable or non-ASCII character at byte %d "+
				"(secret keys are 40 characters of A-Z, a-z, 0-9, + and /)", i)
		}
	}
	if !anyLength && len(secret) != SecretKeyLen {
		return &SecretLengthError{Len: len(secret)}
	}
	return nil
}
