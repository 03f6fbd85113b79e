package policy_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

const (
	acct        = "arn:aws:iam::123456789012:"
	boundaryARN = acct + "policy/sesmtp/SesmtpSenderBoundary"
	sesmtpUser  = acct + "user/sesmtp/mailer"
)

func TestBoundary(t *testing.T) {
	doc, err := policy.Boundary(policy.SenderOptions{})
	require.NoError(t, err)
	assert.Equal(t, `{"Version":"2012-10-17","Statement":[{"Sid":"SesSendingOnly","Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`, doc.JSON())
	assert.Empty(t, doc.BeyondSending())

	doc, err = policy.Boundary(policy.SenderOptions{FromAddresses: []string{"*@mail.example.com"},
		IdentityARNs: []string{"arn:aws:ses:eu-west-1:123456789012:identity/example.com"}})
	require.NoError(t, err)
	assert.Equal(t, policy.Strings{"arn:aws:ses:eu-west-1:123456789012:identity/example.com"}, doc.Statement[0].Resource)
	assert.Equal(t, policy.Strings{"*@mail.example.com"}, doc.Statement[0].Condition["StringLike"]["ses:FromAddress"])

	_, err = policy.Boundary(policy.SenderOptions{IdentityARNs: []string{"example.com"}})
	assert.ErrorContains(t, err, "not an SES identity ARN")
}

