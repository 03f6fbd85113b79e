package provision

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/sesmtp/sesmtp/credfile"
)

// Flow names what a journaled run was doing.
type Flow string

// The flows that change IAM.
const (
	// FlowCreate creates a user, its grant and its key (create, and each
	// sender of a batch).
	FlowCreate Flow = "create"
	// FlowRotateKey adds a key, delivers it, then retires the old keys.
	FlowRotateKey Flow = "rotate-key"
	// FlowRecreate deletes a user and creates it again from its saved configuration.
	FlowRecreate Flow = "rotate-recreate"
	// FlowBatch is a batch's own record: the groups it creates for its senders.
	FlowBatch Flow = "batch"
	// FlowSetup creates sending groups and boundary policies (no key).
	FlowSetup Flow = "setup"
)

// Progress is what a run has done, or is about to do, as its journal keeps
// it: each fact is recorded before the IAM call it announces, so that a
// later run can tell, after a crash, what the dead run may have made. It
// holds no secret.
type Progress struct {
	Flow Flow   `json:"flow"`
	User string `json:"user,omitempty"`
	// UserRunID is the TagRunID value of the user this run is about to
	// create: only a user carrying it is this run's to remove.
	UserRunID string `json:"user_run_id,omitempty"`
	// OldKeys (rotate-key) are the user's keys before the run; they stay
	// until the new key is delivered. Retire is what then happens to them:
	// RetirePending, RetireDeactivate or RetireDelete.
	OldKeys []string `json:"old_keys,omitempty"`
	Retire  string   `json:"retire,omitempty"`
	// RetireTag (rotate-key) is the TagRetire value the run records on the
	// user once the new key is delivered ("" when no old key stays).
	RetireTag string `json:"retire_tag,omitempty"`
	// KeyID is the new access key, recorded as soon as IAM answers.
	KeyID string `json:"key_id,omitempty"`
	// UserID (rotate-key) is IAM's unique id of the user whose key the
	// run rotates: a user of that name with another id was made since,
	// and holds nothing of this run's.
	UserID string `json:"user_id,omitempty"`
	// KeyWindow (rotate-key) is when, by IAM's clock, the run's
	// CreateAccessKey could take effect, recorded before the call: a
	// recovery that does not know the new key's id removes only a key
	// created within it.
	KeyWindow *Window `json:"key_window,omitempty"`
	// Groups are groups this run is about to create (or created).
	Groups []CreatedGroup `json:"groups,omitempty"`
	// Saved (rotate-recreate) is the user's configuration, recorded before
	// the user is deleted, so that the rotation can be finished after a crash.
	Saved *SavedConfig `json:"saved,omitempty"`
	// Budget (create) is how long the run could still make IAM calls when
	// it recorded the user it was about to create (its --timeout left, and
	// windowSlack); zero without a deadline. A recovery that does not know
	// the new key's id counts as the run's only keys created from the
	// user's creation (IAM's CreateDate) to Budget after it.
	Budget time.Duration `json:"budget,omitempty"`
	// Request (create, rotate) is what the run was asked for; nil in the
	// marker of an earlier sesmtp. A recovery removes a user the run
	// created only if it holds no policy or group but the one asked for;
	// a rerun that finds the work delivered compares its own request.
	Request *Request `json:"request,omitempty"`
}

// CreatedGroup is a group a run creates, with the inline policy it puts on it.
type CreatedGroup struct {
	Name   string `json:"name"`
	Policy string `json:"policy"`
}

// What rotate-key does with the old keys once the new one is delivered.
const (
	// RetirePending leaves the old key active and records it in TagRetire
	// for 'sesmtp retire' (phase 1 of a two-phase rotation).
	RetirePending = "pending"
	// RetireDeactivate deactivates it at once and records that in TagRetire.
	RetireDeactivate = "deactivate"
	// RetireDelete deletes it at once (--retire-now).
	RetireDelete = "delete"
)

// Journal is the durable record of one run that changes IAM, and the only
// way its credentials are handed over (journal.Journal implements it, for
// files; see package journal for other targets). Every flow records what
// it is about to do before each IAM change and delivers through it, so
// that after a SIGKILL a later run can prove what was delivered and undo
// only the rest.
type Journal interface {
	// Note applies change to the recorded progress and makes it durable
	// before it returns.
	Note(change func(*Progress)) error
	// Deliver hands the credentials over; once it returns nil, the
	// delivery is provable (a later run finds the key id at the target).
	Deliver(ctx context.Context, creds credfile.Credentials) error
	// Retract undoes this run's delivery, when a later step fails, so that
	// no target names a key IAM does not hold.
	Retract(ctx context.Context) error
}

// noteGroup records that the run is about to create group (or, with
// created false after a refusal, that it did not).
func noteGroup(j Journal, group, policyName string, creating bool) error {
	return j.Note(func(p *Progress) {
		p.Groups = slices.DeleteFunc(p.Groups, func(g CreatedGroup) bool { return g.Name == group })
		if creating {
			p.Groups = append(p.Groups, CreatedGroup{Name: group, Policy: policyName})
		}
	})
}

var errNoJournal = errors.New("internal error: a flow that changes IAM was given no journal")

// Window is a span of IAM's time, to the second as IAM's dates are.
type Window struct {
	From time.Time `json:"from"`
	// Until is zero when no end is known (a run without --timeout).
	Until time.Time `json:"until,omitzero"`
}

// Contains reports whether t lies within w. A window with no end (a run
// with --timeout 0, or a marker of an earlier sesmtp) contains nothing: a
// key made at any later time, by anyone, would otherwise count as the dead
// run's, and recovery would delete a key another run may have delivered.
// Such keys are reported (exit 4), never deleted.
func (w *Window) Contains(t time.Time) bool {
	return w != nil && !w.Until.IsZero() && !t.Before(w.From) && !t.After(w.Until)
}

func (w *Window) String() string {
	if w == nil {
		return "not recorded"
	}
	until := "no end (no --timeout)"
	if !w.Until.IsZero() {
		until = w.Until.UTC().Format(time.RFC3339)
	}
	return w.From.UTC().Format(time.RFC3339) + " to " + until
}

// windowSlack is how long after a run's deadline its last call may still
// take effect at IAM (a call sent just before it), and more than a clock's
// second of rounding.
const windowSlack = time.Minute

// keyWindow is the window of a CreateAccessKey about to be sent under
// ctx: from a second before listedAt (IAM's time of the listing that
// precedes it) to ctx's deadline, on IAM's clock, and windowSlack.
func keyWindow(ctx context.Context, listedAt time.Time) *Window {
	w := &Window{From: listedAt.Add(-time.Second)}
	if deadline, ok := ctx.Deadline(); ok {
		w.Until = listedAt.Add(time.Until(deadline) + windowSlack).Truncate(time.Second)
	}
	return w
}
