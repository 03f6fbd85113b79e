package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
)

// Tags sesmtp puts on every user it creates, so it can recognise its own
// users (list, delete) and tell its own user apart from a stranger's when a
// retried CreateUser answers EntityAlreadyExists.
const (
	// TagManagedBy has the value ManagedByValue on users sesmtp created.
	TagManagedBy = "sesmtp:managed-by"
	// TagRunID holds a random token unique to the run that created the user.
	TagRunID = "sesmtp:run-id"
	// ManagedByValue is TagManagedBy's value.
	ManagedByValue = "sesmtp"
	ownTagPrefix   = "sesmtp:"
)

var ownTagKeys = []string{TagManagedBy, TagRunID}

// Names the SES console uses.
const (
	// DefaultPolicyName is the inline policy the console puts on SMTP users.
	DefaultPolicyName = "AmazonSesSendingAccess"
	// ConsoleGroupName is the group today's console puts SMTP users in.
	ConsoleGroupName = "AWSSESSendingGroupDoNotRename"
)

// CreateInput is what Create needs.
type CreateInput struct {
	// UserName is the IAM user to create.
	UserName string
	// Path is the user's IAM path ("" for "/").
	Path string
	// Tags are added to sesmtp's own tags.
	Tags []Tag
	// OwnTags are more of sesmtp's own tags (sesmtp:store: where the
	// credentials are stored), put on the user as it is created.
	OwnTags []Tag
	// PermissionsBoundary is a managed policy ARN, or "".
	PermissionsBoundary string
	// Policy is the sender policy; PolicyName names it (default
	// DefaultPolicyName). With Group set, the group holds it instead.
	Policy     policy.Document
	PolicyName string
	// Group, if set, puts the user in this group (created with Policy if missing)
	// instead of giving the user an inline policy.
	Group string
	// Regions are the SES regions to derive passwords for.
	Regions []string
	// FIPS names each region's FIPS SMTP endpoint in the credentials.
	FIPS bool
	// Journal records the run's progress before each IAM change and hands
	// the new credentials over (Deliver); it is required. If delivery
	// fails, Create rolls back: no key is left whose secret nobody has.
	Journal Journal
	// Verify, if set, checks the delivered credentials (SMTP AUTH); if it
	// fails, Create rolls back and retracts the delivery.
	Verify func(context.Context, credfile.Credentials) error
	// Restore, if set, replaces Policy, PolicyName and Group: the user gets
	// these inline policies and group memberships (rotate's recreate).
	Restore *SavedConfig
	// RunID tags the user (TagRunID); Create generates one when empty.
	RunID string
	// Listed says the caller already checked, with FindUsers, that the
	// name is free (batch runs list once for all senders).
	Listed bool
	// GroupReady says the caller already made sure Group exists (batch
	// runs ensure each group once, not once per sender).
	GroupReady bool
	// AllowAnyGroup lets the user join a group that allows more than SES
	// sending (see CheckGroup); Warn, if set, receives the warning.
	AllowAnyGroup bool
	Warn          func(string)
	// Delivery is where the caller delivers the credentials, recorded in
	// the journal with the rest of the request (Request).
	Delivery Delivery
}

// CreateResult describes what Create made. It holds no secret.
type CreateResult struct {
	UserName     string   `json:"user_name"`
	UserARN      string   `json:"user_arn"`
	AccessKeyID  string   `json:"access_key_id"`
	Regions      []string `json:"regions"`
	PolicyName   string   `json:"policy_name,omitempty"`
	Group        string   `json:"group,omitempty"`
	GroupCreated bool     `json:"group_created,omitempty"`
	RunID        string   `json:"run_id"`
	// StrayKeysDeleted counts keys a retried CreateAccessKey made whose
	// answers were lost; Create deletes them.
	StrayKeysDeleted int `json:"stray_keys_deleted,omitempty"`
	// GroupPolicies are the policies of the existing group the user
	// joined: what actually applies to it.
	GroupPolicies []GroupPolicy `json:"group_policies,omitempty"`
}

