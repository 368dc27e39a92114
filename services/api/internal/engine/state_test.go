package engine

import "testing"

// A worker whose claim was revoked (requeued, then claimed by another worker) cannot
// finish the command or replace its result; the current holder can.
func TestRevokedWorkerReportsAreIgnored(t *testing.T) {
	t.Parallel()
	st := NewState(1, 2, "p")
	seq := int64(0)
	apply := func(ev Event) {
		seq++
		ev.Seq = seq
		st.Apply(ev, nil)
	}
	key := "1:start:10"
	ctx := func(extra map[string]any) map[string]any {
		m := map[string]any{"command_id": key}
		for k, v := range extra {
			m[k] = v
		}
		return map[string]any{"status": "x", "context": m}
	}
	apply(Event{Type: TypeCommandIssued, Step: "start", EventID: 10, Meta: map[string]any{"command_id": key}})
	apply(Event{Type: TypeCommandClaimed, Step: "start", WorkerID: "A", Meta: map[string]any{"command_id": key}})
	apply(Event{Type: "command.requeued", Step: "start", Meta: map[string]any{"command_id": key}})
	apply(Event{Type: TypeCommandClaimed, Step: "start", WorkerID: "B", Meta: map[string]any{"command_id": key}})

	apply(Event{Type: TypeCallDone, Step: "start", WorkerID: "A", Result: ctx(map[string]any{"result": map[string]any{"context": map[string]any{"data": "from A"}}})})
	apply(Event{Type: TypeCommandCompleted, Step: "start", WorkerID: "A", Result: ctx(nil)})
	if st.Commands[key] == nil || st.Steps["start"].Phase == PhaseCompleted {
		t.Fatalf("revoked worker A finished the command: %+v", st.Steps["start"])
	}
	if st.Steps["start"].Envelope != nil {
		t.Fatalf("revoked worker A's result was kept: %v", st.Steps["start"].Envelope)
	}
	apply(Event{Type: TypeCallDone, Step: "start", WorkerID: "B", Result: ctx(map[string]any{"result": map[string]any{"context": map[string]any{"data": "from B"}}})})
	apply(Event{Type: TypeCommandCompleted, Step: "start", WorkerID: "B", Result: ctx(nil)})
	if st.Commands[key] != nil || st.Steps["start"].Phase != PhaseCompleted {
		t.Fatalf("holder B could not finish the command: %+v", st.Steps["start"])
	}
}
