package iampolicy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

// holds parses a one-condition statement and evaluates its condition.
func holds(t *testing.T, op, key, values string, ctx iampolicy.Context) bool {
	t.Helper()
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",` +
		`"Condition":{"` + op + `":{"` + key + `":` + values + `}}}}`
	d, err := iampolicy.Parse(doc)
	require.NoError(t, err, doc)
	require.Len(t, d.Statements[0].Conditions, 1)
	ok, err := d.Statements[0].Conditions[0].Holds(ctx)
	require.NoError(t, err)
	return ok
}

func ctxOf(kv ...any) iampolicy.Context {
	c := iampolicy.Context{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			c.Set(kv[i].(string), v)
		case []string:
			c.Set(kv[i].(string), v...)
		}
	}
	return c
}

const boundaryARN = "arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary"

func TestConditionOperators(t *testing.T) {
	tags := []string{"sesmtp:managed-by", "sesmtp:run-id"}
	tests := []struct {
		name, op, key, values string
		ctx                   iampolicy.Context
		want                  bool
	}{
		// String operators ("IAM JSON policy elements: Condition operators").
		{"StringEquals match", "StringEquals", "aws:RequestTag/team", `"mail"`, ctxOf("aws:RequestTag/team", "mail"), true},
		{"StringEquals is case-sensitive", "StringEquals", "aws:RequestTag/team", `"Mail"`, ctxOf("aws:RequestTag/team", "mail"), false},
		{"StringEquals values are ORed", "StringEquals", "aws:RequestTag/team", `["ops","mail"]`, ctxOf("aws:RequestTag/team", "mail"), true},
		{"StringEquals has no wildcards", "StringEquals", "aws:RequestTag/team", `"m*"`, ctxOf("aws:RequestTag/team", "mail"), false},
		{"StringEquals missing key is false", "StringEquals", "aws:RequestTag/team", `"mail"`, ctxOf(), false},
		{"condition key names fold case", "StringEquals", "AWS:requesttag/TEAM", `"mail"`, ctxOf("aws:RequestTag/team", "mail"), true},
		{"StringNotEquals differs", "StringNotEquals", "aws:RequestTag/team", `"ops"`, ctxOf("aws:RequestTag/team", "mail"), true},
		{"StringNotEquals values are NORed", "StringNotEquals", "aws:RequestTag/team", `["ops","mail"]`, ctxOf("aws:RequestTag/team", "mail"), false},
		{"StringNotEquals missing key is true", "StringNotEquals", "aws:RequestTag/team", `"ops"`, ctxOf(), true},
		{"StringEqualsIgnoreCase", "StringEqualsIgnoreCase", "aws:RequestTag/team", `"MAIL"`, ctxOf("aws:RequestTag/team", "mail"), true},
		{"StringNotEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "aws:RequestTag/team", `"MAIL"`, ctxOf("aws:RequestTag/team", "mail"), false},
		{"StringLike star", "StringLike", "aws:RequestTag/team", `"ma*"`, ctxOf("aws:RequestTag/team", "mail"), true},
		{"StringLike question mark", "StringLike", "aws:RequestTag/team", `"m?il"`, ctxOf("aws:RequestTag/team", "mail"), true},
		{"StringLike is case-sensitive", "StringLike", "aws:RequestTag/team", `"MA*"`, ctxOf("aws:RequestTag/team", "mail"), false},
		{"StringLike missing key is false", "StringLike", "aws:RequestTag/team", `"*"`, ctxOf(), false},
		{"StringNotLike", "StringNotLike", "aws:RequestTag/team", `"ops*"`, ctxOf("aws:RequestTag/team", "mail"), true},
		{"StringNotLike matching", "StringNotLike", "aws:RequestTag/team", `"ma*"`, ctxOf("aws:RequestTag/team", "mail"), false},
		{"StringNotLike missing key is true", "StringNotLike", "aws:RequestTag/team", `"ma*"`, ctxOf(), true},
		// ARN operators: six colon-delimited segments, each matched alone.
		{"ArnEquals exact", "ArnEquals", "iam:PermissionsBoundary", `"` + boundaryARN + `"`, ctxOf("iam:PermissionsBoundary", boundaryARN), true},
		{"ArnEquals other ARN", "ArnEquals", "iam:PermissionsBoundary", `"arn:aws:iam::123456789012:policy/Other"`, ctxOf("iam:PermissionsBoundary", boundaryARN), false},
		{"ArnEquals takes wildcards too", "ArnEquals", "iam:PermissionsBoundary", `"arn:aws:iam::*:policy/sesmtp/*"`, ctxOf("iam:PermissionsBoundary", boundaryARN), true},
		{"ArnLike per segment", "ArnLike", "iam:PolicyARN", `"arn:aws:iam::*:policy/*"`, ctxOf("iam:PolicyARN", "arn:aws:iam::aws:policy/AdministratorAccess"), true},
		{"ArnLike star does not cross a colon", "ArnLike", "iam:PolicyARN", `"arn:aws:iam:*"`, ctxOf("iam:PolicyARN", "arn:aws:iam::aws:policy/X"), false},
		{"ArnLike missing key is false", "ArnLike", "iam:PolicyARN", `"*"`, ctxOf(), false},
		{"ArnNotEquals", "ArnNotEquals", "iam:PermissionsBoundary", `"arn:aws:iam::123456789012:policy/Other"`, ctxOf("iam:PermissionsBoundary", boundaryARN), true},
		{"ArnNotEquals same ARN", "ArnNotEquals", "iam:PermissionsBoundary", `"` + boundaryARN + `"`, ctxOf("iam:PermissionsBoundary", boundaryARN), false},
		{"ArnNotEquals missing key is true", "ArnNotEquals", "iam:PermissionsBoundary", `"` + boundaryARN + `"`, ctxOf(), true},
		{"ArnNotLike", "ArnNotLike", "iam:PolicyARN", `"arn:aws:iam::aws:policy/*"`, ctxOf("iam:PolicyARN", boundaryARN), true},
		{"ArnNotLike missing key is true", "ArnNotLike", "iam:PolicyARN", `"arn:aws:iam::aws:policy/*"`, ctxOf(), true},
		// Null and Bool.
		{"Null true on a missing key", "Null", "iam:PermissionsBoundary", `"true"`, ctxOf(), true},
		{"Null true on a present key", "Null", "iam:PermissionsBoundary", `"true"`, ctxOf("iam:PermissionsBoundary", boundaryARN), false},
		{"Null false on a present key", "Null", "iam:PermissionsBoundary", `"false"`, ctxOf("iam:PermissionsBoundary", boundaryARN), true},
		{"Null false on a missing key", "Null", "iam:PermissionsBoundary", `"false"`, ctxOf(), false},
		{"Bool true", "Bool", "aws:SecureTransport", `true`, ctxOf("aws:SecureTransport", "true"), true},
		{"Bool string form", "Bool", "aws:SecureTransport", `"false"`, ctxOf("aws:SecureTransport", "true"), false},
		{"Bool missing key is false", "Bool", "aws:SecureTransport", `"true"`, ctxOf(), false},
		{"NumericLessThan", "NumericLessThan", "s3:max-keys", `"10"`, ctxOf("s3:max-keys", "5"), true},
		// ...IfExists: a missing key makes the condition true.
		{"IfExists missing key", "StringEqualsIfExists", "aws:RequestTag/team", `"mail"`, ctxOf(), true},
		{"IfExists present key still tested", "StringEqualsIfExists", "aws:RequestTag/team", `"mail"`, ctxOf("aws:RequestTag/team", "ops"), false},
		{"ArnEqualsIfExists missing", "ArnEqualsIfExists", "iam:PermissionsBoundary", `"` + boundaryARN + `"`, ctxOf(), true},
		{"negated IfExists missing key", "StringNotEqualsIfExists", "aws:RequestTag/team", `"mail"`, ctxOf(), true},
		// Set operators on multivalued keys.
		{"ForAllValues all in set", "ForAllValues:StringEquals", "aws:TagKeys", `["sesmtp:managed-by","sesmtp:run-id","team"]`, ctxOf("aws:TagKeys", tags), true},
		{"ForAllValues one outside", "ForAllValues:StringEquals", "aws:TagKeys", `["sesmtp:managed-by"]`, ctxOf("aws:TagKeys", tags), false},
		{"ForAllValues missing key is true", "ForAllValues:StringEquals", "aws:TagKeys", `["x"]`, ctxOf(), true},
		{"ForAllValues empty set is true", "ForAllValues:StringEquals", "aws:TagKeys", `["x"]`, ctxOf("aws:TagKeys", []string{}), true},
		{"ForAllValues StringLike", "ForAllValues:StringLike", "aws:TagKeys", `"sesmtp:*"`, ctxOf("aws:TagKeys", tags), true},
		{"ForAnyValue one in set", "ForAnyValue:StringEquals", "aws:TagKeys", `"sesmtp:run-id"`, ctxOf("aws:TagKeys", tags), true},
		{"ForAnyValue none in set", "ForAnyValue:StringEquals", "aws:TagKeys", `"team"`, ctxOf("aws:TagKeys", tags), false},
		{"ForAnyValue missing key is false", "ForAnyValue:StringEquals", "aws:TagKeys", `"team"`, ctxOf(), false},
		{"ForAnyValue empty set is false", "ForAnyValue:StringLike", "aws:TagKeys", `"*"`, ctxOf("aws:TagKeys", []string{}), false},
		{"ForAnyValue negated", "ForAnyValue:StringNotLike", "aws:TagKeys", `"sesmtp:*"`, ctxOf("aws:TagKeys", append(tags, "team")), true},
		{"ForAllValues negated", "ForAllValues:StringNotLike", "aws:TagKeys", `"aws:*"`, ctxOf("aws:TagKeys", tags), true},
		{"ForAnyValue IfExists missing key", "ForAnyValue:StringEqualsIfExists", "aws:TagKeys", `"x"`, ctxOf(), true},
		// Policy variables (Version 2012-10-17).
		{"policy variable", "StringEquals", "aws:RequestTag/owner", `"${aws:username}"`, ctxOf("aws:RequestTag/owner", "alice", "aws:username", "alice"), true},
		{"policy variable other value", "StringEquals", "aws:RequestTag/owner", `"${aws:username}"`, ctxOf("aws:RequestTag/owner", "bob", "aws:username", "alice"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, holds(t, tt.op, tt.key, tt.values, tt.ctx))
		})
	}
}

