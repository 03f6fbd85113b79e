package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sesmtp/sesmtp/exitcode"
)

// DefaultRetireConcurrency is how many users retire reads and changes at once.
const DefaultRetireConcurrency = 4

// RetireManyInput is what RetireMany needs: the users (or every user with
// a pending retirement under PathPrefix) and how to treat them.
type RetireManyInput struct {
	RetireInput
	// Users are the users to retire the old keys of.
	Users []string
	// AllPending takes every user under PathPrefix that carries TagRetire
	// instead of Users.
	AllPending bool
	PathPrefix string
	// SkipInUse leaves users whose old key is in use (KeyInUseError) as
	// they are, reported, instead of refusing the whole run.
	SkipInUse bool
	// DryRun reads and plans, and changes nothing.
	DryRun bool
	// Concurrency bounds the users read or changed at once (default 4).
	Concurrency int
	// Confirm, if set, is asked with the keys the run would delete before
	// anything changes; false aborts with nothing changed.
	Confirm func(deletes []RetirePlan) bool
}

// RetireOutcome is what retire did (or, in a dry run, would do) for one user.
type RetireOutcome struct {
	RetirePlan
	// Done says the step was taken (false in a dry run, or for a user skipped).
	Done   bool   `json:"done"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Next is the command that takes the retirement further.
	Next string `json:"next,omitempty"`
	err  error
}

// RetireSummary is the outcome of every user of a retire run.
type RetireSummary struct {
	DryRun   bool            `json:"dry_run"`
	Outcomes []RetireOutcome `json:"retirements"`
	// Gone are the users --all-pending listed that were deleted during
	// the run (NoSuchEntity): nothing to retire, so left out.
	Gone []string `json:"users_gone,omitempty"`
}

// Err returns the run's error: nil when every user's step was taken (or
// skipped as asked); for one failed user its own error; else a list with
// the worst exit code (4 over 1).
func (s RetireSummary) Err() error {
	var errs []error
	for _, o := range s.Outcomes {
		if o.err != nil {
			errs = append(errs, o.err)
		}
	}
	return joinUserErrors(errs, "retire failed for")
}

// RetireMany plans every user's retirement, refuses the whole run (exit 2,
// nothing changed) if any user is refused, asks in.Confirm about deletes,
// then takes each user's step, re-reading it first (Retire).
func RetireMany(ctx context.Context, c IAMAPI, in RetireManyInput) (RetireSummary, error) {
	sum := RetireSummary{DryRun: in.DryRun}
	if in.Now.IsZero() {
		in.Now = retireAt(in.now())
	}
	users, err := retireUsers(ctx, c, in)
	if err != nil {
		return sum, err
	}
	sum.Outcomes = make([]RetireOutcome, len(users))
	each(len(users), in.Concurrency, func(i int) {
		plan, err := PlanRetire(ctx, c, users[i], in.RetireInput)
		sum.Outcomes[i] = RetireOutcome{RetirePlan: plan, err: err}
	})
	if in.AllPending {
		sum.Outcomes, sum.Gone = dropNothingPending(sum.Outcomes)
	}
	if err := refusals(sum.Outcomes, in.SkipInUse); err != nil {
		return sum, err
	}
	if in.DryRun {
		return sum, nil
	}
	if deletes := plansOf(sum.Outcomes, RetireStepDelete); in.Confirm != nil && len(deletes) > 0 && !in.Confirm(deletes) {
		return sum, exitcode.UsageError(errors.New("aborted: nothing was changed"))
	}
	each(len(sum.Outcomes), in.Concurrency, func(i int) { sum.Outcomes[i] = takeStep(ctx, c, sum.Outcomes[i], in.RetireInput) })
	if in.AllPending {
		var gone []string
		sum.Outcomes, gone = dropGone(sum.Outcomes)
		sum.Gone = append(sum.Gone, gone...)
	}
	return sum, nil
}

// retireUsers returns the users the run is about.
func retireUsers(ctx context.Context, c IAMAPI, in RetireManyInput) ([]string, error) {
	if !in.AllPending {
		return in.Users, nil
	}
	listed, err := listAllUsers(ctx, c, in.PathPrefix)
	if err != nil {
		return nil, beforeChange(err)
	}
	users := make([]string, 0, len(listed))
	for _, u := range listed {
		users = append(users, aws.ToString(u.UserName))
	}
	return users, nil
}

// dropNothingPending keeps the outcomes of users with a retirement (or a
// refusal); of the others, it returns the users deleted since they were
// listed.
func dropNothingPending(outs []RetireOutcome) ([]RetireOutcome, []string) {
	outs, gone := dropGone(outs)
	kept := outs[:0]
	for _, o := range outs {
		if o.err != nil || o.Step != RetireStepNone {
			kept = append(kept, o)
		}
	}
	return kept, gone
}

// dropGone leaves out, and returns, the users that no longer exist: read
// (or re-read before their step) as NoSuchUserError, nothing changed.
func dropGone(outs []RetireOutcome) ([]RetireOutcome, []string) {
	var gone []string
	kept := outs[:0]
	for _, o := range outs {
		if _, ok := o.err.(*NoSuchUserError); ok { // not one wrapped in a partial step's error
			gone = append(gone, o.UserName)
			continue
		}
		kept = append(kept, o)
	}
	return kept, gone
}

// refusals marks each outcome's plan and returns the refusals of the run:
// any user refused (but one in use, with skipInUse) refuses them all.
func refusals(outs []RetireOutcome, skipInUse bool) error {
	var errs []error
	for i := range outs {
		o := &outs[i]
		var inUse *KeyInUseError
		switch {
		case o.err == nil:
			o.Status, o.Next = describeRetire(o.RetirePlan, false), RetireNext(o.RetirePlan)
		case skipInUse && errors.As(o.err, &inUse):
			o.Status, o.Error, o.err = "in use: skipped", inUse.Error(), nil
			o.LastUsed, o.Next = &inUse.Use, RetireNext(o.RetirePlan)
		default:
			o.Status, o.Error = "refused", o.err.Error()
			errs = append(errs, o.err)
		}
	}
	return joinUserErrors(errs, "retire refused, nothing was changed, for")
}

func plansOf(outs []RetireOutcome, step RetireStep) []RetirePlan {
	var plans []RetirePlan
	for _, o := range outs {
		if o.Step == step && o.Status != "in use: skipped" {
			plans = append(plans, o.RetirePlan)
		}
	}
	return plans
}

// takeStep takes the step o planned (none for a skipped user).
func takeStep(ctx context.Context, c IAMAPI, o RetireOutcome, in RetireInput) RetireOutcome {
	if o.Error != "" || o.Step == RetireStepNone || o.Step == RetireStepWait {
		return o
	}
	plan, err := Retire(ctx, c, o.RetirePlan, in)
	out := RetireOutcome{RetirePlan: plan, Done: err == nil, err: err}
	out.Status, out.Next = describeRetire(plan, err == nil), RetireNext(plan)
	if err != nil {
		out.Status, out.Error = "failed", err.Error()
	}
	return out
}

// userErrors is several users' errors, with the worst exit code.
type userErrors struct {
	what string
	errs []error
}

func (e *userErrors) Error() string {
	lines := make([]string, 0, len(e.errs))
	for _, err := range e.errs {
		lines = append(lines, "  "+err.Error())
	}
	return fmt.Sprintf("%s %d users:\n%s", e.what, len(e.errs), strings.Join(lines, "\n"))
}

// ExitCode implements exitcode.Coder: 4 if any left something behind,
// else 2 if any was refused, else 1.
func (e *userErrors) ExitCode() int {
	code := exitcode.OK
	for _, err := range e.errs {
		c := exitcode.Of(err)
		switch {
		case c == exitcode.LeftBehind || code == exitcode.LeftBehind:
			code = exitcode.LeftBehind
		case c == exitcode.Failed || code == exitcode.Failed:
			code = exitcode.Failed
		default:
			code = max(code, c)
		}
	}
	return code
}

// Unwrap returns the users' errors.
func (e *userErrors) Unwrap() []error { return e.errs }

// joinUserErrors is nil for none, the error itself for one, else a list.
func joinUserErrors(errs []error, what string) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return &userErrors{what: what, errs: errs}
}
