package testkit

import "context"
import "net"
import "testing"
import "time"

// StartRun runs a binary's Run in the test's process until the test ends: run gets a
// context cancelled at cleanup, ready is the channel its Hooks.Ready reports the bound
// address on. It fails the test when Run returns before it listens, and at cleanup when
// Run does not return within 30 s of the cancel.
func StartRun(t testing.TB, run func(context.Context) error, ready <-chan net.Addr) net.Addr {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	stopped := make(chan struct{})
	go func() { runErr = run(ctx); close(stopped) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Error("the service did not stop within 30s")
		}
	})
	select {
	case addr := <-ready:
		return addr
	case <-stopped:
		t.Fatalf("the service did not start: %v", runErr)
	case <-time.After(30 * time.Second):
		t.Fatal("the service did not start within 30s")
	}
	return nil
}
