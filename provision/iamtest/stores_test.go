package iamtest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// connectionRetryer retries only calls that got no answer (see
// retryConnectionErrors), so every API error reaches the test as sent.
func connectionRetryer() aws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}

func newStores(t *testing.T, opts ...iamtest.Option) (*iamtest.Server, *secretsmanager.Client, *ssm.Client) {
	t.Helper()
	e := iamtest.Start(t, opts...)
	srv := e.Local(t)
	return srv, e.SecretsManager(func(o *secretsmanager.Options) { o.Retryer = connectionRetryer() }),
		e.SSM(func(o *ssm.Options) { o.Retryer = connectionRetryer() })
}

const (
	token1 = "sesmtp-access-key-AKIAAAAAAAAAAAAAAAA1"
	token2 = "sesmtp-access-key-AKIAAAAAAAAAAAAAAAA2"
)

func TestSecretVersionsAndStages(t *testing.T) {
	srv, sm, _ := newStores(t)
	ctx := t.Context()
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("mail/smtp"),
		ClientRequestToken: aws.String(token1), SecretString: aws.String(`{"v":1}`), KmsKeyId: aws.String("alias/mail"),
		Tags: []smtypes.Tag{{Key: aws.String("sesmtp:iam-user"), Value: aws.String("app")}}})
	require.NoError(t, err)
	assert.Regexp(t, `^arn:aws:secretsmanager:us-east-1:123456789012:secret:mail/smtp-[A-Za-z0-9]{6}$`, aws.ToString(created.ARN))
	assert.Equal(t, token1, aws.ToString(created.VersionId))

	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("mail/smtp"),
		ClientRequestToken: aws.String(token1), SecretString: aws.String(`{"v":1}`)})
	var exists *smtypes.ResourceExistsException
	require.ErrorAs(t, err, &exists)

	put, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: created.ARN,
		ClientRequestToken: aws.String(token2), SecretString: aws.String(`{"v":2}`)})
	require.NoError(t, err, "a secret is found by ARN too")
	assert.Equal(t, []string{"AWSCURRENT"}, put.VersionStages)

	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("mail/smtp")})
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{token1: {"AWSPREVIOUS"}, token2: {"AWSCURRENT"}}, d.VersionIdsToStages)
	assert.Equal(t, "alias/mail", aws.ToString(d.KmsKeyId))
	assert.Equal(t, "app", aws.ToString(d.Tags[0].Value))
	assert.WithinDuration(t, time.Now(), aws.ToTime(d.CreatedDate), time.Minute)
	assert.Nil(t, d.DeletedDate)

	again, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("mail/smtp"),
		ClientRequestToken: aws.String(token1), SecretString: aws.String(`{"v":1}`)})
	require.NoError(t, err, "the same token and value is ignored")
	assert.Equal(t, []string{"AWSPREVIOUS"}, again.VersionStages, "and moves no stage")
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("mail/smtp"),
		ClientRequestToken: aws.String(token1), SecretString: aws.String(`{"v":3}`)})
	require.ErrorAs(t, err, &exists, "a version cannot change")

	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("mail/smtp"),
		VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(token1)})
	var invalid *smtypes.InvalidParameterException
	require.ErrorAs(t, err, &invalid, "RemoveFromVersionId must name the version that has the label")
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("mail/smtp"),
		VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(token1), RemoveFromVersionId: aws.String(token2)})
	require.NoError(t, err)
	sec, ok := srv.Secret("mail/smtp")
	require.True(t, ok)
	cur, _ := sec.Stage(iamtest.StageCurrent)
	prev, _ := sec.Stage(iamtest.StagePrevious)
	assert.Equal(t, token1, cur.ID)
	assert.Equal(t, `{"v":1}`, cur.Value)
	assert.Equal(t, token2, prev.ID, "AWSPREVIOUS follows the version AWSCURRENT left")
	assert.Equal(t, "alias/mail", sec.KMSKeyID)
}

