package iamtest

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// State is the IAM state of an endpoint as a test sets it up and checks it.
// On the local Server it is the server's own view; on an external endpoint
// (SESMTP_TEST_IAM_ENDPOINT) every method is made of IAM's own API calls
// (CreateUser, PutUserPolicy, ... GetUser, ListAccessKeys, ...), so a test
// reads the same either way. Get it with Endpoint.State.
//
// An external endpoint's state outlives the test and is shared with whatever
// else uses it: Users, Groups and KeyCount there see only the users and
// groups that came into being after the test started (see Start), and those
// are deleted, with everything they hold, when the test ends. Tests on an
// external endpoint therefore run one at a time (go test -p 1, no
// t.Parallel).
type State interface {
	// PutUser makes u as given (path, tags, boundary, inline and attached
	// policies, groups, access keys, login profile) and returns it as made.
	// On an external endpoint the user and its access keys are made now,
	// with the IDs and secrets IAM issues (the keys in u only say how many,
	// and their Status: a test that needs a key's age or ID is local-only),
	// and the groups must exist; what the test cannot set up there through
	// the API (a key's last use, MFA devices, certificates, SSH keys,
	// service credentials, a boundary the endpoint does not keep) skips the
	// test.
	PutUser(u User) User
	// User returns the named user, or false when there is none.
	User(name string) (User, bool)
	// Users returns every user (external: every user new since the test
	// started), sorted by name.
	Users() []User
	// Group returns the named group, or false when there is none.
	Group(name string) (Group, bool)
	// Groups returns the names of every group (external: every group new
	// since the test started), sorted.
	Groups() []string
	// KeyCount returns how many access keys Users hold together.
	KeyCount() int
	// PutPolicy makes a customer managed policy holding document and
	// returns its ARN.
	PutPolicy(path, name, document string) string
	// Policy returns the managed policy with that ARN, or false when there
	// is none.
	Policy(arn string) (ManagedPolicy, bool)
}

// State returns the endpoint's state for test t (see State).
func (e *Endpoint) State(t testing.TB) State {
	t.Helper()
	if e.Server != nil {
		return localState{e.Server}
	}
	return &remoteState{t: t, ctx: context.Background(), c: e.Client(), before: e.before}
}

// localState is the local Server's own view.
type localState struct{ *Server }

// PutUser stores u, giving an access key without an ID or secret fresh
// ones, so that a test reads the same as on an external endpoint.
func (s localState) PutUser(u User) User {
	u.AccessKeys = slices.Clone(u.AccessKeys)
	for i, k := range u.AccessKeys {
		if k.ID == "" {
			u.AccessKeys[i].ID = newAccessKeyID()
		}
		if k.SecretAccessKey == "" {
			u.AccessKeys[i].SecretAccessKey = newSecret()
		}
		if k.Created.IsZero() {
			u.AccessKeys[i].Created = time.Now().UTC().Truncate(time.Second)
		}
	}
	s.Server.PutUser(u)
	got, _ := s.User(u.Name)
	return got
}

// baseline is what an external endpoint held when a test started.
type baseline struct {
	users, groups, policies map[string]bool
}

// remoteState is State over IAM's API.
type remoteState struct {
	t      testing.TB
	ctx    context.Context
	c      *iam.Client
	before baseline
}

// takeBaseline records what the endpoint holds, and registers the clean-up
// of whatever the test adds to it.
func takeBaseline(t testing.TB, e *Endpoint) {
	t.Helper()
	r := &remoteState{t: t, ctx: context.Background(), c: e.Client()}
	e.before = baseline{users: set(r.userNames()), groups: set(r.groupNames()), policies: set(r.policyARNs())}
	r.before = e.before
	t.Cleanup(r.cleanUp)
}

func set(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[strings.ToLower(n)] = true
	}
	return m
}

// must fails the test on a set-up or read call's error.
func (r *remoteState) must(err error, what string) {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("external IAM endpoint: %s: %v", what, err)
	}
}

