package iamtest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func noRetry(o *iam.Options) { o.Retryer = aws.NopRetryer{} }

// retryConnectionErrors retries only failures without an answer (a
// keep-alive connection the client closed under a request, seen once in a
// few hundred runs under -race), so that every API error reaches the test
// as IAM sent it.
func retryConnectionErrors(o *iam.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}

func newLocal(t *testing.T, opts ...iamtest.Option) (*iamtest.Server, *iam.Client) {
	t.Helper()
	e := iamtest.Start(t, opts...)
	srv := e.Local(t)
	return srv, e.Client(retryConnectionErrors)
}

// code returns the IAM error code of err ("" for nil).
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "untyped: " + err.Error()
	}
	return ""
}

func TestUserLifecycle(t *testing.T) {
	srv, c := newLocal(t)
	ctx := t.Context()
	srv.PutPolicy("/", "boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:*","Resource":"*"}]}`)

	out, err := c.CreateUser(ctx, &iam.CreateUserInput{
		UserName: aws.String("alice"), Path: aws.String("/smtp/"),
		Tags:                []types.Tag{{Key: aws.String("team"), Value: aws.String("ops")}},
		PermissionsBoundary: aws.String("arn:aws:iam::123456789012:policy/boundary"),
	})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:iam::123456789012:user/smtp/alice", aws.ToString(out.User.Arn))
	assert.Regexp(t, `^AIDA[A-Z2-7]{17}$`, aws.ToString(out.User.UserId))
	assert.WithinDuration(t, time.Now(), aws.ToTime(out.User.CreateDate), time.Minute)

	got, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("ALICE")})
	require.NoError(t, err, "user names are case-insensitive")
	assert.Equal(t, "alice", aws.ToString(got.User.UserName))
	assert.Equal(t, "arn:aws:iam::123456789012:policy/boundary", aws.ToString(got.User.PermissionsBoundary.PermissionsBoundaryArn))
	require.Len(t, got.User.Tags, 1)

	_, err = c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{{Key: aws.String("TEAM"), Value: aws.String("mail")}, {Key: aws.String("x"), Value: aws.String("")}}})
	require.NoError(t, err)
	tags, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	assert.Equal(t, []types.Tag{{Key: aws.String("TEAM"), Value: aws.String("mail")}, {Key: aws.String("x"), Value: aws.String("")}}, tags.Tags)
	_, err = c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("alice"), TagKeys: []string{"x"}})
	require.NoError(t, err)

	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)})
	require.NoError(t, err)
	gp, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("p")})
	require.NoError(t, err)
	decoded, err := url.PathUnescape(aws.ToString(gp.PolicyDocument))
	require.NoError(t, err)
	assert.Equal(t, doc, decoded, "IAM returns documents URL-encoded")
	assert.NotEqual(t, doc, aws.ToString(gp.PolicyDocument))
	lp, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	assert.Equal(t, []string{"p"}, lp.PolicyNames)

	arn := "arn:aws:iam::aws:policy/AmazonSESFullAccess"
	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arn)})
	require.NoError(t, err)
	ap, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	require.Len(t, ap.AttachedPolicies, 1)
	assert.Equal(t, "AmazonSESFullAccess", aws.ToString(ap.AttachedPolicies[0].PolicyName))

	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	assert.Regexp(t, `^AKIA[A-Z2-7]{16}$`, aws.ToString(k.AccessKey.AccessKeyId))
	assert.Len(t, aws.ToString(k.AccessKey.SecretAccessKey), 40)
	assert.Equal(t, types.StatusTypeActive, k.AccessKey.Status)
	u, _ := srv.User("alice")
	assert.Equal(t, aws.ToString(k.AccessKey.SecretAccessKey), u.AccessKeys[0].SecretAccessKey)

	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
	var conflict *types.DeleteConflictException
	require.ErrorAs(t, err, &conflict)

	keyID := k.AccessKey.AccessKeyId
	_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: keyID, Status: types.StatusTypeInactive})
	require.NoError(t, err)
	lk, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	require.Len(t, lk.AccessKeyMetadata, 1)
	assert.Equal(t, types.StatusTypeInactive, lk.AccessKeyMetadata[0].Status)

	lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: keyID})
	require.NoError(t, err)
	assert.Equal(t, "N/A", aws.ToString(lu.AccessKeyLastUsed.ServiceName))
	assert.Nil(t, lu.AccessKeyLastUsed.LastUsedDate)
	used := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	require.True(t, srv.SetKeyLastUsed(aws.ToString(keyID), used, "ses", "eu-west-1"))
	lu, err = c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: keyID})
	require.NoError(t, err)
	assert.Equal(t, used, aws.ToTime(lu.AccessKeyLastUsed.LastUsedDate))
	assert.Equal(t, "eu-west-1", aws.ToString(lu.AccessKeyLastUsed.Region))

	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: keyID})
	require.NoError(t, err)
	_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("p")})
	require.NoError(t, err)
	_, err = c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arn)})
	require.NoError(t, err)
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	assert.Empty(t, srv.Users())
}

func TestGroups(t *testing.T) {
	srv, c := newLocal(t)
	ctx := t.Context()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})
	require.NoError(t, err)
	g, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("AWSSESSendingGroupDoNotRename")})
	require.NoError(t, err)
	assert.Regexp(t, `^AGPA`, aws.ToString(g.Group.GroupId))
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("awssessendinggroupdonotrename")})
	var exists *types.EntityAlreadyExistsException
	require.ErrorAs(t, err, &exists)

	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`
	_, err = c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: g.Group.GroupName, PolicyName: aws.String("send"), PolicyDocument: aws.String(doc)})
	require.NoError(t, err)
	gp, err := c.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: g.Group.GroupName, PolicyName: aws.String("send")})
	require.NoError(t, err)
	assert.Equal(t, url.PathEscape(doc), aws.ToString(gp.PolicyDocument))
	lgp, err := c.ListGroupPolicies(ctx, &iam.ListGroupPoliciesInput{GroupName: g.Group.GroupName})
	require.NoError(t, err)
	assert.Equal(t, []string{"send"}, lgp.PolicyNames)

	_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: g.Group.GroupName, UserName: aws.String("bob")})
	require.NoError(t, err)
	gg, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: g.Group.GroupName})
	require.NoError(t, err)
	require.Len(t, gg.Users, 1)
	lg, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("bob")})
	require.NoError(t, err)
	require.Len(t, lg.Groups, 1)

	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: g.Group.GroupName})
	var conflict *types.DeleteConflictException
	require.ErrorAs(t, err, &conflict)
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")})
	require.ErrorAs(t, err, &conflict, "a group member cannot be deleted")

	_, err = c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: g.Group.GroupName, UserName: aws.String("bob")})
	require.NoError(t, err)
	_, err = c.DeleteGroupPolicy(ctx, &iam.DeleteGroupPolicyInput{GroupName: g.Group.GroupName, PolicyName: aws.String("send")})
	require.NoError(t, err)
	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: g.Group.GroupName})
	require.NoError(t, err)
	assert.Empty(t, srv.Groups())
}

