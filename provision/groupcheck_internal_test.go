package provision

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sesmtp/sesmtp/policy"
)

func TestGroupInfoBeyondSending(t *testing.T) {
	info := GroupInfo{Name: "g", Exists: true, Policies: []GroupPolicy{
		{Name: "send", Document: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}}`},
		{Name: "garbled", Document: `{"Statement":`},
		{Name: "PowerUserAccess", ARN: "arn:aws:iam::aws:policy/PowerUserAccess",
			Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}]}`},
	}}
	assert.Equal(t, []string{
		`inline policy "garbled" cannot be read as a policy document`,
		`managed policy "PowerUserAccess" allows NotAction iam:*,organizations:* (every other action)`,
	}, info.BeyondSending())
}

func TestSameDocument(t *testing.T) {
	want, err := policy.Boundary(policy.SenderOptions{})
	assert.NoError(t, err)
	for doc, same := range map[string]bool{
		want.JSON(): true,
		`{"Version":"2012-10-17","Statement":{"Sid":"SesSendingOnly","Effect":"Allow","Action":["ses:SendRawEmail"],"Resource":["*"]}}`: true,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`:                          false,
		`not json`: false,
	} {
		assert.Equal(t, same, sameDocument(doc, want), doc)
	}
}
