package engine

import "fmt"
import "reflect"
import "testing"

// A step re-entered by an arc keeps its previous round's result while the new round
// runs (its own templates may read it, a cursor say), and the new round's result replaces
// it whichever way the round ends: with a call.done, with only a command.completed, or
// with a failure under on_error: continue, and a success after such a failure routes as
// call.done again (docs/engine.md, "Rounds of a cycle").
func TestARoundReplacesThePreviousRoundsResult(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, playbookOf("rounds",
		step("start", nil),
		"  - step: fetch\n    spec: {on_error: continue}\n    tool: {kind: noop}\n"))
	envelope := func(key, data string) map[string]any {
		return map[string]any{"status": "COMPLETED", "context": map[string]any{"command_id": key,
			"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": data}}}}
	}
	type round struct {
		callDone bool   // the worker posts call.done before command.completed
		failed   bool   // the command fails (on_error: continue)
		data     string // what the round's tool returns
	}
	cases := []struct {
		name         string
		first, again round
		wantEnvelope func(key string) any
		wantHasData  bool
	}{
		{"call.done, then only command.completed", round{callDone: true, data: "r1"}, round{data: "r2"},
			func(key string) any { return envelope(key, "r2") }, false},
		{"call.done twice", round{callDone: true, data: "r1"}, round{callDone: true, data: "r2"},
			func(key string) any { return envelope(key, "r2") }, false},
		{"a failure continued, then a success", round{failed: true}, round{callDone: true, data: "r2"},
			func(key string) any { return envelope(key, "r2") }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st, apply := folding(pb)
			enter := func() { apply(Event{Type: TypeStepEnter, Step: "fetch"}) }
			finish := func(n int, r round) string {
				key := fmt.Sprintf("1:fetch:%d", n)
				apply(Event{Type: TypeCommandIssued, Step: "fetch", EventID: int64(n), Meta: map[string]any{"command_id": key}})
				switch {
				case r.failed:
					apply(Event{Type: TypeCommandFailed, Step: "fetch", Result: map[string]any{"status": "FAILED",
						"context": map[string]any{"command_id": key, "error": "boom"}}})
				case r.callDone:
					apply(Event{Type: TypeCallDone, Step: "fetch", Result: envelope(key, r.data)})
					apply(Event{Type: TypeCommandCompleted, Step: "fetch", Result: map[string]any{"status": "success",
						"context": map[string]any{"command_id": key, "status": "success"}}})
				default:
					apply(Event{Type: TypeCommandCompleted, Step: "fetch", Result: envelope(key, r.data)})
				}
				return key
			}
			enter()
			finish(10, c.first)
			fetch := st.Steps["fetch"]
			before, beforeData := fetch.Envelope, fetch.HasData
			if before == nil {
				t.Fatal("the first round left no result")
			}
			enter()
			if !reflect.DeepEqual(fetch.Envelope, before) || fetch.HasData != beforeData {
				t.Fatalf("entering the second round changed the result: %v (has data %v)", fetch.Envelope, fetch.HasData)
			}
			key := finish(11, c.again)
			if fetch.Phase != PhaseCompleted {
				t.Fatalf("second round: phase %s", fetch.Phase)
			}
			if want := c.wantEnvelope(key); !reflect.DeepEqual(fetch.Envelope, want) {
				t.Fatalf("after the second round: envelope %v, want %v", fetch.Envelope, want)
			}
			if fetch.HasData != c.wantHasData {
				t.Fatalf("after the second round: has data %v, want %v", fetch.HasData, c.wantHasData)
			}
		})
	}
}
