package executions

import "context"
import "fmt"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

// fanOut is start -> fan (a parallel loop of three noops, two at a time) -> gather.
const fanOut = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: %[1]s
  path: %[2]s
workload:
  ids: [1, 2, 3]
workflow:
  - {step: start, tool: {kind: noop}, next: [fan]}
  - step: fan
    loop:
      in: "{{ workload.ids }}"
      iterator: id
      spec: {mode: parallel, max_in_flight: 2}
    tool: {kind: noop}
    next: [gather]
  - step: gather
    tool: {kind: noop}
`

// claim claims a command for w1 and returns its command id.
func (f *fixture) claim(eventID int64) string {
	f.T.Helper()
	cl, err := f.o.Claim(context.Background(), eventID, "w1")
	if err != nil {
		f.T.Fatal(err)
	}
	return cl.Issued.Meta["command_id"].(string)
}

// finish posts what a worker posts when command key of step ends ("command.completed"
// or "command.failed").
func (f *fixture) finish(execID int64, step, key, typ string) error {
	id, _ := f.Gen.Next()
	status := "COMPLETED"
	if typ == engine.TypeCommandFailed {
		status = "FAILED"
	}
	_, err := f.o.Ingest(context.Background(), execID, []eventlog.Event{{Event: engine.Event{EventID: id, Type: typ,
		Step: step, Status: status, WorkerID: "w1",
		Result: map[string]any{"status": status, "context": map[string]any{"command_id": key, "error": "late"}}}}})
	return err
}

// TestEndedExecutionClosesItsInFlightSteps: once an execution is terminal (cancel, or
// finalize), no step of it is reported running by any read route: the step that was
// in flight is closed out as cancelled with an event of its own (its end time), its
// commands can no longer be claimed or recovered, and a worker's late completion
// changes neither the execution nor the step.
func TestEndedExecutionClosesItsInFlightSteps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()

	type setup struct {
		id      int64
		step    string   // the step in flight at the end
		late    []string // commands a worker still holds (finished late)
		running int      // running_steps before the end
		done    int      // completed_steps before (and after) the end
	}
	cases := []struct {
		name string
		prep func(t *testing.T) setup
		end  func(id int64) error
	}{
		{"cancel a claimed step", func(t *testing.T) setup {
			id := f.start("close/claimed")
			return setup{id: id, step: "start", late: []string{f.claim(f.pending(id)[0])}, running: 1}
		}, func(id int64) error { return f.o.Cancel(ctx, id) }},
		{"cancel a published, unclaimed step", func(t *testing.T) setup {
			id := f.start("close/published")
			return setup{id: id, step: "start", running: 1}
		}, func(id int64) error { return f.o.Cancel(ctx, id) }},
		{"cancel a loop with iterations in flight", func(t *testing.T) setup {
			id := f.startSrc("close/loop", fanOut, nil)
			f.work(id, f.pending(id)[0], "") // start
			iters := f.pending(id)
			if len(iters) != 2 {
				t.Fatalf("iterations issued = %d, want 2", len(iters))
			}
			f.work(id, iters[0], "") // one finishes, the third is issued
			var held []string
			for _, ev := range f.pending(id) {
				held = append(held, f.claim(ev))
			}
			return setup{id: id, step: "fan", late: held, running: 1, done: 1}
		}, func(id int64) error { return f.o.Cancel(ctx, id) }},
		{"finalize FAILED with a claimed step", func(t *testing.T) setup {
			id := f.start("close/finalize")
			return setup{id: id, step: "start", late: []string{f.claim(f.pending(id)[0])}, running: 1}
		}, func(id int64) error { return f.o.Finalize(ctx, id, engine.StatusFailed, "operator") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.prep(t)
			before := f.progress(s.id)
			if before["running_steps"] != int64(s.running) {
				t.Fatalf("before the end: progress = %v", before)
			}
			if err := tc.end(s.id); err != nil {
				t.Fatal(err)
			}
			status := f.statusBody(s.id)["status"]
			f.wantClosed(t, s.id, s.step, s.done)

			// A worker's late outcome is stored, but terminal is final for the
			// execution and for the step.
			for i, key := range s.late {
				typ := engine.TypeCommandCompleted
				if i%2 == 1 {
					typ = engine.TypeCommandFailed
				}
				if err := f.finish(s.id, s.step, key, typ); err != nil {
					t.Fatalf("late %s: %v", typ, err)
				}
			}
			if got := f.statusBody(s.id)["status"]; got != status {
				t.Fatalf("status after a late outcome = %v, want %v", got, status)
			}
			f.wantClosed(t, s.id, s.step, s.done)
			if n := len(f.pending(s.id)); n != 0 {
				t.Fatalf("%d commands still claimable after the end", n)
			}
		})
	}
}

func (f *fixture) statusBody(id int64) map[string]any {
	f.T.Helper()
	rec := f.do("GET", fmt.Sprintf("/api/executions/%d/status", id))
	if rec.Code != 200 {
		f.T.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	return httpkit.JSON(f.T, rec).(map[string]any)
}

func (f *fixture) progress(id int64) map[string]any {
	f.T.Helper()
	return f.statusBody(id)["progress"].(map[string]any)
}

// wantClosed checks every read route of an ended execution: nothing running, step
// closed out as cancelled with its step.cancelled event, and no claimable command.
func (f *fixture) wantClosed(t *testing.T, id int64, step string, done int) {
	t.Helper()
	want := fmt.Sprint(map[string]any{"total_steps": int64(done + 1), "completed_steps": int64(done),
		"running_steps": int64(0), "failed_steps": int64(0), "cancelled_steps": int64(1)})
	if got := fmt.Sprint(f.progress(id)); got != want {
		t.Errorf("progress = %s, want %s", got, want)
	}
	d := httpkit.JSON(t, f.do("GET", fmt.Sprintf("/api/executions/%d", id))).(map[string]any)
	closed := 0
	for _, e := range d["events"].([]any) {
		ev := e.(map[string]any)
		if ev["event_type"] == engine.TypeStepCancelled {
			closed++
			if ev["node_name"] != step || ev["status"] != engine.StatusCancelled || ev["created_at"] == nil {
				t.Errorf("detail: step.cancelled = %v", ev)
			}
		}
	}
	if closed != 1 {
		t.Errorf("detail: %d step.cancelled events, want 1", closed)
	}
	log := httpkit.JSON(t, f.do("GET", fmt.Sprintf("/api/executions/%d/events", id))).(map[string]any)["events"].([]any)
	seqOf := map[string]int64{}
	for _, e := range log {
		ev := e.(map[string]any)
		typ, _ := ev["event_type"].(string)
		if _, terminal := engine.TerminalStatus(typ); terminal || typ == engine.TypeStepCancelled {
			seqOf[typ] = ev["seq"].(int64)
		}
	}
	if c := seqOf[engine.TypeStepCancelled]; c == 0 || len(seqOf) != 2 {
		t.Errorf("event log: closing events %v", seqOf)
	}
	var live int
	_ = f.Pool.QueryRow(context.Background(), `SELECT count(*) FROM command WHERE execution_id = $1 AND status IN ('PENDING', 'CLAIMED')`, id).Scan(&live)
	if live != 0 {
		t.Errorf("%d commands still PENDING or CLAIMED", live)
	}
	var phases string
	_ = f.Pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(key || '=' || (value->>'phase'), ',' ORDER BY key), '')
		FROM execution, jsonb_each(state->'steps') WHERE execution_id = $1`, id).Scan(&phases)
	if strings.Contains(phases, "="+engine.PhaseRunning) || !strings.Contains(phases, step+"="+engine.PhaseCancelled) {
		t.Errorf("snapshot phases: %s", phases)
	}
}

