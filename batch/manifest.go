// Package batch holds create --from-file: manifests and the many-sender run.
//
// It onboards many senders at once: it parses a manifest,
// validates all of it before changing anything, lists IAM users once for
// the whole batch, and creates each sender's credentials with bounded
// concurrency, rolling back failures one by one and resuming on re-run.
package batch

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
)

// Manifest columns.
const (
	ColUser        = "user"
	ColFromAddress = "from_address"
	ColIdentityARN = "identity_arn"
	ColTags        = "tags"
	ColGroup       = "group"
)

// MaxLineLen bounds a manifest line; longer ones are an error, not a hang.
const MaxLineLen = 64 * 1024

// Manifest bounds: a bigger manifest is an error before anything is read
// into memory or checked. MaxSenders is IAM's default quota of users per
// account (IAM User Guide, "IAM and AWS STS quotas": 5,000 users); a
// manifest of more could not be created anyway. MaxManifestBytes leaves
// room for 5,000 rows of long addresses, ARNs and tags.
const (
	MaxSenders       = 5000
	MaxManifestBytes = 8 << 20
)

// maxProblemsShown bounds the problems an error lists; the rest are counted.
const maxProblemsShown = 50

var knownColumns = []string{ColUser, ColFromAddress, ColIdentityARN, ColTags, ColGroup}

// Sender is one manifest row.
type Sender struct {
	// Line is the row's line number in the manifest.
	Line          int
	User          string
	FromAddresses []string
	IdentityARNs  []string
	Tags          []provision.Tag
	Group         string
}

// Problem is one bad row.
type Problem struct {
	Line int
	Msg  string
}

// ManifestError lists every bad row of a manifest.
type ManifestError struct {
	Problems []Problem
}

func (e *ManifestError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the manifest has %d problem(s); nothing was created:", len(e.Problems))
	for i, p := range e.Problems {
		if i == maxProblemsShown {
			fmt.Fprintf(&b, "\n  ... and %d more (fix these and run again to see them)", len(e.Problems)-maxProblemsShown)
			break
		}
		if p.Line > 0 {
			fmt.Fprintf(&b, "\n  line %d: %s", p.Line, p.Msg)
		} else {
			fmt.Fprintf(&b, "\n  %s", p.Msg)
		}
	}
	return b.String()
}

// ExitCode implements exitcode.Coder.
func (e *ManifestError) ExitCode() int { return exitcode.Usage }

// ParseManifest reads a CSV manifest with a header row (user, and
// optionally from_address, identity_arn, tags, group; multiple values
// separated by ";"), or a plain list of user names, one a line. Blank lines
// and lines starting with # are skipped. It checks every row (IAM's name
// rules, duplicates, columns, tags) and reports all problems at once.
func ParseManifest(r io.Reader) ([]Sender, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, errNoSenders
	}
	var senders []Sender
	var problems []Problem
	if isHeader(lines[0].text) {
		senders, problems = parseCSV(lines)
		if len(lines) == 1 { // a header alone is as empty as an empty file
			problems = append(problems, errNoSenders.Problems...)
		}
	} else {
		for _, l := range lines {
			senders = append(senders, Sender{Line: l.n, User: strings.TrimSpace(l.text)})
		}
	}
	if len(senders) > MaxSenders {
		return nil, tooBig(fmt.Sprintf("lists %d senders, more than %d", len(senders), MaxSenders))
	}
	problems = append(problems, checkSenders(senders)...)
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
		return nil, &ManifestError{Problems: problems}
	}
	return senders, nil
}

var errNoSenders = &ManifestError{Problems: []Problem{{Msg: "the manifest lists no senders"}}}

type line struct {
	n    int
	text string
}

