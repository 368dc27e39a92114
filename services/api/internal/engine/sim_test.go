package engine

import "fmt"
import "os"
import "path/filepath"
import "reflect"
import "sort"
import "strings"
import "sync/atomic"
import "testing"

import "go.yaml.in/yaml/v3"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/tmpl"

// This file runs the conformance engine cases in memory: a simulated worker answers
// the engine's commands as the scripted worker of testdata/conformance/README.md does,
// with no database, NATS or HTTP in between. The end-to-end suite runs the same cases
// against the real server; this one pins the engine's decisions and runs in
// milliseconds.

type seqIDs struct{ n atomic.Int64 }

func (s *seqIDs) Next() (int64, error) { return s.n.Add(1) + 1000, nil }

type expectFile struct {
	Playbook string        `yaml:"playbook"`
	Path     string        `yaml:"path"`
	Runs     []expectedRun `yaml:"runs"`
}

type expectedRun struct {
	Name              string                    `yaml:"name"`
	Payload           map[string]any            `yaml:"payload"`
	Worker            map[string]map[string]any `yaml:"worker"`
	CancelWhenRunning string                    `yaml:"cancel_when_running"`
	Expect            map[string]any            `yaml:"expect"`
}

const (
	conformanceDir = "../../../../testdata/conformance/engine"
	shapesDir      = "../../../../testdata/engine-shapes"
)

func loadCase(t *testing.T, dir, file string) (*playbook.Playbook, expectFile) {
	t.Helper()
	exp, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	var ef expectFile
	if err := yaml.Unmarshal(exp, &ef); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, ef.Playbook))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := playbook.Parse(src)
	if err != nil {
		t.Fatalf("parse %s: %v", ef.Playbook, err)
	}
	return pb, ef
}

// simRun is one simulated execution.
type simRun struct {
	t      testing.TB
	e      *Engine
	pb     *playbook.Playbook
	st     *State
	log    []Event
	worker map[string]map[string]any
	cancel string
	stored iterationStore
}

// iterationStore keeps loop iteration results outside the snapshot, as the
// orchestrator does on the command rows.
type iterationStore map[string]map[int64]any

func (s iterationStore) IterationResults(step string, entryID int64) (map[int64]any, error) {
	return s[fmt.Sprintf("%s/%d", step, entryID)], nil
}

func (s iterationStore) keep(rs []IterationResult) {
	for _, r := range rs {
		k := fmt.Sprintf("%s/%d", r.Step, r.EntryID)
		if s[k] == nil {
			s[k] = map[int64]any{}
		}
		s[k][r.Index] = r.Data
	}
}

// append records a pass's events, then persists as the orchestrator does: iteration
// results go to the store, and the state goes through its snapshot encoding.
func (r *simRun) append(evs []Event) {
	r.log = append(r.log, evs...)
	r.stored.keep(r.st.TakeIterations())
	b, err := EncodeState(r.st)
	if err != nil {
		r.t.Fatalf("encode snapshot: %v", err)
	}
	if r.st, err = DecodeState(b); err != nil {
		r.t.Fatalf("decode snapshot: %v", err)
	}
}

// post folds a worker event and, for actionable ones, runs a pass.
func (r *simRun) post(ev Event) {
	ev.Seq = r.st.Seq + 1
	ev.EventID = r.st.Seq + 500000
	ev.ExecutionID = r.st.ExecutionID
	r.st.Apply(ev, r.pb)
	r.log = append(r.log, ev)
	if Actionable(ev.Type) {
		out, err := r.e.Advance(r.st, r.pb, ev.EventID, r.stored)
		if err != nil {
			r.t.Fatalf("advance: %v", err)
		}
		r.append(out)
	}
}

func (r *simRun) issued(step string) []Event {
	var out []Event
	for _, ev := range r.log {
		if ev.Type == TypeCommandIssued && ev.Step == step {
			out = append(out, ev)
		}
	}
	return out
}

func (r *simRun) terminalOf(key string) bool {
	for _, ev := range r.log {
		if (IsCompletion(ev.Type) || IsFailure(ev.Type)) && CommandKeyOf(ev) == key {
			return true
		}
	}
	return false
}

func (r *simRun) cancelled() bool {
	for _, ev := range r.log {
		if s, ok := TerminalStatus(ev.Type); ok && s == StatusCancelled {
			return true
		}
	}
	return false
}

