package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
)

// GroupReader reads what a group grants and what a managed policy says,
// with the SDK's exact signatures (IAMAPI embeds it).
type GroupReader interface {
	iam.ListGroupPoliciesAPIClient
	iam.ListAttachedGroupPoliciesAPIClient
	GetGroup(ctx context.Context, in *iam.GetGroupInput, opts ...func(*iam.Options)) (*iam.GetGroupOutput, error)
	GetGroupPolicy(ctx context.Context, in *iam.GetGroupPolicyInput, opts ...func(*iam.Options)) (*iam.GetGroupPolicyOutput, error)
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, opts ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, opts ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
}

// GroupPolicy is one policy that applies to a group's members.
type GroupPolicy struct {
	// Name is the inline policy's name, or the managed policy's.
	Name string `json:"name"`
	// ARN is set for a managed policy attached to the group.
	ARN string `json:"arn,omitempty"`
	// Document is the policy document (a managed policy's default version).
	Document string `json:"document"`
}

// Kind says "inline policy" or "managed policy".
func (p GroupPolicy) Kind() string {
	if p.ARN != "" {
		return "managed policy"
	}
	return "inline policy"
}

// GroupInfo is what a group grants its members.
type GroupInfo struct {
	// Name is the group's name as IAM spells it (GetGroup's answer) if it
	// exists, else as asked: IAM does not tell names apart by case
	// (CreateGroup API reference, GroupName), but ARNs in policies match
	// case-sensitively ("IAM JSON policy elements: Resource").
	Name string `json:"name"`
	// ARN is the existing group's ARN, its path included.
	ARN      string        `json:"arn,omitempty"`
	Exists   bool          `json:"exists"`
	Policies []GroupPolicy `json:"policies,omitempty"`
	// HasMembers says at least one user is in the group.
	HasMembers bool `json:"-"`
}

// BeyondSending lists, per policy, what the group allows beyond SES
// sending, e.g. `inline policy "admin" allows "iam:*"`. Empty: its
// members can at most send through SES.
func (g GroupInfo) BeyondSending() []string {
	var found []string
	for _, p := range g.Policies {
		var d policy.Document
		if err := json.Unmarshal([]byte(p.Document), &d); err != nil {
			found = append(found, fmt.Sprintf("%s %q cannot be read as a policy document", p.Kind(), p.Name))
			continue
		}
		for _, what := range d.BeyondSending() {
			found = append(found, fmt.Sprintf("%s %q allows %s", p.Kind(), p.Name, what))
		}
	}
	return found
}

// ReadGroup reads group's inline policies and the default versions of
// its attached managed policies. A group that does not exist is a
// GroupInfo with Exists false, not an error.
func ReadGroup(ctx context.Context, c GroupReader, group string) (GroupInfo, error) {
	info := GroupInfo{Name: group}
	g, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String(group), MaxItems: aws.Int32(1)})
	if isNoSuchEntity(err) {
		return info, nil
	}
	if err != nil {
		return info, awsError("GetGroup", fmt.Sprintf("%q", group), err)
	}
	if g.Group == nil || aws.ToString(g.Group.GroupName) == "" || aws.ToString(g.Group.Arn) == "" {
		return info, fmt.Errorf("iam:GetGroup %q: IAM's answer names no group", group)
	}
	info.Name, info.ARN = aws.ToString(g.Group.GroupName), aws.ToString(g.Group.Arn)
	info.Exists, info.HasMembers = true, len(g.Users) > 0
	info.Policies, err = groupPolicies(ctx, c, group)
	return info, err
}

// groupPolicies reads group's inline policies and the default versions of
// its attached managed policies: everything the group grants its members.
func groupPolicies(ctx context.Context, c GroupReader, group string) ([]GroupPolicy, error) {
	inline, err := inlineGroupPolicies(ctx, c, group)
	if err != nil {
		return nil, err
	}
	managed, err := attachedGroupPolicies(ctx, c, group)
	return append(inline, managed...), err
}

