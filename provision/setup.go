package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
)

// SetupAPI is the part of the IAM client Setup calls, with the SDK's exact
// signatures.
type SetupAPI interface {
	GroupReader
	iam.ListPoliciesAPIClient
	iam.ListPolicyVersionsAPIClient
	iam.ListUsersAPIClient
	GetUser(ctx context.Context, in *iam.GetUserInput, opts ...func(*iam.Options)) (*iam.GetUserOutput, error)
	CreatePolicy(ctx context.Context, in *iam.CreatePolicyInput, opts ...func(*iam.Options)) (*iam.CreatePolicyOutput, error)
	CreatePolicyVersion(ctx context.Context, in *iam.CreatePolicyVersionInput, opts ...func(*iam.Options)) (*iam.CreatePolicyVersionOutput, error)
	DeletePolicyVersion(ctx context.Context, in *iam.DeletePolicyVersionInput, opts ...func(*iam.Options)) (*iam.DeletePolicyVersionOutput, error)
	SetDefaultPolicyVersion(ctx context.Context, in *iam.SetDefaultPolicyVersionInput, opts ...func(*iam.Options)) (*iam.SetDefaultPolicyVersionOutput, error)
	CreateGroup(ctx context.Context, in *iam.CreateGroupInput, opts ...func(*iam.Options)) (*iam.CreateGroupOutput, error)
	PutGroupPolicy(ctx context.Context, in *iam.PutGroupPolicyInput, opts ...func(*iam.Options)) (*iam.PutGroupPolicyOutput, error)
}

var _ SetupAPI = (*iam.Client)(nil)

// SetupInput is what Setup needs. Empty names and paths take the defaults.
type SetupInput struct {
	// BoundaryName and BoundaryPath name the boundary policy
	// (policy.DefaultBoundaryName, policy.DefaultBoundaryPath).
	BoundaryName, BoundaryPath string
	// Sender narrows the boundary (and the group's policy) to From
	// addresses or SES identities, for every SMTP user of the account.
	Sender policy.SenderOptions
	// Group, if set, is the sending group to make; GroupPolicyName names
	// its inline policy (DefaultPolicyName).
	Group, GroupPolicyName string
	// UserPath and TagKeys go into the operator policy (see
	// policy.BoundedOptions).
	UserPath string
	TagKeys  []string
	// Update replaces a boundary (or the group's sesmtp policy) whose
	// document differs, instead of refusing.
	Update bool
	// DryRun reads what exists and changes nothing.
	DryRun bool
	// Progress, if set, is told each step, one line each.
	Progress func(string)
}

// SetupResult says what Setup found and did. Plan lists, in a dry run,
// what it would change.
type SetupResult struct {
	DryRun bool `json:"dry_run,omitempty"`
	// BoundaryARN is "" only in a dry run before the policy exists.
	BoundaryARN     string `json:"boundary_arn,omitempty"`
	BoundaryStatus  string `json:"boundary_status"`
	BoundaryVersion string `json:"boundary_version,omitempty"`
	// Group is the sending group's name as IAM spells it once it exists
	// (the operator policy names it so: ARNs match case-sensitively),
	// and GroupARN its ARN.
	Group       string `json:"group,omitempty"`
	GroupARN    string `json:"group_arn,omitempty"`
	GroupStatus string `json:"group_status,omitempty"`
	UserPath    string `json:"user_path"`
	// UnboundedUsers are users under UserPath without the boundary: the
	// operator policy lets its holders create keys for those with
	// sesmtp's tag, so none should be there.
	UnboundedUsers []string         `json:"unbounded_users_under_path,omitempty"`
	Plan           []string         `json:"plan,omitempty"`
	OperatorPolicy *policy.Document `json:"operator_policy,omitempty"`
}

// boundaryDescription is the boundary policy's description in IAM.
const boundaryDescription = "Permissions boundary of SES SMTP users made by sesmtp: SES sending only. Created by sesmtp setup."

