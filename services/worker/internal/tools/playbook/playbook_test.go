package playbook

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "reflect"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/tool"

// fakePlane runs a scripted child: its status turns terminal after `polls` reads. As
// the control plane, it answers a start whose idempotency key it saw before with the
// execution that start created; new children get ids from 700 up.
type fakePlane struct {
	mu        sync.Mutex
	started   []controlplane.ExecuteRequest
	polls     int
	final     string
	events    []map[string]any
	cancelled []int64
	cancelErr error            // what the cancel route answers
	children  map[string]int64 // idempotency key -> child
	created   int
}

func (f *fakePlane) Execute(_ context.Context, _ string, r controlplane.ExecuteRequest) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, r)
	if id, ok := f.children[r.IdempotencyKey]; ok && r.IdempotencyKey != "" {
		return id, nil
	}
	id := int64(700 + f.created)
	f.created++
	if f.children == nil {
		f.children = map[string]int64{}
	}
	f.children[r.IdempotencyKey] = id
	return id, nil
}

func (f *fakePlane) ExecutionStatus(context.Context, string, int64) (map[string]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.polls > 0 {
		f.polls--
		return map[string]any{"status": "RUNNING"}, nil
	}
	// As the control plane's status route: no error text; the child's terminal event has it.
	return map[string]any{"status": f.final}, nil
}

func (f *fakePlane) ExecutionEvents(context.Context, string, int64) ([]map[string]any, error) {
	return f.events, nil
}

func (f *fakePlane) ResolveResult(_ context.Context, _ string, ref string) (any, error) {
	return map[string]any{"resolved": ref}, nil
}

func (f *fakePlane) CancelExecution(_ context.Context, _ string, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, id)
	return f.cancelErr
}

func callDone(step string, inner map[string]any) map[string]any {
	return map[string]any{"event_type": "call.done", "node_name": step, "result": map[string]any{"context": map[string]any{"result": inner}}}
}

