package iamtest

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

// policyOperations are the managed-policy and permissions-boundary
// actions; ops.go adds them to operations.
var policyOperations = map[string]operation{
	"CreatePolicy": createPolicy, "GetPolicy": policyOp(getPolicy), "DeletePolicy": policyOp(deletePolicy),
	"ListPolicies":        listPolicies,
	"CreatePolicyVersion": policyOp(createPolicyVersion), "GetPolicyVersion": policyOp(getPolicyVersion),
	"ListPolicyVersions": policyOp(listPolicyVersions), "DeletePolicyVersion": policyOp(deletePolicyVersion),
	"SetDefaultPolicyVersion":       policyOp(setDefaultPolicyVersion),
	"PutUserPermissionsBoundary":    userOp(putUserPermissionsBoundary),
	"DeleteUserPermissionsBoundary": userOp(deleteUserPermissionsBoundary),
	"AttachGroupPolicy":             groupOp(attachGroupPolicy), "DetachGroupPolicy": groupOp(detachGroupPolicy),
	"ListAttachedGroupPolicies": groupOp(listAttachedGroupPolicies),
	"SimulatePrincipalPolicy":   simulatePrincipalPolicy,
}

// IAM and AWS STS quotas ("IAM and AWS STS quotas, name requirements, and
// character limits"): a managed policy holds at most 6,144 characters,
// white space not counted, and five versions; a user or group has at most
// ten managed policies attached.
const (
	maxManagedPolicyChars    = 6144
	maxPolicyVersions        = 5
	maxAttachedPerUserGroup  = 10
	maxPolicyDescriptionSize = 1000
)

var policyVersionPattern = regexp.MustCompile(`^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$`)

// policyOp adapts an operation on the managed policy named by PolicyArn:
// an ARN that is not a policy ARN is InvalidInput, an unknown policy
// NoSuchEntity ("Policy ARN was not found.", as GetPolicy answers).
func policyOp(f func(st *state, p *ManagedPolicy, req *request) (any, *apiError)) operation {
	return func(st *state, req *request) (any, *apiError) {
		arn := req.form.Get("PolicyArn")
		if !policyARNPattern.MatchString(arn) {
			return nil, errInvalidInput("ARN %s is not valid.", arn)
		}
		p := st.managedPolicy(arn)
		if p == nil {
			return nil, errNoSuchEntity("Policy %s was not found.", arn)
		}
		return f(st, p, req)
	}
}

// attachablePolicy returns the policy an Attach* call or a permissions
// boundary names. IAM's messages: "Policy ARN does not exist or is not
// attachable." for Attach*, "Scope ARN: ARN does not exist or is not
// attachable." for a boundary (seen as CreateUser's NoSuchEntity in
// hashicorp/boundary#4255).
func attachablePolicy(st *state, arn, prefix string) (*ManagedPolicy, *apiError) {
	if !policyARNPattern.MatchString(arn) {
		return nil, errInvalidInput("ARN %s is not valid.", arn)
	}
	p := st.managedPolicy(arn)
	if p == nil {
		return nil, errNoSuchEntity("%s%s does not exist or is not attachable.", prefix, arn)
	}
	return p, nil
}

