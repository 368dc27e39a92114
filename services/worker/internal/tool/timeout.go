package tool

import "context"
import "errors"
import "fmt"
import "time"

// TimeoutError is the cause of a call's context ended by a bound the playbook set: the
// step's spec.timeout (the whole command, retries and pipeline tasks included) or a
// tool's generic `timeout` (one execution of the tool). It lives here, with ErrHandBack,
// because a tool that started something outside the worker (a child execution) must
// tell a bound from a cancel or a hand-back to report it as the timeout it is.
type TimeoutError struct {
	Bound time.Duration
	Step  bool
}

func (e *TimeoutError) Error() string {
	if e.Step {
		return fmt.Sprintf("Step timed out after %s (spec.timeout)", e.Bound)
	}
	return fmt.Sprintf("Tool timed out after %s (timeout)", e.Bound)
}

// Retryable reports whether a retry rule may run the tool again: a tool's bound starts
// afresh with each execution, a step's whole budget is spent.
func (e *TimeoutError) Retryable() bool { return !e.Step }

// BoundOf is the bound that ended ctx, nil when ctx is live or ended otherwise (a
// cancelled execution, a stopping worker).
func BoundOf(ctx context.Context) *TimeoutError {
	if ctx.Err() == nil {
		return nil
	}
	var te *TimeoutError
	if errors.As(context.Cause(ctx), &te) {
		return te
	}
	return nil
}

// TimedOut builds a timeout result: status timeout, kind timeout. Every timeout a tool
// reports, its own or a bound's, is built here, so a step's status and policy rules see
// one outcome whichever limit ran out.
func TimedOut(retryable bool, format string, args ...any) Result {
	return Result{Status: Timeout, Error: fmt.Sprintf(format, args...), Fault: &Fault{Kind: "timeout", Retryable: retryable}}
}