func TestDeleteUserBlockers(t *testing.T) {
	srv, c := newLocal(t)
	ctx := t.Context()
	srv.PutUser(iamtest.User{
		Name: "console", LoginProfile: true, SigningCertificates: []string{"CERT1"}, SSHPublicKeys: []string{"APKA1"},
		ServiceCredentials: []string{"ACCA1"}, MFADevices: []string{"arn:aws:iam::123456789012:mfa/console"},
	})
	name := aws.String("console")
	_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: name})
	require.NoError(t, err)
	steps := []func() error{
		func() error {
			_, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: name})
			return err
		},
		func() error {
			l, err := c.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: name})
			require.NoError(t, err)
			_, err = c.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: name, CertificateId: l.Certificates[0].CertificateId})
			return err
		},
		func() error {
			l, err := c.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: name})
			require.NoError(t, err)
			_, err = c.DeleteSSHPublicKey(ctx, &iam.DeleteSSHPublicKeyInput{UserName: name, SSHPublicKeyId: l.SSHPublicKeys[0].SSHPublicKeyId})
			return err
		},
		func() error {
			l, err := c.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: name})
			require.NoError(t, err)
			_, err = c.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: name,
				ServiceSpecificCredentialId: l.ServiceSpecificCredentials[0].ServiceSpecificCredentialId})
			return err
		},
		func() error {
			l, err := c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: name})
			require.NoError(t, err)
			serial := l.MFADevices[0].SerialNumber
			_, err = c.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: serial})
			var conflict *types.DeleteConflictException
			require.ErrorAs(t, err, &conflict, "a virtual MFA device in use cannot be deleted")
			if _, err := c.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: name, SerialNumber: serial}); err != nil {
				return err
			}
			if _, err := c.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: serial}); err != nil {
				return err
			}
			_, err = c.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: serial})
			var gone *types.NoSuchEntityException
			require.ErrorAs(t, err, &gone, "a deleted virtual MFA device is gone")
			return nil
		},
	}
	for i, step := range steps {
		_, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: name})
		var conflict *types.DeleteConflictException
		require.ErrorAsf(t, err, &conflict, "before step %d", i)
		require.NoError(t, step())
	}
	_, err = c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: name})
	var nse *types.NoSuchEntityException
	require.ErrorAs(t, err, &nse)
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: name})
	require.NoError(t, err)
}

