package executor

import "context"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "strings"
import "sync"
import "sync/atomic"
import "testing"
import "time"
import "unicode/utf8"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/credentials"
import "github.com/noetl/controlplane/services/worker/internal/runner"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/services/worker/internal/tools/noop"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/tmpl"

// plane is an in-memory control plane.
type plane struct {
	mu        sync.Mutex
	commands  map[int64]*controlplane.Command
	claimErr  map[int64]error
	claims    int
	events    []controlplane.Event
	postFails int // transient failures before posts succeed
	stored    []any
	cancelled atomic.Bool
	eager     []*controlplane.Command // handed over with the next outcome
	eagerAsks int                     // outcomes posted asking for eager dispatch
	eagerErr  error                   // what an outcome's answer adds to the eager commands
	// refuse, when set, answers a post whose events it refuses (a 413 or a 422), as the
	// control plane refuses a whole batch; nil stores them.
	refuse func(evs []controlplane.Event) error
}

func (p *plane) Claim(_ context.Context, _ string, eventID int64, _ string) (*controlplane.Command, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims++
	if err := p.claimErr[eventID]; err != nil {
		return nil, err
	}
	return p.commands[eventID], nil
}

func (p *plane) post(evs ...controlplane.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.postFails > 0 {
		p.postFails--
		return &controlplane.StatusError{Op: "POST /api/events", Code: 503, Body: "down"}
	}
	if p.refuse != nil {
		if err := p.refuse(evs); err != nil {
			return err
		}
	}
	p.events = append(p.events, evs...)
	return nil
}

func (p *plane) PostEvent(_ context.Context, _ string, ev controlplane.Event) error {
	return p.post(ev)
}
func (p *plane) PostEvents(_ context.Context, _ string, _ int64, _ string, evs []controlplane.Event) error {
	return p.post(evs...)
}

func (p *plane) PostOutcome(_ context.Context, _ string, _ int64, _ string, evs []controlplane.Event, _ int) ([]*controlplane.Command, error) {
	if err := p.post(evs...); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eagerAsks++
	next, err := p.eager, p.eagerErr
	p.eager, p.eagerErr = nil, nil
	return next, err
}

func (p *plane) PutResult(_ context.Context, _ string, _ int64, _ string, data any) (map[string]any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stored = append(p.stored, data)
	return map[string]any{"kind": "result_ref", "ref": fmt.Sprintf("noetl://execution/1/result/%d", len(p.stored))}, nil
}

func (p *plane) Cancelled(context.Context, string, int64) (bool, error) {
	return p.cancelled.Load(), nil
}

func (p *plane) types() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, ev := range p.events {
		out = append(out, ev.EventType)
	}
	return out
}

// delivery records acknowledgements.
type delivery struct {
	mu    sync.Mutex
	acks  int
	naks  []time.Duration
	beats int
}

func (d *delivery) Ack()                { d.mu.Lock(); d.acks++; d.mu.Unlock() }
func (d *delivery) Nak(t time.Duration) { d.mu.Lock(); d.naks = append(d.naks, t); d.mu.Unlock() }
func (d *delivery) InProgress()         { d.mu.Lock(); d.beats++; d.mu.Unlock() }

// sleeper is a tool that waits until its context ends (or 20 s), then succeeds.
type sleeper struct{ started chan struct{} }

func (s sleeper) Run(ctx context.Context, _ tool.Call) tool.Result {
	close(s.started)
	select {
	case <-ctx.Done():
		return tool.Failed("cancelled", false, "stopped")
	case <-time.After(20 * time.Second):
		return tool.Result{Status: tool.Success}
	}
}

type fixture struct {
	p    *plane
	e    *Executor
	hard context.CancelFunc
}

