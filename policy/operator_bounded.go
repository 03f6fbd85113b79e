package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The tags sesmtp puts on every user it creates (package provision writes
// them; the bounded operator policy's conditions name them).
const (
	// ManagedByTag marks users sesmtp created, with ManagedByValue.
	ManagedByTag = "sesmtp:managed-by"
	// ManagedByValue is ManagedByTag's value.
	ManagedByValue = "sesmtp"
	// OwnTagKeys matches the keys of sesmtp's own tags (sesmtp:managed-by,
	// sesmtp:run-id, and later ones such as sesmtp:retire).
	OwnTagKeys = "sesmtp:*"
)

// BoundedOptions describe the bounded operator policy.
type BoundedOptions struct {
	// BoundaryARN is the customer managed policy every user the operator
	// creates must carry as its permissions boundary (sesmtp setup makes
	// it; see Boundary).
	BoundaryARN string
	// UserPath is the IAM path the operator's users live under
	// (default DefaultUserPath). No user without the boundary may live
	// there: the policy trusts the path.
	UserPath string
	// Group, if set, is the sending group (SES sending only, made by
	// sesmtp setup) the operator may add users to and remove them from.
	Group string
	// TagKeys are tag keys, besides sesmtp's own, that the operator may put
	// on the users it creates (create --tag KEY=VALUE). Each is a key an
	// operator could then set to any value: keep out keys that other
	// policies of the account trust (ABAC on aws:PrincipalTag).
	TagKeys []string
}

// operatorScope is BoundedOptions checked and resolved into ARNs.
type operatorScope struct {
	boundary PolicyARN
	users    string // arn:...:user/PATH*
	mfa      string // arn:...:mfa/PATH*
	groups   []string
	tagKeys  []string // sesmtp:* and the allowed extra keys
}

var tagKeyPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)

func (o BoundedOptions) scope() (operatorScope, error) {
	var s operatorScope
	b, err := ParsePolicyARN(o.BoundaryARN)
	if err != nil {
		return s, fmt.Errorf("--boundary-arn: %w", err)
	}
	if err := CheckLiteralPath("--boundary-arn path", b.Path); err != nil {
		return s, err
	}
	path := o.UserPath
	if path == "" {
		path = DefaultUserPath
	}
	if err := CheckPath(path); err != nil {
		return s, fmt.Errorf("--user-path: %w", err)
	}
	if err := CheckLiteralPath("--user-path", path); err != nil {
		return s, err
	}
	if path == "/" {
		return s, errors.New("--user-path /: the bounded policy trusts every user under its path to carry the boundary, " +
			"and / holds every user of the account; give sesmtp's users a path of their own, e.g. " + DefaultUserPath)
	}
	s.boundary = b
	s.users = b.arn("user/" + trimSlashes(path) + "*")
	s.mfa = b.arn("mfa/" + trimSlashes(path) + "*")
	if o.Group != "" {
		if err := CheckName("group name", o.Group, 128); err != nil {
			return s, fmt.Errorf("--group: %w", err)
		}
		// A group's ARN holds its path; its name is unique in the account
		// whatever the path, so these two match that one group only.
		s.groups = []string{b.arn("group/" + o.Group), b.arn("group/*/" + o.Group)}
	}
	s.tagKeys = []string{OwnTagKeys}
	for _, k := range o.TagKeys {
		lower := strings.ToLower(k)
		switch {
		case !tagKeyPattern.MatchString(k):
			return s, fmt.Errorf("tag key %q: IAM allows 1-128 letters, digits, spaces and _ . : / = + - @", k)
		case strings.HasPrefix(lower, "aws:") || strings.HasPrefix(lower, "sesmtp:"):
			return s, fmt.Errorf("tag key %q: the aws: and sesmtp: prefixes are reserved", k)
		}
		if !slices.Contains(s.tagKeys, k) {
			s.tagKeys = append(s.tagKeys, k)
		}
	}
	return s, nil
}

// boundedReads are the read-only actions sesmtp calls: every Get and List
// of the broad policy, and SimulatePrincipalPolicy (verify
// --check-permission, whose user may be a console-made one outside the
// path), on every resource. Reads grant nothing, and the simulation
// discloses no more than GetUserPolicy and GetPolicyVersion on * do.
func boundedReads() []string {
	var reads []string
	for _, a := range OperatorActions() {
		if strings.HasPrefix(a, "iam:Get") || strings.HasPrefix(a, "iam:List") || a == "iam:SimulatePrincipalPolicy" {
			reads = append(reads, a)
		}
	}
	return reads
}

// Actions of the bounded policy's write statements, by what they need.
var (
	// withinBoundary: actions whose request context carries the target
	// user's boundary as iam:PermissionsBoundary (Service Authorization
	// Reference); AttachUserPolicy is left out: sesmtp never attaches
	// managed policies.
	withinBoundary = []string{"iam:PutUserPolicy", "iam:DeleteUserPolicy", "iam:DetachUserPolicy"}
	// onOwnUsers: actions without that key, allowed on users under the
	// path that carry sesmtp's tag.
	onOwnUsers = []string{
		"iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:DeleteUser",
		"iam:DeleteLoginProfile", "iam:DeleteSigningCertificate", "iam:DeleteSSHPublicKey",
		"iam:DeleteServiceSpecificCredential", "iam:DeactivateMFADevice",
	}
	// boundaryPolicyChanges would change what the boundary allows.
	boundaryPolicyChanges = []string{"iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"}
)

