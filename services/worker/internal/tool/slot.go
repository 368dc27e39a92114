package tool

import "context"

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