func newFixture(t *testing.T, cfg Config, extra tool.Registry) *fixture {
	t.Helper()
	p := &plane{commands: map[int64]*controlplane.Command{}, claimErr: map[int64]error{}}
	reg := tool.Registry{"noop": noop.New()}
	for k, v := range extra {
		reg[k] = v
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	key, _ := sealed.GenerateSecretKey()
	gen, _ := ids.NewGenerator(7)
	cfg.WorkerID = "w1"
	e := New(cfg, p, runner.New(reg, tmpl.New(0), log), credentials.NewResolver(nil, false, key, "w1"), gen, nil, log)
	hard, cancel := context.WithCancel(context.Background())
	e.Start(hard)
	t.Cleanup(func() { cancel() })
	return &fixture{p: p, e: e, hard: cancel}
}

func (f *fixture) command(eventID int64, action string, toolConfig any) {
	f.p.commands[eventID] = &controlplane.Command{EventID: eventID, ExecutionID: 1, Step: "s", Action: action,
		Context:   map[string]any{"tool_config": toolConfig, "render_context": map[string]any{"workload": map[string]any{"x": int64(2)}}},
		CommandID: fmt.Sprintf("1:s:%d", eventID), CommandIDValue: fmt.Sprintf("1:s:%d", eventID)}
}

// waitEvents waits (up to 10 s, the caller's assertions then say what is missing) until
// the control plane has been posted n events.
func (f *fixture) waitEvents(n int) {
	deadline := time.Now().Add(10 * time.Second)
	for len(f.p.types()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) run(t *testing.T, works ...Work) {
	t.Helper()
	for _, w := range works {
		if _, err := f.e.WaitFree(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.e.Submit(w)
	}
	f.e.Close()
	done := make(chan struct{})
	go func() { f.e.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the executor did not finish")
	}
}

func work(eventID int64, d Delivery) Work {
	return Work{Note: Notification{ExecutionID: 1, EventID: eventID, ServerURL: "http://cp"}, Delivery: d, Deliveries: 1}
}

func TestCommandOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(f *fixture)
		types  []string
		acks   int
		naks   int
		claims int
	}{
		{"success: started, then call.done and command.completed; acknowledged", func(f *fixture) {
			f.command(10, "noop", map[string]any{"result": "{{ workload.x + 1 }}"})
		}, []string{"command.started", "call.done", "command.completed"}, 1, 0, 1},
		{"a tool error: call.error and command.failed", func(f *fixture) {
			f.command(10, "nosuchtool", map[string]any{})
		}, []string{"command.started", "call.error", "command.failed"}, 1, 0, 1},
		{"a refused claim is dropped", func(f *fixture) {
			f.p.claimErr[10] = fmt.Errorf("%w: taken", controlplane.ErrClaimRefused)
		}, nil, 1, 0, 1},
		{"a failed claim comes back", func(f *fixture) {
			f.p.claimErr[10] = &controlplane.StatusError{Code: 503}
		}, nil, 0, 1, 1},
		{"posts that fail for a while are retried", func(f *fixture) {
			f.command(10, "noop", map[string]any{})
			f.p.postFails = 3
		}, []string{"command.started", "call.done", "command.completed"}, 1, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{Concurrency: 2}, nil)
			tc.setup(f)
			d := &delivery{}
			f.run(t, work(10, d))
			if got := strings.Join(f.p.types(), ","); got != strings.Join(tc.types, ",") {
				t.Fatalf("events %s, want %s", got, strings.Join(tc.types, ","))
			}
			if d.acks != tc.acks || len(d.naks) != tc.naks || f.p.claims != tc.claims {
				t.Fatalf("acks %d naks %v claims %d", d.acks, d.naks, f.p.claims)
			}
		})
	}
}

// The outcome events carry the protocol's shapes: the command id as it came, call_index
// 0, the result envelope with the ToolResult, worker snowflake ids, and the worker id.
func TestEventShapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Concurrency: 1}, nil)
	f.command(10, "noop", map[string]any{"result": "{{ workload.x + 1 }}"})
	f.run(t, work(10, &delivery{}))
	evs := f.p.events
	done := evs[1]
	res := done.Context["result"].(map[string]any)
	inner := res["context"].(map[string]any)
	if done.Status != "COMPLETED" || done.Context["command_id"] != "1:s:10" || done.Context["call_index"] != int64(0) ||
		res["status"] != "success" || inner["status"] != "success" || inner["data"] != int64(3) {
		t.Fatalf("call.done %+v", done)
	}
	if c := evs[2]; c.Status != "success" || c.Context["status"] != "success" {
		t.Fatalf("command.completed %+v", c)
	}
	seen := map[int64]bool{}
	for _, ev := range evs {
		if ev.EventID == 0 || seen[ev.EventID] || ev.WorkerID != "w1" || ev.ExecutionID != 1 || ev.Step != "s" {
			t.Fatalf("event %+v", ev)
		}
		seen[ev.EventID] = true
	}
}

// Data over the inline limit goes to the result store; the event carries its reference.
func TestLargeResultsAreOffloaded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Concurrency: 1, InlineLimit: 1024}, nil)
	big := strings.Repeat("x", 4096)
	f.command(10, "noop", map[string]any{"result": map[string]any{"blob": big}})
	f.run(t, work(10, &delivery{}))
	res := f.p.events[1].Context["result"].(map[string]any)
	inner := res["context"].(map[string]any)
	if inner["data"].(map[string]any)["_ref"] != "noetl://execution/1/result/1" || res["reference"].(map[string]any)["kind"] != "result_ref" {
		t.Fatalf("result %v", res)
	}
	if len(f.p.stored) != 1 || f.p.stored[0].(map[string]any)["blob"] != big {
		t.Fatalf("stored %v", f.p.stored)
	}
}

