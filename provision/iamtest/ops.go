package iamtest

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

type operation func(st *state, req *request) (any, *apiError)

// operations are the IAM actions the server implements.
var operations map[string]operation

func init() {
	operations = map[string]operation{
		"ListUsers": listUsers, "GetUser": getUser, "CreateUser": createUser, "DeleteUser": userOp(deleteUser),
		"TagUser": userOp(tagUser), "UntagUser": userOp(untagUser), "ListUserTags": userOp(listUserTags),
		"PutUserPolicy": userOp(putUserPolicy), "GetUserPolicy": userOp(getUserPolicy),
		"ListUserPolicies": userOp(listUserPolicies), "DeleteUserPolicy": userOp(deleteUserPolicy),
		"ListAttachedUserPolicies": userOp(listAttachedUserPolicies),
		"AttachUserPolicy":         userOp(attachUserPolicy), "DetachUserPolicy": userOp(detachUserPolicy),
		"CreateGroup": createGroup, "GetGroup": getGroup, "DeleteGroup": deleteGroup, "ListGroups": listGroups,
		"PutGroupPolicy": putGroupPolicy, "GetGroupPolicy": getGroupPolicy,
		"ListGroupPolicies": listGroupPolicies, "DeleteGroupPolicy": deleteGroupPolicy,
		"AddUserToGroup": addUserToGroup, "RemoveUserFromGroup": removeUserFromGroup,
		"ListGroupsForUser": userOp(listGroupsForUser),
		"GetLoginProfile":   userOp(getLoginProfile), "DeleteLoginProfile": userOp(deleteLoginProfile),
		"CreateAccessKey": createAccessKey, "ListAccessKeys": listAccessKeys, "CreateLoginProfile": userOp(createLoginProfile),
		"UpdateAccessKey": updateAccessKey, "DeleteAccessKey": deleteAccessKey,
		"GetAccessKeyLastUsed":            getAccessKeyLastUsed,
		"ListSigningCertificates":         userOp(listSigningCertificates),
		"DeleteSigningCertificate":        userOp(deleteSigningCertificate),
		"ListSSHPublicKeys":               userOp(listSSHPublicKeys),
		"DeleteSSHPublicKey":              userOp(deleteSSHPublicKey),
		"ListServiceSpecificCredentials":  userOp(listServiceSpecificCredentials),
		"DeleteServiceSpecificCredential": userOp(deleteServiceSpecificCredential),
		"ListMFADevices":                  userOp(listMFADevices),
		"DeactivateMFADevice":             userOp(deactivateMFADevice),
		"DeleteVirtualMFADevice":          deleteVirtualMFADevice,
	}
	maps.Copy(operations, policyOperations)
}

// userOp adapts an operation on the user the request's UserName names,
// answering NoSuchEntity when there is none.
func userOp(f func(st *state, u *User, req *request) (any, *apiError)) operation {
	return func(st *state, req *request) (any, *apiError) {
		u, aerr := st.user(req.form.Get("UserName"))
		if aerr != nil {
			return nil, aerr
		}
		return f(st, u, req)
	}
}

