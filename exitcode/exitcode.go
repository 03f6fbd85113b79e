// Package exitcode holds sesmtp's exit codes and how an error carries one.
package exitcode

import "errors"

// The exit codes every sesmtp command uses.
const (
	// OK: the command did what it was asked.
	OK = 0
	// Failed: the operation failed and nothing was left changed.
	Failed = 1
	// Usage: bad usage or input; nothing was attempted.
	Usage = 2
	// Rejected: the SMTP server rejected the credentials (verify).
	Rejected = 3
	// LeftBehind: the operation failed and left something behind, which the
	// message lists together with the command that removes it.
	LeftBehind = 4
)

// Coder is implemented by errors that know their exit code.
type Coder interface {
	ExitCode() int
}

// Error attaches an exit code to an error.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// ExitCode implements Coder.
func (e *Error) ExitCode() int { return e.Code }

// UsageError marks err as bad usage or input (exit 2). It returns nil for nil.
func UsageError(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: Usage, Err: err}
}

// Of returns the exit code for err: OK for nil, the code of the first
// Coder in its chain, else Failed.
func Of(err error) int {
	if err == nil {
		return OK
	}
	var c Coder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return Failed
}
