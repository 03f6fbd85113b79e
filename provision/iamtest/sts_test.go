package iamtest_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

const (
	stsAcct      = "arn:aws:iam::123456789012:"
	sameRole     = stsAcct + "role/admin"
	otherRole    = "arn:aws:iam::210987654321:role/mail-admin"
	senderKey    = "AKIASENDER000000001"
	senderSecret = "sender-secret-00000000000000000000000"
	sendOnly     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`
	allowAll     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
)

func trusting(principal string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"sts:AssumeRole"}]}`
}

func allowAssume(role string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"` + role + `"}]}`
}

// TestAssumeRoleAuthorization: sts:AssumeRole is authorized as the IAM
// User Guide's "Policy evaluation logic" (same account: a trust policy
// naming the user's ARN is enough, even past an implicit deny in the
// user's boundary; one naming the account leaves it to the user's
// identity policies within its boundary; role trust policies must always
// allow) and "Cross-account policy evaluation logic" (both must allow).
func TestAssumeRoleAuthorization(t *testing.T) {
	userARN := stsAcct + "user/sesmtp/s1"
	tests := []struct {
		name     string
		role     iamtest.Role
		inline   string // the user's identity policy
		boundary string // its boundary's document, "" for none
		extID    string
		allowed  bool
	}{
		{"account trust, identity allows", iamtest.Role{ARN: sameRole}, allowAssume(sameRole), "", "", true},
		{"account trust, identity silent", iamtest.Role{ARN: sameRole}, sendOnly, "", "", false},
		{"account trust, identity allows, boundary does not", iamtest.Role{ARN: sameRole}, allowAll, sendOnly, "", false},
		{"account id as principal", iamtest.Role{ARN: sameRole, TrustPolicy: trusting("123456789012")}, allowAssume(sameRole), "", "", true},
		{"user ARN trusted, identity silent (same account)", iamtest.Role{ARN: sameRole, TrustPolicy: trusting(userARN)}, sendOnly, "", "", true},
		{"user ARN trusted, boundary silent (same account)", iamtest.Role{ARN: sameRole, TrustPolicy: trusting(userARN)}, allowAll, sendOnly, "", true},
		{"user ARN trusted, identity denies", iamtest.Role{ARN: sameRole, TrustPolicy: trusting(userARN)},
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:*","Resource":"*"}]}`, "", "", false},
		{"user ARN without its path", iamtest.Role{ARN: sameRole, TrustPolicy: trusting(stsAcct + "user/s1")}, sendOnly, "", "", false},
		{"another account trusted", iamtest.Role{ARN: sameRole, TrustPolicy: trusting("arn:aws:iam::210987654321:root")}, allowAll, "", "", false},
		{"identity alone never enough", iamtest.Role{ARN: sameRole, TrustPolicy: trusting(stsAcct + "user/other")}, allowAll, "", "", false},
		{"cross-account, user trusted, identity silent", iamtest.Role{ARN: otherRole, TrustPolicy: trusting(userARN)}, sendOnly, "", "", false},
		{"cross-account, user trusted, identity allows", iamtest.Role{ARN: otherRole, TrustPolicy: trusting(userARN)}, allowAssume(otherRole), "", "", true},
		{"cross-account, account trusted, boundary silent", iamtest.Role{ARN: otherRole}, allowAll, sendOnly, "", false},
		{"external id given", iamtest.Role{ARN: otherRole, ExternalID: "ext-1"}, allowAll, "", "ext-1", true},
		{"external id wrong", iamtest.Role{ARN: otherRole, ExternalID: "ext-1"}, allowAll, "", "ext-2", false},
		{"external id missing", iamtest.Role{ARN: otherRole, ExternalID: "ext-1"}, allowAll, "", "", false},
		{"unknown role", iamtest.Role{ARN: stsAcct + "role/elsewhere"}, allowAll, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ask := tt.role.ARN
			if tt.name == "unknown role" {
				tt.role.ARN = sameRole
			}
			e := iamtest.Start(t, iamtest.WithRole(tt.role))
			srv := e.Local(t)
			u := iamtest.User{Name: "s1", Path: "/sesmtp/", InlinePolicies: map[string]string{"p": tt.inline},
				AccessKeys: []iamtest.AccessKey{{ID: senderKey, SecretAccessKey: senderSecret}}}
			if tt.boundary != "" {
				u.PermissionsBoundary = srv.PutPolicy("/", "B", tt.boundary)
			}
			srv.PutUser(u)
			_, err := stsClient(e, senderKey, senderSecret).AssumeRole(t.Context(), assumeInput(ask, tt.extID))
			if tt.allowed {
				require.NoError(t, err)
				return
			}
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "AccessDenied", ae.ErrorCode())
			assert.Contains(t, ae.ErrorMessage(), "User: "+userARN+" is not authorized to perform: sts:AssumeRole on resource: "+ask)
		})
	}
}

// TestAssumedRoleSessionPolicies: the session holds Role.Policies.
func TestAssumedRoleSessionPolicies(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithRole(iamtest.Role{ARN: sameRole,
		Policies: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}`}}))
	e.Local(t, "a role's session policies")
	out, err := stsClient(e, e.AccessKeyID, e.SecretAccessKey).AssumeRole(t.Context(), assumeInput(sameRole, ""))
	require.NoError(t, err)
	c := *e
	c.AccessKeyID, c.SecretAccessKey = aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey)
	session := c.Client(func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	_, err = session.ListUsers(t.Context(), &iam.ListUsersInput{})
	require.NoError(t, err)
	_, err = session.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("x")})
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "AccessDenied", ae.ErrorCode())
}

func stsClient(e *iamtest.Endpoint, id, secret string) *sts.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}
	return sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(e.URL); o.RetryMaxAttempts = 1 })
}

func assumeInput(role, externalID string) *sts.AssumeRoleInput {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("t")}
	if externalID != "" {
		in.ExternalId = aws.String(externalID)
	}
	return in
}
