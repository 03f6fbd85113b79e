package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

const testBoundaryARN = "arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary"

func TestPolicyBoundaryAndBoundedOperator(t *testing.T) {
	iamtest.Isolate(t)
	res := runCLI(t, "", "policy", "boundary", "--compact")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, boundaryJSON+"\n", res.stdout)

	res = runCLI(t, "", "policy", "operator", "--boundary-arn", testBoundaryARN, "--group", "ses-senders", "--allow-tag", "team")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Empty(t, res.stderr, "no warning for the bounded policy")
	want, err := policy.OperatorWithBoundary(policy.BoundedOptions{BoundaryARN: testBoundaryARN, Group: "ses-senders", TagKeys: []string{"team"}})
	require.NoError(t, err)
	assert.Equal(t, want.Indented(), res.stdout)

	res = runCLI(t, "", "policy", "operator")
	require.Equal(t, 0, res.code)
	assert.Contains(t, res.stderr, "warning: this operator policy is admin-equivalent")
	assert.Contains(t, res.stderr, "sesmtp setup")
	assert.Contains(t, res.stderr, "--boundary-arn")
	var doc policy.Document
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &doc), "stdout stays pure JSON")

	res = runCLI(t, "", "policy", "operator", "--command", "list")
	require.Equal(t, 0, res.code)
	assert.Empty(t, res.stderr, "list's policy only reads")
}

func TestPolicyOperatorBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a role ARN", []string{"--boundary-arn", "arn:aws:iam::123456789012:role/Admin"}, "not an IAM managed policy ARN"},
		{"an AWS managed policy", []string{"--boundary-arn", "arn:aws:iam::aws:policy/AmazonSESFullAccess"}, "AWS managed policy"},
		{"a policy name", []string{"--boundary-arn", "SesmtpSenderBoundary"}, "not an IAM managed policy ARN"},
		{"a path IAM rejects", []string{"--boundary-arn", testBoundaryARN, "--user-path", "/a b/"}, "not an IAM path"},
		{"a path without the final slash", []string{"--boundary-arn", testBoundaryARN, "--user-path", "/smtp"}, "--user-path"},
		{"--command with --boundary-arn", []string{"--boundary-arn", testBoundaryARN, "--command", "create"}, "leave out --command"},
		{"--group without --boundary-arn", []string{"--group", "g"}, "--group goes with --boundary-arn"},
		{"--user-path without --boundary-arn", []string{"--user-path", "/x/"}, "--user-path goes with --boundary-arn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iamtest.Isolate(t)
			res := runCLI(t, "", append([]string{"policy", "operator"}, tt.args...)...)
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, tt.want)
			assert.Empty(t, res.stdout)
		})
	}
}

// withBoundary puts the boundary policy setup makes into srv.
func withBoundary(srv policyPutter) string {
	return srv.PutPolicy("/sesmtp/", "SesmtpSenderBoundary", boundaryJSON)
}

// TestBoundaryConfiguration: the boundary comes from the flag, the
// environment or the profile, and users then go under /sesmtp/.
func TestBoundaryConfiguration(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, arn string)
		args     []string
		wantPath string
	}{
		{"flag", func(*testing.T, string) {}, []string{"--permissions-boundary", testBoundaryARN}, "/sesmtp/"},
		{"environment", func(t *testing.T, arn string) { t.Setenv(provision.EnvPermissionsBoundary, arn) }, nil, "/sesmtp/"},
		{"profile", func(t *testing.T, arn string) {
			cfg := filepath.Join(t.TempDir(), "config")
			require.NoError(t, os.WriteFile(cfg, []byte("[profile mail]\nsesmtp_permissions_boundary = "+arn+"\nsesmtp_path = /mail/smtp/\n"+
				"aws_access_key_id = "+iamtest.DefaultAccessKeyID+"\naws_secret_access_key = "+iamtest.DefaultSecretAccessKey+"\n"), 0o600))
			t.Setenv("AWS_CONFIG_FILE", cfg)
			t.Setenv("AWS_PROFILE", "mail")
		}, nil, "/mail/smtp/"},
		{"explicit path", func(t *testing.T, arn string) { t.Setenv(provision.EnvPermissionsBoundary, arn) }, []string{"--path", "/smtp/"}, "/smtp/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			e.NeedsUserBoundaries(t)
			srv := e.State(t)
			arn := withBoundary(srv)
			tt.setup(t, arn)
			res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), append([]string{"--user", "m", "--region", "eu-west-1"}, tt.args...)...)...)
			require.Equal(t, 0, res.code, res.stderr)
			u, _ := srv.User("m")
			assert.Equal(t, arn, u.PermissionsBoundary)
			assert.Equal(t, tt.wantPath, u.Path)
		})
	}
	t.Run("none: path stays /", func(t *testing.T) {
		e := iamtest.Start(t)
		srv := e.State(t)
		res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "m", "--region", "eu-west-1")...)
		require.Equal(t, 0, res.code, res.stderr)
		u, _ := srv.User("m")
		assert.Equal(t, "/", u.Path)
		assert.Empty(t, u.PermissionsBoundary)
	})
}

