package provision

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/exitcode"
)

// RetireInput says how 'sesmtp retire' (phase 2 of a key rotation) treats
// the old key TagRetire names.
type RetireInput struct {
	// Grace is how long the key stays inactive before a run deletes it;
	// 0 deletes it on the run after the one that deactivated it.
	Grace time.Duration
	// IfUnusedFor, if set, refuses to deactivate a key that
	// GetAccessKeyLastUsed shows used within it.
	IfUnusedFor time.Duration
	// Now is the time the run acts at; zero: time.Now().
	Now time.Time
}

func (in RetireInput) now() time.Time {
	if in.Now.IsZero() {
		return time.Now()
	}
	return in.Now
}

// RetireStep is what one retire run does for one user.
type RetireStep string

// The steps, in the order a retirement goes through them.
const (
	// RetireStepNone: no retirement is pending.
	RetireStepNone RetireStep = "none"
	// RetireStepDeactivate makes the key inactive and records when.
	RetireStepDeactivate RetireStep = "deactivate"
	// RetireStepWait: the key is inactive, its grace not yet over.
	RetireStepWait RetireStep = "wait"
	// RetireStepDelete deletes the key and removes TagRetire.
	RetireStepDelete RetireStep = "delete"
	// RetireStepClear removes a TagRetire whose key is already gone.
	RetireStepClear RetireStep = "clear"
)

// KeyUse is an access key's last use, as GetAccessKeyLastUsed reports it.
type KeyUse struct {
	When    time.Time `json:"when"`
	Service string    `json:"service,omitempty"`
	Region  string    `json:"region,omitempty"`
}

func (u KeyUse) String() string {
	return fmt.Sprintf("%s (service %s, region %s)", u.When.UTC().Format(time.RFC3339), cmp.Or(u.Service, "?"), cmp.Or(u.Region, "?"))
}

// RetirePlan is what a retire run will do for one user, read from IAM.
type RetirePlan struct {
	UserName   string      `json:"user_name"`
	Retirement *Retirement `json:"retirement,omitempty"`
	Step       RetireStep  `json:"step"`
	// DeleteAfter is when a later run may delete the key (deactivate, wait).
	DeleteAfter time.Time `json:"delete_after,omitzero"`
	// LastUsed is the key's last use when --if-unused-for asked for it.
	LastUsed *KeyUse `json:"last_used,omitempty"`
	// at is IAM's time when the plan was read; stale are the records of
	// keys that are gone (removed by a delete or a clear).
	at    time.Time
	stale []Retirement
}

// KeyID is the key the plan acts on, "" if none.
func (p RetirePlan) KeyID() string {
	if p.Retirement == nil {
		return ""
	}
	return p.Retirement.AccessKeyID
}

// KeyInUseError refuses to deactivate a key used within --if-unused-for.
type KeyInUseError struct {
	UserName, AccessKeyID string
	Use                   KeyUse
	Window                time.Duration
}

func (e *KeyInUseError) Error() string {
	return fmt.Sprintf("old access key %s of IAM user %q was last used %s, within --if-unused-for %s: a sender still uses the old "+
		"password. Deploy the new one there, then run retire again. Nothing was changed", e.AccessKeyID, e.UserName, e.Use, e.Window)
}

// ExitCode implements exitcode.Coder: refused before anything changed.
func (e *KeyInUseError) ExitCode() int { return exitcode.Usage }

// OnlyActiveKeyError refuses to retire a key when the user holds no other
// active key: its senders would be left with no working password.
type OnlyActiveKeyError struct {
	UserName, AccessKeyID string
}

func (e *OnlyActiveKeyError) Error() string {
	return fmt.Sprintf("IAM user %q holds no active access key besides %s, which %s names for retirement: retiring it would leave "+
		"its senders no working password. Give it a new key first ('sesmtp rotate --user %s --strategy key' once the record is "+
		"removed: aws iam untag-user --user-name %s --tag-keys %s). Nothing was changed",
		e.UserName, e.AccessKeyID, TagRetire, e.UserName, e.UserName, TagRetire)
}

// ExitCode implements exitcode.Coder.
func (e *OnlyActiveKeyError) ExitCode() int { return exitcode.Usage }