// TestCancelOfAnEndedExecutionIsAConflict: cancelling an execution that already ended is
// a state conflict (409), as a finalize of one is, whatever way it ended; the request
// itself was well formed, so it is not a 422. The execution stays as it ended.
func TestCancelOfAnEndedExecutionIsAConflict(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	completed := f.start("endcancel/completed")
	f.runToEnd(completed)
	failed := f.start("endcancel/failed")
	f.work(failed, f.pending(failed)[0], "boom")
	cancelled := f.start("endcancel/cancelled")
	if err := f.o.Cancel(context.Background(), cancelled); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		id     int64
		status string
	}{
		{"completed", completed, "COMPLETED"},
		{"failed", failed, "FAILED"},
		{"cancelled", cancelled, "CANCELLED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			httpkit.WantError(t, f.do("POST", fmt.Sprintf("/api/executions/%d/cancel", tc.id)), 409,
				"Cannot cancel execution in "+tc.status+" state")
			if got := f.statusBody(tc.id)["status"]; got != tc.status {
				t.Errorf("status after the refused cancel = %v, want %s", got, tc.status)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		httpkit.WantError(t, f.do("POST", "/api/executions/77/cancel"), 404, "Execution not found: 77")
	})
}

// TestFinalizeStatusInAnyCase: finalize takes its status in any case and with spaces
// around it, as the list route's status filter does, and records the canonical
// spelling; anything else is still refused (422) and changes nothing.
func TestFinalizeStatusInAnyCase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name, sent, want string
	}{
		{"lower case", "completed", "COMPLETED"},
		{"mixed case, spaces", " Failed ", "FAILED"},
		{"upper case", "COMPLETED", "COMPLETED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := f.start("finalize/" + strings.ReplaceAll(tc.name, " ", "_"))
			rec := f.Do("POST", fmt.Sprintf("/api/executions/%d/finalize", id), fmt.Sprintf(`{"status": %q}`, tc.sent), "")
			m := httpkit.WantJSON(t, rec, 200)
			if m["status"] != tc.want {
				t.Errorf("answer status = %v, want %s", m["status"], tc.want)
			}
			if got := f.statusBody(id)["status"]; got != tc.want {
				t.Errorf("execution status = %v, want %s", got, tc.want)
			}
		})
	}
	t.Run("an unknown status", func(t *testing.T) {
		id := f.start("finalize/unknown")
		httpkit.WantError(t, f.Do("POST", fmt.Sprintf("/api/executions/%d/finalize", id), `{"status": "done"}`, ""), 422,
			"Invalid finalization status: done")
		if got := f.statusBody(id)["status"]; got != "RUNNING" {
			t.Errorf("execution status = %v, want RUNNING", got)
		}
	})
}