func TestSecretDeletion(t *testing.T) {
	srv, sm, _ := newStores(t)
	ctx := t.Context()
	create := func(name string) error {
		_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name),
			ClientRequestToken: aws.String(token1), SecretString: aws.String("x")})
		return err
	}
	require.NoError(t, create("a"))
	_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("a"),
		RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
	var invalid *smtypes.InvalidParameterException
	require.ErrorAs(t, err, &invalid)
	_, err = sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("a"), RecoveryWindowInDays: aws.Int64(6)})
	require.ErrorAs(t, err, &invalid)

	out, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("a")})
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(30*24*time.Hour), aws.ToTime(out.DeletionDate), time.Minute, "30 days by default")
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("a")})
	require.NoError(t, err, "a secret scheduled for deletion still describes")
	assert.NotNil(t, d.DeletedDate)

	var marked *smtypes.InvalidRequestException
	require.ErrorAs(t, create("a"), &marked)
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("a"),
		ClientRequestToken: aws.String(token2), SecretString: aws.String("y")})
	require.ErrorAs(t, err, &marked)
	_, err = sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("a")})
	require.ErrorAs(t, err, &marked)

	_, err = sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("a"), ForceDeleteWithoutRecovery: aws.Bool(true)})
	require.NoError(t, err)
	_, ok := srv.Secret("a")
	assert.False(t, ok)
	_, err = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("a")})
	var notFound *smtypes.ResourceNotFoundException
	require.ErrorAs(t, err, &notFound)
	assert.ErrorContains(t, err, "Secrets Manager can't find the specified secret.")
}

func TestSecretValidation(t *testing.T) {
	_, sm, _ := newStores(t)
	ctx := t.Context()
	for _, tt := range []struct {
		name, secretName, token, code string
	}{
		{"bad character", "mail smtp", token1, "InvalidParameterException"},
		{"too long", strings.Repeat("a", 513), token1, "ValidationException"},
		{"short token", "ok", "short", "ValidationException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(tt.secretName),
				ClientRequestToken: aws.String(tt.token), SecretString: aws.String("hunter2")})
			assert.Equal(t, tt.code, code(err))
			assert.NotContains(t, err.Error(), "hunter2", "values are never quoted back")
		})
	}
	_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte("x")})
	assert.Equal(t, "ValidationException", code(err))
	assert.ErrorContains(t, err, "iamtest does not implement the \"SecretBinary\" field")
}

