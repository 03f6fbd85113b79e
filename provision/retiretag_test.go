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

func TestRetirementIn(t *testing.T) {
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	r, err := retirementIn([]types.Tag{tag("team", "mail")})
	require.NoError(t, err)
	assert.Nil(t, r)
	r, err = retirementIn([]types.Tag{tag("team", "mail"), tag("SESMTP:Retire", "AKIAIOSFODNN7EXAMPLE@2026-11-28T12:00:00Z")})
	require.NoError(t, err, "IAM's tag keys are case-insensitive")
	assert.Equal(t, "AKIAIOSFODNN7EXAMPLE", r.AccessKeyID)
	_, err = retirementIn([]types.Tag{{Key: aws.String(TagRetire)}})
	assert.ErrorContains(t, err, "has no value")
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