// talker is a tool that succeeds with the given stdout.
type talker string

func (s talker) Run(context.Context, tool.Call) tool.Result {
	out := string(s)
	return tool.Result{Status: tool.Success, Stdout: &out}.WithData(map[string]any{"n": int64(len(out))})
}

// stdout cut to 16 KiB for an offloaded result ends at a character boundary: half a
// character would reach the event as U+FFFD.
func TestOffloadedStdoutKeepsWholeCharacters(t *testing.T) {
	t.Parallel()
	out := "a" + strings.Repeat("é", 20000) // é is two bytes: byte 16384 is its second
	f := newFixture(t, Config{Concurrency: 1, InlineLimit: 1024}, tool.Registry{"talker": talker(out)})
	f.command(10, "talker", map[string]any{})
	f.run(t, work(10, &delivery{}))
	inner := f.p.events[1].Context["result"].(map[string]any)["context"].(map[string]any)
	got, _ := inner["stdout"].(string)
	if want := out[:maxStream-1] + "\n[truncated]"; got != want || !utf8.ValidString(got) {
		t.Fatalf("stdout ends %q (%d bytes), want %d bytes", got[max(0, len(got)-20):], len(got), len(want))
	}
}

// A redelivery of a command this worker is running is acknowledged, not run again.
// A notification of a command this worker is running is not run twice, and is put back
// rather than acknowledged: it may be the notification of the command requeued after
// its claim here lapsed, whose running copy the next heartbeat releases. Acknowledged,
// it was lost, and the requeued command waited for hours for a notification.
func TestRedeliveryOfARunningCommand(t *testing.T) {
	t.Parallel()
	h := holder{started: make(chan struct{}), ended: make(chan error, 1)}
	h2 := holder{started: make(chan struct{}), ended: make(chan error, 1)}
	f := newFixture(t, Config{Concurrency: 2, StartedDelay: time.Minute, CancelCheck: 20 * time.Millisecond},
		tool.Registry{"hold": h, "hold2": h2})
	f.command(10, "hold", map[string]any{})
	first, second := &delivery{}, &delivery{}
	f.e.Submit(work(10, first))
	<-h.started
	f.e.Submit(work(10, second))
	deadline := time.Now().Add(10 * time.Second)
	for {
		second.mu.Lock()
		naks, acks := len(second.naks), second.acks
		second.mu.Unlock()
		if acks != 0 {
			t.Fatal("the notification of a running command was acknowledged")
		}
		if naks == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the notification of a running command was not put back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The heartbeat's answer: the claim lapsed, the command was requeued.
	if n := f.e.Release(f.e.Holding(), []int64{10}); n != 1 {
		t.Fatalf("released %d", n)
	}
	<-h.ended
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		f.e.mu.Lock()
		n := len(f.e.active)
		f.e.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the released command did not end")
		}
	}
	// The notification comes back and runs the requeued command.
	f.p.mu.Lock()
	f.command(10, "hold2", map[string]any{})
	f.p.mu.Unlock()
	go func() { <-h2.started; f.p.cancelled.Store(true) }()
	f.run(t, work(10, second))
	if f.p.claims != 2 || first.acks != 1 || second.acks != 1 {
		t.Fatalf("claims %d, acks %d and %d", f.p.claims, first.acks, second.acks)
	}
	if got := strings.Join(f.p.types(), ","); !strings.Contains(got, "command.failed") {
		t.Fatalf("events %s", got)
	}
}

// A cancelled execution stops the command, which is reported failed.
func TestCancelledExecutionStopsTheCommand(t *testing.T) {
	t.Parallel()
	s := sleeper{started: make(chan struct{})}
	f := newFixture(t, Config{Concurrency: 1, CancelCheck: 20 * time.Millisecond}, tool.Registry{"sleep": s})
	f.command(10, "sleep", map[string]any{})
	d := &delivery{}
	f.e.Submit(work(10, d))
	<-s.started
	f.p.cancelled.Store(true)
	f.run(t)
	if got := strings.Join(f.p.types(), ","); got != "command.started,call.error,command.failed" {
		t.Fatalf("events %s", got)
	}
	if msg := f.p.events[2].Context["error"].(string); !strings.Contains(msg, "cancelled") || d.acks != 1 {
		t.Fatalf("error %q acks %d", msg, d.acks)
	}
}

