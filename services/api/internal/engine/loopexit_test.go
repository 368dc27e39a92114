package engine

import "testing"

import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/tmpl"

// A finished loop writes one step.exit whose data is its {results, stats}
// (docs/engine.md, "Loops"): a loop step has no call.done of its own, and the worker's
// playbook tool reads a child's loop step from the log through it.
func TestLoopExitCarriesTheAggregate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		want     map[string]any
	}{
		{"a loop of two", `[3, 4]`, map[string]any{
			"results": []any{map[string]any{"v": int64(6)}, map[string]any{"v": int64(8)}},
			"stats":   map[string]any{"total": int64(2), "success": int64(2), "failed": int64(0)}}},
		{"an empty loop", `[]`, map[string]any{
			"results": []any{},
			"stats":   map[string]any{"total": int64(0), "success": int64(0), "failed": int64(0)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: loop_exit, path: tests/loop_exit}
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop: {in: "`+tc.in+`", iterator: x, spec: {mode: parallel}}
    tool: {kind: noop, result: {v: "{{ x * 2 }}"}}
    next: [end]
  - step: end
    tool: {kind: noop}
`)
			r := runSim(t, pb, expectedRun{})
			if r.st.Status != StatusCompleted {
				t.Fatalf("status %s", r.st.Status)
			}
			var exits []Event
			for _, ev := range r.log {
				if ev.Type == TypeStepExit && ev.Step == "each" {
					exits = append(exits, ev)
				}
			}
			if len(exits) != 1 || exits[0].Status != StatusCompleted {
				t.Fatalf("step.exit of each = %+v, want one COMPLETED", exits)
			}
			// The event store takes a result of {status, context, reference} only.
			got, _ := exits[0].Result.(map[string]any)
			inner, _ := got["context"].(map[string]any)
			if len(got) != 2 || got["status"] != StatusCompleted || len(inner) != 1 {
				t.Fatalf("step.exit result %#v, want {status: COMPLETED, context: {data}}", got)
			}
			g, _ := jsonx.MarshalString(inner["data"])
			w, _ := jsonx.MarshalString(tc.want)
			if g != w {
				t.Fatalf("step.exit data %#v, want %#v", got["data"], tc.want)
			}
			if st := r.st.Steps["end"]; st == nil || st.Phase != PhaseCompleted {
				t.Fatalf("end = %+v, want completed", st)
			}
		})
	}
}

// Each iteration of a pipeline loop is flattened as a pipeline step's result is
// (docs/engine.md, "Loops"): a task's fields are read as results[i].field, the last task
// winning, and the labelled keys stay.
func TestPipelineLoopIterationsAreFlattened(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, read, want string }{
		{"a task's field", "{{ each.results | map(attribute='val') | list }}", `[1,2]`},
		{"the last task wins", "{{ each.results | map(attribute='who') | list }}", `["shape","shape"]`},
		{"the labels stay", "{{ each.results | map(attribute='fetch.raw') | list }}", `[0,10]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: pipe_loop, path: tests/pipe_loop}
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop: {in: "{{ [0, 1] }}", iterator: i}
    tool:
      - fetch:
          kind: noop
          result: {raw: "{{ i * 10 }}", who: fetch}
      - shape:
          kind: noop
          result: {val: "{{ i + 1 }}", who: shape}
    next: [end]
  - step: end
    tool:
      kind: noop
      result: {got: "`+tc.read+`"}
`)
			r := runSim(t, pb, expectedRun{})
			if r.st.Status != StatusCompleted {
				t.Fatalf("status %s", r.st.Status)
			}
			end := r.st.Steps["end"]
			d, _ := tmpl.StepData(tmpl.StepResult{Envelope: end.Envelope, Data: end.Data, HasData: end.HasData})
			data, _ := d.(map[string]any)
			g, _ := jsonx.MarshalString(data["got"])
			if g != tc.want {
				t.Fatalf("%s = %s, want %s", tc.read, g, tc.want)
			}
		})
	}
}

// A failure continued under spec.on_error: continue is recorded as a step.exit carrying
// the step's result ({status: error, error, ...}), which no call.done carries; a success
// writes none.
func TestContinuedFailureExitCarriesItsResult(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		worker map[string]map[string]any
		want   string // the data of risky's step.exit, "" for none
	}{
		{"a continued failure", map[string]map[string]any{"risky": {"status": "error", "error": "boom"}},
			`{"error":"boom","status":"error"}`},
		{"a success", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: continued_exit, path: tests/continued_exit}
workflow:
  - step: start
    tool: {kind: noop}
    next: [risky]
  - step: risky
    spec: {on_error: continue}
    tool: {kind: noop, result: {ok: true}}
    next: [end]
  - step: end
    tool: {kind: noop}
`)
			r := runSim(t, pb, expectedRun{Worker: tc.worker})
			if r.st.Status != StatusCompleted {
				t.Fatalf("status %s", r.st.Status)
			}
			var exits []string
			for _, ev := range r.log {
				if ev.Type == TypeStepExit && ev.Step == "risky" {
					got, _ := ev.Result.(map[string]any)
					inner, _ := got["context"].(map[string]any)
					g, _ := jsonx.MarshalString(inner["data"])
					exits = append(exits, ev.Status+" "+g)
				}
			}
			switch {
			case tc.want == "" && len(exits) != 0:
				t.Fatalf("step.exit of risky = %v, want none", exits)
			case tc.want != "" && (len(exits) != 1 || exits[0] != "COMPLETED "+tc.want):
				t.Fatalf("step.exit of risky = %v, want one COMPLETED %s", exits, tc.want)
			}
		})
	}
}
