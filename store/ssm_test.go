package store_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/store"
)

const (
	paramSpec = "ssm:/billing/smtp"
	pathSpec  = "ssm:/mediawiki/smtp/"
)

// latest returns the newest version of a parameter.
func (v *env) latest(t *testing.T, name string) iamtest.ParameterVersion {
	t.Helper()
	p, ok := v.srv.Parameter(name)
	require.True(t, ok, "parameter %s exists", name)
	return p.Latest()
}

// snapshot is every parameter's newest value, for "as before" checks.
func (v *env) snapshot(names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		if p, ok := v.srv.Parameter(n); ok {
			out[n] = p.Latest().Value
		}
	}
	return out
}

var pathParams = []string{"/mediawiki/smtp/password", "/mediawiki/smtp/host", "/mediawiki/smtp/port",
	"/mediawiki/smtp/secret_access_key", "/mediawiki/smtp/username"}

func TestSSMParameterCreateAndRotate(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	r, err := v.store(t, paramSpec, store.Options{KMSKeyID: "alias/mail"}).Deliver(ctx, payload(t, key1, password1, false))
	require.NoError(t, err)
	assert.Equal(t, []store.Item{{Name: "/billing/smtp", Outcome: store.Created, Version: "1"}}, r.Items)
	p, _ := v.srv.Parameter("/billing/smtp")
	assert.ElementsMatch(t, []iamtest.Tag{{Key: "sesmtp:managed-by", Value: "sesmtp"}, {Key: "sesmtp:iam-user", Value: user}}, p.Tags)
	got := v.latest(t, "/billing/smtp")
	assert.Equal(t, "SecureString", got.Type, "never String")
	assert.Equal(t, "alias/mail", got.KeyID)
	assert.Equal(t, key1, decode(t, got.Value).Username)
	assert.Contains(t, got.Description, "access key "+key1)

	s := v.store(t, paramSpec, store.Options{}) // a rotation without --kms-key-id
	r, err = s.Deliver(ctx, payload(t, key2, password2, false))
	require.NoError(t, err)
	assert.Equal(t, []store.Item{{Name: "/billing/smtp", Outcome: store.Updated, Version: "2"}}, r.Items)
	got = v.latest(t, "/billing/smtp")
	assert.Equal(t, key2, decode(t, got.Value).Username)
	assert.Equal(t, "alias/mail", got.KeyID, "the parameter keeps its KMS key")

	st, err := s.Describe(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.State{Target: s.Target(), Exists: true, Managed: true, IAMUser: user, KeyID: key2, KMSKeyID: "alias/mail"}, st)
	for key, want := range map[string]bool{key1: false, key2: true} {
		holds, err := s.Holds(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, want, holds, key)
	}
}

func TestSSMPathOneParameterPerField(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	s := v.store(t, pathSpec, store.Options{})
	r, err := s.Deliver(ctx, payload(t, key1, password1, false))
	require.NoError(t, err)
	assert.Equal(t, []store.Outcome{store.Created, store.Created, store.Created, store.Created}, outcomes(r.Items))
	assert.Equal(t, map[string]string{"/mediawiki/smtp/username": key1, "/mediawiki/smtp/password": password1,
		"/mediawiki/smtp/host": "email-smtp.eu-west-1.amazonaws.com", "/mediawiki/smtp/port": "587"}, v.snapshot(pathParams...),
		"the secret access key only when asked")
	var order []string
	for _, c := range v.srv.Calls() {
		if c.Action == "ssm:PutParameter" {
			order = append(order, c.Resource)
		}
	}
	assert.Equal(t, "/mediawiki/smtp/username", order[len(order)-1], "the user name is written last")
	for _, n := range []string{"/mediawiki/smtp/username", "/mediawiki/smtp/port"} {
		assert.Equal(t, "SecureString", v.latest(t, n).Type, "every field is a SecureString")
	}

	r, err = s.Deliver(ctx, payload(t, key2, password2, true))
	require.NoError(t, err)
	assert.Equal(t, []store.Outcome{store.Updated, store.Updated, store.Updated, store.Created, store.Updated}, outcomes(r.Items))
	assert.Equal(t, "sk-"+password2, v.latest(t, "/mediawiki/smtp/secret_access_key").Value)
	holds, err := s.Holds(ctx, key2)
	require.NoError(t, err)
	assert.True(t, holds)

	r2, err := s.Retract(ctx, key2)
	require.NoError(t, err)
	assert.Equal(t, []store.Outcome{store.Restored, store.Deleted, store.Restored, store.Restored, store.Restored}, outcomes(r2.Items),
		"username first; the secret_access_key parameter the delivery created is deleted")
	assert.Equal(t, map[string]string{"/mediawiki/smtp/username": key1, "/mediawiki/smtp/password": password1,
		"/mediawiki/smtp/host": "email-smtp.eu-west-1.amazonaws.com", "/mediawiki/smtp/port": "587"}, v.snapshot(pathParams...))
	holds, err = s.Holds(ctx, key1)
	require.NoError(t, err)
	assert.True(t, holds, "after the retraction the store holds the previous key again")

	d, err := s.Delete(ctx, user, store.DeleteOptions{})
	require.NoError(t, err)
	assert.Len(t, d.Items, 4)
	assert.Empty(t, v.snapshot(pathParams...))
}

