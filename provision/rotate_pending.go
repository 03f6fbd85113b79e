package provision

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/exitcode"
)

// PendingRetirementError refuses phase 1 of a key rotation while an
// earlier one's old key is still pending retirement: a third key would
// meet IAM's limit of two, and two pending keys would leave no record of
// which one senders still use.
type PendingRetirementError struct {
	UserName   string
	Retirement Retirement
}

func (e *PendingRetirementError) Error() string {
	state := "still active"
	if !e.Retirement.Deactivated.IsZero() {
		state = "deactivated " + e.Retirement.Deactivated.Format(time.RFC3339)
	}
	return fmt.Sprintf("IAM user %q has access key %s pending retirement since %s (%s), from an earlier 'rotate --strategy key'. "+
		"Finish that rotation first: once every sender uses the new password, run 'sesmtp retire --user %s' (it deactivates the old key; "+
		"run it again to delete it). Nothing was changed",
		e.UserName, e.Retirement.AccessKeyID, e.Retirement.Since.Format(time.RFC3339), state, e.UserName)
}

// ExitCode implements exitcode.Coder: refused before anything changed.
func (e *PendingRetirementError) ExitCode() int { return exitcode.Usage }

// BadRetireTagError refuses to act on retirement tags sesmtp cannot read
// (or that record two held keys).
type BadRetireTagError struct {
	UserName string
	// TagKeys are the tags at fault.
	TagKeys []string
	Err     error
}

func (e *BadRetireTagError) Error() string {
	return fmt.Sprintf("IAM user %q: %v; sesmtp does not guess which key it means. Check the user's keys ('sesmtp list'), then remove "+
		"the tag with 'aws iam untag-user --user-name %s --tag-keys %s'. Nothing was changed",
		e.UserName, e.Err, e.UserName, strings.Join(e.TagKeys, " "))
}

// Unwrap returns the parse error.
func (e *BadRetireTagError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *BadRetireTagError) ExitCode() int { return exitcode.Usage }

// checkNoPendingRetirement refuses a user whose tags record a pending
// retirement of a key it still holds. A record of a key that is gone is
// stale: phase 1 overwrites it.
func checkNoPendingRetirement(user string, tags []types.Tag, keys []types.AccessKeyMetadata) error {
	records, err := retirementsIn(user, tags)
	if err != nil {
		return err
	}
	held, _, err := pendingOf(user, records, keys)
	if err != nil {
		return err
	}
	if held != nil {
		return &PendingRetirementError{UserName: user, Retirement: *held}
	}
	return nil
}

// retireMode is what a key rotation does with the old key.
func retireMode(in RotateInput) string {
	switch {
	case in.RetireNow:
		return RetireDelete
	case in.DeactivateOld:
		return RetireDeactivate
	}
	return RetirePending
}

// pendingRetirement is the retirement a rotation records for its old key,
// nil when it records none (no old key, or --retire-now).
func pendingRetirement(mode string, old []string, now time.Time) *Retirement {
	if mode == RetireDelete || len(old) != 1 {
		return nil
	}
	r := Retirement{AccessKeyID: old[0], Since: retireAt(now)}
	if mode == RetireDeactivate {
		r.Deactivated = r.Since
	}
	return &r
}

// describeOld says what became of the old keys, for RotateResult.OldKeys.
func describeOld(mode string, old []string) string {
	switch {
	case len(old) == 0:
		return "none"
	case mode == RetireDelete:
		return "deleted"
	case mode == RetireDeactivate:
		return "deactivated, pending retirement"
	}
	return "active, pending retirement"
}

// RetirementNotRecordedError reports a key rotation that delivered the new
// key but could not record the old key's pending retirement.
type RetirementNotRecordedError struct {
	UserName   string
	Retirement Retirement
	Err        error
}

func (e *RetirementNotRecordedError) Error() string {
	return fmt.Sprintf("the new credentials of IAM user %q are delivered and work, and old access key %s is left as it was, "+
		"but its pending retirement could not be recorded (%v). Left behind: no %s tag on the user, so 'sesmtp retire' does not "+
		"know the old key. Run the same command again (it records it and changes nothing else), or: "+
		"aws iam tag-user --user-name %s --tags Key=%s,Value=%s",
		e.UserName, e.Retirement.AccessKeyID, e.Err, e.Retirement.tagKey(), e.UserName, e.Retirement.tagKey(), e.Retirement.Value())
}

// Unwrap returns the failure.
func (e *RetirementNotRecordedError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder: the delivered key stays.
func (e *RetirementNotRecordedError) ExitCode() int { return exitcode.LeftBehind }

// tagRetirement writes r on user: in the tag it was read from, else in
// its key's own (RetireTagKey), replacing that tag's earlier value only.
func tagRetirement(ctx context.Context, c IAMAPI, user string, r Retirement) error {
	_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user),
		Tags: []types.Tag{{Key: aws.String(r.tagKey()), Value: aws.String(r.Value())}}})
	return awsError("TagUser", fmt.Sprintf("%s on user %q", r.tagKey(), user), err)
}

// finishOld does what mode says with the old keys once the new key is
// delivered: delete them, or record their pending retirement (after
// deactivating them, for RetireDeactivate).
func finishOld(ctx context.Context, c IAMAPI, user, mode string, old []types.AccessKeyMetadata, r *Retirement) error {
	if mode != RetirePending {
		if err := retireKeys(ctx, c, user, old, mode == RetireDeactivate); err != nil {
			return err
		}
	}
	if r == nil {
		return nil
	}
	if err := tagRetirement(ctx, c, user, *r); err != nil {
		return &RetirementNotRecordedError{UserName: user, Retirement: *r, Err: err}
	}
	return nil
}

// recordRetirement finishes a delivered key rotation's record after a
// crash: the tag the journal noted is written, if the old key is still there.
func recordRetirement(ctx context.Context, c IAMAPI, user, value string) ([]string, error) {
	r, err := ParseRetirement(value)
	if err != nil {
		return nil, err
	}
	held, err := HoldsKey(ctx, c, user, r.AccessKeyID)
	if err != nil || !held {
		return nil, err
	}
	if err := tagRetirement(ctx, c, user, r); err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("recorded old access key %s as pending retirement (%s)", r.AccessKeyID, r.tagKey())}, nil
}
