package journal

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
	"github.com/sesmtp/sesmtp/store"
)

func storeTarget(t *testing.T, e *iamtest.Endpoint, spec string) Store {
	target, err := store.ParseTarget(spec)
	require.NoError(t, err)
	s, err := store.New(target, store.Clients{SecretsManager: e.SecretsManager(), SSM: e.SSM()}, store.Options{})
	require.NoError(t, err)
	loc := store.Location{Target: target, Region: "eu-west-1"}
	return Store{Store: s, Region: "eu-west-1", Path: StorePlace(t.TempDir(), loc, StoreIdentity{Endpoint: e.URL})}
}

// TestRecoverStore: a dead run whose store write went through is
// delivered (its user stays); one that died part way through an
// ssm:/path/ write, or had taken its write back, is not: the parameters
// it wrote are taken back and its user removed.
func TestRecoverStore(t *testing.T) {
	for _, tc := range []struct {
		name      string
		spec      string
		kill      string // the step at which the run dies
		retracted bool   // the run had taken its write back
		delivered bool
	}{
		{"secret written, not yet recorded", "secretsmanager:u/smtp", StepStored, false, true},
		{"first parameter of four written", "ssm:/u/smtp/", "", false, false},
		{"secret written, then taken back by the run", "secretsmanager:u/smtp", StepStored, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.Local(t)
			c := e.Client()
			target := storeTarget(t, e, tc.spec)
			j, err := Open(target, Options{Step: func(step string) {
				if step == tc.kill {
					panic(errKilled)
				}
			}})
			require.NoError(t, err)
			require.NoError(t, j.Note(func(p *provision.Progress) { p.Flow, p.User, p.UserRunID = provision.FlowCreate, "u", j.RunID() }))
			_, err = c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("u"), Tags: runTag(j.RunID())})
			require.NoError(t, err)
			key, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("u")})
			require.NoError(t, err)
			id := aws.ToString(key.AccessKey.AccessKeyId)
			require.NoError(t, j.Note(func(p *provision.Progress) { p.KeyID = id }))
			if tc.kill == "" {
				srv.Inject(iamtest.Fault{Action: "ssm:PutParameter", Nth: 2, Count: 20, Kind: iamtest.DropBefore})
				srv.Inject(iamtest.Fault{Action: "ssm:GetParameterHistory", Count: 100, Kind: iamtest.FailBefore, Code: "AccessDenied"})
				assert.Error(t, j.Deliver(t.Context(), creds(id)), "the write fails and cannot be taken back")
				srv.ClearFaults()
			} else {
				require.PanicsWithValue(t, errKilled, func() { _ = j.Deliver(t.Context(), creds(id)) })
			}
			if tc.retracted {
				require.NoError(t, j.update(func(m *Marker) { m.Retracted = true }))
			}
			die(j)

			j, err = Open(target, Options{})
			require.NoError(t, err)
			rec, err := j.Recover(t.Context(), c)
			require.NoError(t, err)
			require.NoError(t, j.Close(nil))
			assert.Equal(t, tc.delivered, rec.Delivered)
			_, userLeft := srv.User("u")
			assert.Equal(t, tc.delivered, userLeft, "delivered work is kept, undelivered work removed")
			held, err := target.Holds(t.Context(), Marker{}, id)
			require.NoError(t, err)
			assert.Equal(t, tc.delivered, held)
			for _, p := range srv.Parameters() {
				t.Errorf("parameter %s of an undelivered key is left", p.Name)
			}
			assert.NoFileExists(t, MarkerPath(target.Place()))
		})
	}
}
