package batch

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
)

func TestParseManifestCSV(t *testing.T) {
	in := "user,from_address,tags,group\n" +
		"# a comment\n" +
		"billing,noreply@example.com;billing@example.com,team=pay;env=prod,\n" +
		"\n" +
		"alerts,,,senders\n"
	got, err := ParseManifest(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, []Sender{
		{Line: 3, User: "billing", FromAddresses: []string{"noreply@example.com", "billing@example.com"},
			Tags: []provision.Tag{{Key: "team", Value: "pay"}, {Key: "env", Value: "prod"}}},
		{Line: 5, User: "alerts", Group: "senders"},
	}, got)
}

func TestParseManifestPlainList(t *testing.T) {
	got, err := ParseManifest(strings.NewReader("\ufeffone\r\ntwo\n\n# skip\nthree,with,commas\n"))
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, "three,with,commas", got[2].User, "IAM names may hold commas")
	assert.Equal(t, 5, got[2].Line)
}

func TestParseManifestReportsEveryProblem(t *testing.T) {
	in := "user,colour\n" + // line 1: unknown column
		"ok,red\n" +
		"bad name,blue\n" + // line 3
		"OK,green\n" + // line 4: duplicate of line 2
		strings.Repeat("x", 65) + ",\n" + // line 5
		"\"unterminated,x\n" + // line 6
		"a,b,c\n" // line 7: field count
	_, err := ParseManifest(strings.NewReader(in))
	var me *ManifestError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, exitcode.Usage, exitcode.Of(err))
	var lines []int
	for _, p := range me.Problems {
		lines = append(lines, p.Line)
	}
	assert.Equal(t, []int{1, 3, 4, 5, 6, 7}, lines, err.Error())
	assert.Contains(t, err.Error(), `user "OK" is also on line 2`)
}

func TestParseManifestLimits(t *testing.T) {
	_, err := ParseManifest(strings.NewReader("user\n" + strings.Repeat("a", MaxLineLen+1) + "\n"))
	assert.ErrorContains(t, err, "line 2: line is longer than")
	_, err = ParseManifest(strings.NewReader("# only a comment\n\n"))
	assert.ErrorContains(t, err, "lists no senders")
	_, err = ParseManifest(strings.NewReader("user,tags\nu,notakv\n"))
	assert.ErrorContains(t, err, "line 2: tag \"notakv\" is not KEY=VALUE")
}

func FuzzParseManifest(f *testing.F) {
	f.Add("user,from_address,identity_arn,tags,group\na,x@y,arn:aws:ses:eu-west-1:1:identity/y,k=v,g\n")
	f.Add("a\nb\n")
	f.Add("user\n\"a\n")
	f.Fuzz(func(t *testing.T, in string) {
		senders, err := ParseManifest(strings.NewReader(in))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range senders {
			if provision.CheckName("user", s.User, provision.MaxUserNameLen) != nil || seen[strings.ToLower(s.User)] {
				t.Fatalf("accepted a bad or duplicate name %q", s.User)
			}
			seen[strings.ToLower(s.User)] = true
		}
	})
}

// TestParseManifestNoSenders: a header with no rows is as empty as an
// empty file.
func TestParseManifestNoSenders(t *testing.T) {
	for _, in := range []string{"", "\n# only a comment\n", "user\n", "user,from_address,group\n# none yet\n\n"} {
		_, err := ParseManifest(strings.NewReader(in))
		assert.ErrorContains(t, err, "lists no senders", "%q", in)
		assert.Equal(t, exitcode.Usage, exitcode.Of(err), "%q", in)
	}
}

// TestParseManifestChecksAddresses: from_address values are addresses
// (with * or ? wildcards, as ses:FromAddress takes them), reported by line.
func TestParseManifestChecksAddresses(t *testing.T) {
	in := "user,from_address\n" +
		"a,*@example.com;noreply@mail.example.com;billing-?@example.com\n" +
		"b,not-an-address\n" +
		"c,noreply@example.com;two@@example.com\n" +
		"d,@example.com\n" +
		"e,noreply@\n" +
		"f,Name <n@example.com>\n"
	_, err := ParseManifest(strings.NewReader(in))
	var me *ManifestError
	require.ErrorAs(t, err, &me)
	var lines []int
	for _, p := range me.Problems {
		lines = append(lines, p.Line)
	}
	assert.Equal(t, []int{3, 4, 5, 6, 7}, lines, err.Error())
	assert.Contains(t, err.Error(), `line 3: from address "not-an-address" is not an email address`)
}