// TestMissingBoundaryChangesNothing: a boundary ARN IAM does not know is
// bad input for create, batch and recreate alike: exit 2, nothing changed.
func TestMissingBoundaryChangesNothing(t *testing.T) {
	missing := "arn:aws:iam::123456789012:policy/sesmtp/Nope"
	e := iamtest.Start(t)
	e.NeedsUserBoundaries(t) // an endpoint that drops boundaries (moto) does not look them up either
	srv := e.State(t)
	srv.PutUser(consoleUser("target"))
	before := snapshot(srv)
	dir := t.TempDir()
	manifest := writeFile(t, "s.txt", "s1\ns2\n")
	for name, args := range map[string][]string{
		"create":   createArgs(e, filepath.Join(dir, "c.csv"), "--user", "m", "--region", "eu-west-1", "--permissions-boundary", missing),
		"batch":    batchArgs(e, manifest, filepath.Join(dir, "batch"), "--permissions-boundary", missing),
		"recreate": rotateArgs(e, filepath.Join(dir, "r.csv"), "--yes", "--permissions-boundary", missing),
	} {
		t.Run(name, func(t *testing.T) {
			res := runCLI(t, "", args...)
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, "does not exist")
			assert.Contains(t, res.stderr, "sesmtp setup")
			assert.Equal(t, before, snapshot(srv), "nothing changed")
		})
	}
	res := runCLI(t, "", createArgs(e, filepath.Join(dir, "d.csv"), "--user", "m", "--permissions-boundary", "arn:aws:iam::123456789012:role/x")...)
	assert.Equal(t, exitcode.Usage, res.code)
	assert.Contains(t, res.stderr, "not an IAM policy ARN")
}

func TestCreateGroupCheck(t *testing.T) {
	const wideInline = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:SendRawEmail","iam:PassRole"],"Resource":"*"}]}`
	tests := []struct {
		name     string
		inline   string
		managed  string
		extra    []string
		code     int
		stderr   []string
		joined   bool
		boundary bool
	}{
		{name: "an inline policy beyond sending", inline: wideInline, code: exitcode.Usage,
			stderr: []string{`group "g" allows more than SES sending: inline policy "p" allows iam:PassRole`, "--allow-any-group", "sesmtp setup --group"}},
		{name: "AdministratorAccess attached", managed: adminPolicyARN, code: exitcode.Usage,
			stderr: []string{`managed policy "AdministratorAccess" allows *`}},
		{name: "AmazonSESFullAccess attached", managed: "arn:aws:iam::aws:policy/AmazonSESFullAccess", code: exitcode.Usage,
			stderr: []string{`managed policy "AmazonSESFullAccess" allows ses:*`}},
		{name: "--allow-any-group", managed: adminPolicyARN, extra: []string{"--allow-any-group"},
			stderr: []string{`warning: group "g" allows more than SES sending`}, joined: true},
		{name: "an SES group: the policy that applies is shown", inline: senderPolicyJSON, joined: true,
			stderr: []string{"member of group g, whose policies apply to it:", `inline policy p: ` + senderPolicyJSON}},
		{name: "from address with a group", inline: senderPolicyJSON, extra: []string{"--from-address", "a@example.com"}, code: exitcode.Usage,
			stderr: []string{"a group's policy is shared by every member"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			srv := e.State(t)
			admin := e.Client()
			ctx := t.Context()
			_, err := admin.CreateGroup(ctx, groupInput("g"))
			require.NoError(t, err)
			if tt.inline != "" {
				_, err = admin.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("g"), PolicyName: aws.String("p"), PolicyDocument: aws.String(tt.inline)})
				require.NoError(t, err)
			}
			if tt.managed != "" {
				_, err = admin.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("g"), PolicyArn: aws.String(tt.managed)})
				require.NoError(t, err)
			}
			before := snapshot(srv)
			out := filepath.Join(t.TempDir(), "c.csv")
			res := runCLI(t, "", createArgs(e, out, append([]string{"--user", "m", "--region", "eu-west-1", "--group", "g"}, tt.extra...)...)...)
			assert.Equal(t, tt.code, res.code, res.stderr)
			for _, s := range tt.stderr {
				assert.Contains(t, res.stderr, s)
			}
			g, _ := srv.Group("g")
			if !tt.joined {
				assert.Equal(t, before, snapshot(srv), "nothing changed")
				assert.NoFileExists(t, out)
				return
			}
			assert.Equal(t, []string{"m"}, g.Members)
		})
	}
}

