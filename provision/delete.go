package provision

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sesmtp/sesmtp/exitcode"
)

// DeleteInput is what Delete needs.
type DeleteInput struct {
	UserName string
	// Force deletes a user that holds more than an SMTP user does
	// (AnyUserFlag).
	Force bool
	// IgnoreMissing makes a user that does not exist a success.
	IgnoreMissing bool
	// DryRun inspects and reports, and deletes nothing.
	DryRun bool
	// Confirm, if set, is asked before anything is deleted, with the plan;
	// false aborts with nothing changed.
	Confirm func(plan []string) bool
	// Warn, if set, receives warnings, such as a listing the endpoint does
	// not implement, which is then skipped.
	Warn func(string)
	// BeforeRemove, if set, is called once the user is inspected and the
	// plan confirmed, before anything is removed from IAM; an error stops
	// the delete with the user untouched, and is returned as it is. delete
	// --delete-stored removes the stored credentials there: a run killed
	// after it leaves the user and the tag that names the store, so that
	// running it again finishes both.
	BeforeRemove func(ctx context.Context) error
}

// DeleteResult says what Delete removed (or, with DryRun, would remove).
type DeleteResult struct {
	UserName string   `json:"user_name"`
	Removed  []string `json:"removed"`
	Missing  bool     `json:"missing,omitempty"`
	DryRun   bool     `json:"dry_run,omitempty"`
}

// AnyUserFlag is the override of the commands that refuse a user holding
// more than SMTP credentials (delete and rotate): "go on anyway".
const AnyUserFlag = "--any-user"

// NotSMTPUserError refuses to delete or rotate a user that holds more than
// SMTP credentials, without AnyUserFlag.
type NotSMTPUserError struct {
	UserName string
	Found    []string
	// Command is the refused command: "delete" or "rotate".
	Command string
}

func (e *NotSMTPUserError) Error() string {
	what := "delete it and all of that"
	if e.Command == "rotate" {
		what = "rotate it anyway"
	}
	return fmt.Sprintf("IAM user %q does not look like an SMTP user: it has %s. Nothing was changed; "+
		"check it is the right user, then pass %s to %s", e.UserName, strings.Join(e.Found, ", "), AnyUserFlag, what)
}

// ExitCode implements exitcode.Coder.
func (e *NotSMTPUserError) ExitCode() int { return exitcode.Usage }

// NoSuchUserError reports that the user a command names does not exist;
// nothing was changed.
type NoSuchUserError struct {
	UserName string
	// Command is the command that needed it: "delete" or "rotate".
	Command string
}

func (e *NoSuchUserError) Error() string {
	msg := fmt.Sprintf("no IAM user %q: nothing to %s ('sesmtp list --all-users' shows the users)", e.UserName, e.Command)
	if e.Command == "delete" {
		msg += "; --ignore-missing makes this a success"
	}
	return msg
}

// ExitCode implements exitcode.Coder: a user that does not exist is bad
// input, found before anything changed.
func (e *NoSuchUserError) ExitCode() int { return exitcode.Usage }

// ErrAborted is returned when the operator declines the confirmation.
var ErrAborted = exitcode.UsageError(errors.New("aborted: nothing was deleted"))

// Delete removes an SMTP user and everything IAM requires removed first:
// access keys, inline and managed policies, group memberships, login
// profile, signing certificates, SSH keys, service-specific credentials and
// MFA devices. It refuses a user that looks like more than an SMTP user
// unless in.Force (AnyUserFlag). Running it again after a partial failure
// finishes the job.
func Delete(ctx context.Context, c IAMAPI, in DeleteInput) (DeleteResult, error) {
	res := DeleteResult{UserName: in.UserName, DryRun: in.DryRun}
	if err := CheckName("user name", in.UserName, MaxUserNameLen); err != nil {
		return res, err
	}
	sk := &skips{warn: in.Warn}
	insp, err := inspect(ctx, c, in.UserName, sk)
	if isNoSuchEntity(err) {
		res.Missing = true
		if in.IgnoreMissing {
			return res, nil
		}
		return res, &NoSuchUserError{UserName: in.UserName, Command: "delete"}
	}
	if err != nil {
		return res, beforeChange(err)
	}
	if found := insp.NotSMTP(); len(found) > 0 && !in.Force {
		return res, &NotSMTPUserError{UserName: in.UserName, Found: found, Command: "delete"}
	}
	plan := insp.deletionPlan()
	if in.DryRun {
		res.Removed = plan
		return res, nil
	}
	if in.Confirm != nil && !in.Confirm(plan) {
		return res, ErrAborted
	}
	if in.BeforeRemove != nil {
		if err := in.BeforeRemove(ctx); err != nil {
			return res, err
		}
	}
	p := &purger{c: c, user: in.UserName, skips: sk}
	err = p.purge(ctx, purgeAll)
	res.Removed = p.done
	if err != nil {
		if len(p.done) == 0 {
			return res, beforeChange(err)
		}
		return res, &LeftBehindError{Err: err, UndoErr: errors.New("the delete stopped part way"), Undone: p.done,
			Remains: []string{fmt.Sprintf("user %q with what was not yet removed", in.UserName)},
			Cleanup: DeleteCommand(in.UserName) + " (running it again finishes the job)"}
	}
	return res, nil
}

// deletionPlan lists what deleting the inspected user removes.
func (in Inspection) deletionPlan() []string {
	var plan []string
	for _, k := range in.AccessKeys {
		plan = append(plan, "access key "+aws.ToString(k.AccessKeyId))
	}
	for _, name := range slices.Sorted(maps.Keys(in.InlinePolicies)) {
		plan = append(plan, fmt.Sprintf("inline policy %q", name))
	}
	for _, g := range append(append([]string{}, in.SendingGroups...), in.OtherGroups...) {
		plan = append(plan, fmt.Sprintf("membership of group %q", g))
	}
	for _, arn := range in.AttachedPolicies {
		plan = append(plan, "managed policy "+arn)
	}
	if in.LoginProfile {
		plan = append(plan, "console password (login profile)")
	}
	plan = append(plan, in.Others...)
	return append(plan, fmt.Sprintf("user %q", aws.ToString(in.User.UserName)))
}
