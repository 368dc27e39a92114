package watch

import "bytes"
import "context"
import "encoding/json"
import "net"
import "os"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/noetl/controlplane/cli/internal/client"

// The fixtures are event logs the suite wrote for examples/loop, for a playbook whose
// python step raises and for one whose failing step says `on_error: continue`.
func readLog(t *testing.T, name string) []client.Event {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var page client.EventPage
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	return page.Events
}

func TestModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, status string
		steps              map[string]string // step -> "state done/total"
		failed, errPart    string
	}{
		{"loop", "loop_events.json", "COMPLETED",
			map[string]string{"start": "completed 0/0", "measure": "completed 4/4", "summary": "completed 0/0"}, "", ""},
		{"failure", "fail_events.json", "FAILED",
			map[string]string{"start": "completed 0/0", "boom": "failed 0/0"}, "boom", "ValueError: kaboom"},
		// `start` is an http call answered 404 under `spec.on_error: continue`: its
		// command failed, the step routed on to `recover` and the run COMPLETED.
		{"on_error continue", "continue_events.json", "COMPLETED",
			map[string]string{"start": "completed 0/0", "recover": "completed 0/0", "end": "completed 0/0"}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewModel()
			m.Apply(readLog(t, tc.file))
			if m.Status != tc.status {
				t.Errorf("status %q, want %q", m.Status, tc.status)
			}
			got := map[string]string{}
			for _, s := range m.Steps {
				got[s.Name] = s.State + " " + itoa(s.Done) + "/" + itoa(s.Total)
			}
			for k, v := range tc.steps {
				if got[k] != v {
					t.Errorf("step %s: %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			if tc.failed == "" && m.FailedStep() != nil {
				t.Errorf("failed step %+v in a %s run", m.FailedStep(), m.Status)
			}
			if tc.failed != "" {
				s := m.FailedStep()
				if s == nil || s.Name != tc.failed || !strings.Contains(s.Error, tc.errPart) {
					t.Fatalf("failed step %+v, want %s with %q", s, tc.failed, tc.errPart)
				}
				if sum := Summary(m); !strings.Contains(sum, "step boom failed") || !strings.Contains(sum, tc.errPart) {
					t.Errorf("summary %q", sum)
				}
			}
			if m.Elapsed(time.Now()) <= 0 {
				t.Error("no elapsed time")
			}
		})
	}
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string { b, _ := json.Marshal(i); return string(b) }

// A loop seen half-way shows its progress.
func TestModelLoopProgress(t *testing.T) {
	t.Parallel()
	all := readLog(t, "loop_events.json")
	m := NewModel()
	m.Apply(all[:20]) // up to the second iteration's call.done
	var measure *Step
	for _, s := range m.Steps {
		if s.Name == "measure" {
			measure = s
		}
	}
	if measure == nil || measure.Total != 4 || measure.Done != 1 || measure.State != StateRunning {
		t.Fatalf("measure half-way: %+v", measure)
	}
	if m.Terminal() {
		t.Fatal("terminal half-way")
	}
}

// t0 is the start of the hand-written logs; at(ms) is an event time ms after it.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ms int) string { return t0.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano) }

// source serves a log in growing prefixes, as a running execution's log grows: poll n
// (from 0) sees the first visible(n) events.
type source struct {
	events  []client.Event
	visible func(poll int) int
	polls   int
}

// inEights shows eight more events at each poll.
func inEights(poll int) int { return (poll + 1) * 8 }

// cuts shows the given prefix lengths, one per poll (the last one thereafter).
func cuts(n ...int) func(int) int {
	return func(poll int) int { return n[min(poll, len(n)-1)] }
}

func (s *source) Events(_ context.Context, _ client.ID, after int64, _ int) (client.EventPage, error) {
	visible := s.events[:min(s.visible(s.polls), len(s.events))]
	s.polls++
	var out []client.Event
	for _, e := range visible {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return client.EventPage{Events: out}, nil
}

func (s *source) Status(context.Context, client.ID) (client.Status, error) {
	return client.Status{Status: "RUNNING"}, nil
}

func TestWatcherPlainLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := &Watcher{Source: &source{events: readLog(t, "loop_events.json"), visible: inEights}, Out: &out, Interval: time.Millisecond}
	m, err := w.Run(context.Background(), "1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != "COMPLETED" {
		t.Fatalf("status %s", m.Status)
	}
	text := out.String()
	if strings.Contains(text, "\x1b[") {
		t.Errorf("plain output has escape codes:\n%q", text)
	}
	for _, want := range []string{"step measure running 1/4", "step measure completed 4/4", "step summary completed", "execution 1 COMPLETED in"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	// One line per change: the same state is not printed twice.
	if n := strings.Count(text, "step start completed"); n != 1 {
		t.Errorf("start completed printed %d times:\n%s", n, text)
	}
}

func TestWatcherTTYRedraws(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := &Watcher{Source: &source{events: readLog(t, "fail_events.json"), visible: inEights}, Out: &out, TTY: true, Interval: time.Millisecond}
	m, err := w.Run(context.Background(), "7")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != "FAILED" {
		t.Fatalf("status %s", m.Status)
	}
	text := out.String()
	if !strings.Contains(text, "\x1b[") || !strings.Contains(text, "STEP") || !strings.Contains(text, "boom") {
		t.Errorf("no in-place view:\n%q", text)
	}
}

// A skipped step never ran: no elapsed time, in the model or the view, however late the
// view is drawn.
func TestSkippedStepHasNoClock(t *testing.T) {
	t.Parallel()
	m := NewModel()
	m.Apply([]client.Event{
		{Seq: 1, EventType: "playbook_started", NodeName: "t/p", CreatedAt: at(0)},
		{Seq: 2, EventType: "step.skipped", NodeName: "c", CreatedAt: at(500)},
		{Seq: 3, EventType: "playbook.completed", NodeName: "playbook", CreatedAt: at(900)},
	})
	s := m.Steps[0]
	later := t0.Add(time.Hour)
	if s.State != StateSkipped || StepElapsed(s, later) != 0 {
		t.Fatalf("skipped step %+v elapsed %v, want skipped and 0", s, StepElapsed(s, later))
	}
	for _, line := range strings.Split(View("1", m, later), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "c" && len(f) != 2 {
			t.Errorf("view line %q, want no elapsed column", line)
		}
	}
}

// A plain line is dated by the event that changed the step, not by the poll that saw
// it: a poll long after a step started does not make it look started late, a skip is
// dated when it was decided, and the changes one poll brings are printed in the order
// they happened, so the times never run backwards.
func TestPlainLinesUseEventTimes(t *testing.T) {
	t.Parallel()
	meta := json.RawMessage(`{"command_id":"c1"}`)
	res := json.RawMessage(`{"context":{"command_id":"c1"}}`)
	events := []client.Event{
		{Seq: 1, EventType: "playbook_started", NodeName: "t/p", CreatedAt: at(0)},
		{Seq: 2, EventType: "step.enter", NodeName: "a", CreatedAt: at(10)},
		{Seq: 3, EventType: "command.issued", NodeName: "a", EventData: client.EventData{Meta: meta}, CreatedAt: at(10)},
		{Seq: 4, EventType: "command.started", NodeName: "a", EventData: client.EventData{Result: res}, CreatedAt: at(20)},
		{Seq: 5, EventType: "step.skipped", NodeName: "b", CreatedAt: at(100)},
		{Seq: 6, EventType: "command.completed", NodeName: "a", EventData: client.EventData{Result: res}, CreatedAt: at(450)},
		{Seq: 7, EventType: "playbook.completed", NodeName: "playbook", CreatedAt: at(460)},
	}
	polls := 0
	now := func() time.Time { polls++; return t0.Add(time.Duration(545*polls) * time.Millisecond) }
	var out bytes.Buffer
	w := &Watcher{Source: &source{events: events, visible: cuts(4, 7)}, Out: &out, Interval: time.Millisecond, Now: now}
	if _, err := w.Run(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
	want := "[20ms] step a running\n[100ms] step b skipped\n[450ms] step a completed\nexecution 1 COMPLETED in 460ms\n"
	if out.String() != want {
		t.Fatalf("lines:\n%s\nwant:\n%s", out.String(), want)
	}
}

// A loop under `spec.on_error: continue` goes on after a failed iteration: once the
// next iteration is issued the step is running again, not failed, and a step whose
// failure was let go is completed as soon as the run dispatches anything after it.
func TestContinuedFailureIsNotAFailedStep(t *testing.T) {
	t.Parallel()
	iter := func(seq int64, typ, id string, ms int) client.Event {
		e := client.Event{Seq: seq, EventType: typ, NodeName: "each", CreatedAt: at(ms)}
		if typ == "command.issued" {
			e.Meta = json.RawMessage(`{"command_id":"` + id + `","iteration_total":3}`)
		} else {
			e.Result = json.RawMessage(`{"context":{"command_id":"` + id + `"}}`)
		}
		return e
	}
	events := []client.Event{
		{Seq: 1, EventType: "playbook_started", NodeName: "t/p", CreatedAt: at(0)},
		{Seq: 2, EventType: "step.enter", NodeName: "each", CreatedAt: at(1)},
		iter(3, "command.issued", "i0", 1),
		iter(4, "command.failed", "i0", 5),
		iter(5, "command.issued", "i1", 6),
	}
	m := NewModel()
	m.Apply(events)
	if s := m.Steps[0]; s.State != StateRunning || s.Done != 1 || s.Total != 3 {
		t.Fatalf("loop after a continued failure: %+v, want running 1/3", s)
	}
	m.Apply([]client.Event{
		iter(6, "command.completed", "i1", 8),
		iter(7, "command.issued", "i2", 9),
		iter(8, "command.failed", "i2", 12),
	})
	if s := m.Steps[0]; s.State != StateFailed {
		t.Fatalf("loop whose last iteration failed: %+v, want failed until the run goes on", s)
	}
	m.Apply([]client.Event{{Seq: 9, EventType: "step.enter", NodeName: "end", CreatedAt: at(14)}})
	if s := m.Steps[0]; s.State != StateCompleted || s.Done != 3 {
		t.Fatalf("loop after the run went on: %+v, want completed 3/3", s)
	}
	if m.FailedStep() != nil {
		t.Fatalf("failed step %+v in a run that went on", m.FailedStep())
	}
}

// An empty loop is finished by the server itself (step.exit, no command): completed,
// not a step left open and called cancelled when the run ends.
func TestEmptyLoopCompletes(t *testing.T) {
	t.Parallel()
	m := NewModel()
	m.Apply([]client.Event{
		{Seq: 1, EventType: "playbook_started", NodeName: "t/p", CreatedAt: at(0)},
		{Seq: 2, EventType: "step.enter", NodeName: "e", Status: "ENTERED", CreatedAt: at(5)},
		{Seq: 3, EventType: "step.exit", NodeName: "e", Status: "COMPLETED", CreatedAt: at(5)},
		{Seq: 4, EventType: "playbook.completed", NodeName: "playbook", CreatedAt: at(40)},
	})
	if s := m.Steps[0]; s.State != StateCompleted || StepElapsed(s, t0.Add(time.Hour)) != 0 {
		t.Fatalf("empty loop %+v, want completed in 0s", s)
	}
}

// A step whose template fails on the server is failed by a step.exit with status FAILED
// and the error: the summary names it and its error.
func TestTemplateErrorFailsTheStep(t *testing.T) {
	t.Parallel()
	m := NewModel()
	m.Apply([]client.Event{
		{Seq: 1, EventType: "playbook_started", NodeName: "t/p", CreatedAt: at(0)},
		{Seq: 2, EventType: "step.enter", NodeName: "bad", Status: "ENTERED", CreatedAt: at(5)},
		{Seq: 3, EventType: "step.exit", NodeName: "bad", Status: "FAILED", CreatedAt: at(5),
			Error:     "step 'bad' tool: unknown filter",
			EventData: client.EventData{Result: json.RawMessage(`{"status":"FAILED","context":{"error":"step 'bad' tool: unknown filter"}}`)}},
		{Seq: 4, EventType: "playbook.failed", NodeName: "playbook", CreatedAt: at(6)},
	})
	if s := m.Steps[0]; s.State != StateFailed {
		t.Fatalf("step %+v, want failed", s)
	}
	if got, want := Summary(m), "step bad failed: step 'bad' tool: unknown filter\n"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

// flaky fails its first calls with the given errors, then serves the log like source.
type flaky struct {
	source
	fails  []error // one per call, Events and Status alike; then the source answers
	always error   // the error of every call after fails, when set
	calls  int
}

func (f *flaky) fail() error {
	f.calls++
	if f.calls <= len(f.fails) {
		return f.fails[f.calls-1]
	}
	return f.always
}

func (f *flaky) Events(ctx context.Context, id client.ID, after int64, limit int) (client.EventPage, error) {
	if err := f.fail(); err != nil {
		return client.EventPage{}, err
	}
	return f.source.Events(ctx, id, after, limit)
}

func (f *flaky) Status(ctx context.Context, id client.ID) (client.Status, error) {
	if err := f.fail(); err != nil {
		return client.Status{}, err
	}
	return f.source.Status(ctx, id)
}

// A poll that fails transiently (connection reset, a proxy's 502/503) is retried with
// backoff; only a failure that outlasts RetryFor ends the watch, with one line saying
// so, and an error answer that will not pass (404) ends it at once. One failed poll used
// to end the watch.
func TestWatcherRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	reset := &client.ConnError{Server: "http://localhost:8082", Err: syscall.ECONNRESET}
	unavailable := &client.APIError{Method: "GET", Path: "/api/executions/1/events", Status: 503, Message: "no upstream"}
	badGateway := &client.APIError{Method: "GET", Path: "/api/executions/1/status", Status: 502, Message: "bad gateway"}
	notFound := &client.APIError{Method: "GET", Path: "/api/executions/1/events", Status: 404, Message: "execution 1 not found"}
	noHost := &client.ConnError{Server: "http://nowhere:8082", Err: &net.DNSError{Name: "nowhere", Err: "no such host", IsNotFound: true}}
	cases := []struct {
		name      string
		fails     []error
		always    error
		wantErr   []string // "" parts: the run completes
		wantCalls int      // calls that failed before the watch ended (0: not checked)
	}{
		{"transient failures pass", []error{reset, unavailable, badGateway, reset}, nil, nil, 0},
		{"transient for too long", nil, reset, []string{"watch of execution 1 stopped after retrying", "connection reset by peer", "the execution goes on"}, 0},
		{"not found", []error{notFound}, nil, []string{"404"}, 1},
		{"unknown host", []error{noHost}, nil, []string{"no such host nowhere"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &flaky{source: source{events: readLog(t, "loop_events.json"), visible: inEights}, fails: tc.fails, always: tc.always}
			var out bytes.Buffer
			w := &Watcher{Source: src, Out: &out, Interval: time.Millisecond, RetryFor: 100 * time.Millisecond}
			m, err := w.Run(context.Background(), "1")
			if tc.wantErr == nil {
				if err != nil || m.Status != "COMPLETED" {
					t.Fatalf("watch through transient failures: %v, status %s", err, m.Status)
				}
				if !strings.Contains(out.String(), "execution 1 COMPLETED") {
					t.Errorf("output lacks the end:\n%s", out.String())
				}
				return
			}
			if err == nil {
				t.Fatal("the watch went on")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
			if tc.wantCalls > 0 && src.calls != tc.wantCalls {
				t.Errorf("%d calls, want %d (no retry)", src.calls, tc.wantCalls)
			}
		})
	}
}
