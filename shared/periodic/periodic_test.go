package periodic

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryStopsWhenFnSaysSo(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	Every(context.Background(), time.Millisecond, func(context.Context) bool {
		return calls.Add(1) < 3
	})
	if got := calls.Load(); got != 3 {
		t.Fatalf("fn called %d times, want 3 (it returned false on the third)", got)
	}
}

func TestEveryReturnsWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	Every(ctx, time.Millisecond, func(context.Context) bool { called = true; return true })
	if called {
		t.Fatal("fn ran after the context had ended")
	}
}

func TestGoStopCancelsTheRunningCall(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	ended := make(chan error, 1)
	stop := Go(context.Background(), time.Millisecond, func(ctx context.Context) bool {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return false
	})
	<-started
	stop()
	select {
	case err := <-ended:
		if err != context.Canceled {
			t.Fatalf("running call saw %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the running call was not cancelled by stop")
	}
}
