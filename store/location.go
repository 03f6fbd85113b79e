package store

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sesmtp/sesmtp/derive"
)

// Location is where an IAM user's SMTP credentials are stored: a target in
// a region. sesmtp tags the user with it (UserTags), so that rotate writes
// to the same place by default and delete finds it.
type Location struct {
	Target Target
	Region string
}

// String names the location as an operator reads it.
func (l Location) String() string { return l.Target.String() + " (" + l.Region + ")" }

// The IAM user tags that name a Location. IAM tag values hold at most 256
// characters of letters, digits, spaces and _ . : / = + - @ (IAM API
// reference, Tag): every character of a store spec is one of those, but a
// secret name may be 512 characters and a parameter name about 950, so a
// long spec continues in UserTagStore-2, -3 and -4.
const (
	// UserTagStore holds the store spec (its first 256 characters).
	UserTagStore = "sesmtp:store"
	// UserTagStoreRegion holds the store's region.
	UserTagStoreRegion = "sesmtp:store-region"
	// maxTagValue is IAM's limit on a tag value.
	maxTagValue = 256
	// maxSpecParts bounds the continuation tags: 4 x 256 holds the longest
	// spec ParseTarget accepts ("ssm:" + 954).
	maxSpecParts = 4
)

func specPartKey(i int) string {
	if i == 0 {
		return UserTagStore
	}
	return UserTagStore + "-" + strconv.Itoa(i+1)
}

// UserTags returns the tags (key, value) that name l on an IAM user whose
// tags are now existing: the spec in as many parts as it needs, the region,
// and an empty value for each continuation tag existing holds that l does
// not need (TagUser then overwrites it; IAM keys are case-insensitive).
func (l Location) UserTags(existing map[string]string) [][2]string {
	spec := l.Target.String()
	var tags [][2]string
	for i := 0; i < maxSpecParts; i++ {
		part := ""
		if len(spec) > i*maxTagValue {
			part = spec[i*maxTagValue : min(len(spec), (i+1)*maxTagValue)]
		}
		if part == "" && !hasKey(existing, specPartKey(i)) {
			continue
		}
		tags = append(tags, [2]string{specPartKey(i), part})
	}
	return append(tags, [2]string{UserTagStoreRegion, l.Region})
}

func hasKey(tags map[string]string, key string) bool {
	for k := range tags {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func tagValue(tags map[string]string, key string) string {
	for k, v := range tags {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// LocationOf reads the Location an IAM user's tags name; found is false
// when they name none. Tags that do not parse are an error: something
// other than sesmtp wrote them.
func LocationOf(tags map[string]string) (Location, bool, error) {
	var spec strings.Builder
	for i := range maxSpecParts {
		spec.WriteString(tagValue(tags, specPartKey(i)))
	}
	if spec.Len() == 0 {
		return Location{}, false, nil
	}
	t, err := ParseTarget(spec.String())
	if err != nil {
		return Location{}, true, fmt.Errorf("the user's %s tag does not name a store sesmtp writes: %w", UserTagStore, err)
	}
	region := tagValue(tags, UserTagStoreRegion)
	if err := derive.CheckRegion(region, true); err != nil {
		return Location{}, true, fmt.Errorf("the user's %s tag: %w", UserTagStoreRegion, err)
	}
	return Location{Target: t, Region: region}, true, nil
}