// Past the grace period a running command is handed back: nothing reported, nothing
// acknowledged. (It stopped before StartedDelay, so not even its command.started was
// sent: that goes out on its own only once a command runs for longer.)
func TestHandBack(t *testing.T) {
	t.Parallel()
	s := sleeper{started: make(chan struct{})}
	f := newFixture(t, Config{Concurrency: 1}, tool.Registry{"sleep": s})
	f.command(10, "sleep", map[string]any{})
	d := &delivery{}
	f.e.Submit(work(10, d))
	<-s.started
	f.hard()
	f.run(t)
	if got := strings.Join(f.p.types(), ","); got != "" || d.acks != 0 || len(d.naks) != 0 {
		t.Fatalf("events %s acks %d naks %v", got, d.acks, d.naks)
	}
}

// A quick command sends command.started at the head of its outcome batch (a long one
// sends it on its own: TestCancel's sleeper). With eager dispatch the command handed
// over with the outcome runs next in the same slot, without a claim and without a
// delivery to acknowledge. Once the executor is closed, outcomes ask for nothing.
func TestStartedBatchingAndEagerDispatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Concurrency: 1, EagerCapacity: 1, StartedDelay: 20 * time.Millisecond}, nil)
	f.command(10, "noop", map[string]any{})
	next := &controlplane.Command{EventID: 11, ExecutionID: 1, Step: "t", Action: "noop",
		Context: map[string]any{"tool_config": map[string]any{}}, CommandID: "1:t:11", CommandIDValue: "1:t:11"}
	f.p.eager = []*controlplane.Command{next}
	d := &delivery{}
	f.e.Submit(work(10, d))
	// Close (in run) ends eager dispatch too, so wait for both commands first.
	f.waitEvents(6)
	f.run(t)
	got := strings.Join(f.p.types(), ",")
	want := "command.started,call.done,command.completed,command.started,call.done,command.completed"
	if got != want || d.acks != 1 || f.p.claims != 1 {
		t.Fatalf("events %s, acks %d, claims %d", got, d.acks, f.p.claims)
	}
	if f.p.events[3].Step != "t" || f.p.events[5].Context["command_id"] != "1:t:11" {
		t.Fatalf("the eager command's events: %+v", f.p.events[3:])
	}
	if f.p.eagerAsks != 2 {
		t.Fatalf("outcomes asking for eager dispatch = %d, want 2", f.p.eagerAsks)
	}
}

// A closing executor (the worker drains) asks for no eager command with its outcome.
func TestNoEagerDispatchWhileDraining(t *testing.T) {
	t.Parallel()
	s := sleeper{started: make(chan struct{})}
	f := newFixture(t, Config{Concurrency: 1, EagerCapacity: 1}, tool.Registry{"sleep": s})
	f.command(10, "sleep", map[string]any{})
	f.p.eager = []*controlplane.Command{{EventID: 11, ExecutionID: 1, Step: "t", Action: "noop", CommandID: "1:t:11", CommandIDValue: "1:t:11"}}
	d := &delivery{}
	f.e.Submit(work(10, d))
	<-s.started
	f.p.cancelled.Store(true) // ends the sleeper soon, after Close
	f.run(t)
	if f.p.eagerAsks != 0 || strings.Count(strings.Join(f.p.types(), ","), "command.started") != 1 {
		t.Fatalf("eager asks %d, events %v", f.p.eagerAsks, f.p.types())
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 20: 30 * time.Second} {
		if got := backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

// waiter gives its slot back and waits until release is closed, as a playbook step
// waits for its child.
type waiter struct{ release, waiting chan struct{} }

func (w waiter) Run(ctx context.Context, _ tool.Call) tool.Result {
	back := tool.ReleaseSlot(ctx)
	defer back()
	close(w.waiting)
	select {
	case <-w.release:
		return tool.Result{Status: tool.Success}
	case <-ctx.Done():
		return tool.Failed("cancelled", false, "stopped")
	}
}

// opener closes release: the child the waiter waits for.
type opener struct{ release chan struct{} }

func (o opener) Run(context.Context, tool.Call) tool.Result {
	close(o.release)
	return tool.Result{Status: tool.Success}
}

// A command that only waits (a playbook step waiting for its child) frees its slot, so
// a worker whose every slot holds such a command still runs the child. Before, one
// worker with as many waiting parents as slots waited until the parents timed out.
func TestAWaitingCommandGivesItsSlotBack(t *testing.T) {
	t.Parallel()
	release, waiting := make(chan struct{}), make(chan struct{})
	f := newFixture(t, Config{Concurrency: 1}, tool.Registry{"waiter": waiter{release, waiting}, "opener": opener{release}})
	f.command(1, "waiter", map[string]any{})
	f.command(2, "opener", map[string]any{})
	parent, child := &delivery{}, &delivery{}
	f.e.Submit(work(1, parent))
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := f.e.WaitFree(ctx); err != nil {
		t.Fatalf("no free slot while the only command waits: %v", err)
	}
	f.run(t, work(2, child))
	if parent.acks != 1 || child.acks != 1 {
		t.Fatalf("acks: parent %d, child %d; events %v", parent.acks, child.acks, f.p.types())
	}
	if f.e.Busy() != 0 || f.e.waiting.Load() != 0 || f.e.Free() != 1 {
		t.Fatalf("after both: busy %d, waiting %d, free %d", f.e.Busy(), f.e.waiting.Load(), f.e.Free())
	}
}

// A command whose step sets spec.timeout (step_timeout_seconds) ends when it runs out,
// reported as a failure with the tool status timeout and an error naming the bound,
// however long the tool would have run.
func TestStepTimeoutEndsTheCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Concurrency: 1}, tool.Registry{"sleep": sleeper{started: make(chan struct{})}})
	f.command(10, "sleep", map[string]any{})
	f.p.commands[10].Context["step_timeout_seconds"] = 0.05
	d := &delivery{}
	f.run(t, work(10, d))
	if got := strings.Join(f.p.types(), ","); got != "command.started,call.error,command.failed" {
		t.Fatalf("events %s", got)
	}
	callErr := f.p.events[1].Context
	res := callErr["result"].(map[string]any)
	inner := res["context"].(map[string]any)
	want := "Step timed out after 50ms (spec.timeout)"
	if callErr["error"] != want || res["status"] != "timeout" || inner["status"] != "timeout" || inner["error"] != want {
		t.Fatalf("call.error %v", callErr)
	}
	if d.acks != 1 {
		t.Fatalf("acks %d", d.acks)
	}
}

