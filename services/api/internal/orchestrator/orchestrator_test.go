package orchestrator

import "context"
import "errors"
import "io"
import "log/slog"
import "os"
import "path/filepath"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/clock"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/tmpl"

// fixture is an orchestrator on a fresh schema.
type fixture struct {
	t   testing.TB
	o   *Orchestrator
	s   *testkit.Schema
	gen *ids.Generator
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureAt(t, nil)
}

// newFixtureAt is newFixture with the orchestrator reading clk (nil: the wall clock).
func newFixtureAt(t testing.TB, clk clock.Clock) *fixture {
	t.Helper()
	s := testkit.NewSchema(t, migrations.Set)
	gen, _ := ids.NewGenerator(7)
	f := &fixture{t: t, s: s, gen: gen}
	f.o = New(Config{
		Pool: s.Pool, Engine: engine.New(tmpl.New(0), gen), IDs: gen, Playbooks: catalog.NewCache(16),
		ServerURL: "http://localhost:8082", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clk,
	})
	return f
}

// register inserts a catalog row directly (the catalog routes are tested on their own).
func (f *fixture) register(src []byte) (*catalog.Entry, *playbook.Playbook) {
	f.t.Helper()
	pb, err := playbook.Parse(src)
	if err != nil {
		f.t.Fatal(err)
	}
	id, _ := f.gen.Next()
	testkit.InsertCatalog(f.t, f.s, id, pb.Metadata.Path, string(src))
	e, err := catalog.ByID(context.Background(), f.s.Pool, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return e, pb
}

func readCase(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../../../testdata/conformance/engine", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) status(id int64) string {
	f.t.Helper()
	return testkit.QueryOne[string](f.t, f.s, `SELECT status FROM execution WHERE execution_id = $1`, id)
}

// pending lists unclaimed commands of an execution.
func (f *fixture) pending(id int64) []int64 {
	f.t.Helper()
	return apitest.PendingCommands(f.t, f.s, id)
}

// claimFirst starts an execution of a conformance case and claims its first command
// as w1; it returns the execution id and the command's key.
func (f *fixture) claimFirst(t *testing.T, name string) (execID int64, key string) {
	t.Helper()
	entry, pb := f.register(readCase(t, name))
	res, err := f.o.Start(context.Background(), StartRequest{Entry: entry, Playbook: pb})
	if err != nil {
		t.Fatal(err)
	}
	ev := f.pending(res.ExecutionID)[0]
	cl, err := f.o.Claim(context.Background(), ev, "w1")
	if err != nil {
		t.Fatal(err)
	}
	return res.ExecutionID, cl.Issued.Meta["command_id"].(string)
}

// work claims a command and posts the events a worker posts for a successful noop.
func (f *fixture) work(execID, eventID int64, worker string, fail string) error {
	ctx := context.Background()
	cl, err := f.o.Claim(ctx, eventID, worker)
	if err != nil {
		return err
	}
	key := cl.Issued.Meta["command_id"].(string)
	step := cl.Issued.Step
	var data any = map[string]any{}
	if cfg, ok := cl.Issued.Context.(map[string]any)["tool_config"].(map[string]any); ok && cfg["result"] != nil {
		data = cfg["result"]
	}
	mk := func(typ, status string, ctx map[string]any) eventlog.Event {
		id, _ := f.gen.Next()
		return eventlog.Event{Event: engine.Event{EventID: id, Type: typ, Step: step, Status: status, WorkerID: worker,
			Result: map[string]any{"status": status, "context": ctx}}}
	}
	evs := []eventlog.Event{mk("command.started", "STARTED", map[string]any{"command_id": key})}
	if fail != "" {
		evs = append(evs,
			mk("call.error", "FAILED", map[string]any{"command_id": key, "error": fail}),
			mk("command.failed", "FAILED", map[string]any{"command_id": key, "error": fail}))
	} else {
		evs = append(evs,
			mk("call.done", "COMPLETED", map[string]any{"command_id": key, "call_index": int64(0),
				"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": data}}}),
			mk("command.completed", "success", map[string]any{"command_id": key, "status": "success"}))
	}
	_, err = f.o.Ingest(ctx, execID, evs)
	return err
}

