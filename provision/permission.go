package provision

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/policy"
)

// SES checks ses:SendRawEmail when mail is sent (MAIL FROM / DATA answer
// 554 Access denied), never at SMTP AUTH, so credentials that authenticate
// can still be useless. CheckSendPermission asks IAM's policy simulator
// instead (IAM API Reference, SimulatePrincipalPolicy): the user's identity
// policies, its groups', its permissions boundary and the account's SCPs,
// evaluated for ses:SendRawEmail with the context the caller supplies. The
// simulator fills in no context keys of its own; the keys the policies need
// but did not get are reported as MissingContextValues.

// PermissionAPI is the part of the IAM client the send-permission check
// calls, with the SDK's exact signatures, so *iam.Client satisfies it and
// the SDK's SimulatePrincipalPolicy paginator accepts it.
type PermissionAPI interface {
	iam.SimulatePrincipalPolicyAPIClient
	GetUser(ctx context.Context, in *iam.GetUserInput, opts ...func(*iam.Options)) (*iam.GetUserOutput, error)
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, opts ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}

var _ PermissionAPI = (*iam.Client)(nil)

// Decision is IAM's verdict on one simulated request (EvalDecision).
type Decision string

// The decisions SimulatePrincipalPolicy answers (PolicyEvaluationDecisionType).
const (
	DecisionAllowed      Decision = "allowed"
	DecisionImplicitDeny Decision = "implicitDeny"
	DecisionExplicitDeny Decision = "explicitDeny"
)

// Verdict is what a PermissionResult means for sending.
type Verdict string

// The verdicts of the send-permission check.
const (
	// VerdictAllowed: IAM allows ses:SendRawEmail.
	VerdictAllowed Verdict = "allowed"
	// VerdictDenied: IAM denies it; SES will answer 554 Access denied.
	VerdictDenied Verdict = "denied"
	// VerdictUndetermined: denied only for want of context keys the check
	// did not supply (e.g. ses:FromAddress): it depends on the mail.
	VerdictUndetermined Verdict = "undetermined"
)

// PermissionOptions say what sending the check simulates.
type PermissionOptions struct {
	// AccessKeyID is the key whose owner is asked from IAM
	// (iam:GetAccessKeyLastUsed) when no user name is given.
	AccessKeyID string
	// FromAddress, if set, is the ses:FromAddress context value.
	FromAddress string
	// IdentityARNs are the SES identities to simulate sending through
	// (ResourceArns); none simulates "*".
	IdentityARNs []string
	// Wait retries an implicit deny that no policy explains (nothing
	// allowed, no boundary or SCP said no) until this long has passed: IAM
	// is eventually consistent, and a policy put moments ago may not be
	// visible to the simulator yet. Other denials are final.
	Wait time.Duration
	// RetryInterval is the first pause between retries (default 2 s).
	RetryInterval time.Duration
	// Progress receives a line per retry, for stderr.
	Progress func(string)
}

// PermissionResult is IAM's answer on whether a user may send.
type PermissionResult struct {
	UserName string `json:"user_name"`
	UserARN  string `json:"user_arn"`
	// UserSource says how the user was found: "given" or
	// "iam:GetAccessKeyLastUsed".
	UserSource string `json:"user_source"`
	// AccessKeyID is the key whose user was checked, when one was given.
	AccessKeyID string `json:"access_key_id,omitempty"`
	Action      string `json:"action"`
	FromAddress string `json:"from_address,omitempty"`
	// Decision is the most restrictive decision over Resources.
	Decision Decision `json:"decision"`
	Verdict  Verdict  `json:"verdict"`
	// MissingContext are the context keys the policies needed but the
	// check did not supply, over all resources.
	MissingContext []string           `json:"missing_context,omitempty"`
	Resources      []ResourceDecision `json:"resources"`
	Attempts       int                `json:"attempts"`
}

// ResourceDecision is the decision for one simulated resource.
type ResourceDecision struct {
	Resource string   `json:"resource"`
	Decision Decision `json:"decision"`
	// Matched are the statements that decided: the allowing ones, or the
	// denying one (IAM API Reference, Statement).
	Matched        []MatchedStatement `json:"matched_statements,omitempty"`
	MissingContext []string           `json:"missing_context,omitempty"`
	// BoundaryAllows is the permissions boundary's decision, nil when the
	// user has no boundary.
	BoundaryAllows *bool `json:"permissions_boundary_allows,omitempty"`
	// OrganizationsAllow is the SCPs' decision, nil outside an organization.
	OrganizationsAllow *bool `json:"organizations_allow,omitempty"`
}

// MatchedStatement names a statement that decided (SourcePolicyId,
// SourcePolicyType, and the line where it starts when IAM says).
type MatchedStatement struct {
	PolicyID   string `json:"source_policy_id"`
	PolicyType string `json:"source_policy_type"`
	Line       int    `json:"line,omitempty"`
}

