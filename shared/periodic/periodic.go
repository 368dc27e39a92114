// Package periodic runs a function on a fixed interval until its context ends: the
// heartbeat, keep-alive, cancel-check and retry loops of the services, written once so
// that each stops the same way and never leaks its ticker.
package periodic

import (
	"context"
	"time"
)

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