func TestParsePolicyARN(t *testing.T) {
	tests := []struct {
		arn     string
		want    policy.PolicyARN
		wantErr string
	}{
		{arn: boundaryARN, want: policy.PolicyARN{ARN: boundaryARN, Partition: "aws", Account: "123456789012", Path: "/sesmtp/", Name: "SesmtpSenderBoundary"}},
		{arn: "arn:aws-cn:iam::123456789012:policy/B", want: policy.PolicyARN{ARN: "arn:aws-cn:iam::123456789012:policy/B", Partition: "aws-cn", Account: "123456789012", Path: "/", Name: "B"}},
		{arn: "arn:aws-us-gov:iam::123456789012:policy/a/b/B", want: policy.PolicyARN{ARN: "arn:aws-us-gov:iam::123456789012:policy/a/b/B", Partition: "aws-us-gov", Account: "123456789012", Path: "/a/b/", Name: "B"}},
		{arn: "arn:aws:iam::aws:policy/AdministratorAccess", wantErr: "AWS managed policy"},
		{arn: "arn:aws:iam::123456789012:user/sesmtp/B", wantErr: "not an IAM managed policy ARN"},
		{arn: "SesmtpSenderBoundary", wantErr: "not an IAM managed policy ARN"},
		{arn: "arn:aws:iam::1234:policy/B", wantErr: "not an IAM managed policy ARN"},
		{arn: "arn:aws:iam::123456789012:policy/B C", wantErr: "not an IAM managed policy ARN"},
		{arn: "arn:aws:iam::123456789012:policy//B", wantErr: "not an IAM path"},
		{arn: "", wantErr: "not an IAM managed policy ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.arn, func(t *testing.T) {
			got, err := policy.ParsePolicyARN(tt.arn)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestOperatorWithBoundaryBadInput(t *testing.T) {
	tests := []struct {
		name    string
		opts    policy.BoundedOptions
		wantErr string
	}{
		{"no boundary", policy.BoundedOptions{}, "--boundary-arn"},
		{"a role, not a policy", policy.BoundedOptions{BoundaryARN: acct + "role/Admin"}, "not an IAM managed policy ARN"},
		{"path without slashes", policy.BoundedOptions{BoundaryARN: boundaryARN, UserPath: "sesmtp"}, "--user-path"},
		{"path with a space", policy.BoundedOptions{BoundaryARN: boundaryARN, UserPath: "/ses mtp/"}, "not an IAM path"},
		{"the root path", policy.BoundedOptions{BoundaryARN: boundaryARN, UserPath: "/"}, "holds every user"},
		// IAM takes * ? $ in a path (CreateUser API reference, Path); a
		// policy reads them as wildcards and variables.
		{"path with *", policy.BoundedOptions{BoundaryARN: boundaryARN, UserPath: "/s*/"}, `--user-path "/s*/" holds '*'`},
		{"path with ?", policy.BoundedOptions{BoundaryARN: boundaryARN, UserPath: "/sesmt?/"}, "wildcards"},
		{"path with a policy variable", policy.BoundedOptions{BoundaryARN: boundaryARN, UserPath: "/${aws:username}/"}, "policy variable"},
		{"boundary under a wildcard path", policy.BoundedOptions{BoundaryARN: acct + "policy/s*/B"}, "--boundary-arn path"},
		{"bad group", policy.BoundedOptions{BoundaryARN: boundaryARN, Group: "a/b"}, "--group"},
		{"reserved tag key", policy.BoundedOptions{BoundaryARN: boundaryARN, TagKeys: []string{"sesmtp:x"}}, "reserved"},
		{"wildcard tag key", policy.BoundedOptions{BoundaryARN: boundaryARN, TagKeys: []string{"team*"}}, "tag key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.OperatorWithBoundary(tt.opts)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestOperatorWithBoundaryDecisions evaluates the bounded policy with the
// evaluator iamtest uses, request by request, each request carrying the
// context keys the Service Authorization Reference lists for its action.
func TestOperatorWithBoundaryDecisions(t *testing.T) {
	doc, err := policy.OperatorWithBoundary(policy.BoundedOptions{BoundaryARN: boundaryARN, Group: "senders", TagKeys: []string{"team"}})
	require.NoError(t, err)
	parsed, err := iampolicy.Parse(doc.JSON())
	require.NoError(t, err, "IAM's grammar accepts the document")
	op := iampolicy.Principal{Identity: []iampolicy.Policy{{ID: "operator", Type: iampolicy.SourceNone, Document: parsed}}}
	managed := []string{"aws:ResourceTag/sesmtp:managed-by", "sesmtp"}
	withB := []string{"iam:PermissionsBoundary", boundaryARN}
	sesmtpTags := []string{"aws:RequestTag/sesmtp:managed-by", "sesmtp", "aws:RequestTag/sesmtp:run-id", "1"}
	const A, I, X = iampolicy.Allowed, iampolicy.ImplicitDeny, iampolicy.ExplicitDeny
	tests := []struct {
		name     string
		action   string
		resource string
		ctx      [][]string
		want     iampolicy.Decision
	}{
		{"read anything", "iam:GetUserPolicy", acct + "user/alice", nil, A},
		{"create with boundary, path and tags", "iam:CreateUser", sesmtpUser, [][]string{withB, sesmtpTags, keys("sesmtp:managed-by", "sesmtp:run-id")}, A},
		{"create with an allowed extra tag", "iam:CreateUser", sesmtpUser, [][]string{withB, sesmtpTags, keys("sesmtp:managed-by", "team")}, A},
		{"create with a foreign tag key", "iam:CreateUser", sesmtpUser, [][]string{withB, sesmtpTags, keys("sesmtp:managed-by", "role")}, I},
		{"create without the boundary", "iam:CreateUser", sesmtpUser, [][]string{sesmtpTags, keys("sesmtp:managed-by")}, I},
		{"create with another boundary", "iam:CreateUser", sesmtpUser, [][]string{{"iam:PermissionsBoundary", "arn:aws:iam::aws:policy/AdministratorAccess"}, sesmtpTags, keys("sesmtp:managed-by")}, I},
		{"create outside the path", "iam:CreateUser", acct + "user/mailer", [][]string{withB, sesmtpTags, keys("sesmtp:managed-by")}, I},
		{"create without sesmtp's tag", "iam:CreateUser", sesmtpUser, [][]string{withB}, I},
		{"tag on create", "iam:TagUser", sesmtpUser, [][]string{sesmtpTags, keys("sesmtp:managed-by", "sesmtp:run-id")}, A},
		{"tag a user outside the path as managed", "iam:TagUser", acct + "user/alice", [][]string{sesmtpTags, keys("sesmtp:managed-by")}, I},
		{"edit sesmtp tags of a managed user", "iam:TagUser", sesmtpUser, [][]string{managed, {"aws:RequestTag/sesmtp:retire", "x"}, keys("sesmtp:retire")}, A},
		{"foreign tag on a managed user", "iam:TagUser", sesmtpUser, [][]string{managed, {"aws:RequestTag/owner", "x"}, keys("owner")}, I},
		{"untag sesmtp tag of a managed user", "iam:UntagUser", sesmtpUser, [][]string{managed, keys("sesmtp:retire")}, A},
		{"inline policy on a bounded user", "iam:PutUserPolicy", sesmtpUser, [][]string{withB}, A},
		{"inline policy on an unbounded user", "iam:PutUserPolicy", sesmtpUser, nil, I},
		{"inline policy on a user outside the path", "iam:PutUserPolicy", acct + "user/alice", [][]string{withB}, I},
		{"attach a managed policy", "iam:AttachUserPolicy", sesmtpUser, [][]string{withB, {"iam:PolicyARN", "arn:aws:iam::aws:policy/AdministratorAccess"}}, I},
		{"key for a managed user", "iam:CreateAccessKey", sesmtpUser, [][]string{managed}, A},
		{"key for an unmanaged user under the path", "iam:CreateAccessKey", sesmtpUser, nil, I},
		{"key for a managed-looking user outside the path", "iam:CreateAccessKey", acct + "user/alice", [][]string{managed}, I},
		{"delete a managed user", "iam:DeleteUser", sesmtpUser, [][]string{managed}, A},
		{"delete a human's login profile", "iam:DeleteLoginProfile", acct + "user/alice", nil, I},
		{"deactivate a human's MFA", "iam:DeactivateMFADevice", acct + "user/alice", nil, I},
		{"delete a human's virtual MFA", "iam:DeleteVirtualMFADevice", acct + "mfa/alice", nil, I},
		{"join the sending group", "iam:AddUserToGroup", acct + "group/senders", nil, A},
		{"join the sending group under a path", "iam:AddUserToGroup", acct + "group/mail/senders", nil, A},
		{"join another group", "iam:AddUserToGroup", acct + "group/Admins", nil, I},
		{"join a group whose name ends alike", "iam:AddUserToGroup", acct + "group/not-senders", nil, I},
		{"create a group", "iam:CreateGroup", acct + "group/g", nil, I},
		{"put a group policy", "iam:PutGroupPolicy", acct + "group/senders", nil, I},
		{"create a policy", "iam:CreatePolicy", acct + "policy/p", nil, I},
		{"remove a boundary", "iam:DeleteUserPermissionsBoundary", sesmtpUser, [][]string{withB}, X},
		{"replace a boundary", "iam:PutUserPermissionsBoundary", sesmtpUser, [][]string{{"iam:PermissionsBoundary", acct + "policy/Other"}}, X},
		{"set the same boundary (not allowed either)", "iam:PutUserPermissionsBoundary", sesmtpUser, [][]string{withB}, I},
		{"new boundary version", "iam:CreatePolicyVersion", boundaryARN, nil, X},
		{"older boundary version", "iam:SetDefaultPolicyVersion", boundaryARN, nil, X},
		{"delete a boundary version", "iam:DeletePolicyVersion", boundaryARN, nil, X},
		{"delete the boundary", "iam:DeletePolicy", boundaryARN, nil, X},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := iampolicy.Context{}
			for _, kv := range tt.ctx {
				if kv[0] == "aws:TagKeys" {
					ctx.Set(kv[0], kv[1:]...)
					continue
				}
				for i := 0; i+1 < len(kv); i += 2 {
					ctx.Set(kv[i], kv[i+1])
				}
			}
			res, err := iampolicy.Evaluate(iampolicy.Request{Action: tt.action, Resource: tt.resource, Context: ctx}, op)
			require.NoError(t, err)
			assert.Equal(t, tt.want, res.Decision)
		})
	}
}

func keys(k ...string) []string { return append([]string{"aws:TagKeys"}, k...) }

// TestOperatorWithBoundaryFitsAManagedPolicy: a customer managed policy
// holds at most 6,144 characters, white space not counted ("IAM and AWS
// STS quotas"); the policy must fit one with room for a few more tag keys.
func TestOperatorWithBoundaryFitsAManagedPolicy(t *testing.T) {
	doc, err := policy.OperatorWithBoundary(policy.BoundedOptions{BoundaryARN: boundaryARN, Group: "AWSSESSendingGroupDoNotRename",
		TagKeys: []string{"team", "cost-center", "owner"}})
	require.NoError(t, err)
	n := 0
	for _, r := range doc.JSON() {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	assert.Less(t, n, 6144-1000, "compact size")
}

// TestBoundedPolicyCoversTheBroadOne: every action of the broad policy is
// a read of the bounded one, granted by one of its write statements, or
// deliberately left out.
func TestBoundedPolicyCoversTheBroadOne(t *testing.T) {
	doc, err := policy.OperatorWithBoundary(policy.BoundedOptions{BoundaryARN: boundaryARN, Group: "senders"})
	require.NoError(t, err)
	granted := map[string]bool{}
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			if st.Effect == "Allow" {
				granted[a] = true
			}
		}
	}
	// Groups are made by an admin with sesmtp setup, never by an operator.
	leftOut := []string{"iam:CreateGroup", "iam:PutGroupPolicy", "iam:DeleteGroupPolicy", "iam:DeleteGroup"}
	for _, a := range policy.OperatorActions() {
		assert.True(t, granted[a] || slices.Contains(leftOut, a), "%s is neither granted nor left out on purpose", a)
	}
	// Granted ahead of use: sesmtp's own tags change later (a sesmtp:retire
	// marker for two-phase rotation).
	ahead := []string{"iam:UntagUser"}
	for a := range granted {
		assert.True(t, slices.Contains(policy.OperatorActions(), a) || slices.Contains(ahead, a), "%s is granted but no sesmtp command calls it", a)
	}
}

func TestBeyondSending(t *testing.T) {
	tests := []struct {
		doc  string
		want []string
	}{
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`, nil},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["SES:sendrawemail","ses:SendEmail"],"Resource":"*"}}`, nil},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, []string{"*"}},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:SendRawEmail","iam:*","ses:Send*"],"Resource":"*"}]}`, []string{"iam:*", "ses:Send*"}},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, []string{"NotAction iam:* (every other action)"}},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"},{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true}}}]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			var d policy.Document
			require.NoError(t, json.Unmarshal([]byte(tt.doc), &d))
			assert.Equal(t, tt.want, d.BeyondSending())
		})
	}
}

