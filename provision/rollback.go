package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	msg := e.Err.Error()
	if strings.Contains(msg, "\n") {
		// A multi-line failure (a list of causes) gets the outcome on a
		// line of its own, not glued to its last line.
		if len(e.Undone) == 0 {
			return msg + "\nNothing was changed."
		}
		return fmt.Sprintf("%s\nRolled back: nothing was left changed (removed %s).", msg, strings.Join(e.Undone, ", "))
	}
	if len(e.Undone) == 0 {
		return msg + "; nothing was changed"
	}
	return fmt.Sprintf("%s; rolled back, nothing was left changed (removed %s)", msg, strings.Join(e.Undone, ", "))
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
	return fmt.Sprintf("sesmtp delete --user %s %s --yes", user, AnyUserFlag)
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
	var unconfirmed *UnconfirmedError
	if errors.As(cause, &unconfirmed) {
		return unconfirmed // done and delivered: nothing to undo
	}
	var conflict *ConflictError
	if errors.As(cause, &conflict) {
		// Another process removed this run's key: retract the credentials
		// that name it, and leave the user, which is that process's now.
		conflict.RetractErr = r.in.Journal.Retract(ctx)
		conflict.Retracted = conflict.RetractErr == nil
		return conflict
	}
	if left := keepPartial(cause, fmt.Sprintf("user %q and its access key %s", r.in.UserName, r.res.AccessKeyID)); left != nil {
		return left
	}
	var undone []string
	if r.delivered {
		if err := r.in.Journal.Retract(ctx); err != nil {
			return r.leftBehind(cause, fmt.Errorf("remove the credentials file: %w", err), nil)
		}
		undone = append(undone, "the credentials file")
	}
	// Only a user carrying this run's id is this run's to remove: another
	// run (sesmtp rotate --strategy recreate) may have replaced it.
	present, ours, err := r.ownership(ctx)
	if err != nil && r.userMaybe {
		return r.leftBehind(cause, err, nil)
	}
	if err == nil && (present || r.userMaybe) && !ours {
		// The user is another run's now, but a key this run made on it is
		// still this run's, and nobody has its secret.
		if present && r.res.AccessKeyID != "" {
			removed, err := DeleteKeys(ctx, r.c, r.in.UserName, []string{r.res.AccessKeyID})
			undone = append(undone, removed...)
			if err != nil {
				return r.leftBehind(cause, err, undone)
			}
		}
		return &RolledBackError{Err: cause, Undone: undone}
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
				Cleanup: deleteGroupCommand(r.in.Group, r.in.policyName())}
		}
	}
	return &RolledBackError{Err: cause, Undone: undone}
}

// ownership reports whether the user exists and carries this run's id.
// IAM is eventually consistent: a user an unanswered CreateUser made may
// not show yet. The IAM client sesmtp builds (awscfg.IAM) retries a
// NoSuchEntity about a user it sent CreateUser for until its propagation
// wait runs out, so the NoSuchEntity seen here is final, not transient.
func (r *createRun) ownership(ctx context.Context) (present, ours bool, err error) {
	u, err := getUser(ctx, r.c, r.in.UserName)
	if isNoSuchEntity(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return true, tagValue(u.Tags, TagRunID) == r.in.RunID, nil
}

// leftBehind is the exit-4 error of a rollback that stopped: it lists
// what remains (not what it did remove) and one command that removes all
// of it, the group this run created included.
func (r *createRun) leftBehind(cause, undoErr error, undone []string) error {
	remains := []string{fmt.Sprintf("user %q", r.in.UserName)}
	if id := r.res.AccessKeyID; id != "" && !slices.Contains(undone, "access key "+id) {
		remains = append(remains, "possibly its access key "+id+" (no file holds its secret)")
	}
	cleanup := DeleteCommand(r.in.UserName)
	if r.res.GroupCreated {
		remains = append(remains, fmt.Sprintf("group %q, which this run created", r.in.Group))
		cleanup += " && " + deleteGroupCommand(r.in.Group, r.in.policyName())
	}
	return &LeftBehindError{Err: cause, UndoErr: undoErr, Undone: undone, Remains: remains, Cleanup: cleanup}
}

// deleteGroupCommand is the aws-cli command that removes a group a run
// created, with the policy it put on it (IAM refuses while it has members).
func deleteGroupCommand(group, policyName string) string {
	return fmt.Sprintf("aws iam delete-group-policy --group-name %s --policy-name %s && aws iam delete-group --group-name %s",
		group, policyName, group)
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
	pols, err := c.ListGroupPolicies(ctx, &iam.ListGroupPoliciesInput{GroupName: aws.String(group)})
	if err != nil {
		return nil, awsError("ListGroupPolicies", fmt.Sprintf("of group %q", group), err)
	}
	if slices.ContainsFunc(pols.PolicyNames, func(n string) bool { return n != policyName }) {
		return nil, nil // someone else has configured it since: theirs to keep
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