// Setup makes an account ready for bounded operators, once, as an admin:
// the SES-only boundary as a customer managed policy and, with in.Group,
// the sending group; it returns the operator policy that goes with them.
// It is idempotent: run again (after a crash, say), it finds what exists,
// checks it, and does only what is missing. It never widens anything: an
// existing boundary or group policy with another document is replaced
// only with in.Update, and a group that allows more than SES sending is
// refused.
func Setup(ctx context.Context, c SetupAPI, in SetupInput) (SetupResult, error) {
	if err := in.Validate(); err != nil {
		return SetupResult{}, err
	}
	bounded := policy.BoundedOptions{UserPath: in.UserPath, Group: in.Group, TagKeys: in.TagKeys}
	doc, err := policy.Boundary(in.Sender)
	if err != nil {
		return SetupResult{}, exitcode.UsageError(err)
	}
	s := &setupRun{c: c, in: in, doc: doc, res: SetupResult{DryRun: in.DryRun, Group: in.Group, UserPath: in.UserPath}}
	for _, step := range []func(context.Context) error{s.boundary, s.group, s.unboundedUsers} {
		if err := step(ctx); err != nil {
			if !s.attempted {
				err = beforeChange(err) // a permission problem before any change is bad input
			}
			return s.res, err
		}
	}
	if s.res.BoundaryARN != "" {
		bounded.BoundaryARN, bounded.Group = s.res.BoundaryARN, s.res.Group
		op, err := policy.OperatorWithBoundary(bounded)
		if err != nil {
			return s.res, err
		}
		s.res.OperatorPolicy = &op
	}
	return s.res, nil
}

func (in *SetupInput) defaults() {
	if in.BoundaryName == "" {
		in.BoundaryName = policy.DefaultBoundaryName
	}
	if in.BoundaryPath == "" {
		in.BoundaryPath = policy.DefaultBoundaryPath
	}
	if in.UserPath == "" {
		in.UserPath = policy.DefaultUserPath
	}
	if in.GroupPolicyName == "" {
		in.GroupPolicyName = DefaultPolicyName
	}
}

// Validate fills in the defaults and checks every name, path, tag key
// and sender restriction before any IAM call (exit 2), partly by building
// the operator policy for a boundary of that name.
func (in *SetupInput) Validate() error {
	in.defaults()
	if err := in.validate(); err != nil {
		return exitcode.UsageError(err)
	}
	return nil
}

func (in *SetupInput) validate() error {
	if err := policy.CheckName("boundary policy name", in.BoundaryName, MaxPolicyNameLen); err != nil {
		return fmt.Errorf("--boundary-name: %w", err)
	}
	if err := policy.CheckPath(in.BoundaryPath); err != nil {
		return fmt.Errorf("--boundary-path: %w", err)
	}
	if err := policy.CheckLiteralPath("--boundary-path", in.BoundaryPath); err != nil {
		return err
	}
	if err := policy.CheckName("policy name", in.GroupPolicyName, MaxPolicyNameLen); err != nil {
		return fmt.Errorf("--policy-name: %w", err)
	}
	if _, err := policy.Boundary(in.Sender); err != nil {
		return err
	}
	_, err := policy.OperatorWithBoundary(policy.BoundedOptions{UserPath: in.UserPath, Group: in.Group, TagKeys: in.TagKeys,
		BoundaryARN: "arn:aws:iam::000000000000:policy" + in.BoundaryPath + in.BoundaryName})
	return err
}

// setupRun is one Setup in progress.
type setupRun struct {
	c   SetupAPI
	in  SetupInput
	doc policy.Document
	res SetupResult
	// attempted: a call that changes IAM was made.
	attempted bool
}

func (s *setupRun) progress(format string, args ...any) {
	if s.in.Progress != nil {
		s.in.Progress(fmt.Sprintf(format, args...))
	}
}

