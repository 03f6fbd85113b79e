package store_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/store"
)

// TestSSMUnderTheOperatorPolicy runs every SSM store operation as a caller
// holding only the store statements 'policy operator --store-prefix'
// prints: reads, overwrites and deletions need sesmtp's tag on the
// parameter, so the writer asks for the tags before it reads a parameter
// that may not exist or may not be sesmtp's (AWS answers AccessDenied, not
// ParameterNotFound, when the condition has no tag to match).
func TestSSMUnderTheOperatorPolicy(t *testing.T) {
	doc, err := policy.WithStores(policy.Document{Version: policy.Version}, policy.StoreOptions{Prefixes: []string{"ssm:/mediawiki/", "ssm:/billing/"}})
	require.NoError(t, err)
	op := iamtest.Caller{AccessKeyID: "AKIASTOREPOLICYOP001", SecretAccessKey: "op-secret", UserName: "op", Policies: []string{doc.JSON()}}
	v := newEnv(t, iamtest.WithCaller(op))
	ctx := t.Context()
	_, err = v.ssm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/billing/smtp"), Value: aws.String("admin's"),
		Type: ssmtypes.ParameterTypeSecureString})
	require.NoError(t, err)
	v.e.AccessKeyID, v.e.SecretAccessKey = op.AccessKeyID, op.SecretAccessKey
	c := store.Clients{SSM: v.e.SSM()}

	s := v.storeWith(t, pathSpec, c, store.Options{})
	st, err := s.Describe(ctx)
	require.NoError(t, err)
	assert.False(t, st.Exists)
	held, err := s.Holds(ctx, key1)
	require.NoError(t, err, "nothing delivered: not held, and no AccessDenied")
	assert.False(t, held)
	r, err := s.Retract(ctx, key1)
	require.NoError(t, err, "taking back a delivery that wrote nothing")
	assert.NotContains(t, outcomes(r.Items), store.Deleted)

	_, err = s.Deliver(ctx, payload(t, key1, password1, false))
	require.NoError(t, err)
	_, err = s.Deliver(ctx, payload(t, key2, password2, false))
	require.NoError(t, err, "a rotation overwrites sesmtp's parameters")
	held, err = s.Holds(ctx, key2)
	require.NoError(t, err)
	assert.True(t, held)
	_, err = s.Retract(ctx, key2)
	require.NoError(t, err)
	read, err := store.Read(ctx, s.Target(), store.Readers{SSM: v.e.SSM()})
	require.NoError(t, err)
	assert.Equal(t, key1, read.Username, "taken back to the first key, and readable as verify --store reads it")
	_, err = s.Delete(ctx, user, store.DeleteOptions{})
	require.NoError(t, err)
	assert.Len(t, v.srv.Parameters(), 1, "only the admin's parameter is left")

	other := v.storeWith(t, paramSpec, c, store.Options{})
	st, err = other.Describe(ctx)
	require.NoError(t, err, "an untagged parameter under the path is described from its tags alone")
	assert.True(t, st.Exists)
	assert.False(t, st.Managed)
	_, err = other.Deliver(ctx, payload(t, key1, password1, false))
	require.ErrorIs(t, err, store.ErrNotManaged)
	assert.Equal(t, "admin's", v.latest(t, "/billing/smtp").Value)
}
