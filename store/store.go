package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sesmtp/sesmtp/exitcode"
)

// The tags sesmtp puts on every secret and parameter it creates; a store
// is written over, retracted or deleted only when they name sesmtp and the
// same IAM user.
const (
	TagManagedBy   = "sesmtp:managed-by"
	ManagedByValue = "sesmtp"
	TagIAMUser     = "sesmtp:iam-user"
)

// Store is one store target bound to its AWS client.
//
// Deliver and Retract form a transaction with the rest of a run: a key is
// delivered only once Deliver returned without error; if Deliver fails (a
// call whose answer was lost may still have taken effect) or a later step
// of the run fails, Retract(keyID) undoes exactly what Deliver did. Retract
// reads the store rather than remembering, so a recovery after a crash
// calls it just the same; it is idempotent and leaves alone anything that
// does not hold keyID (a later delivery, another run's work).
type Store interface {
	// Target is where the store writes.
	Target() Target
	// Deliver writes p: a new secret or parameter tagged with p.IAMUser, or,
	// when sesmtp already wrote one for the same IAM user, a new version.
	// It refuses (ConflictError, exit 2) anything sesmtp did not make or
	// made for another user, before changing anything.
	Deliver(ctx context.Context, p Payload) (Receipt, error)
	// Retract undoes the delivery of keyID (see Store).
	Retract(ctx context.Context, keyID string) (Retraction, error)
	// Describe reads what the store holds now, without decrypting it.
	Describe(ctx context.Context) (State, error)
	// Holds reports whether the store holds the credentials of keyID now:
	// the question a recovery asks to decide whether a key was delivered.
	Holds(ctx context.Context, keyID string) (bool, error)
	// Delete removes what sesmtp stored for iamUser (delete --delete-stored):
	// Secrets Manager schedules deletion after a recovery window; SSM
	// deletes at once. Anything not sesmtp's or another user's is refused.
	Delete(ctx context.Context, iamUser string, opts DeleteOptions) (Deletion, error)
}

// Options configure a Store.
type Options struct {
	// KMSKeyID encrypts a new secret or parameter (key id, key ARN, alias
	// name or alias ARN); empty means the AWS managed key (aws/secretsmanager,
	// alias/aws/ssm). An existing secret keeps its key (Secrets Manager
	// encrypts every version with the secret's key); an overwritten
	// parameter keeps the key of its newest version unless KMSKeyID is set.
	KMSKeyID string
}

// Clients are the SDK clients a store may need; only the one of the
// target's service must be set.
type Clients struct {
	SecretsManager SecretsManagerAPI
	SSM            SSMAPI
}

// New binds target t to its client.
func New(t Target, c Clients, opts Options) (Store, error) {
	switch t.Kind {
	case SecretsManager:
		if c.SecretsManager == nil {
			return nil, errors.New("no Secrets Manager client for " + t.String())
		}
		return &secretsManagerStore{api: c.SecretsManager, target: t, opts: opts}, nil
	case SSMParameter, SSMPath:
		if c.SSM == nil {
			return nil, errors.New("no SSM client for " + t.String())
		}
		return &ssmStore{api: c.SSM, target: t, opts: opts}, nil
	}
	return nil, fmt.Errorf("unknown store kind %d", t.Kind)
}

// Outcome says what happened to one secret or parameter.
type Outcome string

// The outcomes of Deliver, Retract and Delete.
const (
	// Created: Deliver made a new secret or parameter.
	Created Outcome = "created"
	// Updated: Deliver wrote a new version of one sesmtp wrote before for
	// the same IAM user (a rotation).
	Updated Outcome = "updated"
	// Unchanged: it already held the key (a re-run); nothing was written.
	Unchanged Outcome = "unchanged"
	// Deleted: Retract deleted what Deliver created, or Delete removed it.
	Deleted Outcome = "deleted"
	// Restored: Retract made the previous value current again.
	Restored Outcome = "restored"
	// ScheduledDeletion: Delete scheduled a secret's deletion.
	ScheduledDeletion Outcome = "scheduled for deletion"
	// Untouched: Retract or Delete found nothing of the key's or user's there.
	Untouched Outcome = "untouched"
)

// Item is what happened to one secret or parameter.
type Item struct {
	// Name is the secret or parameter name.
	Name    string
	Outcome Outcome
	// ARN is the secret's ARN (empty for parameters).
	ARN string
	// Version is the secret's version id or the parameter's version number.
	Version string
	// DeletionDate is when a scheduled deletion happens.
	DeletionDate time.Time
}

// Receipt is what Deliver did, one Item per secret or parameter written.
// After an error it lists the writes that succeeded; a write whose answer
// was lost is not listed but may have happened (Retract finds it).
type Receipt struct {
	Target Target
	KeyID  string
	Items  []Item
	// Attempted says Deliver got as far as a write call: after an error,
	// something may have been written (Retract finds it). False after an
	// error means nothing was written.
	Attempted bool
}

// Retraction is what Retract did.
type Retraction struct {
	Target Target
	KeyID  string
	Items  []Item
}

// Changed reports whether Retract changed anything.
func (r Retraction) Changed() bool { return changed(r.Items) }

// Deletion is what Delete did.
type Deletion struct {
	Target Target
	Items  []Item
	// Attempted says Delete got as far as a deleting call: after an
	// error, something may have been removed. False after an error means
	// nothing was.
	Attempted bool
}

// Changed reports whether Delete changed anything.
func (d Deletion) Changed() bool { return changed(d.Items) }

func changed(items []Item) bool {
	for _, it := range items {
		if it.Outcome != Untouched && it.Outcome != Unchanged {
			return true
		}
	}
	return false
}

// State is what a store target holds now.
type State struct {
	Target Target
	// Exists is false when there is no secret or parameter.
	Exists bool
	// Managed is true when sesmtp made it; IAMUser is the user it holds.
	Managed bool
	IAMUser string
	// KeyID is the access key id the store holds now ("" if none or unknown).
	KeyID string
	// ARN is the secret's ARN (empty for parameters).
	ARN string
	// KMSKeyID is the KMS key of the secret or of the newest parameter version.
	KMSKeyID string
	// DeletionDate is when a scheduled deletion happens (Secrets Manager).
	DeletionDate time.Time
}

// DeleteOptions change what Delete does.
type DeleteOptions struct {
	// RecoveryWindowDays is how long a deleted secret can be restored,
	// 7-30 (0 means 30, Secrets Manager's default). SSM has no recovery.
	RecoveryWindowDays int
}

// DefaultRecoveryWindowDays is Secrets Manager's default recovery window.
const DefaultRecoveryWindowDays = 30

// CheckRecoveryWindow reports whether days is a recovery window Secrets
// Manager accepts (7-30; 0 for the default) as a usage error.
func CheckRecoveryWindow(days int) error {
	if days != 0 && (days < 7 || days > 30) {
		return exitcode.UsageError(fmt.Errorf("the recovery window is %d days; Secrets Manager allows 7 to 30", days))
	}
	return nil
}
