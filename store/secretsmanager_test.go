package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/store"
)

const secretSpec = "secretsmanager:prod/billing/smtp"

// current returns the AWSCURRENT value of the test secret, decoded.
func (v *env) current(t *testing.T) (stored, iamtest.Secret) {
	t.Helper()
	sec, ok := v.srv.Secret("prod/billing/smtp")
	require.True(t, ok, "the secret exists")
	cur, ok := sec.Stage(iamtest.StageCurrent)
	require.True(t, ok)
	return decode(t, cur.Value), sec
}

func TestSecretsManagerCreateAndRotate(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	s := v.store(t, secretSpec, store.Options{KMSKeyID: "alias/mail"})

	r, err := s.Deliver(ctx, payload(t, key1, password1, false))
	require.NoError(t, err)
	assert.Equal(t, []store.Outcome{store.Created}, outcomes(r.Items))
	assert.Regexp(t, `^arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/billing/smtp-`, r.Items[0].ARN)
	got, sec := v.current(t)
	assert.Equal(t, stored{Username: key1, Password: password1, Host: "email-smtp.eu-west-1.amazonaws.com", Port: 587,
		Region: "eu-west-1", IAMUser: user, AccessKeyID: key1}, got)
	assert.Equal(t, "alias/mail", sec.KMSKeyID)
	assert.ElementsMatch(t, []iamtest.Tag{{Key: "sesmtp:managed-by", Value: "sesmtp"}, {Key: "sesmtp:iam-user", Value: user}}, sec.Tags)

	r, err = s.Deliver(ctx, payload(t, key2, password2, true))
	require.NoError(t, err)
	assert.Equal(t, []store.Outcome{store.Updated}, outcomes(r.Items))
	got, sec = v.current(t)
	assert.Equal(t, key2, got.Username, "applications reading AWSCURRENT get the new key")
	assert.Equal(t, "sk-"+password2, got.SecretAccessKey)
	prev, _ := sec.Stage(iamtest.StagePrevious)
	assert.Equal(t, key1, decode(t, prev.Value).Username)

	calls := v.srv.CallCount("secretsmanager:PutSecretValue")
	r, err = s.Deliver(ctx, payload(t, key2, password2, true))
	require.NoError(t, err)
	assert.Equal(t, []store.Outcome{store.Unchanged}, outcomes(r.Items), "a re-run writes nothing")
	assert.Equal(t, calls, v.srv.CallCount("secretsmanager:PutSecretValue"))

	st, err := s.Describe(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.State{Target: s.Target(), Exists: true, Managed: true, IAMUser: user, KeyID: key2,
		ARN: sec.ARN, KMSKeyID: "alias/mail"}, st)
	for key, want := range map[string]bool{key1: false, key2: true} {
		holds, err := s.Holds(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, want, holds, key)
	}
}

func TestSecretsManagerRefusesOthersSecrets(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	create := func(name string, tags ...smtypes.Tag) {
		_, err := v.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("theirs"), Tags: tags})
		require.NoError(t, err)
	}
	create("handmade")
	create("other-user/smtp", smtypes.Tag{Key: aws.String("sesmtp:managed-by"), Value: aws.String("sesmtp")},
		smtypes.Tag{Key: aws.String("sesmtp:iam-user"), Value: aws.String("someone-else")})
	create("gone/smtp", smtypes.Tag{Key: aws.String("sesmtp:managed-by"), Value: aws.String("sesmtp")},
		smtypes.Tag{Key: aws.String("sesmtp:iam-user"), Value: aws.String(user)})
	_, err := v.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("gone/smtp")})
	require.NoError(t, err)

	for name, kind := range map[string]error{"handmade": store.ErrNotManaged, "other-user/smtp": store.ErrOtherUser,
		"gone/smtp": store.ErrScheduledForDeletion} {
		t.Run(name, func(t *testing.T) {
			v.srv.ResetCalls()
			s := v.store(t, "secretsmanager:"+name, store.Options{})
			_, err := s.Deliver(ctx, payload(t, key1, password1, false))
			require.ErrorIs(t, err, kind)
			assert.Equal(t, exitcode.Usage, exitcode.Of(err), "refused before anything changed: exit 2")
			assertNoSecret(t, err)
			assert.Equal(t, 1, v.srv.CallCount(""), "only DescribeSecret was called")
			sec, _ := v.srv.Secret(name)
			assert.Len(t, sec.Versions, 1)

			holds, err := s.Holds(ctx, key1)
			require.NoError(t, err)
			assert.False(t, holds)
			r, err := s.Retract(ctx, key1)
			require.NoError(t, err)
			assert.False(t, r.Changed())
		})
	}
	_, err = v.store(t, "secretsmanager:other-user/smtp", store.Options{}).Delete(ctx, user, store.DeleteOptions{})
	require.ErrorIs(t, err, store.ErrOtherUser, "delete --delete-stored removes only the user's own secret")
}

