package engine

import (
	"testing"

	"github.com/noetl/controlplane/shared/jsonx"
)

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
