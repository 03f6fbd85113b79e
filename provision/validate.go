package provision

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/sesmtp/sesmtp/exitcode"
)

// IAM's rules for names, paths, tags and ARNs (IAM API reference).
var (
	namePattern      = regexp.MustCompile(`^[\w+=,.@-]+$`)
	pathPattern      = regexp.MustCompile(`^/([\x21-\x7E]*/)?$`)
	tagKeyPattern    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValuePattern  = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	policyARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[\x21-\x7E]+$`)
)

// Limits IAM enforces.
const (
	MaxUserNameLen   = 64
	MaxGroupNameLen  = 128
	MaxPolicyNameLen = 128
	MaxTagsPerUser   = 50
)

// CheckName reports whether IAM would accept name for a user (what =
// "user name", maxLen 64) or another entity.
func CheckName(what, name string, maxLen int) error {
	switch {
	case name == "":
		return exitcode.UsageError(fmt.Errorf("the %s is empty", what))
	case utf8.RuneCountInString(name) > maxLen:
		return exitcode.UsageError(fmt.Errorf("the %s %q is %d characters; IAM allows at most %d", what, name, utf8.RuneCountInString(name), maxLen))
	case !namePattern.MatchString(name):
		return exitcode.UsageError(fmt.Errorf("the %s %q has characters IAM rejects; use letters, digits and + = , . @ _ -", what, name))
	}
	return nil
}

// CheckPath reports whether IAM would accept path ("/" or "/a/b/"): IAM
// refuses an empty segment ("//") too, though its documented pattern
// admits one (see iamtest's checkPath).
func CheckPath(path string) error {
	if len(path) > 512 || !pathPattern.MatchString(path) || strings.Contains(path, "//") {
		return exitcode.UsageError(fmt.Errorf("the path %q is not an IAM path: it must start and end with / (e.g. /smtp/), with no empty segment (//) and no spaces", path))
	}
	return nil
}

// Tag is an IAM tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ParseTag parses "KEY=VALUE" as --tag takes it.
func ParseTag(s string) (Tag, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return Tag{}, exitcode.UsageError(fmt.Errorf("tag %q is not KEY=VALUE", s))
	}
	t := Tag{Key: strings.TrimSpace(k), Value: v}
	return t, CheckTags([]Tag{t})
}

// CheckTags reports whether IAM would accept tags from a user of sesmtp:
// IAM's character set and lengths, no aws: or sesmtp: prefix, no duplicate
// keys (case-insensitive), and room for sesmtp's own tags.
func CheckTags(tags []Tag) error {
	seen := map[string]bool{}
	if len(tags)+len(ownTagKeys) > MaxTagsPerUser {
		return exitcode.UsageError(fmt.Errorf("%d tags: IAM allows %d per user and sesmtp adds %d", len(tags), MaxTagsPerUser, len(ownTagKeys)))
	}
	for _, t := range tags {
		lower := strings.ToLower(t.Key)
		switch {
		case t.Key == "" || utf8.RuneCountInString(t.Key) > 128 || !tagKeyPattern.MatchString(t.Key):
			return exitcode.UsageError(fmt.Errorf("tag key %q: IAM allows 1-128 letters, digits, spaces and _ . : / = + - @", t.Key))
		case utf8.RuneCountInString(t.Value) > 256 || !tagValuePattern.MatchString(t.Value):
			return exitcode.UsageError(fmt.Errorf("tag %q: IAM allows values of up to 256 letters, digits, spaces and _ . : / = + - @", t.Key))
		case strings.HasPrefix(lower, "aws:"):
			return exitcode.UsageError(fmt.Errorf("tag key %q: the aws: prefix is reserved by AWS", t.Key))
		case strings.HasPrefix(lower, ownTagPrefix):
			return exitcode.UsageError(fmt.Errorf("tag key %q: the %s prefix is reserved for sesmtp's own tags", t.Key, ownTagPrefix))
		case seen[lower]:
			return exitcode.UsageError(fmt.Errorf("tag key %q is given twice (IAM tag keys are case-insensitive)", t.Key))
		}
		seen[lower] = true
	}
	return nil
}

// CheckPolicyARN reports whether arn looks like an IAM managed policy ARN.
func CheckPolicyARN(what, arn string) error {
	if !policyARNPattern.MatchString(arn) {
		return exitcode.UsageError(fmt.Errorf("the %s %q is not an IAM policy ARN (arn:aws:iam::ACCOUNT:policy/NAME)", what, arn))
	}
	return nil
}

// CheckPolicyDocument reports whether IAM would accept doc's characters:
// tab, line feed, carriage return and U+0020 to U+00FF only (IAM User
// Guide, "IAM and AWS STS quotas"; the API's PolicyDocument pattern). An
// address or ARN outside Latin-1 would otherwise fail at PutUserPolicy,
// after the user exists.
func CheckPolicyDocument(what, doc string) error {
	for _, r := range doc {
		if r != '\t' && r != '\n' && r != '\r' && (r < 0x20 || r > 0xFF) {
			return exitcode.UsageError(fmt.Errorf("the %s contains %q, a character IAM does not allow in policy documents (only Latin-1); "+
				"use the address's ASCII (punycode) form", what, r))
		}
	}
	return nil
}

var errNoRegions = exitcode.UsageError(errors.New("no SES region given"))