func isNoSuchEntity(err error) bool {
	var nse *types.NoSuchEntityException
	return errors.As(err, &nse)
}

// pager is the part of an SDK paginator eachPage calls.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*iam.Options)) (O, error)
}

// eachPage calls f with every page p answers, failing the test (must) on
// a page's error; what names the call.
func eachPage[O any](r *remoteState, p pager[O], what string, f func(O)) {
	r.t.Helper()
	for p.HasMorePages() {
		page, err := p.NextPage(r.ctx)
		r.must(err, what)
		f(page)
	}
}

func (r *remoteState) userNames() []string {
	var names []string
	eachPage(r, iam.NewListUsersPaginator(r.c, &iam.ListUsersInput{}), "ListUsers", func(page *iam.ListUsersOutput) {
		for _, u := range page.Users {
			names = append(names, aws.ToString(u.UserName))
		}
	})
	return names
}

func (r *remoteState) groupNames() []string {
	var names []string
	eachPage(r, iam.NewListGroupsPaginator(r.c, &iam.ListGroupsInput{}), "ListGroups", func(page *iam.ListGroupsOutput) {
		for _, g := range page.Groups {
			names = append(names, aws.ToString(g.GroupName))
		}
	})
	return names
}

func (r *remoteState) policyARNs() []string {
	var arns []string
	p := iam.NewListPoliciesPaginator(r.c, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal})
	eachPage(r, p, "ListPolicies", func(page *iam.ListPoliciesOutput) {
		for _, pol := range page.Policies {
			arns = append(arns, aws.ToString(pol.Arn))
		}
	})
	return arns
}

func (r *remoteState) PutUser(u User) User {
	r.t.Helper()
	if len(u.MFADevices)+len(u.SigningCertificates)+len(u.SSHPublicKeys)+len(u.ServiceCredentials) > 0 {
		r.t.Skipf("sets up MFA devices, certificates, SSH keys or service credentials, which the test cannot give an external IAM endpoint; %s is set", ExternalEndpointEnv)
	}
	for _, k := range u.AccessKeys {
		if !k.LastUsed.IsZero() {
			r.t.Skipf("sets up a key's last use, which the test cannot give an external IAM endpoint; %s is set", ExternalEndpointEnv)
		}
	}
	in := &iam.CreateUserInput{UserName: aws.String(u.Name)}
	if u.Path != "" {
		in.Path = aws.String(u.Path)
	}
	if u.PermissionsBoundary != "" {
		in.PermissionsBoundary = aws.String(u.PermissionsBoundary)
	}
	for _, tg := range u.Tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(tg.Key), Value: aws.String(tg.Value)})
	}
	_, err := r.c.CreateUser(r.ctx, in)
	r.must(err, "CreateUser "+u.Name)
	r.putUserParts(u)
	made, ok := r.User(u.Name)
	if !ok {
		r.t.Fatalf("external IAM endpoint: user %s not found after CreateUser", u.Name)
	}
	if made.PermissionsBoundary != u.PermissionsBoundary {
		// moto 5.2 drops a user's boundary (its CreateUser reads no
		// PermissionsBoundary; it has no PutUserPermissionsBoundary).
		r.t.Skipf("sets up a user with a permissions boundary, which the external IAM endpoint does not keep; %s is set", ExternalEndpointEnv)
	}
	made.AccessKeys = r.createKeys(u)
	return made
}

func (r *remoteState) putUserParts(u User) {
	name := aws.String(u.Name)
	for _, p := range sortedKeys(u.InlinePolicies) {
		_, err := r.c.PutUserPolicy(r.ctx, &iam.PutUserPolicyInput{UserName: name, PolicyName: aws.String(p), PolicyDocument: aws.String(u.InlinePolicies[p])})
		r.must(err, "PutUserPolicy "+p)
	}
	for _, arn := range sortedKeys(u.AttachedPolicies) {
		_, err := r.c.AttachUserPolicy(r.ctx, &iam.AttachUserPolicyInput{UserName: name, PolicyArn: aws.String(arn)})
		r.must(err, "AttachUserPolicy "+arn)
	}
	for _, g := range u.Groups {
		_, err := r.c.AddUserToGroup(r.ctx, &iam.AddUserToGroupInput{UserName: name, GroupName: aws.String(g)})
		r.must(err, "AddUserToGroup "+g)
	}
	if u.LoginProfile {
		_, err := r.c.CreateLoginProfile(r.ctx, &iam.CreateLoginProfileInput{UserName: name, Password: aws.String("Test-password-1234!")})
		r.must(err, "CreateLoginProfile")
	}
}