func TestErrorsBecomeTypedExceptions(t *testing.T) {
	srv, c := newLocal(t)
	ctx := t.Context()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("taken")})
	require.NoError(t, err)
	srv.PutUser(iamtest.User{Name: "twokeys", AccessKeys: []iamtest.AccessKey{{ID: "AKIAAAAAAAAAAAAAAAA1"}, {ID: "AKIAAAAAAAAAAAAAAAA2"}}})
	long := strings.Repeat("a", 65)

	tests := []struct {
		name     string
		call     func() error
		wantCode string
		wantType any
		status   int
	}{
		{"no such user", func() error { _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")}); return err },
			"NoSuchEntity", new(*types.NoSuchEntityException), 404},
		{"already exists (case-insensitive)", func() error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("TAKEN")})
			return err
		}, "EntityAlreadyExists", new(*types.EntityAlreadyExistsException), 409},
		{"delete conflict", func() error {
			_, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("twokeys")})
			return err
		}, "DeleteConflict", new(*types.DeleteConflictException), 409},
		{"two-key limit", func() error {
			_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("twokeys")})
			return err
		}, "LimitExceeded", new(*types.LimitExceededException), 409},
		{"name too long", func() error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(long)})
			return err
		},
			"ValidationError", nil, 400},
		{"name with space", func() error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("a b")})
			return err
		},
			"ValidationError", nil, 400},
		{"bad path", func() error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("p"), Path: aws.String("smtp")})
			return err
		}, "ValidationError", nil, 400},
		{"aws: tag", func() error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("t"), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}})
			return err
		}, "InvalidInput", new(*types.InvalidInputException), 400},
		{"malformed policy", func() error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("taken"), PolicyName: aws.String("p"), PolicyDocument: aws.String("{not json")})
			return err
		}, "MalformedPolicyDocument", new(*types.MalformedPolicyDocumentException), 400},
		{"policy too large", func() error {
			big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Sid":"` + strings.Repeat("x", 2100) + `"}]}`
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("taken"), PolicyName: aws.String("p"), PolicyDocument: aws.String(big)})
			return err
		}, "LimitExceeded", new(*types.LimitExceededException), 409},
		{"no such key", func() error {
			_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("taken"), AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAA9")})
			return err
		}, "NoSuchEntity", new(*types.NoSuchEntityException), 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			assert.Equal(t, tt.wantCode, code(err))
			if tt.wantType != nil {
				assert.ErrorAs(t, err, tt.wantType)
			}
			var re interface{ HTTPStatusCode() int }
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.status, re.HTTPStatusCode())
		})
	}
}

// signedPost sends form to the endpoint signed with secret (SigV4,
// service iam), optionally changing the body after signing.
func signedPost(t *testing.T, url string, form url.Values, secret string, tamper func(string) string) (int, string) {
	t.Helper()
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: secret}
	require.NoError(t, v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()))
	if tamper != nil {
		tampered := tamper(body)
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader(tampered)), int64(len(tampered))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode, readAll(t, resp)
}

func TestUnknownActionAndVersion(t *testing.T) {
	e := iamtest.Start(t)
	e.Local(t)
	post := func(form url.Values) (int, string) {
		return signedPost(t, e.URL, form, iamtest.DefaultSecretAccessKey, nil)
	}
	status, body := post(url.Values{"Action": {"LaunchRocket"}, "Version": {iamtest.APIVersion}})
	assert.Equal(t, 400, status)
	assert.Contains(t, body, "<Code>InvalidAction</Code>")
	assert.Contains(t, body, "<RequestId>")
	status, body = post(url.Values{"Action": {"ListUsers"}, "Version": {"2009-01-01"}})
	assert.Equal(t, 400, status)
	assert.Contains(t, body, "InvalidParameterValue")
	status, body = post(url.Values{"Action": {"ListUsers"}, "Version": {iamtest.APIVersion}})
	assert.Equal(t, 200, status)
	assert.Contains(t, body, `<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">`)
}

