package iamtest

import (
	"net/url"
	"strings"

	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

// Resource kinds of IAM actions the server does not implement but still
// authorizes (iamactions.go): they name roles, instance profiles and new
// virtual MFA devices.
const (
	onRole            resourceKind = iota + 100 // RoleName
	onNewRole                                   // CreateRole: Path + RoleName
	onInstanceProfile                           // InstanceProfileName
	onNewMFA                                    // CreateVirtualMFADevice: Path + VirtualMFADeviceName
)

// unimplementedSpecs are the resource types and condition keys, from the
// Service Authorization Reference (IAM), of actions an attacker tries and
// the server does not implement: they are authorized, then answered
// InvalidAction.
var unimplementedSpecs = map[string]actionSpec{
	"CreateLoginProfile": {on: onUser}, "UpdateLoginProfile": {on: onUser}, "UpdateUser": {on: onUser},
	"UploadSSHPublicKey": {on: onUser}, "UpdateSSHPublicKey": {on: onUser},
	"CreateServiceSpecificCredential": {on: onUser}, "ResetServiceSpecificCredential": {on: onUser},
	"UpdateServiceSpecificCredential": {on: onUser}, "UploadSigningCertificate": {on: onUser},
	"UpdateSigningCertificate": {on: onUser}, "EnableMFADevice": {on: onUser}, "ResyncMFADevice": {on: onUser},
	"CreateVirtualMFADevice": {on: onNewMFA, keys: keyRequestTags},
	"CreateRole":             {onNewRole, keyRequestBoundary | keyRequestTags},
	"PutRolePolicy":          {onRole, keyTargetBoundary}, "AttachRolePolicy": {onRole, keyTargetBoundary | keyPolicyARN},
	"UpdateAssumeRolePolicy": {on: onRole}, "PutRolePermissionsBoundary": {onRole, keyRequestBoundary},
	"CreateInstanceProfile":    {on: onInstanceProfile, keys: keyRequestTags},
	"AddRoleToInstanceProfile": {on: onInstanceProfile},
}

// specOf returns the spec of action: its own, else one read from the
// parameter that names what it acts on.
func specOf(action string, form url.Values) actionSpec {
	if spec, ok := actionSpecs[action]; ok {
		return spec
	}
	if spec, ok := unimplementedSpecs[action]; ok {
		return spec
	}
	for _, p := range []struct {
		param string
		on    resourceKind
	}{{"UserName", onUser}, {"RoleName", onRole}, {"GroupName", onGroup}, {"PolicyArn", onPolicy}, {"InstanceProfileName", onInstanceProfile}} {
		if form.Get(p.param) != "" {
			return actionSpec{on: p.on}
		}
	}
	return actionSpec{on: onAccount}
}

// otherResource names the resources of the kinds above.
func (st *state) otherResource(on resourceKind, form url.Values) (string, bool) {
	prefix := "arn:aws:iam::" + st.account + ":"
	switch on {
	case onRole:
		return prefix + "role/" + form.Get("RoleName"), true
	case onNewRole:
		return prefix + "role" + pathOr(form.Get("Path")) + form.Get("RoleName"), true
	case onInstanceProfile:
		return prefix + "instance-profile" + pathOr(form.Get("Path")) + form.Get("InstanceProfileName"), true
	case onNewMFA:
		return prefix + "mfa" + pathOr(form.Get("Path")) + form.Get("VirtualMFADeviceName"), true
	}
	return "", false
}

// alsoAuthorized returns the further authorizations some actions need:
// AddRoleToInstanceProfile also needs iam:PassRole on the role
// (AddRoleToInstanceProfile API reference: "The caller of this operation
// must be granted the PassRole permission on the IAM role"), and
// UpdateUser, renaming or moving a user, iam:UpdateUser on the target too
// (UpdateUser API reference: "the requester must have appropriate
// permissions on both the source object and the target object").
func (st *state) alsoAuthorized(action string, form url.Values) []authzRequest {
	prefix := "arn:aws:iam::" + st.account + ":"
	switch action {
	case "AddRoleToInstanceProfile":
		return []authzRequest{{action: "iam:PassRole", resource: prefix + "role/" + form.Get("RoleName"), ctx: iampolicy.Context{}}}
	case "UpdateUser":
		u, ok := st.users[strings.ToLower(form.Get("UserName"))]
		if !ok || form.Get("NewPath") == "" && form.Get("NewUserName") == "" {
			return nil
		}
		path, name := u.Path, u.Name
		if p := form.Get("NewPath"); p != "" {
			path = p
		}
		if n := form.Get("NewUserName"); n != "" {
			name = n
		}
		return []authzRequest{{action: "iam:UpdateUser", resource: prefix + "user" + path + name, ctx: iampolicy.Context{}}}
	}
	return nil
}
