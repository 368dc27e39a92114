package engine

import "fmt"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/tmpl"

// folding is a fresh state and a function that applies one event to it with the next
// sequence number, as a pass folds the log.
func folding(pb *playbook.Playbook) (*State, func(Event)) {
	st := NewState(1, 2, "p")
	seq := int64(0)
	return st, func(ev Event) {
		seq++
		ev.Seq = seq
		st.Apply(ev, pb)
	}
}

// A worker whose claim was revoked (requeued, then claimed by another worker) cannot
// finish the command or replace its result; the current holder can.
func TestRevokedWorkerReportsAreIgnored(t *testing.T) {
	t.Parallel()
	st, apply := folding(nil)
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

// A run that fails while a sequential loop of another branch still has iterations to
// issue ends once nothing is in flight; the loop, which will never get its remaining
// iterations, is closed with a step.cancelled before the terminal event, and a late
// outcome after the end changes no step.
func TestFailureClosesALoopItStopped(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, playbookOf("stopped_loop",
		step("start", []string{"bad", "each"}),
		step("bad", nil),
		step("each", nil, "loop: {in: [1, 2, 3], iterator: n}"),
	))
	r := &simRun{t: t, e: New(tmpl.New(0), &seqIDs{}), pb: pb, st: NewState(42, 7, "tests/stopped_loop"), stored: iterationStore{}}
	out, err := r.e.Start(r.st, pb, map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.append(out)
	r.complete(r.st.Commands[keyString(r.issued("start")[0].Meta["command_id"])], r.issued("start")[0])
	bad, each := r.issued("bad"), r.issued("each")
	if len(bad) != 1 || len(each) != 1 {
		t.Fatalf("issued bad %d, each %d", len(bad), len(each))
	}
	for _, ev := range workerEvents(bad[0], true, "boom", nil) {
		r.post(ev)
	}
	if r.st.Terminal() {
		t.Fatal("ended while an iteration was in flight")
	}
	r.complete(r.st.Commands[keyString(each[0].Meta["command_id"])], each[0])
	if r.st.Status != StatusFailed {
		t.Fatalf("status = %s", r.st.Status)
	}
	var closing []string
	for _, ev := range r.log {
		if ev.Type == TypeStepCancelled || ev.Type == TypePlaybookFailed {
			closing = append(closing, ev.Type+":"+ev.Step)
		}
	}
	if fmt.Sprint(closing) != "[step.cancelled:each playbook.failed:playbook]" {
		t.Fatalf("closing events = %v", closing)
	}
	if p := r.st.Progress(); p != (StepView{Total: 3, Completed: 1, Failed: 1, Cancelled: 1}) {
		t.Fatalf("progress = %+v", p)
	}
	if len(r.issued("each")) != 1 {
		t.Fatalf("iterations issued after the failure: %d", len(r.issued("each")))
	}
}
