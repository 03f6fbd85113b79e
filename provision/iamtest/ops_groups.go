package iamtest

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

type groupResult struct {
	Group groupXML `xml:"Group"`
}

func createGroup(st *state, req *request) (any, *apiError) {
	name, path := req.form.Get("GroupName"), req.form.Get("Path")
	if aerr := checkName("GroupName", name, 128); aerr != nil {
		return nil, aerr
	}
	if path == "" {
		path = "/"
	}
	if aerr := checkPath(path); aerr != nil {
		return nil, aerr
	}
	if _, exists := st.groups[strings.ToLower(name)]; exists {
		return nil, errAlreadyExists("Group with name %s already exists.", name)
	}
	g := &Group{Name: name, ID: newGroupID(), Path: path, ARN: "arn:aws:iam::" + st.account + ":group" + path + name,
		Created: time.Now().UTC().Truncate(time.Second), InlinePolicies: map[string]string{}, AttachedPolicies: map[string]string{}}
	st.groups[strings.ToLower(name)] = g
	return groupResult{toGroupXML(g)}, nil
}

type getGroupResult struct {
	Group       groupXML         `xml:"Group"`
	Users       members[userXML] `xml:"Users"`
	IsTruncated bool             `xml:"IsTruncated"`
}

func getGroup(st *state, req *request) (any, *apiError) {
	g, aerr := st.group(req.form.Get("GroupName"))
	if aerr != nil {
		return nil, aerr
	}
	res := getGroupResult{Group: toGroupXML(g)}
	for _, m := range g.Members {
		if u, ok := st.users[strings.ToLower(m)]; ok {
			res.Users.Member = append(res.Users.Member, toUserXML(u, false))
		}
	}
	return res, nil
}

func deleteGroup(st *state, req *request) (any, *apiError) {
	g, aerr := st.group(req.form.Get("GroupName"))
	if aerr != nil {
		return nil, aerr
	}
	if len(g.Members) > 0 || len(g.InlinePolicies) > 0 {
		return nil, errDeleteConflict("Cannot delete entity, must remove users and policies from group first.")
	}
	// DeleteGroup API reference: detach managed policies first; IAM's
	// message as cloud-custodian/cloud-custodian#7484 shows it.
	if len(g.AttachedPolicies) > 0 {
		return nil, errDeleteConflict("Cannot delete entity, must detach all policies first.")
	}
	delete(st.groups, strings.ToLower(g.Name))
	return nil, nil
}

func putGroupPolicy(st *state, req *request) (any, *apiError) {
	g, aerr := st.group(req.form.Get("GroupName"))
	if aerr != nil {
		return nil, aerr
	}
	return nil, putPolicy(g.InlinePolicies, req.form.Get("PolicyName"), req.form.Get("PolicyDocument"), maxGroupInlinePolicyChars, "group "+g.Name)
}