// Validation rules from the IAM API reference.
var (
	namePattern       = regexp.MustCompile(`^[\w+=,.@-]+$`)
	pathPattern       = regexp.MustCompile(`^/([\x21-\x7E]*/)?$`)
	tagKeyPattern     = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValuePattern   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	policyARNPattern  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[\x21-\x7E]+$`)
	accessKeyIDFormat = regexp.MustCompile(`^[\w]{16,128}$`)
)

const (
	maxUserInlinePolicyChars  = 2048
	maxGroupInlinePolicyChars = 5120
	maxTagsPerUser            = 50
	maxKeysPerUser            = 2
)

func checkName(field, v string, maxLen int) *apiError {
	if v == "" {
		return errValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(field))
	}
	if utf8.RuneCountInString(v) > maxLen { // IAM counts characters, not bytes
		return errValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", v, lowerFirst(field), maxLen)
	}
	if !namePattern.MatchString(v) {
		return errValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", v, lowerFirst(field))
	}
	return nil
}

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }

// checkPath applies the API reference's Path pattern
// ((\u002F)|(\u002F[\u0021-\u007E]+\u002F), at most 512 characters) and
// IAM's own check behind it, which also refuses an empty segment ("//"),
// though the pattern admits one, with the message users report for every
// malformed path (e.g. cfn-lint issue 722, ministryofjustice/cloud-platform
// issue 1829: a path built with an empty variable).
func checkPath(p string) *apiError {
	if len(p) > 512 {
		return errValidation("1 validation error detected: Value '%s' at 'path' failed to satisfy constraint: Member must have length less than or equal to 512", p)
	}
	if !pathPattern.MatchString(p) || strings.Contains(p, "//") {
		return errValidation("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return nil
}

// listMember reads Prefix.member.N.Field values in order.
func listMember(form url.Values, prefix, field string) []string {
	var out []string
	for i := 1; ; i++ {
		k := prefix + ".member." + strconv.Itoa(i)
		if field != "" {
			k += "." + field
		}
		v, ok := form[k]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func parseTags(form url.Values) ([]Tag, *apiError) {
	keys, values := listMember(form, "Tags", "Key"), listMember(form, "Tags", "Value")
	if len(values) < len(keys) {
		return nil, errValidation("every tag needs a value")
	}
	var tags []Tag
	seen := map[string]bool{}
	for i, k := range keys {
		// Lengths are in Unicode characters (IAM API reference, Tag: Key 1-128,
		// Value 0-256 characters; the Tagging guide: "128 Unicode characters").
		if k == "" || utf8.RuneCountInString(k) > 128 || !tagKeyPattern.MatchString(k) {
			return nil, errValidation("1 validation error detected: Value '%s' at 'tags.%d.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+", k, i+1)
		}
		if utf8.RuneCountInString(values[i]) > 256 || !tagValuePattern.MatchString(values[i]) {
			return nil, errValidation("1 validation error detected: Value at 'tags.%d.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*", i+1)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, errInvalidInput("User and system tags cannot start with aws:")
		}
		if seen[strings.ToLower(k)] {
			return nil, errInvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[strings.ToLower(k)] = true
		tags = append(tags, Tag{k, values[i]})
	}
	return tags, nil
}

// page applies Marker and MaxItems to n items; the marker is the index of
// the next item, opaque to clients as IAM's is.
func page(form url.Values, n int) (start, end int, next string, aerr *apiError) {
	maxItems := 100
	if v := form.Get("MaxItems"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 || m > 1000 {
			return 0, 0, "", errValidation("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", v)
		}
		maxItems = m
	}
	if v := form.Get("Marker"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			return 0, 0, "", errValidation("Invalid Marker.")
		}
		if start, err = strconv.Atoi(string(raw)); err != nil || start < 0 || start > n {
			return 0, 0, "", errValidation("Invalid Marker.")
		}
	}
	end = min(start+maxItems, n)
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return start, end, next, nil
}

type listUsersResult struct {
	Users       members[userXML] `xml:"Users"`
	IsTruncated bool             `xml:"IsTruncated"`
	Marker      string           `xml:"Marker,omitempty"`
}

func listUsers(st *state, req *request) (any, *apiError) {
	prefix := req.form.Get("PathPrefix")
	if prefix == "" {
		prefix = "/"
	}
	var all []*User
	for _, u := range st.sortedUsers() {
		if strings.HasPrefix(u.Path, prefix) {
			all = append(all, u)
		}
	}
	start, end, next, aerr := page(req.form, len(all))
	if aerr != nil {
		return nil, aerr
	}
	res := listUsersResult{IsTruncated: next != "", Marker: next}
	for _, u := range all[start:end] {
		res.Users.Member = append(res.Users.Member, toUserXML(u, false))
	}
	return res, nil
}

type userResult struct {
	User userXML `xml:"User"`
}

// namedOrCaller returns the user the request's UserName names or, without
// one, the caller's own user, as IAM does for GetUser and the key actions.
func namedOrCaller(st *state, req *request) (*User, *apiError) {
	name := req.form.Get("UserName")
	if name == "" {
		name = req.caller.UserName
	}
	return st.user(name)
}

func getUser(st *state, req *request) (any, *apiError) {
	u, aerr := namedOrCaller(st, req)
	if aerr != nil {
		return nil, aerr
	}
	return userResult{toUserXML(u, true)}, nil
}

func createUser(st *state, req *request) (any, *apiError) {
	name, path := req.form.Get("UserName"), req.form.Get("Path")
	if aerr := checkName("UserName", name, 64); aerr != nil {
		return nil, aerr
	}
	if path == "" {
		path = "/"
	}
	if aerr := checkPath(path); aerr != nil {
		return nil, aerr
	}
	tags, aerr := parseTags(req.form)
	if aerr != nil {
		return nil, aerr
	}
	if len(tags) > maxTagsPerUser {
		return nil, errLimitExceeded("Cannot exceed quota for TagsPerUser: %d.", maxTagsPerUser)
	}
	boundary := req.form.Get("PermissionsBoundary")
	if aerr := checkBoundary(st, boundary); aerr != nil {
		return nil, aerr
	}
	if _, exists := st.users[strings.ToLower(name)]; exists {
		return nil, errAlreadyExists("User with name %s already exists.", name)
	}
	u := &User{
		Name: name, ID: newUserID(), Path: path, ARN: "arn:aws:iam::" + st.account + ":user" + path + name,
		Created: time.Now().UTC().Truncate(time.Second), Tags: tags, PermissionsBoundary: boundary,
		InlinePolicies: map[string]string{}, AttachedPolicies: map[string]string{},
	}
	st.users[strings.ToLower(name)] = u
	return userResult{toUserXML(u, true)}, nil
}

func deleteUser(st *state, u *User, req *request) (any, *apiError) {
	for _, block := range []struct {
		remains bool
		what    string
	}{
		{len(u.AccessKeys) > 0, "access keys"},
		{len(u.InlinePolicies) > 0, "policies"},
		{len(u.AttachedPolicies) > 0, "policies"},
		{len(u.Groups) > 0, "groups"},
		{u.LoginProfile, "login profile"},
		{len(u.SigningCertificates) > 0, "signing certificates"},
		{len(u.SSHPublicKeys) > 0, "SSH public keys"},
		{len(u.ServiceCredentials) > 0, "service specific credentials"},
		{len(u.MFADevices) > 0, "MFA devices"},
	} {
		if block.remains {
			return nil, errDeleteConflict("Cannot delete entity, must delete %s first.", block.what)
		}
	}
	delete(st.users, strings.ToLower(u.Name))
	return nil, nil
}

type tagsResult struct {
	Tags        members[tagXML] `xml:"Tags"`
	IsTruncated bool            `xml:"IsTruncated"`
}

func tagUser(st *state, u *User, req *request) (any, *apiError) {
	tags, aerr := parseTags(req.form)
	if aerr != nil {
		return nil, aerr
	}
	merged := slices.Clone(u.Tags)
	for _, t := range tags {
		i := slices.IndexFunc(merged, func(x Tag) bool { return strings.EqualFold(x.Key, t.Key) })
		if i >= 0 {
			merged[i] = t
		} else {
			merged = append(merged, t)
		}
	}
	if len(merged) > maxTagsPerUser {
		return nil, errLimitExceeded("Cannot exceed quota for TagsPerUser: %d.", maxTagsPerUser)
	}
	u.Tags = merged
	return nil, nil
}

func untagUser(st *state, u *User, req *request) (any, *apiError) {
	keys := listMember(req.form, "TagKeys", "")
	u.Tags = slices.DeleteFunc(u.Tags, func(t Tag) bool {
		return slices.ContainsFunc(keys, func(k string) bool { return strings.EqualFold(k, t.Key) })
	})
	return nil, nil
}

func listUserTags(st *state, u *User, req *request) (any, *apiError) {
	start, end, _, aerr := page(req.form, len(u.Tags))
	if aerr != nil {
		return nil, aerr
	}
	return tagsResult{Tags: members[tagXML]{Member: tagsXML(u.Tags[start:end])}, IsTruncated: end < len(u.Tags)}, nil
}

// checkPolicy validates a policy document as IAM does (JSON, a Statement,
// a known Version) and returns its size without whitespace.
func checkPolicy(doc string) (int, *apiError) {
	var parsed struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &parsed); err != nil {
		return 0, errMalformedPolicy("Syntax errors in policy.")
	}
	if len(parsed.Statement) == 0 {
		return 0, errMalformedPolicy("Policy document should not specify a principal.") // IAM's message is as unhelpful
	}
	if parsed.Version != "" && parsed.Version != "2012-10-17" && parsed.Version != "2008-10-17" {
		return 0, errMalformedPolicy("The policy failed legacy parsing")
	}
	n := 0
	for _, r := range doc {
		if r != ' ' && r != '\n' && r != '\t' && r != '\r' {
			n++
		}
	}
	return n, nil
}

func putPolicy(policies map[string]string, name, doc string, limit int, owner string) *apiError {
	if aerr := checkName("PolicyName", name, 128); aerr != nil {
		return aerr
	}
	if doc == "" {
		return errValidation("1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
	}
	if aerr := checkPolicyChars(doc); aerr != nil {
		return aerr
	}
	size, aerr := checkPolicy(doc)
	if aerr != nil {
		return aerr
	}
	for other, d := range policies {
		if other != name {
			n, _ := checkPolicy(d)
			size += n
		}
	}
	if size > limit {
		return errLimitExceeded("Maximum policy size of %d bytes exceeded for %s.", limit, owner)
	}
	policies[name] = doc
	return nil
}

func putUserPolicy(st *state, u *User, req *request) (any, *apiError) {
	return nil, putPolicy(u.InlinePolicies, req.form.Get("PolicyName"), req.form.Get("PolicyDocument"), maxUserInlinePolicyChars, "user "+u.Name)
}

type userPolicyResult struct {
	UserName       string `xml:"UserName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func getUserPolicy(st *state, u *User, req *request) (any, *apiError) {
	name := req.form.Get("PolicyName")
	doc, ok := u.InlinePolicies[name]
	if !ok {
		return nil, errNoSuchEntity("The user policy with name %s cannot be found.", name)
	}
	// IAM returns policy documents URL-encoded (RFC 3986).
	return userPolicyResult{u.Name, name, url.PathEscape(doc)}, nil
}