func TestParameterVersionsAndTags(t *testing.T) {
	srv, _, c := newStores(t)
	ctx := t.Context()
	put := func(in ssm.PutParameterInput) (*ssm.PutParameterOutput, error) {
		in.Name = aws.String("/mail/smtp")
		return c.PutParameter(ctx, &in)
	}
	out, err := put(ssm.PutParameterInput{Value: aws.String("one"), Type: ssmtypes.ParameterTypeSecureString,
		Description: aws.String("first"), Tags: []ssmtypes.Tag{{Key: aws.String("sesmtp:iam-user"), Value: aws.String("app")}}})
	require.NoError(t, err)
	assert.Equal(t, int64(1), out.Version)
	assert.Equal(t, ssmtypes.ParameterTierStandard, out.Tier)

	_, err = put(ssm.PutParameterInput{Value: aws.String("two"), Type: ssmtypes.ParameterTypeSecureString})
	var exists *ssmtypes.ParameterAlreadyExists
	require.ErrorAs(t, err, &exists)
	_, err = put(ssm.PutParameterInput{Value: aws.String("two"), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
		Tags: []ssmtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	assert.Equal(t, "ValidationException", code(err))
	assert.ErrorContains(t, err, "tags and overwrite can't be used together")
	out, err = put(ssm.PutParameterInput{Value: aws.String("two"), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
		KeyId: aws.String("alias/mail")})
	require.NoError(t, err)
	assert.Equal(t, int64(2), out.Version)

	tags, err := c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/mail/smtp")})
	require.NoError(t, err)
	assert.Equal(t, []ssmtypes.Tag{{Key: aws.String("sesmtp:iam-user"), Value: aws.String("app")}}, tags.TagList)
	_, err = c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/mail/none")})
	var badID *ssmtypes.InvalidResourceId
	require.ErrorAs(t, err, &badID)

	p, ok := srv.Parameter("/mail/smtp")
	require.True(t, ok)
	require.Len(t, p.Versions, 2)
	assert.Equal(t, "alias/aws/ssm", p.Versions[0].KeyID, "the default key of a SecureString")
	assert.Equal(t, "alias/mail", p.Latest().KeyID)
	assert.Equal(t, "first", p.Latest().Description, "a description left out is kept")
	assert.Equal(t, "arn:aws:iam::123456789012:user/admin", p.Latest().ModifiedBy)
	assert.Equal(t, "arn:aws:ssm:us-east-1:123456789012:parameter/mail/smtp", p.ARN)

	_, err = c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/mail/smtp")})
	require.NoError(t, err)
	_, err = c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/mail/smtp")})
	var notFound *ssmtypes.ParameterNotFound
	require.ErrorAs(t, err, &notFound)
}

func TestParameterHistory(t *testing.T) {
	_, _, c := newStores(t)
	ctx := t.Context()
	for i := range 103 {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("p"), Value: aws.String(fmt.Sprint("v", i)),
			Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(i > 0)})
		require.NoError(t, err)
	}
	var versions []int64
	var values []string
	pages := ssm.NewGetParameterHistoryPaginator(c, &ssm.GetParameterHistoryInput{Name: aws.String("p"), WithDecryption: aws.Bool(true)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(out.Parameters), 50)
		for _, h := range out.Parameters {
			versions, values = append(versions, h.Version), append(values, aws.ToString(h.Value))
		}
	}
	require.Len(t, versions, 100, "SSM keeps the last 100 versions")
	assert.Equal(t, int64(4), versions[0], "oldest first")
	assert.Equal(t, "v102", values[99])

	out, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("p"), MaxResults: aws.Int32(1)})
	require.NoError(t, err)
	assert.NotEqual(t, "v3", aws.ToString(out.Parameters[0].Value), "no plaintext without WithDecryption")
	assert.Equal(t, "alias/aws/ssm", aws.ToString(out.Parameters[0].KeyId))
	_, err = c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("none")})
	var notFound *ssmtypes.ParameterNotFound
	require.ErrorAs(t, err, &notFound)
}

func TestParameterNames(t *testing.T) {
	_, _, c := newStores(t)
	deep := strings.Repeat("/l", 16)
	for _, tt := range []struct{ name, code string }{
		{"/mail/smtp/password", ""},
		{"password", ""},
		{"mail/smtp", "ValidationException"},
		{"/aws/mine", "ValidationException"},
		{"/SSM-things/x", "ValidationException"},
		{"/mail smtp", "ValidationException"},
		{"/mail//smtp", "ValidationException"},
		{strings.Repeat("/l", 15), ""},
		{deep, "HierarchyLevelLimitExceededException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String(tt.name), Value: aws.String("v"), Type: ssmtypes.ParameterTypeString})
			assert.Equal(t, tt.code, code(err))
		})
	}
	_, err := c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String("/new"), Value: aws.String("v")})
	assert.Equal(t, "ValidationException", code(err), "a new parameter needs a type")
	_, err = c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String("/k"), Value: aws.String("v"),
		Type: ssmtypes.ParameterTypeString, KeyId: aws.String("alias/x")})
	assert.Equal(t, "ValidationException", code(err), "a KMS key only for a SecureString")
}

