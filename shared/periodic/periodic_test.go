package periodic

import "bytes"
import "context"
import "errors"
import "log/slog"
import "sync/atomic"
import "testing"
import "time"

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

func TestPassesLogsFailuresAndWorkDone(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	Passes(ctx, time.Millisecond, AtOnce, log, "sweep", func(ctx context.Context) ([]any, error) {
		calls++
		switch calls {
		case 1:
			return nil, errors.New("boom")
		case 2:
			return []any{slog.Int("fixed", 2)}, nil
		case 3:
			return nil, nil
		default:
			// The loop is stopping: the error it causes is not a failure to report.
			cancel()
			return nil, ctx.Err()
		}
	})
	want := `level=WARN msg="sweep pass failed; retrying at the next interval" error=boom
level=INFO msg="sweep pass" fixed=2
`
	if calls != 4 || buf.String() != want {
		t.Fatalf("after %d passes the log is\n%s\nwant (after 4)\n%s", calls, buf.String(), want)
	}
}

func TestPassesStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		start Start
		want  int
	}{
		{"at once runs before the first interval", AtOnce, 1},
		{"after interval waits for it", AfterInterval, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			calls := 0
			Passes(ctx, time.Hour, tc.start, slog.New(slog.DiscardHandler), "sweep", func(context.Context) ([]any, error) {
				calls++
				return nil, nil
			})
			if calls != tc.want {
				t.Fatalf("%d passes ran with the context ended, want %d", calls, tc.want)
			}
		})
	}
}
