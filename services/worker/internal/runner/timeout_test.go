package runner

import "context"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync/atomic"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/services/worker/internal/tools/httptool"
import "github.com/noetl/controlplane/services/worker/internal/tools/shell"

// blocker blocks until its context ends, then fails as a cancelled tool does, keeping
// what it learnt as data.
type blocker struct{}

func (blocker) Run(ctx context.Context, _ tool.Call) tool.Result {
	<-ctx.Done()
	return tool.Failed("cancelled", false, "stopped").WithData(map[string]any{"partial": true})
}

// deaf ignores its context: it returns only when the test ends.
type deaf struct{ release chan struct{} }

func (d deaf) Run(context.Context, tool.Call) tool.Result {
	<-d.release
	return tool.Result{Status: tool.Success}
}

// A step's spec.timeout bounds the whole run and a tool's `timeout` each execution, the
// smaller first; either ends the step as a timeout naming the bound, whatever the tool
// made of its cancelled context (docs/worker.md, "Timeouts").
func TestTimeoutsBoundEveryTool(t *testing.T) {
	t.Parallel()
	retryOnTimeout := rules(map[string]any{"when": "{{ output.error.kind == 'timeout' }}", "then": map[string]any{"do": "retry", "attempts": int64(2)}})
	cases := []struct {
		name      string
		kind      string
		cfg       any
		stepBound any
		status    tool.Status
		err       string
		retryable bool
		attempts  int
		data      bool // the tool's data is kept
	}{
		{"tool timeout", "block", map[string]any{"timeout": 0.05}, nil,
			tool.Timeout, "Tool timed out after 50ms (timeout)", true, 1, true},
		{"tool timeout as a duration", "block", map[string]any{"timeout": "50ms"}, nil,
			tool.Timeout, "Tool timed out after 50ms (timeout)", true, 1, true},
		{"step timeout", "block", map[string]any{}, 0.05,
			tool.Timeout, "Step timed out after 50ms (spec.timeout)", false, 1, true},
		{"the step's bound is smaller", "block", map[string]any{"timeout": "10s"}, 0.05,
			tool.Timeout, "Step timed out after 50ms (spec.timeout)", false, 1, true},
		{"the tool's bound is smaller", "block", map[string]any{"timeout": "50ms"}, int64(10),
			tool.Timeout, "Tool timed out after 50ms (timeout)", true, 1, true},
		{"a tool timeout is retried under retry rules", "block", map[string]any{"timeout": "50ms", "spec": retryOnTimeout}, nil,
			tool.Timeout, "Tool timed out after 50ms (timeout)", true, 2, true},
		{"the step timeout ends the retries", "block", map[string]any{"spec": retryOnTimeout}, 0.05,
			tool.Timeout, "Step timed out after 50ms (spec.timeout)", false, 1, true},
		{"a tool that ignores its context", "deaf", map[string]any{"timeout": "50ms"}, nil,
			tool.Timeout, "Tool timed out after 50ms (timeout)", true, 1, false},
		{"a pipeline task under the step timeout", "task_sequence", []any{
			map[string]any{"a": map[string]any{"kind": "noop", "result": "ok"}},
			map[string]any{"b": map[string]any{"kind": "block"}},
		}, "50ms", tool.Timeout, "task[1] 'b': Step timed out after 50ms (spec.timeout)", false, 2, true},
		{"a shell process is killed", "shell", map[string]any{"command": "sleep 30", "timeout": "100ms"}, nil,
			tool.Timeout, "Tool timed out after 100ms (timeout)", true, 1, true},
		{"a tool timeout that does not parse", "block", map[string]any{"timeout": "soon"}, nil,
			tool.Error, `Configuration error: block: timeout must be`, false, 1, false},
		{"a step timeout that does not parse", "block", map[string]any{}, "soon",
			tool.Error, `Configuration error: step_timeout_seconds must be`, false, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rn, _, _ := newRunner(t)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			rn.tools["block"], rn.tools["deaf"], rn.tools["shell"] = blocker{}, deaf{release}, shell.New()
			if c.kind == "deaf" {
				// Only the tool that never returns is given up on; the others keep the
				// default grace, so a loaded machine does not make their result
				// the runner's empty one.
				rn.TimeoutGrace = 10 * time.Millisecond
			}
			s := step(c.kind, c.cfg, map[string]any{})
			s.Timeout = c.stepBound
			start := time.Now()
			out := rn.Run(context.Background(), s)
			if took := time.Since(start); took > 10*time.Second {
				t.Fatalf("took %s: the bound did not hold", took)
			}
			r := out.Result
			if r.Status != c.status || !strings.HasPrefix(r.Error, c.err) || out.Attempts != c.attempts {
				t.Fatalf("got %s %q after %d attempts; want %s %q after %d", r.Status, r.Error, out.Attempts, c.status, c.err, c.attempts)
			}
			if c.status == tool.Timeout && (r.Fault == nil || r.Fault.Kind != "timeout" || r.Fault.Retryable != c.retryable) {
				t.Fatalf("fault %+v, want kind timeout, retryable %v", r.Fault, c.retryable)
			}
			if r.HasData != c.data {
				t.Fatalf("data %v (present %v), want present %v", r.Data, r.HasData, c.data)
			}
		})
	}
}

// A cancelled command (its execution cancelled, the worker stopping) stays a cancel,
// not a timeout, even with a bound set.
func TestCancelIsNotATimeout(t *testing.T) {
	t.Parallel()
	rn, _, _ := newRunner(t)
	rn.tools["block"] = blocker{}
	ctx, cancel := context.WithCancel(context.Background())
	s := step("block", map[string]any{"timeout": "1h"}, map[string]any{})
	s.Timeout = "1h"
	done := make(chan Outcome, 1)
	go func() { done <- rn.Run(ctx, s) }()
	cancel()
	out := <-done
	if out.Result.Status != tool.Error || out.Result.Fault == nil || out.Result.Fault.Kind != "cancelled" {
		t.Fatalf("got %s %+v, want a cancelled error", out.Result.Status, out.Result.Fault)
	}
}

// An http call past its own timeout_seconds reports status timeout, as every tool
// timeout does, and the usual retry rules (on output.status == 'error', on a retryable
// error) still retry it.
func TestHTTPTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	for _, when := range []string{"{{ output.status == 'error' }}", "{{ output.error.retryable and output.error.kind == 'timeout' }}"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					<-r.Context().Done() // the first call hangs until the client gives up
					return
				}
				_, _ = w.Write([]byte(`{"ok":true}`))
			}))
			t.Cleanup(srv.Close)
			rn, _, _ := newRunner(t)
			rn.tools["http"] = httptool.New()
			once := map[string]any{"url": srv.URL, "timeout_seconds": 0.1}
			out := rn.Run(context.Background(), step("http", once, map[string]any{}))
			if r := out.Result; r.Status != tool.Timeout || r.Fault == nil || r.Fault.Kind != "timeout" || !r.Fault.Retryable {
				t.Fatalf("without a rule: got %s %+v %q", r.Status, r.Fault, r.Error)
			}
			retried := map[string]any{"url": srv.URL, "timeout_seconds": 0.1,
				"spec": rules(map[string]any{"when": when, "then": map[string]any{"do": "retry", "attempts": int64(2)}})}
			calls.Store(0)
			out = rn.Run(context.Background(), step("http", retried, map[string]any{}))
			if out.Result.Status != tool.Success || out.Attempts != 2 {
				t.Fatalf("with a retry rule: got %s %q after %d attempts", out.Result.Status, out.Result.Error, out.Attempts)
			}
		})
	}
}