type groupPolicyResult struct {
	GroupName      string `xml:"GroupName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func getGroupPolicy(st *state, req *request) (any, *apiError) {
	g, aerr := st.group(req.form.Get("GroupName"))
	if aerr != nil {
		return nil, aerr
	}
	name := req.form.Get("PolicyName")
	doc, ok := g.InlinePolicies[name]
	if !ok {
		return nil, errNoSuchEntity("The group policy with name %s cannot be found.", name)
	}
	return groupPolicyResult{g.Name, name, url.PathEscape(doc)}, nil
}

func listGroupPolicies(st *state, req *request) (any, *apiError) {
	g, aerr := st.group(req.form.Get("GroupName"))
	if aerr != nil {
		return nil, aerr
	}
	return policyNamesResult{PolicyNames: members[string]{Member: sortedKeys(g.InlinePolicies)}}, nil
}

func deleteGroupPolicy(st *state, req *request) (any, *apiError) {
	g, aerr := st.group(req.form.Get("GroupName"))
	if aerr != nil {
		return nil, aerr
	}
	name := req.form.Get("PolicyName")
	if _, ok := g.InlinePolicies[name]; !ok {
		return nil, errNoSuchEntity("The group policy with name %s cannot be found.", name)
	}
	delete(g.InlinePolicies, name)
	return nil, nil
}

func addUserToGroup(st *state, req *request) (any, *apiError) {
	g, aerr := st.group(req.form.Get("GroupName"))
	if aerr != nil {
		return nil, aerr
	}
	u, aerr := st.user(req.form.Get("UserName"))
	if aerr != nil {
		return nil, aerr
	}
	if !slices.Contains(g.Members, u.Name) {
		if len(u.Groups) >= maxGroupsPerUser {
			return nil, errLimitExceeded("Cannot exceed quota for GroupsPerUser: %d.", maxGroupsPerUser)
		}
		g.Members = append(g.Members, u.Name)
		u.Groups = append(u.Groups, g.Name)
	}
	return nil, nil
}

func removeUserFromGroup(st *state, req *request) (any, *apiError) {
	g, aerr := st.group(req.form.Get("GroupName"))
	if aerr != nil {
		return nil, aerr
	}
	u, aerr := st.user(req.form.Get("UserName"))
	if aerr != nil {
		return nil, aerr
	}
	if !slices.Contains(g.Members, u.Name) {
		return nil, errNoSuchEntity("The user with name %s is not in group %s.", u.Name, g.Name)
	}
	g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == u.Name })
	u.Groups = slices.DeleteFunc(u.Groups, func(m string) bool { return strings.EqualFold(m, g.Name) })
	return nil, nil
}

type groupsResult struct {
	Groups      members[groupXML] `xml:"Groups"`
	IsTruncated bool              `xml:"IsTruncated"`
}

type listGroupsResult struct {
	Groups      members[groupXML] `xml:"Groups"`
	IsTruncated bool              `xml:"IsTruncated"`
	Marker      string            `xml:"Marker,omitempty"`
}

// listGroups lists the account's groups by name, paginated as ListUsers is
// (IAM API reference, ListGroups: PathPrefix, Marker, MaxItems). sesmtp
// never calls it; tests on another endpoint read state with it.
func listGroups(st *state, req *request) (any, *apiError) {
	prefix := req.form.Get("PathPrefix")
	if prefix == "" {
		prefix = "/"
	}
	var all []*Group
	for _, name := range slices.Sorted(maps.Keys(st.groups)) {
		if g := st.groups[name]; strings.HasPrefix(g.Path, prefix) {
			all = append(all, g)
		}
	}
	start, end, next, aerr := page(req.form, len(all))
	if aerr != nil {
		return nil, aerr
	}
	res := listGroupsResult{IsTruncated: next != "", Marker: next}
	for _, g := range all[start:end] {
		res.Groups.Member = append(res.Groups.Member, toGroupXML(g))
	}
	return res, nil
}

func listGroupsForUser(st *state, u *User, req *request) (any, *apiError) {
	var res groupsResult
	for _, name := range u.Groups {
		if g, ok := st.groups[strings.ToLower(name)]; ok {
			res.Groups.Member = append(res.Groups.Member, toGroupXML(g))
		}
	}
	return res, nil
}

// groupOp adapts an operation on the group the request's GroupName names,
// answering NoSuchEntity when there is none.
func groupOp(f func(st *state, g *Group, req *request) (any, *apiError)) operation {
	return func(st *state, req *request) (any, *apiError) {
		g, aerr := st.group(req.form.Get("GroupName"))
		if aerr != nil {
			return nil, aerr
		}
		return f(st, g, req)
	}
}

// attachGroupPolicy attaches an existing managed policy, at most ten per
// group ("IAM and AWS STS quotas").
func attachGroupPolicy(st *state, g *Group, req *request) (any, *apiError) {
	p, aerr := attachablePolicy(st, req.form.Get("PolicyArn"), "Policy ")
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := g.AttachedPolicies[p.ARN]; !ok && len(g.AttachedPolicies) >= maxAttachedPerUserGroup {
		return nil, errLimitExceeded("Cannot exceed quota for PoliciesPerGroup: %d", maxAttachedPerUserGroup)
	}
	if g.AttachedPolicies == nil {
		g.AttachedPolicies = map[string]string{}
	}
	g.AttachedPolicies[p.ARN] = p.Name
	return nil, nil
}

func detachGroupPolicy(st *state, g *Group, req *request) (any, *apiError) {
	arn := req.form.Get("PolicyArn")
	if _, ok := g.AttachedPolicies[arn]; !ok {
		return nil, errNoSuchEntity("Policy %s was not found.", arn)
	}
	delete(g.AttachedPolicies, arn)
	return nil, nil
}

func listAttachedGroupPolicies(st *state, g *Group, req *request) (any, *apiError) {
	var res attachedPoliciesResult
	for _, arn := range sortedKeys(g.AttachedPolicies) {
		res.AttachedPolicies.Member = append(res.AttachedPolicies.Member, attachedPolicyXML{g.AttachedPolicies[arn], arn})
	}
	return res, nil
}
