package cli

import "context"
import "os"
import "os/signal"
import "syscall"

// SignalContext is a context cancelled by the first SIGINT or SIGTERM. The signals go
// back to their default action before the context is cancelled, so a second one stops
// the process at once: an operator who presses Ctrl-C again during a slow drain (a
// worker finishing its steps, a watch waiting on the server) is not ignored.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
		}
		signal.Stop(sigs)
		cancel()
	}()
	return ctx, cancel
}
