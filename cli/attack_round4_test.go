package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

// Round 4 of the adversarial review of least privilege (issue 12) and
// secret-store delivery (issue 15). Each test here is a break: it fails
// without its t.Skip, and says why in the skip.

const (
	docsOpsKeyID  = "AKIADOCSOPERATOR0001"
	docsOpsSecret = "docs-operator-secret-00000000000000000000"
)

// docsStorePrefixes are the --store-prefix flags of docs/store.md's own
// example ("What an operator needs for it").
var docsStorePrefixes = []string{"--store-prefix", "secretsmanager:prod/", "--store-prefix", "ssm:/mediawiki/", "--store-prefix", "ssm:/relay/"}

// TestAttack4DocsStorePrefixReadsAppParameters: an operator granted the
// policy docs/store.md's example prints (--store-prefix ssm:/mediawiki/,
// a prefix the same page uses for the MediaWiki application's own
// settings) reads and overwrites the application's database password, a
// SecureString sesmtp never wrote. SSM statements are scoped by path only.
func TestAttack4DocsStorePrefixReadsAppParameters(t *testing.T) {
	t.Skip("BREAK: docs/store.md's example --store-prefix ssm:/mediawiki/ lets the operator decrypt and overwrite /mediawiki/db/password")
	a := setUpAccount(t)
	ctx := t.Context()
	admin := storeClients(a.srv)
	_, err := admin.SSM.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/mediawiki/db/password"),
		Value: aws.String("wiki-db-password"), Type: ssmtypes.ParameterTypeSecureString})
	require.NoError(t, err)

	args := append([]string{"policy", "operator", "--boundary-arn", a.boundary, "--compact"}, docsStorePrefixes...)
	res := runCLI(t, "", args...)
	require.Equal(t, 0, res.code, res.stderr)
	a.srv.PutUser(iamtest.User{Name: "docsops"})
	a.srv.SetCaller(iamtest.Caller{AccessKeyID: docsOpsKeyID, SecretAccessKey: docsOpsSecret, UserName: "docsops", Policies: []string{res.stdout}})
	e := *a.e
	e.AccessKeyID, e.SecretAccessKey = docsOpsKeyID, docsOpsSecret
	ps := e.SSM(func(o *ssm.Options) { o.RetryMaxAttempts = 1 })

	_, err = ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/mediawiki/db/password"), WithDecryption: aws.Bool(true)})
	assertStoreDenied(t, err, "decrypt the application's database password")
	_, err = ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/mediawiki/db/password"), Value: aws.String("attacker"),
		Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)})
	assertStoreDenied(t, err, "overwrite the application's database password")
	p, _ := a.srv.Parameter("/mediawiki/db/password")
	assert.Len(t, p.Versions, 1, "the application's parameter is untouched")
}

// TestAttack4DocsStorePrefixReadsProdSecrets: with docs/store.md's
// example --store-prefix secretsmanager:prod/, an operator tags any
// secret under prod/ (a database password an admin made) as sesmtp's
// (secretsmanager:TagResource is allowed on the prefix for CreateSecret's
// sake) and then reads, overwrites or deletes it. iamtest does not serve
// TagResource, so the store matrix cannot see this; the evaluator can.
func TestAttack4DocsStorePrefixReadsProdSecrets(t *testing.T) {
	t.Skip("BREAK: docs/store.md's example --store-prefix secretsmanager:prod/ lets the operator TagResource then GetSecretValue any prod/ secret")
	args := append([]string{"policy", "operator", "--boundary-arn", "arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary", "--compact"},
		docsStorePrefixes...)
	res := runCLI(t, "", args...)
	require.Equal(t, 0, res.code, res.stderr)
	doc, err := iampolicy.Parse(res.stdout)
	require.NoError(t, err)
	p := iampolicy.Principal{Identity: []iampolicy.Policy{{ID: "operator", Type: iampolicy.SourceUserManaged, Document: doc}}}
	const prodDB = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db/password-AbCdEf"

	tag := iampolicy.Context{}
	tag.Set("aws:RequestTag/sesmtp:managed-by", "sesmtp")
	tag.Set("aws:TagKeys", "sesmtp:managed-by")
	r, err := iampolicy.Evaluate(iampolicy.Request{Action: "secretsmanager:TagResource", Resource: prodDB, Context: tag}, p)
	require.NoError(t, err)
	assert.NotEqual(t, iampolicy.Allowed, r.Decision, "step 1: tag an admin's prod/ secret as sesmtp's")

	owned := iampolicy.Context{}
	owned.Set("aws:ResourceTag/sesmtp:managed-by", "sesmtp")
	r, err = iampolicy.Evaluate(iampolicy.Request{Action: "secretsmanager:GetSecretValue", Resource: prodDB, Context: owned}, p)
	require.NoError(t, err)
	assert.NotEqual(t, iampolicy.Allowed, r.Decision, "step 2: read it")
}

// TestAttack4KMSAliasARNInOperatorPolicy: policy operator --kms-key-id
// accepts an alias ARN and prints it as the Resource of kms:Decrypt,
// kms:Encrypt and kms:GenerateDataKey. AWS KMS Developer Guide,
// "Specifying KMS keys in IAM policy statements": "You cannot use a key
// id, alias name, or alias ARN to identify a KMS key in an IAM policy
// statement"; an alias ARN applies to the alias resource only. So the
// statement grants nothing on the key, and create --store --kms-key-id
// alias/smtp (docs/store.md's example) fails on AWS for an operator
// holding that policy, while every local test passes (iamtest has no KMS).
func TestAttack4KMSAliasARNInOperatorPolicy(t *testing.T) {
	t.Skip("BREAK: policy operator --kms-key-id accepts an alias ARN, which AWS does not match against the key in an IAM policy Resource")
	res := runCLI(t, "", "policy", "operator", "--boundary-arn", "arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary",
		"--store-prefix", "ssm:/smtp/", "--kms-key-id", "arn:aws:kms:eu-west-1:123456789012:alias/smtp")
	assert.Equal(t, exitcode.Usage, res.code, "an alias ARN cannot name a key in a policy")
	assert.False(t, strings.Contains(res.stdout, ":alias/"), "a KMS statement whose Resource is an alias grants no use of the key")
}

func assertStoreDenied(t *testing.T, err error, what string) {
	t.Helper()
	var ae smithy.APIError
	if assert.True(t, errors.As(err, &ae), "%s: not refused", what) {
		assert.True(t, strings.Contains(ae.ErrorCode(), "AccessDenied"), "%s: %v", what, err)
	}
}
