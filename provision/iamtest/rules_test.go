package iamtest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func TestPathRules(t *testing.T) {
	_, c := newLocal(t)
	for i, tc := range []struct {
		path string
		code string
	}{
		{"/", ""},
		{"/smtp/mail/", ""},
		{"/a//b/", "ValidationError"},
		{"//", "ValidationError"},
		{"///", "ValidationError"},
		{"/smtp", "ValidationError"},
		{"/a b/", "ValidationError"},
		{"/" + strings.Repeat("a", 510) + "/", ""},
		{"/" + strings.Repeat("a", 511) + "/", "ValidationError"},
	} {
		_, err := c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String(fmt.Sprintf("u%d", i)), Path: aws.String(tc.path)})
		assert.Equal(t, tc.code, code(err), "path %.20q", tc.path)
		_, err = c.CreateGroup(t.Context(), &iam.CreateGroupInput{GroupName: aws.String(fmt.Sprintf("g%d", i)), Path: aws.String(tc.path)})
		assert.Equal(t, tc.code, code(err), "group path %.20q", tc.path)
	}
	_, err := c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("x"), Path: aws.String("/a//b/")})
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	assert.Contains(t, ae.ErrorMessage(), "The specified value for path is invalid")
}

func TestLengthsCountCharacters(t *testing.T) {
	_, c := newLocal(t)
	tag := func(k, v string) error {
		_, err := c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("u"),
			Tags: []types.Tag{{Key: aws.String(k), Value: aws.String(v)}}})
		if err == nil {
			_, err = c.DeleteUser(t.Context(), &iam.DeleteUserInput{UserName: aws.String("u")})
			require.NoError(t, err)
		}
		return err
	}
	// é is two bytes: 128 characters are 256 bytes, within IAM's limit.
	assert.NoError(t, tag(strings.Repeat("é", 128), strings.Repeat("ü", 256)))
	assert.Equal(t, "ValidationError", code(tag(strings.Repeat("é", 129), "v")))
	assert.Equal(t, "ValidationError", code(tag("k", strings.Repeat("ü", 257))))
	_, err := c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String(strings.Repeat("a", 64))})
	assert.NoError(t, err)
}

func TestGroupsPerUserQuota(t *testing.T) {
	srv, c := newLocal(t)
	srv.PutUser(iamtest.User{Name: "joiner"})
	for i := range 11 {
		g := aws.String(fmt.Sprintf("g%02d", i))
		_, err := c.CreateGroup(t.Context(), &iam.CreateGroupInput{GroupName: g})
		require.NoError(t, err)
		_, err = c.AddUserToGroup(t.Context(), &iam.AddUserToGroupInput{UserName: aws.String("joiner"), GroupName: g})
		if i < 10 {
			require.NoError(t, err, "group %d", i+1)
			continue
		}
		var limit *types.LimitExceededException
		require.ErrorAs(t, err, &limit, "the 11th group")
		assert.Equal(t, "Cannot exceed quota for GroupsPerUser: 10.", limit.ErrorMessage())
	}
	_, err := c.AddUserToGroup(t.Context(), &iam.AddUserToGroupInput{UserName: aws.String("joiner"), GroupName: aws.String("g03")})
	assert.NoError(t, err, "joining a group again is no new membership")
	u, _ := srv.User("joiner")
	assert.Len(t, u.Groups, 10)
}

func TestPolicyDocumentCharacters(t *testing.T) {
	srv, c := newLocal(t)
	srv.PutUser(iamtest.User{Name: "u"})
	doc := func(sid string) *string {
		if sid == "" { // whitespace between tokens, where JSON allows it
			return aws.String("{\t\"Version\":\"2012-10-17\",\r\n\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ses:SendRawEmail\",\"Resource\":\"*\"}]}")
		}
		return aws.String(`{"Version":"2012-10-17","Statement":[{"Sid":"` + sid + `","Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`)
	}
	for _, tc := range []struct {
		name, sid, code string
	}{
		{"Latin-1 is allowed", "caf\u00e9\u00ff", ""},
		{"tab, newline, carriage return are allowed", "", ""},
		{"an en dash is not", "a\u2013b", "ValidationError"},
		{"an emoji is not", "\U0001F4E7", "ValidationError"},
		{"a control character is not", "a\x01b", "ValidationError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PutUserPolicy(t.Context(), &iam.PutUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("p"), PolicyDocument: doc(tc.sid)})
			assert.Equal(t, tc.code, code(err))
			_, err = c.CreateGroup(t.Context(), &iam.CreateGroupInput{GroupName: aws.String("g")})
			if err == nil || code(err) == "EntityAlreadyExists" {
				_, err = c.PutGroupPolicy(t.Context(), &iam.PutGroupPolicyInput{GroupName: aws.String("g"), PolicyName: aws.String("p"), PolicyDocument: doc(tc.sid)})
			}
			assert.Equal(t, tc.code, code(err), "group policy")
		})
	}
}