// readLines returns the non-blank, non-comment lines with their numbers.
func readLines(r io.Reader) ([]line, error) {
	limited := &io.LimitedReader{R: r, N: MaxManifestBytes + 1}
	sc := bufio.NewScanner(limited)
	sc.Buffer(make([]byte, 4096), MaxLineLen)
	var out []line
	n := 0
	for sc.Scan() {
		if limited.N <= 0 {
			return nil, tooBig(fmt.Sprintf("is larger than %d MiB", MaxManifestBytes>>20))
		}
		if len(out) > MaxSenders { // the header may be one of them
			return nil, tooBig(fmt.Sprintf("lists more than %d senders", MaxSenders))
		}
		n++
		t := strings.TrimRight(sc.Text(), "\r")
		if n == 1 {
			t = strings.TrimPrefix(t, "\ufeff")
		}
		if s := strings.TrimSpace(t); s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		out = append(out, line{n, t})
	}
	if limited.N <= 0 {
		return nil, tooBig(fmt.Sprintf("is larger than %d MiB", MaxManifestBytes>>20))
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, &ManifestError{Problems: []Problem{{Line: n + 1, Msg: fmt.Sprintf("line is longer than %d bytes", MaxLineLen)}}}
	}
	return out, sc.Err()
}

// tooBig reports a manifest beyond the bounds.
func tooBig(what string) error {
	return &ManifestError{Problems: []Problem{{Msg: fmt.Sprintf("the manifest %s; a manifest holds at most %d senders (IAM's default quota of users per account) in %d MiB: split it",
		what, MaxSenders, MaxManifestBytes>>20)}}}
}

// isHeader reports whether the first line is a CSV header naming "user".
func isHeader(first string) bool {
	for _, f := range strings.Split(first, ",") {
		if strings.EqualFold(strings.TrimSpace(f), ColUser) {
			return true
		}
	}
	return false
}

func parseCSV(lines []line) ([]Sender, []Problem) {
	var problems []Problem
	header := splitCSV(lines[0].text)
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(knownColumns, h) {
			problems = append(problems, Problem{lines[0].n, fmt.Sprintf("unknown column %q (columns: %s)", h, strings.Join(knownColumns, ", "))})
			continue
		}
		if _, dup := col[h]; dup {
			problems = append(problems, Problem{lines[0].n, fmt.Sprintf("column %q appears twice", h)})
		}
		col[h] = i
	}
	var senders []Sender
	for _, l := range lines[1:] {
		fields := splitCSV(l.text)
		if fields == nil {
			problems = append(problems, Problem{l.n, "not valid CSV (check the quotes)"})
			continue
		}
		if len(fields) != len(header) {
			problems = append(problems, Problem{l.n, fmt.Sprintf("%d fields; the header has %d", len(fields), len(header))})
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(fields[i])
			}
			return ""
		}
		s := Sender{Line: l.n, User: get(ColUser), FromAddresses: splitList(get(ColFromAddress)),
			IdentityARNs: splitList(get(ColIdentityARN)), Group: get(ColGroup)}
		for _, kv := range splitList(get(ColTags)) {
			t, err := provision.ParseTag(kv)
			if err != nil {
				problems = append(problems, Problem{l.n, err.Error()})
				continue
			}
			s.Tags = append(s.Tags, t)
		}
		senders = append(senders, s)
	}
	return senders, problems
}

// splitCSV parses one CSV line; nil if it is not valid CSV.
func splitCSV(s string) []string {
	r := csv.NewReader(strings.NewReader(s))
	r.FieldsPerRecord = -1
	fields, err := r.Read()
	if err != nil {
		return nil
	}
	return fields
}

// splitList splits "a;b;c", dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ";") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// checkSenders applies IAM's name rules and finds duplicates.
func checkSenders(senders []Sender) []Problem {
	var problems []Problem
	seen := map[string]int{}
	for _, s := range senders {
		if err := provision.CheckName("user name", s.User, provision.MaxUserNameLen); err != nil {
			problems = append(problems, Problem{s.Line, err.Error()})
			continue
		}
		if first, dup := seen[strings.ToLower(s.User)]; dup {
			problems = append(problems, Problem{s.Line, fmt.Sprintf("user %q is also on line %d (IAM names are case-insensitive)", s.User, first)})
			continue
		}
		seen[strings.ToLower(s.User)] = s.Line
		if s.Group != "" {
			if err := provision.CheckName("group name", s.Group, provision.MaxGroupNameLen); err != nil {
				problems = append(problems, Problem{s.Line, err.Error()})
			}
		}
		if err := provision.CheckTags(s.Tags); err != nil {
			problems = append(problems, Problem{s.Line, err.Error()})
		}
		if _, err := policy.Sender(policy.SenderOptions{FromAddresses: s.FromAddresses, IdentityARNs: s.IdentityARNs}); err != nil {
			problems = append(problems, Problem{s.Line, err.Error()})
		}
	}
	return problems
}