// Validate checks the input against IAM's rules without calling IAM.
func (in *CreateInput) Validate() error {
	if err := CheckName("user name", in.UserName, MaxUserNameLen); err != nil {
		return err
	}
	if in.Path != "" {
		if err := CheckPath(in.Path); err != nil {
			return err
		}
	}
	if err := CheckTags(in.Tags); err != nil {
		return err
	}
	if n := len(in.Tags) + len(ownTagKeys) + len(in.OwnTags); n > MaxTagsPerUser {
		return exitcode.UsageError(fmt.Errorf("%d tags: IAM allows %d per user, and sesmtp adds %d of its own", len(in.Tags), MaxTagsPerUser, n-len(in.Tags)))
	}
	if in.PermissionsBoundary != "" {
		if err := CheckPolicyARN("permissions boundary", in.PermissionsBoundary); err != nil {
			return err
		}
	}
	if err := CheckName("policy name", in.policyName(), MaxPolicyNameLen); err != nil {
		return err
	}
	if in.Group != "" {
		if err := CheckName("group name", in.Group, MaxGroupNameLen); err != nil {
			return err
		}
		if in.Restore == nil && isNarrowed(in.Policy) {
			return ErrGroupWithSenderRestriction
		}
	}
	if len(in.Policy.Statement) == 0 && in.Restore == nil {
		return exitcode.UsageError(errors.New("no sender policy given"))
	}
	if err := CheckPolicyDocument("sender policy", in.Policy.JSON()); in.Restore == nil && err != nil {
		return err
	}
	if len(in.Regions) == 0 {
		return errNoRegions
	}
	for _, r := range in.Regions {
		if err := derive.CheckRegion(r, true); err != nil {
			return exitcode.UsageError(err)
		}
	}
	return nil
}

func (in *CreateInput) policyName() string {
	if in.PolicyName == "" {
		return DefaultPolicyName
	}
	return in.PolicyName
}

// NewRunID returns a random token for TagRunID.
func NewRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Create runs the console's "Create SMTP credentials" flow: ListUsers,
// CreateUser, PutUserPolicy (or group membership) and CreateAccessKey, then
// derives the passwords and calls in.Deliver. On any failure after
// CreateUser it deletes what this run created and returns a
// *RolledBackError (exit 1), or a *LeftBehindError (exit 4) if that failed.
func Create(ctx context.Context, c IAMAPI, in CreateInput) (CreateResult, error) {
	if err := in.Validate(); err != nil {
		return CreateResult{}, err
	}
	if in.Journal == nil {
		return CreateResult{}, errNoJournal
	}
	if in.RunID == "" {
		in.RunID = NewRunID()
	}
	if !in.Listed {
		found, err := FindUsers(ctx, c, []string{in.UserName})
		if err != nil {
			return CreateResult{}, beforeChange(err)
		}
		if u, ok := found[strings.ToLower(in.UserName)]; ok {
			return CreateResult{}, &ExistsError{UserName: aws.ToString(u.UserName)}
		}
	}
	if !in.Listed && in.Restore == nil {
		// A batch (Listed) checks the boundary once, in its preflight; a
		// recreate (Restore) before it deletes anything.
		if err := CheckBoundary(ctx, c, in.PermissionsBoundary); err != nil {
			return CreateResult{}, err
		}
	}
	r := &createRun{c: c, in: in, res: CreateResult{
		UserName: in.UserName, Regions: in.Regions, RunID: in.RunID, Group: in.Group,
	}}
	if err := r.checkGroup(ctx); err != nil {
		return CreateResult{}, beforeChange(err)
	}
	if in.Group == "" && in.Restore == nil {
		r.res.PolicyName = in.policyName()
	}
	err := in.Journal.Note(func(p *Progress) {
		if p.Flow == "" {
			p.Flow = FlowCreate
		}
		p.User, p.UserRunID, p.KeyID, p.Budget = in.UserName, in.RunID, "", budget(ctx)
		if in.Restore == nil { // a recreate records its own request
			p.Request = in.Request()
		}
	})
	if err != nil {
		return CreateResult{}, fmt.Errorf("record the run before creating user %q: %w", in.UserName, err)
	}
	if err := r.run(ctx); err != nil {
		return CreateResult{}, r.rollback(ctx, err)
	}
	return r.res, nil
}