func TestPlaybookTool(t *testing.T) {
	t.Parallel()
	events := []map[string]any{
		callDone("start", map[string]any{"context": map[string]any{"data": map[string]any{"square": int64(4)}}}),
		callDone("finish", map[string]any{"context": map[string]any{"data": map[string]any{"square": int64(49), "origin": "child"}}}),
		// A loop step: its iterations' call.done, then the step.exit with the aggregate.
		callDone("each", map[string]any{"context": map[string]any{"data": map[string]any{"v": int64(1)}}}),
		callDone("each", map[string]any{"context": map[string]any{"data": map[string]any{"v": int64(0)}}}),
		{"event_type": "step.exit", "node_name": "each", "status": "COMPLETED", "result": map[string]any{"status": "COMPLETED",
			"context": map[string]any{"data": map[string]any{"results": []any{map[string]any{"v": int64(0)}, map[string]any{"v": int64(1)}}}}}},
		{"event_type": "step.exit", "node_name": "none", "status": "COMPLETED", "result": map[string]any{"status": "COMPLETED",
			"context": map[string]any{"data": map[string]any{"results": []any{}}}}},
		// A step that continued past a failure: its call.error, then the step.exit with
		// the result the engine gave it.
		{"event_type": "call.error", "node_name": "risky", "status": "FAILED", "result": map[string]any{"status": "FAILED"}},
		{"event_type": "step.exit", "node_name": "risky", "status": "COMPLETED", "result": map[string]any{"status": "COMPLETED",
			"context": map[string]any{"data": map[string]any{"status": "error", "error": "boom"}}}},
		// A step.exit without data (an older engine's empty loop) is no result.
		{"event_type": "step.exit", "node_name": "bare", "status": "COMPLETED", "result": map[string]any{"status": "COMPLETED"}},
		callDone("big", map[string]any{"context": map[string]any{"data": map[string]any{"_ref": "noetl://execution/700/result/9"}},
			"reference": map[string]any{"kind": "result_ref", "ref": "noetl://execution/700/result/9"}}),
		callDone("end", map[string]any{"context": map[string]any{"data": map[string]any{}}}),
		{"event_type": "playbook.failed", "node_name": "playbook", "error": "Failed steps: start (start: n too large)"},
	}
	tests := []struct {
		name    string
		cfg     map[string]any
		final   string
		status  tool.Status
		data    any
		error   string
		payload map[string]any
	}{
		{"async returns at once", map[string]any{"path": "a/child", "args": map[string]any{"n": int64(7)}}, "COMPLETED", tool.Success,
			map[string]any{"status": "started", "execution_id": "700", "path": "a/child", "async": true}, "", map[string]any{"n": int64(7)}},
		{"return_step waits and returns that step's data", map[string]any{"path": "a/child", "return_step": "finish", "poll_interval": 0.05}, "COMPLETED", tool.Success,
			map[string]any{"square": int64(49), "origin": "child"}, "", map[string]any{}},
		{"return_step of a loop step returns its {results, stats}, not an iteration's data", map[string]any{"path": "a/child", "return_step": "each"}, "COMPLETED", tool.Success,
			map[string]any{"results": []any{map[string]any{"v": int64(0)}, map[string]any{"v": int64(1)}}}, "", map[string]any{}},
		{"return_step of an empty loop", map[string]any{"path": "a/child", "return_step": "none"}, "COMPLETED", tool.Success,
			map[string]any{"results": []any{}}, "", map[string]any{}},
		{"return_step of a step that continued past a failure returns its result", map[string]any{"path": "a/child", "return_step": "risky"}, "COMPLETED", tool.Success,
			map[string]any{"status": "error", "error": "boom"}, "", map[string]any{}},
		{"a step.exit without data is no result", map[string]any{"path": "a/child", "return_step": "bare"}, "COMPLETED", tool.Error,
			map[string]any{"status": "COMPLETED", "execution_id": "700", "path": "a/child"}, "no result for step 'bare'", map[string]any{}},
		{"payload when args are empty", map[string]any{"path": "a/child", "args": map[string]any{}, "payload": map[string]any{"p": true}, "return_step": "start"}, "COMPLETED", tool.Success,
			map[string]any{"square": int64(4)}, "", map[string]any{"p": true}},
		{"return_result without a step takes the last call.done outside end", map[string]any{"path": "a/child", "return_result": true}, "COMPLETED", tool.Success,
			map[string]any{"resolved": "noetl://execution/700/result/9"}, "", map[string]any{}},
		{"a failed child fails the step and names the child", map[string]any{"path": "a/child", "return_step": "finish"}, "FAILED", tool.Error,
			map[string]any{"status": "FAILED", "execution_id": "700", "path": "a/child"},
			"child playbook a/child (700) FAILED: Failed steps: start (start: n too large)", map[string]any{}},
		{"a missing step", map[string]any{"path": "a/child", "return_step": "nope"}, "COMPLETED", tool.Error,
			map[string]any{"status": "COMPLETED", "execution_id": "700", "path": "a/child"}, "no result for step 'nope'", map[string]any{}},
		{"a child past the timeout", map[string]any{"path": "a/child", "return_step": "finish", "timeout": 0.01, "poll_interval": 0.05}, "RUNNING", tool.Timeout,
			map[string]any{"execution_id": "700", "path": "a/child"}, "child playbook a/child (700): not finished after 10ms; the child was cancelled", map[string]any{}},
		{"no path", map[string]any{}, "COMPLETED", tool.Error, nil, "requires `path` or `catalog_id`", nil},
		{"parent_execution_id 0", map[string]any{"path": "a/child", "parent_execution_id": int64(0)}, "COMPLETED", tool.Error, nil, "parent_execution_id must be a positive id", nil},
		{"parent_execution_id negative", map[string]any{"path": "a/child", "parent_execution_id": "-5"}, "COMPLETED", tool.Error, nil, "parent_execution_id must be a positive id", nil},
		{"parent_execution_id not a number", map[string]any{"path": "a/child", "parent_execution_id": "abc"}, "COMPLETED", tool.Error, nil, "parent_execution_id must be a positive id", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &fakePlane{polls: 2, final: tc.final, events: events}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r := New(p).Run(ctx, tool.Call{Kind: "playbook", Config: tc.cfg, Exec: tool.Exec{ExecutionID: 42, ServerURL: "http://cp"}})
			if r.Status != tc.status || !strings.Contains(r.Error, tc.error) {
				t.Fatalf("got %s %q", r.Status, r.Error)
			}
			if tc.status == tool.Error && tc.payload == nil {
				if r.Fault == nil || r.Fault.Kind != "config" || len(p.started) != 0 {
					t.Fatalf("fault %+v, started %+v: want a config error and no child", r.Fault, p.started)
				}
			}
			if tc.data != nil && !reflect.DeepEqual(r.Data, tc.data) {
				t.Fatalf("data %#v, want %#v", r.Data, tc.data)
			}
			if tc.payload != nil {
				if len(p.started) != 1 || !reflect.DeepEqual(p.started[0].Payload, tc.payload) || p.started[0].ParentExecutionID != 42 {
					t.Fatalf("started %+v", p.started)
				}
			}
		})
	}
}

