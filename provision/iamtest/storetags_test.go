package iamtest_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// TestStoreTaggingCalls: TagResource adds or replaces a secret's tags and
// UntagResource removes them; AddTagsToResource does the same for a
// parameter; reserved aws: keys, more than 50 tags and missing resources
// are refused as the services refuse them.
func TestStoreTaggingCalls(t *testing.T) {
	srv, sm, c := newStores(t)
	ctx := t.Context()
	_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("x"),
		Tags: []smtypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	require.NoError(t, err)
	smTag := func(k, v string) smtypes.Tag { return smtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	tag := func(id string, tags ...smtypes.Tag) error {
		_, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(id), Tags: tags})
		return err
	}
	require.NoError(t, tag("app/db", smTag("team", "b"), smTag("owner", "me")))
	sec, _ := srv.Secret("app/db")
	assert.Equal(t, []iamtest.Tag{{Key: "team", Value: "b"}, {Key: "owner", Value: "me"}}, sec.Tags, "appended, an existing key's value replaced")
	assert.Equal(t, "ValidationException", code(tag("app/db", smTag("aws:x", "y"))))
	assert.Equal(t, "ResourceNotFoundException", code(tag("app/none", smTag("k", "v"))))
	var many []smtypes.Tag
	for i := range 49 {
		many = append(many, smTag(fmt.Sprintf("k%d", i), "v"))
	}
	assert.Equal(t, "InvalidParameterException", code(tag("app/db", many...)), "51 tags")

	_, err = sm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String("app/db"), TagKeys: []string{"team", "absent"}})
	require.NoError(t, err)
	sec, _ = srv.Secret("app/db")
	assert.Equal(t, []iamtest.Tag{{Key: "owner", Value: "me"}}, sec.Tags)

	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/db"), Value: aws.String("x"), Type: ssmtypes.ParameterTypeSecureString})
	require.NoError(t, err)
	addTags := func(id string, tags ...ssmtypes.Tag) error {
		_, err := c.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter,
			ResourceId: aws.String(id), Tags: tags})
		return err
	}
	ssmTag := func(k, v string) ssmtypes.Tag { return ssmtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	require.NoError(t, addTags("/app/db", ssmTag("team", "a")))
	require.NoError(t, addTags("/app/db", ssmTag("team", "b"), ssmTag("owner", "me")))
	p, _ := srv.Parameter("/app/db")
	assert.Equal(t, []iamtest.Tag{{Key: "team", Value: "b"}, {Key: "owner", Value: "me"}}, p.Tags)
	assert.Len(t, p.Versions, 1, "tagging adds no version")
	assert.Equal(t, "InvalidResourceId", code(addTags("/app/none", ssmTag("k", "v"))))
	assert.Equal(t, "ValidationException", code(addTags("/app/db", ssmTag("aws:x", "y"))))
	_, err = c.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingDocument,
		ResourceId: aws.String("doc"), Tags: []ssmtypes.Tag{ssmTag("k", "v")}})
	assert.Equal(t, "InvalidResourceType", code(err))
}

// TestStoreTaggingAuthorization: tagging calls are authorized with the
// request's tags (aws:RequestTag, aws:TagKeys; an UntagResource's TagKeys
// are its aws:TagKeys) and the resource's (aws:ResourceTag), as AWS's
// evaluation has them.
func TestStoreTaggingAuthorization(t *testing.T) {
	const doc = `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["secretsmanager:TagResource","ssm:AddTagsToResource"],"Resource":"*",
	  "Condition":{"StringEquals":{"aws:RequestTag/sesmtp:managed-by":"sesmtp"}}},
	 {"Effect":"Allow","Action":"secretsmanager:UntagResource","Resource":"*",
	  "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":"scratch"},"StringEquals":{"aws:ResourceTag/team":"ops"}}}]}`
	op := iamtest.Caller{AccessKeyID: "AKIATAGGEROPEXAMPLE1", SecretAccessKey: "op-secret", UserName: "op", Policies: []string{doc}}
	e := iamtest.Start(t, iamtest.WithCaller(op))
	e.Local(t)
	ctx := t.Context()
	for _, name := range []string{"ops/a", "dev/b"} {
		team := name[:3]
		_, err := e.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("x"),
			Tags: []smtypes.Tag{{Key: aws.String("team"), Value: aws.String(team)}, {Key: aws.String("scratch"), Value: aws.String("1")}}})
		require.NoError(t, err)
	}
	_, err := e.SSM().PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/ops/a"), Value: aws.String("x"), Type: ssmtypes.ParameterTypeSecureString})
	require.NoError(t, err)
	e.AccessKeyID, e.SecretAccessKey = op.AccessKeyID, op.SecretAccessKey
	sm, c := e.SecretsManager(), e.SSM()
	managed := []smtypes.Tag{{Key: aws.String("sesmtp:managed-by"), Value: aws.String("sesmtp")}}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"tag with the allowed request tag", func() error {
			_, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("dev/b"), Tags: managed})
			return err
		}, ""},
		{"tag with another value", func() error {
			_, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("dev/b"),
				Tags: []smtypes.Tag{{Key: aws.String("sesmtp:managed-by"), Value: aws.String("me")}}})
			return err
		}, "AccessDeniedException"},
		{"tag a parameter with the allowed request tag", func() error {
			_, err := c.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter,
				ResourceId: aws.String("/ops/a"), Tags: []ssmtypes.Tag{{Key: aws.String("sesmtp:managed-by"), Value: aws.String("sesmtp")}}})
			return err
		}, ""},
		{"tag a parameter without it", func() error {
			_, err := c.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter,
				ResourceId: aws.String("/ops/a"), Tags: []ssmtypes.Tag{{Key: aws.String("team"), Value: aws.String("x")}}})
			return err
		}, "AccessDeniedException"},
		{"untag an allowed key of a resource tagged team=ops", func() error {
			_, err := sm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String("ops/a"), TagKeys: []string{"scratch"}})
			return err
		}, ""},
		{"untag another key", func() error {
			_, err := sm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String("ops/a"), TagKeys: []string{"team"}})
			return err
		}, "AccessDeniedException"},
		{"untag of a resource tagged team=dev", func() error {
			_, err := sm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String("dev/b"), TagKeys: []string{"scratch"}})
			return err
		}, "AccessDeniedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, code(tt.call()))
		})
	}
}