// holder is a tool that blocks until its context ends and reports why it ended.
type holder struct {
	started chan struct{}
	ended   chan error
}

func (h holder) Run(ctx context.Context, _ tool.Call) tool.Result {
	close(h.started)
	select {
	case <-ctx.Done():
		h.ended <- context.Cause(ctx)
		return tool.Failed("cancelled", false, "stopped")
	case <-time.After(20 * time.Second):
		h.ended <- nil
		return tool.Result{Status: tool.Success}
	}
}

// A command the control plane says this worker no longer holds (a heartbeat's answer)
// is stopped at once: its tool's context ends as a hand-back, nothing is posted for it
// (another worker may be running it), its notification is acknowledged, and it is no
// longer listed.
func TestReleasedCommandStopsWithoutAnOutcome(t *testing.T) {
	t.Parallel()
	h := holder{started: make(chan struct{}), ended: make(chan error, 1)}
	// No command.started on its own either: the command ends well before StartedDelay.
	f := newFixture(t, Config{Concurrency: 1, StartedDelay: time.Minute}, tool.Registry{"hold": h})
	f.command(10, "hold", map[string]any{})
	d := &delivery{}
	f.e.Submit(work(10, d))
	<-h.started
	held := f.e.Holding()
	if fmt.Sprint(held.IDs) != "[10]" {
		t.Fatalf("held %v", held.IDs)
	}
	if n := f.e.Release(held, []int64{10, 99}); n != 1 {
		t.Fatalf("released %d commands, want 1", n)
	}
	select {
	case cause := <-h.ended:
		if !errors.Is(cause, tool.ErrHandBack) {
			t.Fatalf("the tool's context ended with %v, want a hand-back", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the released command's tool kept running")
	}
	if ids := f.e.Held(); len(ids) != 0 {
		t.Fatalf("still listed: %v", ids)
	}
	f.run(t)
	if got := f.p.types(); len(got) != 0 {
		t.Fatalf("events posted for a released command: %v", got)
	}
	if d.acks != 1 || len(d.naks) != 0 {
		t.Fatalf("acks %d naks %v", d.acks, d.naks)
	}
}

// Only what a heartbeat listed with a confirmed claim is released: a command still
// being claimed when the list was taken is left alone (the answer may predate the
// claim), as is a later run of the same command. A queued eager command released
// before its turn is skipped.
func TestReleaseActsOnlyOnWhatTheHeartbeatListed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Concurrency: 1}, nil)
	defer f.run(t)

	f.e.claimLocal(20) // being claimed
	claiming := f.e.Holding()
	if fmt.Sprint(claiming.IDs) != "[20]" {
		t.Fatalf("held %v", claiming.IDs)
	}
	stopped := 0
	f.e.running(20, func(error) { stopped++ }) // the claim is confirmed after the list was taken
	if n := f.e.Release(claiming, []int64{20}); n != 0 || stopped != 0 {
		t.Fatalf("a command being claimed when listed was released (%d, %d)", n, stopped)
	}
	listed := f.e.Holding()
	f.e.releaseLocal(20) // that run ends; another run of the command starts
	f.e.claimLocal(20)
	f.e.running(20, func(error) { stopped++ })
	if n := f.e.Release(listed, []int64{20}); n != 0 || stopped != 0 {
		t.Fatalf("a later run of a listed command was released (%d, %d)", n, stopped)
	}
	if n := f.e.Release(f.e.Holding(), []int64{20}); n != 1 || stopped != 1 {
		t.Fatalf("the listed run was not released (%d, %d)", n, stopped)
	}
	f.e.releaseLocal(20)

	queued := []*controlplane.Command{{EventID: 30}}
	f.e.hold(queued, true)
	if n := f.e.Release(f.e.Holding(), []int64{30}); n != 1 || !f.e.skipRevoked(30) || f.e.skipRevoked(30) {
		t.Fatalf("a released queued command is not skipped once (%d)", n)
	}
	if ids := f.e.Held(); len(ids) != 0 {
		t.Fatalf("still listed: %v", ids)
	}
}

