package orchestrator

import "context"
import "strings"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/runtimes"
import "github.com/noetl/controlplane/shared/testkit"

// outcome is the call.done + command.completed batch of a successful noop command.
func (f *fixture) outcome(cmd *eventlog.IssuedCommand, worker string) []eventlog.Event {
	key := cmd.Meta["command_id"].(string)
	var data any = map[string]any{}
	if cfg, ok := cmd.Context.(map[string]any)["tool_config"].(map[string]any); ok && cfg["result"] != nil {
		data = cfg["result"]
	}
	mk := func(typ, status string, ctx map[string]any) eventlog.Event {
		id, _ := f.gen.Next()
		return eventlog.Event{Event: engine.Event{EventID: id, Type: typ, Step: cmd.Step, Status: status, WorkerID: worker,
			Result: map[string]any{"status": status, "context": ctx}}}
	}
	return []eventlog.Event{
		mk("call.done", "COMPLETED", map[string]any{"command_id": key, "call_index": int64(0),
			"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": data}}}),
		mk("command.completed", "success", map[string]any{"command_id": key, "status": "success"}),
	}
}

// An execution run end to end with eager dispatch: only the first command is claimed
// through the claim route; every later one arrives claimed in the answer to the
// previous outcome, has no outbox row (nothing to publish), and is refused to any other
// claimer. The results are those of the ordinary run.
func TestEagerDispatchRunsAnExecution(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	res, err := f.o.Start(ctx, StartRequest{Entry: entry, Playbook: pb})
	if err != nil {
		t.Fatal(err)
	}
	first := f.pending(res.ExecutionID)[0]
	cl, err := f.o.Claim(ctx, first, "w1")
	if err != nil {
		t.Fatal(err)
	}
	cmd := cl.Issued
	var steps []string
	for cmd != nil {
		steps = append(steps, cmd.Step)
		out, err := f.o.IngestEager(ctx, res.ExecutionID, f.outcome(cmd, "w1"), Eager{WorkerID: "w1", Capacity: 4})
		if err != nil {
			t.Fatal(err)
		}
		cmd = nil
		if len(out.Claimed) > 1 {
			t.Fatalf("a linear step issued %d commands", len(out.Claimed))
		}
		if len(out.Claimed) == 1 {
			cmd = out.Claimed[0]
			if cmd.Meta["attempt"] != int64(1) || cmd.Meta["command_id"] == nil || cmd.Action != "noop" {
				t.Fatalf("eager command = %+v", cmd)
			}
			if _, err := f.o.Claim(ctx, cmd.EventID, "w2"); err == nil || !strings.Contains(err.Error(), "already claimed by w1") {
				t.Fatalf("another worker's claim of an eagerly dispatched command: %v", err)
			}
			if n := testkit.QueryOne[int64](t, f.s, `SELECT count(*) FROM outbox WHERE event_id = $1`, cmd.EventID); n != 0 {
				t.Fatalf("eagerly dispatched command has %d outbox rows", n)
			}
			if st := testkit.QueryOne[string](t, f.s, `SELECT status || '/' || worker_id FROM command WHERE event_id = $1`, cmd.EventID); st != "CLAIMED/w1" {
				t.Fatalf("command row = %s", st)
			}
		}
	}
	if got := strings.Join(steps, ","); got != "start,double,label,end" {
		t.Fatalf("steps run = %s", got)
	}
	if got := f.status(res.ExecutionID); got != "COMPLETED" {
		t.Fatalf("status = %s", got)
	}
	var out string
	if err := f.s.Pool.QueryRow(ctx, `SELECT context->'tool_config'->'result'->>'final' FROM event
		WHERE execution_id = $1 AND event_type = 'command.issued' AND node_name = 'end'`, res.ExecutionID).Scan(&out); err != nil {
		t.Fatal(err)
	}
	if out != "value=8" {
		t.Fatalf("end result = %q", out)
	}
	// Every command was claimed exactly once, by w1; three of the claims were eager.
	var claims, eager, distinct int64
	if err := f.s.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE meta->>'eager' = 'true'),
			count(DISTINCT meta->>'command_id') FROM event WHERE execution_id = $1 AND event_type = 'command.claimed'`,
		res.ExecutionID).Scan(&claims, &eager, &distinct); err != nil {
		t.Fatal(err)
	}
	if claims != 4 || eager != 3 || distinct != 4 {
		t.Fatalf("claims %d, eager %d, distinct commands %d", claims, eager, distinct)
	}
	if n := testutil.ToFloat64(f.o.m.eager); n != 3 {
		t.Fatalf("noetl_commands_eager_total = %v", n)
	}
	// Sequence numbers stay gapless and the snapshot caught up.
	var n, maxSeq, stateSeq int64
	_ = f.s.Pool.QueryRow(ctx, `SELECT count(*), max(seq) FROM event WHERE execution_id = $1`, res.ExecutionID).Scan(&n, &maxSeq)
	_ = f.s.Pool.QueryRow(ctx, `SELECT state_seq FROM execution WHERE execution_id = $1`, res.ExecutionID).Scan(&stateSeq)
	if n != maxSeq || stateSeq != maxSeq {
		t.Fatalf("events %d, max seq %d, state seq %d", n, maxSeq, stateSeq)
	}
}

// A worker that lost the answer posts the same events again and gets the same
// commands; another worker posting for a command it does not hold is refused.
func TestEagerDispatchRepeatReturnsTheSameCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	res, _ := f.o.Start(ctx, StartRequest{Entry: entry, Playbook: pb})
	cl, err := f.o.Claim(ctx, f.pending(res.ExecutionID)[0], "w1")
	if err != nil {
		t.Fatal(err)
	}
	evs := f.outcome(cl.Issued, "w1")
	a, err := f.o.IngestEager(ctx, res.ExecutionID, evs, Eager{WorkerID: "w1", Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.o.IngestEager(ctx, res.ExecutionID, evs, Eager{WorkerID: "w1", Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Claimed) != 1 || len(b.Claimed) != 1 || a.Claimed[0].EventID != b.Claimed[0].EventID || !b.Duplicate[1] {
		t.Fatalf("first %+v, repeat %+v", a, b)
	}
	if b.Claimed[0].Meta["command_id"] != a.Claimed[0].Meta["command_id"] || b.Claimed[0].Action != "noop" {
		t.Fatalf("repeat answer %+v", b.Claimed[0])
	}
	// w2 finishing w1's eagerly claimed command is a revoked claim: 409, nothing stored.
	if _, err := f.o.IngestEager(ctx, res.ExecutionID, f.outcome(a.Claimed[0], "w2"), Eager{WorkerID: "w2", Capacity: 1}); err == nil ||
		!strings.Contains(err.Error(), "held by worker w1") {
		t.Fatalf("w2's outcome: %v", err)
	}
}

// A command eagerly dispatched to a worker that then goes silent is recovered like
// any claimed command: made claimable again with the next attempt and published.
func TestEagerDispatchLostWorkerRecovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	res, _ := f.o.Start(ctx, StartRequest{Entry: entry, Playbook: pb})
	cl, err := f.o.Claim(ctx, f.pending(res.ExecutionID)[0], "ghost")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.o.IngestEager(ctx, res.ExecutionID, f.outcome(cl.Issued, "ghost"), Eager{WorkerID: "ghost", Capacity: 1})
	if err != nil || len(out.Claimed) != 1 {
		t.Fatalf("eager: %+v %v", out, err)
	}
	lost := out.Claimed[0]
	// "ghost" never registered: once its command saw no activity for the threshold it
	// is lost. Wait for the row to be older than the threshold rather than sleeping.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := f.o.RecoverLostCommands(ctx, 50*time.Millisecond, runtimes.WatchedForever); err != nil {
			t.Fatal(err)
		}
		if testkit.QueryOne[string](t, f.s, `SELECT status FROM command WHERE event_id = $1`, lost.EventID) == "PENDING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the eagerly dispatched command of a lost worker was never requeued")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := testkit.QueryOne[int64](t, f.s, `SELECT count(*) FROM outbox WHERE event_id = $1`, lost.EventID); n != 1 {
		t.Fatalf("requeued command has %d outbox rows", n)
	}
	again, err := f.o.Claim(ctx, lost.EventID, "w2")
	if err != nil {
		t.Fatalf("claim after recovery: %v", err)
	}
	if again.Attempt != 2 {
		t.Fatalf("attempt = %d", again.Attempt)
	}
	if _, err := f.o.IngestEager(ctx, res.ExecutionID, f.outcome(again.Issued, "w2"), Eager{}); err != nil {
		t.Fatal(err)
	}
}

// A pass that is refused stores nothing and claims nothing.
func TestEagerDispatchNothingForARefusedPass(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	res, _ := f.o.Start(ctx, StartRequest{Entry: entry, Playbook: pb})
	cl, err := f.o.Claim(ctx, f.pending(res.ExecutionID)[0], "w1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.o.IngestEager(ctx, res.ExecutionID, f.outcome(cl.Issued, "w2"), Eager{WorkerID: "w2", Capacity: 1})
	if err == nil || len(out.Claimed) != 0 {
		t.Fatalf("refused pass: %+v %v", out, err)
	}
	if n := testkit.QueryOne[int64](t, f.s, `SELECT count(*) FROM command WHERE execution_id = $1`, res.ExecutionID); n != 1 {
		t.Fatalf("commands after a refused pass = %d", n)
	}
}
