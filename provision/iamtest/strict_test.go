package iamtest_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// fakeClock is a clock tests move on by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestConsistencyHidesNewEntitiesFromOtherCalls(t *testing.T) {
	clock := newFakeClock()
	srv, c := newLocal(t, iamtest.WithClock(clock.now), iamtest.WithConsistency(iamtest.Consistency{Delay: 2 * time.Second}))
	ctx := t.Context()
	srv.PutUser(iamtest.User{Name: "old"}) // made by a test, not a call: visible at once
	name, group := aws.String("alice"), aws.String("senders")
	doc := aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`)

	out, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: name})
	require.NoError(t, err, "the call that makes an entity answers normally")
	assert.Equal(t, "alice", aws.ToString(out.User.UserName))
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: name})
	assert.Equal(t, "NoSuchEntity", code(err))
	assert.Equal(t, 404, status(err))
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: name, PolicyName: aws.String("p"), PolicyDocument: doc})
	assert.Equal(t, "NoSuchEntity", code(err), "acting on an invisible user")
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: name})
	assert.Equal(t, "NoSuchEntity", code(err))
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ALICE")})
	assert.Equal(t, "EntityAlreadyExists", code(err), "the name is taken where changes are made")
	users, err := c.ListUsers(ctx, &iam.ListUsersInput{})
	require.NoError(t, err)
	require.Len(t, users.Users, 1, "listings leave it out")
	assert.Equal(t, "old", aws.ToString(users.Users[0].UserName))
	u, ok := srv.User("alice")
	require.True(t, ok, "tests see the truth")
	assert.Empty(t, u.AccessKeys)

	clock.advance(2 * time.Second)
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: name})
	require.NoError(t, err, "visible once the delay has passed")

	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: name})
	require.NoError(t, err)
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: name, PolicyName: aws.String("p"), PolicyDocument: doc})
	require.NoError(t, err)
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: group})
	require.NoError(t, err)
	_, err = c.GetGroup(ctx, &iam.GetGroupInput{GroupName: group})
	assert.Equal(t, "NoSuchEntity", code(err), "a new group")
	_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: name, GroupName: group})
	assert.Equal(t, "NoSuchEntity", code(err), "joining an invisible group")

	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: name})
	require.NoError(t, err)
	assert.Empty(t, keys.AccessKeyMetadata, "a new key")
	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: name, AccessKeyId: key.AccessKey.AccessKeyId})
	assert.Equal(t, "NoSuchEntity", code(err))
	_, err = c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: key.AccessKey.AccessKeyId})
	assert.Equal(t, "AccessDenied", code(err), "as for a key IAM does not know")
	pols, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: name})
	require.NoError(t, err)
	assert.Empty(t, pols.PolicyNames, "a new inline policy")
	_, err = c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: aws.String("p")})
	assert.Equal(t, "NoSuchEntity", code(err))

	clock.advance(2 * time.Second)
	_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: name, GroupName: group})
	require.NoError(t, err)
	groups, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: name})
	require.NoError(t, err)
	assert.Empty(t, groups.Groups, "a new membership")
	g, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: group})
	require.NoError(t, err)
	assert.Empty(t, g.Users)
	_, err = c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: name, GroupName: group})
	assert.Equal(t, "NoSuchEntity", code(err))
	keys, err = c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: name})
	require.NoError(t, err)
	assert.Len(t, keys.AccessKeyMetadata, 1, "the key made before has aged")

	clock.advance(2 * time.Second)
	groups, err = c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: name})
	require.NoError(t, err)
	assert.Len(t, groups.Groups, 1)
}

func TestConsistencyByCallsAndSwitchingOff(t *testing.T) {
	srv, c := newLocal(t, iamtest.WithConsistency(iamtest.Consistency{Calls: 2}))
	ctx := t.Context()
	name := aws.String("bob")
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: name})
	require.NoError(t, err)
	for i := range 2 {
		_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: name})
		assert.Equal(t, "NoSuchEntity", code(err), "call %d after", i+1)
	}
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: name})
	require.NoError(t, err, "the third call after sees it")

	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: name})
	require.NoError(t, err)
	srv.SetConsistency(iamtest.Consistency{})
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: name})
	require.NoError(t, err)
	assert.Len(t, keys.AccessKeyMetadata, 1, "off: everything is visible at once")
}

func TestRateLimit(t *testing.T) {
	clock := newFakeClock()
	_, c := newLocal(t, iamtest.WithClock(clock.now), iamtest.WithRateLimit(10, 2))
	ctx := t.Context()
	get := func() error {
		_, err := c.ListUsers(ctx, &iam.ListUsersInput{}, noRetry)
		return err
	}
	require.NoError(t, get())
	require.NoError(t, get(), "a burst of 2")
	err := get()
	require.Equal(t, "Throttling", code(err))
	assert.Equal(t, 400, status(err))
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "Rate exceeded", ae.ErrorMessage())
	clock.advance(100 * time.Millisecond)
	require.NoError(t, get(), "10 calls/s: one token per 100 ms")
	assert.Equal(t, "Throttling", code(get()))
	clock.advance(time.Hour)
	require.NoError(t, get())
	require.NoError(t, get())
	assert.Equal(t, "Throttling", code(get()), "tokens never exceed the burst")
}

func TestConcurrentModification(t *testing.T) {
	srv, c := newLocal(t)
	ctx := t.Context()
	srv.Inject(iamtest.Fault{Action: "CreateUser", Kind: iamtest.FailBefore, Code: "ConcurrentModification"})
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}, noRetry)
	var cm *types.ConcurrentModificationException
	require.ErrorAs(t, err, &cm, "the SDK's typed exception")
	assert.Equal(t, 409, status(err))
	assert.Contains(t, cm.ErrorMessage(), "multiple requests to change this object were submitted simultaneously")
	_, ok := srv.User("u")
	assert.False(t, ok)

	srv.ClearFaults()
	srv.SetConcurrentModification(1)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}, noRetry)
	assert.Equal(t, "ConcurrentModification", code(err), "every change, at rate 1")
	_, err = c.ListUsers(ctx, &iam.ListUsersInput{}, noRetry)
	require.NoError(t, err, "reads are never refused")
	srv.SetConcurrentModification(0.5)
	conflicts := 0
	for range 40 {
		if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("nobody"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}, noRetry); code(err) == "ConcurrentModification" {
			conflicts++
		}
	}
	assert.InDelta(t, 20, conflicts, 12, "about half")
}

func TestUnimplementedActions(t *testing.T) {
	for _, tc := range []struct {
		how    iamtest.Unimplemented
		status int
		code   string
	}{
		{iamtest.Answer501, 501, "InternalFailure"},
		{iamtest.Answer500HTML, 500, ""},
		{iamtest.AnswerNotImplemented, 400, "NotImplemented"},
		{iamtest.AnswerInvalidAction, 400, "InvalidAction"},
	} {
		t.Run(tc.how.String(), func(t *testing.T) {
			srv, c := newLocal(t, iamtest.WithUnimplemented(tc.how, "ListServiceSpecificCredentials"))
			srv.PutUser(iamtest.User{Name: "u"})
			_, err := c.ListServiceSpecificCredentials(t.Context(), &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("u")}, noRetry)
			require.Error(t, err)
			assert.Equal(t, tc.status, status(err))
			var ae smithy.APIError
			if tc.code != "" {
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, tc.code, ae.ErrorCode())
			}
			_, err = c.ListSSHPublicKeys(t.Context(), &iam.ListSSHPublicKeysInput{UserName: aws.String("u")}, noRetry)
			require.NoError(t, err, "other actions still work")
			p, ok := iamtest.ParseUnimplemented(tc.how.String())
			assert.True(t, ok)
			assert.Equal(t, tc.how, p)

			srv.Unimplement(0, "ListServiceSpecificCredentials")
			_, err = c.ListServiceSpecificCredentials(t.Context(), &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("u")}, noRetry)
			require.NoError(t, err, "implemented again")
		})
	}
}
