package iamtest_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// TestUnimplementedActionsAreAuthorizedFirst: an action IAM knows but the
// server does not implement is authorized like any other (AccessDenied
// for a caller whose policies do not allow it, with the further
// authorizations some actions need), then answered InvalidAction; a name
// IAM does not know is InvalidAction for everyone ("Common Errors").
func TestUnimplementedActionsAreAuthorizedFirst(t *testing.T) {
	const (
		allowListed = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:UploadSSHPublicKey","iam:AddRoleToInstanceProfile"],"Resource":"*"},` +
			`{"Effect":"Allow","Action":"iam:UpdateUser","Resource":"arn:aws:iam::123456789012:user/alice"}]}`
		nothing = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}`
	)
	form := func(kv ...string) url.Values {
		v := url.Values{"Version": {iamtest.APIVersion}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		policy string // "" for the allow-all default caller
		form   url.Values
		status int
		want   string
	}{
		{"unknown name, restricted caller", nothing, form("Action", "LaunchRocket"), 400, "<Code>InvalidAction</Code>"},
		{"known, not allowed", nothing, form("Action", "UploadSSHPublicKey", "UserName", "alice", "SSHPublicKeyBody", "ssh-rsa x"), 403,
			"iam:UploadSSHPublicKey on resource: arn:aws:iam::123456789012:user/alice"},
		{"known, allowed", allowListed, form("Action", "UploadSSHPublicKey", "UserName", "alice", "SSHPublicKeyBody", "ssh-rsa x"), 400, "<Code>InvalidAction</Code>"},
		{"known, admin", "", form("Action", "CreateServiceSpecificCredential", "UserName", "alice", "ServiceName", "codecommit.amazonaws.com"), 400, "<Code>InvalidAction</Code>"},
		{"a role passed needs iam:PassRole", allowListed, form("Action", "AddRoleToInstanceProfile", "InstanceProfileName", "p", "RoleName", "admin"), 403,
			"iam:PassRole on resource: arn:aws:iam::123456789012:role/admin"},
		{"a user moved needs UpdateUser on the target", allowListed, form("Action", "UpdateUser", "UserName", "alice", "NewPath", "/sesmtp/"), 403,
			"iam:UpdateUser on resource: arn:aws:iam::123456789012:user/sesmtp/alice"},
		{"a role's policy", nothing, form("Action", "PutRolePolicy", "RoleName", "admin", "PolicyName", "p", "PolicyDocument", "{}"), 403,
			"iam:PutRolePolicy on resource: arn:aws:iam::123456789012:role/admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []iamtest.Option
			if tt.policy != "" {
				opts = append(opts, iamtest.WithCaller(iamtest.Caller{AccessKeyID: iamtest.DefaultAccessKeyID,
					SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops", Policies: []string{tt.policy}}))
			}
			e := iamtest.Start(t, opts...)
			e.Local(t).PutUser(iamtest.User{Name: "alice"})
			status, body := signedPost(t, e.URL, tt.form, iamtest.DefaultSecretAccessKey, nil)
			assert.Equal(t, tt.status, status, body)
			assert.Contains(t, body, tt.want)
		})
	}
}