// fails is a tool that returns its result as it is.
type fails tool.Result

func (r fails) Run(context.Context, tool.Call) tool.Result { return tool.Result(r) }

// A failure's ToolResult carries the failure's kind as error_kind (what a policy rule
// reads as output.error.kind), so the control plane can tell a connection failure from
// an http or database one; a success carries none.
func TestCallErrorCarriesTheErrorKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		result tool.Result
		kind   any // nil: no error_kind
	}{
		{"connection", tool.Failed("connection", true, "dial tcp: connection refused"), "connection"},
		{"database", tool.Failed("database", false, "relation does not exist"), "database"},
		{"a timeout without a fault", tool.Result{Status: tool.Timeout, Error: "Execution timed out after 1 seconds"}, "timeout"},
		{"an error without a fault", tool.Result{Status: tool.Error, Error: "boom"}, "error"},
		{"a success", tool.Result{Status: tool.Success}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{Concurrency: 1}, tool.Registry{"fails": fails(tc.result)})
			f.command(10, "fails", map[string]any{})
			f.run(t, work(10, &delivery{}))
			if len(f.p.events) != 3 {
				t.Fatalf("events %v", f.p.types())
			}
			inner := f.p.events[1].Context["result"].(map[string]any)["context"].(map[string]any)
			if got, ok := inner["error_kind"]; got != tc.kind || ok != (tc.kind != nil) {
				t.Fatalf("error_kind %v (present %v), want %v; ToolResult %v", got, ok, tc.kind, inner)
			}
		})
	}
}

// A claim answered with something the worker cannot read comes back with a backoff, as
// any failed claim, but only MaxUnreadableClaims times: asking again mostly gets the
// same answer. Then the command is reported failed with an error that says why (its
// step fails instead of the command waiting for its lease to lapse, again and again),
// and the notification is acknowledged. A notification that does not name its command
// cannot be reported: it is acknowledged, and the control plane's claim lease takes
// the command back.
func TestUnreadableClaimAnswerIsBounded(t *testing.T) {
	t.Parallel()
	unreadable := fmt.Errorf("POST /api/commands/{id}/claim: %w: claim answer lacks execution_id, node_name or action", controlplane.ErrUnreadableAnswer)
	tests := []struct {
		name       string
		deliveries int
		commandID  string
		types      string
		acks, naks int
	}{
		{"first delivery: delivered again", 1, "1:s:10", "", 0, 1},
		{"one before the bound: delivered again", MaxUnreadableClaims - 1, "1:s:10", "", 0, 1},
		{"at the bound: reported failed and acknowledged", MaxUnreadableClaims, "1:s:10", "command.started,call.error,command.failed", 1, 0},
		{"past the bound without a command id: acknowledged", MaxUnreadableClaims + 3, "", "", 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{Concurrency: 1}, nil)
			f.p.claimErr[10] = unreadable
			d := &delivery{}
			w := work(10, d)
			w.Deliveries = tc.deliveries
			w.Note.Step, w.Note.CommandID = "s", tc.commandID
			f.run(t, w)
			if got := strings.Join(f.p.types(), ","); got != tc.types {
				t.Fatalf("events %s, want %s", got, tc.types)
			}
			if d.acks != tc.acks || len(d.naks) != tc.naks {
				t.Fatalf("acks %d naks %v", d.acks, d.naks)
			}
			if tc.types == "" {
				return
			}
			failed := f.p.events[2]
			msg, _ := failed.Context["error"].(string)
			if failed.Step != "s" || failed.ExecutionID != 1 || failed.Context["command_id"] != "1:s:10" ||
				!strings.Contains(msg, fmt.Sprintf("could not read the control plane's answer to its claim (%d tries)", MaxUnreadableClaims)) ||
				!strings.Contains(msg, "lacks execution_id") {
				t.Fatalf("command.failed %+v", failed)
			}
			inner := f.p.events[1].Context["result"].(map[string]any)["context"].(map[string]any)
			if inner["error_kind"] != "protocol" {
				t.Fatalf("call.error ToolResult %v", inner)
			}
		})
	}
}

