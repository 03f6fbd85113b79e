package iamtest_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

const sendJSON = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`

// TestStateReadsTheSameEitherWay sets up and reads one state through the
// local server's view and through IAM's API (an "external" endpoint that is
// a local server here), and checks that both read it the same, and that the
// API-backed one removes what the test added and nothing else.
func TestStateReadsTheSameEitherWay(t *testing.T) {
	for _, external := range []bool{false, true} {
		srv := iamtest.NewServer()
		t.Cleanup(srv.Close)
		srv.PutUser(iamtest.User{Name: "before"})
		t.Run(map[bool]string{false: "local", true: "api"}[external], func(t *testing.T) {
			iamtest.Isolate(t)
			e := &iamtest.Endpoint{URL: srv.URL, AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, Server: srv}
			if external {
				e = iamtest.External(t, srv.URL)
			}
			checkState(t, e)
		})
		if external {
			assert.Equal(t, []string{"before"}, userNames(srv.Users()), "the test's users are gone, the others kept")
			assert.Empty(t, srv.Groups())
			assert.Len(t, srv.Policies(), len(iamtest.NewServer().Policies()), "the test's policy is gone")
		}
	}
	t.Run("start", func(t *testing.T) { checkState(t, iamtest.Start(t)) }) // the endpoint SESMTP_TEST_IAM_ENDPOINT names, if set
}

func checkState(t *testing.T, e *iamtest.Endpoint) {
	st := e.State(t)
	u1, u2, senders, boundName := e.Name("u1"), e.Name("u2"), e.Name("senders"), e.Name("Bound")
	_, err := e.Client().CreateGroup(context.Background(), &iam.CreateGroupInput{GroupName: aws.String(senders)})
	require.NoError(t, err)
	bound := st.PutPolicy("/b/", boundName, sendJSON)
	assert.Equal(t, "arn:aws:iam::123456789012:policy/b/"+boundName, bound)
	made := st.PutUser(iamtest.User{Name: u1, Path: "/smtp/", Tags: []iamtest.Tag{{Key: "team", Value: "mail"}},
		InlinePolicies: map[string]string{"send": sendJSON}, AttachedPolicies: map[string]string{bound: boundName},
		Groups: []string{senders}, LoginProfile: true, AccessKeys: []iamtest.AccessKey{{}, {Status: "Inactive"}}})
	require.Len(t, made.AccessKeys, 2)
	assert.NotEmpty(t, made.AccessKeys[0].SecretAccessKey, "the secret of a key made for the test is known")
	assert.Equal(t, "Inactive", made.AccessKeys[1].Status)

	u, ok := st.User(u1)
	require.True(t, ok)
	assert.Equal(t, "/smtp/", u.Path)
	assert.Equal(t, []iamtest.Tag{{Key: "team", Value: "mail"}}, u.Tags)
	assert.Equal(t, map[string]string{"send": sendJSON}, u.InlinePolicies)
	assert.Equal(t, map[string]string{bound: boundName}, u.AttachedPolicies)
	assert.Equal(t, []string{senders}, u.Groups)
	assert.True(t, u.LoginProfile)
	assert.Len(t, u.AccessKeys, 2)
	_, ok = st.User("nobody")
	assert.False(t, ok)

	g, ok := st.Group(senders)
	require.True(t, ok)
	assert.Equal(t, []string{u1}, g.Members)
	p, ok := st.Policy(bound)
	require.True(t, ok)
	assert.Equal(t, "v1", p.DefaultVersionID)
	assert.JSONEq(t, sendJSON, p.DefaultDocument())
	_, ok = st.Policy("arn:aws:iam::123456789012:policy/none")
	assert.False(t, ok)

	st.PutUser(iamtest.User{Name: u2})
	assert.Equal(t, 2, st.KeyCount())
	assert.Contains(t, st.Groups(), senders)
	names := userNames(st.Users())
	assert.Subset(t, names, []string{u1, u2})
	if e.Server == nil {
		assert.NotContains(t, names, "before", "an external endpoint's Users are the test's own")
	}

	u3 := e.Name("u3")
	st.PutUser(iamtest.User{Name: u3, PermissionsBoundary: bound}) // skips where boundaries are not kept (moto)
	u, _ = st.User(u3)
	assert.Equal(t, bound, u.PermissionsBoundary)
}

func userNames(us []iamtest.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out
}
