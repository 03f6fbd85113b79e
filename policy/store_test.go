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
// boundary's account; Secrets Manager writes need sesmtp's tag; the KMS key
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
	assert.Len(t, doc.Statement, len(base.Statement)+5)
	byID := map[string]policy.Statement{}
	for _, s := range doc.Statement[len(base.Statement):] {
		byID[s.Sid] = s
		assert.NotContains(t, s.Resource, "*", "%s is scoped", s.Sid)
	}
	assert.Equal(t, policy.Strings{"arn:aws:secretsmanager:*:123456789012:secret:smtp/*"}, byID["SesmtpSecretsOwn"].Resource)
	assert.Equal(t, policy.Strings{"sesmtp"}, byID["SesmtpSecretsOwn"].Condition["StringEquals"]["aws:ResourceTag/sesmtp:managed-by"])
	assert.Equal(t, policy.Strings{"sesmtp"}, byID["SesmtpSecretsCreateTagged"].Condition["StringEquals"]["aws:RequestTag/sesmtp:managed-by"])
	assert.Equal(t, policy.Strings{"arn:aws:ssm:*:123456789012:parameter/smtp/*", "arn:aws:ssm:*:123456789012:parameter/mediawiki/smtp/*"},
		byID["SesmtpParameters"].Resource)
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

	for _, bad := range []policy.StoreOptions{
		{},
		{Prefixes: []string{"smtp/"}},
		{Prefixes: []string{"secretsmanager:"}},
		{Prefixes: []string{"secretsmanager:smtp/*"}},
		{Prefixes: []string{"ssm:/smtp"}},
		{Prefixes: []string{"ssm:/"}},
		{Prefixes: []string{"ssm:/aws/x/"}},
		{Prefixes: []string{"ssm:/smtp/"}, KMSKeyARN: "alias/smtp"},
	} {
		_, err := policy.WithStores(base, bad)
		assert.Error(t, err, "%+v", bad)
	}
}
