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
// secret-store delivery (issue 15). Each test began as a break and asserts
// the promise it violated; all are fixed and none is skipped.

const (
	docsOpsKeyID  = "AKIADOCSOPERATOR0001"
	docsOpsSecret = "docs-operator-secret-00000000000000000000"
)

// sharedStorePrefixes are the --store-prefix flags docs/store.md's example
// used to give: prefixes an application's own secrets and settings share
// (prod/, /mediawiki/), which an operator may be given still.
var sharedStorePrefixes = []string{"--store-prefix", "secretsmanager:prod/", "--store-prefix", "ssm:/mediawiki/", "--store-prefix", "ssm:/relay/"}

// TestAttack4DocsStorePrefixReadsAppParameters: an operator granted the
// policy for a prefix the MediaWiki application's own settings live under
// (--store-prefix ssm:/mediawiki/) could decrypt, overwrite and delete the
// application's database password, a SecureString sesmtp never wrote: SSM
// statements were scoped by path only. Now reads, overwrites and deletions
// need sesmtp:managed-by=sesmtp on the parameter, and the policy comes
// with a warning naming the prefixes.
func TestAttack4DocsStorePrefixReadsAppParameters(t *testing.T) {
	a := setUpAccount(t)
	ctx := t.Context()
	admin := storeClients(a.srv)
	_, err := admin.SSM.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/mediawiki/db/password"),
		Value: aws.String("wiki-db-password"), Type: ssmtypes.ParameterTypeSecureString})
	require.NoError(t, err)

	args := append([]string{"policy", "operator", "--boundary-arn", a.boundary, "--compact"}, sharedStorePrefixes...)
	res := runCLI(t, "", args...)
	require.Equal(t, 0, res.code, res.stderr)
	assertStorePrefixWarning(t, res.stderr, "secretsmanager:prod/", "ssm:/mediawiki/", "ssm:/relay/")
	a.srv.PutUser(iamtest.User{Name: "docsops"})
	a.srv.SetCaller(iamtest.Caller{AccessKeyID: docsOpsKeyID, SecretAccessKey: docsOpsSecret, UserName: "docsops", Policies: []string{res.stdout}})
	e := *a.e
	e.AccessKeyID, e.SecretAccessKey = docsOpsKeyID, docsOpsSecret
	ps := e.SSM(func(o *ssm.Options) { o.RetryMaxAttempts = 1 })

	_, err = ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/mediawiki/db/password"), WithDecryption: aws.Bool(true)})
	assertStoreDenied(t, err, "decrypt the application's database password")
	_, err = ps.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/mediawiki/db/password"), WithDecryption: aws.Bool(true)})
	assertStoreDenied(t, err, "decrypt its history")
	_, err = ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/mediawiki/db/password"), Value: aws.String("attacker"),
		Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)})
	assertStoreDenied(t, err, "overwrite the application's database password")
	_, err = ps.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/mediawiki/db/password")})
	assertStoreDenied(t, err, "delete it")
	p, ok := a.srv.Parameter("/mediawiki/db/password")
	require.True(t, ok)
	assert.Len(t, p.Versions, 1, "the application's parameter is untouched")
}

// TestAttack4DocsStorePrefixReadsProdSecrets: with docs/store.md's
// example --store-prefix secretsmanager:prod/, an operator could tag any
// secret under prod/ (a database password an admin made) as sesmtp's
// (secretsmanager:TagResource is allowed on the prefix for CreateSecret's
// sake: the two cannot be told apart) and then read, overwrite or delete
// it. The policy cannot stop that under a prefix, so the docs' example now
// uses dedicated prefixes, against which the attack fails (for secrets and
// parameters alike), and a prefix of no whole level is refused.
func TestAttack4DocsStorePrefixReadsProdSecrets(t *testing.T) {
	args, prefixes := docsOperatorPolicyExample(t)
	res := runCLI(t, "", append(args, "--compact")...)
	require.Equal(t, 0, res.code, res.stderr)
	assertStorePrefixWarning(t, res.stderr, prefixes...)
	doc, err := iampolicy.Parse(res.stdout)
	require.NoError(t, err)
	p := iampolicy.Principal{Identity: []iampolicy.Policy{{ID: "operator", Type: iampolicy.SourceUserManaged, Document: doc}}}

	tag := iampolicy.Context{}
	tag.Set("aws:RequestTag/sesmtp:managed-by", "sesmtp")
	tag.Set("aws:TagKeys", "sesmtp:managed-by")
	owned := iampolicy.Context{}
	owned.Set("aws:ResourceTag/sesmtp:managed-by", "sesmtp")
	for _, attack := range []struct{ tag, read, resource string }{
		{"secretsmanager:TagResource", "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db/password-AbCdEf"},
		{"ssm:AddTagsToResource", "ssm:GetParameter", "arn:aws:ssm:eu-west-1:123456789012:parameter/mediawiki/db/password"},
	} {
		r, err := iampolicy.Evaluate(iampolicy.Request{Action: attack.tag, Resource: attack.resource, Context: tag}, p)
		require.NoError(t, err)
		assert.NotEqual(t, iampolicy.Allowed, r.Decision, "step 1: tag an application's item as sesmtp's: %s", attack.resource)
		r, err = iampolicy.Evaluate(iampolicy.Request{Action: attack.read, Resource: attack.resource, Context: owned}, p)
		require.NoError(t, err)
		assert.NotEqual(t, iampolicy.Allowed, r.Decision, "step 2: read it: %s", attack.resource)
	}

	res = runCLI(t, "", "policy", "operator", "--store-prefix", "secretsmanager:prod")
	assert.Equal(t, exitcode.Usage, res.code, "prod also covers prod-db and production/")
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "too broad")
}