// checkManagedDocument validates a managed policy document: IAM's grammar
// (MalformedPolicyDocument) and the 6,144-character quota (LimitExceeded).
func checkManagedDocument(doc string) *apiError {
	if doc == "" {
		return errValidation("1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
	}
	size, aerr := checkPolicy(doc)
	if aerr != nil {
		return aerr
	}
	if _, err := iampolicy.Parse(doc); err != nil {
		return errMalformedPolicy("%s", strings.TrimPrefix(err.Error(), iampolicy.ErrMalformed.Error()+": "))
	}
	if size > maxManagedPolicyChars {
		return errLimitExceeded("Cannot exceed quota for PolicySize: %d", maxManagedPolicyChars)
	}
	return nil
}

type policyXML struct {
	PolicyName                    string           `xml:"PolicyName"`
	PolicyID                      string           `xml:"PolicyId"`
	Arn                           string           `xml:"Arn"`
	Path                          string           `xml:"Path"`
	DefaultVersionID              string           `xml:"DefaultVersionId"`
	AttachmentCount               int              `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int              `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool             `xml:"IsAttachable"`
	Description                   string           `xml:"Description,omitempty"`
	CreateDate                    string           `xml:"CreateDate"`
	UpdateDate                    string           `xml:"UpdateDate"`
	Tags                          *members[tagXML] `xml:"Tags,omitempty"`
}

// toPolicyXML describes p; full adds the description and tags, which
// ListPolicies leaves out (ListPolicies API reference).
func toPolicyXML(st *state, p *ManagedPolicy, full bool) policyXML {
	x := policyXML{PolicyName: p.Name, PolicyID: p.ID, Arn: p.ARN, Path: p.Path, DefaultVersionID: p.DefaultVersionID,
		AttachmentCount: st.attachmentCount(p.ARN), PermissionsBoundaryUsageCount: st.boundaryUsageCount(p.ARN),
		IsAttachable: true, CreateDate: isoTime(p.Created), UpdateDate: isoTime(p.Updated)}
	if full {
		x.Description = p.Description
		if len(p.Tags) > 0 {
			x.Tags = &members[tagXML]{Member: tagsXML(p.Tags)}
		}
	}
	return x
}

type policyResult struct {
	Policy policyXML `xml:"Policy"`
}

// createPolicy creates a customer managed policy with version v1 as its
// default (CreatePolicy API reference).
func createPolicy(st *state, req *request) (any, *apiError) {
	name, path, doc := req.form.Get("PolicyName"), req.form.Get("Path"), req.form.Get("PolicyDocument")
	if aerr := checkName("PolicyName", name, 128); aerr != nil {
		return nil, aerr
	}
	if path == "" {
		path = "/"
	}
	if aerr := checkPath(path); aerr != nil {
		return nil, aerr
	}
	if len(req.form.Get("Description")) > maxPolicyDescriptionSize {
		return nil, errValidation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxPolicyDescriptionSize)
	}
	tags, aerr := parseTags(req.form)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkManagedDocument(doc); aerr != nil {
		return nil, aerr
	}
	for _, p := range st.policies {
		if !p.AWSManaged && strings.EqualFold(p.Name, name) {
			return nil, errAlreadyExists("A policy called %s already exists. Duplicate names are not allowed.", name)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	p := &ManagedPolicy{ARN: policyARN(st.account, path, name), Name: name, ID: newPolicyID(), Path: path,
		Description: req.form.Get("Description"), Created: now, DefaultVersionID: "v1", Tags: tags}
	p.addVersion(doc, now)
	st.policies[p.ARN] = p
	return policyResult{toPolicyXML(st, p, true)}, nil
}

func getPolicy(st *state, p *ManagedPolicy, req *request) (any, *apiError) {
	return policyResult{toPolicyXML(st, p, true)}, nil
}

// errAWSManaged refuses changes to AWS managed policies, which belong to
// AWS, not to the account.
func errAWSManaged(p *ManagedPolicy) *apiError {
	return &apiError{Status: 403, Type: "Sender", Code: "AccessDenied",
		Message: "Policy " + p.ARN + " is an AWS managed policy; it cannot be changed or deleted."}
}

// deletePolicy follows the DeletePolicy API reference: the policy must be
// detached from every user and group (and, as the console says, from every
// entity whose permissions boundary it is) and hold only its default
// version. Messages as IAM writes them (serverless/components#312,
// rebuy-de/aws-nuke#1).
func deletePolicy(st *state, p *ManagedPolicy, req *request) (any, *apiError) {
	if p.AWSManaged {
		return nil, errAWSManaged(p)
	}
	if st.attachmentCount(p.ARN) > 0 || st.boundaryUsageCount(p.ARN) > 0 {
		return nil, errDeleteConflict("Cannot delete a policy attached to entities.")
	}
	if len(p.Versions) > 1 {
		return nil, errDeleteConflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
	}
	delete(st.policies, p.ARN)
	return nil, nil
}

type listPoliciesResult struct {
	Policies    members[policyXML] `xml:"Policies"`
	IsTruncated bool               `xml:"IsTruncated"`
	Marker      string             `xml:"Marker,omitempty"`
}

// listPolicies filters by Scope (All, AWS, Local), OnlyAttached and
// PathPrefix (ListPolicies API reference).
func listPolicies(st *state, req *request) (any, *apiError) {
	scope := req.form.Get("Scope")
	if scope == "" {
		scope = "All"
	}
	if scope != "All" && scope != "AWS" && scope != "Local" {
		return nil, errValidation("1 validation error detected: Value '%s' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]", scope)
	}
	prefix := req.form.Get("PathPrefix")
	if prefix == "" {
		prefix = "/"
	}
	onlyAttached := req.form.Get("OnlyAttached") == "true"
	var all []*ManagedPolicy
	for _, arn := range sortedPolicyARNs(st) {
		p := st.policies[arn]
		if scope == "AWS" && !p.AWSManaged || scope == "Local" && p.AWSManaged || !strings.HasPrefix(p.Path, prefix) ||
			onlyAttached && st.attachmentCount(arn) == 0 {
			continue
		}
		all = append(all, p)
	}
	start, end, next, aerr := page(req.form, len(all))
	if aerr != nil {
		return nil, aerr
	}
	res := listPoliciesResult{IsTruncated: next != "", Marker: next}
	for _, p := range all[start:end] {
		res.Policies.Member = append(res.Policies.Member, toPolicyXML(st, p, false))
	}
	return res, nil
}

func sortedPolicyARNs(st *state) []string {
	arns := make([]string, 0, len(st.policies))
	for arn := range st.policies {
		arns = append(arns, arn)
	}
	slices.Sort(arns)
	return arns
}

type policyVersionXML struct {
	Document         string `xml:"Document,omitempty"`
	VersionID        string `xml:"VersionId"`
	IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	CreateDate       string `xml:"CreateDate"`
}

func toVersionXML(p *ManagedPolicy, v PolicyVersion, withDocument bool) policyVersionXML {
	x := policyVersionXML{VersionID: v.ID, IsDefaultVersion: v.ID == p.DefaultVersionID, CreateDate: isoTime(v.Created)}
	if withDocument {
		// GetPolicyVersion API reference: documents are returned
		// URL-encoded as RFC 3986 describes.
		x.Document = url.PathEscape(v.Document)
	}
	return x
}

type policyVersionResult struct {
	PolicyVersion policyVersionXML `xml:"PolicyVersion"`
}

// createPolicyVersion adds a version, at most five (CreatePolicyVersion
// API reference; message as IAM writes it, 99designs/iamy#21).
func createPolicyVersion(st *state, p *ManagedPolicy, req *request) (any, *apiError) {
	if p.AWSManaged {
		return nil, errAWSManaged(p)
	}
	doc := req.form.Get("PolicyDocument")
	if aerr := checkManagedDocument(doc); aerr != nil {
		return nil, aerr
	}
	if len(p.Versions) >= maxPolicyVersions {
		return nil, errLimitExceeded("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxPolicyVersions)
	}
	v := p.addVersion(doc, time.Now().UTC().Truncate(time.Second))
	if req.form.Get("SetAsDefault") == "true" {
		p.DefaultVersionID = v.ID
	}
	return policyVersionResult{toVersionXML(p, v, false)}, nil
}

// version returns the version the request's VersionId names.
func version(p *ManagedPolicy, req *request) (int, *apiError) {
	id := req.form.Get("VersionId")
	if !policyVersionPattern.MatchString(id) {
		return -1, errValidation("1 validation error detected: Value '%s' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?", id)
	}
	i := p.versionIndex(id)
	if i < 0 {
		return -1, errNoSuchEntity("Policy %s version %s does not exist or is not attachable.", p.ARN, id)
	}
	return i, nil
}

func getPolicyVersion(st *state, p *ManagedPolicy, req *request) (any, *apiError) {
	i, aerr := version(p, req)
	if aerr != nil {
		return nil, aerr
	}
	return policyVersionResult{toVersionXML(p, p.Versions[i], true)}, nil
}

type policyVersionsResult struct {
	Versions    members[policyVersionXML] `xml:"Versions"`
	IsTruncated bool                      `xml:"IsTruncated"`
	Marker      string                    `xml:"Marker,omitempty"`
}

func listPolicyVersions(st *state, p *ManagedPolicy, req *request) (any, *apiError) {
	start, end, next, aerr := page(req.form, len(p.Versions))
	if aerr != nil {
		return nil, aerr
	}
	res := policyVersionsResult{IsTruncated: next != "", Marker: next}
	newestFirst := slices.Clone(p.Versions)
	slices.Reverse(newestFirst)
	for _, v := range newestFirst[start:end] {
		res.Versions.Member = append(res.Versions.Member, toVersionXML(p, v, false))
	}
	return res, nil
}

// deletePolicyVersion refuses the default version (DeletePolicyVersion API
// reference; "Cannot delete the default version of a policy.",
// redradrat/aws-iam-operator#13).
func deletePolicyVersion(st *state, p *ManagedPolicy, req *request) (any, *apiError) {
	if p.AWSManaged {
		return nil, errAWSManaged(p)
	}
	i, aerr := version(p, req)
	if aerr != nil {
		return nil, aerr
	}
	if p.Versions[i].ID == p.DefaultVersionID {
		return nil, errDeleteConflict("Cannot delete the default version of a policy.")
	}
	p.Versions = slices.Delete(p.Versions, i, i+1)
	return nil, nil
}

func setDefaultPolicyVersion(st *state, p *ManagedPolicy, req *request) (any, *apiError) {
	if p.AWSManaged {
		return nil, errAWSManaged(p)
	}
	i, aerr := version(p, req)
	if aerr != nil {
		return nil, aerr
	}
	p.DefaultVersionID = p.Versions[i].ID
	p.Updated = time.Now().UTC().Truncate(time.Second)
	return nil, nil
}

// putUserPermissionsBoundary sets a boundary that must exist.
func putUserPermissionsBoundary(st *state, u *User, req *request) (any, *apiError) {
	p, aerr := attachablePolicy(st, req.form.Get("PermissionsBoundary"), "Scope ARN: ")
	if aerr != nil {
		return nil, aerr
	}
	u.PermissionsBoundary = p.ARN
	return nil, nil
}

func deleteUserPermissionsBoundary(st *state, u *User, req *request) (any, *apiError) {
	u.PermissionsBoundary = ""
	return nil, nil
}

// checkBoundary is CreateUser's check of its PermissionsBoundary: a policy
// ARN ("ARN x is not valid.") that exists (NoSuchEntity).
func checkBoundary(st *state, arn string) *apiError {
	if arn == "" {
		return nil
	}
	_, aerr := attachablePolicy(st, arn, "Scope ARN: ")
	return aerr
}
