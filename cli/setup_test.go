package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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

const boundaryJSON = `{"Version":"2012-10-17","Statement":[{"Sid":"SesSendingOnly","Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}`

func setupArgs(e *iamtest.Endpoint, extra ...string) []string {
	return append([]string{"setup", "--endpoint-url", e.URL, "--max-backoff", "5ms"}, extra...)
}

// setupOutput is setup's --output json.
type setupOutput struct {
	provision.SetupResult
	OperatorPolicy json.RawMessage `json:"operator_policy"`
}

func runSetupJSON(t *testing.T, e *iamtest.Endpoint, extra ...string) setupOutput {
	t.Helper()
	res := runCLI(t, "", setupArgs(e, append(extra, "--output", "json")...)...)
	require.Equal(t, 0, res.code, res.stderr)
	var out setupOutput
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	return out
}

// writeCalls counts the calls of a run that change IAM (none known on an
// external endpoint, srv nil, which keeps no call log).
func writeCalls(srv *iamtest.Server) []string {
	if srv == nil {
		return nil
	}
	var w []string
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c.Action, "Get") && !strings.HasPrefix(c.Action, "List") {
			w = append(w, c.Action)
		}
	}
	return w
}

func TestSetupFreshAndRerun(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	res := runCLI(t, "", setupArgs(e, "--group", "ses-senders")...)
	require.Equal(t, 0, res.code, res.stderr)
	arn := "arn:aws:iam::123456789012:policy/sesmtp/SesmtpSenderBoundary"
	want, err := policy.OperatorWithBoundary(policy.BoundedOptions{BoundaryARN: arn, Group: "ses-senders"})
	require.NoError(t, err)
	assert.Equal(t, want.Indented(), res.stdout, "stdout is the operator policy, ready for a file")
	assert.Contains(t, res.stderr, "boundary: "+arn+" (created)")
	assert.Contains(t, res.stderr, "SESMTP_PERMISSIONS_BOUNDARY="+arn)

	p, ok := srv.Policy(arn)
	require.True(t, ok)
	assert.JSONEq(t, boundaryJSON, p.DefaultDocument())
	g, ok := srv.Group("ses-senders")
	require.True(t, ok)
	assert.Equal(t, map[string]string{provision.DefaultPolicyName: boundaryJSON}, g.InlinePolicies)

	if e.Server != nil {
		e.Server.ResetCalls()
	}
	out := runSetupJSON(t, e, "--group", "ses-senders")
	assert.Empty(t, writeCalls(e.Server), "a rerun changes nothing")
	assert.Equal(t, "unchanged", out.BoundaryStatus)
	assert.Equal(t, "unchanged", out.GroupStatus)
	assert.Equal(t, arn, out.BoundaryARN)
	assert.JSONEq(t, want.JSON(), string(out.OperatorPolicy))
}

func TestSetupDryRunChangesNothing(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.Local(t)
	res := runCLI(t, "", setupArgs(e, "--group", "ses-senders", "--dry-run")...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Empty(t, writeCalls(srv))
	assert.Contains(t, res.stdout, "iam:CreatePolicy PolicyName=SesmtpSenderBoundary Path=/sesmtp/ PolicyDocument="+boundaryJSON)
	assert.Contains(t, res.stdout, "iam:CreateGroup GroupName=ses-senders")
	assert.Contains(t, res.stdout, "iam:PutGroupPolicy GroupName=ses-senders")
	assert.Contains(t, res.stderr, "dry run")

	runCLI(t, "", setupArgs(e)...)
	srv.ResetCalls()
	out := runSetupJSON(t, e, "--dry-run", "--from-address", "*@example.com", "--update")
	assert.Empty(t, writeCalls(srv))
	assert.Equal(t, "to be updated", out.BoundaryStatus)
	require.Len(t, out.Plan, 1)
	assert.Contains(t, out.Plan[0], "iam:CreatePolicyVersion")
}

// TestSetupCrashAndRerun fails or kills each call of a fresh setup in
// turn, then runs setup again: the rerun must finish the job, leaving the
// same account a clean run leaves.
func TestSetupCrashAndRerun(t *testing.T) {
	clean := func() (string, []string) {
		e := iamtest.Start(t)
		srv := e.Local(t)
		out := runSetupJSON(t, e, "--group", "ses-senders")
		return string(out.OperatorPolicy), actionsOf(srv.Calls())
	}
	wantPolicy, calls := clean()
	require.NotEmpty(t, calls)
	kinds := []struct {
		name  string
		fault func(action string, nth int, kill context.CancelFunc) iamtest.Fault
	}{
		{"fails before", func(a string, n int, _ context.CancelFunc) iamtest.Fault {
			return iamtest.Fault{Action: a, Nth: n, Count: 20, Kind: iamtest.FailBefore}
		}},
		{"fails after it took effect", func(a string, n int, _ context.CancelFunc) iamtest.Fault {
			return iamtest.Fault{Action: a, Nth: n, Kind: iamtest.FailAfter}
		}},
		{"connection drops after it took effect", func(a string, n int, _ context.CancelFunc) iamtest.Fault {
			return iamtest.Fault{Action: a, Nth: n, Kind: iamtest.DropAfter}
		}},
		{"killed after it took effect", func(a string, n int, kill context.CancelFunc) iamtest.Fault {
			return iamtest.Fault{Action: a, Nth: n, OnPerformed: func(iamtest.Call) { kill() }, Kind: iamtest.Delay}
		}},
	}
	cases := 0
	for i, call := range calls {
		nth := 1 + strings.Count(strings.Join(calls[:i], " ")+" ", call+" ")
		for _, k := range kinds {
			cases++
			t.Run(fmt.Sprintf("%s#%d/%s", call, nth, k.name), func(t *testing.T) {
				e := iamtest.Start(t)
				srv := e.Local(t)
				ctx, kill := context.WithCancel(t.Context())
				defer kill()
				srv.Inject(k.fault(call, nth, kill))
				first := runCLIContext(t, ctx, "", setupArgs(e, "--group", "ses-senders", "--output", "json")...)
				assert.NotEqual(t, exitcode.Usage, first.code, "a failure of IAM is no bad input: %s", first.stderr)
				srv.ClearFaults()
				out := runSetupJSON(t, e, "--group", "ses-senders")
				assert.JSONEq(t, wantPolicy, string(out.OperatorPolicy))
				assertSetUp(t, srv)
			})
		}
	}
	assert.GreaterOrEqual(t, cases, 20)
}

func actionsOf(calls []iamtest.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Action)
	}
	return out
}

