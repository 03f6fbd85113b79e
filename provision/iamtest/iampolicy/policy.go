// Package iampolicy holds iamtest's IAM policy evaluator (pure, no I/O).
//
// It evaluates IAM identity-based policies and permissions
// boundaries the way AWS documents it, for the local IAM endpoint in
// package iamtest. It is pure: no I/O, no clock, no global state.
//
// Sources, cited where each rule is applied:
//   - IAM User Guide, "Policy evaluation logic" and "How AWS enforcement code
//     logic evaluates requests to allow or deny access".
//   - IAM User Guide, "IAM JSON policy elements: Action", "...: Resource",
//     "...: Condition operators", "Conditions with multiple context keys or
//     values", "Single-valued vs. multivalued context keys",
//     "IAM policy elements: Variables and tags".
//   - IAM User Guide, "Permissions boundaries for IAM entities".
//   - IAM User Guide, "AWS JSON policy elements: Principal" and
//     "Cross-account policy evaluation logic", for role trust policies
//     (trust.go).
package iampolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Effect is a statement's Effect: Allow or Deny.
type Effect string

// The two effects IAM knows (case-sensitive, "IAM JSON policy elements: Effect").
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Document is a parsed identity-based policy document.
type Document struct {
	// Version is the policy language version; policy variables are expanded
	// only for 2012-10-17 ("IAM policy elements: Variables and tags").
	Version    string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid    string
	Effect Effect
	// Actions holds the Action (or, with NotAction, the NotAction) patterns.
	Actions   []string
	NotAction bool
	// Resources holds the Resource (or, with NotResource, the NotResource)
	// patterns.
	Resources   []string
	NotResource bool
	// Conditions are ANDed: every one must hold ("Conditions with multiple
	// context keys or values").
	Conditions []Condition
}

// ErrMalformed wraps every reason Parse rejects a document; IAM answers
// MalformedPolicyDocument for these.
var ErrMalformed = errors.New("malformed policy document")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

type jsonRaw = json.RawMessage

type rawDocument struct {
	Version   string          `json:"Version"`
	Statement json.RawMessage `json:"Statement"`
}

type rawStatement struct {
	Sid          string                        `json:"Sid"`
	Effect       string                        `json:"Effect"`
	Action       json.RawMessage               `json:"Action"`
	NotAction    json.RawMessage               `json:"NotAction"`
	Resource     json.RawMessage               `json:"Resource"`
	NotResource  json.RawMessage               `json:"NotResource"`
	Principal    json.RawMessage               `json:"Principal"`
	NotPrincipal json.RawMessage               `json:"NotPrincipal"`
	Condition    map[string]map[string]jsonRaw `json:"Condition"`
}

// Parse parses an identity-based policy document as IAM validates one: a
// JSON object with a Statement (one object or a list), a known Version,
// and in each statement an Effect, exactly one of Action/NotAction and of
// Resource/NotResource, no Principal, and known condition operators.
func Parse(doc string) (*Document, error) {
	var raw rawDocument
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, malformed("Syntax errors in policy.")
	}
	if raw.Version != "" && raw.Version != "2012-10-17" && raw.Version != "2008-10-17" {
		return nil, malformed("The policy failed legacy parsing")
	}
	rawStmts, err := statementList(raw.Statement)
	if err != nil {
		return nil, err
	}
	d := &Document{Version: raw.Version}
	for _, rs := range rawStmts {
		s, err := parseStatement(rs)
		if err != nil {
			return nil, err
		}
		d.Statements = append(d.Statements, s)
	}
	return d, nil
}

// statementList accepts Statement as one object or a non-empty list.
func statementList(raw json.RawMessage) ([]rawStatement, error) {
	trimmed := strings.TrimSpace(string(raw))
	if trimmed == "" || trimmed == "null" {
		return nil, malformed("Missing required field Statement")
	}
	var list []rawStatement
	if strings.HasPrefix(trimmed, "[") {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, malformed("Syntax errors in policy.")
		}
	} else {
		var one rawStatement
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, malformed("Syntax errors in policy.")
		}
		list = []rawStatement{one}
	}
	if len(list) == 0 {
		return nil, malformed("Missing required field Statement")
	}
	return list, nil
}

func parseStatement(rs rawStatement) (Statement, error) {
	s := Statement{Sid: rs.Sid, Effect: Effect(rs.Effect)}
	if s.Effect != Allow && s.Effect != Deny {
		return s, malformed("Invalid effect: %s", rs.Effect)
	}
	if len(rs.Principal) > 0 || len(rs.NotPrincipal) > 0 {
		return s, malformed("Policy document should not specify a principal.")
	}
	var err error
	if s.Actions, s.NotAction, err = oneOf(rs.Action, rs.NotAction, "Action"); err != nil {
		return s, err
	}
	for _, a := range s.Actions {
		if a != "*" && !strings.Contains(a, ":") {
			return s, malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
		}
	}
	if s.Resources, s.NotResource, err = oneOf(rs.Resource, rs.NotResource, "Resource"); err != nil {
		return s, malformed("Policy statement must contain resources.")
	}
	if s.Conditions, err = parseConditions(rs.Condition); err != nil {
		return s, err
	}
	return s, nil
}

// oneOf reads exactly one of an element and its Not form.
func oneOf(pos, neg json.RawMessage, name string) ([]string, bool, error) {
	if (len(pos) > 0) == (len(neg) > 0) {
		return nil, false, malformed("Policy statement must contain exactly one of %s or Not%s.", name, name)
	}
	raw, not := pos, false
	if len(neg) > 0 {
		raw, not = neg, true
	}
	vals, err := stringOrList(raw)
	if err != nil || len(vals) == 0 {
		return nil, false, malformed("Syntax errors in policy.")
	}
	return vals, not, nil
}

// stringOrList reads a JSON string, number, boolean or a list of them as
// strings: condition values such as "Bool": {"aws:SecureTransport": true}
// are written either way.
func stringOrList(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		list = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		var v any
		if err := json.Unmarshal(item, &v); err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case bool:
			out = append(out, strconv.FormatBool(x))
		case float64:
			out = append(out, strings.TrimSpace(string(item)))
		default:
			return nil, fmt.Errorf("unexpected value %s", item)
		}
	}
	return out, nil
}