func TestUnevaluatedOperatorFailsLoudly(t *testing.T) {
	d, err := iampolicy.Parse(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",` +
		`"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`)
	require.NoError(t, err, "IpAddress is a valid IAM operator")
	_, err = iampolicy.Evaluate(iampolicy.Request{Action: "iam:ListUsers", Resource: "*", Context: ctxOf("aws:SourceIp", "10.1.1.1")},
		iampolicy.Principal{Identity: []iampolicy.Policy{{ID: "p", Document: d}}})
	assert.ErrorContains(t, err, "does not evaluate the ipaddress condition operator")
}

func TestGlobAndARN(t *testing.T) {
	tests := []struct {
		pattern, s string
		glob, arn  bool
	}{
		{"*", "anything:at:all", true, true},
		{"arn:aws:iam::123456789012:user/*", "arn:aws:iam::123456789012:user/ses/bob", true, true},
		{"arn:aws:iam::123456789012:user/ses/*", "arn:aws:iam::123456789012:user/bob", false, false},
		{"arn:aws:iam::*:user/b?b", "arn:aws:iam::123456789012:user/bob", true, true},
		{"arn:aws:iam::123456789012:user/Bob", "arn:aws:iam::123456789012:user/bob", false, false},
		{"arn:aws:iam:*", "arn:aws:iam::123456789012:user/bob", true, false},
		{"arn:aws:iam::123456789012:*", "arn:aws:iam::123456789012:policy/a:b", true, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.glob, iampolicy.Glob(tt.pattern, tt.s), "Glob(%q, %q)", tt.pattern, tt.s)
		assert.Equal(t, tt.arn, iampolicy.ARNMatch(tt.pattern, tt.s), "ARNMatch(%q, %q)", tt.pattern, tt.s)
	}
	assert.True(t, iampolicy.MatchAction("IAM:create*", "iam:CreateUser"), "action names fold case")
	assert.True(t, iampolicy.MatchAction("iam:?reateUser", "iam:CreateUser"))
	assert.False(t, iampolicy.MatchAction("iam:Create*", "ses:CreateUser"))
}
