package provision

import (
	"context"
	"errors"
	"fmt"

	"github.com/sesmtp/sesmtp/exitcode"
)

// ConflictError reports that another process removed the key a run had
// just made and delivered, before the run finished (a concurrent sesmtp
// delete or rotate of the same user): exit 0 would be a lie. The run
// retracts its credentials, which name a deleted key, and leaves the user
// as the other process made it: that is the other process's work now.
type ConflictError struct {
	UserName, AccessKeyID string
	// UserGone says the user itself no longer exists.
	UserGone bool
	// Retracted says the credentials were removed from their target; else
	// RetractErr says why not.
	Retracted  bool
	RetractErr error
}

func (e *ConflictError) Error() string {
	what := fmt.Sprintf("IAM user %q no longer holds access key %s", e.UserName, e.AccessKeyID)
	if e.UserGone {
		what = fmt.Sprintf("IAM user %q no longer exists, nor its access key %s", e.UserName, e.AccessKeyID)
	}
	msg := what + ", which this run had just created and delivered: another process (a concurrent " +
		"'sesmtp delete' or 'sesmtp rotate' of the same user?) changed the user before this run finished. "
	switch {
	case e.Retracted:
		msg += "The credentials, which named a deleted key, were removed"
	case e.RetractErr != nil:
		msg += fmt.Sprintf("Removing the credentials, which name a deleted key, failed too (%v): remove them by hand", e.RetractErr)
	}
	return msg + "; this run leaves the user as that process made it"
}

// ExitCode implements exitcode.Coder: the run failed, and nothing it
// made is left (the user is now the other process's).
func (e *ConflictError) ExitCode() int {
	if e.RetractErr != nil {
		return exitcode.LeftBehind
	}
	return exitcode.Failed
}

// confirmKey is a run's last IAM call: it checks that user still holds
// the key the run made, so that exit 0 tells the truth.
func confirmKey(ctx context.Context, c IAMAPI, user, id string) error {
	keys, err := listKeys(ctx, c, user)
	if isNoSuchEntity(err) {
		return &ConflictError{UserName: user, AccessKeyID: id, UserGone: true}
	}
	if err != nil {
		return err
	}
	for _, k := range keyIDsOf(keys) {
		if k == id {
			return nil
		}
	}
	return &ConflictError{UserName: user, AccessKeyID: id}
}

// UnconfirmedError reports a run that did everything (the credentials
// are delivered) but whose last check, that IAM still holds the key,
// failed: sesmtp cannot say the key is there, and must not undo delivered
// credentials on a failed read. It is exit 4, naming what to check.
type UnconfirmedError struct {
	UserName, AccessKeyID string
	Err                   error
}

func (e *UnconfirmedError) Error() string {
	return fmt.Sprintf("the new credentials of IAM user %q (access key %s) are written, but checking that IAM still holds the key failed: %v. "+
		"Left behind: the user and key, delivered. Remove it with: nothing to remove if 'sesmtp list' shows key %s on %s; if it does not, run the command again",
		e.UserName, e.AccessKeyID, e.Err, e.AccessKeyID, e.UserName)
}

// Unwrap returns the failure.
func (e *UnconfirmedError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *UnconfirmedError) ExitCode() int { return exitcode.LeftBehind }

// finalCheck is confirmKey as a run's last step: a conflict stays a
// conflict (the caller retracts); any other failure is an UnconfirmedError.
func finalCheck(ctx context.Context, c IAMAPI, user, id string) error {
	err := confirmKey(ctx, c, user, id)
	var conflict *ConflictError
	if err == nil || errors.As(err, &conflict) {
		return err
	}
	return &UnconfirmedError{UserName: user, AccessKeyID: id, Err: err}
}

// UserGoneError reports a key rotation whose user another process deleted
// (a concurrent 'sesmtp delete' or 'rotate --strategy recreate') before
// this run made its key: IAM refused CreateAccessKey with NoSuchEntity, so
// the run made nothing, and there is nothing of it to remove.
type UserGoneError struct {
	UserName string
}

func (e *UserGoneError) Error() string {
	return fmt.Sprintf("IAM user %q no longer exists: another process (a concurrent 'sesmtp delete' or 'sesmtp rotate --strategy "+
		"recreate' of the same user?) deleted it while this run was rotating its key, before the new key was made; nothing was changed",
		e.UserName)
}

// ExitCode implements exitcode.Coder: the run failed, and made nothing.
func (e *UserGoneError) ExitCode() int { return exitcode.Failed }
