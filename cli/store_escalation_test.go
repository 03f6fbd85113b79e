package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/store"
	"github.com/sesmtp/sesmtp/verify/smtptest"
)

const (
	storeOpsKeyID  = "AKIASTOREOPS00000001"
	storeOpsSecret = "store-operator-secret-000000000000000000"
)

// storeOperator gives the account an operator holding the bounded policy
// with the store statements for secretsmanager:smtp/ and ssm:/smtp/, and
// makes the in-process runs sign as it.
func storeOperator(t *testing.T, a *account) string {
	res := runCLI(t, "", "policy", "operator", "--boundary-arn", a.boundary, "--group", "ses-senders", "--allow-tag", "team",
		"--store-prefix", "secretsmanager:smtp/", "--store-prefix", "ssm:/smtp/", "--compact")
	require.Equal(t, 0, res.code, res.stderr)
	a.srv.PutUser(iamtest.User{Name: "storeops"})
	a.srv.SetCaller(iamtest.Caller{AccessKeyID: storeOpsKeyID, SecretAccessKey: storeOpsSecret, UserName: "storeops", Policies: []string{res.stdout}})
	a.as(t, storeOpsKeyID, storeOpsSecret)
	return res.stdout
}

func storeFlowArgs(a *account, args ...string) []string {
	return append(args, "--endpoint-url", a.e.URL, "--store-endpoint-url", a.e.URL)
}

// TestStoreEscalationMatrix runs, as an operator holding the bounded
// policy with --store-prefix, every store flow (all must work without an
// AccessDenied) and every creation, tagging, write, read or deletion of a
// secret or parameter outside the prefix, or of one sesmtp did not make
// inside it, through the SDK (all must be denied). What it cannot deny, by
// design: tagging an item under the prefix as sesmtp's, then using it
// (docs/store.md, Permissions).
func TestStoreEscalationMatrix(t *testing.T) {
	a := setUpAccount(t)
	admin := storeClients(a.srv)
	ctx := t.Context()
	_, err := admin.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("smtp/admin-made"),
		SecretString: aws.String(`{"password":"admin"}`)})
	require.NoError(t, err)
	_, err = admin.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/db"),
		SecretString: aws.String(`{"password":"db"}`), Tags: []smtypes.Tag{{Key: aws.String(store.TagManagedBy), Value: aws.String(store.ManagedByValue)}}})
	require.NoError(t, err)
	for _, name := range []string{"/prod/db/password", "/smtp/admin-made"} {
		_, err = admin.SSM.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("db"),
			Type: ssmtypes.ParameterTypeSecureString})
		require.NoError(t, err)
	}
	storeOperator(t, a)
	smtp := smtptest.NewServer(t, smtptest.Options{Accept: acceptIAMKeys(a.srv, "eu-west-1")})

	flows, allowed := 0, 0
	for _, f := range storeEscalationFlows(t, smtp) {
		flows++
		if t.Run("flow/"+f.name, func(t *testing.T) { runEscalationFlow(t, a, f) }) {
			allowed++
		}
	}
	attempts, denied := 0, 0
	for _, at := range storeEscalationAttempts(a) {
		attempts++
		if t.Run("attempt/"+at.name, func(t *testing.T) {
			err := at.try(t.Context())
			var ae smithy.APIError
			if assert.ErrorAs(t, err, &ae, "not refused") {
				assert.Equal(t, "AccessDeniedException", ae.ErrorCode(), err.Error())
			}
		}) {
			denied++
		}
	}
	sec, _ := a.srv.Secret("smtp/admin-made")
	assert.Len(t, sec.Versions, 1, "the admin's secret under the prefix is untouched")
	assert.Empty(t, sec.Tags)
	for _, name := range []string{"/prod/db/password", "/smtp/admin-made"} {
		p, ok := a.srv.Parameter(name)
		if assert.True(t, ok, name) {
			assert.Len(t, p.Versions, 1, name)
			assert.Empty(t, p.Tags, name)
		}
	}
	t.Logf("store escalation matrix: %d attempts, %d denied; %d flows, %d allowed", attempts, denied, flows, allowed)
}