// change runs do and reports done, or in a dry run adds plan to the plan.
func (s *setupRun) change(plan, done string, do func() error) error {
	if s.in.DryRun {
		s.res.Plan = append(s.res.Plan, plan)
		return nil
	}
	s.attempted = true
	if err := do(); err != nil {
		return err
	}
	s.progress("%s", done)
	return nil
}

// boundary finds the boundary policy by name under its path, creates it if
// missing and checks (or, with Update, brings up to date) its document.
func (s *setupRun) boundary(ctx context.Context) error {
	arn, err := s.findPolicy(ctx)
	if err != nil {
		return err
	}
	if arn != "" {
		s.res.BoundaryARN = arn
		return s.checkBoundary(ctx, arn)
	}
	what := fmt.Sprintf("iam:CreatePolicy PolicyName=%s Path=%s PolicyDocument=%s", s.in.BoundaryName, s.in.BoundaryPath, s.doc.JSON())
	s.res.BoundaryStatus = "created"
	if s.in.DryRun {
		s.res.BoundaryStatus = "to be created"
	}
	return s.change(what, "created the boundary policy "+s.in.BoundaryPath+s.in.BoundaryName, func() error {
		out, err := s.c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(s.in.BoundaryName),
			Path: aws.String(s.in.BoundaryPath), PolicyDocument: aws.String(s.doc.JSON()), Description: aws.String(boundaryDescription)})
		if err == nil && out.Policy != nil && out.Policy.Arn != nil {
			s.res.BoundaryARN, s.res.BoundaryVersion = aws.ToString(out.Policy.Arn), aws.ToString(out.Policy.DefaultVersionId)
			return nil
		}
		// Made by a retried call whose answer was lost, or by another
		// setup meanwhile: carry on with it if it is ours.
		arn, ferr := s.findPolicy(ctx)
		if ferr != nil || arn == "" {
			return s.createPolicyError(ctx, err, ferr)
		}
		s.res.BoundaryARN = arn
		return s.checkBoundary(ctx, arn)
	})
}

// createPolicyError explains a CreatePolicy that failed and left no
// policy under the boundary's path.
func (s *setupRun) createPolicyError(ctx context.Context, err, findErr error) error {
	var exists *types.EntityAlreadyExistsException
	if errors.As(err, &exists) && findErr == nil {
		// IAM policy names are unique in the account, whatever the path.
		elsewhere, _ := s.findPolicyAnywhere(ctx)
		return exitcode.UsageError(fmt.Errorf("a policy named %s already exists elsewhere (%s); nothing was changed. "+
			"Choose another --boundary-name, or pass --boundary-path with that policy's path if it is sesmtp's boundary",
			s.in.BoundaryName, elsewhere))
	}
	if err == nil {
		err = errors.New("IAM's answer names no policy ARN")
	}
	return errors.Join(awsError("CreatePolicy", s.in.BoundaryName, err), findErr)
}

// findPolicy returns the ARN of the customer managed policy named
// BoundaryName under BoundaryPath exactly, "" if there is none.
func (s *setupRun) findPolicy(ctx context.Context) (string, error) {
	return s.listPolicies(ctx, s.in.BoundaryPath, func(p types.Policy) bool { return aws.ToString(p.Path) == s.in.BoundaryPath })
}

func (s *setupRun) findPolicyAnywhere(ctx context.Context) (string, error) {
	return s.listPolicies(ctx, "/", func(types.Policy) bool { return true })
}

func (s *setupRun) listPolicies(ctx context.Context, prefix string, keep func(types.Policy) bool) (string, error) {
	p := iam.NewListPoliciesPaginator(s.c, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal, PathPrefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", awsError("ListPolicies", "", err)
		}
		for _, pol := range page.Policies {
			if strings.EqualFold(aws.ToString(pol.PolicyName), s.in.BoundaryName) && keep(pol) {
				return aws.ToString(pol.Arn), nil
			}
		}
	}
	return "", nil
}