func TestSecretsManagerRetract(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	s := v.store(t, secretSpec, store.Options{})

	_, err := s.Deliver(ctx, payload(t, key1, password1, false))
	require.NoError(t, err)
	r, err := s.Retract(ctx, key1)
	require.NoError(t, err)
	assert.Equal(t, []store.Outcome{store.Deleted}, outcomes(r.Items), "a secret the delivery created is deleted")
	_, ok := v.srv.Secret("prod/billing/smtp")
	assert.False(t, ok, "without a recovery window: the name is free at once")

	_, err = s.Deliver(ctx, payload(t, key1, password1, false))
	require.NoError(t, err)
	_, err = s.Deliver(ctx, payload(t, key2, password2, false))
	require.NoError(t, err)
	r, err = s.Retract(ctx, key1)
	require.NoError(t, err)
	assert.False(t, r.Changed(), "a key that is not current is left alone")
	r, err = s.Retract(ctx, key2)
	require.NoError(t, err)
	assert.Equal(t, []store.Outcome{store.Restored}, outcomes(r.Items))
	got, _ := v.current(t)
	assert.Equal(t, key1, got.Username, "the previous version is current again")
	r, err = s.Retract(ctx, key2)
	require.NoError(t, err)
	assert.False(t, r.Changed(), "Retract is idempotent")

	_, err = s.Deliver(ctx, payload(t, key2, password2, false))
	require.NoError(t, err, "delivering a retracted key again reuses its version")
	got, _ = v.current(t)
	assert.Equal(t, key2, got.Username)
}

func TestSecretsManagerFaults(t *testing.T) {
	tests := []struct {
		name      string
		setup     []string // keys delivered before the fault
		fault     iamtest.Fault
		noRetries bool
		wantErr   bool
		lost      bool          // the failed call took effect: the store holds key2 anyway
		retracted store.Outcome // what Retract then does
		before    string        // the key current after Retract ("" for no secret)
	}{
		{name: "create fails persistently", fault: iamtest.Fault{Action: "secretsmanager:CreateSecret", Kind: iamtest.FailBefore},
			wantErr: true, retracted: store.Untouched},
		{name: "create throttled once then retried", fault: iamtest.Fault{Action: "secretsmanager:CreateSecret", Nth: 1, Kind: iamtest.FailBefore, Code: "Throttling"},
			retracted: store.Deleted},
		{name: "create answer lost, retried", fault: iamtest.Fault{Action: "secretsmanager:CreateSecret", Nth: 1, Kind: iamtest.FailAfter},
			retracted: store.Deleted},
		{name: "create connection dropped after commit", fault: iamtest.Fault{Action: "secretsmanager:CreateSecret", Kind: iamtest.DropAfter},
			noRetries: true, wantErr: true, lost: true, retracted: store.Deleted},
		{name: "new version fails", setup: []string{key1}, fault: iamtest.Fault{Action: "secretsmanager:PutSecretValue", Kind: iamtest.FailBefore, Code: "AccessDenied"},
			wantErr: true, retracted: store.Untouched, before: key1},
		{name: "new version answer lost", setup: []string{key1}, fault: iamtest.Fault{Action: "secretsmanager:PutSecretValue", Kind: iamtest.DropAfter},
			noRetries: true, wantErr: true, lost: true, retracted: store.Restored, before: key1},
		{name: "new version committed, then error, retried", setup: []string{key1}, fault: iamtest.Fault{Action: "secretsmanager:PutSecretValue", Nth: 1, Kind: iamtest.FailAfter},
			retracted: store.Restored, before: key1},
		{name: "describe fails", fault: iamtest.Fault{Action: "secretsmanager:DescribeSecret", Nth: 1, Count: 3, Kind: iamtest.FailBefore},
			wantErr: true, retracted: store.Untouched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newEnv(t)
			ctx := t.Context()
			s := v.store(t, secretSpec, store.Options{})
			for _, k := range tt.setup {
				_, err := s.Deliver(ctx, payload(t, k, password1, false))
				require.NoError(t, err)
			}
			faulty := s
			if tt.noRetries {
				faulty = v.storeWith(t, secretSpec, v.noRetries(), store.Options{})
			}
			v.srv.Inject(tt.fault)
			_, err := faulty.Deliver(ctx, payload(t, key2, password2, false))
			assertNoSecret(t, err)
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			v.srv.ClearFaults()
			holds, herr := s.Holds(ctx, key2)
			require.NoError(t, herr)
			assert.Equal(t, !tt.wantErr || tt.lost, holds, "held when delivered or when the lost call completed it")

			r, err := s.Retract(ctx, key2)
			require.NoError(t, err)
			assert.Equal(t, []store.Outcome{tt.retracted}, outcomes(r.Items))
			st, err := s.Describe(ctx)
			require.NoError(t, err)
			assert.Equal(t, tt.before != "", st.Exists, "the store is as before")
			assert.Equal(t, tt.before, st.KeyID)
		})
	}
}

