package iamtest

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ManagedPolicy is a snapshot of a managed policy the server holds: a
// customer managed policy (CreatePolicy, Server.PutPolicy) or one of the
// AWS managed policies the server starts with.
type ManagedPolicy struct {
	ARN         string
	Name        string
	ID          string
	Path        string
	Description string
	Created     time.Time
	Updated     time.Time
	// DefaultVersionID is the version in effect, e.g. "v1".
	DefaultVersionID string
	// Versions are oldest first; IAM keeps at most five.
	Versions []PolicyVersion
	Tags     []Tag
	// AWSManaged marks arn:aws:iam::aws:policy/... policies, which no
	// account can change or delete.
	AWSManaged bool

	lastVersion int // IAM never reuses a version number
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID       string // v1, v2, ...
	Document string
	Created  time.Time
}

// DefaultDocument returns the document of the default version.
func (p *ManagedPolicy) DefaultDocument() string {
	if i := p.versionIndex(p.DefaultVersionID); i >= 0 {
		return p.Versions[i].Document
	}
	return ""
}

func (p *ManagedPolicy) versionIndex(id string) int {
	return slices.IndexFunc(p.Versions, func(v PolicyVersion) bool { return v.ID == id })
}

// addVersion appends a new version and returns it.
func (p *ManagedPolicy) addVersion(doc string, now time.Time) PolicyVersion {
	p.lastVersion++
	v := PolicyVersion{ID: "v" + strconv.Itoa(p.lastVersion), Document: doc, Created: now}
	p.Versions = append(p.Versions, v)
	p.Updated = now
	return v
}

func clonePolicy(p *ManagedPolicy) ManagedPolicy {
	c := *p
	c.Versions = slices.Clone(p.Versions)
	c.Tags = slices.Clone(p.Tags)
	return c
}

func newPolicyID() string { return "ANPA" + randomString(upperAlnum, 17) }

func policyARN(account, path, name string) string {
	return "arn:aws:iam::" + account + ":policy" + path + name
}

// awsManagedPolicy describes one AWS managed policy the server starts with.
type awsManagedPolicy struct {
	name, version, description, document string
	created                              string
}

// awsManaged are the AWS managed policies tests attach. Each document has
// the effect of the policy's current default version as the AWS Managed
// Policy Reference publishes it, with that version's id and date (read
// from the iann0036/iam-dataset copy of the reference,
// aws/managedpolicies/<name>.json, 2026).
var awsManaged = []awsManagedPolicy{
	{name: "AdministratorAccess", version: "v1", created: "2015-02-06T18:39:46Z",
		description: "Provides full access to AWS services and resources.",
		document:    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
	{name: "IAMFullAccess", version: "v2", created: "2019-06-21T19:40:00Z",
		description: "Provides full access to IAM via the AWS Management Console.",
		document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount",` +
			`"organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy",` +
			`"organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots",` +
			`"organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}`},
	{name: "AmazonSESFullAccess", version: "v1", created: "2015-02-06T18:41:02Z",
		description: "Provides full access to Amazon SES via the AWS Management Console.",
		document:    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:*"],"Resource":"*"}]}`},
	{name: "PowerUserAccess", version: "v12", created: "2026-02-12T17:59:14Z",
		description: "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
		document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},` +
			`{"Effect":"Allow","Action":["account:GetAccountInformation","account:GetGovCloudAccountInformation","account:GetPrimaryEmail",` +
			`"account:ListRegions","iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles",` +
			`"organizations:DescribeEffectivePolicy","organizations:DescribeOrganization"],"Resource":"*"}]}`},
}

// seedAWSManaged returns the AWS managed policies, keyed by ARN.
func seedAWSManaged() map[string]*ManagedPolicy {
	out := map[string]*ManagedPolicy{}
	for _, m := range awsManaged {
		created, _ := time.Parse(time.RFC3339, m.created)
		n, _ := strconv.Atoi(strings.TrimPrefix(m.version, "v"))
		p := &ManagedPolicy{ARN: "arn:aws:iam::aws:policy/" + m.name, Name: m.name, ID: newPolicyID(), Path: "/",
			Description: m.description, Created: created, Updated: created, DefaultVersionID: m.version,
			Versions:   []PolicyVersion{{ID: m.version, Document: m.document, Created: created}},
			AWSManaged: true, lastVersion: n}
		out[p.ARN] = p
	}
	return out
}

// managedPolicy returns the policy with that ARN, or nil.
func (st *state) managedPolicy(arn string) *ManagedPolicy { return st.policies[arn] }

// attachmentCount counts the users and groups a policy is attached to
// (GetPolicy's AttachmentCount).
func (st *state) attachmentCount(arn string) int {
	n := 0
	for _, u := range st.users {
		if _, ok := u.AttachedPolicies[arn]; ok {
			n++
		}
	}
	for _, g := range st.groups {
		if _, ok := g.AttachedPolicies[arn]; ok {
			n++
		}
	}
	return n
}

// boundaryUsageCount counts the users whose permissions boundary a policy
// is (GetPolicy's PermissionsBoundaryUsageCount).
func (st *state) boundaryUsageCount(arn string) int {
	n := 0
	for _, u := range st.users {
		if u.PermissionsBoundary == arn {
			n++
		}
	}
	return n
}

// Policy returns a snapshot of the managed policy with that ARN.
func (s *Server) Policy(arn string) (ManagedPolicy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.state.managedPolicy(arn)
	if p == nil {
		return ManagedPolicy{}, false
	}
	return clonePolicy(p), true
}

// Policies returns a snapshot of every managed policy, AWS managed ones
// included, sorted by ARN.
func (s *Server) Policies() []ManagedPolicy {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ManagedPolicy
	for _, arn := range slices.Sorted(maps.Keys(s.state.policies)) {
		out = append(out, clonePolicy(s.state.policies[arn]))
	}
	return out
}

// PutPolicy stores a customer managed policy with one version, v1, holding
// document, replacing any policy of that path and name, and returns its
// ARN. It is for set-up: it skips CreatePolicy's validation.
func (s *Server) PutPolicy(path, name, document string) string {
	if path == "" {
		path = "/"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC().Truncate(time.Second)
	p := &ManagedPolicy{ARN: policyARN(s.account, path, name), Name: name, ID: newPolicyID(), Path: path,
		Created: now, DefaultVersionID: "v1"}
	p.addVersion(document, now)
	s.state.policies[p.ARN] = p
	return p.ARN
}