func TestStoreAuthorization(t *testing.T) {
	ssmOnly := iamtest.Caller{AccessKeyID: "AKIASSMONLYEXAMPLE01", SecretAccessKey: "ssm-secret", UserName: "ops",
		Allow: []string{"ssm:*", "secretsmanager:DescribeSecret", "iam:*"}}
	e := iamtest.Start(t, iamtest.WithCaller(ssmOnly))
	e.Local(t)
	e.AccessKeyID, e.SecretAccessKey = ssmOnly.AccessKeyID, ssmOnly.SecretAccessKey
	sm, c := e.SecretsManager(), e.SSM()
	ctx := t.Context()

	_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("x")})
	assert.Equal(t, "AccessDeniedException", code(err))
	assert.ErrorContains(t, err, "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: secretsmanager:CreateSecret on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:s")
	_, err = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	assert.Equal(t, "ResourceNotFoundException", code(err))
	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("p"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeSecureString})
	require.NoError(t, err)

	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("q"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeSecureString,
		Tags: []ssmtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	require.NoError(t, err, "ssm:* covers ssm:AddTagsToResource")

	tagless := iamtest.Caller{AccessKeyID: "AKIATAGLESSEXAMPLE01", SecretAccessKey: "t-secret", UserName: "tagless",
		Allow: []string{"ssm:PutParameter", "secretsmanager:CreateSecret"}}
	e.Local(t).SetCaller(tagless)
	e2 := *e
	e2.AccessKeyID, e2.SecretAccessKey = tagless.AccessKeyID, tagless.SecretAccessKey
	_, err = e2.SSM().PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("r"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeSecureString,
		Tags: []ssmtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	assert.Equal(t, "AccessDeniedException", code(err), "a tagged PutParameter is also ssm:AddTagsToResource")
	assert.ErrorContains(t, err, "ssm:AddTagsToResource")
	_, err = e2.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("t"), SecretString: aws.String("x"),
		Tags: []smtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	assert.ErrorContains(t, err, "secretsmanager:TagResource")
	_, err = e2.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("t"), SecretString: aws.String("x")})
	require.NoError(t, err)

	e.SecretAccessKey = "wrong"
	_, err = e.SSM().DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("p")})
	assert.Equal(t, "InvalidSignatureException", code(err))
	e.AccessKeyID = "AKIAUNKNOWNEXAMPLE01"
	_, err = e.SecretsManager().DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	assert.Equal(t, "UnrecognizedClientException", code(err))
}

func TestStoreFaultsAndCallLog(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	sm := e.SecretsManager(func(o *secretsmanager.Options) { o.Retryer = aws.NopRetryer{} })
	c := e.SSM(func(o *ssm.Options) { o.Retryer = aws.NopRetryer{} })
	ctx := t.Context()
	create := func(name string) error {
		_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), ClientRequestToken: aws.String(token1), SecretString: aws.String("x")})
		return err
	}
	srv.Inject(iamtest.Fault{Action: "secretsmanager:CreateSecret", Nth: 1, Kind: iamtest.FailBefore, Code: "Throttling"})
	assert.Equal(t, "ThrottlingException", code(create("a")))
	_, ok := srv.Secret("a")
	assert.False(t, ok)

	srv.Inject(iamtest.Fault{Action: "secretsmanager:CreateSecret", Nth: 1, Kind: iamtest.FailAfter})
	assert.Equal(t, "InternalServiceError", code(create("b")))
	_, ok = srv.Secret("b")
	assert.True(t, ok, "a FailAfter fault performs the call")

	srv.Inject(iamtest.Fault{Action: "ssm:PutParameter", Kind: iamtest.DropAfter})
	_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeSecureString})
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(code(err), "untyped"), "a dropped connection has no API error")
	_, ok = srv.Parameter("/p")
	assert.True(t, ok)
	srv.Inject(iamtest.Fault{Action: "ssm:DeleteParameter", Kind: iamtest.FailBefore})
	_, err = c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/p")})
	assert.Equal(t, "InternalServerError", code(err))

	calls := srv.Calls()
	require.Len(t, calls, 4)
	assert.Equal(t, iamtest.Call{Action: "secretsmanager:CreateSecret", Resource: "a", Caller: "admin", Outcome: "ThrottlingException", Fault: iamtest.FailBefore}, calls[0])
	assert.Equal(t, "performed, then InternalServiceError", calls[1].Outcome)
	assert.Equal(t, iamtest.Call{Action: "ssm:PutParameter", Resource: "/p", Caller: "admin", Outcome: "performed, then dropped", Fault: iamtest.DropAfter}, calls[2])
	assert.Equal(t, 1, srv.CallCount("ssm:DeleteParameter"))
}