// docsOperatorPolicyExample returns the arguments of docs/store.md's
// 'sesmtp policy operator' example and its --store-prefix values, which
// must be sesmtp's own: no application's secret the page names is under them.
func docsOperatorPolicyExample(t *testing.T) (args, prefixes []string) {
	t.Helper()
	for _, ex := range docExamples(t, "../docs/store.md") {
		if !strings.HasPrefix(ex.cmd, "sesmtp policy operator ") {
			continue
		}
		args = strings.Fields(strings.TrimPrefix(ex.cmd, "sesmtp "))
		for i, a := range args {
			if a == "--store-prefix" && i+1 < len(args) {
				prefixes = append(prefixes, args[i+1])
			}
		}
	}
	require.NotEmpty(t, prefixes, "docs/store.md shows 'sesmtp policy operator --store-prefix ...'")
	for _, p := range prefixes {
		for _, app := range []string{"secretsmanager:prod/db/password", "ssm:/mediawiki/db/password"} {
			assert.False(t, strings.HasPrefix(app, p), "the docs' prefix %s covers an application's %s", p, app)
		}
	}
	return args, prefixes
}

// assertStorePrefixWarning: one line on stderr, naming every prefix and
// what operators may do under them.
func assertStorePrefixWarning(t *testing.T, stderr string, prefixes ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Len(t, lines, 1, stderr)
	assert.True(t, strings.HasPrefix(lines[0], "warning: "), stderr)
	assert.Contains(t, lines[0], "readable, writable and deletable by operators")
	assert.Contains(t, lines[0], "must hold only sesmtp's items")
	for _, p := range prefixes {
		assert.Contains(t, lines[0], p)
	}
}

// TestAttack4KMSAliasARNInOperatorPolicy: policy operator --kms-key-id
// accepted an alias ARN and printed it as the Resource of kms:Decrypt,
// kms:Encrypt and kms:GenerateDataKey. AWS KMS Developer Guide,
// "Specifying KMS keys in IAM policy statements": "You cannot use a key
// id, alias name, or alias ARN to identify a KMS key in an IAM policy
// statement"; an alias ARN applies to the alias resource only. So the
// statement granted nothing on the key, and create --store --kms-key-id
// alias/smtp (docs/store.md's example) failed on AWS for an operator
// holding that policy, while every local test passed (iamtest has no KMS).
// Now only a key ARN is accepted, and the error says how to find it.
func TestAttack4KMSAliasARNInOperatorPolicy(t *testing.T) {
	res := runCLI(t, "", "policy", "operator", "--boundary-arn", "arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary",
		"--store-prefix", "ssm:/smtp/", "--kms-key-id", "arn:aws:kms:eu-west-1:123456789012:alias/smtp")
	assert.Equal(t, exitcode.Usage, res.code, "an alias ARN cannot name a key in a policy")
	assert.False(t, strings.Contains(res.stdout, ":alias/"), "a KMS statement whose Resource is an alias grants no use of the key")
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "aws kms describe-key --key-id alias/smtp --query KeyMetadata.Arn")

	const keyARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	res = runCLI(t, "", "policy", "operator", "--boundary-arn", "arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary",
		"--store-prefix", "ssm:/smtp/", "--kms-key-id", keyARN, "--compact")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, `"Resource":"`+keyARN+`"`)
}

func assertStoreDenied(t *testing.T, err error, what string) {
	t.Helper()
	var ae smithy.APIError
	if assert.True(t, errors.As(err, &ae), "%s: not refused", what) {
		assert.True(t, strings.Contains(ae.ErrorCode(), "AccessDenied"), "%s: %v", what, err)
	}
}