// waitCall runs a waiting call in the background and returns once the child was
// started; stop cancels the call's context with the given cause.
func waitCall(t *testing.T, p *fakePlane, exec tool.Exec) (stop func(cause error), done <-chan tool.Result) {
	t.Helper()
	p.mu.Lock()
	before := len(p.started)
	p.mu.Unlock()
	ctx, cancel := context.WithCancelCause(context.Background())
	out := make(chan tool.Result, 1)
	go func() {
		out <- New(p).Run(ctx, tool.Call{Kind: "playbook", Config: map[string]any{"path": "a/child", "return_step": "x", "poll_interval": 0.05}, Exec: exec})
	}()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		n := len(p.started)
		p.mu.Unlock()
		if n > before {
			return cancel, out
		}
		select {
		case <-deadline:
			cancel(nil)
			t.Fatal("the child was never started")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Cancelling the parent's command while it waits cancels the child.
func TestPlaybookToolCancelsTheChild(t *testing.T) {
	t.Parallel()
	p := &fakePlane{polls: 1 << 30, final: "COMPLETED"}
	stop, done := waitCall(t, p, tool.Exec{ExecutionID: 42, CommandID: "42:s:1", Invocation: "#1"})
	stop(errors.New("the execution was cancelled"))
	r := <-done
	if r.Status != tool.Error || r.Fault.Kind != "cancelled" || !reflect.DeepEqual(p.cancelled, []int64{700}) {
		t.Fatalf("got %s %+v, cancelled %v", r.Status, r.Fault, p.cancelled)
	}
}

// A command handed back while it waits (the worker stops) leaves its child running; the
// command's next run starts the same child (same key), so it adopts it and returns its
// result: one child per tool call. A retry of the call, a call in another command or
// another task of a pipeline starts a child of its own.
func TestPlaybookToolAdoptsItsChildAfterAHandBack(t *testing.T) {
	t.Parallel()
	events := []map[string]any{callDone("x", map[string]any{"context": map[string]any{"data": map[string]any{"from": "child"}}})}
	p := &fakePlane{polls: 1 << 30, final: "COMPLETED", events: events}
	exec := tool.Exec{ExecutionID: 42, Step: "s", CommandID: "42:s:1", Invocation: "#1"}
	stop, done := waitCall(t, p, exec)
	stop(fmt.Errorf("%w: the worker is shutting down", tool.ErrHandBack))
	if r := <-done; r.Status != tool.Error || len(p.cancelled) != 0 {
		t.Fatalf("handed back: got %s %q, cancelled %v", r.Status, r.Error, p.cancelled)
	}

	// The next run (another worker, or this one after a restart) of the same command.
	p.mu.Lock()
	p.polls = 1
	p.mu.Unlock()
	r := New(p).Run(context.Background(), tool.Call{Kind: "playbook", Config: map[string]any{"path": "a/child", "return_step": "x", "poll_interval": 0.05}, Exec: exec})
	if r.Status != tool.Success || !reflect.DeepEqual(r.Data, map[string]any{"from": "child"}) {
		t.Fatalf("the re-run: %s %q %v", r.Status, r.Error, r.Data)
	}
	if p.created != 1 || len(p.started) != 2 || p.started[0].IdempotencyKey != p.started[1].IdempotencyKey || p.started[0].IdempotencyKey == "" {
		t.Fatalf("created %d children over starts %+v", p.created, p.started)
	}

	others := []tool.Exec{
		{ExecutionID: 42, Step: "s", CommandID: "42:s:1", Invocation: "#2"},   // a policy retry
		{ExecutionID: 42, Step: "s", CommandID: "42:s:2", Invocation: "#1"},   // another command (a loop iteration)
		{ExecutionID: 42, Step: "s", CommandID: "42:s:1", Invocation: "t#1"},  // a pipeline task
		{ExecutionID: 42, Step: "s", CommandID: "42:s:1", Invocation: "t2#1"}, // another task
	}
	keys := map[string]bool{ChildKey(exec): true}
	for _, e := range others {
		k := ChildKey(e)
		if k == "" || keys[k] {
			t.Fatalf("key %q of %+v is empty or not its own", k, e)
		}
		keys[k] = true
	}
}

// A wait that runs out, by the tool's own timeout_seconds or by a bound the runner set
// (the tool's `timeout`, the step's spec.timeout), is a timeout like any tool's, and
// cancels the child first: nothing waits for it any more, and a retry starts its own.
// The error says what became of the child; a cancel that failed is named, not hidden.
func TestPlaybookToolTimeoutCancelsTheChild(t *testing.T) {
	t.Parallel()
	ownTimeout := map[string]any{"path": "a/child", "return_step": "x", "timeout_seconds": 0.05, "poll_interval": 0.02}
	tests := []struct {
		name      string
		cfg       map[string]any
		bound     *tool.TimeoutError // the cause that ends the call's context, nil: none
		cancelErr error
		retryable bool
		error     string
	}{
		{"its own timeout_seconds", ownTimeout, nil, nil, true,
			"child playbook a/child (700): not finished after 50ms; the child was cancelled"},
		{"the tool's timeout bound", map[string]any{"path": "a/child", "return_step": "x"}, &tool.TimeoutError{Bound: 50 * time.Millisecond}, nil, true,
			"Tool timed out after 50ms (timeout); child playbook a/child (700): the child was cancelled"},
		{"the step's spec.timeout", map[string]any{"path": "a/child", "return_step": "x"}, &tool.TimeoutError{Bound: 50 * time.Millisecond, Step: true}, nil, false,
			"Step timed out after 50ms (spec.timeout); child playbook a/child (700): the child was cancelled"},
		{"a child that ended meanwhile", ownTimeout, nil,
			&controlplane.StatusError{Op: "POST /api/executions/{id}/cancel", Code: 409, Body: "Cannot cancel execution in COMPLETED state"}, true,
			"not finished after 50ms; the child had ended meanwhile"},
		{"a child that ended meanwhile, an older control plane", ownTimeout, nil,
			&controlplane.StatusError{Op: "POST /api/executions/{id}/cancel", Code: 422, Body: "Cannot cancel execution in COMPLETED state"}, true,
			"not finished after 50ms; the child had ended meanwhile"},
		{"a cancel that fails", ownTimeout, nil,
			&controlplane.StatusError{Op: "POST /api/executions/{id}/cancel", Code: 503, Body: "unavailable"}, true,
			"not finished after 50ms; the child could not be cancelled and may still be running: POST /api/executions/{id}/cancel: HTTP 503: unavailable"},
		{"a bound and a failed cancel", map[string]any{"path": "a/child", "return_step": "x"}, &tool.TimeoutError{Bound: 50 * time.Millisecond}, errors.New("connection refused"), true,
			"Tool timed out after 50ms (timeout); child playbook a/child (700): the child could not be cancelled and may still be running: connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &fakePlane{polls: 1 << 30, final: "COMPLETED", cancelErr: tc.cancelErr}
			ctx := context.Background()
			if tc.bound != nil {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeoutCause(ctx, tc.bound.Bound, tc.bound)
				defer cancel()
			}
			r := New(p).Run(ctx, tool.Call{Kind: "playbook", Config: tc.cfg, Exec: tool.Exec{ExecutionID: 42, CommandID: "42:s:1", Invocation: "#1"}})
			if r.Status != tool.Timeout || r.Fault == nil || r.Fault.Kind != "timeout" || r.Fault.Retryable != tc.retryable || !strings.HasSuffix(r.Error, tc.error) {
				t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
			}
			if !reflect.DeepEqual(p.cancelled, []int64{700}) || !reflect.DeepEqual(r.Data, map[string]any{"execution_id": "700", "path": "a/child"}) {
				t.Fatalf("cancelled %v, data %v", p.cancelled, r.Data)
			}
		})
	}
}

// A status the tool cannot read (a refusal, not a blip) ends the wait too: the child,
// which nobody waits for any more, is cancelled, and the failure is not called a timeout.
func TestPlaybookToolUnreadableStatusCancelsTheChild(t *testing.T) {
	t.Parallel()
	p := &unreadable{fakePlane: fakePlane{final: "COMPLETED"}}
	r := New(p).Run(context.Background(), tool.Call{Kind: "playbook", Config: map[string]any{"path": "a/child", "return_step": "x"},
		Exec: tool.Exec{ExecutionID: 42, CommandID: "42:s:1", Invocation: "#1"}})
	if r.Status != tool.Error || r.Fault == nil || r.Fault.Kind != "http" || r.Fault.Retryable ||
		!strings.Contains(r.Error, "read the child's status") || !strings.HasSuffix(r.Error, "; the child was cancelled") {
		t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
	}
	if !reflect.DeepEqual(p.cancelled, []int64{700}) {
		t.Fatalf("cancelled %v", p.cancelled)
	}
}

// unreadable refuses every status read.
type unreadable struct{ fakePlane }

func (*unreadable) ExecutionStatus(context.Context, string, int64) (map[string]any, error) {
	return nil, &controlplane.StatusError{Op: "GET /api/executions/{id}/status", Code: 403, Body: "forbidden"}
}

// flaky fails every status read with a transient error (an unavailable control plane).
type flaky struct{ fakePlane }

func (*flaky) ExecutionStatus(context.Context, string, int64) (map[string]any, error) {
	return nil, &controlplane.StatusError{Op: "GET /api/executions/{id}/status", Code: 503, Body: "unavailable"}
}

// A wait whose status reads kept failing (transiently, so it kept trying) runs out as a
// timeout that names the last read error, instead of blaming a child that may be done.
func TestPlaybookToolTimeoutNamesTheLastReadError(t *testing.T) {
	t.Parallel()
	p := &flaky{fakePlane: fakePlane{final: "COMPLETED"}}
	r := New(p).Run(context.Background(), tool.Call{Kind: "playbook",
		Config: map[string]any{"path": "a/child", "return_step": "x", "timeout_seconds": 0.1, "poll_interval": 0.02},
		Exec:   tool.Exec{ExecutionID: 42, CommandID: "42:s:1", Invocation: "#1"}})
	want := "not finished after 100ms; the last status read failed: GET /api/executions/{id}/status: HTTP 503: unavailable; the child was cancelled"
	if r.Status != tool.Timeout || !strings.HasSuffix(r.Error, want) {
		t.Fatalf("got %s %q, want it to end in %q", r.Status, r.Error, want)
	}
}

// The wait ends at its timeout, not at the first poll after it: with a poll interval
// far longer than the timeout, the doubling delays (0.1, 0.2, 0.4, 0.8, 1.6 s) would
// end a 1.6 s wait at 3.1 s.
func TestPlaybookToolWaitEndsAtItsTimeout(t *testing.T) {
	t.Parallel()
	p := &fakePlane{polls: 1 << 30, final: "COMPLETED"}
	start := time.Now()
	r := New(p).Run(context.Background(), tool.Call{Kind: "playbook",
		Config: map[string]any{"path": "a/child", "return_step": "x", "timeout_seconds": 1.6, "poll_interval": 100},
		Exec:   tool.Exec{ExecutionID: 42, CommandID: "42:s:1", Invocation: "#1"}})
	took := time.Since(start)
	if r.Status != tool.Timeout || !strings.Contains(r.Error, "not finished after 1.6s") {
		t.Fatalf("got %s %q", r.Status, r.Error)
	}
	if took < 1600*time.Millisecond || took >= 2600*time.Millisecond {
		t.Fatalf("the wait took %s, want its timeout of 1.6s (the next poll would be at 3.1s)", took)
	}
}

// fakeSecrets holds one secret value.
type fakeSecrets string

func (f fakeSecrets) Holds(v any) bool {
	b, _ := json.Marshal(v)
	return strings.Contains(string(b), string(f))
}

// A child's args that hold a credential value the command fetched start no child: the
// control plane would store the value as written in the child's workload.
func TestPlaybookToolRefusesCredentialValuesInArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     map[string]any
		refused bool
	}{
		{"a credential value in args", map[string]any{"path": "a/child", "args": map[string]any{"token": "tok-Secret-1"}}, true},
		{"nested in payload", map[string]any{"path": "a/child", "payload": map[string]any{"db": []any{map[string]any{"dsn": "postgres://u:tok-Secret-1@h/d"}}}}, true},
		{"an alias is passed on", map[string]any{"path": "a/child", "args": map[string]any{"credential": "db"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &fakePlane{polls: 1, final: "COMPLETED"}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r := New(p).Run(ctx, tool.Call{Kind: "playbook", Config: tc.cfg, Exec: tool.Exec{ExecutionID: 42, ServerURL: "http://cp"}, Secrets: fakeSecrets("tok-Secret-1")})
			if !tc.refused {
				if r.Status != tool.Success || len(p.started) != 1 {
					t.Fatalf("got %s %q, started %+v", r.Status, r.Error, p.started)
				}
				return
			}
			if r.Status != tool.Error || r.Fault == nil || r.Fault.Kind != "config" || len(p.started) != 0 ||
				!strings.Contains(r.Error, "the child's args hold a credential value") || strings.Contains(r.Error, "tok-Secret-1") {
				t.Fatalf("got %s %+v %q, started %+v: want a config error and no child", r.Status, r.Fault, r.Error, p.started)
			}
		})
	}
}