func TestJSONProtocolEnvelope(t *testing.T) {
	e := iamtest.Start(t)
	e.Local(t)
	post := func(target, contentType, service string) (int, string) {
		body := `{"SecretId":"x"}`
		req, err := http.NewRequest(http.MethodPost, e.URL, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", contentType)
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey}
		require.NoError(t, v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return resp.StatusCode, readAll(t, resp)
	}
	status, body := post("secretsmanager.DescribeSecret", "application/x-amz-json-1.1", "secretsmanager")
	assert.Equal(t, 400, status)
	assert.JSONEq(t, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`, body)
	status, body = post("secretsmanager.GetRandomPassword", "application/x-amz-json-1.1", "secretsmanager")
	assert.Equal(t, 400, status)
	assert.Contains(t, body, "UnknownOperationException")
	status, body = post("secretsmanager.DescribeSecret", "application/json", "secretsmanager")
	assert.Equal(t, 400, status)
	assert.Contains(t, body, "SerializationException")
	status, body = post("secretsmanager.DescribeSecret", "application/x-amz-json-1.1", "ssm")
	assert.Equal(t, 400, status, "the credential scope must name the service")
	assert.Contains(t, body, "InvalidSignatureException")
}

// TestStoreAuthorizationByPolicy evaluates store calls with the IAM policy
// evaluator: a secret-name prefix in Resource, aws:RequestTag on create and
// aws:ResourceTag on an existing secret.
func TestStoreAuthorizationByPolicy(t *testing.T) {
	const doc = `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"secretsmanager:CreateSecret","Resource":"arn:aws:secretsmanager:*:*:secret:smtp/*",
	  "Condition":{"StringEquals":{"aws:RequestTag/sesmtp:managed-by":"sesmtp"}}},
	 {"Effect":"Allow","Action":"secretsmanager:TagResource","Resource":"*"},
	 {"Effect":"Allow","Action":"secretsmanager:PutSecretValue","Resource":"*",
	  "Condition":{"StringEquals":{"aws:ResourceTag/sesmtp:managed-by":"sesmtp"}}}]}`
	op := iamtest.Caller{AccessKeyID: "AKIAPOLICYOPEXAMPLE1", SecretAccessKey: "op-secret", UserName: "op", Policies: []string{doc}}
	e := iamtest.Start(t, iamtest.WithCaller(op))
	srv := e.Local(t)
	admin := e.SecretsManager()
	_, err := admin.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("smtp/human"), SecretString: aws.String("x")})
	require.NoError(t, err)
	e.AccessKeyID, e.SecretAccessKey = op.AccessKeyID, op.SecretAccessKey
	sm := e.SecretsManager()
	managed := []smtypes.Tag{{Key: aws.String("sesmtp:managed-by"), Value: aws.String("sesmtp")}}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"create under the prefix, tagged", func() error {
			_, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("smtp/app"), SecretString: aws.String("x"), Tags: managed})
			return err
		}, ""},
		{"create outside the prefix", func() error {
			_, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("db/app"), SecretString: aws.String("x"), Tags: managed})
			return err
		}, "AccessDeniedException"},
		{"create without the tag", func() error {
			_, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("smtp/untagged"), SecretString: aws.String("x")})
			return err
		}, "AccessDeniedException"},
		{"new version of a managed secret", func() error {
			_, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("smtp/app"), SecretString: aws.String("y")})
			return err
		}, ""},
		{"new version of a human's secret", func() error {
			_, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("smtp/human"), SecretString: aws.String("y")})
			return err
		}, "AccessDeniedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, code(tt.call()))
		})
	}
	_, ok := srv.Secret("db/app")
	assert.False(t, ok, "a denied create changed nothing")
}