// An outcome whose answer (a 2xx) holds an eager command the worker cannot read is
// stored all the same: the notification is acknowledged, not delivered again to post the
// same outcome and get the same answer for ever, and the readable eager commands run.
// The unreadable one is left to the control plane's eager ack deadline.
func TestAnUnreadableEagerCommandLeavesTheOutcomeStored(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Concurrency: 1, EagerCapacity: 1}, nil)
	f.command(10, "noop", map[string]any{})
	f.p.eager = []*controlplane.Command{{EventID: 11, ExecutionID: 1, Step: "t", Action: "noop",
		Context: map[string]any{"tool_config": map[string]any{}}, CommandID: "1:t:11", CommandIDValue: "1:t:11"}}
	f.p.eagerErr = fmt.Errorf("POST /api/events/batch: %w: eager command 12: claim answer lacks execution_id, node_name or action", controlplane.ErrUnreadableAnswer)
	d := &delivery{}
	f.e.Submit(work(10, d))
	f.waitEvents(6)
	f.run(t)
	got := strings.Join(f.p.types(), ",")
	want := "command.started,call.done,command.completed,command.started,call.done,command.completed"
	if got != want || d.acks != 1 || len(d.naks) != 0 {
		t.Fatalf("events %s, acks %d, naks %v", got, d.acks, d.naks)
	}
}

// An outcome the control plane refuses for its content (413: larger than its body
// limit; 422: a value it cannot store, such as a NUL character) would be refused again
// however often the command ran: the worker reports the step failed instead, saying
// why, and acknowledges. Other refusals are left as before (delivered again).
func TestRefusedOutcomeFailsTheStep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		code  int
		body  string
		types string
		want  string // in command.failed's error
		acks  int
		naks  int
		// always: the failure that replaces the outcome is refused too.
		always bool
	}{
		{"too large: reported failed", 413, "request body too large", "command.started,call.error,command.failed",
			"the control plane refused the step's outcome: POST /api/events/batch: HTTP 413: request body too large", 1, 0, false},
		{"a value that cannot be stored: reported failed", 422, `JSON strings must not contain \u0000 (NUL): it cannot be stored`,
			"command.started,call.error,command.failed", "HTTP 422: JSON strings must not contain", 1, 0, false},
		{"a conflict: delivered again", 409, "the claim was revoked", "", "", 0, 1, false},
		// Delivered again, it was claimed (by the same worker) and run again, for ever,
		// every 30 s. Acknowledged, the claim lease hands it back with its next attempt,
		// until its attempts run out.
		{"the failure refused too: acknowledged, left to the claim lease", 422, "events[0]: step is not valid", "", "", 1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{Concurrency: 1}, nil)
			f.command(10, "noop", map[string]any{"result": "a value"})
			f.p.refuse = func(evs []controlplane.Event) error {
				for _, ev := range evs {
					if ev.EventType == "call.done" {
						return &controlplane.StatusError{Op: "POST /api/events/batch", Code: tc.code, Body: tc.body}
					}
				}
				if tc.code == 409 || tc.always {
					return &controlplane.StatusError{Op: "POST /api/events/batch", Code: tc.code, Body: tc.body}
				}
				return nil
			}
			d := &delivery{}
			f.run(t, work(10, d))
			if got := strings.Join(f.p.types(), ","); got != tc.types {
				t.Fatalf("events %s, want %s", got, tc.types)
			}
			if d.acks != tc.acks || len(d.naks) != tc.naks {
				t.Fatalf("acks %d naks %v", d.acks, d.naks)
			}
			if tc.types == "" {
				return
			}
			msg, _ := f.p.events[2].Context["error"].(string)
			inner := f.p.events[1].Context["result"].(map[string]any)["context"].(map[string]any)
			if !strings.Contains(msg, tc.want) || inner["error_kind"] != "result" {
				t.Fatalf("command.failed error %q, want it to hold %q; ToolResult %v", msg, tc.want, inner)
			}
		})
	}
}