func TestSecretsManagerRetractFailureCanBeRetried(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	s := v.store(t, secretSpec, store.Options{})
	for _, k := range []string{key1, key2} {
		_, err := s.Deliver(ctx, payload(t, k, password1, false))
		require.NoError(t, err)
	}
	v.srv.Inject(iamtest.Fault{Action: "secretsmanager:UpdateSecretVersionStage", Kind: iamtest.FailBefore, Code: "AccessDenied"})
	_, err := s.Retract(ctx, key2)
	var apiErr *store.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.True(t, apiErr.Caller)
	assert.True(t, apiErr.Answered())
	assert.Equal(t, "AccessDeniedException", apiErr.Code)
	assert.Contains(t, err.Error(), "not allowed secretsmanager:UpdateSecretVersionStage")
	assert.Contains(t, err.Error(), "docs/store.md")
	v.srv.ClearFaults()
	r, err := s.Retract(ctx, key2)
	require.NoError(t, err)
	assert.Equal(t, []store.Outcome{store.Restored}, outcomes(r.Items))
}

func TestSecretsManagerDelete(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	s := v.store(t, secretSpec, store.Options{})
	d, err := s.Delete(ctx, user, store.DeleteOptions{})
	require.NoError(t, err)
	assert.False(t, d.Changed(), "nothing stored, nothing deleted")

	_, err = s.Deliver(ctx, payload(t, key1, password1, false))
	require.NoError(t, err)
	_, err = s.Delete(ctx, user, store.DeleteOptions{RecoveryWindowDays: 5})
	assert.Equal(t, exitcode.Usage, exitcode.Of(err))
	d, err = s.Delete(ctx, user, store.DeleteOptions{RecoveryWindowDays: 7})
	require.NoError(t, err)
	assert.Equal(t, []store.Outcome{store.ScheduledDeletion}, outcomes(d.Items))
	assert.WithinDuration(t, time.Now().Add(7*24*time.Hour), d.Items[0].DeletionDate, time.Minute)
	st, err := s.Describe(ctx)
	require.NoError(t, err)
	assert.False(t, st.DeletionDate.IsZero(), "scheduled, restorable until then")
	holds, err := s.Holds(ctx, key1)
	require.NoError(t, err)
	assert.False(t, holds, "a secret scheduled for deletion holds nothing")

	d, err = s.Delete(ctx, user, store.DeleteOptions{})
	require.NoError(t, err)
	assert.False(t, d.Changed(), "deleting again changes nothing")
	_, err = s.Deliver(ctx, payload(t, key2, password2, false))
	assert.True(t, errors.Is(err, store.ErrScheduledForDeletion))
}

func TestSecretsManagerPermissions(t *testing.T) {
	readOnly := iamtest.Caller{AccessKeyID: "AKIAREADONLYEXAMPLE1", SecretAccessKey: "ro-secret", UserName: "auditor",
		Allow: []string{"secretsmanager:DescribeSecret"}}
	v := newEnv(t, iamtest.WithCaller(readOnly))
	v.e.AccessKeyID, v.e.SecretAccessKey = readOnly.AccessKeyID, readOnly.SecretAccessKey
	s := v.storeWith(t, secretSpec, store.Clients{SecretsManager: v.e.SecretsManager()}, store.Options{})
	_, err := s.Deliver(t.Context(), payload(t, key1, password1, false))
	var apiErr *store.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.True(t, apiErr.Caller, "a permission problem is the caller's")
	assert.Equal(t, "secretsmanager:CreateSecret", apiErr.Action)
	assertNoSecret(t, err)
}
