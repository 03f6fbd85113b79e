package iamtest

import (
	"net/url"
	"strings"

	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

// The request context of each IAM action follows the Service Authorization
// Reference, "Actions, resources, and condition keys for AWS Identity and
// Access Management (IAM)" (read from the iann0036/iam-dataset copy,
// aws/iam_definition.json, 2026): the resource type each action acts on
// and the condition keys it lists. A key is present only for the actions
// that list it:
//   - user resources carry aws:ResourceTag/${TagKey} and
//     iam:ResourceTag/${TagKey} (the user's tags); groups carry none;
//     policies carry aws:ResourceTag/${TagKey};
//   - iam:PermissionsBoundary: CreateUser and PutUserPermissionsBoundary
//     (the boundary in the request), PutUserPolicy, DeleteUserPolicy,
//     AttachUserPolicy, DetachUserPolicy and DeleteUserPermissionsBoundary
//     (the user's current boundary); not CreateAccessKey, TagUser, DeleteUser;
//   - iam:PolicyARN: Attach/DetachUserPolicy, Attach/DetachGroupPolicy;
//   - aws:RequestTag/${TagKey} and aws:TagKeys: CreateUser, TagUser,
//     CreatePolicy; aws:TagKeys alone: UntagUser;
//   - actions without a resource type (ListUsers, ListPolicies) take "*".

// resourceKind says what an action acts on.
type resourceKind int

const (
	onUser          resourceKind = iota // UserName, or the caller without one
	onNewUser                           // CreateUser: Path + UserName
	onGroup                             // GroupName
	onNewGroup                          // CreateGroup: Path + GroupName
	onPolicy                            // PolicyArn
	onNewPolicy                         // CreatePolicy: Path + PolicyName
	onAccount                           // no resource type
	onAccessKeyUser                     // the user owning AccessKeyId
	onMFADevice                         // SerialNumber
	onPolicySource                      // PolicySourceArn
)

// keyRule names the action-specific condition keys an action carries.
type keyRule int

const (
	keyTargetBoundary  keyRule = 1 << iota // iam:PermissionsBoundary = the user's boundary
	keyRequestBoundary                     // iam:PermissionsBoundary = PermissionsBoundary
	keyPolicyARN                           // iam:PolicyARN = PolicyArn
	keyRequestTags                         // aws:RequestTag/*, aws:TagKeys from Tags
	keyUntagKeys                           // aws:TagKeys from TagKeys
)

type actionSpec struct {
	on   resourceKind
	keys keyRule
}

var actionSpecs = map[string]actionSpec{
	"ListUsers": {on: onAccount}, "ListPolicies": {on: onAccount}, "ListGroups": {on: onAccount},
	"CreateUser": {onNewUser, keyRequestBoundary | keyRequestTags},
	"GetUser":    {on: onUser}, "DeleteUser": {on: onUser},
	"TagUser": {onUser, keyRequestTags}, "UntagUser": {onUser, keyUntagKeys}, "ListUserTags": {on: onUser},
	"PutUserPolicy": {onUser, keyTargetBoundary}, "DeleteUserPolicy": {onUser, keyTargetBoundary},
	"GetUserPolicy": {on: onUser}, "ListUserPolicies": {on: onUser}, "ListAttachedUserPolicies": {on: onUser},
	"AttachUserPolicy": {onUser, keyTargetBoundary | keyPolicyARN}, "DetachUserPolicy": {onUser, keyTargetBoundary | keyPolicyARN},
	"PutUserPermissionsBoundary":    {onUser, keyRequestBoundary},
	"DeleteUserPermissionsBoundary": {onUser, keyTargetBoundary},
	"CreateGroup":                   {on: onNewGroup}, "GetGroup": {on: onGroup}, "DeleteGroup": {on: onGroup},
	"PutGroupPolicy": {on: onGroup}, "GetGroupPolicy": {on: onGroup}, "ListGroupPolicies": {on: onGroup},
	"DeleteGroupPolicy": {on: onGroup}, "AddUserToGroup": {on: onGroup}, "RemoveUserFromGroup": {on: onGroup},
	"AttachGroupPolicy": {onGroup, keyPolicyARN}, "DetachGroupPolicy": {onGroup, keyPolicyARN},
	"ListAttachedGroupPolicies": {on: onGroup},
	"ListGroupsForUser":         {on: onUser}, "GetLoginProfile": {on: onUser}, "DeleteLoginProfile": {on: onUser}, "CreateLoginProfile": {on: onUser},
	"CreateAccessKey": {on: onUser}, "ListAccessKeys": {on: onUser}, "UpdateAccessKey": {on: onUser},
	"DeleteAccessKey": {on: onUser}, "GetAccessKeyLastUsed": {on: onAccessKeyUser},
	"ListSigningCertificates": {on: onUser}, "DeleteSigningCertificate": {on: onUser},
	"ListSSHPublicKeys": {on: onUser}, "DeleteSSHPublicKey": {on: onUser},
	"ListServiceSpecificCredentials": {on: onUser}, "DeleteServiceSpecificCredential": {on: onUser},
	"ListMFADevices": {on: onUser}, "DeactivateMFADevice": {on: onUser}, "DeleteVirtualMFADevice": {on: onMFADevice},
	"CreatePolicy": {onNewPolicy, keyRequestTags}, "GetPolicy": {on: onPolicy}, "DeletePolicy": {on: onPolicy},
	"CreatePolicyVersion": {on: onPolicy}, "GetPolicyVersion": {on: onPolicy}, "ListPolicyVersions": {on: onPolicy},
	"DeletePolicyVersion": {on: onPolicy}, "SetDefaultPolicyVersion": {on: onPolicy},
	"SimulatePrincipalPolicy": {on: onPolicySource},
}

// authzRequest is one authorization IAM makes for a call.
type authzRequest struct {
	action   string // "iam:CreateUser"
	resource string
	ctx      iampolicy.Context
}

// authzRequests returns the authorizations an IAM call needs: one, or for
// a CreateUser that carries tags two, iam:CreateUser and iam:TagUser, the
// latter with only the request's tags (AWS's example policy "IAM: Create
// new users only with specific tags" grants both actions for that reason).
func (st *state) authzRequests(action string, form url.Values, p principal) []authzRequest {
	spec := specOf(action, form)
	resource, target, tags := st.resourceOf(spec.on, action, form, p)
	ctx := iampolicy.Context{}
	for _, t := range tags {
		ctx.Set("aws:ResourceTag/"+t.Key, t.Value)
		if spec.on == onUser || spec.on == onAccessKeyUser {
			ctx.Set("iam:ResourceTag/"+t.Key, t.Value)
		}
	}
	actionKeys(ctx, spec.keys, form, target)
	out := []authzRequest{{action: "iam:" + action, resource: resource, ctx: ctx}}
	if action == "CreateUser" && len(listMember(form, "Tags", "Key")) > 0 {
		tagCtx := iampolicy.Context{}
		requestTags(tagCtx, form)
		out = append(out, authzRequest{action: "iam:TagUser", resource: resource, ctx: tagCtx})
	}
	return append(out, st.alsoAuthorized(action, form)...)
}

// actionKeys adds the action-specific condition keys the rules name.
func actionKeys(ctx iampolicy.Context, rules keyRule, form url.Values, target *User) {
	if rules&keyTargetBoundary != 0 && target != nil && target.PermissionsBoundary != "" {
		ctx.Set("iam:PermissionsBoundary", target.PermissionsBoundary)
	}
	if b := form.Get("PermissionsBoundary"); rules&keyRequestBoundary != 0 && b != "" {
		ctx.Set("iam:PermissionsBoundary", b)
	}
	if a := form.Get("PolicyArn"); rules&keyPolicyARN != 0 && a != "" {
		ctx.Set("iam:PolicyARN", a)
	}
	if rules&keyRequestTags != 0 {
		requestTags(ctx, form)
	}
	if keys := listMember(form, "TagKeys", ""); rules&keyUntagKeys != 0 && len(keys) > 0 {
		ctx.Set("aws:TagKeys", keys...)
	}
}

// requestTags adds aws:RequestTag/${TagKey} for each tag of the request
// and aws:TagKeys with their keys.
func requestTags(ctx iampolicy.Context, form url.Values) {
	keys, values := listMember(form, "Tags", "Key"), listMember(form, "Tags", "Value")
	for i, k := range keys {
		if i < len(values) {
			ctx.Set("aws:RequestTag/"+k, values[i])
		}
	}
	if len(keys) > 0 {
		ctx.Set("aws:TagKeys", keys...)
	}
}

// resourceOf returns the ARN an action acts on, the existing user it
// targets (if any) and the tags of the existing resource.
func (st *state) resourceOf(on resourceKind, action string, form url.Values, p principal) (string, *User, []Tag) {
	if arn, ok := st.otherResource(on, form); ok {
		return arn, nil, nil
	}
	prefix := "arn:aws:iam::" + st.account + ":"
	switch on {
	case onUser:
		return st.userResource(form.Get("UserName"), p)
	case onNewUser:
		return prefix + "user" + pathOr(form.Get("Path")) + form.Get("UserName"), nil, nil
	case onAccessKeyUser:
		if u, _ := st.findKey(form.Get("AccessKeyId")); u != nil {
			return u.ARN, u, u.Tags
		}
		return st.userResource("", p)
	case onGroup:
		if g, ok := st.groups[strings.ToLower(form.Get("GroupName"))]; ok {
			return g.ARN, nil, nil
		}
		return prefix + "group/" + form.Get("GroupName"), nil, nil
	case onNewGroup:
		return prefix + "group" + pathOr(form.Get("Path")) + form.Get("GroupName"), nil, nil
	case onPolicy:
		arn := form.Get("PolicyArn")
		if mp := st.managedPolicy(arn); mp != nil {
			return arn, nil, mp.Tags
		}
		return arn, nil, nil
	case onNewPolicy:
		return policyARN(st.account, pathOr(form.Get("Path")), form.Get("PolicyName")), nil, nil
	case onMFADevice:
		if serial := form.Get("SerialNumber"); strings.HasPrefix(serial, "arn:") {
			return serial, nil, nil
		}
		return prefix + "mfa/" + form.Get("SerialNumber"), nil, nil
	case onPolicySource:
		return form.Get("PolicySourceArn"), nil, nil
	}
	// Actions without a resource type: IAM names the account's
	// collection in its AccessDenied message, e.g. "on resource:
	// arn:aws:iam::123456789012:user/" for ListUsers.
	if action == "ListPolicies" {
		return prefix + "policy/", nil, nil
	}
	return prefix + "user/", nil, nil
}

// userResource names the user an action targets: UserName, or the caller
// itself when the action allows leaving it out (GetUser, the key actions).
func (st *state) userResource(name string, p principal) (string, *User, []Tag) {
	if name == "" && p.user != nil {
		return p.user.ARN, p.user, p.user.Tags
	}
	if name == "" {
		return p.arn, nil, nil
	}
	if u, ok := st.users[strings.ToLower(name)]; ok {
		return u.ARN, u, u.Tags
	}
	return "arn:aws:iam::" + st.account + ":user/" + name, nil, nil
}

func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
