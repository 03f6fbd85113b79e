package provision

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// TestAttempts: an answered error of a call sent once may not have taken
// effect; a ServiceFailure after the fact is retried by the SDK, and the
// count says so; a lost answer may have taken effect. IAM's Date header
// is read from the answer.
func TestAttempts(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	c := e.Client()
	ctx := context.Background()
	srv.PutUser(iamtest.User{Name: "u"})
	in := &iam.CreateAccessKeyInput{UserName: aws.String("u")}
	for _, tc := range []struct {
		name        string
		fault       *iamtest.Fault
		mayHave     bool
		wantRetried bool
	}{
		{"refused once", &iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.FailBefore, Code: "LimitExceeded"}, false, false},
		{"failure after the fact, retried", &iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.FailAfter, Code: "ServiceFailure"}, true, true},
		{"answer lost", &iamtest.Fault{Action: "CreateAccessKey", Kind: iamtest.DropAfter, Count: 100}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.ClearFaults()
			srv.PutUser(iamtest.User{Name: "u"})
			srv.Inject(*tc.fault)
			var tries attempts
			_, err := c.CreateAccessKey(ctx, in, tries.option)
			if err != nil {
				assert.Equal(t, tc.mayHave, tries.mayHaveTakenEffect(err))
			}
			assert.Equal(t, tc.wantRetried, tries.retried())
		})
	}
	srv.ClearFaults()
	var tries attempts
	out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("u")}, tries.option)
	require.NoError(t, err)
	assert.False(t, tries.retried())
	at := iamTime(out.ResultMetadata, time.Time{})
	assert.WithinDuration(t, time.Now(), at, 5*time.Second, "IAM's Date header")
}