// PlanRetire reads user's retirement tags, keys and, if in.IfUnusedFor
// asks, the old key's last use, and says what a retire run does now. It
// changes nothing. Times are IAM's: the Date of its ListAccessKeys answer
// is the run's now (in.Now only when an answer carries none), so a
// machine whose clock is off neither shortens --grace nor records a wrong
// deactivation time. It refuses (exit 2) a user that does not exist, tags
// it cannot read, a key used within in.IfUnusedFor, a key that is the
// user's only active one, and one that cannot be the old key of a
// rotation (NewKeyTaggedError).
func PlanRetire(ctx context.Context, c IAMAPI, user string, in RetireInput) (RetirePlan, error) {
	plan := RetirePlan{UserName: user, Step: RetireStepNone}
	records, err := readRetirements(ctx, c, user)
	if err != nil || len(records) == 0 {
		return plan, err
	}
	keys, now, err := listKeysAt(ctx, c, user, in.now())
	if isNoSuchEntity(err) { // deleted since its tags were read
		return plan, &NoSuchUserError{UserName: user, Command: "retire"}
	}
	if err != nil {
		return plan, beforeChange(err)
	}
	in.Now, plan.at = now, now
	held, stale, err := pendingOf(user, records, keys)
	if err != nil {
		return plan, err
	}
	plan.stale = stale // removed with the held key's record, or alone
	if held == nil {
		plan.Retirement, plan.Step = &stale[0], RetireStepClear
		return plan, nil
	}
	plan.Retirement = held
	old, others := splitKeys(keys, held.AccessKeyID)
	if others == 0 {
		return plan, &OnlyActiveKeyError{UserName: user, AccessKeyID: held.AccessKeyID}
	}
	if err := checkOldKey(user, *held, *old, keys); err != nil {
		return plan, err
	}
	if old.Status != types.StatusTypeInactive || held.Deactivated.IsZero() {
		return planDeactivate(ctx, c, plan, old.Status, in)
	}
	// A deactivation recorded in the future of IAM's clock (a machine
	// ahead, or an edited tag) only makes the run wait.
	plan.DeleteAfter = held.Deactivated.Add(in.Grace)
	plan.Step = RetireStepDelete
	if now.Before(plan.DeleteAfter) {
		plan.Step = RetireStepWait
	}
	return plan, nil
}

// readRetirements returns the retirements user's tags record.
func readRetirements(ctx context.Context, c IAMAPI, user string) ([]Retirement, error) {
	var tags []types.Tag
	p := iam.NewListUserTagsPaginator(c, &iam.ListUserTagsInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isNoSuchEntity(err) {
			return nil, &NoSuchUserError{UserName: user, Command: "retire"}
		}
		if err != nil {
			return nil, beforeChange(awsError("ListUserTags", fmt.Sprintf("of %q", user), err))
		}
		tags = append(tags, page.Tags...)
	}
	return retirementsIn(user, tags)
}

// splitKeys finds key id among keys and counts the other active keys.
func splitKeys(keys []types.AccessKeyMetadata, id string) (*types.AccessKeyMetadata, int) {
	var old *types.AccessKeyMetadata
	others := 0
	for i, k := range keys {
		switch {
		case aws.ToString(k.AccessKeyId) == id:
			old = &keys[i]
		case k.Status == types.StatusTypeActive:
			others++
		}
	}
	return old, others
}

// sinceSkew is how much later than a record's "since" its key may have
// been created before retire refuses it: records written by sesmtp before
// it read IAM's clock carry the rotating machine's.
const sinceSkew = 5 * time.Minute

// NewKeyTaggedError refuses to retire a key that cannot be the old key of
// the rotation its tag records: it is the user's newest key (retiring it
// would leave the senders, just moved to it, on an older one), or it was
// created after the rotation began. A tag edited by hand, or copied from
// another user, names the new key.
type NewKeyTaggedError struct {
	UserName, AccessKeyID, TagKey string
	Created, Since                time.Time
	Newest                        bool
}

