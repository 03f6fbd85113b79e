package iampolicy_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

func pol(t *testing.T, id, doc string) iampolicy.Policy {
	t.Helper()
	d, err := iampolicy.Parse(doc)
	require.NoError(t, err, doc)
	return iampolicy.Policy{ID: id, Type: iampolicy.SourceNone, Document: d}
}

const (
	acct     = "arn:aws:iam::123456789012:"
	allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	sesOnly  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`
	// operator is the shape of the delegation policy issue 12 asks for:
	// users only with the boundary, tags only as sesmtp writes them, keys
	// only for users under /ses/ that carry the boundary.
	operator = `{"Version":"2012-10-17","Statement":[
	  {"Sid":"CreateWithBoundary","Effect":"Allow","Action":"iam:CreateUser","Resource":"arn:aws:iam::123456789012:user/ses/*",
	   "Condition":{"StringEquals":{"iam:PermissionsBoundary":"` + boundaryARN + `"}}},
	  {"Sid":"TagOnlySesmtpTags","Effect":"Allow","Action":"iam:TagUser","Resource":"arn:aws:iam::123456789012:user/ses/*",
	   "Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"sesmtp:*"}}},
	  {"Sid":"ManageBoundedUsers","Effect":"Allow","Action":["iam:PutUserPolicy","iam:CreateAccessKey"],"Resource":"arn:aws:iam::123456789012:user/ses/*",
	   "Condition":{"StringEquals":{"aws:ResourceTag/sesmtp:managed-by":"sesmtp"}}},
	  {"Sid":"NoBoundaryRemoval","Effect":"Deny","Action":"iam:DeleteUserPermissionsBoundary","Resource":"*"},
	  {"Sid":"NoOtherBoundary","Effect":"Deny","Action":"iam:PutUserPermissionsBoundary","Resource":"*",
	   "Condition":{"ArnNotEquals":{"iam:PermissionsBoundary":"` + boundaryARN + `"}}},
	  {"Sid":"Reads","Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}`
)

func TestEvaluate(t *testing.T) {
	op := pol(t, "operator", operator)
	tests := []struct {
		name     string
		req      iampolicy.Request
		p        iampolicy.Principal
		want     iampolicy.Decision
		deniedBy string
		sids     []int // statements that decided
	}{
		{"no policy: implicit deny", req("iam:ListUsers", "*"), iampolicy.Principal{}, iampolicy.ImplicitDeny, iampolicy.ByIdentity, nil},
		{"allow all", req("iam:CreateUser", acct+"user/x"), principal(pol(t, "a", allowAll)), iampolicy.Allowed, "", []int{0}},
		{"action outside the policy", req("iam:CreateUser", acct+"user/x"), principal(pol(t, "s", sesOnly)), iampolicy.ImplicitDeny, iampolicy.ByIdentity, nil},
		{"action wildcard", req("iam:ListUserTags", acct+"user/x"), principal(op), iampolicy.Allowed, "", []int{5}},
		{"create with the boundary under the path", req("iam:CreateUser", acct+"user/ses/bob", "iam:PermissionsBoundary", boundaryARN),
			principal(op), iampolicy.Allowed, "", []int{0}},
		{"create without a boundary", req("iam:CreateUser", acct+"user/ses/bob"), principal(op), iampolicy.ImplicitDeny, iampolicy.ByIdentity, nil},
		{"create with another boundary", req("iam:CreateUser", acct+"user/ses/bob", "iam:PermissionsBoundary", acct+"policy/Admin"),
			principal(op), iampolicy.ImplicitDeny, iampolicy.ByIdentity, nil},
		{"create outside the path: a user ARN includes its path", req("iam:CreateUser", acct+"user/bob", "iam:PermissionsBoundary", boundaryARN),
			principal(op), iampolicy.ImplicitDeny, iampolicy.ByIdentity, nil},
		{"key for a user without the tag", req("iam:CreateAccessKey", acct+"user/ses/admin"), principal(op), iampolicy.ImplicitDeny, iampolicy.ByIdentity, nil},
		{"key for a sesmtp user", req("iam:CreateAccessKey", acct+"user/ses/bob", "aws:ResourceTag/sesmtp:managed-by", "sesmtp"),
			principal(op), iampolicy.Allowed, "", []int{2}},
		{"explicit deny wins over an allow", req("iam:DeleteUserPermissionsBoundary", acct+"user/ses/bob"),
			principal(op, pol(t, "admin", allowAll)), iampolicy.ExplicitDeny, iampolicy.ByIdentity, []int{3}},
		{"deny on a negated condition with a missing key", req("iam:PutUserPermissionsBoundary", acct+"user/ses/bob"),
			principal(op, pol(t, "admin", allowAll)), iampolicy.ExplicitDeny, iampolicy.ByIdentity, []int{4}},
		{"deny condition not met", req("iam:PutUserPermissionsBoundary", acct+"user/ses/bob", "iam:PermissionsBoundary", boundaryARN),
			principal(op, pol(t, "admin", allowAll)), iampolicy.Allowed, "", []int{0}},
		{"boundary intersects: both allow", req("ses:SendRawEmail", "*"),
			bounded(pol(t, "b", sesOnly), pol(t, "a", allowAll)), iampolicy.Allowed, "", []int{0}},
		{"boundary intersects: identity allows, boundary does not", req("iam:CreateUser", acct+"user/x"),
			bounded(pol(t, "b", sesOnly), pol(t, "a", allowAll)), iampolicy.ImplicitDeny, iampolicy.ByBoundary, []int{0}},
		{"boundary intersects: boundary allows, identity does not", req("iam:CreateUser", acct+"user/x"),
			bounded(pol(t, "b", allowAll), pol(t, "s", sesOnly)), iampolicy.ImplicitDeny, iampolicy.ByIdentity, nil},
		{"explicit deny in a boundary", req("iam:DeleteUserPermissionsBoundary", acct+"user/x"),
			bounded(op, pol(t, "a", allowAll)), iampolicy.ExplicitDeny, iampolicy.ByBoundary, []int{3}},
		{"a boundary whose policy is gone allows nothing", req("ses:SendRawEmail", "*"),
			iampolicy.Principal{Identity: []iampolicy.Policy{pol(t, "a", allowAll)}, Boundary: &iampolicy.Policy{ID: "gone"}},
			iampolicy.ImplicitDeny, iampolicy.ByBoundary, []int{0}},
		{"NotAction", req("iam:CreateUser", acct+"user/x"),
			principal(pol(t, "n", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}}`)),
			iampolicy.ImplicitDeny, iampolicy.ByIdentity, nil},
		{"NotAction other service", req("ses:SendRawEmail", "*"),
			principal(pol(t, "n", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["iam:*"],"Resource":"*"}}`)),
			iampolicy.Allowed, "", []int{0}},
		{"NotResource", req("iam:CreateAccessKey", acct+"user/admin"),
			principal(pol(t, "n", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:CreateAccessKey","NotResource":"arn:aws:iam::123456789012:user/admin"}}`)),
			iampolicy.ImplicitDeny, iampolicy.ByIdentity, nil},
		{"Resource with a policy variable", req("iam:CreateAccessKey", acct+"user/alice", "aws:username", "alice"),
			principal(pol(t, "self", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::*:user/${aws:username}"}}`)),
			iampolicy.Allowed, "", []int{0}},
		{"policy variables only in 2012-10-17", req("iam:CreateAccessKey", acct+"user/alice", "aws:username", "alice"),
			principal(pol(t, "self", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::*:user/${aws:username}"}}`)),
			iampolicy.ImplicitDeny, iampolicy.ByIdentity, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := iampolicy.Evaluate(tt.req, tt.p)
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.Decision)
			assert.Equal(t, tt.deniedBy, r.DeniedBy)
			var sids []int
			for _, m := range r.Matched {
				sids = append(sids, m.Statement)
			}
			assert.Equal(t, tt.sids, sids)
		})
	}
}

// TestTagOnCreate: a tagged CreateUser is authorized as iam:CreateUser
// with the boundary and the tags, and as iam:TagUser with only the tags
// (AWS's example "IAM: Create new users only with specific tags" grants
// both actions). iamtest builds the two requests; this shows what each
// one decides under the operator policy.
func TestTagOnCreate(t *testing.T) {
	p := principal(pol(t, "operator", operator))
	user := acct + "user/ses/bob"
	tagCtx := func(keys ...string) []string {
		var kv []string
		for _, k := range keys {
			kv = append(kv, "aws:RequestTag/"+k, "v")
		}
		return kv
	}
	for _, tt := range []struct {
		name string
		keys []string
		want iampolicy.Decision
	}{
		{"sesmtp tags", []string{"sesmtp:managed-by", "sesmtp:run-id"}, iampolicy.Allowed},
		{"a foreign tag", []string{"sesmtp:managed-by", "team"}, iampolicy.ImplicitDeny},
	} {
		t.Run(tt.name, func(t *testing.T) {
			create := req("iam:CreateUser", user, append(tagCtx(tt.keys...), "iam:PermissionsBoundary", boundaryARN)...)
			create.Context.Set("aws:TagKeys", tt.keys...)
			tag := req("iam:TagUser", user, tagCtx(tt.keys...)...)
			tag.Context.Set("aws:TagKeys", tt.keys...)
			rc, err := iampolicy.Evaluate(create, p)
			require.NoError(t, err)
			assert.Equal(t, iampolicy.Allowed, rc.Decision, "CreateUser itself does not look at the keys")
			rt, err := iampolicy.Evaluate(tag, p)
			require.NoError(t, err)
			assert.Equal(t, tt.want, rt.Decision)
		})
	}
}

func TestMissingKeys(t *testing.T) {
	r, err := iampolicy.Evaluate(req("iam:CreateUser", acct+"user/ses/bob"), principal(pol(t, "operator", operator)))
	require.NoError(t, err)
	assert.Equal(t, []string{"iam:PermissionsBoundary"}, r.MissingKeys, "only statements on this action and resource count")
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":        `{`,
		"no statement":    `{"Version":"2012-10-17"}`,
		"empty statement": `{"Version":"2012-10-17","Statement":[]}`,
		"bad version":     `{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
		"bad effect":      `{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`,
		"principal":       `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`,
		"no action":       `{"Statement":{"Effect":"Allow","Resource":"*"}}`,
		"both actions":    `{"Statement":{"Effect":"Allow","Action":"*","NotAction":"iam:*","Resource":"*"}}`,
		"no resource":     `{"Statement":{"Effect":"Allow","Action":"*"}}`,
		"no vendor":       `{"Statement":{"Effect":"Allow","Action":"CreateUser","Resource":"*"}}`,
		"bad operator":    `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringSortOf":{"k":"v"}}}}`,
		"bad qualifier":   `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForSome:StringLike":{"k":"v"}}}}`,
	} {
		_, err := iampolicy.Parse(doc)
		assert.True(t, errors.Is(err, iampolicy.ErrMalformed), "%s: %v", name, err)
	}
	d, err := iampolicy.Parse(`{"Statement":{"Effect":"Deny","Action":"*","Resource":["*"],"Condition":{"NumericLessThanEquals":{"k":5}}}}`)
	require.NoError(t, err, "one statement object, numbers as condition values")
	assert.Equal(t, []string{"5"}, d.Statements[0].Conditions[0].Values)
}

func req(action, resource string, kv ...string) iampolicy.Request {
	c := iampolicy.Context{}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Set(kv[i], kv[i+1])
	}
	return iampolicy.Request{Action: action, Resource: resource, Context: c}
}

func principal(ps ...iampolicy.Policy) iampolicy.Principal {
	return iampolicy.Principal{Identity: ps}
}

func bounded(boundary iampolicy.Policy, ps ...iampolicy.Policy) iampolicy.Principal {
	return iampolicy.Principal{Identity: ps, Boundary: &boundary}
}

// BenchmarkEvaluate measures one decision under the operator policy with
// a boundary, the common case of an evaluated caller.
func BenchmarkEvaluate(b *testing.B) {
	d, err := iampolicy.Parse(operator)
	require.NoError(b, err)
	bd, err := iampolicy.Parse(sesOnly)
	require.NoError(b, err)
	p := iampolicy.Principal{Identity: []iampolicy.Policy{{ID: "op", Document: d}}, Boundary: &iampolicy.Policy{ID: "b", Document: bd}}
	r := req("iam:CreateUser", acct+"user/ses/bob", "iam:PermissionsBoundary", boundaryARN, "aws:RequestTag/sesmtp:run-id", "r")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iampolicy.Evaluate(r, p); err != nil {
			b.Fatal(err)
		}
	}
}