// ExistsError reports a user name that is already taken by a user this run
// did not create.
type ExistsError struct {
	UserName string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("an IAM user named %q already exists; choose another name with --user, "+
		"or renew its credentials with 'sesmtp rotate --user %s'", e.UserName, e.UserName)
}

// ExitCode implements exitcode.Coder: nothing was changed, fix the input.
func (e *ExistsError) ExitCode() int { return exitcode.Usage }

// createRun is one Create in progress: what it has made so far.
type createRun struct {
	c   IAMAPI
	in  CreateInput
	res CreateResult
	// userState: whether this run created the user.
	userCreated bool
	userMaybe   bool // CreateUser got no answer: it may have happened
	delivered   bool
}

func (r *createRun) run(ctx context.Context) error {
	if err := r.createUser(ctx); err != nil {
		return err
	}
	creds, err := r.grantAndKey(ctx)
	if err != nil {
		return err
	}
	if err := r.in.Journal.Deliver(ctx, creds); err != nil {
		return fmt.Errorf("hand over the new credentials: %w", err)
	}
	r.delivered = true
	if r.in.Verify != nil {
		if err := r.in.Verify(ctx, creds); err != nil {
			return err
		}
	}
	return finalCheck(ctx, r.c, r.in.UserName, r.res.AccessKeyID)
}

func (r *createRun) createUser(ctx context.Context) error {
	tags := []types.Tag{
		{Key: aws.String(TagManagedBy), Value: aws.String(ManagedByValue)},
		{Key: aws.String(TagRunID), Value: aws.String(r.in.RunID)},
	}
	for _, t := range append(slices.Clone(r.in.OwnTags), r.in.Tags...) {
		tags = append(tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	in := &iam.CreateUserInput{UserName: aws.String(r.in.UserName), Tags: tags}
	if r.in.Path != "" {
		in.Path = aws.String(r.in.Path)
	}
	if r.in.PermissionsBoundary != "" {
		in.PermissionsBoundary = aws.String(r.in.PermissionsBoundary)
	}
	target := fmt.Sprintf("user %q", r.in.UserName)
	out, err := r.c.CreateUser(ctx, in)
	var exists *types.EntityAlreadyExistsException
	switch {
	case err == nil:
		if err := checkUser("CreateUser", out.User); err != nil {
			r.userMaybe = true // it happened, but the answer cannot be trusted
			return err
		}
		r.userCreated, r.res.UserARN = true, aws.ToString(out.User.Arn)
		return nil
	case errors.As(err, &exists):
		// A retried CreateUser whose first answer was lost, or a stranger
		// who took the name since the listing: the run-id tag tells.
		return r.adoptOwnUser(ctx)
	case !answered(err):
		r.userMaybe = true
	}
	return awsError("CreateUser", target, err)
}

// adoptOwnUser carries on with a user that exists only if this run made it.
func (r *createRun) adoptOwnUser(ctx context.Context) error {
	u, err := getUser(ctx, r.c, r.in.UserName)
	if err != nil {
		r.userMaybe = true
		return err
	}
	if tagValue(u.Tags, TagRunID) != r.in.RunID {
		return &ExistsError{UserName: r.in.UserName}
	}
	r.userCreated, r.res.UserARN = true, aws.ToString(u.Arn)
	return nil
}

func tagValue(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// grantAndKey gives the user the sending policy (or group) and creates its
// access key, concurrently: neither depends on the other once the user exists.
func (r *createRun) grantAndKey(ctx context.Context) (credfile.Credentials, error) {
	var (
		wg               sync.WaitGroup
		grantErr, keyErr error
		creds            credfile.Credentials
	)
	wg.Go(func() { grantErr = r.grant(ctx) })
	wg.Go(func() { creds, keyErr = r.createKey(ctx) })
	wg.Wait()
	return creds, errors.Join(grantErr, keyErr)
}

func (r *createRun) grant(ctx context.Context) error {
	if r.in.Restore != nil {
		return restoreGrants(ctx, r.c, r.in.UserName, r.in.Restore)
	}
	if r.in.Group != "" {
		if !r.in.GroupReady {
			created, err := EnsureGroup(ctx, r.c, r.in.Journal, r.in.Group, r.in.policyName(), r.in.Policy)
			r.res.GroupCreated = created
			if err != nil {
				return err
			}
		}
		_, err := r.c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(r.in.Group), UserName: aws.String(r.in.UserName)})
		return awsError("AddUserToGroup", fmt.Sprintf("user %q to group %q", r.in.UserName, r.in.Group), err)
	}
	_, err := r.c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(r.in.UserName), PolicyName: aws.String(r.in.policyName()),
		PolicyDocument: aws.String(r.in.Policy.JSON()),
	})
	return awsError("PutUserPolicy", fmt.Sprintf("%q on user %q", r.in.policyName(), r.in.UserName), err)
}