func TestBatchRefusesSenderRestrictionsInAGroup(t *testing.T) {
	e := iamtest.Start(t)
	dir := filepath.Join(t.TempDir(), "out")
	for _, manifest := range []string{
		"user,from_address,group\na,a@example.com,senders\n",
		"user,identity_arn\na,arn:aws:ses:eu-west-1:123456789012:identity/example.com\n", // with --group below
	} {
		res := runCLI(t, "", batchArgs(e, writeFile(t, "s.csv", manifest), dir, "--group", "senders")...)
		assert.Equal(t, exitcode.Usage, res.code, res.stderr)
		assert.Contains(t, res.stderr, "line 2: from addresses and identity ARNs")
	}
	assertCalls(t, e, "", 0)
}

func TestBatchRefusesAWideGroupBeforeAnything(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	_, err := e.Client().CreateGroup(t.Context(), groupInput("Admins"))
	require.NoError(t, err)
	_, err = e.Client().AttachGroupPolicy(t.Context(), &iam.AttachGroupPolicyInput{GroupName: aws.String("Admins"), PolicyArn: aws.String(adminPolicyARN)})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "out")
	res := runCLI(t, "", batchArgs(e, writeFile(t, "s.csv", "user,group\na,\nb,Admins\n"), dir)...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, `group "Admins" allows more than SES sending`)
	assert.Empty(t, srv.Users(), "no sender was created, not even the one without a group")
}

// TestBoundedOperatorAndMissingGroup: with a boundary configured, a
// missing group is not created; the operator is told to ask for setup.
func TestBoundedOperatorAndMissingGroup(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	arn := withBoundary(srv)
	t.Setenv(provision.EnvPermissionsBoundary, arn)
	res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "m", "--region", "eu-west-1", "--group", "new-group")...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "sesmtp setup --group new-group")
	assert.Empty(t, srv.Users())
	assert.Empty(t, srv.Groups())
}

// TestAccessDeniedHints: IAM's denial of the TagUser a tagged CreateUser
// is also authorized as names both actions, and every denial points to
// setup and the bounded policy.
func TestAccessDeniedHints(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
		AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "ops",
		Allow: []string{"iam:ListUsers", "iam:CreateUser"}}))
	srv := e.Local(t)
	res := runCLI(t, "", createArgs(e, filepath.Join(t.TempDir(), "c.csv"), "--user", "m", "--region", "eu-west-1")...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "not authorized to perform: iam:TagUser", "IAM's answer")
	assert.Contains(t, res.stderr, "is not allowed iam:CreateUser and iam:TagUser (a CreateUser with tags is authorized as both)")
	assert.Contains(t, res.stderr, "sesmtp setup")
	assert.Contains(t, res.stderr, "sesmtp policy operator --boundary-arn")
	assert.Empty(t, srv.Users())
}
