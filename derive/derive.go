// Package derive holds the SMTP password derivation and the SES regions and endpoints.
//
// It computes Amazon SES SMTP passwords from IAM secret access
// keys and knows the SES SMTP regions and endpoints. It does no I/O.
package derive

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
)

// Version bytes prefixed to the derived signature. They make a v4 password
// start with "B" and a v2 password start with "A".
const (
	versionV2 byte = 0x02
	versionV4 byte = 0x04
)

// Fixed inputs of the SigV4-style derivation, as AWS documents them. They
// never change: the password is a signature over these constants.
const (
	sigDate     = "11111111"
	sigService  = "ses"
	sigTerminal = "aws4_request"
	sigMessage  = "SendRawEmail"
)

// PasswordLen is the length of every derived SMTP password: base64 of one
// version byte and a 32-byte HMAC-SHA256.
const PasswordLen = 44

// PasswordV4 returns the SMTP password for secret in region, computed with
// the current ("version 4") algorithm that SES accepts. The region must be
// the one whose SMTP endpoint the password will be used with.
func PasswordV4(secret, region string) string {
	var key, sum [sha256.Size]byte
	mac := hmac.New(sha256.New, []byte("AWS4"+secret))
	chain(mac, key[:0], sigDate)
	chain(hmac.New(sha256.New, key[:]), key[:0], region)
	chain(hmac.New(sha256.New, key[:]), key[:0], sigService)
	chain(hmac.New(sha256.New, key[:]), key[:0], sigTerminal)
	chain(hmac.New(sha256.New, key[:]), sum[:0], sigMessage)
	return encode(versionV4, sum)
}

// PasswordV2 returns the legacy ("version 2") SMTP password for secret. It
// does not depend on the region. SES has rejected v2 passwords since March
// 2021 ("535 Signature Version 2 is deprecated"); it exists for old setups
// that still need to reproduce one.
func PasswordV2(secret string) string {
	var sum [sha256.Size]byte
	chain(hmac.New(sha256.New, []byte(secret)), sum[:0], sigMessage)
	return encode(versionV2, sum)
}

// chain writes msg to mac and appends the MAC to dst, which has room for it.
func chain(mac hash.Hash, dst []byte, msg string) {
	mac.Write([]byte(msg))
	mac.Sum(dst)
}

func encode(version byte, sum [sha256.Size]byte) string {
	var raw [1 + sha256.Size]byte
	raw[0] = version
	copy(raw[1:], sum[:])
	return base64.StdEncoding.EncodeToString(raw[:])
}
