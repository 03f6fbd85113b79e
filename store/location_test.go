package store_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/store"
)

// TestLocationUserTags: a location survives the trip through IAM user
// tags, long specs split at IAM's 256-character values, and a shorter spec
// written over a longer one empties the continuation tags it no longer needs.
func TestLocationUserTags(t *testing.T) {
	tagsOf := func(kvs [][2]string, into map[string]string) map[string]string {
		for _, kv := range kvs {
			assert.LessOrEqual(t, len(kv[1]), 256, "IAM tag values hold at most 256 characters")
			into[kv[0]] = kv[1]
		}
		return into
	}
	long := "secretsmanager:" + strings.Repeat("a/", 200) + "smtp"
	longSSM := "ssm:/" + strings.Repeat("level./", 14) + strings.Repeat("p", 900)
	for _, spec := range []string{"secretsmanager:prod/billing/smtp", "ssm:/mediawiki/smtp/", "ssm:/relay/smtp", long} {
		target, err := store.ParseTarget(spec)
		require.NoError(t, err, spec)
		loc := store.Location{Target: target, Region: "eu-west-1"}
		tags := tagsOf(loc.UserTags(nil), map[string]string{"team": "mail"})
		got, found, err := store.LocationOf(tags)
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, loc, got)
	}
	if target, err := store.ParseTarget(longSSM); err == nil {
		tags := tagsOf(store.Location{Target: target, Region: "eu-west-1"}.UserTags(nil), map[string]string{})
		assert.Len(t, tags, 5, "the longest parameter spec takes four parts and the region")
	}

	target, _ := store.ParseTarget(long)
	tags := tagsOf(store.Location{Target: target, Region: "eu-west-1"}.UserTags(nil), map[string]string{})
	require.Contains(t, tags, "sesmtp:store-2")
	short, _ := store.ParseTarget("secretsmanager:x/smtp")
	tags = tagsOf(store.Location{Target: short, Region: "us-east-1"}.UserTags(tags), tags)
	assert.Equal(t, "", tags["sesmtp:store-2"], "a continuation no longer needed is emptied")
	got, _, err := store.LocationOf(tags)
	require.NoError(t, err)
	assert.Equal(t, "secretsmanager:x/smtp", got.Target.String())
	assert.Equal(t, "us-east-1", got.Region)

	_, found, err := store.LocationOf(map[string]string{"team": "mail"})
	assert.NoError(t, err)
	assert.False(t, found, "no tag, no store")
	_, _, err = store.LocationOf(map[string]string{store.UserTagStore: "vault:x", store.UserTagStoreRegion: "eu-west-1"})
	assert.Error(t, err, "a tag sesmtp did not write is not trusted")
	_, _, err = store.LocationOf(map[string]string{store.UserTagStore: "secretsmanager:x/smtp", store.UserTagStoreRegion: "mars"})
	assert.Error(t, err)
}