// createKeys makes as many keys as u asks for, returning them with the
// secrets IAM issued.
func (r *remoteState) createKeys(u User) []AccessKey {
	var keys []AccessKey
	for _, k := range u.AccessKeys {
		out, err := r.c.CreateAccessKey(r.ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.Name)})
		r.must(err, "CreateAccessKey")
		made := AccessKey{ID: aws.ToString(out.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey),
			Status: "Active", Created: aws.ToTime(out.AccessKey.CreateDate)}
		if k.Status == "Inactive" {
			_, err := r.c.UpdateAccessKey(r.ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(u.Name), AccessKeyId: out.AccessKey.AccessKeyId, Status: types.StatusTypeInactive})
			r.must(err, "UpdateAccessKey")
			made.Status = "Inactive"
		}
		keys = append(keys, made)
	}
	return keys
}

func (r *remoteState) User(name string) (User, bool) {
	r.t.Helper()
	out, err := r.c.GetUser(r.ctx, &iam.GetUserInput{UserName: aws.String(name)})
	if isNoSuchEntity(err) {
		return User{}, false
	}
	r.must(err, "GetUser "+name)
	u := User{Name: aws.ToString(out.User.UserName), ID: aws.ToString(out.User.UserId), ARN: aws.ToString(out.User.Arn),
		Path: aws.ToString(out.User.Path), Created: aws.ToTime(out.User.CreateDate),
		InlinePolicies: map[string]string{}, AttachedPolicies: map[string]string{}}
	if b := out.User.PermissionsBoundary; b != nil {
		u.PermissionsBoundary = aws.ToString(b.PermissionsBoundaryArn)
	}
	r.readUserTags(&u)
	r.readUserPolicies(&u)
	r.readUserGroups(&u)
	r.readUserKeys(&u)
	_, err = r.c.GetLoginProfile(r.ctx, &iam.GetLoginProfileInput{UserName: aws.String(name)})
	u.LoginProfile = err == nil
	return u, true
}

func (r *remoteState) readUserTags(u *User) {
	p := iam.NewListUserTagsPaginator(r.c, &iam.ListUserTagsInput{UserName: aws.String(u.Name)})
	eachPage(r, p, "ListUserTags", func(page *iam.ListUserTagsOutput) {
		for _, tg := range page.Tags {
			u.Tags = append(u.Tags, Tag{Key: aws.ToString(tg.Key), Value: aws.ToString(tg.Value)})
		}
	})
}

func (r *remoteState) readUserPolicies(u *User) {
	name := aws.String(u.Name)
	p := iam.NewListUserPoliciesPaginator(r.c, &iam.ListUserPoliciesInput{UserName: name})
	eachPage(r, p, "ListUserPolicies", func(page *iam.ListUserPoliciesOutput) {
		for _, pn := range page.PolicyNames {
			doc, err := r.c.GetUserPolicy(r.ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: aws.String(pn)})
			r.must(err, "GetUserPolicy "+pn)
			u.InlinePolicies[pn] = decodeDocument(aws.ToString(doc.PolicyDocument))
		}
	})
	ap := iam.NewListAttachedUserPoliciesPaginator(r.c, &iam.ListAttachedUserPoliciesInput{UserName: name})
	eachPage(r, ap, "ListAttachedUserPolicies", func(page *iam.ListAttachedUserPoliciesOutput) {
		for _, a := range page.AttachedPolicies {
			u.AttachedPolicies[aws.ToString(a.PolicyArn)] = aws.ToString(a.PolicyName)
		}
	})
}