// Default pauses of the check's retries.
const (
	defaultPermissionRetry = 2 * time.Second
	maxPermissionRetry     = 30 * time.Second
)

// UserSourceLookup marks a user found by asking IAM who owns the key.
const UserSourceLookup = "iam:GetAccessKeyLastUsed"

// CheckSendPermission asks IAM whether user (or, if "", the owner of
// opts.AccessKeyID) may call ses:SendRawEmail, as SES will ask when mail
// is sent. An implicit deny nothing explains is retried within opts.Wait. A denied verdict
// is a result, not an error: Err turns it into one.
func CheckSendPermission(ctx context.Context, c PermissionAPI, user string, opts PermissionOptions) (PermissionResult, error) {
	res := PermissionResult{UserName: user, UserSource: "given", AccessKeyID: opts.AccessKeyID, Action: policy.SendAction,
		FromAddress: opts.FromAddress}
	if user == "" {
		owner, err := keyOwner(ctx, c, opts.AccessKeyID)
		if err != nil {
			return res, err
		}
		res.UserName, res.UserSource = owner, UserSourceLookup
	}
	arn, err := userARN(ctx, c, res.UserName)
	if err != nil {
		return res, err
	}
	res.UserARN = arn
	return simulateUntil(ctx, c, res, opts)
}

// keyOwner asks IAM which user owns the access key. IAM answers
// AccessDenied both for a caller without iam:GetAccessKeyLastUsed and for a
// key it does not know (of another account, or deleted).
func keyOwner(ctx context.Context, c PermissionAPI, keyID string) (string, error) {
	if keyID == "" {
		return "", errors.New("no IAM user and no access key id to find it by")
	}
	out, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(keyID)})
	if err != nil {
		e := awsError("GetAccessKeyLastUsed", "of key "+keyID, err)
		var ae *APIError
		if errors.As(e, &ae) && IsAccessDenied(e) {
			ae.Hint += "; IAM also answers AccessDenied for a key it does not know (deleted, or of another account)"
		}
		return "", e
	}
	if aws.ToString(out.UserName) == "" {
		return "", fmt.Errorf("iam:GetAccessKeyLastUsed of key %s answered without UserName", keyID)
	}
	return aws.ToString(out.UserName), nil
}

// userARN returns the user's ARN, the PolicySourceArn of the simulation.
func userARN(ctx context.Context, c PermissionAPI, user string) (string, error) {
	out, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(user)})
	if err != nil {
		return "", awsError("GetUser", fmt.Sprintf("%q", user), err)
	}
	if out.User == nil || aws.ToString(out.User.Arn) == "" {
		return "", fmt.Errorf("iam:GetUser %q answered without the user's ARN", user)
	}
	return aws.ToString(out.User.Arn), nil
}

// simulateUntil simulates, retrying an implicit deny until opts.Wait has
// passed, the pause doubling with jitter and the last one shortened to end
// at the deadline, where one last attempt is made.
func simulateUntil(ctx context.Context, c PermissionAPI, res PermissionResult, opts PermissionOptions) (PermissionResult, error) {
	interval := opts.RetryInterval
	if interval <= 0 {
		interval = defaultPermissionRetry
	}
	deadline := time.Now().Add(opts.Wait)
	for attempt := 1; ; attempt++ {
		out, err := simulateSend(ctx, c, res, opts)
		out.Attempts = attempt
		left := time.Until(deadline)
		if err != nil || !out.mayBePropagating() || left <= 0 {
			return out, err
		}
		pause := min(interval/2+rand.N(interval/2+1), left)
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf("attempt %d: IAM says implicitDeny; a policy changed moments ago may not have reached the simulator yet: "+
				"retrying in %s (giving up in %s)", attempt, pause.Round(time.Millisecond), left.Round(time.Second)))
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(pause):
		}
		interval = min(2*interval, maxPermissionRetry)
	}
}

// mayBePropagating reports whether a denial looks like a policy IAM has
// not propagated yet: an implicit deny where no statement allowed and
// neither the boundary nor the SCPs said no. A denial they explain, or an
// explicit one, does not change with waiting.
func (r PermissionResult) mayBePropagating() bool {
	if r.Verdict != VerdictDenied || r.Decision != DecisionImplicitDeny {
		return false
	}
	for _, d := range r.denied() {
		if len(d.Matched) > 0 || (d.BoundaryAllows != nil && !*d.BoundaryAllows) || (d.OrganizationsAllow != nil && !*d.OrganizationsAllow) {
			return false
		}
	}
	return true
}

