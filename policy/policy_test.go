package policy

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSender(t *testing.T) {
	tests := []struct {
		name    string
		opts    SenderOptions
		want    string
		wantErr string
	}{
		{
			name: "console default",
			want: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`,
		},
		{
			name: "from addresses",
			opts: SenderOptions{FromAddresses: []string{"noreply@example.com", "*@mail.example.com"}},
			want: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*",` +
				`"Condition":{"StringLike":{"ses:FromAddress":["*@mail.example.com","noreply@example.com"]}}}]}`,
		},
		{
			name: "one from address",
			opts: SenderOptions{FromAddresses: []string{"a@example.com"}},
			want: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*",` +
				`"Condition":{"StringLike":{"ses:FromAddress":"a@example.com"}}}]}`,
		},
		{
			name: "identity arns",
			opts: SenderOptions{IdentityARNs: []string{"arn:aws:ses:eu-west-1:123456789012:identity/example.com"}},
			want: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail",` +
				`"Resource":"arn:aws:ses:eu-west-1:123456789012:identity/example.com"}]}`,
		},
		{name: "bad arn", opts: SenderOptions{IdentityARNs: []string{"example.com"}}, wantErr: "not an SES identity ARN"},
		{name: "quote in address", opts: SenderOptions{FromAddresses: []string{`a"@b`}}, wantErr: "spaces or quotes"},
		{name: "not an address", opts: SenderOptions{FromAddresses: []string{"not-an-address"}}, wantErr: "is not an email address"},
		{name: "no domain dot", opts: SenderOptions{FromAddresses: []string{"a@localhost"}}, wantErr: "is not an email address"},
		{name: "empty label", opts: SenderOptions{FromAddresses: []string{"a@example..com"}}, wantErr: "is not an email address"},
		{name: "angle brackets", opts: SenderOptions{FromAddresses: []string{"<a@example.com>"}}, wantErr: "is not an email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Sender(tt.opts)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, doc.JSON())
			var back Document
			require.NoError(t, json.Unmarshal([]byte(doc.Indented()), &back))
			assert.Equal(t, doc, back, "indented form must round-trip")
		})
	}
}

func TestOperatorCoversConsoleFlow(t *testing.T) {
	acts := OperatorActions()
	for _, a := range []string{"iam:ListUsers", "iam:CreateUser", "iam:PutUserPolicy", "iam:CreateAccessKey", "iam:DeleteUser"} {
		assert.Contains(t, acts, a)
	}
	doc := Operator()
	assert.Equal(t, Strings(acts), doc.Statement[0].Action)
	assert.Equal(t, CommandActions("list"), []string(Operator("list").Statement[0].Action))
	assert.NotContains(t, []string(Operator("list").Statement[0].Action), "iam:CreateUser")
	assert.Nil(t, CommandActions("derive"))
}

// TestSenderNormalForm: the same addresses and identities in another
// order, or repeated, make the same document (IAM ORs a key's values).
func TestSenderNormalForm(t *testing.T) {
	a, err := Sender(SenderOptions{FromAddresses: []string{"b@example.com", "a@example.com", "b@example.com"},
		IdentityARNs: []string{"arn:aws:ses:eu-west-1:123456789012:identity/b.com", "arn:aws:ses:eu-west-1:123456789012:identity/a.com"}})
	require.NoError(t, err)
	b, err := Sender(SenderOptions{FromAddresses: []string{"a@example.com", "b@example.com"},
		IdentityARNs: []string{"arn:aws:ses:eu-west-1:123456789012:identity/a.com", "arn:aws:ses:eu-west-1:123456789012:identity/b.com"}})
	require.NoError(t, err)
	assert.Equal(t, b.JSON(), a.JSON())
	assert.Equal(t, Strings{"a@example.com", "b@example.com"}, a.Statement[0].Condition["StringLike"]["ses:FromAddress"])
	unsorted := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*",` +
		`"Condition":{"StringLike":{"ses:FromAddress":["b@example.com","a@example.com"]}}}}`
	c, err := Sender(SenderOptions{FromAddresses: []string{"a@example.com", "b@example.com"}})
	require.NoError(t, err)
	assert.Equal(t, c.JSON(), NormalJSON(unsorted))
	assert.Equal(t, "not json", NormalJSON("not json"))
}
