package provision

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// iamTagValue is IAM's rule for a tag value (IAM API reference, Tag).
var iamTagValue = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

func TestRetirementValue(t *testing.T) {
	since := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	off := time.FixedZone("CET", 3600)
	longID := strings.Repeat("A", 128)
	tests := []struct {
		r    Retirement
		want string
	}{
		{Retirement{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Since: since}, "AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z"},
		{Retirement{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Since: since.In(off), Deactivated: since.Add(36 * time.Hour)},
			"AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z/deactivated@2026-11-30T00:00:00Z"},
		{Retirement{AccessKeyID: longID, Since: since, Deactivated: since}, longID + "@2026-11-28T12:00:00Z/deactivated@2026-11-28T12:00:00Z"},
	}
	for _, tt := range tests {
		v := tt.r.Value()
		assert.Equal(t, tt.want, v)
		assert.Regexp(t, iamTagValue, v, "IAM accepts the value")
		assert.LessOrEqual(t, utf8.RuneCountInString(v), 256)
		back, err := ParseRetirement(v)
		require.NoError(t, err)
		assert.Equal(t, tt.r.AccessKeyID, back.AccessKeyID)
		assert.True(t, tt.r.Since.Equal(back.Since))
		assert.True(t, tt.r.Deactivated.Equal(back.Deactivated))
	}
}

func TestParseRetirementRefuses(t *testing.T) {
	for _, bad := range []string{
		"", "AKIAIOSFODNN7EXAMPLE", "AKIA@2026-11-28T12:00:00Z", "AKIAIOSFODNN7EXAMPLE@2026-11-28",
		"AKIAIOSFODNN7EXAMPLE@2026-13-28T12:00:00Z", "AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00+01:00",
		"AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z/deactivated", "AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z;deactivated@2026-11-28T12:00:00Z",
		"AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z/deactivated@2026-11-28T12:00:00Z ", "AKIA-IOSFODNN7EXAMPLE@2026-11-28T12:00:00Z",
	} {
		_, err := ParseRetirement(bad)
		assert.Error(t, err, bad)
	}
}

// iamTagKey is IAM's rule for a tag key (IAM API reference, Tag).
var iamTagKey = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)

func TestRetireTagKey(t *testing.T) {
	assert.Equal(t, "sesmtp:retire:AKIAIOSFODNN7EXAMPLE", RetireTagKey("AKIAIOSFODNN7EXAMPLE"))
	for _, id := range []string{"AKIAIOSFODNN7EXAMPLE", strings.Repeat("A", 16), strings.Repeat("A", 114), strings.Repeat("A", 115), strings.Repeat("A", 128)} {
		k := RetireTagKey(id)
		assert.Regexp(t, iamTagKey, k, "IAM accepts the key for an id of %d characters", len(id))
		assert.True(t, IsRetireTag(k))
	}
	assert.Equal(t, TagRetire, RetireTagKey(strings.Repeat("A", 115)), "too long for a key of its own")
	assert.True(t, IsRetireTag("SESMTP:Retire"))
	assert.True(t, IsRetireTag("Sesmtp:Retire:AKIAIOSFODNN7EXAMPLE"))
	assert.False(t, IsRetireTag("sesmtp:retired"))
	assert.False(t, IsRetireTag("sesmtp:run-id"))
}

func TestRetirementsIn(t *testing.T) {
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	rs, err := retirementsIn("u", []types.Tag{tag("team", "mail")})
	require.NoError(t, err)
	assert.Empty(t, rs)
	rs, err = retirementsIn("u", []types.Tag{tag("team", "mail"), tag("SESMTP:Retire", "AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z"),
		tag("sesmtp:retire:AKIAOTHERKEY00000001", "AKIAOTHERKEY00000001@2026-11-29T12:00:00Z")})
	require.NoError(t, err, "IAM's tag keys are case-insensitive; the single tag of an earlier sesmtp is read")
	require.Len(t, rs, 2)
	assert.Equal(t, "AKIAIOSFODNN7EXAMPLE", rs[0].AccessKeyID)
	assert.Equal(t, "SESMTP:Retire", rs[0].TagKey)
	assert.Equal(t, "AKIAOTHERKEY00000001", rs[1].AccessKeyID)
	assert.Equal(t, "sesmtp:retire:AKIAOTHERKEY00000001", rs[1].tagKey())

	var bad *BadRetireTagError
	_, err = retirementsIn("u", []types.Tag{{Key: aws.String(TagRetire)}})
	require.ErrorAs(t, err, &bad)
	assert.ErrorContains(t, err, "has no value")
	_, err = retirementsIn("u", []types.Tag{tag("sesmtp:retire:AKIAOTHERKEY00000001", "AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z")})
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, []string{"sesmtp:retire:AKIAOTHERKEY00000001"}, bad.TagKeys)
	assert.ErrorContains(t, err, "not the key its name does")
}

func TestPendingOf(t *testing.T) {
	key := func(id string) types.AccessKeyMetadata { return types.AccessKeyMetadata{AccessKeyId: aws.String(id)} }
	a := Retirement{AccessKeyID: "AKIAAAAAAAAAAAAAAAAA", TagKey: "sesmtp:retire:AKIAAAAAAAAAAAAAAAAA"}
	b := Retirement{AccessKeyID: "AKIABBBBBBBBBBBBBBBB", TagKey: "sesmtp:retire:AKIABBBBBBBBBBBBBBBB"}
	gone := Retirement{AccessKeyID: "AKIAGONE000000000000", TagKey: TagRetire}
	held, stale, err := pendingOf("u", []Retirement{gone, a}, []types.AccessKeyMetadata{key(a.AccessKeyID), key("AKIANEW0000000000000")})
	require.NoError(t, err)
	assert.Equal(t, &a, held)
	assert.Equal(t, []Retirement{gone}, stale)
	_, _, err = pendingOf("u", []Retirement{a, b}, []types.AccessKeyMetadata{key(a.AccessKeyID), key(b.AccessKeyID)})
	var bad *BadRetireTagError
	require.ErrorAs(t, err, &bad, "two held keys pending: no guess")
	held, _, err = pendingOf("u", []Retirement{a, {AccessKeyID: a.AccessKeyID, TagKey: TagRetire}}, []types.AccessKeyMetadata{key(a.AccessKeyID)})
	require.NoError(t, err, "one key recorded twice (the old single tag and its own)")
	assert.Equal(t, a.AccessKeyID, held.AccessKeyID)
}

// FuzzParseRetirement: whatever a tag holds, parsing never panics, and
// what parses writes back as the same value.
func FuzzParseRetirement(f *testing.F) {
	f.Add("AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z")
	f.Add("AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z/deactivated@2026-11-29T08:00:00Z")
	f.Fuzz(func(t *testing.T, v string) {
		r, err := ParseRetirement(v)
		if err != nil {
			return
		}
		assert.Equal(t, v, r.Value())
	})
}