// ready reports whether a command's scripted wait conditions hold.
func (r *simRun) ready(step string) bool {
	w := r.worker[step]
	if w == nil {
		return true
	}
	if w["hold"] != nil {
		return r.cancelled()
	}
	if r.st.Terminal() && !r.cancelled() {
		return true
	}
	if after, ok := w["after"].(string); ok {
		iss := r.issued(after)
		if len(iss) == 0 {
			return false
		}
		for _, ev := range iss {
			if !r.terminalOf(CommandKeyOf(Event{Meta: ev.Meta})) {
				return false
			}
		}
	}
	if n, ok := w["wait_issued"]; ok {
		if int64(len(r.issued(step))) < jsonx.Normalize(n).(int64) {
			return false
		}
	}
	return true
}

func (r *simRun) complete(c *CommandState, issued Event) {
	w := r.worker[c.Step]
	status, _ := w["status"].(string) // "error", or a failure's other tool status ("timeout")
	// fail_indexes (in-memory only): the loop iterations of the step that fail with
	// error; the others succeed.
	if idxs, ok := w["fail_indexes"].([]any); ok {
		status = ""
		for _, i := range idxs {
			if jsonx.Normalize(i) == jsonx.Normalize(issued.Meta["iteration_index"]) {
				status = "error"
			}
		}
	}
	// fail_calls (in-memory only): which of the step's commands, counted from 1 in
	// issue order, fail with error (a round of a cycle); the others succeed.
	if calls, ok := w["fail_calls"].([]any); ok {
		status = ""
		n := int64(0)
		for _, ev := range r.issued(c.Step) {
			n++
			if ev.EventID == issued.EventID {
				break
			}
		}
		for _, k := range calls {
			if jsonx.Normalize(k) == n {
				status = "error"
			}
		}
	}
	msg, _ := w["error"].(string)
	kind, _ := w["error_kind"].(string) // the worker's Fault.Kind, "" as an older worker sends none
	for _, ev := range workerEventsAs(issued, status, msg, w["data"], kind) {
		r.post(ev)
	}
}

// workerEvents are the events the scripted worker posts for a command: started, then
// call.done and command.completed with the data a noop returns (its rendered result;
// for a pipeline, each task's by label), or call.error and command.failed with msg. A
// failure's data (an http tool's response, say) rides in call.error's ToolResult, as the
// worker sends it; nil sends none.
func workerEvents(issued Event, failed bool, msg string, failData any) []Event {
	status := ""
	if failed {
		status = "error"
	}
	return workerEventsAs(issued, status, msg, failData, "")
}

// workerEventsAs is workerEvents with the failed tool's status ("error", "timeout"; ""
// for a success). A timeout's call.error carries its ToolResult even without data, as
// the reference worker's does (status timeout), and so does a failure with an error kind
// (the ToolResult's error_kind, as this repository's worker sends it).
func workerEventsAs(issued Event, toolStatus, msg string, failData any, kind string) []Event {
	key, step := keyString(issued.Meta["command_id"]), issued.Step
	started := Event{Type: TypeCommandStarted, Step: step, Status: "STARTED",
		Result: map[string]any{"status": "STARTED", "context": map[string]any{"command_id": key}}}
	if toolStatus != "" {
		callErr := map[string]any{"command_id": key, "call_index": int64(0), "error": msg}
		if failData != nil || toolStatus != "error" || kind != "" {
			tr := map[string]any{"status": toolStatus, "error": msg}
			if failData != nil {
				tr["data"] = jsonx.Normalize(failData)
			}
			if kind != "" {
				tr["error_kind"] = kind
			}
			callErr["result"] = map[string]any{"status": toolStatus, "context": tr}
		}
		return []Event{started,
			{Type: TypeCallError, Step: step, Status: "FAILED",
				Result: map[string]any{"status": "FAILED", "context": callErr}},
			{Type: TypeCommandFailed, Step: step, Status: "FAILED",
				Result: map[string]any{"status": "FAILED", "context": map[string]any{"command_id": key, "error": msg}}}}
	}
	ctx, _ := issued.Context.(map[string]any)
	var data any = map[string]any{}
	switch cfg := ctx["tool_config"].(type) {
	case map[string]any:
		if res, ok := cfg["result"]; ok {
			data = res
		}
	case []any:
		d := map[string]any{}
		for _, item := range cfg {
			for label, task := range item.(map[string]any) {
				d[label] = task.(map[string]any)["result"]
			}
		}
		data = d
	}
	return []Event{started,
		{Type: TypeCallDone, Step: step, Status: "COMPLETED",
			Result: map[string]any{"status": "COMPLETED", "context": map[string]any{"command_id": key, "call_index": int64(0),
				"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": data}}}}},
		{Type: TypeCommandCompleted, Step: step, Status: "success",
			Result: map[string]any{"status": "success", "context": map[string]any{"command_id": key, "status": "success"}}}}
}