// assertSetUp checks what a finished setup --group ses-senders leaves.
func assertSetUp(t *testing.T, srv *iamtest.Server) {
	t.Helper()
	var ours []iamtest.ManagedPolicy
	for _, p := range srv.Policies() {
		if p.Name == policy.DefaultBoundaryName {
			ours = append(ours, p)
		}
	}
	require.Len(t, ours, 1, "one boundary policy")
	assert.Equal(t, "/sesmtp/", ours[0].Path)
	assert.JSONEq(t, boundaryJSON, ours[0].DefaultDocument())
	assert.LessOrEqual(t, len(ours[0].Versions), 5)
	g, ok := srv.Group("ses-senders")
	require.True(t, ok)
	assert.Equal(t, map[string]string{provision.DefaultPolicyName: boundaryJSON}, g.InlinePolicies)
	assert.Empty(t, g.AttachedPolicies)
	assert.Empty(t, g.Members)
}

func TestSetupChangedBoundary(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	admin := e.Client()
	first := runSetupJSON(t, e)
	arn := first.BoundaryARN

	// Narrower: refused without --update, with the two documents shown.
	res := runCLI(t, "", setupArgs(e, "--from-address", "*@mail.example.com")...)
	assert.Equal(t, exitcode.Usage, res.code, res.stderr)
	assert.Contains(t, res.stderr, "exists with another document; nothing was changed")
	assert.Contains(t, res.stderr, `"ses:FromAddress": "*@mail.example.com"`)
	assert.Contains(t, res.stderr, "--update")
	p, _ := srv.Policy(arn)
	assert.Len(t, p.Versions, 1)

	out := runSetupJSON(t, e, "--from-address", "*@mail.example.com", "--update")
	assert.Equal(t, "updated", out.BoundaryStatus)
	p, _ = srv.Policy(arn)
	assert.Contains(t, p.DefaultDocument(), "*@mail.example.com")
	assert.Equal(t, "v2", p.DefaultVersionID)

	// Back to the plain document: v1 holds it, and becomes the default again.
	out = runSetupJSON(t, e, "--update")
	p, _ = srv.Policy(arn)
	assert.Equal(t, "v1", p.DefaultVersionID)
	assert.Len(t, p.Versions, 2)
	assert.Equal(t, "v1", out.BoundaryVersion)

	// Five versions taken: the oldest non-default goes to make room.
	for i := range 3 {
		doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"arn:aws:ses:eu-west-1:123456789012:identity/x%d.example.com"}]}`, i)
		_, err := admin.CreatePolicyVersion(t.Context(), &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(doc)})
		require.NoError(t, err)
	}
	p, _ = srv.Policy(arn)
	require.Len(t, p.Versions, 5)
	runSetupJSON(t, e, "--identity-arn", "arn:aws:ses:eu-west-1:123456789012:identity/example.com", "--update")
	p, _ = srv.Policy(arn)
	assert.Len(t, p.Versions, 5)
	assert.Equal(t, "v6", p.DefaultVersionID)
	assert.NotEqual(t, "v2", p.Versions[0].ID, "v2, the oldest non-default, was deleted")
	assert.Equal(t, "v1", p.Versions[0].ID, "v1 is kept: it was the default until now")
}

func TestSetupRefusesGroupsItShouldNotTouch(t *testing.T) {
	tests := []struct {
		name    string
		group   iamtest.User // a member, if Name is set
		inline  string
		managed string
		want    string
		status  string
	}{
		{name: "an admin group", managed: adminPolicyARN, want: `managed policy "AdministratorAccess" allows *`},
		{name: "an inline iam:* policy", inline: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`,
			want: `inline policy "p" allows iam:*`},
		{name: "members and no policy", group: iamtest.User{Name: "member"}, want: "has members but no policy"},
		{name: "another SES-only policy", inline: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{"StringLike":{"ses:FromAddress":"a@example.com"}}}]}`,
			status: "kept: its policies allow SES sending at most"},
		{name: "no policy, no member", status: "sending policy added"},
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
			if tt.group.Name != "" {
				tt.group.Groups = []string{"g"}
				srv.PutUser(tt.group)
			}
			before, _ := srv.Group("g")
			res := runCLI(t, "", setupArgs(e, "--group", "g", "--output", "json")...)
			if tt.want != "" {
				assert.Equal(t, exitcode.Usage, res.code, res.stderr)
				assert.Contains(t, res.stderr, tt.want)
				after, _ := srv.Group("g")
				assert.Equal(t, before, after, "the group is untouched")
				return
			}
			require.Equal(t, 0, res.code, res.stderr)
			var out setupOutput
			require.NoError(t, json.Unmarshal([]byte(res.stdout), &out))
			assert.Equal(t, tt.status, out.GroupStatus)
		})
	}
}

func TestSetupWarnsOfUnboundedUsersUnderThePath(t *testing.T) {
	e := iamtest.Start(t)
	srv := e.State(t)
	srv.PutUser(iamtest.User{Name: "stray", Path: "/sesmtp/"})
	srv.PutUser(iamtest.User{Name: "elsewhere", Path: "/"})
	res := runCLI(t, "", setupArgs(e)...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "warning: users under /sesmtp/ without the boundary: stray.")
	assert.Contains(t, res.stderr, "aws iam put-user-permissions-boundary")
	assert.NotContains(t, res.stderr, "elsewhere")
}

// TestSetupNeedsOnlySetupActions runs setup (fresh, then an update that
// makes room among five versions) as an admin allowed exactly
// policy.SetupActions.
func TestSetupNeedsOnlySetupActions(t *testing.T) {
	e := iamtest.Start(t, iamtest.WithoutDefaultCaller(), iamtest.WithCaller(iamtest.Caller{
		AccessKeyID: iamtest.DefaultAccessKeyID, SecretAccessKey: iamtest.DefaultSecretAccessKey, UserName: "admin2",
		Allow: policy.SetupActions()}))
	srv := e.Local(t)
	srv.PutUser(iamtest.User{Name: "stray", Path: "/sesmtp/"})
	runSetupJSON(t, e, "--group", "ses-senders")
	for i := range 5 {
		runSetupJSON(t, e, "--group", "ses-senders", "--update", "--from-address", fmt.Sprintf("a%d@example.com", i))
	}
	runSetupJSON(t, e, "--group", "ses-senders", "--update", "--from-address", "a0@example.com")
	for _, c := range srv.Calls() {
		assert.NotEqual(t, "AccessDenied", c.Outcome, "%s is missing from policy.SetupActions", c.Action)
	}
	assert.Contains(t, actionsOf(srv.Calls()), "DeletePolicyVersion")
	assert.Contains(t, actionsOf(srv.Calls()), "SetDefaultPolicyVersion")
}

func TestSetupBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"user path without slashes", []string{"--user-path", "sesmtp"}, "--user-path"},
		{"the root user path", []string{"--user-path", "/"}, "holds every user"},
		{"bad boundary name", []string{"--boundary-name", "a b"}, "--boundary-name"},
		{"bad boundary path", []string{"--boundary-path", "x"}, "--boundary-path"},
		{"reserved tag key", []string{"--allow-tag", "sesmtp:x"}, "reserved"},
		{"bad identity ARN", []string{"--identity-arn", "example.com"}, "not an SES identity ARN"},
		{"bad group name", []string{"--group", "a/b"}, "--group"},
		{"an argument", []string{"extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := iamtest.Start(t)
			res := runCLI(t, "", setupArgs(e, tt.args...)...)
			assert.Equal(t, exitcode.Usage, res.code, res.stderr)
			assert.Contains(t, res.stderr, tt.want)
			assertCalls(t, e, "", 0, "nothing attempted")
		})
	}
}
