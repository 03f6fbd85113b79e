package iampolicy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

func TestEvaluateTrust(t *testing.T) {
	user := iampolicy.TrustCaller{ARN: "arn:aws:iam::123456789012:user/ops", Account: "123456789012"}
	session := iampolicy.TrustCaller{ARN: "arn:aws:sts::123456789012:assumed-role/deploy/s", Account: "123456789012",
		RoleARN: "arn:aws:iam::123456789012:role/deploy"}
	stmt := func(effect, principal string, extra string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"` + effect + `","Principal":` + principal + `,"Action":"sts:AssumeRole"` + extra + `}]}`
	}
	tests := []struct {
		name   string
		doc    string
		caller iampolicy.TrustCaller
		extID  string
		want   iampolicy.Trust
	}{
		{"user ARN", stmt("Allow", `{"AWS":"arn:aws:iam::123456789012:user/ops"}`, ""), user, "", iampolicy.TrustDirect},
		{"user ARN in a list with the account", stmt("Allow", `{"AWS":["123456789012","arn:aws:iam::123456789012:user/ops"]}`, ""), user, "", iampolicy.TrustDirect},
		{"account root", stmt("Allow", `{"AWS":"arn:aws:iam::123456789012:root"}`, ""), user, "", iampolicy.TrustDelegated},
		{"account id", stmt("Allow", `{"AWS":"123456789012"}`, ""), user, "", iampolicy.TrustDelegated},
		{"another account", stmt("Allow", `{"AWS":"210987654321"}`, ""), user, "", iampolicy.NotTrusted},
		{"wildcard principal", stmt("Allow", `"*"`, ""), user, "", iampolicy.TrustDelegated},
		{"no wildcards inside an ARN", stmt("Allow", `{"AWS":"arn:aws:iam::123456789012:user/*"}`, ""), user, "", iampolicy.NotTrusted},
		{"a service, not a user", stmt("Allow", `{"Service":"lambda.amazonaws.com"}`, ""), user, "", iampolicy.NotTrusted},
		{"the role of a session", stmt("Allow", `{"AWS":"arn:aws:iam::123456789012:role/deploy"}`, ""), session, "", iampolicy.TrustDelegated},
		{"the session itself", stmt("Allow", `{"AWS":"arn:aws:sts::123456789012:assumed-role/deploy/s"}`, ""), session, "", iampolicy.TrustDirect},
		{"another action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:TagSession"}]}`, user, "", iampolicy.NotTrusted},
		{"external id condition met", stmt("Allow", `{"AWS":"123456789012"}`, `,"Condition":{"StringEquals":{"sts:ExternalId":"x"}}`), user, "x", iampolicy.TrustDelegated},
		{"external id condition missing", stmt("Allow", `{"AWS":"123456789012"}`, `,"Condition":{"StringEquals":{"sts:ExternalId":"x"}}`), user, "", iampolicy.NotTrusted},
		{"deny wins", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/ops"},"Action":"sts:AssumeRole"},` +
			`{"Effect":"Deny","Principal":"*","Action":"sts:*"}]}`, user, "", iampolicy.TrustDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := iampolicy.ParseTrust(tt.doc)
			require.NoError(t, err)
			ctx := iampolicy.Context{}
			if tt.extID != "" {
				ctx.Set("sts:ExternalId", tt.extID)
			}
			got, err := iampolicy.EvaluateTrust(iampolicy.Request{Action: "sts:AssumeRole", Resource: "arn:aws:iam::123456789012:role/r", Context: ctx}, tt.caller, tp)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseTrustRefuses(t *testing.T) {
	for _, doc := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"123456789012","Action":"sts:AssumeRole"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"}}]}`,
	} {
		_, err := iampolicy.ParseTrust(doc)
		assert.ErrorIs(t, err, iampolicy.ErrMalformed, doc)
	}
}
