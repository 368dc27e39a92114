package e2e

import "bytes"
import "context"
import "crypto/rand"
import "encoding/binary"
import "fmt"
import "net/http"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/tests/e2e/scripted"

// assertStatusesAgree is the acceptance item "Status of list, detail and /status agree
// for every execution in the conformance run": read again after every run ended, the
// three routes report one terminal status per execution.
func assertStatusesAgree(t *testing.T, c *rtClient, results []*runResult) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := 0
	for _, r := range results {
		if r.ExecID == 0 {
			t.Errorf("%s: no execution (execute failed)", r.name())
			continue
		}
		n++
		st := c.statuses(ctx, r.ExecID, r.Case.Path)
		for _, e := range st.Errs {
			t.Errorf("%s (execution %d): %s", r.name(), r.ExecID, e)
		}
		if st.Detail != st.Status || st.Detail != st.List {
			t.Errorf("%s (execution %d): detail %q, /status %q, list %q disagree", r.name(), r.ExecID, st.Detail, st.Status, st.List)
		}
		switch st.Detail {
		case "COMPLETED", "FAILED", "CANCELLED":
		default:
			t.Errorf("%s (execution %d): status %q after the run ended", r.name(), r.ExecID, st.Detail)
		}
	}
	if n == 0 {
		t.Fatal("no execution to check")
	}
}

const idempotentPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: e2e_runtime_idempotent_event
  path: e2e/runtime/idempotent_event
workflow:
  - step: start
    tool:
      kind: noop
      result: {n: 1}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
