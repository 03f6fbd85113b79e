package iamtest_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func TestSimulatePrincipalPolicy(t *testing.T) {
	e := iamtest.Start(t)
	srv, c := e.Local(t), e.Client(noRetry)
	ctx := t.Context()
	boundary := srv.PutPolicy("/sesmtp/", "Boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:Send*","Resource":"*"}]}`)
	narrowed := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{"StringLike":{"ses:FromAddress":"*@example.com"}}},
	  {"Effect":"Deny","Action":"ses:SendRawEmail","Resource":"*","Condition":{"StringEquals":{"ses:FromAddress":"ceo@example.com"}}}]}`
	srv.PutUser(iamtest.User{Name: "mailer", Path: "/ses/", PermissionsBoundary: boundary,
		InlinePolicies: map[string]string{"AmazonSesSendingAccess": narrowed}})
	userARN := "arn:aws:iam::123456789012:user/ses/mailer"
	from := func(addr string) []types.ContextEntry {
		return []types.ContextEntry{{ContextKeyName: aws.String("ses:FromAddress"), ContextKeyType: types.ContextKeyTypeEnumString,
			ContextKeyValues: []string{addr}}}
	}
	tests := []struct {
		name     string
		actions  []string
		context  []types.ContextEntry
		want     types.PolicyEvaluationDecisionType
		matched  []string
		missing  []string
		boundary bool
	}{
		{"allowed sender", []string{"ses:SendRawEmail"}, from("ops@example.com"), types.PolicyEvaluationDecisionTypeAllowed,
			[]string{"AmazonSesSendingAccess"}, nil, true},
		{"other domain", []string{"ses:SendRawEmail"}, from("x@evil.test"), types.PolicyEvaluationDecisionTypeImplicitDeny, nil, nil, true},
		{"explicit deny", []string{"ses:SendRawEmail"}, from("ceo@example.com"), types.PolicyEvaluationDecisionTypeExplicitDeny,
			[]string{"AmazonSesSendingAccess"}, nil, true},
		{"no context: missing key", []string{"ses:SendRawEmail"}, nil, types.PolicyEvaluationDecisionTypeImplicitDeny, nil,
			[]string{"ses:FromAddress"}, true},
		{"outside the boundary", []string{"iam:CreateUser"}, nil, types.PolicyEvaluationDecisionTypeImplicitDeny, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(userARN),
				ActionNames: tt.actions, ContextEntries: tt.context})
			require.NoError(t, err)
			require.Len(t, out.EvaluationResults, 1)
			r := out.EvaluationResults[0]
			assert.Equal(t, tt.actions[0], aws.ToString(r.EvalActionName))
			assert.Equal(t, "*", aws.ToString(r.EvalResourceName))
			assert.Equal(t, tt.want, r.EvalDecision)
			var matched []string
			for _, m := range r.MatchedStatements {
				matched = append(matched, aws.ToString(m.SourcePolicyId))
				assert.Equal(t, types.PolicySourceTypeUser, m.SourcePolicyType)
			}
			assert.ElementsMatch(t, tt.matched, matched)
			assert.ElementsMatch(t, tt.missing, r.MissingContextValues)
			require.NotNil(t, r.PermissionsBoundaryDecisionDetail)
			assert.Equal(t, tt.boundary, r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary)
		})
	}

	out, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(userARN),
		ActionNames: []string{"ses:SendRawEmail", "ses:SendEmail"}, ResourceArns: []string{"arn:aws:ses:eu-west-1:123456789012:identity/example.com"},
		ContextEntries: from("a@example.com")})
	require.NoError(t, err)
	require.Len(t, out.EvaluationResults, 2)
	assert.Equal(t, types.PolicyEvaluationDecisionTypeAllowed, out.EvaluationResults[0].EvalDecision)
	assert.Equal(t, "arn:aws:ses:eu-west-1:123456789012:identity/example.com", aws.ToString(out.EvaluationResults[0].EvalResourceName))
	assert.Equal(t, types.PolicyEvaluationDecisionTypeImplicitDeny, out.EvaluationResults[1].EvalDecision, "SendEmail is not granted")

	_, err = c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::123456789012:user/nobody"),
		ActionNames: []string{"ses:SendRawEmail"}})
	var missing *types.NoSuchEntityException
	require.ErrorAs(t, err, &missing)
}

func TestSimulatePrincipalPolicyIsAuthorized(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithCaller(iamtest.Caller{AccessKeyID: "AKIAVERIFYEXAMPLE001", SecretAccessKey: "s", UserName: "verifier",
		Policies: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:SimulatePrincipalPolicy","Resource":"arn:aws:iam::123456789012:user/ses/*"}]}`}}))
	srv := e.Local(t)
	srv.PutUser(iamtest.User{Name: "mailer", Path: "/ses/"})
	srv.PutUser(iamtest.User{Name: "boss"})
	c := clientAs(e, "AKIAVERIFYEXAMPLE001", "s")
	_, err := c.SimulatePrincipalPolicy(t.Context(), &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::123456789012:user/ses/mailer"), ActionNames: []string{"ses:SendRawEmail"}})
	require.NoError(t, err)
	_, err = c.SimulatePrincipalPolicy(t.Context(), &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::123456789012:user/boss"), ActionNames: []string{"ses:SendRawEmail"}})
	assert.ErrorContains(t, err, "User: arn:aws:iam::123456789012:user/verifier is not authorized to perform: iam:SimulatePrincipalPolicy "+
		"on resource: arn:aws:iam::123456789012:user/boss because no identity-based policy allows the iam:SimulatePrincipalPolicy action")
}