// checkBoundary compares an existing boundary's default version with the
// document wanted.
func (s *setupRun) checkBoundary(ctx context.Context, arn string) error {
	if arn == "" {
		return nil
	}
	current, err := DefaultPolicyDocument(ctx, s.c, arn)
	if err != nil {
		return err
	}
	if sameDocument(current, s.doc) {
		if s.res.BoundaryStatus == "" {
			s.res.BoundaryStatus = "unchanged"
		}
		s.progress("boundary %s: up to date", arn)
		return nil
	}
	if !s.in.Update {
		return &DocumentDiffersError{What: "the boundary policy " + arn, Current: current, Wanted: s.doc,
			Fix: "run again with --update to make this its new default version (IAM keeps five versions; " +
				"sesmtp deletes the oldest non-default one to make room), or give setup the same --from-address and --identity-arn as before"}
	}
	s.res.BoundaryStatus = "updated"
	if s.in.DryRun {
		s.res.BoundaryStatus = "to be updated"
	}
	return s.change("iam:CreatePolicyVersion PolicyArn="+arn+" SetAsDefault=true PolicyDocument="+s.doc.JSON(),
		"updated the boundary policy "+arn, func() error {
			return s.updateBoundary(ctx, arn)
		})
}

// updateBoundary makes the wanted document the boundary's default
// version: an older version that holds it becomes the default again, or a
// new version is added, after deleting the oldest non-default version if
// IAM's five are taken.
func (s *setupRun) updateBoundary(ctx context.Context, arn string) error {
	versions, err := s.versions(ctx, arn)
	if err != nil {
		return err
	}
	for _, v := range versions {
		if v.IsDefaultVersion {
			continue
		}
		doc, err := s.versionDocument(ctx, arn, aws.ToString(v.VersionId))
		if err != nil {
			return err
		}
		if sameDocument(doc, s.doc) {
			_, err := s.c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: v.VersionId})
			s.res.BoundaryVersion = aws.ToString(v.VersionId)
			return awsError("SetDefaultPolicyVersion", arn, err)
		}
	}
	if err := s.makeRoom(ctx, arn, versions); err != nil {
		return err
	}
	out, err := s.c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn),
		PolicyDocument: aws.String(s.doc.JSON()), SetAsDefault: true})
	if err == nil && out.PolicyVersion != nil {
		s.res.BoundaryVersion = aws.ToString(out.PolicyVersion.VersionId)
		return nil
	}
	// A retried call whose first answer was lost may have done it.
	if current, cerr := DefaultPolicyDocument(ctx, s.c, arn); cerr == nil && sameDocument(current, s.doc) {
		return nil
	}
	if err == nil {
		err = errors.New("IAM's answer names no version")
	}
	return awsError("CreatePolicyVersion", arn, err)
}

// maxPolicyVersions is how many versions IAM keeps of a managed policy
// ("IAM and AWS STS quotas").
const maxPolicyVersions = 5

// makeRoom deletes the oldest non-default version when all five are taken.
func (s *setupRun) makeRoom(ctx context.Context, arn string, versions []types.PolicyVersion) error {
	if len(versions) < maxPolicyVersions {
		return nil
	}
	var oldest *types.PolicyVersion
	for i, v := range versions {
		if !v.IsDefaultVersion && (oldest == nil || olderVersion(v, *oldest)) {
			oldest = &versions[i]
		}
	}
	if oldest == nil {
		return nil
	}
	_, err := s.c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: oldest.VersionId})
	if err != nil && !isNoSuchEntity(err) {
		return awsError("DeletePolicyVersion", aws.ToString(oldest.VersionId)+" of "+arn, err)
	}
	s.progress("deleted version %s of %s to make room (IAM keeps %d)", aws.ToString(oldest.VersionId), arn, maxPolicyVersions)
	return nil
}

