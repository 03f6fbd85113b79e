package provision

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/policy"
)

func TestRequestDifferences(t *testing.T) {
	narrow, err := policy.Sender(policy.SenderOptions{FromAddresses: []string{"noreply@example.com"}})
	require.NoError(t, err)
	ab, err := policy.Sender(policy.SenderOptions{FromAddresses: []string{"a@example.com", "b@example.com"}})
	require.NoError(t, err)
	ba := policy.Document{Version: policy.Version, Statement: []policy.Statement{{Effect: "Allow", Action: policy.Strings{policy.SendAction},
		Resource: policy.Strings{"*"}, Condition: policy.Condition{"StringLike": {"ses:FromAddress": {"b@example.com", "a@example.com", "b@example.com"}}}}}}
	base := CreateInput{UserName: "u", Policy: policy.Document{Version: policy.Version, Statement: []policy.Statement{{Effect: "Allow",
		Action: policy.Strings{policy.SendAction}, Resource: policy.Strings{"*"}}}}, Regions: []string{"eu-west-1"},
		Delivery: Delivery{Format: "csv"}}
	tests := []struct {
		name   string
		change func(in *CreateInput)
		want   []string // a word each difference's line starts with
	}{
		{"same", func(*CreateInput) {}, nil},
		{"regions in another order and case", func(in *CreateInput) { in.Regions = []string{"EU-WEST-1", "eu-west-1"} }, nil},
		{"explicit root path", func(in *CreateInput) { in.Path = "/" }, nil},
		{"narrower policy", func(in *CreateInput) { in.Policy = narrow }, []string{"sender policy"}},
		{"another region", func(in *CreateInput) { in.Regions = []string{"eu-west-1", "us-east-1"} }, []string{"regions"}},
		{"fips", func(in *CreateInput) { in.FIPS = true }, []string{"FIPS endpoints"}},
		{"a group", func(in *CreateInput) { in.Group = "senders" }, []string{"sender policy", "group"}},
		{"a store and another format", func(in *CreateInput) { in.Delivery = Delivery{Store: "secretsmanager:s (eu-west-1)", Format: "env"} },
			[]string{"store", "file format"}},
		{"a boundary", func(in *CreateInput) { in.PermissionsBoundary = "arn:aws:iam::123456789012:policy/b" }, []string{"permissions boundary"}},
		{"the secret access key", func(in *CreateInput) { in.Delivery.SecretKey = true }, []string{"secret access key"}},
		{"a store and a KMS key", func(in *CreateInput) {
			in.Delivery = Delivery{Store: "secretsmanager:s (eu-west-1)", KMSKeyID: "alias/smtp", Format: "csv"}
		}, []string{"store"}},
		{"a tag", func(in *CreateInput) { in.Tags = []Tag{{Key: "team", Value: "payments"}} }, []string{"tags"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base
			tt.change(&in)
			diffs := base.Request().Differences(*in.Request())
			require.Len(t, diffs, len(tt.want), "%q", diffs)
			for i, w := range tt.want {
				assert.Regexp(t, "^"+w+": the earlier run's .*, this run asks ", diffs[i])
			}
		})
	}
	t.Run("the same addresses in another order, repeated, recorded so by an earlier sesmtp", func(t *testing.T) {
		earlier, now := base, base
		earlier.Policy, now.Policy = ba, ab
		r := *earlier.Request()
		r.Policy = ba.JSON() // as the earlier sesmtp recorded it, unsorted
		assert.Empty(t, r.Differences(*now.Request()))
	})
	t.Run("another KMS key for the same store", func(t *testing.T) {
		earlier, now := base, base
		earlier.Delivery.Store, now.Delivery.Store = "ssm:/smtp/u/ (eu-west-1)", "ssm:/smtp/u/ (eu-west-1)"
		now.Delivery.KMSKeyID = "alias/smtp"
		assert.Equal(t, []string{"KMS key: the earlier run's the AWS managed key, this run asks alias/smtp"},
			earlier.Request().Differences(*now.Request()))
	})
	t.Run("a group named in another case", func(t *testing.T) {
		earlier, now := base, base
		earlier.Group, now.Group = "Senders", "senders"
		assert.Empty(t, earlier.Request().Differences(*now.Request()), "IAM does not distinguish group names by case")
	})
	rotate := RotateInput{Strategy: StrategyKey, Regions: []string{"eu-west-1"}}
	now := rotate
	now.RetireNow = true
	assert.Equal(t, []string{"old keys: the earlier run's left active, pending retirement, this run asks deleted (--retire-now)"},
		rotate.Request().Differences(*now.Request()))
}

// TestOwnedBy: what a recovery counts as a dead create's own: its
// recorded key (or, unrecorded, a key made within its window), and the
// grant its request names; an earlier sesmtp's marker names no grant.
func TestOwnedBy(t *testing.T) {
	created := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	withKey := Progress{KeyID: "AKIAOWN", Request: &Request{PolicyName: "AmazonSesSendingAccess"}}
	own := ownedBy(withKey, created)
	assert.True(t, own("access key AKIAOWN", created))
	assert.False(t, own("access key AKIAOTHER", created), "another key, even at the same time")
	assert.True(t, own(`inline policy "AmazonSesSendingAccess"`, time.Time{}))
	assert.False(t, own(`inline policy "extra"`, time.Time{}))
	assert.False(t, own(`membership of group "admins"`, time.Time{}))

	lost := Progress{Budget: 6 * time.Minute, Request: &Request{Group: "senders"}}
	own = ownedBy(lost, created)
	assert.True(t, own("access key AKIAANY", created.Add(time.Minute)), "unrecorded: made within the window")
	assert.False(t, own("access key AKIAANY", created.Add(time.Hour)), "after the window")
	assert.False(t, own("access key AKIAANY", created.Add(-time.Hour)), "before the user")
	assert.True(t, own(`membership of group "senders"`, time.Time{}))
	assert.True(t, own(`membership of group "SENDERS"`, time.Time{}), "IAM lists the group's own spelling: the same group")
	assert.False(t, own(`membership of group "senders2"`, time.Time{}))
	assert.False(t, own(`inline policy "AmazonSesSendingAccess"`, time.Time{}), "a group run gives no inline policy")
	assert.False(t, ownedBy(withKey, created)(`inline policy "amazonsessendingaccess"`, time.Time{}),
		"inline policy names are the user's own: IAM documents no case folding for them")

	legacy := ownedBy(Progress{}, created)
	assert.True(t, legacy(`inline policy "anything"`, time.Time{}), "an earlier sesmtp's marker: any grant counts as the run's")
	assert.False(t, legacy("access key AKIAANY", created.Add(time.Minute)), "no budget: a window with no end proves nothing")
	recreate := ownedBy(Progress{Saved: &SavedConfig{InlinePolicies: map[string]string{"p": "{}"}, Groups: []string{"g"}}, Request: &Request{}}, created)
	assert.True(t, recreate(`inline policy "p"`, time.Time{}))
	assert.True(t, recreate(`membership of group "g"`, time.Time{}))
	assert.False(t, recreate(`inline policy "AmazonSesSendingAccess"`, time.Time{}))
}