`

// TestAcceptanceSameEventTwice: "The same event posted twice: one row, one pass, same
// response". A command.completed with an explicit event_id is posted twice; both
// answers are byte-identical, the log holds one row with that event_id, and the
// command it triggers is issued once. The next completion is posted four times at once,
// which must also store one row and run one pass.
func TestAcceptanceSameEventTwice(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.register(ctx, idempotentPlaybook); err != nil {
		t.Fatal(err)
	}
	id, err := c.execute(ctx, "e2e/runtime/idempotent_event", nil)
	if err != nil {
		t.Fatal(err)
	}
	issued := waitIssued(t, ctx, c, id, "start", 1)[0]
	const manual = "e2e-manual-worker"
	if code, body, err := c.claim(ctx, issued.EventID, manual); err != nil || code != http.StatusOK {
		t.Fatalf("claim start: %d %s %v", code, body, err)
	}
	cmdID, _ := scripted.Path(issued.Meta, "command_id")
	post := func(body map[string]any) (int, []byte) {
		t.Helper()
		body["execution_id"] = id
		body["worker_id"] = manual
		code, out, err := c.do(ctx, http.MethodPost, "/api/events", body)
		if err != nil {
			t.Fatal(err)
		}
		return code, out
	}
	if code, out := post(map[string]any{"event_type": "command.started", "step": "start", "status": "STARTED",
		"context": map[string]any{"command_id": cmdID}}); code != http.StatusOK {
		t.Fatalf("command.started: %d %s", code, out)
	}
	if code, out := post(map[string]any{"event_type": "call.done", "step": "start", "status": "COMPLETED",
		"context": map[string]any{"command_id": cmdID, "call_index": 0, "result": map[string]any{
			"status": "success", "context": map[string]any{"status": "success", "data": map[string]any{"n": 1}}}}}); code != http.StatusOK {
		t.Fatalf("call.done: %d %s", code, out)
	}
	eventID := randomEventID()
	completed := func() map[string]any {
		return map[string]any{"event_type": "command.completed", "step": "start", "status": "success", "event_id": eventID,
			"context": map[string]any{"command_id": cmdID, "status": "success"}}
	}
	code1, body1 := post(completed())
	code2, body2 := post(completed())
	if code1 != http.StatusOK || code2 != http.StatusOK {
		t.Fatalf("posts answered %d %s and %d %s, want 200 twice", code1, body1, code2, body2)
	}
	if !bytes.Equal(body1, body2) {
		t.Errorf("the two answers differ:\n first: %s\nsecond: %s", body1, body2)
	}
	if v, err := scripted.DecodeJSON(body1); err != nil || scripted.IDString(mapGet(v, "event_id")) != fmt.Sprint(eventID) {
		t.Errorf("answer %s does not carry event_id %d", body1, eventID)
	}

	// Let any pass a repeat might (wrongly) trigger commit before counting.
	time.Sleep(500 * time.Millisecond)
	log, err := c.log(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	rows, ends := 0, 0
	for _, ev := range log {
		if ev.EventID == fmt.Sprint(eventID) {
			rows++
		}
		if ev.EventType == scripted.TypeCommandIssued && ev.NodeName == "end" {
			ends++
		}
	}
	if rows != 1 {
		t.Errorf("%d rows with event_id %d in the event log, want 1", rows, eventID)
	}
	if ends != 1 {
		t.Errorf("end has %d command.issued after the event was posted twice, want 1\n%s", ends, describeLog(log))
	}

	// end's completion is posted four times at once: still one row, one pass (one
	// terminal event for the run), one answer.
	endIssued := waitIssued(t, ctx, c, id, "end", 1)[0]
	if code, body, err := c.claim(ctx, endIssued.EventID, manual); err != nil || code != http.StatusOK {
		t.Fatalf("claim end: %d %s %v", code, body, err)
	}
	endCmd, _ := scripted.Path(endIssued.Meta, "command_id")
	if code, out := post(map[string]any{"event_type": "command.started", "step": "end", "status": "STARTED",
		"context": map[string]any{"command_id": endCmd}}); code != http.StatusOK {
		t.Fatalf("command.started of end: %d %s", code, out)
	}
	endEventID := randomEventID()
	answers := make([]string, 4)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out, err := c.do(ctx, http.MethodPost, "/api/events", map[string]any{
				"execution_id": id, "worker_id": manual, "event_type": "command.completed", "step": "end", "status": "success",
				"event_id": endEventID, "context": map[string]any{"command_id": endCmd, "status": "success"}})
			answers[i] = fmt.Sprintf("%d %s %v", code, out, err)
		}()
	}
	wg.Wait()
	for i, a := range answers {
		if !strings.HasPrefix(a, "200 ") || a != answers[0] {
			t.Errorf("concurrent post %d answered %s; first answered %s", i, a, answers[0])
		}
	}

	// A repeat after the run ended still answers the same and changes nothing.
	code3, body3 := post(completed())
	if code3 != http.StatusOK || !bytes.Equal(body1, body3) {
		t.Errorf("a third post after the run ended answered %d %s, want 200 %s", code3, body3, body1)
	}
	time.Sleep(500 * time.Millisecond)
	final, err := c.log(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	rows, terminals := 0, 0
	for _, ev := range final {
		if ev.EventID == fmt.Sprint(endEventID) {
			rows++
		}
		if scripted.IsRunTerminal(ev.EventType) {
			terminals++
		}
	}
	if rows != 1 || terminals != 1 {
		t.Errorf("after four concurrent posts: %d rows with event_id %d and %d terminal events, want 1 and 1\n%s", rows, endEventID, terminals, describeLog(final))
	}
	if got := countType(final, scripted.TypeCommandIssued); got != 2 {
		t.Errorf("%d command.issued in the finished run, want 2 (start, end)\n%s", got, describeLog(final))
	}
	st := c.statuses(ctx, id, "e2e/runtime/idempotent_event")
	if len(st.Errs) > 0 || st.Detail != "COMPLETED" || st.Status != "COMPLETED" || st.List != "COMPLETED" {
		t.Errorf("statuses %+v, want COMPLETED everywhere", st)
	}
}

const cancelLoopPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: e2e_runtime_cancel_mid_loop
  path: e2e/runtime/cancel_mid_loop
workload:
  items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
workflow:
  - step: start
    tool:
      kind: noop
    next:
      spec: {mode: exclusive}
      arcs:
        - step: each
  - step: each
    loop:
      in: "{{ workload.items }}"
      iterator: x
      spec:
        mode: sequential
    tool:
      kind: noop
      result: {x: "{{ x }}"}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: after
  - step: after
    tool:
      kind: noop
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
`

