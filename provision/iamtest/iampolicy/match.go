package iampolicy

import "strings"

// Glob reports whether s matches pattern, where * matches any run of
// characters (slashes and colons included) and ? exactly one. It is
// case-sensitive; callers fold case where IAM does.
func Glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// MatchAction reports whether an Action pattern such as "iam:Create*"
// matches action ("iam:CreateUser"). "IAM JSON policy elements: Action":
// the prefix and the action name are case insensitive.
func MatchAction(pattern, action string) bool {
	return Glob(strings.ToLower(pattern), strings.ToLower(action))
}

// ARNMatch reports whether an ARN pattern matches arn. "IAM JSON policy
// elements: Resource" and the ArnLike operator: "*" alone matches
// everything; otherwise each of the six colon-delimited segments is
// matched separately, case-sensitively, with * and ? wildcards (a * may
// span slashes inside a segment, so user/* matches user/ses/bob).
func ARNMatch(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	ps, as := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(ps) != 6 || len(as) != 6 {
		return false
	}
	for i := range ps {
		if !Glob(ps[i], as[i]) {
			return false
		}
	}
	return true
}

// expandVariables replaces ${key} with the key's single value from ctx and
// the escapes ${*}, ${?} and ${$} with those characters ("IAM policy
// elements: Variables and tags"). It reports false when a variable has no
// single value: the element it appears in then matches nothing.
func expandVariables(s string, ctx Context) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		end := strings.Index(s[start:], "}")
		if end < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:start])
		name := s[start+2 : start+end]
		switch name {
		case "*", "?", "$":
			b.WriteString(name)
		default:
			vals, ok := ctx.Lookup(name)
			if !ok || len(vals) != 1 {
				return "", false
			}
			b.WriteString(vals[0])
		}
		s = s[start+end+1:]
	}
}
