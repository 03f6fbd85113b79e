package provision

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/sesmtp/sesmtp/exitcode"
)

func TestParseTag(t *testing.T) {
	tests := []struct {
		in      string
		want    Tag
		wantErr string
	}{
		{"team=mail", Tag{"team", "mail"}, ""},
		{"k=", Tag{"k", ""}, ""},
		{"k=a=b", Tag{"k", "a=b"}, ""},
		{"novalue", Tag{}, "not KEY=VALUE"},
		{"=v", Tag{}, "tag key"},
		{"aws:x=1", Tag{}, "reserved by AWS"},
		{"sesmtp:run-id=1", Tag{}, "reserved for sesmtp"},
		{"k=" + strings.Repeat("v", 257), Tag{}, "up to 256"},
		{"k=a;b", Tag{}, "up to 256"},
		{"k=" + strings.Repeat("ü", 256), Tag{"k", strings.Repeat("ü", 256)}, ""},
		{strings.Repeat("é", 128) + "=v", Tag{strings.Repeat("é", 128), "v"}, ""},
		{strings.Repeat("é", 129) + "=v", Tag{}, "1-128"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTag(tt.in)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				assert.Equal(t, exitcode.Usage, exitcode.Of(err))
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCheckTagsLimits(t *testing.T) {
	var many []Tag
	for i := range MaxTagsPerUser - 1 {
		many = append(many, Tag{Key: strings.Repeat("k", i+1), Value: "v"})
	}
	assert.ErrorContains(t, CheckTags(many), "sesmtp adds 2")
	assert.ErrorContains(t, CheckTags([]Tag{{"Team", "a"}, {"team", "b"}}), "given twice")
}

func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"team=mail", "k=", "aws:x=1", "=", "ключ=значение", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tag, err := ParseTag(s)
		if err != nil {
			if exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("a bad tag must be a usage error: %v", err)
			}
			return
		}
		if tag.Key+"="+tag.Value != strings.TrimSpace(s[:strings.Index(s, "=")])+s[strings.Index(s, "="):] {
			t.Fatalf("tag %+v does not round-trip %q", tag, s)
		}
		if !tagKeyPattern.MatchString(tag.Key) || !tagValuePattern.MatchString(tag.Value) || utf8.RuneCountInString(tag.Key) > 128 || utf8.RuneCountInString(tag.Value) > 256 {
			t.Fatalf("accepted a tag IAM rejects: %q", s)
		}
	})
}

func TestCheckPathAndPolicyCharacters(t *testing.T) {
	for _, p := range []string{"/", "/smtp/", "/a/b/"} {
		assert.NoError(t, CheckPath(p), p)
	}
	for _, p := range []string{"smtp", "/a//b/", "//", "/a b/"} {
		err := CheckPath(p)
		assert.Error(t, err, p)
		assert.Equal(t, exitcode.Usage, exitcode.Of(err))
	}
	assert.NoError(t, CheckPolicyDocument("sender policy", `{"Condition":"caf\u00e9@example.com"}`+"\t\n"))
	err := CheckPolicyDocument("sender policy", `{"ses:FromAddress":"用户@例子.广告"}`)
	assert.ErrorContains(t, err, "Latin-1")
	assert.Equal(t, exitcode.Usage, exitcode.Of(err))
}