func (e *NewKeyTaggedError) Error() string {
	why := fmt.Sprintf("was created %s, after the rotation the tag records began (%s)",
		e.Created.UTC().Format(time.RFC3339), e.Since.UTC().Format(time.RFC3339))
	if e.Newest {
		why = fmt.Sprintf("is the user's newest key (created %s): the key its senders were moved to", e.Created.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("tag %s of IAM user %q names access key %s for retirement, but that key %s. sesmtp never retires the newest "+
		"key; the tag was probably edited or copied. Check 'sesmtp list', then correct the tag (aws iam tag-user) or remove it "+
		"(aws iam untag-user --user-name %s --tag-keys %s). Nothing was changed", e.TagKey, e.UserName, e.AccessKeyID, why, e.UserName, e.TagKey)
}

// ExitCode implements exitcode.Coder.
func (e *NewKeyTaggedError) ExitCode() int { return exitcode.Usage }

// checkOldKey refuses (NewKeyTaggedError) a record whose key old is newer
// than every other key of the user, or was created after the record's
// rotation began (beyond sinceSkew). Keys created within the same second
// cannot be told apart: that is allowed.
func checkOldKey(user string, r Retirement, old types.AccessKeyMetadata, keys []types.AccessKeyMetadata) error {
	created := aws.ToTime(old.CreateDate)
	newest := true
	for _, k := range keys {
		if aws.ToString(k.AccessKeyId) != r.AccessKeyID && !aws.ToTime(k.CreateDate).Before(created) {
			newest = false
		}
	}
	if !newest && !created.After(r.Since.Add(sinceSkew)) {
		return nil
	}
	return &NewKeyTaggedError{UserName: user, AccessKeyID: r.AccessKeyID, TagKey: r.tagKey(), Created: created, Since: r.Since, Newest: newest}
}

// planDeactivate plans the deactivation, refusing a key in use.
func planDeactivate(ctx context.Context, c IAMAPI, plan RetirePlan, status types.StatusType, in RetireInput) (RetirePlan, error) {
	plan.Step, plan.DeleteAfter = RetireStepDeactivate, retireAt(in.now()).Add(in.Grace)
	if in.IfUnusedFor <= 0 || status == types.StatusTypeInactive {
		return plan, nil
	}
	use, err := lastUse(ctx, c, plan.KeyID())
	if err != nil {
		return plan, beforeChange(err)
	}
	plan.LastUsed = use
	if use != nil && in.now().Sub(use.When) < in.IfUnusedFor {
		return plan, &KeyInUseError{UserName: plan.UserName, AccessKeyID: plan.KeyID(), Use: *use, Window: in.IfUnusedFor}
	}
	return plan, nil
}

// lastUse returns key id's last use, nil if it was never used. IAM's
// GetAccessKeyLastUsed (IAM API reference) answers the date of the last
// request made with the key and the service and region it named, with no
// date ("N/A" service and region) for a key never used since IAM began
// tracking (AccessKeyLastUsed data type). An answer without
// AccessKeyLastUsed (a required member) is an AnswerError: a key whose use
// is unknown is never taken for unused. An SES SMTP login authenticates
// with the key; docs/retire.md says what that means for --if-unused-for.
func lastUse(ctx context.Context, c IAMAPI, id string) (*KeyUse, error) {
	out, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
	if err != nil {
		return nil, awsError("GetAccessKeyLastUsed", id, err)
	}
	lu := out.AccessKeyLastUsed
	if lu == nil { // a required member: without it the key's use is unknown, not "never"
		return nil, missing("GetAccessKeyLastUsed", "AccessKeyLastUsed")
	}
	if lu.LastUsedDate == nil {
		return nil, nil
	}
	return &KeyUse{When: *lu.LastUsedDate, Service: aws.ToString(lu.ServiceName), Region: aws.ToString(lu.Region)}, nil
}

// ChangedError reports a user whose retirement changed between the plan
// (confirmed, or shown) and the run: nothing was done to it.
type ChangedError struct {
	UserName    string
	Planned, Is RetirePlan
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("IAM user %q changed since it was read (then: %s %s; now: %s %s); nothing was changed: run retire again",
		e.UserName, e.Planned.Step, e.Planned.KeyID(), e.Is.Step, e.Is.KeyID())
}

// ExitCode implements exitcode.Coder.
func (e *ChangedError) ExitCode() int { return exitcode.Failed }

// RetireIncompleteError reports a retire step that stopped after its first
// IAM change: a rerun finishes it.
type RetireIncompleteError struct {
	UserName, Done, Remains string
	Err                     error
}

func (e *RetireIncompleteError) Error() string {
	return fmt.Sprintf("retire of IAM user %q stopped part way: %v. Done: %s. Left behind: %s. Run the same command again to finish it",
		e.UserName, e.Err, e.Done, e.Remains)
}

// Unwrap returns the failure.
func (e *RetireIncompleteError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *RetireIncompleteError) ExitCode() int { return exitcode.LeftBehind }

// Retire reads user's retirement again and, if it still calls for the step
// planned said, takes it: it never acts on a key the tag does not name
// now, nor on the user's only active key. It returns the step it took.
func Retire(ctx context.Context, c IAMAPI, planned RetirePlan, in RetireInput) (RetirePlan, error) {
	plan, err := PlanRetire(ctx, c, planned.UserName, in)
	if err != nil {
		return plan, err
	}
	if !stillPlanned(planned, plan) {
		return plan, &ChangedError{UserName: plan.UserName, Planned: planned, Is: plan}
	}
	switch plan.Step {
	case RetireStepDeactivate:
		return deactivateOld(ctx, c, plan, in)
	case RetireStepDelete:
		return plan, deleteOld(ctx, c, plan)
	case RetireStepClear:
		return plan, clearRecord(ctx, c, plan, "")
	}
	return plan, nil
}

// stillPlanned reports whether the step now read may be taken for the one
// planned: the same step on the same key, or a step another run's progress
// leaves that changes no key (nothing pending, waiting, or removing the
// record of a key already gone). A delete or deactivation that was not
// planned (and, for a delete, confirmed) is never taken.
func stillPlanned(planned, now RetirePlan) bool {
	switch {
	case now.Step == RetireStepNone:
		return true
	case now.KeyID() != planned.KeyID():
		return false
	}
	return now.Step == planned.Step || now.Step == RetireStepWait || now.Step == RetireStepClear
}

// deactivateOld deactivates the key, then records when in TagRetire.
func deactivateOld(ctx context.Context, c IAMAPI, plan RetirePlan, in RetireInput) (RetirePlan, error) {
	user, id := plan.UserName, plan.KeyID()
	out, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive})
	if err != nil {
		err = awsError("UpdateAccessKey", fmt.Sprintf("%s of user %q", id, user), err)
		if answered(err) {
			return plan, beforeChange(err)
		}
		return plan, &RetireIncompleteError{UserName: user, Err: err, Done: "perhaps nothing (IAM's answer was lost)",
			Remains: fmt.Sprintf("old access key %s may be inactive without a record of when", id)}
	}
	r := *plan.Retirement
	r.Deactivated = retireAt(iamTime(out.ResultMetadata, cmpTime(plan.at, in.now())))
	if err := tagRetirement(ctx, c, user, r); err != nil {
		return plan, &RetireIncompleteError{UserName: user, Err: err, Done: "old access key " + id + " is inactive",
			Remains: fmt.Sprintf("tag %s does not record when (%s)", r.tagKey(), r.Value())}
	}
	plan.Retirement = &r
	return plan, nil
}

