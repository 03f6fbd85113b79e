package iamtest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func askSMTPAuth(t *testing.T, base, username, password, region string) iamtest.SMTPAuthAnswer {
	t.Helper()
	resp, err := http.PostForm(base+iamtest.SMTPAuthPath, url.Values{"username": {username}, "password": {password}, "region": {region}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var answer iamtest.SMTPAuthAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
	return answer
}

func TestSMTPAuthCheck(t *testing.T) {
	e := iamtest.Start(t)
	e.Local(t, "its SMTP AUTH check, which only iam-local serves")
	c := e.Client()
	ctx := t.Context()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("smtp")})
	require.NoError(t, err)
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("smtp")})
	require.NoError(t, err)
	id, secret := aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)

	tests := []struct{ name, user, password, region, want string }{
		{"v4 of an active key", id, derive.PasswordV4(secret, "eu-west-1"), "eu-west-1", iamtest.SMTPAuthOK},
		{"another region's password", id, derive.PasswordV4(secret, "us-east-1"), "eu-west-1", iamtest.SMTPAuthRejected},
		{"legacy v2", id, derive.PasswordV2(secret), "eu-west-1", iamtest.SMTPAuthV2},
		{"unknown key", "AKIAUNKNOWNUNKNOWN00", derive.PasswordV4(secret, "eu-west-1"), "eu-west-1", iamtest.SMTPAuthRejected},
		{"the secret itself", id, secret, "eu-west-1", iamtest.SMTPAuthRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer := askSMTPAuth(t, e.URL, tt.user, tt.password, tt.region)
			assert.Equal(t, tt.want, answer.Result)
		})
	}

	_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("smtp"), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive})
	require.NoError(t, err)
	answer := askSMTPAuth(t, e.URL, id, derive.PasswordV4(secret, "eu-west-1"), "eu-west-1")
	assert.Equal(t, iamtest.SMTPAuthInactive, answer.Result)
	assert.False(t, answer.KeyCreated.IsZero(), "the key's age goes with the answer, for a propagation delay")
}

func TestSMTPAuthLoopbackOnly(t *testing.T) {
	srv := iamtest.NewUnstartedServer()
	req := httptest.NewRequest(http.MethodPost, iamtest.SMTPAuthPath, strings.NewReader("username=AKIA&password=x&region=eu-west-1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "192.0.2.7:4242"
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusForbidden, rec.Code)

	req = httptest.NewRequest(http.MethodGet, iamtest.SMTPAuthPath, nil)
	req.RemoteAddr = "127.0.0.1:4242"
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