func (r *remoteState) readUserGroups(u *User) {
	p := iam.NewListGroupsForUserPaginator(r.c, &iam.ListGroupsForUserInput{UserName: aws.String(u.Name)})
	eachPage(r, p, "ListGroupsForUser", func(page *iam.ListGroupsForUserOutput) {
		for _, g := range page.Groups {
			u.Groups = append(u.Groups, aws.ToString(g.GroupName))
		}
	})
}

func (r *remoteState) readUserKeys(u *User) {
	p := iam.NewListAccessKeysPaginator(r.c, &iam.ListAccessKeysInput{UserName: aws.String(u.Name)})
	eachPage(r, p, "ListAccessKeys", func(page *iam.ListAccessKeysOutput) {
		for _, k := range page.AccessKeyMetadata {
			u.AccessKeys = append(u.AccessKeys, AccessKey{ID: aws.ToString(k.AccessKeyId), Status: string(k.Status), Created: aws.ToTime(k.CreateDate)})
		}
	})
}

// decodeDocument undoes the URL encoding IAM applies to the policy
// documents it returns (IAM API reference, GetUserPolicy: "The policy
// document returned in this structure is URL-encoded compliant with RFC
// 3986"); an emulator that returns the JSON as is is read as is.
func decodeDocument(doc string) string {
	if strings.HasPrefix(strings.TrimSpace(doc), "{") {
		return doc
	}
	if d, err := url.PathUnescape(doc); err == nil {
		return d
	}
	return doc
}

