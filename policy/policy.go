// Package policy holds the IAM policy documents sesmtp writes and prints, as structs.
//
// It builds the IAM policy documents sesmtp uses: the sender
// policy an SMTP user needs, and the operator policy a person or role
// needs to run sesmtp. Documents are structs marshalled with encoding/json.
package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Version is the IAM policy language version every document uses.
const Version = "2012-10-17"

// SendAction is the only action an SES SMTP user needs.
const SendAction = "ses:SendRawEmail"

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Document. Action and Resource marshal as
// a single string when they hold one value, as the IAM console writes them.
// A statement has Action or NotAction, and Resource or NotResource ("IAM
// JSON policy elements": exactly one of each pair).
type Statement struct {
	Sid         string    `json:"Sid,omitempty"`
	Effect      string    `json:"Effect"`
	Action      Strings   `json:"Action,omitempty"`
	NotAction   Strings   `json:"NotAction,omitempty"`
	Resource    Strings   `json:"Resource,omitempty"`
	NotResource Strings   `json:"NotResource,omitempty"`
	Condition   Condition `json:"Condition,omitempty"`
}

// Condition is a statement's Condition block: operator (e.g.
// "StringEquals", "ForAllValues:StringLike") to condition key to values.
// encoding/json writes map keys sorted, so documents are deterministic.
type Condition map[string]map[string]Strings

// Strings is a list of strings that marshals as a bare string when it
// holds exactly one element.
type Strings []string

// MarshalJSON implements json.Marshaler.
func (s Strings) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

// UnmarshalJSON implements json.Unmarshaler, accepting a string or a list,
// whose items may also be JSON booleans or numbers as condition values
// sometimes are ({"Bool": {"aws:SecureTransport": true}}).
func (s *Strings) UnmarshalJSON(data []byte) error {
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		items = []json.RawMessage{data}
	}
	out := make(Strings, 0, len(items))
	for _, item := range items {
		var v any
		if err := json.Unmarshal(item, &v); err != nil {
			return err
		}
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case bool, float64:
			out = append(out, strings.TrimSpace(string(item)))
		default:
			return fmt.Errorf("policy value %s is not a string", item)
		}
	}
	*s = out
	return nil
}

// UnmarshalJSON implements json.Unmarshaler. IAM accepts a Statement that
// is a single object as well as a list ("IAM JSON policy elements:
// Statement"); both read into a list.
func (d *Document) UnmarshalJSON(data []byte) error {
	var raw struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	d.Version, d.Statement = raw.Version, nil
	trimmed := strings.TrimSpace(string(raw.Statement))
	switch {
	case trimmed == "" || trimmed == "null":
		return nil
	case strings.HasPrefix(trimmed, "{"):
		var one Statement
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return err
		}
		d.Statement = []Statement{one}
		return nil
	}
	return json.Unmarshal(raw.Statement, &d.Statement)
}

// SenderOptions narrow the sender policy.
type SenderOptions struct {
	// FromAddresses, if set, restrict sending to these From addresses
	// (a StringLike condition on ses:FromAddress; "*" wildcards allowed).
	FromAddresses []string
	// IdentityARNs, if set, replace the "*" resource with these SES identities.
	IdentityARNs []string
}

// Sender returns the policy an SES SMTP user needs: ses:SendRawEmail,
// narrowed by opts. It is the policy the SES console attaches. Its lists
// are in normal form (Normal): the same addresses and identities in
// another order, or repeated, make the same document.
func Sender(opts SenderOptions) (Document, error) {
	st := Statement{Effect: "Allow", Action: Strings{SendAction}, Resource: Strings{"*"}}
	if len(opts.IdentityARNs) > 0 {
		for _, arn := range opts.IdentityARNs {
			if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":ses:") || !strings.Contains(arn, ":identity/") {
				return Document{}, fmt.Errorf("identity ARN %q is not an SES identity ARN "+
					"(arn:aws:ses:REGION:ACCOUNT:identity/example.com)", arn)
			}
		}
		st.Resource = normalSet(opts.IdentityARNs)
	}
	if len(opts.FromAddresses) > 0 {
		for _, a := range opts.FromAddresses {
			if a == "" || strings.ContainsAny(a, " \t\r\n\"") {
				return Document{}, fmt.Errorf("from address %q is empty or has spaces or quotes", a)
			}
			if !isFromAddress(a) {
				return Document{}, fmt.Errorf("from address %q is not an email address (want noreply@example.com, "+
					"or a pattern with * and ? such as *@example.com)", a)
			}
		}
		st.Condition = Condition{
			"StringLike": {"ses:FromAddress": normalSet(opts.FromAddresses)},
		}
	}
	return Document{Version: Version, Statement: []Statement{st}}, nil
}

// normalSet is values sorted, without repeats.
func normalSet(values []string) Strings {
	out := slices.Clone(values)
	slices.Sort(out)
	return Strings(slices.Compact(out))
}

// Normal returns d with every list IAM reads as a set sorted and without
// repeats: a statement's actions and resources (either element of each
// pair) and each condition key's values. IAM matches any one of a list's
// values ("IAM JSON policy elements: Condition", "Creating a condition
// with multiple keys or values": the values of one key are ORed), so
// order and repeats change nothing it allows; two documents that say the
// same in another order have the same Normal form. Statements keep
// their order.
func (d Document) Normal() Document {
	out := Document{Version: d.Version, Statement: make([]Statement, len(d.Statement))}
	for i, st := range d.Statement {
		st.Action, st.NotAction = normalOrNil(st.Action), normalOrNil(st.NotAction)
		st.Resource, st.NotResource = normalOrNil(st.Resource), normalOrNil(st.NotResource)
		if st.Condition != nil {
			cond := Condition{}
			for op, keys := range st.Condition {
				cond[op] = map[string]Strings{}
				for k, v := range keys {
					cond[op][k] = normalSet(v)
				}
			}
			st.Condition = cond
		}
		out.Statement[i] = st
	}
	return out
}

func normalOrNil(values Strings) Strings {
	if values == nil {
		return nil
	}
	return normalSet(values)
}

// NormalJSON is the compact JSON of the Normal form of the policy
// document doc; doc itself when it is not a policy document.
func NormalJSON(doc string) string {
	var d Document
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return doc
	}
	return d.Normal().JSON()
}

// isFromAddress reports whether a is an address or an address pattern
// for ses:FromAddress (a StringLike key: * and ? are wildcards): one @, a
// local part without the characters RFC 5322 reserves, and a domain of
// dot-separated labels with a dot or a wildcard in it.
func isFromAddress(a string) bool {
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(local, "()<>[]:;@\\,") {
		return false
	}
	for _, r := range local {
		if r < '!' || r > '~' {
			return false
		}
	}
	if !strings.ContainsAny(domain, ".*?") {
		return false
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-*?") != "" {
			return false
		}
	}
	return true
}

// JSON returns d as compact JSON, the form IAM stores.
func (d Document) JSON() string {
	b, err := json.Marshal(d)
	if err != nil {
		// Only strings, maps and slices of strings: cannot fail.
		panic(fmt.Sprintf("marshal policy: %v", err))
	}
	return string(b)
}

// Indented returns d as indented JSON, for people to read.
func (d Document) Indented() string {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("marshal policy: %v", err))
	}
	return string(b) + "\n"
}