func (r *simRun) issuedEvent(key string) Event {
	for _, ev := range r.log {
		if ev.Type == TypeCommandIssued && keyString(ev.Meta["command_id"]) == key {
			return ev
		}
	}
	r.t.Fatalf("no command.issued for %s", key)
	return Event{}
}

func runSim(t testing.TB, pb *playbook.Playbook, run expectedRun) *simRun {
	ids := &seqIDs{}
	r := &simRun{t: t, e: New(tmpl.New(0), ids), pb: pb, st: NewState(42, 7, pb.Metadata.Path), worker: run.Worker,
		cancel: run.CancelWhenRunning, stored: iterationStore{}}
	workload := map[string]any{}
	for k, v := range pb.WorkloadMap() {
		workload[k] = v
	}
	for k, v := range run.Payload {
		workload[k] = jsonx.Normalize(v)
	}
	out, err := r.e.Start(r.st, pb, workload, nil)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	r.append(out)
	for guard := 0; guard < 10000; guard++ {
		if r.st.Terminal() && r.st.InFlight() == 0 {
			return r
		}
		// Outstanding commands in issue order.
		var cmds []*CommandState
		for _, c := range r.st.Commands {
			cmds = append(cmds, c)
		}
		sort.Slice(cmds, func(i, j int) bool { return cmds[i].EventID < cmds[j].EventID })
		progressed := false
		for _, c := range cmds {
			if r.cancel != "" && c.Step == r.cancel && !r.cancelled() {
				evs, err := r.e.Cancel(r.st, "test")
				if err != nil {
					t.Fatal(err)
				}
				r.append(evs)
			}
			if !r.ready(c.Step) {
				continue
			}
			r.complete(c, r.issuedEvent(c.Key))
			progressed = true
			break
		}
		if !progressed {
			t.Fatalf("stalled: status %s, in flight %d, pending %d", r.st.Status, r.st.InFlight(), len(r.st.Pending))
		}
	}
	t.Fatalf("did not finish")
	return r
}

func TestConformanceInMemory(t *testing.T) { runCases(t, conformanceDir) }

// TestEngineShapes runs the playbooks of testdata/engine-shapes, whose expectations add
// the exact decision log.
func TestEngineShapes(t *testing.T) { runCases(t, shapesDir) }

func runCases(t *testing.T, dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.expect.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in %s: %v", dir, err)
	}
	for _, f := range files {
		pb, ef := loadCase(t, dir, filepath.Base(f))
		for _, run := range ef.Runs {
			t.Run(strings.TrimSuffix(filepath.Base(f), ".expect.yaml")+"/"+run.Name, func(t *testing.T) {
				t.Parallel()
				r := runSim(t, pb, run)
				judge(t, r, run.Expect)
			})
		}
	}
}

// decisionLog reduces an event log to what decides a run's course
// (testdata/engine-shapes/README.md).
func decisionLog(log []Event) []string {
	var out []string
	for _, ev := range log {
		switch ev.Type {
		case TypeStepEnter, TypeStepSkipped, TypeStepExit, TypeCtxUpdated, TypeCommandIssued, TypeCommandCompleted, TypeCommandFailed:
			out = append(out, ev.Type+" "+ev.Step)
		case TypePlaybookCompleted, TypePlaybookFailed, TypePlaybookCancelled:
			out = append(out, ev.Type)
		}
	}
	return out
}