func TestSSMRefusesOthersParameters(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	_, err := v.ssm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/mediawiki/smtp/host"), Value: aws.String("mail.example.com"),
		Type: ssmtypes.ParameterTypeString})
	require.NoError(t, err)
	_, err = v.ssm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/other/smtp"), Value: aws.String("{}"),
		Type: ssmtypes.ParameterTypeSecureString, Tags: []ssmtypes.Tag{{Key: aws.String("sesmtp:managed-by"), Value: aws.String("sesmtp")},
			{Key: aws.String("sesmtp:iam-user"), Value: aws.String("someone-else")}}})
	require.NoError(t, err)

	for spec, kind := range map[string]error{pathSpec: store.ErrNotManaged, "ssm:/other/smtp": store.ErrOtherUser} {
		t.Run(spec, func(t *testing.T) {
			v.srv.ResetCalls()
			s := v.store(t, spec, store.Options{})
			_, err := s.Deliver(ctx, payload(t, key1, password1, false))
			require.ErrorIs(t, err, kind)
			assert.Equal(t, exitcode.Usage, exitcode.Of(err))
			assertNoSecret(t, err)
			assert.Zero(t, v.srv.CallCount("ssm:PutParameter"), "refused before writing anything")
			_, err = s.Delete(ctx, user, store.DeleteOptions{})
			require.ErrorIs(t, err, kind)
			assert.Zero(t, v.srv.CallCount("ssm:DeleteParameter"))
		})
	}
	assert.Equal(t, "mail.example.com", v.latest(t, "/mediawiki/smtp/host").Value)
}

func TestSSMFaults(t *testing.T) {
	tests := []struct {
		name      string
		spec      string
		setup     bool // key1 delivered before
		fault     iamtest.Fault
		noRetries bool
		wantErr   bool
		lost      bool // the failed call took effect: the store holds key2 anyway
	}{
		{name: "create fails", spec: paramSpec, fault: iamtest.Fault{Action: "ssm:PutParameter", Kind: iamtest.FailBefore}, wantErr: true},
		{name: "create dropped after commit, retried", spec: paramSpec, fault: iamtest.Fault{Action: "ssm:PutParameter", Nth: 1, Kind: iamtest.DropAfter}},
		{name: "create dropped after commit", spec: paramSpec, fault: iamtest.Fault{Action: "ssm:PutParameter", Kind: iamtest.DropAfter},
			noRetries: true, wantErr: true, lost: true},
		{name: "overwrite throttled", spec: paramSpec, setup: true, fault: iamtest.Fault{Action: "ssm:PutParameter", Kind: iamtest.FailBefore, Code: "Throttling"}, wantErr: true},
		{name: "overwrite committed then error", spec: paramSpec, setup: true, fault: iamtest.Fault{Action: "ssm:PutParameter", Kind: iamtest.FailAfter},
			noRetries: true, wantErr: true, lost: true},
		{name: "path: third field fails", spec: pathSpec, fault: iamtest.Fault{Action: "ssm:PutParameter", Nth: 3, Count: 10, Kind: iamtest.FailBefore}, wantErr: true},
		{name: "path rotation: user name dropped", spec: pathSpec, setup: true, fault: iamtest.Fault{Action: "ssm:PutParameter", Nth: 4, Kind: iamtest.DropAfter},
			noRetries: true, wantErr: true, lost: true},
		{name: "path rotation: port dropped", spec: pathSpec, setup: true, fault: iamtest.Fault{Action: "ssm:PutParameter", Nth: 3, Kind: iamtest.DropAfter},
			noRetries: true, wantErr: true},
		{name: "tags unreadable", spec: pathSpec, fault: iamtest.Fault{Action: "ssm:ListTagsForResource", Kind: iamtest.FailBefore, Code: "AccessDenied"}, wantErr: true},
	}
	names := append([]string{"/billing/smtp"}, pathParams...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newEnv(t)
			ctx := t.Context()
			s := v.store(t, tt.spec, store.Options{})
			if tt.setup {
				_, err := s.Deliver(ctx, payload(t, key1, password1, false))
				require.NoError(t, err)
			}
			before := v.snapshot(names...)
			faulty := s
			if tt.noRetries {
				faulty = v.storeWith(t, tt.spec, v.noRetries(), store.Options{})
			}
			v.srv.Inject(tt.fault)
			_, err := faulty.Deliver(ctx, payload(t, key2, password2, false))
			assertNoSecret(t, err)
			v.srv.ClearFaults()
			holds, herr := s.Holds(ctx, key2)
			require.NoError(t, herr)
			assert.Equal(t, !tt.wantErr || tt.lost, holds, "held when delivered or when the lost call completed it (err: %v)", err)
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}

			_, err = s.Retract(ctx, key2)
			require.NoError(t, err)
			assert.Equal(t, before, v.snapshot(names...), "after Retract the store is as before")
		})
	}
}

