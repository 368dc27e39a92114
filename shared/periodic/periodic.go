// Package periodic runs a function on a fixed interval until its context ends: the
// heartbeat, keep-alive, cancel-check and retry loops and the background sweeps of the
// services, written once so that each stops the same way and never leaks its ticker.
package periodic

import "context"
import "log/slog"
import "time"

// Every calls fn once per interval, the first call one interval after the start, until
// ctx is done or fn returns false. fn gets ctx, so work it starts ends with the loop.
func Every(ctx context.Context, interval time.Duration, fn func(ctx context.Context) (again bool)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ctx.Err() != nil || !fn(ctx) {
			return
		}
	}
}

// Go runs Every in its own goroutine under a context derived from ctx and returns the
// function that stops it; a call of fn in progress sees its context cancelled.
func Go(ctx context.Context, interval time.Duration, fn func(ctx context.Context) (again bool)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	go Every(ctx, interval, fn)
	return cancel
}

// Start says when the first pass of Passes runs.
type Start bool

const (
	// AtOnce runs the first pass when Passes is called, before the first interval.
	AtOnce Start = true
	// AfterInterval runs the first pass one interval after the call (a service that
	// migrates its schema at startup has it by then).
	AfterInterval Start = false
)

// Passes runs pass every interval until ctx ends, the first one as start says: the loop
// of the services' background sweeps, so that each logs its passes the same way. A pass
// that fails is logged as a warning ("<name> pass failed") and tried again at the next
// interval, unless ctx ended, which is the loop stopping, not a failure. A pass that did
// something returns the slog attributes that say what, logged at info ("<name> pass"),
// also when ctx ended part way; one that did nothing returns none and stays out of the
// log.
func Passes(ctx context.Context, interval time.Duration, start Start, log *slog.Logger, name string, pass func(ctx context.Context) (done []any, err error)) {
	once := func(ctx context.Context) bool {
		done, err := pass(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn(name+" pass failed; retrying at the next interval", slog.Any("error", err))
		case len(done) > 0:
			log.Info(name+" pass", done...)
		}
		return true
	}
	if start == AtOnce {
		once(ctx)
	}
	Every(ctx, interval, once)
}
