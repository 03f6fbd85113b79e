package awscfg_test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// client returns an awscfg IAM client for e with quick backoffs.
func client(t *testing.T, e *iamtest.Endpoint, opts awscfg.Options) *iam.Client {
	t.Helper()
	opts.EndpointURL, opts.MaxBackoff = e.URL, time.Millisecond
	cfg, err := awscfg.Load(t.Context(), opts)
	require.NoError(t, err)
	return awscfg.IAM(cfg, opts)
}

func TestConcurrentModificationIsRetried(t *testing.T) {
	for _, adaptive := range []bool{false, true} {
		e := iamtest.Start(t)
		srv := e.Local(t)
		srv.Inject(iamtest.Fault{Action: "CreateUser", Nth: 1, Count: 2, Kind: iamtest.FailBefore, Code: "ConcurrentModification"})
		c := client(t, e, awscfg.Options{Adaptive: adaptive})
		_, err := c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: ptr("u")})
		require.NoError(t, err, "adaptive=%v", adaptive)
		assert.Equal(t, 3, srv.CallCount("CreateUser"), "two conflicts, then done")
	}
}

func TestReadsOwnWritesWhileIAMPropagates(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithConsistency(iamtest.Consistency{Calls: 3}))
	srv := e.Local(t)
	var logs syncBuffer
	c := client(t, e, awscfg.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := t.Context()
	name := ptr("new-sender")

	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: name})
	require.NoError(t, err)
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: name})
	require.NoError(t, err, "retried until the new user shows")
	assert.Greater(t, srv.CallCount("CreateAccessKey"), 1)
	assert.Contains(t, logs.String(), "waiting for IAM to propagate")
	assert.Contains(t, logs.String(), "entity=\"user new-sender\"")

	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: name})
	require.NoError(t, err)
	require.Len(t, keys.AccessKeyMetadata, 1, "a listing waits for the key this client made")
	assert.Equal(t, aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(keys.AccessKeyMetadata[0].AccessKeyId))

	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: name, PolicyName: ptr("p"),
		PolicyDocument: ptr(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`)})
	require.NoError(t, err)
	_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: name, PolicyName: ptr("p")})
	require.NoError(t, err, "deleting the new policy waits for it")
	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: name, AccessKeyId: key.AccessKey.AccessKeyId})
	require.NoError(t, err)
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: name})
	require.NoError(t, err)

	srv.ResetCalls()
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: name})
	var noSuch *types.NoSuchEntityException
	require.ErrorAs(t, err, &noSuch, "a deleted user is not waited for")
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: ptr("stranger")})
	require.ErrorAs(t, err, &noSuch)
	assert.Equal(t, 2, srv.CallCount(""), "NoSuchEntity about anything this client did not make is final at once")
}

func TestAdoptsAUserIAMSaysExists(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithConsistency(iamtest.Consistency{Calls: 4}))
	srv := e.Local(t)
	other := e.Client()
	_, err := other.CreateUser(t.Context(), &iam.CreateUserInput{UserName: ptr("taken")})
	require.NoError(t, err)
	c := client(t, e, awscfg.Options{})
	_, err = c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: ptr("taken")})
	var exists *types.EntityAlreadyExistsException
	require.ErrorAs(t, err, &exists)
	_, err = c.GetUser(t.Context(), &iam.GetUserInput{UserName: ptr("taken")})
	require.NoError(t, err, "IAM said it exists: a NoSuchEntity right after is IAM catching up")
	assert.Greater(t, srv.CallCount("GetUser"), 1)
}

func TestMaybeCreatedUserIsWaitedFor(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithConsistency(iamtest.Consistency{Calls: 3}))
	srv := e.Local(t)
	srv.Inject(iamtest.Fault{Action: "CreateUser", Kind: iamtest.DropAfter})
	c := client(t, e, awscfg.Options{})
	_, err := c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: ptr("maybe")}, func(o *iam.Options) { o.Retryer = aws.NopRetryer{} })
	require.Error(t, err, "no answer")
	_, err = c.GetUser(t.Context(), &iam.GetUserInput{UserName: ptr("maybe")})
	require.NoError(t, err, "a CreateUser without an answer may have made it: its NoSuchEntity is not final")
}

func TestPropagationWaitIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name       string
		wait       time.Duration
		minCalls   int
		maxElapsed time.Duration
	}{
		{"bounded", 300 * time.Millisecond, 2, 10 * time.Second},
		{"off", -1, 1, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := iamtest.Start(t, iamtest.WithConsistency(iamtest.Consistency{Delay: time.Hour}))
			srv := e.Local(t)
			c := client(t, e, awscfg.Options{PropagationWait: tc.wait})
			_, err := c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: ptr("slow")})
			require.NoError(t, err)
			start := time.Now()
			_, err = c.GetUser(t.Context(), &iam.GetUserInput{UserName: ptr("slow")})
			var noSuch *types.NoSuchEntityException
			require.ErrorAs(t, err, &noSuch, "IAM never caught up: its answer stands")
			assert.GreaterOrEqual(t, srv.CallCount("GetUser"), tc.minCalls)
			if tc.wait < 0 {
				assert.Equal(t, 1, srv.CallCount("GetUser"))
			} else {
				assert.GreaterOrEqual(t, time.Since(start), tc.wait-50*time.Millisecond, "waited its bound")
			}
			assert.Less(t, time.Since(start), tc.maxElapsed)
		})
	}
}

func TestAKeyIAMCountedIsWaitedFor(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithConsistency(iamtest.Consistency{Calls: 3}))
	srv := e.Local(t)
	srv.PutUser(iamtest.User{Name: "rotating", AccessKeys: []iamtest.AccessKey{{ID: "AKIAOLDKEY0000000001", SecretAccessKey: "old"}}})
	// The first CreateAccessKey makes a key and loses its answer; the
	// retry meets the two-key quota. The lost key is not listed yet.
	srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.FailAfter})
	c := client(t, e, awscfg.Options{})
	_, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: ptr("rotating")})
	var limit *types.LimitExceededException
	require.ErrorAs(t, err, &limit)
	keys, err := c.ListAccessKeys(t.Context(), &iam.ListAccessKeysInput{UserName: ptr("rotating")})
	require.NoError(t, err)
	assert.Len(t, keys.AccessKeyMetadata, 2, "the listing waits until it shows the keys IAM counted")
}

func TestALimitExceededAtTheFirstAttemptIsNotWaitedFor(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	srv.PutUser(iamtest.User{Name: "u"})
	srv.Inject(iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.FailBefore, Code: "LimitExceeded"})
	c := client(t, e, awscfg.Options{})
	_, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: ptr("u")})
	var limit *types.LimitExceededException
	require.ErrorAs(t, err, &limit)
	keys, err := c.ListAccessKeys(t.Context(), &iam.ListAccessKeysInput{UserName: ptr("u")})
	require.NoError(t, err)
	assert.Empty(t, keys.AccessKeyMetadata)
	assert.Equal(t, 1, srv.CallCount("ListAccessKeys"), "no attempt of this client made a key: nothing to wait for")
}