func TestSignatureIsVerified(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	form := url.Values{"Action": {"CreateUser"}, "Version": {iamtest.APIVersion}, "UserName": {"eve"}}
	status, body := signedPost(t, e.URL, form, "not-the-secret", nil)
	assert.Equal(t, 403, status)
	assert.Contains(t, body, "<Code>SignatureDoesNotMatch</Code>")
	status, body = signedPost(t, e.URL, form, iamtest.DefaultSecretAccessKey, func(b string) string {
		return strings.Replace(b, "eve", "mallory", 1)
	})
	assert.Equal(t, 403, status, "a body changed after signing is refused")
	assert.Contains(t, body, "SignatureDoesNotMatch")
	assert.Empty(t, srv.Users())
	status, _ = signedPost(t, e.URL, form, iamtest.DefaultSecretAccessKey, nil)
	assert.Equal(t, 200, status)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestListUsersPagination(t *testing.T) {
	srv, c := newLocal(t)
	for i := range 257 {
		srv.PutUser(iamtest.User{Name: fmt.Sprintf("u%03d", i), Path: map[bool]string{true: "/smtp/", false: "/"}[i%2 == 0]})
	}
	var names []string
	pages := 0
	p := iam.NewListUsersPaginator(c, &iam.ListUsersInput{MaxItems: aws.Int32(100)})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		require.NoError(t, err)
		pages++
		for _, u := range out.Users {
			names = append(names, aws.ToString(u.UserName))
			assert.Empty(t, u.Tags, "ListUsers leaves tags out, as IAM does")
		}
	}
	assert.Equal(t, 3, pages)
	require.Len(t, names, 257)
	assert.Equal(t, "u000", names[0])
	assert.Equal(t, "u256", names[256])

	out, err := c.ListUsers(t.Context(), &iam.ListUsersInput{PathPrefix: aws.String("/smtp/"), MaxItems: aws.Int32(1000)})
	require.NoError(t, err)
	assert.Len(t, out.Users, 129)
	assert.False(t, out.IsTruncated)

	_, err = c.ListUsers(t.Context(), &iam.ListUsersInput{MaxItems: aws.Int32(1001)})
	assert.Equal(t, "ValidationError", code(err))
	_, err = c.ListUsers(t.Context(), &iam.ListUsersInput{Marker: aws.String("garbage!")})
	assert.Equal(t, "ValidationError", code(err))
}

func TestAuthentication(t *testing.T) {
	limited := iamtest.Caller{AccessKeyID: "AKIALIMITEDEXAMPLE01", SecretAccessKey: "limited-secret", UserName: "ops", Allow: []string{"iam:ListUsers"}}
	expired := iamtest.Caller{AccessKeyID: "AKIAEXPIREDEXAMPLE01", SecretAccessKey: "expired-secret", UserName: "old", Expired: true}
	e := iamtest.Start(t, iamtest.WithCaller(limited), iamtest.WithCaller(expired))
	e.Local(t)
	client := func(id, secret string) *iam.Client {
		e2 := *e
		e2.AccessKeyID, e2.SecretAccessKey = id, secret
		return e2.Client(noRetry)
	}
	ctx := t.Context()

	_, err := client(limited.AccessKeyID, limited.SecretAccessKey).ListUsers(ctx, &iam.ListUsersInput{})
	require.NoError(t, err)
	_, err = client(limited.AccessKeyID, limited.SecretAccessKey).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")})
	assert.Equal(t, "AccessDenied", code(err))
	assert.ErrorContains(t, err, "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: iam:CreateUser on resource: "+
		"arn:aws:iam::123456789012:user/x because no identity-based policy allows the iam:CreateUser action")

	_, err = client("AKIAUNKNOWNEXAMPLE01", "x").ListUsers(ctx, &iam.ListUsersInput{})
	assert.Equal(t, "InvalidClientTokenId", code(err))
	_, err = client(expired.AccessKeyID, expired.SecretAccessKey).ListUsers(ctx, &iam.ListUsersInput{})
	assert.Equal(t, "ExpiredToken", code(err))
}