func (r *remoteState) Users() []User {
	r.t.Helper()
	var out []User
	for _, n := range r.userNames() {
		if r.before.users[strings.ToLower(n)] {
			continue
		}
		if u, ok := r.User(n); ok {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

func (r *remoteState) KeyCount() int {
	n := 0
	for _, u := range r.Users() {
		n += len(u.AccessKeys)
	}
	return n
}

func (r *remoteState) Group(name string) (Group, bool) {
	r.t.Helper()
	g := Group{InlinePolicies: map[string]string{}, AttachedPolicies: map[string]string{}}
	gn := aws.String(name)
	p := iam.NewGetGroupPaginator(r.c, &iam.GetGroupInput{GroupName: gn})
	for p.HasMorePages() {
		page, err := p.NextPage(r.ctx)
		if isNoSuchEntity(err) {
			return Group{}, false
		}
		r.must(err, "GetGroup "+name)
		g.Name, g.ID, g.ARN, g.Path = aws.ToString(page.Group.GroupName), aws.ToString(page.Group.GroupId), aws.ToString(page.Group.Arn), aws.ToString(page.Group.Path)
		g.Created = aws.ToTime(page.Group.CreateDate)
		for _, u := range page.Users {
			g.Members = append(g.Members, aws.ToString(u.UserName))
		}
	}
	pols, err := r.c.ListGroupPolicies(r.ctx, &iam.ListGroupPoliciesInput{GroupName: gn})
	r.must(err, "ListGroupPolicies")
	for _, pn := range pols.PolicyNames {
		doc, err := r.c.GetGroupPolicy(r.ctx, &iam.GetGroupPolicyInput{GroupName: gn, PolicyName: aws.String(pn)})
		r.must(err, "GetGroupPolicy "+pn)
		g.InlinePolicies[pn] = decodeDocument(aws.ToString(doc.PolicyDocument))
	}
	att, err := r.c.ListAttachedGroupPolicies(r.ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: gn})
	r.must(err, "ListAttachedGroupPolicies")
	for _, a := range att.AttachedPolicies {
		g.AttachedPolicies[aws.ToString(a.PolicyArn)] = aws.ToString(a.PolicyName)
	}
	return g, true
}

func (r *remoteState) Groups() []string {
	r.t.Helper()
	var out []string
	for _, n := range r.groupNames() {
		if !r.before.groups[strings.ToLower(n)] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func (r *remoteState) PutPolicy(path, name, document string) string {
	r.t.Helper()
	if path == "" {
		path = "/"
	}
	out, err := r.c.CreatePolicy(r.ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), Path: aws.String(path), PolicyDocument: aws.String(document)})
	r.must(err, "CreatePolicy "+name)
	return aws.ToString(out.Policy.Arn)
}

func (r *remoteState) Policy(arn string) (ManagedPolicy, bool) {
	r.t.Helper()
	out, err := r.c.GetPolicy(r.ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if isNoSuchEntity(err) {
		return ManagedPolicy{}, false
	}
	r.must(err, "GetPolicy "+arn)
	p := ManagedPolicy{ARN: aws.ToString(out.Policy.Arn), Name: aws.ToString(out.Policy.PolicyName), ID: aws.ToString(out.Policy.PolicyId),
		Path: aws.ToString(out.Policy.Path), Description: aws.ToString(out.Policy.Description), Created: aws.ToTime(out.Policy.CreateDate),
		Updated: aws.ToTime(out.Policy.UpdateDate), DefaultVersionID: aws.ToString(out.Policy.DefaultVersionId), AWSManaged: strings.HasPrefix(arn, "arn:aws:iam::aws:")}
	for _, tg := range out.Policy.Tags {
		p.Tags = append(p.Tags, Tag{Key: aws.ToString(tg.Key), Value: aws.ToString(tg.Value)})
	}
	p.Versions = r.policyVersions(out.Policy.Arn)
	return p, true
}

// policyVersions returns a policy's versions, oldest first (IAM numbers
// them v1, v2, ... and never reuses a number).
func (r *remoteState) policyVersions(arn *string) []PolicyVersion {
	var vs []PolicyVersion
	p := iam.NewListPolicyVersionsPaginator(r.c, &iam.ListPolicyVersionsInput{PolicyArn: arn})
	eachPage(r, p, "ListPolicyVersions", func(page *iam.ListPolicyVersionsOutput) {
		for _, v := range page.Versions {
			got, err := r.c.GetPolicyVersion(r.ctx, &iam.GetPolicyVersionInput{PolicyArn: arn, VersionId: v.VersionId})
			r.must(err, "GetPolicyVersion")
			vs = append(vs, PolicyVersion{ID: aws.ToString(v.VersionId), Document: decodeDocument(aws.ToString(got.PolicyVersion.Document)),
				Created: aws.ToTime(v.CreateDate)})
		}
	})
	slices.SortFunc(vs, func(a, b PolicyVersion) int { return versionNumber(a.ID) - versionNumber(b.ID) })
	return vs
}

func versionNumber(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "v"))
	return n
}

// cleanUp deletes every user, group and customer managed policy that came
// into being during the test, with what they hold. A failure is logged, not
// fatal: the test's own outcome stands.
func (r *remoteState) cleanUp() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.ctx = ctx
	for _, n := range r.newNames(r.userNames, r.before.users) {
		r.deleteUser(n)
	}
	for _, n := range r.newNames(r.groupNames, r.before.groups) {
		r.deleteGroup(n)
	}
	for _, arn := range r.newNames(r.policyARNs, r.before.policies) {
		r.deletePolicy(arn)
	}
}

func (r *remoteState) newNames(list func() []string, before map[string]bool) []string {
	var out []string
	for _, n := range list() {
		if !before[strings.ToLower(n)] {
			out = append(out, n)
		}
	}
	return out
}

// logged logs a clean-up call's error; NoSuchEntity means nothing to undo.
func (r *remoteState) logged(err error, what string) {
	if err != nil && !isNoSuchEntity(err) {
		r.t.Logf("external IAM endpoint: clean-up: %s: %v", what, err)
	}
}