type policyNamesResult struct {
	PolicyNames members[string] `xml:"PolicyNames"`
	IsTruncated bool            `xml:"IsTruncated"`
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func listUserPolicies(st *state, u *User, req *request) (any, *apiError) {
	return policyNamesResult{PolicyNames: members[string]{Member: sortedKeys(u.InlinePolicies)}}, nil
}

func deleteUserPolicy(st *state, u *User, req *request) (any, *apiError) {
	name := req.form.Get("PolicyName")
	if _, ok := u.InlinePolicies[name]; !ok {
		return nil, errNoSuchEntity("The user policy with name %s cannot be found.", name)
	}
	delete(u.InlinePolicies, name)
	return nil, nil
}

type attachedPoliciesResult struct {
	AttachedPolicies members[attachedPolicyXML] `xml:"AttachedPolicies"`
	IsTruncated      bool                       `xml:"IsTruncated"`
}

func listAttachedUserPolicies(st *state, u *User, req *request) (any, *apiError) {
	var res attachedPoliciesResult
	for _, arn := range sortedKeys(u.AttachedPolicies) {
		res.AttachedPolicies.Member = append(res.AttachedPolicies.Member, attachedPolicyXML{u.AttachedPolicies[arn], arn})
	}
	return res, nil
}

// attachUserPolicy attaches an existing managed policy, at most ten per
// user ("IAM and AWS STS quotas").
func attachUserPolicy(st *state, u *User, req *request) (any, *apiError) {
	p, aerr := attachablePolicy(st, req.form.Get("PolicyArn"), "Policy ")
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := u.AttachedPolicies[p.ARN]; !ok && len(u.AttachedPolicies) >= maxAttachedPerUserGroup {
		return nil, errLimitExceeded("Cannot exceed quota for PoliciesPerUser: %d", maxAttachedPerUserGroup)
	}
	u.AttachedPolicies[p.ARN] = p.Name
	return nil, nil
}

func detachUserPolicy(st *state, u *User, req *request) (any, *apiError) {
	arn := req.form.Get("PolicyArn")
	if _, ok := u.AttachedPolicies[arn]; !ok {
		return nil, errNoSuchEntity("Policy %s was not found.", arn)
	}
	delete(u.AttachedPolicies, arn)
	return nil, nil
}