// olderVersion reports whether a was created before b. CreateDate has
// whole seconds, so versions made within one second tie: IAM numbers
// versions in order (v1, v2, ...; PolicyVersion's VersionId), which
// breaks the tie.
func olderVersion(a, b types.PolicyVersion) bool {
	ta, tb := aws.ToTime(a.CreateDate), aws.ToTime(b.CreateDate)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	na, errA := strconv.Atoi(strings.TrimPrefix(aws.ToString(a.VersionId), "v"))
	nb, errB := strconv.Atoi(strings.TrimPrefix(aws.ToString(b.VersionId), "v"))
	return errA == nil && errB == nil && na < nb
}

func (s *setupRun) versions(ctx context.Context, arn string) ([]types.PolicyVersion, error) {
	var all []types.PolicyVersion
	p := iam.NewListPolicyVersionsPaginator(s.c, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, awsError("ListPolicyVersions", arn, err)
		}
		all = append(all, page.Versions...)
	}
	return all, nil
}

func (s *setupRun) versionDocument(ctx context.Context, arn, id string) (string, error) {
	v, err := s.c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(id)})
	if err != nil {
		return "", awsError("GetPolicyVersion", id+" of "+arn, err)
	}
	if v.PolicyVersion == nil || v.PolicyVersion.Document == nil {
		return "", fmt.Errorf("iam:GetPolicyVersion %s of %s: IAM's answer holds no document", id, arn)
	}
	return decodePolicy(aws.ToString(v.PolicyVersion.Document))
}

// sameDocument reports whether the stored document says what want says,
// read the way IAM reads it (a single statement or a list, a single value
// or a list).
func sameDocument(stored string, want policy.Document) bool {
	var d policy.Document
	if err := json.Unmarshal([]byte(stored), &d); err != nil {
		return false
	}
	return d.JSON() == want.JSON()
}

// DocumentDiffersError refuses to replace a policy document that is not
// the one setup would write.
type DocumentDiffersError struct {
	What    string
	Current string
	Wanted  policy.Document
	Fix     string
}

func (e *DocumentDiffersError) Error() string {
	current := e.Current
	var d policy.Document
	if json.Unmarshal([]byte(current), &d) == nil {
		current = d.Indented()
	}
	return fmt.Sprintf("%s exists with another document; nothing was changed.\nIt is now:\n%s\nsesmtp setup would make it:\n%s\nTo go on, %s",
		e.What, strings.TrimSpace(current), strings.TrimSpace(e.Wanted.Indented()), e.Fix)
}

// ExitCode implements exitcode.Coder: nothing was changed; decide, then rerun.
func (e *DocumentDiffersError) ExitCode() int { return exitcode.Usage }

// group makes the sending group, or checks the existing one: it may hold
// SES sending and nothing more, and it gets the sending policy only if it
// holds no policy at all (a crash between CreateGroup and PutGroupPolicy).
func (s *setupRun) group(ctx context.Context) error {
	if s.in.Group == "" {
		return nil
	}
	info, err := ReadGroup(ctx, s.c, s.in.Group)
	if err != nil {
		return err
	}
	if !info.Exists {
		return s.createGroup(ctx)
	}
	return s.checkGroup(ctx, info)
}

func (s *setupRun) createGroup(ctx context.Context) error {
	s.res.GroupStatus = "created"
	if s.in.DryRun {
		s.res.GroupStatus = "to be created"
	}
	err := s.change("iam:CreateGroup GroupName="+s.in.Group, "created group "+s.in.Group, func() error {
		_, err := s.c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(s.in.Group)})
		var exists *types.EntityAlreadyExistsException
		if errors.As(err, &exists) {
			return nil // a retried call, or another setup: checked below
		}
		return awsError("CreateGroup", fmt.Sprintf("%q", s.in.Group), err)
	})
	if err != nil {
		return err
	}
	if s.in.DryRun {
		s.res.Plan = append(s.res.Plan, s.putGroupPolicyPlan())
		return nil
	}
	info, err := ReadGroup(ctx, s.c, s.in.Group)
	if err != nil {
		return err
	}
	return s.checkGroup(ctx, info)
}