// OperatorWithBoundary returns the operator policy of AWS's permissions
// boundary delegation ("Permissions boundaries for IAM entities",
// delegating responsibility to others): whoever holds it can run every
// sesmtp command, but every user it creates or changes carries the
// boundary, so it can hand out SES sending and nothing more, itself
// included. See docs/security.md for each statement's reason and what the
// policy cannot prevent.
func OperatorWithBoundary(o BoundedOptions) (Document, error) {
	s, err := o.scope()
	if err != nil {
		return Document{}, err
	}
	statements := []Statement{
		{Sid: "SesmtpRead", Effect: "Allow", Action: Strings(boundedReads()), Resource: Strings{"*"}},
		s.createUsers(), s.tagOnCreate(), s.editOwnTags(),
		{Sid: "SesmtpPoliciesWithinBoundary", Effect: "Allow", Action: Strings(withinBoundary), Resource: Strings{s.users},
			Condition: Condition{"StringEquals": {"iam:PermissionsBoundary": {s.boundary.ARN}}}},
		{Sid: "SesmtpManageOwnUsers", Effect: "Allow", Action: Strings(onOwnUsers), Resource: Strings{s.users},
			Condition: Condition{"StringEquals": {"aws:ResourceTag/" + ManagedByTag: {ManagedByValue}}}},
		{Sid: "SesmtpOwnVirtualMFADevices", Effect: "Allow", Action: Strings{"iam:DeleteVirtualMFADevice"}, Resource: Strings{s.mfa}},
	}
	if len(s.groups) > 0 {
		statements = append(statements, Statement{Sid: "SesmtpSendingGroupMembership", Effect: "Allow",
			Action: Strings{"iam:AddUserToGroup", "iam:RemoveUserFromGroup"}, Resource: Strings(s.groups)})
	}
	statements = append(statements, s.denies()...)
	return Document{Version: Version, Statement: statements}, nil
}

// createUsers allows CreateUser only under the path, with the boundary and
// sesmtp's tag, and only the allowed tag keys.
func (s operatorScope) createUsers() Statement {
	return Statement{Sid: "SesmtpCreateUsersWithBoundary", Effect: "Allow", Action: Strings{"iam:CreateUser"}, Resource: Strings{s.users},
		Condition: Condition{
			"StringEquals":            {"iam:PermissionsBoundary": {s.boundary.ARN}, "aws:RequestTag/" + ManagedByTag: {ManagedByValue}},
			"ForAllValues:StringLike": {"aws:TagKeys": Strings(s.tagKeys)},
		}}
}

// tagOnCreate allows the iam:TagUser that a CreateUser with tags is also
// authorized as; its request context holds only the request's tags (no
// iam:PermissionsBoundary), so it is bound by the same tag terms.
func (s operatorScope) tagOnCreate() Statement {
	return Statement{Sid: "SesmtpTagOnCreate", Effect: "Allow", Action: Strings{"iam:TagUser"}, Resource: Strings{s.users},
		Condition: Condition{
			"StringEquals":            {"aws:RequestTag/" + ManagedByTag: {ManagedByValue}},
			"ForAllValues:StringLike": {"aws:TagKeys": Strings(s.tagKeys)},
		}}
}

// editOwnTags allows sesmtp to change its own sesmtp:* tags on users it
// manages (e.g. a sesmtp:retire marker of a two-phase rotation).
func (s operatorScope) editOwnTags() Statement {
	return Statement{Sid: "SesmtpEditOwnTags", Effect: "Allow", Action: Strings{"iam:TagUser", "iam:UntagUser"}, Resource: Strings{s.users},
		Condition: Condition{
			"StringEquals":            {"aws:ResourceTag/" + ManagedByTag: {ManagedByValue}},
			"ForAllValues:StringLike": {"aws:TagKeys": {OwnTagKeys}},
		}}
}

// denies hold even if the operator holds other policies that would allow
// these: nobody holding this policy removes or replaces a boundary or
// changes the boundary policy.
func (s operatorScope) denies() []Statement {
	return []Statement{
		{Sid: "DenyBoundaryRemoval", Effect: "Deny", Action: Strings{"iam:DeleteUserPermissionsBoundary"}, Resource: Strings{"*"}},
		{Sid: "DenyOtherBoundaries", Effect: "Deny", Action: Strings{"iam:PutUserPermissionsBoundary"}, Resource: Strings{"*"},
			Condition: Condition{"StringNotEquals": {"iam:PermissionsBoundary": {s.boundary.ARN}}}},
		{Sid: "DenyBoundaryPolicyChanges", Effect: "Deny", Action: Strings(boundaryPolicyChanges), Resource: Strings{s.boundary.ARN}},
	}
}