func storeEscalationFlows(t *testing.T, smtp *smtptest.Server) []escalationFlow {
	reject := smtptest.NewServer(t, smtptest.Options{Accept: func(string, string) bool { return false }})
	return []escalationFlow{
		{name: "create --store secretsmanager", args: func(a *account) []string {
			return storeFlowArgs(a, "create", "--user", "st1", "--region", "eu-west-1", "--store", "secretsmanager:smtp/st1")
		}},
		{name: "verify --store", args: func(a *account) []string {
			return storeFlowArgs(a, "verify", "--store", "secretsmanager:smtp/st1", "--region", "eu-west-1", "--endpoint", smtp.Addr, "--ca-file", smtp.CAFile)
		}},
		{name: "rotate --strategy key (tagged store)", args: func(a *account) []string {
			return storeFlowArgs(a, "rotate", "--user", "st1", "--strategy", "key", "--region", "eu-west-1")
		}},
		{name: "create --store ssm:/path/ --group", args: func(a *account) []string {
			return storeFlowArgs(a, "create", "--user", "st2", "--region", "eu-west-1", "--group", "ses-senders", "--store", "ssm:/smtp/st2/")
		}},
		{name: "rotate --strategy key to another store (retags the user)", args: func(a *account) []string {
			return storeFlowArgs(a, "rotate", "--user", "st2", "--strategy", "key", "--region", "eu-west-1", "--store", "secretsmanager:smtp/st2")
		}, check: func(t *testing.T, a *account) {
			u, _ := a.srv.User("st2")
			loc, _, _ := store.LocationOf(tagMap(u.Tags))
			assert.Equal(t, "secretsmanager:smtp/st2", loc.Target.String())
		}},
		{name: "rotate --strategy recreate (tagged store)", args: func(a *account) []string {
			return storeFlowArgs(a, "rotate", "--user", "st1", "--yes", "--region", "eu-west-1")
		}},
		{name: "create --from-file --store", args: func(a *account) []string {
			manifest := filepath.Join(a.dir, "store-senders.txt")
			if err := os.WriteFile(manifest, []byte("sb1\nsb2\n"), 0o600); err != nil {
				panic(err)
			}
			return storeFlowArgs(a, "create", "--from-file", manifest, "--region", "eu-west-1", "--store", "secretsmanager:smtp/{user}")
		}},
		{name: "create --store --verify, rejected and rolled back", code: exitcode.Rejected, args: func(a *account) []string {
			return storeFlowArgs(a, "create", "--user", "st3", "--region", "eu-west-1", "--store", "secretsmanager:smtp/st3",
				"--verify", "--smtp-endpoint", reject.Addr, "--ca-file", reject.CAFile, "--verify-wait", "0s")
		}, check: func(t *testing.T, a *account) {
			_, ok := a.srv.Secret("smtp/st3")
			assert.False(t, ok, "taken back")
		}},
		{name: "delete --delete-stored", args: func(a *account) []string {
			return storeFlowArgs(a, "delete", "--user", "st1", "--yes", "--delete-stored")
		}},
		{name: "delete --delete-stored (a batch's secret)", args: func(a *account) []string {
			return storeFlowArgs(a, "delete", "--user", "sb1", "--yes", "--delete-stored")
		}},
		{name: "create --store ssm:/path/name", args: func(a *account) []string {
			return storeFlowArgs(a, "create", "--user", "st4", "--region", "eu-west-1", "--store", "ssm:/smtp/st4")
		}},
		{name: "rotate --strategy key (tagged ssm store)", args: func(a *account) []string {
			return storeFlowArgs(a, "rotate", "--user", "st4", "--strategy", "key", "--region", "eu-west-1")
		}, check: func(t *testing.T, a *account) {
			p, _ := a.srv.Parameter("/smtp/st4")
			assert.Len(t, p.Versions, 2, "overwritten")
		}},
		{name: "verify --store (ssm)", args: func(a *account) []string {
			return storeFlowArgs(a, "verify", "--store", "ssm:/smtp/st4", "--region", "eu-west-1", "--endpoint", smtp.Addr, "--ca-file", smtp.CAFile)
		}},
		{name: "create --store ssm:/path/ --verify, rejected and rolled back", code: exitcode.Rejected, args: func(a *account) []string {
			return storeFlowArgs(a, "create", "--user", "st5", "--region", "eu-west-1", "--store", "ssm:/smtp/st5/",
				"--verify", "--smtp-endpoint", reject.Addr, "--ca-file", reject.CAFile, "--verify-wait", "0s")
		}, check: func(t *testing.T, a *account) {
			_, ok := a.srv.Parameter("/smtp/st5/username")
			assert.False(t, ok, "taken back")
		}},
		{name: "delete --delete-stored (ssm)", args: func(a *account) []string {
			return storeFlowArgs(a, "delete", "--user", "st4", "--yes", "--delete-stored")
		}, check: func(t *testing.T, a *account) {
			_, ok := a.srv.Parameter("/smtp/st4")
			assert.False(t, ok, "deleted")
		}},
	}
}

