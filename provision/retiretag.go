package provision

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TagRetire is the user tag that records an access key pending retirement:
// phase 1 of a key rotation ('rotate --strategy key') writes it once the
// new key is delivered, 'retire' updates it when it deactivates the key
// and removes it with the key. Being on the user, it is seen by every
// operator on every machine ('list' shows it).
//
// Its value is "KEYID@SINCE" or "KEYID@SINCE/deactivated@WHEN", times in
// RFC 3339 UTC to the second: e.g.
// "AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z/deactivated@2026-11-29T08:00:00Z".
// Every character fits IAM's tag value pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]*
// and a value is at most 128+2*21+13 characters of the 256 IAM allows
// (IAM API reference, Tag data type); ';' and ',' would not fit.
const TagRetire = "sesmtp:retire"

// retireTimeLayout is RFC 3339 in UTC to the second: "2026-11-28T12:00:00Z".
const retireTimeLayout = "2006-01-02T15:04:05Z"

// Retirement is an access key pending retirement, as TagRetire records it.
type Retirement struct {
	// AccessKeyID is the old key, which 'retire' deactivates, then deletes.
	AccessKeyID string `json:"access_key_id"`
	// Since is when the rotation that replaced it began.
	Since time.Time `json:"pending_since"`
	// Deactivated is when 'retire' deactivated it; zero while it is active.
	Deactivated time.Time `json:"deactivated,omitzero"`
}

// Value is the tag value that records r.
func (r Retirement) Value() string {
	v := r.AccessKeyID + "@" + r.Since.UTC().Format(retireTimeLayout)
	if !r.Deactivated.IsZero() {
		v += "/deactivated@" + r.Deactivated.UTC().Format(retireTimeLayout)
	}
	return v
}

var retireValuePattern = regexp.MustCompile(`^(\w{16,128})@([0-9TZ:-]{20})(?:/deactivated@([0-9TZ:-]{20}))?$`)

// ParseRetirement reads a TagRetire value.
func ParseRetirement(v string) (Retirement, error) {
	m := retireValuePattern.FindStringSubmatch(v)
	if m == nil {
		return Retirement{}, fmt.Errorf("tag %s=%q is not KEYID@TIME or KEYID@TIME/deactivated@TIME", TagRetire, v)
	}
	r := Retirement{AccessKeyID: m[1]}
	var err error
	if r.Since, err = time.Parse(retireTimeLayout, m[2]); err != nil {
		return Retirement{}, fmt.Errorf("tag %s=%q: %w", TagRetire, v, err)
	}
	if m[3] != "" {
		if r.Deactivated, err = time.Parse(retireTimeLayout, m[3]); err != nil {
			return Retirement{}, fmt.Errorf("tag %s=%q: %w", TagRetire, v, err)
		}
	}
	return r, nil
}

// retirementIn returns the retirement tags record, nil if none. A tag
// that cannot be read is an error: acting on a guess could retire the
// wrong key.
func retirementIn(tags []types.Tag) (*Retirement, error) {
	for _, t := range tags {
		if t.Key == nil || !strings.EqualFold(*t.Key, TagRetire) {
			continue
		}
		if t.Value == nil {
			return nil, fmt.Errorf("tag %s has no value", TagRetire)
		}
		r, err := ParseRetirement(*t.Value)
		if err != nil {
			return nil, err
		}
		return &r, nil
	}
	return nil, nil
}

// retireAt is t as recorded in a tag: UTC, to the second.
func retireAt(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
