package iamtest

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryOperationHasAnActionSpec(t *testing.T) {
	for action := range operations {
		_, ok := actionSpecs[action]
		assert.True(t, ok, "%s has no entry in actionSpecs: say what it acts on and which condition keys it carries (Service Authorization Reference)", action)
	}
}

const bnd = "arn:aws:iam::123456789012:policy/sesmtp/Boundary"

// TestRequestContextPerAction checks the condition keys each action
// carries against the Service Authorization Reference: a key is present
// only for the actions that list it.
func TestRequestContextPerAction(t *testing.T) {
	st := newState(DefaultAccountID)
	st.users["bob"] = &User{Name: "bob", ARN: "arn:aws:iam::123456789012:user/ses/bob", Path: "/ses/",
		Tags: []Tag{{"sesmtp:managed-by", "sesmtp"}}, PermissionsBoundary: bnd}
	st.groups["senders"] = &Group{Name: "senders", ARN: "arn:aws:iam::123456789012:group/mail/senders"}
	caller := principal{arn: "arn:aws:iam::123456789012:user/ops"}
	tagged := url.Values{"UserName": {"bob"}, "Tags.member.1.Key": {"sesmtp:run-id"}, "Tags.member.1.Value": {"r1"}}
	tests := []struct {
		action   string
		form     url.Values
		resource string
		want     map[string][]string // keys expected (lower-case) with values
		absent   []string
	}{
		{"CreateUser", url.Values{"UserName": {"carol"}, "Path": {"/ses/"}, "PermissionsBoundary": {bnd}},
			"arn:aws:iam::123456789012:user/ses/carol", map[string][]string{"iam:permissionsboundary": {bnd}}, []string{"aws:tagkeys"}},
		{"CreateUser", url.Values{"UserName": {"carol"}}, "arn:aws:iam::123456789012:user/carol", nil,
			[]string{"iam:permissionsboundary"}},
		{"PutUserPolicy", url.Values{"UserName": {"bob"}}, "arn:aws:iam::123456789012:user/ses/bob",
			map[string][]string{"iam:permissionsboundary": {bnd}, "aws:resourcetag/sesmtp:managed-by": {"sesmtp"},
				"iam:resourcetag/sesmtp:managed-by": {"sesmtp"}}, nil},
		{"DeleteUserPermissionsBoundary", url.Values{"UserName": {"bob"}}, "arn:aws:iam::123456789012:user/ses/bob",
			map[string][]string{"iam:permissionsboundary": {bnd}}, nil},
		{"PutUserPermissionsBoundary", url.Values{"UserName": {"bob"}, "PermissionsBoundary": {"arn:aws:iam::aws:policy/AdministratorAccess"}},
			"arn:aws:iam::123456789012:user/ses/bob", map[string][]string{"iam:permissionsboundary": {"arn:aws:iam::aws:policy/AdministratorAccess"}}, nil},
		{"AttachUserPolicy", url.Values{"UserName": {"bob"}, "PolicyArn": {"arn:aws:iam::aws:policy/AdministratorAccess"}},
			"arn:aws:iam::123456789012:user/ses/bob",
			map[string][]string{"iam:policyarn": {"arn:aws:iam::aws:policy/AdministratorAccess"}, "iam:permissionsboundary": {bnd}}, nil},
		{"CreateAccessKey", url.Values{"UserName": {"bob"}}, "arn:aws:iam::123456789012:user/ses/bob",
			map[string][]string{"aws:resourcetag/sesmtp:managed-by": {"sesmtp"}}, []string{"iam:permissionsboundary"}},
		{"DeleteUser", url.Values{"UserName": {"bob"}}, "arn:aws:iam::123456789012:user/ses/bob", nil, []string{"iam:permissionsboundary"}},
		{"TagUser", tagged, "arn:aws:iam::123456789012:user/ses/bob",
			map[string][]string{"aws:requesttag/sesmtp:run-id": {"r1"}, "aws:tagkeys": {"sesmtp:run-id"}}, []string{"iam:permissionsboundary"}},
		{"UntagUser", url.Values{"UserName": {"bob"}, "TagKeys.member.1": {"sesmtp:run-id"}}, "arn:aws:iam::123456789012:user/ses/bob",
			map[string][]string{"aws:tagkeys": {"sesmtp:run-id"}}, []string{"aws:requesttag/sesmtp:run-id"}},
		{"AttachGroupPolicy", url.Values{"GroupName": {"senders"}, "PolicyArn": {bnd}}, "arn:aws:iam::123456789012:group/mail/senders",
			map[string][]string{"iam:policyarn": {bnd}}, []string{"iam:permissionsboundary"}},
		{"AddUserToGroup", url.Values{"GroupName": {"senders"}, "UserName": {"bob"}}, "arn:aws:iam::123456789012:group/mail/senders",
			nil, []string{"aws:resourcetag/sesmtp:managed-by"}},
		{"GetUser", url.Values{}, "arn:aws:iam::123456789012:user/ops", nil, nil},
		{"ListUsers", url.Values{}, "arn:aws:iam::123456789012:user/", nil, nil},
		{"ListPolicies", url.Values{}, "arn:aws:iam::123456789012:policy/", nil, nil},
		{"CreatePolicy", url.Values{"PolicyName": {"B"}, "Path": {"/sesmtp/"}}, "arn:aws:iam::123456789012:policy/sesmtp/B", nil, nil},
		{"DeletePolicyVersion", url.Values{"PolicyArn": {bnd}}, bnd, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			reqs := st.authzRequests(tt.action, tt.form, caller)
			require.Len(t, reqs, 1)
			assert.Equal(t, "iam:"+tt.action, reqs[0].action)
			assert.Equal(t, tt.resource, reqs[0].resource)
			for k, v := range tt.want {
				got, ok := reqs[0].ctx.Lookup(k)
				assert.True(t, ok, "%s carries %s", tt.action, k)
				assert.Equal(t, v, got, k)
			}
			for _, k := range tt.absent {
				_, ok := reqs[0].ctx.Lookup(k)
				assert.False(t, ok, "%s does not carry %s", tt.action, k)
			}
		})
	}
}

// TestTaggedCreateUserIsAlsoTagUser: AWS's example "IAM: Create new users
// only with specific tags" grants iam:CreateUser and iam:TagUser together,
// because a CreateUser with tags is authorized as both; TagUser sees only
// the request's tags.
func TestTaggedCreateUserIsAlsoTagUser(t *testing.T) {
	st := newState(DefaultAccountID)
	form := url.Values{"UserName": {"carol"}, "Path": {"/ses/"}, "PermissionsBoundary": {bnd},
		"Tags.member.1.Key": {"sesmtp:run-id"}, "Tags.member.1.Value": {"r1"}}
	reqs := st.authzRequests("CreateUser", form, principal{arn: "arn:aws:iam::123456789012:user/ops"})
	require.Len(t, reqs, 2)
	assert.Equal(t, "iam:CreateUser", reqs[0].action)
	assert.Equal(t, "iam:TagUser", reqs[1].action)
	assert.Equal(t, "arn:aws:iam::123456789012:user/ses/carol", reqs[1].resource)
	assert.Equal(t, []string{"aws:requesttag/sesmtp:run-id", "aws:tagkeys"}, reqs[1].ctx.Keys())
	assert.Equal(t, []string{"aws:requesttag/sesmtp:run-id", "aws:tagkeys", "iam:permissionsboundary"}, reqs[0].ctx.Keys())
}