func storeEscalationAttempts(a *account) []escalationAttempt {
	e := *a.e
	e.AccessKeyID, e.SecretAccessKey = storeOpsKeyID, storeOpsSecret
	sm := e.SecretsManager(func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	ps := e.SSM(func(o *ssm.Options) { o.RetryMaxAttempts = 1 })
	tag := func(k, v string) smtypes.Tag { return smtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	managed := []smtypes.Tag{tag(store.TagManagedBy, store.ManagedByValue), tag(store.TagIAMUser, "x")}
	create := func(name string, tags []smtypes.Tag) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("{}"), Tags: tags})
			return err
		}
	}
	put := func(id string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(`{"x":1}`)})
			return err
		}
	}
	del := func(id string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(id), ForceDeleteWithoutRecovery: aws.Bool(true)})
			return err
		}
	}
	read := func(id string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			return err
		}
	}
	putParam := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("x"),
				Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)})
			return err
		}
	}
	ptag := func(k, v string) ssmtypes.Tag { return ssmtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	pmanaged := []ssmtypes.Tag{ptag(store.TagManagedBy, store.ManagedByValue), ptag(store.TagIAMUser, "x")}
	newParam := func(name string, tags []ssmtypes.Tag) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("x"),
				Type: ssmtypes.ParameterTypeSecureString, Tags: tags})
			return err
		}
	}
	readParam := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := ps.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
			return err
		}
	}
	paramHistory := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := ps.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
			return err
		}
	}
	delParam := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := ps.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)})
			return err
		}
	}
	tagSecret := func(id string, tags []smtypes.Tag) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(id), Tags: tags})
			return err
		}
	}
	untagSecret := func(id string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := sm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String(id), TagKeys: []string{store.TagManagedBy}})
			return err
		}
	}
	tagParam := func(name string, tags []ssmtypes.Tag) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := ps.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter,
				ResourceId: aws.String(name), Tags: tags})
			return err
		}
	}
	return []escalationAttempt{
		{"create a secret outside the prefix", create("prod/smtp", managed)},
		{"create a secret under the prefix without sesmtp's tags", create("smtp/untagged", nil)},
		{"create a secret under the prefix with a foreign tag key", create("smtp/extra", append(managed, tag("owner", "me")))},
		{"create a secret under the prefix tagged for another tool", create("smtp/other", []smtypes.Tag{tag(store.TagManagedBy, "terraform")})},
		{"write a secret under the prefix sesmtp did not make", put("smtp/admin-made")},
		{"read a secret under the prefix sesmtp did not make", read("smtp/admin-made")},
		{"delete a secret under the prefix sesmtp did not make", del("smtp/admin-made")},
		{"move the stage of a secret sesmtp did not make", func(ctx context.Context) error {
			_, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("smtp/admin-made"),
				VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String("sesmtp-access-key-AKIAXXXXXXXXXXXXXXXX")})
			return err
		}},
		{"write a sesmtp-tagged secret outside the prefix", put("prod/db")},
		{"read a sesmtp-tagged secret outside the prefix", read("prod/db")},
		{"delete a sesmtp-tagged secret outside the prefix", del("prod/db")},
		{"describe a secret outside the prefix", func(ctx context.Context) error {
			_, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("prod/db")})
			return err
		}},
		{"tag a secret outside the prefix as sesmtp's", tagSecret("prod/db", managed)},
		{"untag a secret outside the prefix", untagSecret("prod/db")},
		{"tag a secret under the prefix with a foreign tag key", tagSecret("smtp/admin-made", []smtypes.Tag{tag("owner", "me")})},
		{"tag a secret under the prefix as another tool's", tagSecret("smtp/admin-made", []smtypes.Tag{tag(store.TagManagedBy, "terraform")})},
		{"untag a secret under the prefix", untagSecret("smtp/admin-made")},
		{"overwrite a parameter outside the path", putParam("/prod/db/password")},
		{"create a parameter outside the path", putParam("/prod/smtp/password")},
		{"create a tagged parameter outside the path", newParam("/prod/smtp/tagged", pmanaged)},
		{"read a parameter outside the path", readParam("/prod/db/password")},
		{"delete a parameter outside the path", delParam("/prod/db/password")},
		{"read a parameter's history outside the path", paramHistory("/prod/db/password")},
		{"tag a parameter outside the path as sesmtp's", tagParam("/prod/db/password", pmanaged)},
		{"create a parameter under the path without sesmtp's tags", newParam("/smtp/untagged", nil)},
		{"create a parameter under the path with a foreign tag key", newParam("/smtp/extra", append(pmanaged, ptag("owner", "me")))},
		{"overwrite a parameter under the path sesmtp did not make", putParam("/smtp/admin-made")},
		{"read a parameter under the path sesmtp did not make", readParam("/smtp/admin-made")},
		{"read its history", paramHistory("/smtp/admin-made")},
		{"delete a parameter under the path sesmtp did not make", delParam("/smtp/admin-made")},
		{"tag a parameter under the path with a foreign tag key", tagParam("/smtp/admin-made", []ssmtypes.Tag{ptag("owner", "me")})},
	}
}