func inlineGroupPolicies(ctx context.Context, c GroupReader, group string) ([]GroupPolicy, error) {
	var out []GroupPolicy
	p := iam.NewListGroupPoliciesPaginator(c, &iam.ListGroupPoliciesInput{GroupName: aws.String(group)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, awsError("ListGroupPolicies", fmt.Sprintf("of group %q", group), err)
		}
		for _, name := range page.PolicyNames {
			got, err := c.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: aws.String(group), PolicyName: aws.String(name)})
			if err != nil {
				return nil, awsError("GetGroupPolicy", fmt.Sprintf("%q of group %q", name, group), err)
			}
			doc, err := decodePolicy(aws.ToString(got.PolicyDocument))
			if err != nil {
				return nil, err
			}
			out = append(out, GroupPolicy{Name: name, Document: doc})
		}
	}
	return out, nil
}

func attachedGroupPolicies(ctx context.Context, c GroupReader, group string) ([]GroupPolicy, error) {
	var out []GroupPolicy
	p := iam.NewListAttachedGroupPoliciesPaginator(c, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String(group)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, awsError("ListAttachedGroupPolicies", fmt.Sprintf("of group %q", group), err)
		}
		for _, ap := range page.AttachedPolicies {
			arn := aws.ToString(ap.PolicyArn)
			doc, err := DefaultPolicyDocument(ctx, c, arn)
			if err != nil {
				return nil, err
			}
			out = append(out, GroupPolicy{Name: aws.ToString(ap.PolicyName), ARN: arn, Document: doc})
		}
	}
	return out, nil
}

// DefaultPolicyDocument returns the document of a managed policy's
// default version (GetPolicy, then GetPolicyVersion), decoded.
func DefaultPolicyDocument(ctx context.Context, c GroupReader, arn string) (string, error) {
	p, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return "", awsError("GetPolicy", arn, err)
	}
	if p.Policy == nil || p.Policy.DefaultVersionId == nil {
		return "", fmt.Errorf("iam:GetPolicy %s: IAM's answer names no default version", arn)
	}
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		return "", awsError("GetPolicyVersion", fmt.Sprintf("%s of %s", aws.ToString(p.Policy.DefaultVersionId), arn), err)
	}
	if v.PolicyVersion == nil || v.PolicyVersion.Document == nil {
		return "", fmt.Errorf("iam:GetPolicyVersion %s: IAM's answer holds no document", arn)
	}
	return decodePolicy(aws.ToString(v.PolicyVersion.Document))
}

// GroupCheck says how CheckGroup treats a group.
type GroupCheck struct {
	// AllowAny lets users join a group that allows more than SES sending
	// (--allow-any-group); Warn is then told what it allows.
	AllowAny bool
	// Bounded says a permissions boundary is configured: sesmtp then never
	// creates a missing group (an admin does, with sesmtp setup).
	Bounded bool
	// Warn, if set, receives warnings.
	Warn func(string)
}

// CheckGroup reads group and refuses, before anything changes, a group
// that allows more than SES sending (unless AllowAny) and, with a
// boundary configured, a group that does not exist.
func CheckGroup(ctx context.Context, c GroupReader, group string, check GroupCheck) (GroupInfo, error) {
	info, err := ReadGroup(ctx, c, group)
	if err != nil {
		return info, err
	}
	if !info.Exists {
		if check.Bounded {
			return info, &GroupMissingError{Group: group}
		}
		return info, nil
	}
	found := info.BeyondSending()
	switch {
	case len(found) > 0 && !check.AllowAny:
		return info, &GroupTooWideError{Group: group, Found: found}
	case len(found) > 0 && check.Warn != nil:
		check.Warn(fmt.Sprintf("group %q allows more than SES sending (%s); its members get all of that (--allow-any-group)",
			group, strings.Join(found, "; ")))
	}
	return info, nil
}

// GroupTooWideError refuses to put a user in a group that allows more
// than SES sending: sesmtp never widens access by itself.
type GroupTooWideError struct {
	Group string
	Found []string
}

func (e *GroupTooWideError) Error() string {
	return fmt.Sprintf("group %q allows more than SES sending: %s. sesmtp puts SMTP users only in groups that allow SES sending "+
		"and nothing else; nothing was changed. Use a sending group (an admin makes one with 'sesmtp setup --group NAME'), "+
		"leave out --group to give the user its own inline policy, or pass --allow-any-group if the user really must have all of that",
		e.Group, strings.Join(e.Found, "; "))
}

