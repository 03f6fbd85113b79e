package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sesmtp/sesmtp/exitcode"
)

// rollbackTimeout bounds a rollback, which runs even after Ctrl-C or
// --timeout: room to wait for IAM to show what the run made (awscfg's
// propagation wait, 2 minutes by default) and then to remove it.
const rollbackTimeout = 5 * time.Minute

// RolledBackError reports a flow that failed and was fully undone.
type RolledBackError struct {
	// Err is the failure.
	Err error
	// Undone lists what the rollback removed, in order.
	Undone []string
}

func (e *RolledBackError) Error() string {
	if len(e.Undone) == 0 {
		return e.Err.Error() + "; nothing was changed"
	}
	return fmt.Sprintf("%v; rolled back, nothing was left changed (removed %s)", e.Err, strings.Join(e.Undone, ", "))
}

// Unwrap returns the failure.
func (e *RolledBackError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder: 2 for a caller problem before any
// change, 3 when SMTP rejected the new credentials, else 1.
func (e *RolledBackError) ExitCode() int {
	if isCallerError(e.Err) && len(e.Undone) == 0 {
		return exitcode.Usage
	}
	if exitcode.Of(e.Err) == exitcode.Rejected {
		return exitcode.Rejected
	}
	return exitcode.Failed
}

// LeftBehindError reports a flow that failed and could not undo everything.
type LeftBehindError struct {
	// Err is the failure; UndoErr why the rollback stopped.
	Err, UndoErr error
	// Undone lists what was removed; Remains what is left.
	Undone, Remains []string
	// Cleanup is the command that removes what remains.
	Cleanup string
}

func (e *LeftBehindError) Error() string {
	msg := fmt.Sprintf("%v; the rollback failed too (%v). Left behind: %s. Remove it with: %s",
		e.Err, e.UndoErr, strings.Join(e.Remains, ", "), e.Cleanup)
	if len(e.Undone) > 0 {
		msg += fmt.Sprintf(" (already removed: %s)", strings.Join(e.Undone, ", "))
	}
	return msg
}

// Unwrap returns the failure.
func (e *LeftBehindError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *LeftBehindError) ExitCode() int { return exitcode.LeftBehind }

// DeleteCommand is the sesmtp command that removes user and all it holds.
func DeleteCommand(user string) string {
	return fmt.Sprintf("sesmtp delete --user %s --force --yes", user)
}

// rollback undoes what the run created, with a fresh context so that it
// runs after Ctrl-C or a timeout too, and returns the error to report.
func (r *createRun) rollback(ctx context.Context, cause error) error {
	var exists *ExistsError
	if errors.As(cause, &exists) || !r.userCreated && !r.userMaybe {
		if exists != nil {
			return exists
		}
		return &RolledBackError{Err: cause}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	var undone []string
	if r.delivered && r.in.Retract != nil {
		if err := r.in.Retract(); err != nil {
			return r.leftBehind(cause, fmt.Errorf("remove the credentials file: %w", err), nil)
		}
		undone = append(undone, "the credentials file")
	}
	if r.userMaybe {
		ours, err := r.ownsUser(ctx)
		if err != nil {
			return r.leftBehind(cause, err, nil)
		}
		if !ours {
			return &RolledBackError{Err: cause}
		}
	}
	p := &purger{c: r.c, user: r.in.UserName}
	if err := p.purge(ctx, purgeOwn); err != nil {
		return r.leftBehind(cause, err, append(undone, p.done...))
	}
	undone = append(undone, p.done...)
	if r.res.GroupCreated {
		removed, err := deleteGroupIfEmpty(ctx, r.c, r.in.Group, r.in.policyName())
		undone = append(undone, removed...)
		if err != nil {
			return &LeftBehindError{Err: cause, UndoErr: err, Undone: undone,
				Remains: []string{fmt.Sprintf("group %q", r.in.Group)},
				Cleanup: fmt.Sprintf("aws iam delete-group-policy --group-name %s --policy-name %s; aws iam delete-group --group-name %s",
					r.in.Group, r.in.policyName(), r.in.Group)}
		}
	}
	return &RolledBackError{Err: cause, Undone: undone}
}

// ownsUser reports whether the user exists and carries this run's id.
// IAM is eventually consistent: a user an unanswered CreateUser made may
// not show yet. The IAM client sesmtp builds (awscfg.IAM) retries a
// NoSuchEntity about a user it sent CreateUser for until its propagation
// wait runs out, so the NoSuchEntity seen here is final, not transient.
func (r *createRun) ownsUser(ctx context.Context) (bool, error) {
	u, err := r.c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(r.in.UserName)})
	if isNoSuchEntity(err) {
		return false, nil
	}
	if err != nil {
		return false, awsError("GetUser", fmt.Sprintf("user %q", r.in.UserName), err)
	}
	return tagValue(u.User.Tags, TagRunID) == r.in.RunID, nil
}

func (r *createRun) leftBehind(cause, undoErr error, undone []string) error {
	remains := []string{fmt.Sprintf("user %q", r.in.UserName)}
	if r.res.AccessKeyID != "" {
		remains = append(remains, "possibly its access key "+r.res.AccessKeyID+" (no file holds its secret)")
	}
	if r.res.GroupCreated {
		remains = append(remains, fmt.Sprintf("group %q", r.in.Group))
	}
	return &LeftBehindError{Err: cause, UndoErr: undoErr, Undone: undone, Remains: remains, Cleanup: DeleteCommand(r.in.UserName)}
}

// deleteGroupIfEmpty deletes a group this run created, with its policy,
// unless another user has joined it meanwhile.
func deleteGroupIfEmpty(ctx context.Context, c IAMAPI, group, policyName string) ([]string, error) {
	g, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String(group)})
	if isNoSuchEntity(err) {
		return nil, nil
	}
	if err != nil {
		return nil, awsError("GetGroup", fmt.Sprintf("%q", group), err)
	}
	if len(g.Users) > 0 {
		return nil, nil // in use by others now: theirs to keep
	}
	var done []string
	if _, err := c.DeleteGroupPolicy(ctx, &iam.DeleteGroupPolicyInput{GroupName: aws.String(group), PolicyName: aws.String(policyName)}); err != nil && !isNoSuchEntity(err) {
		return done, awsError("DeleteGroupPolicy", fmt.Sprintf("%q of group %q", policyName, group), err)
	}
	done = append(done, fmt.Sprintf("group policy %q", policyName))
	if _, err := c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String(group)}); err != nil && !isNoSuchEntity(err) {
		return done, awsError("DeleteGroup", fmt.Sprintf("%q", group), err)
	}
	return append(done, fmt.Sprintf("group %q", group)), nil
}