// TestAcceptanceCancelMidLoop: "Cancel in the middle of a loop: no command is issued
// after the cancel event, claims answer 409, the execution ends CANCELLED". A
// sequential loop of ten noop iterations is cancelled once two iterations finished and
// the third is issued but not yet claimed.
func TestAcceptanceCancelMidLoop(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const path = "e2e/runtime/cancel_mid_loop"
	if err := c.register(ctx, cancelLoopPlaybook); err != nil {
		t.Fatal(err)
	}
	id, err := c.execute(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := scripted.New(scripted.Config{BaseURL: s.URL, Logf: t.Logf})
	if err := w.Register(ctx); err != nil {
		t.Fatal(err)
	}
	start := waitIssued(t, ctx, c, id, "start", 1)[0]
	if _, err := w.Handle(ctx, id, start.EventID); err != nil {
		t.Fatalf("start: %v", err)
	}
	for i := 0; i < 2; i++ {
		it := waitIssued(t, ctx, c, id, "each", i+1)[i]
		if h, err := w.Handle(ctx, id, it.EventID); err != nil || !h.Claimed {
			t.Fatalf("iteration %d: %+v %v", i, h, err)
		}
	}
	pending := waitIssued(t, ctx, c, id, "each", 3)[2]
	if err := c.cancel(ctx, id); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	for _, worker := range []string{w.ID(), "e2e-other-worker"} {
		code, body, err := c.claim(ctx, pending.EventID, worker)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusConflict {
			t.Errorf("claim of the pending iteration by %s after the cancel answered %d %s, want 409", worker, code, body)
		}
	}
	// Give a wrong pass time to issue something before judging the log.
	time.Sleep(1500 * time.Millisecond)
	log, err := c.log(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cancelSeq := int64(-1)
	terminals := 0
	for _, ev := range log {
		if scripted.IsCancel(ev.EventType) && cancelSeq < 0 {
			cancelSeq = ev.Seq
		}
		if scripted.IsRunTerminal(ev.EventType) {
			terminals++
		}
	}
	if cancelSeq < 0 {
		t.Fatalf("no cancel event in the log\n%s", describeLog(log))
	}
	if terminals != 1 {
		t.Errorf("%d terminal events, want 1", terminals)
	}
	for _, ev := range log {
		if ev.EventType == scripted.TypeCommandIssued && ev.Seq > cancelSeq {
			t.Errorf("command.issued of %s (seq %d) after the cancel (seq %d)", ev.NodeName, ev.Seq, cancelSeq)
		}
		if ev.EventType == scripted.TypeCommandClaimed && ev.Seq > cancelSeq {
			t.Errorf("command.claimed of %s (seq %d) after the cancel (seq %d)", ev.NodeName, ev.Seq, cancelSeq)
		}
	}
	ix := indexLog(log)
	if n := len(ix.issued["each"]); n != 3 {
		t.Errorf("each has %d command.issued, want 3 (two finished, one pending at the cancel)", n)
	}
	for _, step := range []string{"after", "end"} {
		if n := len(ix.issued[step]); n != 0 {
			t.Errorf("%s has %d command.issued, want none", step, n)
		}
	}
	st := c.statuses(ctx, id, path)
	if len(st.Errs) > 0 || st.Detail != "CANCELLED" || st.Status != "CANCELLED" || st.List != "CANCELLED" {
		t.Errorf("statuses %+v, want CANCELLED everywhere", st)
	}
	if t.Failed() {
		t.Logf("event log:\n%s", describeLog(log))
	}
}

// waitIssued polls the event log until step has at least n command.issued and returns
// them in log order.
func waitIssued(t *testing.T, ctx context.Context, c *rtClient, id int64, step string, n int) []scripted.Event {
	t.Helper()
	var last []scripted.Event
	var err error
	for {
		last, err = c.log(ctx, id)
		if err == nil {
			var out []scripted.Event
			for _, ev := range last {
				if ev.EventType == scripted.TypeCommandIssued && ev.NodeName == step {
					out = append(out, ev)
				}
			}
			if len(out) >= n {
				return out
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("execution %d: %d command.issued of %s never appeared (last error %v)\n%s", id, n, step, err, describeLog(last))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func countType(log []scripted.Event, typ string) int {
	n := 0
	for _, ev := range log {
		if ev.EventType == typ {
			n++
		}
	}
	return n
}

// randomEventID is a positive 63-bit id that no snowflake of this suite will collide with.
func randomEventID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:])>>2) | 1<<60
}