func TestFaults(t *testing.T) {
	e := iamtest.Start(t)
	srv, c := e.Local(t), e.Client(noRetry) // drops must reach the test
	ctx := t.Context()

	srv.Inject(iamtest.Fault{Action: "CreateUser", Nth: 2, Kind: iamtest.FailBefore, Code: "Throttling"})
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("one")})
	require.NoError(t, err)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("two")})
	assert.Equal(t, "Throttling", code(err))
	_, ok := srv.User("two")
	assert.False(t, ok, "FailBefore does not perform the action")

	srv.Inject(iamtest.Fault{Action: "CreateUser", Nth: 2, Kind: iamtest.FailAfter}) // counts from when it was added
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("three")})
	require.NoError(t, err)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("four")})
	assert.Equal(t, "ServiceFailure", code(err))
	_, ok = srv.User("four")
	assert.True(t, ok, "FailAfter performs the action")

	srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.DropAfter, Match: func(c iamtest.Call) bool { return c.UserName == "one" }})
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("one")})
	require.Error(t, err)
	assert.True(t, retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool(), "a dropped connection is retryable: %v", err)
	u, _ := srv.User("one")
	assert.Len(t, u.AccessKeys, 1, "DropAfter performs the action, the answer is lost")
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("three")})
	require.NoError(t, err, "Match limits the fault to user one")

	srv.Inject(iamtest.Fault{Action: "GetUser", Kind: iamtest.DropBefore, Nth: 1})
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("one")})
	require.Error(t, err)

	calls := srv.Calls()
	u1, _ := srv.User("one")
	u3, _ := srv.User("three")
	want := []iamtest.Call{
		{Action: "CreateUser", UserName: "one", Caller: "admin", Outcome: "ok", Seq: 1},
		{Action: "CreateUser", UserName: "two", Caller: "admin", Outcome: "Throttling", Fault: iamtest.FailBefore},
		{Action: "CreateUser", UserName: "three", Caller: "admin", Outcome: "ok", Seq: 2},
		{Action: "CreateUser", UserName: "four", Caller: "admin", Outcome: "performed, then ServiceFailure", Fault: iamtest.FailAfter, Seq: 3},
		{Action: "CreateAccessKey", UserName: "one", AccessKeyID: u1.AccessKeys[0].ID, Caller: "admin", Outcome: "performed, then dropped", Fault: iamtest.DropAfter, Seq: 4},
		{Action: "CreateAccessKey", UserName: "three", AccessKeyID: u3.AccessKeys[0].ID, Caller: "admin", Outcome: "ok", Seq: 5},
		{Action: "GetUser", UserName: "one", Caller: "admin", Outcome: "dropped", Fault: iamtest.DropBefore},
	}
	assert.Equal(t, want, calls)
	assert.True(t, calls[3].Performed())
	assert.False(t, calls[1].Performed())
	assert.Equal(t, 4, srv.CallCount("CreateUser"))
	srv.ResetCalls()
	assert.Zero(t, srv.CallCount(""))
}

func TestFaultBurstAndRetries(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	c := e.Client(func(o *iam.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 5
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	})
	srv.Inject(iamtest.Fault{Action: "ListUsers", Nth: 1, Count: 3, Kind: iamtest.FailBefore, Code: "Throttling"})
	_, err := c.ListUsers(t.Context(), &iam.ListUsersInput{})
	require.NoError(t, err, "the SDK retries through a burst of 3 throttles")
	assert.Equal(t, 4, srv.CallCount("ListUsers"))
}

func TestDelayRespectsClientTimeout(t *testing.T) {
	srv, c := newLocal(t)
	srv.Inject(iamtest.Fault{Action: "ListUsers", Kind: iamtest.Delay, Delay: time.Minute})
	ctx, cancel := contextWithTimeout(t, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ListUsers(ctx, &iam.ListUsersInput{})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 30*time.Second)
	srv.Close() // returns only once the delayed handler has noticed the client left
}

func TestConcurrentCalls(t *testing.T) {
	srv, c := newLocal(t)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			name := aws.String(fmt.Sprintf("c%02d", i))
			if _, err := c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: name}); err != nil {
				t.Error(err)
				return
			}
			if _, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: name}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	assert.Len(t, srv.Users(), 40)
	assert.Equal(t, 40, srv.KeyCount())
}