// A failure's error text is bounded in its events: a tool that names a line of its
// output in its error (an exception's message of megabytes) would otherwise post two
// copies of it, more than the control plane's body limit takes.
func TestLongErrorTextIsBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		error string
		want  string
	}{
		{"short: as it is", "boom", "boom"},
		{"at the bound: as it is", strings.Repeat("x", maxErrorText), strings.Repeat("x", maxErrorText)},
		{"over the bound: cut, saying how much", "ValueError: " + strings.Repeat("x", 3<<20),
			"ValueError: " + strings.Repeat("x", maxErrorText-12) + fmt.Sprintf("\n[error truncated: %d more bytes]", 3<<20-maxErrorText+12)},
		{"cut at a character boundary", "a" + strings.Repeat("é", maxErrorText),
			"a" + strings.Repeat("é", maxErrorText/2-1) + fmt.Sprintf("\n[error truncated: %d more bytes]", 2*maxErrorText+1-(maxErrorText-1))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{Concurrency: 1}, tool.Registry{"fails": fails(tool.Failed("python", false, "%s", tc.error))})
			f.command(10, "fails", map[string]any{})
			f.run(t, work(10, &delivery{}))
			if got := strings.Join(f.p.types(), ","); got != "command.started,call.error,command.failed" {
				t.Fatalf("events %s", got)
			}
			inner := f.p.events[1].Context["result"].(map[string]any)["context"].(map[string]any)
			for what, got := range map[string]any{"call.error": f.p.events[1].Context["error"], "ToolResult": inner["error"], "command.failed": f.p.events[2].Context["error"]} {
				if got != tc.want {
					s, _ := got.(string)
					t.Fatalf("%s error is %d bytes ending %q, want %d bytes", what, len(s), s[max(0, len(s)-40):], len(tc.want))
				}
			}
		})
	}
}

// However many commands wait (more than the 16 per slot there was once a bound of),
// each gives its slot back: with one slot and 40 parents waiting, the child they wait
// for still runs. Before, the 17th parent kept the only slot while it waited, and the
// child found none until the parents timed out.
func TestEveryWaitingCommandGivesItsSlotBack(t *testing.T) {
	t.Parallel()
	for _, waiters := range []int{1, 16, 17, 40} {
		t.Run(fmt.Sprintf("%d waiting", waiters), func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			reg := tool.Registry{"opener": opener{release}}
			waiting := make([]chan struct{}, waiters)
			for i := range waiters {
				waiting[i] = make(chan struct{})
				reg[fmt.Sprintf("waiter%d", i)] = waiter{release, waiting[i]}
			}
			f := newFixture(t, Config{Concurrency: 1}, reg)
			ds := make([]*delivery, waiters+1)
			for i := range waiters {
				f.command(int64(i+1), fmt.Sprintf("waiter%d", i), map[string]any{})
				ds[i] = &delivery{}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if _, err := f.e.WaitFree(ctx); err != nil {
					cancel()
					t.Fatalf("no free slot for waiter %d while %d wait: %v", i+1, i, err)
				}
				cancel()
				f.e.Submit(work(int64(i+1), ds[i]))
				select {
				case <-waiting[i]:
				case <-time.After(10 * time.Second):
					t.Fatalf("waiter %d did not start", i+1)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := f.e.WaitFree(ctx); err != nil {
				t.Fatalf("no free slot for the child while %d commands wait: %v", waiters, err)
			}
			f.command(1000, "opener", map[string]any{})
			ds[waiters] = &delivery{}
			f.run(t, work(1000, ds[waiters]))
			for i, d := range ds {
				if d.acks != 1 {
					t.Fatalf("command %d acknowledged %d times; events %v", i+1, d.acks, f.p.types())
				}
			}
			if f.e.Busy() != 0 || f.e.waiting.Load() != 0 || f.e.Free() != 1 {
				t.Fatalf("after all: busy %d, waiting %d, free %d", f.e.Busy(), f.e.waiting.Load(), f.e.Free())
			}
		})
	}
}

// A command.started the control plane refuses for its content (413, 422) would be
// refused again: the command is stopped and acknowledged, left to the claim lease. Put
// back, it was claimed and started again every 30 s, for ever; another refusal (the
// control plane is down, a revoked claim) still puts it back.
func TestRefusedStartStopsTheCommand(t *testing.T) {
	t.Parallel()
	for _, code := range []int{422, 503} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			h := holder{started: make(chan struct{}), ended: make(chan error, 1)}
			f := newFixture(t, Config{Concurrency: 1, StartedDelay: time.Millisecond, ReportBudget: time.Second}, tool.Registry{"hold": h})
			f.command(10, "hold", map[string]any{})
			f.p.refuse = func([]controlplane.Event) error {
				return &controlplane.StatusError{Op: "POST /api/events", Code: code, Body: "no"}
			}
			d := &delivery{}
			f.run(t, work(10, d))
			if cause := <-h.ended; !errors.Is(cause, tool.ErrHandBack) {
				t.Fatalf("the tool's context ended with %v", cause)
			}
			want := map[int][2]int{422: {1, 0}, 503: {0, 1}}[code]
			if d.acks != want[0] || len(d.naks) != want[1] || len(f.p.types()) != 0 {
				t.Fatalf("acks %d naks %v events %v", d.acks, d.naks, f.p.types())
			}
		})
	}
}