func ExampleOperatorWithBoundary() {
	doc, _ := policy.OperatorWithBoundary(policy.BoundedOptions{
		BoundaryARN: "arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary", Group: "ses-senders"})
	for _, st := range doc.Statement {
		actions := strings.Join(st.Action, " ")
		if st.Sid == "SesmtpRead" {
			actions = "the Get and List calls of sesmtp"
		}
		fmt.Printf("%s %s\n  %s\n  on %s\n", st.Effect, st.Sid, actions, strings.Join(st.Resource, " "))
		for _, op := range slices.Sorted(maps.Keys(st.Condition)) {
			for _, key := range slices.Sorted(maps.Keys(st.Condition[op])) {
				fmt.Printf("  if %s %s %s\n", op, key, strings.Join(st.Condition[op][key], " "))
			}
		}
	}
	// Output:
	// Allow SesmtpRead
	//   the Get and List calls of sesmtp
	//   on *
	// Allow SesmtpCreateUsersWithBoundary
	//   iam:CreateUser
	//   on arn:aws:iam::123456789012:user/sesmtp/*
	//   if ForAllValues:StringLike aws:TagKeys sesmtp:*
	//   if StringEquals aws:RequestTag/sesmtp:managed-by sesmtp
	//   if StringEquals iam:PermissionsBoundary arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary
	// Allow SesmtpTagOnCreate
	//   iam:TagUser
	//   on arn:aws:iam::123456789012:user/sesmtp/*
	//   if ForAllValues:StringLike aws:TagKeys sesmtp:*
	//   if StringEquals aws:RequestTag/sesmtp:managed-by sesmtp
	// Allow SesmtpEditOwnTags
	//   iam:TagUser iam:UntagUser
	//   on arn:aws:iam::123456789012:user/sesmtp/*
	//   if ForAllValues:StringLike aws:TagKeys sesmtp:*
	//   if StringEquals aws:ResourceTag/sesmtp:managed-by sesmtp
	// Allow SesmtpPoliciesWithinBoundary
	//   iam:PutUserPolicy iam:DeleteUserPolicy iam:DetachUserPolicy
	//   on arn:aws:iam::123456789012:user/sesmtp/*
	//   if StringEquals iam:PermissionsBoundary arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary
	// Allow SesmtpManageOwnUsers
	//   iam:CreateAccessKey iam:UpdateAccessKey iam:DeleteAccessKey iam:DeleteUser iam:DeleteLoginProfile iam:DeleteSigningCertificate iam:DeleteSSHPublicKey iam:DeleteServiceSpecificCredential iam:DeactivateMFADevice
	//   on arn:aws:iam::123456789012:user/sesmtp/*
	//   if StringEquals aws:ResourceTag/sesmtp:managed-by sesmtp
	// Allow SesmtpOwnVirtualMFADevices
	//   iam:DeleteVirtualMFADevice
	//   on arn:aws:iam::123456789012:mfa/sesmtp/*
	// Allow SesmtpSendingGroupMembership
	//   iam:AddUserToGroup iam:RemoveUserFromGroup
	//   on arn:aws:iam::123456789012:group/ses-senders arn:aws:iam::123456789012:group/*/ses-senders
	// Deny DenyBoundaryRemoval
	//   iam:DeleteUserPermissionsBoundary
	//   on *
	// Deny DenyOtherBoundaries
	//   iam:PutUserPermissionsBoundary
	//   on *
	//   if StringNotEquals iam:PermissionsBoundary arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary
	// Deny DenyBoundaryPolicyChanges
	//   iam:CreatePolicyVersion iam:DeletePolicy iam:DeletePolicyVersion iam:SetDefaultPolicyVersion
	//   on arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary
}
