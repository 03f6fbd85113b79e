package provision

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TagRetire names the user tags that record access keys pending
// retirement: phase 1 of a key rotation ('rotate --strategy key') writes
// one once the new key is delivered, 'retire' updates it when it
// deactivates the key and removes it with the key. Being on the user, it
// is seen by every operator on every machine ('list' shows it).
//
// Each key has a tag of its own, RetireTagKey(id): "sesmtp:retire:KEYID".
// IAM's UntagUser removes tags by key, so a retire that removes its key's
// record can never remove a record another run (a phase-1 rotation that
// began meanwhile) just wrote for another key; IAM has no conditional
// writes to make a read and a write one step. sesmtp before per-key tags
// wrote one tag named TagRetire itself; it is still read, updated in
// place and removed, never written anew.
//
// The value is "KEYID@SINCE" or "KEYID@SINCE/deactivated@WHEN", times in
// RFC 3339 UTC to the second, on IAM's clock (the Date of IAM's answers):
// e.g. "AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z/deactivated@2026-11-29T08:00:00Z".
// Every character fits IAM's tag value pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]*
// and a value is at most 128+2*21+13 characters of the 256 IAM allows
// (IAM API reference, Tag data type); ';' and ',' would not fit.
const TagRetire = "sesmtp:retire"

// retireTagPrefix starts every per-key retirement tag key.
const retireTagPrefix = TagRetire + ":"

// maxTagKeyLen is IAM's limit on a tag key, in characters (IAM API
// reference, Tag: Key, 1-128 characters of [\p{L}\p{Z}\p{N}_.:/=+\-@]+).
const maxTagKeyLen = 128

// RetireTagKey is the tag key that records access key id's pending
// retirement: "sesmtp:retire:" and the id (an access key id is 16 to 128
// word characters: it fits IAM's tag key pattern). An id too long for
// IAM's 128 characters (longer than 114; AWS's are 20) is recorded in
// TagRetire, as before per-key tags.
func RetireTagKey(id string) string {
	if len(retireTagPrefix)+len(id) > maxTagKeyLen {
		return TagRetire
	}
	return retireTagPrefix + id
}

// IsRetireTag reports whether a tag key records a retirement: TagRetire or
// a per-key one. IAM's tag keys are case-insensitive.
func IsRetireTag(key string) bool {
	k := strings.ToLower(key)
	return k == TagRetire || strings.HasPrefix(k, retireTagPrefix)
}

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
	// TagKey is the tag that records it: RetireTagKey(AccessKeyID), or
	// TagRetire for a record an earlier sesmtp wrote.
	TagKey string `json:"tag_key,omitempty"`
}

// tagKey is the tag r is written to: the one it was read from, else its key's own.
func (r Retirement) tagKey() string {
	if r.TagKey != "" {
		return r.TagKey
	}
	return RetireTagKey(r.AccessKeyID)
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

// retirementsIn returns the retirements user's tags record, in tag order.
// A tag that cannot be read, or a per-key tag whose value names another
// key, is a *BadRetireTagError: acting on a guess could retire the wrong key.
func retirementsIn(user string, tags []types.Tag) ([]Retirement, error) {
	var out []Retirement
	for _, t := range tags {
		if t.Key == nil || !IsRetireTag(*t.Key) {
			continue
		}
		bad := &BadRetireTagError{UserName: user, TagKeys: []string{*t.Key}}
		if t.Value == nil {
			bad.Err = fmt.Errorf("tag %s has no value", *t.Key)
			return nil, bad
		}
		r, err := ParseRetirement(*t.Value)
		if err != nil {
			bad.Err = fmt.Errorf("tag %s: %w", *t.Key, err)
			return nil, bad
		}
		if !strings.EqualFold(*t.Key, TagRetire) && !strings.EqualFold(*t.Key, RetireTagKey(r.AccessKeyID)) {
			bad.Err = fmt.Errorf("tag %s=%q names access key %s, not the key its name does", *t.Key, *t.Value, r.AccessKeyID)
			return nil, bad
		}
		r.TagKey = *t.Key
		out = append(out, r)
	}
	return out, nil
}

// pendingOf splits user's records into the one naming a key the user
// holds (nil if none) and the stale ones, naming keys that are gone. Two
// records of two held keys are a *BadRetireTagError: a rotation records
// one only while none is pending, so sesmtp does not guess which is meant.
func pendingOf(user string, records []Retirement, keys []types.AccessKeyMetadata) (*Retirement, []Retirement, error) {
	var held *Retirement
	var stale []Retirement
	ids := keyIDsOf(keys)
	for i, r := range records {
		switch {
		case !slices.Contains(ids, r.AccessKeyID):
			stale = append(stale, r)
		case held != nil && held.AccessKeyID != r.AccessKeyID:
			return nil, nil, &BadRetireTagError{UserName: user, TagKeys: []string{held.TagKey, r.TagKey},
				Err: fmt.Errorf("tags %s and %s record two keys the user holds, %s and %s, as pending retirement",
					held.TagKey, r.TagKey, held.AccessKeyID, r.AccessKeyID)}
		case held == nil:
			held = &records[i]
		}
	}
	return held, stale, nil
}

// retireAt is t as recorded in a tag: UTC, to the second.
func retireAt(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