func judge(t *testing.T, r *simRun, exp map[string]any) {
	t.Helper()
	if want, ok := exp["decisions"].([]any); ok {
		got := decisionLog(r.log)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("decision log:\n got  %q\n want %q", got, want)
		}
	}
	if want := exp["status"]; want != r.st.Status {
		t.Errorf("status = %s, want %v; failures %+v", r.st.Status, want, r.st.Failures)
	}
	terminals := 0
	for i, ev := range r.log {
		if _, ok := TerminalStatus(ev.Type); ok {
			terminals++
			for _, later := range r.log[i+1:] {
				if later.Type == TypeCommandIssued {
					t.Errorf("command.issued for %s after the terminal event", later.Step)
				}
			}
		}
	}
	if terminals != 1 {
		t.Errorf("%d terminal events, want 1", terminals)
	}
	if cmds, ok := exp["commands"].(map[string]any); ok {
		for step, n := range cmds {
			if got := len(r.issued(step)); int64(got) != jsonx.Normalize(n).(int64) {
				t.Errorf("commands[%s] = %d, want %v", step, got, n)
			}
		}
	}
	if nr, ok := exp["not_run"].([]any); ok {
		for _, s := range nr {
			if n := len(r.issued(s.(string))); n != 0 {
				t.Errorf("not_run %s has %d commands", s, n)
			}
		}
	}
	if sk, ok := exp["skipped"].([]any); ok {
		for _, s := range sk {
			found := false
			for _, ev := range r.log {
				if ev.Type == TypeStepSkipped && ev.Step == s {
					found = true
				}
			}
			if !found {
				t.Errorf("step %s has no step.skipped", s)
			}
		}
	}
	if outs, ok := exp["outputs"].(map[string]any); ok {
		for step, want := range outs {
			st := r.st.Steps[step]
			if st == nil {
				t.Errorf("outputs: step %s never ran", step)
				continue
			}
			got, _ := tmpl.StepData(tmpl.StepResult{Envelope: st.Envelope, Data: st.Data, HasData: st.HasData})
			if err := subset(jsonx.Normalize(want), got, step); err != nil {
				t.Errorf("outputs: %v", err)
			}
		}
	}
	if msg, ok := exp["error_contains"].(string); ok {
		found := false
		for _, ev := range r.log {
			if strings.Contains(ErrorText(ev), msg) || strings.Contains(fmt.Sprint(ev.Meta["error"]), msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("no error containing %q", msg)
		}
	}
	for _, kind := range []string{"max_in_flight", "peak_in_flight"} {
		m, ok := exp[kind].(map[string]any)
		if !ok {
			continue
		}
		for step, n := range m {
			count, peak := 0, 0
			keys := map[string]bool{}
			for _, ev := range r.log {
				if ev.Type == TypeCommandIssued && ev.Step == step {
					count++
					keys[keyString(ev.Meta["command_id"])] = true
				} else if (IsCompletion(ev.Type) || IsFailure(ev.Type)) && keys[CommandKeyOf(ev)] {
					count--
				}
				peak = max(peak, count)
			}
			want := int(jsonx.Normalize(n).(int64))
			if kind == "max_in_flight" && peak > want || kind == "peak_in_flight" && peak != want {
				t.Errorf("%s[%s]: peak %d, want %d", kind, step, peak, want)
			}
		}
	}
	if before, ok := exp["before"].([]any); ok {
		for _, pair := range before {
			ab := pair.([]any)
			a, b := ab[0].(string), ab[1].(string)
			lastA, firstB := -1, -1
			keys := map[string]bool{}
			for _, ev := range r.issued(a) {
				keys[keyString(ev.Meta["command_id"])] = true
			}
			for i, ev := range r.log {
				if (IsCompletion(ev.Type) || IsFailure(ev.Type)) && keys[CommandKeyOf(ev)] {
					lastA = i
				}
				if ev.Type == TypeCommandIssued && ev.Step == b && firstB < 0 {
					firstB = i
				}
			}
			if lastA < 0 || firstB < 0 || lastA > firstB {
				t.Errorf("before [%s, %s]: last %s terminal at %d, first %s issued at %d", a, b, a, lastA, b, firstB)
			}
		}
	}
	if ta, ok := exp["tool_args"].(map[string]any); ok {
		for step, want := range ta {
			for _, ev := range r.issued(step) {
				cfg := ev.Context.(map[string]any)["tool_config"].(map[string]any)
				args := cfg["args"]
				if args == nil {
					args = cfg["input"]
				}
				if err := subset(jsonx.Normalize(want), args, step); err != nil {
					t.Errorf("tool_args: %v", err)
				}
			}
		}
	}
}

// subset checks the conformance deep-subset rule.
func subset(want, got any, path string) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: got %T %v, want an object", path, got, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s.%s missing (have %v)", path, k, g)
			}
			if err := subset(wv, gv, path+"."+k); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: got %v, want %v", path, got, want)
		}
		for i := range w {
			if err := subset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case int64:
		switch g := got.(type) {
		case int64:
			if g == w {
				return nil
			}
		case float64:
			if g == float64(w) && float64(int64(g)) == g && w < 1<<53 {
				return nil
			}
		}
		return fmt.Errorf("%s: got %v (%T), want %d", path, got, got, w)
	default:
		if !reflect.DeepEqual(want, got) {
			return fmt.Errorf("%s: got %v (%T), want %v (%T)", path, got, got, want, want)
		}
		return nil
	}
}