// deleteOld deletes the inactive old key, then removes TagRetire.
func deleteOld(ctx context.Context, c IAMAPI, plan RetirePlan) error {
	user, id := plan.UserName, plan.KeyID()
	_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)})
	if err != nil && !isNoSuchEntity(err) {
		err = awsError("DeleteAccessKey", fmt.Sprintf("%s of user %q", id, user), err)
		if answered(err) {
			return beforeChange(err)
		}
		return &RetireIncompleteError{UserName: user, Err: err, Done: "perhaps nothing (IAM's answer was lost)",
			Remains: fmt.Sprintf("old access key %s may be deleted, and tag %s still names it", id, TagRetire)}
	}
	return clearRecord(ctx, c, plan, "old access key "+id+" is deleted")
}

// clearRecord removes the records of the plan's key (for a clear, of
// every key gone), reading them again first: each is removed by its own
// tag key, so a record another run wrote meanwhile for another key stays;
// the single tag of an earlier sesmtp only if it still names a key gone.
func clearRecord(ctx context.Context, c IAMAPI, plan RetirePlan, done string) error {
	user := plan.UserName
	gone := []string{plan.KeyID()}
	for _, r := range plan.stale {
		gone = append(gone, r.AccessKeyID)
	}
	incomplete := func(err error) error {
		return &RetireIncompleteError{UserName: user, Err: err, Done: cmp.Or(done, "nothing"),
			Remains: fmt.Sprintf("tag %s still names access key %s, which is gone", plan.Retirement.tagKey(), plan.KeyID())}
	}
	records, err := readRetirements(ctx, c, user)
	var bad *BadRetireTagError
	switch {
	case errors.As(err, &bad):
		return nil // not readable now: not this run's to remove
	case err != nil:
		return incomplete(err)
	}
	var keys []string
	for _, r := range records {
		if slices.Contains(gone, r.AccessKeyID) {
			keys = append(keys, r.TagKey)
		}
	}
	if len(keys) == 0 {
		return nil // removed meanwhile
	}
	_, err = c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(user), TagKeys: keys})
	if err != nil {
		return incomplete(awsError("UntagUser", fmt.Sprintf("%s of user %q", strings.Join(keys, ", "), user), err))
	}
	return nil
}

// cmpTime is the first time that is not zero.
func cmpTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// RetireNext is the command that takes plan's retirement further, "" when
// it is finished.
func RetireNext(plan RetirePlan) string {
	switch plan.Step {
	case RetireStepDeactivate, RetireStepWait:
		return "sesmtp retire --user " + plan.UserName
	}
	return ""
}

// describeRetire says in a few words what plan's step did (or, if
// !done, would do).
func describeRetire(plan RetirePlan, done bool) string {
	verbs := map[RetireStep][2]string{
		RetireStepNone:       {"nothing pending", "nothing pending"},
		RetireStepDeactivate: {"would deactivate", "deactivated"},
		RetireStepWait:       {"inactive, waiting for its grace", "inactive, waiting for its grace"},
		RetireStepDelete:     {"would delete", "deleted"},
		RetireStepClear:      {"already gone: would remove the record", "already gone: record removed"},
	}
	v := verbs[plan.Step]
	if done {
		return v[1]
	}
	return v[0]
}