// simulateSend runs one simulation of ses:SendRawEmail for res's user.
func simulateSend(ctx context.Context, c PermissionAPI, res PermissionResult, opts PermissionOptions) (PermissionResult, error) {
	in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(res.UserARN), ActionNames: []string{res.Action},
		ResourceArns: opts.IdentityARNs}
	if opts.FromAddress != "" {
		in.ContextEntries = []types.ContextEntry{{ContextKeyName: aws.String("ses:FromAddress"),
			ContextKeyType: types.ContextKeyTypeEnumString, ContextKeyValues: []string{opts.FromAddress}}}
	}
	res.Resources, res.MissingContext = nil, nil
	p := iam.NewSimulatePrincipalPolicyPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return res, awsError("SimulatePrincipalPolicy", "for "+res.UserARN, err)
		}
		for _, r := range page.EvaluationResults {
			decisions, err := resourceDecisions(r)
			if err != nil {
				return res, err
			}
			res.Resources = append(res.Resources, decisions...)
		}
	}
	if len(res.Resources) == 0 {
		return res, errors.New("iam:SimulatePrincipalPolicy answered no evaluation result for " + res.Action)
	}
	res.Decision, res.Verdict, res.MissingContext = summarize(res.Resources)
	return res, nil
}

// resourceDecisions reads one EvaluationResult. With ResourceArns, IAM
// gives each resource's decision in ResourceSpecificResults (and the
// missing context keys only there); with "*", the result itself is the
// decision (IAM API Reference, EvaluationResult and ResourceSpecificResult).
// Both shapes are read; a result without a decision is an error.
func resourceDecisions(r types.EvaluationResult) ([]ResourceDecision, error) {
	if len(r.ResourceSpecificResults) == 0 {
		d := ResourceDecision{Resource: aws.ToString(r.EvalResourceName), Decision: Decision(r.EvalDecision),
			Matched: matched(r.MatchedStatements), MissingContext: r.MissingContextValues}
		if b := r.PermissionsBoundaryDecisionDetail; b != nil {
			d.BoundaryAllows = aws.Bool(b.AllowedByPermissionsBoundary)
		}
		if o := r.OrganizationsDecisionDetail; o != nil {
			d.OrganizationsAllow = aws.Bool(o.AllowedByOrganizations)
		}
		return []ResourceDecision{d}, checkDecision(d)
	}
	var out []ResourceDecision
	for _, rs := range r.ResourceSpecificResults {
		d := ResourceDecision{Resource: aws.ToString(rs.EvalResourceName), Decision: Decision(rs.EvalResourceDecision),
			Matched: matched(rs.MatchedStatements), MissingContext: rs.MissingContextValues}
		if b := rs.PermissionsBoundaryDecisionDetail; b != nil {
			d.BoundaryAllows = aws.Bool(b.AllowedByPermissionsBoundary)
		}
		if o := r.OrganizationsDecisionDetail; o != nil {
			d.OrganizationsAllow = aws.Bool(o.AllowedByOrganizations)
		}
		if err := checkDecision(d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// checkDecision refuses a decision IAM does not document.
func checkDecision(d ResourceDecision) error {
	switch d.Decision {
	case DecisionAllowed, DecisionImplicitDeny, DecisionExplicitDeny:
		return nil
	case "":
		return fmt.Errorf("iam:SimulatePrincipalPolicy answered without a decision for resource %q", d.Resource)
	}
	return fmt.Errorf("iam:SimulatePrincipalPolicy answered an unknown decision %q for resource %q", d.Decision, d.Resource)
}

func matched(sts []types.Statement) []MatchedStatement {
	var out []MatchedStatement
	for _, s := range sts {
		m := MatchedStatement{PolicyID: aws.ToString(s.SourcePolicyId), PolicyType: string(s.SourcePolicyType)}
		if s.StartPosition != nil {
			m.Line = int(s.StartPosition.Line)
		}
		out = append(out, m)
	}
	return out
}

// summarize returns the most restrictive decision, the verdict and the
// missing context keys over all resources. An implicit deny is
// undetermined when every denied resource lacked context keys: with them,
// the answer may differ (a policy narrowed to From addresses denies a
// simulation without ses:FromAddress).
func summarize(ds []ResourceDecision) (Decision, Verdict, []string) {
	decision, verdict := DecisionAllowed, VerdictAllowed
	var missing []string
	for _, d := range ds {
		missing = append(missing, d.MissingContext...)
		switch {
		case d.Decision == DecisionExplicitDeny:
			decision, verdict = DecisionExplicitDeny, VerdictDenied
		case d.Decision == DecisionImplicitDeny && decision != DecisionExplicitDeny:
			decision = DecisionImplicitDeny
			if len(d.MissingContext) > 0 && verdict != VerdictDenied {
				verdict = VerdictUndetermined
			} else {
				verdict = VerdictDenied
			}
		}
	}
	slices.Sort(missing)
	return decision, verdict, slices.Compact(missing)
}

// IsAccessDenied reports whether err is IAM refusing the AWS identity
// running sesmtp a call (AccessDenied): the check could not run, which
// says nothing about the credentials checked.
func IsAccessDenied(err error) bool {
	var e *APIError
	return errors.As(err, &e) && strings.HasPrefix(e.Code, "AccessDenied")
}
