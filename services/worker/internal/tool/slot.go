package tool

import "context"
import "errors"

// Slot is the worker's concurrency slot a command runs in.
type Slot interface {
	// Release gives the slot back while the command only waits on something outside
	// this worker; the returned function takes it back (without blocking: the worker
	// may briefly run more than its limit while the command reports its outcome).
	// Release may keep the slot (a no-op pair) when too many commands wait already.
	Release() (reacquire func())
}

type slotKey struct{}

// WithSlot returns ctx carrying the command's slot.
func WithSlot(ctx context.Context, s Slot) context.Context {
	return context.WithValue(ctx, slotKey{}, s)
}

// ReleaseSlot gives the command's slot back for a wait and returns the function that
// takes it back; call that before doing more work. A tool that waits for another
// command (a playbook step waiting for its child) must release its slot: otherwise
// as many parents as the worker has slots wait for children no slot is left to run.
// Without a slot in ctx it does nothing.
func ReleaseSlot(ctx context.Context) (reacquire func()) {
	if s, ok := ctx.Value(slotKey{}).(Slot); ok && s != nil {
		return s.Release()
	}
	return func() {}
}

// ErrHandBack is the cause (context.Cause) of a call's context when the command is
// stopped to be run again from the start elsewhere or later: the worker is shutting down,
// or the control plane did not take the command's start. A tool must then leave what it
// started outside the worker running (a child execution) for the next run to adopt;
// any other cancellation (the execution was cancelled) may stop it.
var ErrHandBack = errors.New("the command is handed back to run again")
