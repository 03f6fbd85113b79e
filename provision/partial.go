package provision

import (
	"errors"
	"fmt"

	"github.com/sesmtp/sesmtp/exitcode"
)

// PartialDeliveryError is a Journal.Deliver that failed part way and could
// not take back what it had written: the target (a secret store, say) may
// hold the new key's credentials, in part or whole. Deleting the key would
// leave the target naming a key IAM does not hold, so the flow keeps it
// (its secret is out there) and exits 4; the journal recorded the
// retraction, and the next run on the same target finishes it and removes
// the key.
type PartialDeliveryError struct {
	// Target names where the credentials went.
	Target string
	KeyID  string
	// Err is the delivery's failure; RetractErr why taking it back failed.
	Err, RetractErr error
}

func (e *PartialDeliveryError) Error() string {
	return fmt.Sprintf("%v; taking back what was written failed too: %v", e.Err, e.RetractErr)
}

// Unwrap returns the delivery's failure.
func (e *PartialDeliveryError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *PartialDeliveryError) ExitCode() int { return exitcode.LeftBehind }

// keepPartial returns the error to report when cause is a partial
// delivery, else nil: what is left (what, e.g. `user "u" and its access
// key K`) stays, and the same command run again finishes the rollback.
func keepPartial(cause error, what string) *LeftBehindError {
	var partial *PartialDeliveryError
	if !errors.As(cause, &partial) {
		return nil
	}
	return &LeftBehindError{Err: cause, UndoErr: errors.New("the key stays while " + partial.Target + " may hold its credentials"),
		Remains: []string{what + ", whose credentials " + partial.Target + " may hold (in part)"},
		Cleanup: "the same command, run again once the cause is fixed: it takes the credentials back from " + partial.Target +
			" first, then removes the key"}
}