func (r *remoteState) deleteUser(name string) {
	u, ok := r.User(name)
	if !ok {
		return
	}
	n := aws.String(name)
	for _, k := range u.AccessKeys {
		_, err := r.c.DeleteAccessKey(r.ctx, &iam.DeleteAccessKeyInput{UserName: n, AccessKeyId: aws.String(k.ID)})
		r.logged(err, "DeleteAccessKey")
	}
	for p := range u.InlinePolicies {
		_, err := r.c.DeleteUserPolicy(r.ctx, &iam.DeleteUserPolicyInput{UserName: n, PolicyName: aws.String(p)})
		r.logged(err, "DeleteUserPolicy")
	}
	for arn := range u.AttachedPolicies {
		_, err := r.c.DetachUserPolicy(r.ctx, &iam.DetachUserPolicyInput{UserName: n, PolicyArn: aws.String(arn)})
		r.logged(err, "DetachUserPolicy")
	}
	for _, g := range u.Groups {
		_, err := r.c.RemoveUserFromGroup(r.ctx, &iam.RemoveUserFromGroupInput{UserName: n, GroupName: aws.String(g)})
		r.logged(err, "RemoveUserFromGroup")
	}
	if u.LoginProfile {
		_, err := r.c.DeleteLoginProfile(r.ctx, &iam.DeleteLoginProfileInput{UserName: n})
		r.logged(err, "DeleteLoginProfile")
	}
	_, err := r.c.DeleteUser(r.ctx, &iam.DeleteUserInput{UserName: n})
	r.logged(err, "DeleteUser "+name)
}

func (r *remoteState) deleteGroup(name string) {
	g, ok := r.Group(name)
	if !ok {
		return
	}
	n := aws.String(name)
	for _, m := range g.Members {
		_, err := r.c.RemoveUserFromGroup(r.ctx, &iam.RemoveUserFromGroupInput{UserName: aws.String(m), GroupName: n})
		r.logged(err, "RemoveUserFromGroup")
	}
	for p := range g.InlinePolicies {
		_, err := r.c.DeleteGroupPolicy(r.ctx, &iam.DeleteGroupPolicyInput{GroupName: n, PolicyName: aws.String(p)})
		r.logged(err, "DeleteGroupPolicy")
	}
	for arn := range g.AttachedPolicies {
		_, err := r.c.DetachGroupPolicy(r.ctx, &iam.DetachGroupPolicyInput{GroupName: n, PolicyArn: aws.String(arn)})
		r.logged(err, "DetachGroupPolicy")
	}
	_, err := r.c.DeleteGroup(r.ctx, &iam.DeleteGroupInput{GroupName: n})
	r.logged(err, "DeleteGroup "+name)
}

func (r *remoteState) deletePolicy(arn string) {
	a := aws.String(arn)
	vs, err := r.c.ListPolicyVersions(r.ctx, &iam.ListPolicyVersionsInput{PolicyArn: a})
	r.logged(err, "ListPolicyVersions")
	if err == nil {
		for _, v := range vs.Versions {
			if !v.IsDefaultVersion {
				_, err := r.c.DeletePolicyVersion(r.ctx, &iam.DeletePolicyVersionInput{PolicyArn: a, VersionId: v.VersionId})
				r.logged(err, "DeletePolicyVersion")
			}
		}
	}
	_, err = r.c.DeletePolicy(r.ctx, &iam.DeletePolicyInput{PolicyArn: a})
	r.logged(err, "DeletePolicy "+arn)
}

// NeedsUserBoundaries skips the test where the endpoint does not keep a
// user's permissions boundary: moto 5.2's CreateUser reads no
// PermissionsBoundary and it has no PutUserPermissionsBoundary
// (moto/iam/responses.py create_user), so a user it makes has none. It
// finds out by making a user with a boundary and reading it back.
func (e *Endpoint) NeedsUserBoundaries(t testing.TB) {
	t.Helper()
	if e.Server != nil {
		return
	}
	st := e.State(t).(*remoteState)
	arn := st.PutPolicy("/", e.Name("boundary-probe"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`)
	st.PutUser(User{Name: e.Name("boundary-probe"), PermissionsBoundary: arn}) // skips if the boundary is dropped
}