func TestLinearRunThroughPostgres(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	res, err := f.o.Start(context.Background(), StartRequest{Entry: entry, Playbook: pb, Payload: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.CommandsGenerated != 1 {
		t.Fatalf("commands generated = %d", res.CommandsGenerated)
	}
	for i := 0; i < 20 && f.status(res.ExecutionID) == "RUNNING"; i++ {
		for _, ev := range f.pending(res.ExecutionID) {
			if err := f.work(res.ExecutionID, ev, "w1", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := f.status(res.ExecutionID); got != "COMPLETED" {
		t.Fatalf("status = %s", got)
	}
	// Sequence numbers are gapless 1..n and the state snapshot caught up with them.
	var n, maxSeq, stateSeq int64
	if err := f.s.Pool.QueryRow(context.Background(), `SELECT count(*), max(seq) FROM event WHERE execution_id = $1`, res.ExecutionID).Scan(&n, &maxSeq); err != nil {
		t.Fatal(err)
	}
	_ = f.s.Pool.QueryRow(context.Background(), `SELECT state_seq FROM execution WHERE execution_id = $1`, res.ExecutionID).Scan(&stateSeq)
	if n != maxSeq || stateSeq != maxSeq {
		t.Fatalf("events %d, max seq %d, state seq %d", n, maxSeq, stateSeq)
	}
	// The end step's output rendered from the chain.
	var out string
	if err := f.s.Pool.QueryRow(context.Background(), `SELECT context->'tool_config'->'result'->>'final' FROM event
		WHERE execution_id = $1 AND event_type = 'command.issued' AND node_name = 'end'`, res.ExecutionID).Scan(&out); err != nil {
		t.Fatal(err)
	}
	if out != "value=8" {
		t.Fatalf("end result = %q", out)
	}
}

func TestDuplicateEventIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	execID, key := f.claimFirst(t, "01_linear.yaml")
	id, _ := f.gen.Next()
	done := eventlog.Event{Event: engine.Event{EventID: id, Type: "command.completed", Step: "start", Status: "success",
		Result: map[string]any{"status": "success", "context": map[string]any{"command_id": key}}}}
	first, err := f.o.Ingest(context.Background(), execID, []eventlog.Event{done})
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.o.Ingest(context.Background(), execID, []eventlog.Event{done})
	if err != nil {
		t.Fatal(err)
	}
	if first.CommandsGenerated != 1 || second.CommandsGenerated != 1 || !second.Duplicate[0] || first.Duplicate[0] {
		t.Fatalf("first %+v second %+v", first, second)
	}
	var rows, issued int
	_ = f.s.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE event_id = $2), count(*) FILTER (WHERE event_type = 'command.issued')
		FROM event WHERE execution_id = $1`, execID, id).Scan(&rows, &issued)
	if rows != 1 || issued != 2 {
		t.Fatalf("rows of the event = %d, command.issued = %d", rows, issued)
	}
}

func TestUnknownExecution(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.o.Ingest(context.Background(), 12345, []eventlog.Event{{Event: engine.Event{EventID: 1, Type: "command.completed", Step: "x"}}})
	if !errors.Is(err, eventlog.ErrNoExecution) {
		t.Fatalf("err = %v", err)
	}
}

func TestClaimRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	res, _ := f.o.Start(context.Background(), StartRequest{Entry: entry, Playbook: pb})
	ev := f.pending(res.ExecutionID)[0]
	if _, err := f.o.Claim(context.Background(), ev, "w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.o.Claim(context.Background(), ev, "w1"); err != nil {
		t.Fatalf("same worker re-claim: %v", err)
	}
	if _, err := f.o.Claim(context.Background(), ev, "w2"); err == nil || !strings.Contains(err.Error(), "already claimed by w1") {
		t.Fatalf("other worker claim: %v", err)
	}
	if err := f.o.Cancel(context.Background(), res.ExecutionID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.o.Claim(context.Background(), ev, "w1"); err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("claim after cancel: %v", err)
	}
	if _, err := f.o.Claim(context.Background(), 999, "w1"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown command: %v", err)
	}
}

// A result the worker offloaded to the result store is resolved for templates: the
// next step renders from the stored data, not from the reference.
func TestOffloadedResultIsResolved(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	execID, key := f.claimFirst(t, "01_linear.yaml")
	ref := f.storeResult(execID, "start", `{"x": 21}`)
	id1, _ := f.gen.Next()
	id2, _ := f.gen.Next()
	_, err := f.o.Ingest(context.Background(), execID, []eventlog.Event{
		{Event: engine.Event{EventID: id1, Type: "call.done", Step: "start", Status: "COMPLETED",
			Result: map[string]any{"status": "COMPLETED", "context": map[string]any{"command_id": key, "call_index": int64(0),
				"result": map[string]any{"status": "success", "context": map[string]any{"data": map[string]any{"_ref": ref}},
					"reference": map[string]any{"kind": "result_ref", "ref": ref, "store": "postgres"}}}}}},
		{Event: engine.Event{EventID: id2, Type: "command.completed", Step: "start", Status: "success",
			Result: map[string]any{"status": "success", "context": map[string]any{"command_id": key}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var value int64
	if err := f.s.Pool.QueryRow(context.Background(), `SELECT (context->'tool_config'->'result'->>'value')::bigint FROM event
		WHERE execution_id = $1 AND event_type = 'command.issued' AND node_name = 'double'`, execID).Scan(&value); err != nil {
		t.Fatal(err)
	}
	if value != 42 {
		t.Fatalf("double rendered %d from the offloaded result, want 42", value)
	}
	// The stored call.done still holds the reference, not the data.
	var stored string
	_ = f.s.Pool.QueryRow(context.Background(), `SELECT result::text FROM event WHERE execution_id = $1 AND event_id = $2`, execID, id1).Scan(&stored)
	if !strings.Contains(stored, "_ref") || strings.Contains(stored, `"x": 21`) {
		t.Fatalf("stored call.done = %s", stored)
	}
}

const loopPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: loop_results_outside_snapshot
  path: tests/loop_results_outside_snapshot
workload:
  n: 30
workflow:
  - step: start
    tool: {kind: noop}
    next: [fan]
  - step: fan
    loop:
      in: "{{ workload.n }}"
      iterator: i
    tool:
      kind: noop
      result:
        square: "{{ i * i }}"
        padding: "an iteration result long enough that keeping it in the snapshot would show"
    next: [echo]
  - step: echo
    tool:
      kind: noop
      result:
        squares: "{{ fan.results | map(attribute='square') | list }}"
        stats: "{{ fan.stats }}"
`

// A loop's finished iterations keep their results on the command rows, not in the
// snapshot: the snapshot is the same size after the 3rd iteration as after the 29th,
// and the step's {results, stats} is assembled from the rows when the loop ends.
func TestLoopResultsStayOutOfTheSnapshot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	entry, pb := f.register([]byte(loopPlaybook))
	res, err := f.o.Start(context.Background(), StartRequest{Entry: entry, Playbook: pb})
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() int64 {
		return testkit.QueryOne[int64](t, f.s, `SELECT octet_length(state::text) FROM execution WHERE execution_id = $1`, res.ExecutionID)
	}
	var sizes []int64
	for i := 0; i < 100 && f.status(res.ExecutionID) == "RUNNING"; i++ {
		pending := f.pending(res.ExecutionID)
		if len(pending) == 0 {
			t.Fatal("no pending command while running")
		}
		if err := f.work(res.ExecutionID, pending[0], "w1", ""); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, snapshot())
	}
	if got := f.status(res.ExecutionID); got != "COMPLETED" {
		t.Fatalf("status = %s", got)
	}
	// sizes[k] is the snapshot after start (k = 0) and k iterations; fan's 29th is k = 29.
	if len(sizes) < 31 || sizes[29] > sizes[3]+16 {
		t.Fatalf("the snapshot grew with finished iterations: %v", sizes)
	}
	var squares, stats string
	if err := f.s.Pool.QueryRow(context.Background(), `SELECT context->'tool_config'->'result'->>'squares',
			context->'tool_config'->'result'->>'stats'
		FROM event WHERE execution_id = $1 AND event_type = 'command.issued' AND node_name = 'echo'`, res.ExecutionID).Scan(&squares, &stats); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < 30; i++ {
		want = append(want, strconv.Itoa(i*i))
	}
	if squares != "["+strings.Join(want, ", ")+"]" {
		t.Fatalf("echo squares = %s", squares)
	}
	if stats != `{"total": 30, "failed": 0, "success": 30}` { // jsonb orders keys by length
		t.Fatalf("echo stats = %s", stats)
	}
	if n := testkit.QueryOne[int64](t, f.s, `SELECT count(*) FROM command WHERE execution_id = $1 AND step_name = 'fan'
		AND result IS NOT NULL AND loop_event_id IS NOT NULL`, res.ExecutionID); n != 30 {
		t.Fatalf("%d fan commands carry their result, want 30", n)
	}
}

// TestEventsCarryTheInjectedClock: every event the orchestrator writes (start, claim,
// a pass's decisions) is stamped by its clock, and so is playbook.started's emitted_at.
func TestEventsCarryTheInjectedClock(t *testing.T) {
	t.Parallel()
	at := time.Date(2031, 2, 3, 4, 5, 6, 789000, time.UTC) // PostgreSQL keeps microseconds
	f := newFixtureAt(t, clock.Fixed(at))
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	res, err := f.o.Start(context.Background(), StartRequest{Entry: entry, Playbook: pb})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.work(res.ExecutionID, f.pending(res.ExecutionID)[0], "w1", ""); err != nil {
		t.Fatal(err)
	}
	rows, err := f.s.Pool.Query(context.Background(), `SELECT event_type, created_at FROM event
		WHERE execution_id = $1 AND event_type NOT IN ('command.started', 'call.done', 'command.completed')`, res.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	types := map[string]bool{}
	for rows.Next() {
		var typ string
		var created time.Time
		if err := rows.Scan(&typ, &created); err != nil {
			t.Fatal(err)
		}
		types[typ] = true
		if !created.Equal(at) {
			t.Errorf("%s created_at = %v, want %v", typ, created.UTC(), at)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{engine.TypePlaybookStarted, engine.TypeCommandIssued, engine.TypeCommandClaimed} {
		if !types[want] {
			t.Errorf("no %s event among %v", want, types)
		}
	}
	emitted := testkit.QueryOne[string](t, f.s, `SELECT meta->>'emitted_at' FROM event
		WHERE execution_id = $1 AND event_type = $2`, res.ExecutionID, engine.TypePlaybookStarted)
	if emitted != at.Format(time.RFC3339Nano) {
		t.Errorf("emitted_at = %q, want %q", emitted, at.Format(time.RFC3339Nano))
	}
}

// Cancelling an execution cancels the running executions started below it (a child
// whose parent step already finished too, and a grandchild under a finished child);
// finished children and unrelated executions are left alone.
func TestCancelCascadesToRunningChildren(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	start := func(parent int64) int64 {
		t.Helper()
		req := StartRequest{Entry: entry, Playbook: pb}
		if parent != 0 {
			req.ParentExecutionID = &parent
		}
		res, err := f.o.Start(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res.ExecutionID
	}
	parent := start(0)
	child := start(parent)
	finished := start(parent)
	for i := 0; i < 20 && f.status(finished) == engine.StatusRunning; i++ {
		for _, ev := range f.pending(finished) {
			if err := f.work(finished, ev, "w1", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	grandchild := start(finished)
	other := start(0)

	if err := f.o.Cancel(ctx, parent); err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{parent: engine.StatusCancelled, child: engine.StatusCancelled,
		finished: engine.StatusCompleted, grandchild: engine.StatusCancelled, other: engine.StatusRunning}
	names := map[int64]string{parent: "parent", child: "child", finished: "finished child", grandchild: "grandchild", other: "unrelated"}
	for id, status := range want {
		t.Run(names[id], func(t *testing.T) {
			if got := f.status(id); got != status {
				t.Fatalf("status = %s, want %s", got, status)
			}
		})
	}
	reason := testkit.QueryOne[string](t, f.s, `SELECT meta->>'reason' FROM event WHERE execution_id = $1 AND event_type = 'playbook.cancelled'`, child)
	if reason != "parent execution "+strconv.FormatInt(parent, 10)+" was cancelled" {
		t.Fatalf("child's cancel reason = %q", reason)
	}
	// Cancelling the parent again is refused as before, and touches nothing.
	var term *ErrTerminal
	if err := f.o.Cancel(ctx, parent); !errors.As(err, &term) {
		t.Fatalf("second cancel = %v", err)
	}
}