func TestSSMCannotRestoreBeyondHistory(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	s := v.store(t, paramSpec, store.Options{})
	_, err := s.Deliver(ctx, payload(t, key1, password1, false))
	require.NoError(t, err)
	for range 100 { // a key delivered again and again pushes key1's version out of the history
		_, err := s.Deliver(ctx, payload(t, key2, password2, false))
		require.NoError(t, err)
	}
	_, err = s.Retract(ctx, key2)
	require.ErrorIs(t, err, store.ErrCannotRestore)
	assert.Contains(t, err.Error(), "every version SSM still keeps (from 2 on) holds access key "+key2)
	assertNoSecret(t, err)
	assert.Equal(t, key2, decode(t, v.latest(t, "/billing/smtp").Value).Username, "nothing was changed")
}

func TestSSMPermissionsAndNoSecretInErrors(t *testing.T) {
	writer := iamtest.Caller{AccessKeyID: "AKIAWRITERONLYEXAMP1", SecretAccessKey: "w-secret", UserName: "writer",
		Allow: []string{"ssm:PutParameter", "ssm:AddTagsToResource", "ssm:ListTagsForResource"}}
	v := newEnv(t, iamtest.WithCaller(writer))
	v.e.AccessKeyID, v.e.SecretAccessKey = writer.AccessKeyID, writer.SecretAccessKey
	s := v.storeWith(t, paramSpec, store.Clients{SSM: v.e.SSM()}, store.Options{})
	ctx := t.Context()
	_, err := s.Deliver(ctx, payload(t, key1, password1, false))
	require.NoError(t, err, "creating needs no history")
	_, err = s.Deliver(ctx, payload(t, key2, password2, false))
	var apiErr *store.APIError
	require.ErrorAs(t, err, &apiErr, "rotating reads the history (the parameter's KMS key)")
	assert.Equal(t, "ssm:GetParameterHistory", apiErr.Action)
	assert.True(t, apiErr.Caller)
	assertNoSecret(t, err)
	_, err = s.Holds(ctx, key1)
	require.ErrorAs(t, err, &apiErr)
	assertNoSecret(t, err)
}

// TestSSMOwnerNameCase: IAM user names are not distinguished by case (IAM
// API reference, CreateUser: "User names are not distinguished by case"),
// so a parameter sesmtp wrote for Billing-Mailer is the store of
// billing-mailer, and a rotation spelling the name otherwise may replace it.
func TestSSMOwnerNameCase(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	_, err := v.ssm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/smtp/cased"), Value: aws.String("{}"),
		Type: ssmtypes.ParameterTypeSecureString, Tags: []ssmtypes.Tag{{Key: aws.String("sesmtp:managed-by"), Value: aws.String("sesmtp")},
			{Key: aws.String("sesmtp:iam-user"), Value: aws.String(strings.ToUpper(user))}}})
	require.NoError(t, err)
	s := v.store(t, "ssm:/smtp/cased", store.Options{})
	_, err = s.Deliver(ctx, payload(t, key1, password1, false))
	require.NoError(t, err, "the same IAM user, spelt in another case")
}