// ExitCode implements exitcode.Coder: bad input, nothing changed.
func (e *GroupTooWideError) ExitCode() int { return exitcode.Usage }

// GroupMissingError refuses to create a group when a permissions boundary
// is configured: groups are an admin's to make.
type GroupMissingError struct {
	Group string
}

func (e *GroupMissingError) Error() string {
	return fmt.Sprintf("group %q does not exist; nothing was changed. With a permissions boundary configured, sesmtp does not create "+
		"groups (the bounded operator policy cannot): an admin creates the sending group once with 'sesmtp setup --group %s', "+
		"or leave out --group to give the user its own inline policy", e.Group, e.Group)
}

// ExitCode implements exitcode.Coder.
func (e *GroupMissingError) ExitCode() int { return exitcode.Usage }

// ErrGroupWithSenderRestriction refuses --from-address or --identity-arn
// together with a group.
var ErrGroupWithSenderRestriction = exitcode.UsageError(errors.New("from addresses and identity ARNs (--from-address, " +
	"--identity-arn, or a manifest's from_address and identity_arn) do not go with a group (--group or a manifest's group): " +
	"a group's policy is shared by every member, so one sender's restriction would narrow them all, and on an existing " +
	"group it would not apply at all. Leave out the group to give this sender its own narrowed inline policy, or have an " +
	"admin narrow the whole group ('sesmtp setup --group NAME --from-address ...'); nothing was changed"))

// isNarrowed reports whether doc is anything but the plain sender policy.
func isNarrowed(doc policy.Document) bool {
	plain, _ := policy.Sender(policy.SenderOptions{})
	return doc.JSON() != plain.JSON()
}

// CheckBoundary makes sure the managed policy a user is to get as its
// permissions boundary exists, before anything changes: IAM's CreateUser
// would answer NoSuchEntity only after, say, recreate deleted the user.
func CheckBoundary(ctx context.Context, c GroupReader, arn string) error {
	if arn == "" {
		return nil
	}
	if err := CheckPolicyARN("permissions boundary", arn); err != nil {
		return err
	}
	p, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if isNoSuchEntity(err) {
		return exitcode.UsageError(fmt.Errorf("the permissions boundary %s does not exist (IAM answers NoSuchEntity); nothing was changed. "+
			"Check --permissions-boundary (or %s, or the profile's %s), or have an admin create it with 'sesmtp setup'",
			arn, EnvPermissionsBoundary, ConfigPermissionsBoundary))
	}
	if err != nil {
		return beforeChange(awsError("GetPolicy", arn, err))
	}
	return beforeChange(checkBoundaryDocument(ctx, c, arn, p))
}

// Where sesmtp reads the permissions boundary from when --permissions-boundary
// is not given.
const (
	// EnvPermissionsBoundary is the environment variable.
	EnvPermissionsBoundary = "SESMTP_PERMISSIONS_BOUNDARY"
	// ConfigPermissionsBoundary is the key in the profile's section of ~/.aws/config.
	ConfigPermissionsBoundary = "sesmtp_permissions_boundary"
)

// checkGroup checks, before the user exists, the group it is to join (see
// CheckGroup). An existing group is ready: only a missing one is created,
// with the sending policy.
func (r *createRun) checkGroup(ctx context.Context) error {
	if r.in.Group == "" || r.in.GroupReady || r.in.Restore != nil {
		return nil
	}
	info, err := CheckGroup(ctx, r.c, r.in.Group, GroupCheck{AllowAny: r.in.AllowAnyGroup,
		Bounded: r.in.PermissionsBoundary != "", Warn: r.in.Warn})
	if err != nil || !info.Exists {
		return err
	}
	r.in.GroupReady, r.res.GroupPolicies = true, info.Policies
	return nil
}

// CheckGroups runs CheckGroup on each group, stopping at the first
// problem; a permission problem is bad input (exit 2), as nothing changed.
func CheckGroups(ctx context.Context, c GroupReader, groups []string, check GroupCheck) error {
	for _, g := range groups {
		if _, err := CheckGroup(ctx, c, g, check); err != nil {
			return beforeChange(err)
		}
	}
	return nil
}
