package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// Names of the permissions boundary sesmtp setup creates and of the path
// the users of the bounded operator policy live under. The boundary's path
// and the users' path are separate IAM namespaces (policy/... and
// user/...); both are /sesmtp/ so that everything sesmtp owns in an
// account is found under one name.
const (
	// DefaultBoundaryName is the customer managed policy sesmtp setup creates.
	DefaultBoundaryName = "SesmtpSenderBoundary"
	// DefaultBoundaryPath is that policy's IAM path.
	DefaultBoundaryPath = "/sesmtp/"
	// DefaultUserPath is the IAM path of the users a bounded operator
	// creates. It must hold no user without the boundary: the operator
	// policy trusts the path (see docs/security.md).
	DefaultUserPath = "/sesmtp/"
)

// Boundary returns the permissions boundary for SMTP users: a managed
// policy document allowing only SES sending (ses:SendRawEmail), narrowed
// by opts like the sender policy. Whatever policies such a user is given
// later, it can do no more than this ("Permissions boundaries for IAM
// entities": effective permissions are the intersection).
func Boundary(opts SenderOptions) (Document, error) {
	doc, err := Sender(opts)
	if err != nil {
		return Document{}, err
	}
	doc.Statement[0].Sid = "SesSendingOnly"
	return doc, nil
}

// PolicyARN is a parsed customer managed policy ARN:
// arn:PARTITION:iam::ACCOUNT:policy/PATH/NAME.
type PolicyARN struct {
	ARN       string
	Partition string
	Account   string
	// Path is the policy's IAM path, "/" or "/a/b/".
	Path string
	Name string
}

// IAM's grammar for policy ARNs, paths and names (IAM API reference:
// CreatePolicy's Path and PolicyName, and "IAM identifiers").
var (
	policyARNPattern = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::([0-9]{12}|aws):policy(/[\x21-\x7E]*)?/([\w+=,.@-]{1,128})$`)
	pathPattern      = regexp.MustCompile(`^(/|/[\x21-\x7E]+/)$`)
	namePattern      = regexp.MustCompile(`^[\w+=,.@-]+$`)
)

// ParsePolicyARN parses a customer managed policy ARN of this account. An
// AWS managed policy (arn:aws:iam::aws:policy/...) is refused: sesmtp's
// boundary is the account's own policy, which only its admins can change.
func ParsePolicyARN(arn string) (PolicyARN, error) {
	m := policyARNPattern.FindStringSubmatch(arn)
	if m == nil {
		return PolicyARN{}, fmt.Errorf("%q is not an IAM managed policy ARN (arn:aws:iam::ACCOUNT:policy/PATH/NAME, "+
			"e.g. arn:aws:iam::123456789012:policy%s%s)", arn, DefaultBoundaryPath, DefaultBoundaryName)
	}
	if m[2] == "aws" {
		return PolicyARN{}, fmt.Errorf("%q is an AWS managed policy; the boundary must be a customer managed policy "+
			"of your account that allows only SES sending (sesmtp setup creates one)", arn)
	}
	path := m[3] + "/"
	if err := CheckPath(path); err != nil {
		return PolicyARN{}, err
	}
	return PolicyARN{ARN: arn, Partition: m[1], Account: m[2], Path: path, Name: m[4]}, nil
}

// CheckPath reports whether IAM accepts p as a path: "/" or "/a/b/",
// printable ASCII without spaces, at most 512 characters.
func CheckPath(p string) error {
	if len(p) > 512 || !pathPattern.MatchString(p) {
		return fmt.Errorf("the path %q is not an IAM path: it must start and end with / (e.g. %s) and have no spaces", p, DefaultUserPath)
	}
	return nil
}

// CheckName reports whether IAM accepts name for a user, group or policy
// (letters, digits and +=,.@_-, at most maxLen characters).
func CheckName(what, name string, maxLen int) error {
	if name == "" || len(name) > maxLen || !namePattern.MatchString(name) {
		return fmt.Errorf("the %s %q is not a name IAM accepts: 1-%d letters, digits and + = , . @ _ -", what, name, maxLen)
	}
	return nil
}

// arn builds an ARN of the account's IAM resources, e.g.
// arn:aws:iam::123456789012:user/sesmtp/*.
func (p PolicyARN) arn(resource string) string {
	return "arn:" + p.Partition + ":iam::" + p.Account + ":" + resource
}

// trimSlashes turns "/sesmtp/" into "sesmtp/" and "/" into "": the part of
// an ARN between the resource type and the name.
func trimSlashes(path string) string {
	return strings.TrimPrefix(path, "/")
}