// checkGroup refuses a group that allows more than SES sending and puts
// the sending policy on one that has no policy.
func (s *setupRun) checkGroup(ctx context.Context, info GroupInfo) error {
	if info.Exists {
		// GetGroup found it whatever the case typed (names are not told
		// apart by case); the policy must name it as IAM spells it.
		s.res.Group, s.res.GroupARN = info.Name, info.ARN
	}
	if found := info.BeyondSending(); len(found) > 0 {
		return exitcode.UsageError(fmt.Errorf("group %q allows more than SES sending (%s); sesmtp setup does not touch it "+
			"and nothing was changed. Choose another --group, or remove those policies first", s.in.Group, strings.Join(found, "; ")))
	}
	own := slices.IndexFunc(info.Policies, func(p GroupPolicy) bool { return p.ARN == "" && strings.EqualFold(p.Name, s.in.GroupPolicyName) })
	switch {
	case len(info.Policies) == 0 && info.HasMembers:
		return exitcode.UsageError(fmt.Errorf("group %q has members but no policy; giving it SES sending would give it to them "+
			"all, so sesmtp setup does not; nothing was changed. Choose another --group, or add its policy by hand", s.in.Group))
	case len(info.Policies) == 0:
		return s.putGroupPolicy(ctx)
	case own >= 0 && sameDocument(info.Policies[own].Document, s.doc):
		s.setGroupStatus("unchanged")
	case own >= 0 && !s.in.Update:
		return &DocumentDiffersError{What: fmt.Sprintf("the inline policy %q of group %q", s.in.GroupPolicyName, s.in.Group),
			Current: info.Policies[own].Document, Wanted: s.doc, Fix: "run again with --update to replace it"}
	case own >= 0:
		s.setGroupStatus("updated")
		return s.putGroupPolicy(ctx)
	default:
		s.setGroupStatus("kept: its policies allow SES sending at most")
	}
	return nil
}

func (s *setupRun) setGroupStatus(status string) {
	if s.res.GroupStatus == "" || status != "unchanged" {
		s.res.GroupStatus = status
	}
}

func (s *setupRun) putGroupPolicyPlan() string {
	return fmt.Sprintf("iam:PutGroupPolicy GroupName=%s PolicyName=%s PolicyDocument=%s", s.in.Group, s.in.GroupPolicyName, s.doc.JSON())
}

func (s *setupRun) putGroupPolicy(ctx context.Context) error {
	if s.res.GroupStatus == "" {
		s.res.GroupStatus = "sending policy added"
	}
	return s.change(s.putGroupPolicyPlan(), fmt.Sprintf("put the sending policy %s on group %s", s.in.GroupPolicyName, s.in.Group), func() error {
		_, err := s.c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String(s.in.Group),
			PolicyName: aws.String(s.in.GroupPolicyName), PolicyDocument: aws.String(s.doc.JSON())})
		return awsError("PutGroupPolicy", fmt.Sprintf("%q on group %q", s.in.GroupPolicyName, s.in.Group), err)
	})
}

// unboundedUsers lists the users under the operators' path that do not
// carry the boundary (ListUsers leaves boundaries out: GetUser each).
func (s *setupRun) unboundedUsers(ctx context.Context) error {
	p := iam.NewListUsersPaginator(s.c, &iam.ListUsersInput{PathPrefix: aws.String(s.in.UserPath)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return awsError("ListUsers", "under "+s.in.UserPath, err)
		}
		for _, u := range page.Users {
			name := aws.ToString(u.UserName)
			got, err := s.c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
			if isNoSuchEntity(err) {
				continue
			}
			if err != nil {
				return awsError("GetUser", fmt.Sprintf("%q", name), err)
			}
			if got.User == nil {
				return fmt.Errorf("iam:GetUser %q: IAM's answer holds no user", name)
			}
			b := got.User.PermissionsBoundary
			if s.res.BoundaryARN == "" || b == nil || aws.ToString(b.PermissionsBoundaryArn) != s.res.BoundaryARN {
				s.res.UnboundedUsers = append(s.res.UnboundedUsers, name)
			}
		}
	}
	return nil
}