func (r *createRun) createKey(ctx context.Context) (credfile.Credentials, error) {
	out, err := r.c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(r.in.UserName)})
	if err != nil {
		return credfile.Credentials{}, awsError("CreateAccessKey", fmt.Sprintf("for user %q", r.in.UserName), err)
	}
	if err := checkAccessKey(out.AccessKey); err != nil {
		return credfile.Credentials{}, err // the rollback removes the user and any key it has
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	r.res.AccessKeyID = id
	if err := r.in.Journal.Note(func(p *Progress) { p.KeyID = id }); err != nil {
		return credfile.Credentials{}, fmt.Errorf("record new access key %s: %w", id, err)
	}
	if attempts, ok := retry.GetAttemptResults(out.ResultMetadata); ok && len(attempts.Results) > 1 {
		// An earlier attempt may have made a key whose answer was lost:
		// nobody has its secret, so it must not stay.
		n, err := deleteKeysExcept(ctx, r.c, r.in.UserName, id)
		r.res.StrayKeysDeleted = n
		if err != nil {
			return credfile.Credentials{}, err
		}
	}
	return credentialsFor(r.in.UserName, out.AccessKey, r.in.Regions, r.in.FIPS), nil
}

// deleteKeysExcept deletes every access key of user but those in keep.
// A user that is gone took its keys with it.
func deleteKeysExcept(ctx context.Context, c IAMAPI, user string, keep ...string) (int, error) {
	keys, err := listKeys(ctx, c, user)
	if isNoSuchEntity(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range keyIDsOf(keys) {
		if !slices.Contains(keep, id) {
			if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)}); err != nil && !isNoSuchEntity(err) {
				return n, awsError("DeleteAccessKey", id, err)
			}
			n++
		}
	}
	return n, nil
}

// EnsureGroup makes sure group exists, creating it with the sending policy
// if it does not. It reports whether it created the group. An existing
// group is left as it is. j records the group before CreateGroup, so that
// a crash recovery can delete it if it stays empty.
func EnsureGroup(ctx context.Context, c IAMAPI, j Journal, group, policyName string, doc policy.Document) (bool, error) {
	_, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String(group), MaxItems: aws.Int32(1)})
	if err == nil {
		return false, nil
	}
	if !isNoSuchEntity(err) {
		return false, awsError("GetGroup", fmt.Sprintf("%q", group), err)
	}
	if err := noteGroup(j, group, policyName, true); err != nil {
		return false, fmt.Errorf("record group %q before creating it: %w", group, err)
	}
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(group)})
	var exists *types.EntityAlreadyExistsException
	if errors.As(err, &exists) || answered(err) {
		// IAM refused: this run made no group (someone else's exists, or none).
		if nerr := noteGroup(j, group, policyName, false); nerr != nil {
			return false, fmt.Errorf("record that group %q is not this run's: %w", group, nerr)
		}
	}
	if errors.As(err, &exists) {
		return false, nil
	}
	if err != nil {
		return false, awsError("CreateGroup", fmt.Sprintf("%q", group), err)
	}
	_, err = c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{
		GroupName: aws.String(group), PolicyName: aws.String(policyName), PolicyDocument: aws.String(doc.JSON()),
	})
	return true, awsError("PutGroupPolicy", fmt.Sprintf("%q on group %q", policyName, group), err)
}
