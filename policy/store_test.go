package policy_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/policy"
)

// TestWithStores: the store statements are scoped to the prefixes and the
// boundary's account; creating needs sesmtp's tags, and changing, reading
// or deleting a secret or parameter needs sesmtp's tag on it; the KMS key
// only through the services; bad prefixes are refused.
func TestWithStores(t *testing.T) {
	base, err := policy.OperatorWithBoundary(policy.BoundedOptions{BoundaryARN: boundaryARN, Group: "AWSSESSendingGroupDoNotRename",
		TagKeys: []string{"team", "cost-center", "owner"}})
	require.NoError(t, err)
	baseJSON := base.JSON()
	partition, account, err := policy.StoreScopeOf(boundaryARN)
	require.NoError(t, err)
	doc, err := policy.WithStores(base, policy.StoreOptions{Prefixes: []string{"secretsmanager:smtp/", "ssm:/smtp/", "ssm:/mediawiki/smtp/"},
		KMSKeyARN: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", Partition: partition, Account: account})
	require.NoError(t, err)
	assert.Len(t, doc.Statement, len(base.Statement)+7)
	byID := map[string]policy.Statement{}
	for _, s := range doc.Statement[len(base.Statement):] {
		byID[s.Sid] = s
		assert.NotContains(t, s.Resource, "*", "%s is scoped", s.Sid)
	}
	assert.Equal(t, policy.Strings{"arn:aws:secretsmanager:*:123456789012:secret:smtp/*"}, byID["SesmtpSecretsOwn"].Resource)
	assert.Equal(t, policy.Strings{"sesmtp"}, byID["SesmtpSecretsOwn"].Condition["StringEquals"]["aws:ResourceTag/sesmtp:managed-by"])
	assert.Equal(t, policy.Strings{"sesmtp"}, byID["SesmtpSecretsCreateTagged"].Condition["StringEquals"]["aws:RequestTag/sesmtp:managed-by"])
	params := policy.Strings{"arn:aws:ssm:*:123456789012:parameter/smtp/*", "arn:aws:ssm:*:123456789012:parameter/mediawiki/smtp/*"}
	for _, sid := range []string{"SesmtpParametersTags", "SesmtpParametersCreateTagged", "SesmtpParametersOwn"} {
		assert.Equal(t, params, byID[sid].Resource, sid)
	}
	assert.Equal(t, policy.Strings{"ssm:ListTagsForResource"}, byID["SesmtpParametersTags"].Action, "the only unconditioned SSM action reads tags")
	assert.Equal(t, policy.Strings{"sesmtp"}, byID["SesmtpParametersOwn"].Condition["StringEquals"]["aws:ResourceTag/sesmtp:managed-by"])
	assert.Equal(t, policy.Strings{"sesmtp"}, byID["SesmtpParametersCreateTagged"].Condition["StringEquals"]["aws:RequestTag/sesmtp:managed-by"])
	assert.Equal(t, policy.Strings{"sesmtp:managed-by", "sesmtp:iam-user"},
		byID["SesmtpParametersCreateTagged"].Condition["ForAllValues:StringEquals"]["aws:TagKeys"])
	assert.ElementsMatch(t, policy.Strings{"ssm:PutParameter", "ssm:AddTagsToResource"}, byID["SesmtpParametersCreateTagged"].Action)
	assert.Equal(t, policy.Strings{"secretsmanager.*.amazonaws.com", "ssm.*.amazonaws.com"}, byID["SesmtpStoreKey"].Condition["StringLike"]["kms:ViaService"])
	assert.Equal(t, baseJSON, base.JSON(), "the base policy is not changed")

	n := 0
	for _, r := range doc.JSON() {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	assert.Less(t, n, 6144, "the bounded policy with stores still fits a managed policy")

	broad, err := policy.WithStores(policy.Operator(), policy.StoreOptions{Prefixes: []string{"secretsmanager:smtp/"}})
	require.NoError(t, err)
	assert.True(t, strings.Contains(broad.JSON(), "arn:aws:secretsmanager:*:*:secret:smtp/*"), "the broad policy names no account")

	for _, bad := range []struct {
		o    policy.StoreOptions
		want string
	}{
		{policy.StoreOptions{}, "no --store-prefix"},
		{policy.StoreOptions{Prefixes: []string{"smtp/"}}, "use secretsmanager:PREFIX/ or ssm:/PATH/"},
		{policy.StoreOptions{Prefixes: []string{"secretsmanager:"}}, "1-512"},
		{policy.StoreOptions{Prefixes: []string{"secretsmanager:smtp/*"}}, "without wildcards"},
		{policy.StoreOptions{Prefixes: []string{"secretsmanager:*"}}, "without wildcards"},
		{policy.StoreOptions{Prefixes: []string{"secretsmanager:/"}}, "too broad"},
		{policy.StoreOptions{Prefixes: []string{"secretsmanager://"}}, "too broad"},
		{policy.StoreOptions{Prefixes: []string{"secretsmanager:prod"}}, "too broad"},
		{policy.StoreOptions{Prefixes: []string{"secretsmanager:smtp-"}}, "too broad"},
		{policy.StoreOptions{Prefixes: []string{"secretsmanager:/prod"}}, "too broad"},
		{policy.StoreOptions{Prefixes: []string{"ssm:/smtp"}}, "starts and ends with /"},
		{policy.StoreOptions{Prefixes: []string{"ssm:/"}}, "starts and ends with /"},
		{policy.StoreOptions{Prefixes: []string{"ssm:"}}, "starts and ends with /"},
		{policy.StoreOptions{Prefixes: []string{"ssm:/smtp/*"}}, "without wildcards"},
		{policy.StoreOptions{Prefixes: []string{"ssm:/aws/x/"}}, "reserves"},
		{policy.StoreOptions{Prefixes: []string{"ssm:/smtp/"}, KMSKeyARN: "alias/smtp"}, "--key-id alias/smtp --query KeyMetadata.Arn"},
		{policy.StoreOptions{Prefixes: []string{"ssm:/smtp/"}, KMSKeyARN: "arn:aws:kms:eu-west-1:123456789012:alias/smtp"},
			"aws kms describe-key --key-id alias/smtp --query KeyMetadata.Arn"},
		{policy.StoreOptions{Prefixes: []string{"ssm:/smtp/"}, KMSKeyARN: "1234abcd-12ab-34cd-56ef-1234567890ab"}, "key ARN"},
		{policy.StoreOptions{Prefixes: []string{"ssm:/smtp/"}, KMSKeyARN: "arn:aws:kms:eu-west-1:123456789012:key/*"}, "key ARN"},
	} {
		_, err := policy.WithStores(base, bad.o)
		if assert.Error(t, err, "%+v", bad.o) {
			assert.Contains(t, err.Error(), bad.want)
		}
	}
	for _, good := range []string{"secretsmanager:smtp/", "secretsmanager:/smtp/", "secretsmanager:apps/smtp-", "ssm:/smtp/", "ssm:/apps/smtp/"} {
		_, err := policy.WithStores(base, policy.StoreOptions{Prefixes: []string{good},
			KMSKeyARN: "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"})
		assert.NoError(t, err, good)
	}
}
