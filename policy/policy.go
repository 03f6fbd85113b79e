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
type Statement struct {
	Sid       string                        `json:"Sid,omitempty"`
	Effect    string                        `json:"Effect"`
	Action    Strings                       `json:"Action"`
	Resource  Strings                       `json:"Resource"`
	Condition map[string]map[string]Strings `json:"Condition,omitempty"`
}

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

// UnmarshalJSON implements json.Unmarshaler, accepting a string or a list.
func (s *Strings) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*s = Strings{one}
		return nil
	}
	return json.Unmarshal(data, (*[]string)(s))
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
// narrowed by opts. It is the policy the SES console attaches.
func Sender(opts SenderOptions) (Document, error) {
	st := Statement{Effect: "Allow", Action: Strings{SendAction}, Resource: Strings{"*"}}
	if len(opts.IdentityARNs) > 0 {
		for _, arn := range opts.IdentityARNs {
			if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":ses:") || !strings.Contains(arn, ":identity/") {
				return Document{}, fmt.Errorf("identity ARN %q is not an SES identity ARN "+
					"(arn:aws:ses:REGION:ACCOUNT:identity/example.com)", arn)
			}
		}
		st.Resource = Strings(slices.Clone(opts.IdentityARNs))
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
		st.Condition = map[string]map[string]Strings{
			"StringLike": {"ses:FromAddress": Strings(slices.Clone(opts.FromAddresses))},
		}
	}
	return Document{Version: Version, Statement: []Statement{st}}, nil
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
