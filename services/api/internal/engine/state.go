package engine

import "maps"
import "slices"
import "sort"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/tmpl"

// Step phases.
const (
	PhasePending   = ""
	PhaseRunning   = "running"
	PhaseCompleted = "completed"
	PhaseFailed    = "failed"
	PhaseSkipped   = "skipped"
	// PhaseCancelled is a step that was running when its execution ended: it never
	// finished and never will (docs/engine.md, "Failure and the end of a run").
	PhaseCancelled = "cancelled"
)

// State is an execution's projection. It is JSON-serialisable (the snapshot).
type State struct {
	ExecutionID       int64                    `json:"execution_id"`
	CatalogID         int64                    `json:"catalog_id"`
	Path              string                   `json:"path"`
	Version           int64                    `json:"version,omitempty"`
	ParentExecutionID int64                    `json:"parent_execution_id,omitempty"`
	Workload          map[string]any           `json:"workload"`
	Ctx               map[string]any           `json:"ctx"`
	Steps             map[string]*StepState    `json:"steps"`
	Commands          map[string]*CommandState `json:"commands"` // outstanding only
	Pending           []*Fire                  `json:"pending,omitempty"`
	Failures          []Failure                `json:"failures,omitempty"`
	Status            string                   `json:"status"`
	// Seq is the last event sequence folded into this state.
	Seq int64 `json:"seq"`
	// Issued counts command.issued events.
	Issued int64 `json:"issued"`

	// Indexes of the steps a pass looks at, so that a pass never scans every step the
	// execution ever ran. Derived from Steps (rebuilt when a snapshot is decoded) and
	// kept up to date by every phase change.
	running  map[string]bool // steps in PhaseRunning
	unrouted []string        // completed steps whose arcs are not evaluated yet, in completion order
	loops    []string        // running loop steps, in entry order

	// iterations are the results of loop iterations folded since the state was loaded;
	// the pass driver stores them outside the snapshot (TakeIterations).
	iterations []IterationResult
}

// StepState is one step's projection.
type StepState struct {
	Phase   string `json:"phase,omitempty"`
	Entries int    `json:"entries,omitempty"`
	// Envelope is the stored result of the latest call.done (or of the completion event
	// when the tool posted no call.done): {{ steps.<name> }}.
	Envelope any `json:"envelope,omitempty"`
	// Data overrides the data extracted from Envelope (loop aggregates, on_error).
	Data    any    `json:"data,omitempty"`
	HasData bool   `json:"has_data,omitempty"`
	Error   string `json:"error,omitempty"`
	// EnteredSeq is the sequence of the event that last entered the step (step.enter, or
	// the step.skipped of a false `when`). A fire whose source completed before it is
	// stale: that entry already answered it.
	EnteredSeq int64 `json:"entered_seq,omitempty"`
	// CompletedSeq is the sequence of the event that last completed the step; it
	// orders completions (never timestamps) and is the `gen` of its step `set`.
	CompletedSeq int64 `json:"completed_seq,omitempty"`
	// Routing is what the passes did with that completion.
	Routing
	InFlight int `json:"in_flight,omitempty"`
	// EntryArgs and EntrySet are the arc `args` and `set` the current entry came with;
	// they apply to every command of the entry (each loop iteration too).
	EntryArgs map[string]any `json:"entry_args,omitempty"`
	EntrySet  map[string]any `json:"entry_set,omitempty"`
	Loop      *LoopState     `json:"loop,omitempty"`
}

// Routing is what the passes did with a step's latest completion. A new entry or
// completion of the step starts it afresh (Routing{}).
type Routing struct {
	// Routed: the completion's arcs are evaluated.
	Routed bool `json:"routed,omitempty"`
	// SetApplied: the step-level `set` is applied (its ctx.updated is written).
	SetApplied bool `json:"set_applied,omitempty"`
}

// LoopState is the progress of a loop step's current entry. Its size does not depend on
// how many iterations finished: their results live outside the snapshot until the loop
// completes (docs/engine.md, "Loops").
type LoopState struct {
	// Items are a collection's items; nil for an integer range.
	Items []any `json:"items,omitempty"`
	// Range is the length of an integer range 0..Range-1, which is never materialised.
	Range int64 `json:"range,omitempty"`
	// EntryID is the event id of the step.enter that started this entry: the
	// loop_event_id of its commands, under which their results are stored.
	EntryID     int64  `json:"entry_id,omitempty"`
	Var         string `json:"var"`
	Mode        string `json:"mode"`
	MaxInFlight int64  `json:"max_in_flight,omitempty"`
	Next        int64  `json:"next"`
	Finished    int64  `json:"finished"`
	Success     int64  `json:"success"`
	Failed      int64  `json:"failed"`
	Stopped     bool   `json:"stopped,omitempty"`
	// Aggregate is set once every iteration finished and the {results, stats} value is
	// still to be assembled from the stored iteration results (the next pass does it).
	Aggregate bool `json:"aggregate,omitempty"`
}

// Total is the number of iterations.
func (l *LoopState) Total() int64 {
	if l.Items != nil {
		return int64(len(l.Items))
	}
	return l.Range
}

// Item is iteration i's item.
func (l *LoopState) Item(i int64) any {
	if l.Items != nil {
		return l.Items[i]
	}
	return i
}

// IterationResult is the data one loop iteration finished with, stored outside the
// snapshot under its command (docs/engine.md, "Loops").
type IterationResult struct {
	Step    string
	EntryID int64
	Key     string // command id
	Index   int64
	Data    any
}

// CommandState is an outstanding command.
type CommandState struct {
	Key     string `json:"key"`
	EventID int64  `json:"event_id"`
	Step    string `json:"step"`
	Index   int64  `json:"index"` // -1 outside loops
	// Worker holds the current claim. Reports from any other worker (one whose claim
	// was revoked when it stopped heart-beating) are ignored.
	Worker      string `json:"worker,omitempty"`
	HasCallDone bool   `json:"has_call_done,omitempty"`
	Envelope    any    `json:"envelope,omitempty"`
	Error       string `json:"error,omitempty"`
	// ErrorData is the data of the tool's failed result (call.error's ToolResult: an
	// http response, a pipeline's labeled results), kept until command.failed so that
	// spec.on_error: continue can put it in the step's result.
	ErrorData any `json:"error_data,omitempty"`
	// ErrorEnvelope is the stored result of that call.error: {{ steps.<step> }} of a
	// step that completes under spec.on_error: continue.
	ErrorEnvelope any `json:"error_envelope,omitempty"`
}

// Fire is an arc that fired into a step that has not been dispatched yet (a fan-in
// barrier holds it, or it waits for its round).
type Fire struct {
	Step    string         `json:"step"`
	From    string         `json:"from,omitempty"`
	FromSeq int64          `json:"from_seq,omitempty"`
	Args    map[string]any `json:"args,omitempty"`
	Set     map[string]any `json:"set,omitempty"`
	// FromSkip marks a fire from a skipped step's arcs: a skip chain, which never enters
	// a step it already skipped in the same pass.
	FromSkip bool `json:"from_skip,omitempty"`
}

// Failure is a step (or evaluation) failure that will end the run FAILED.
type Failure struct {
	Step  string `json:"step,omitempty"`
	Error string `json:"error"`
}

// NewState returns an empty state for an execution.
func NewState(executionID, catalogID int64, path string) *State {
	s := &State{ExecutionID: executionID, CatalogID: catalogID, Path: path}
	s.Normalize()
	return s
}

// Normalize fills nil maps after decoding a snapshot and rebuilds the step indexes.
func (s *State) Normalize() {
	if s.Workload == nil {
		s.Workload = map[string]any{}
	}
	if s.Ctx == nil {
		s.Ctx = map[string]any{}
	}
	if s.Steps == nil {
		s.Steps = map[string]*StepState{}
	}
	if s.Commands == nil {
		s.Commands = map[string]*CommandState{}
	}
	if s.Status == "" {
		s.Status = StatusRunning
	}
	s.running = map[string]bool{}
	s.unrouted, s.loops = nil, nil
	names := make([]string, 0, len(s.Steps))
	for name := range s.Steps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		st := s.Steps[name]
		switch {
		case st.Phase == PhaseRunning:
			s.running[name] = true
			if st.Loop != nil {
				s.loops = append(s.loops, name)
			}
		case st.Phase == PhaseCompleted && !st.Routed:
			s.unrouted = append(s.unrouted, name)
		}
	}
	sort.SliceStable(s.unrouted, func(i, j int) bool {
		return s.Steps[s.unrouted[i]].CompletedSeq < s.Steps[s.unrouted[j]].CompletedSeq
	})
	sort.SliceStable(s.loops, func(i, j int) bool {
		return s.Steps[s.loops[i]].EnteredSeq < s.Steps[s.loops[j]].EnteredSeq
	})
}

// Terminal reports whether the run has its terminal event.
func (s *State) Terminal() bool { return s.Status != StatusRunning }

// Failing reports whether a failure means nothing new may be dispatched.
func (s *State) Failing() bool { return len(s.Failures) > 0 }

// InFlight is the number of outstanding commands.
func (s *State) InFlight() int { return len(s.Commands) }

// TakeIterations returns the loop iteration results folded since the last call, for
// the pass driver to store with the pass.
func (s *State) TakeIterations() []IterationResult {
	out := s.iterations
	s.iterations = nil
	return out
}

func (s *State) step(name string) *StepState {
	st := s.Steps[name]
	if st == nil {
		st = &StepState{}
		s.Steps[name] = st
	}
	return st
}

// setPhase changes a step's phase and keeps the indexes in step.
func (s *State) setPhase(name string, st *StepState, phase string) {
	if st.Phase == phase {
		return
	}
	if st.Phase == PhaseRunning {
		delete(s.running, name)
		s.loops = remove(s.loops, name)
	}
	st.Phase = phase
	switch phase {
	case PhaseRunning:
		s.running[name] = true
		if st.Loop != nil {
			s.loops = append(s.loops, name)
		}
	case PhaseCompleted:
		st.Routing = Routing{}
		s.unrouted = append(s.unrouted, name)
	}
}

// nextUnrouted pops the earliest completion whose arcs are not evaluated yet.
func (s *State) nextUnrouted() (string, bool) {
	for len(s.unrouted) > 0 {
		name := s.unrouted[0]
		s.unrouted = s.unrouted[1:]
		if st := s.Steps[name]; st != nil && st.Phase == PhaseCompleted && !st.Routed {
			return name, true
		}
	}
	return "", false
}

func remove(xs []string, x string) []string {
	for i, v := range xs {
		if v == x {
			return append(xs[:i:i], xs[i+1:]...)
		}
	}
	return xs
}

// Apply folds one stored event. pb may be nil (events are then folded without the
// step settings that only the playbook knows, such as spec.on_error).
func (s *State) Apply(ev Event, pb *playbook.Playbook) {
	if ev.Seq > s.Seq {
		s.Seq = ev.Seq
	}
	if status, ok := TerminalStatus(ev.Type); ok {
		// Terminal is final: the first terminal event decides, later ones change nothing.
		if !s.Terminal() {
			s.Status = status
			s.closeRunning()
		}
		return
	}
	if s.Terminal() {
		// After the end nothing changes a step: a worker's late outcome is stored in
		// the log, but its command was closed with its step.
		return
	}
	switch ev.Type {
	case TypePlaybookStarted, "playbook.started", "playbook.initialized":
		s.applyStarted(ev)
	case TypeStepEnter, "step_enter", "step_started":
		st := s.step(ev.Step)
		st.Entries++
		st.EnteredSeq = ev.Seq
		st.Routing = Routing{}
		st.Error = ""
		// The previous round's result stays the step's result until this round's
		// replaces it (docs/engine.md, "Rounds of a cycle"): a step may read its own
		// previous result (a cursor), and {{ step }} and {{ steps.step }} agree.
		s.setPhase(ev.Step, st, PhaseRunning)
	case TypeStepSkipped:
		st := s.step(ev.Step)
		if skipReason(ev) == SkipWhen {
			st.EnteredSeq = ev.Seq
			if st.Phase != PhaseRunning {
				s.setPhase(ev.Step, st, PhaseSkipped)
			}
		} else if st.Phase == PhasePending {
			s.setPhase(ev.Step, st, PhaseSkipped)
		}
	case TypeCtxUpdated:
		s.applyCtxUpdated(ev)
	case TypeCommandIssued:
		s.applyIssued(ev)
	case TypeCommandClaimed:
		if c := s.Commands[CommandKeyOf(ev)]; c != nil {
			c.Worker = workerOf(ev)
		}
	case "command.requeued":
		if c := s.Commands[CommandKeyOf(ev)]; c != nil {
			c.Worker = ""
		}
	case TypeCallDone, "action_done":
		s.applyCallDone(ev)
	case TypeCallError:
		if c := s.command(ev); c != nil {
			c.Error = ErrorText(ev)
			c.ErrorData = failureData(ev.Result)
			c.ErrorEnvelope = ev.Result
		}
	case TypeStepExit, "step_completed":
		s.applyStepExit(ev, pb)
	default:
		switch {
		case IsCompletion(ev.Type):
			s.applyCompleted(ev, pb)
		case IsFailure(ev.Type):
			s.applyFailed(ev, pb)
		}
	}
}

// closeRunning ends every step still running when the execution ends: the step is
// cancelled and its outstanding commands are forgotten, so no route reports it running
// and a late outcome of its commands finds nothing to finish. The engine writes a
// step.cancelled for each of them before its terminal event (the log's record, with
// its time); this fold is what makes a terminal event from anywhere close them.
func (s *State) closeRunning() {
	for _, name := range s.RunningSteps() {
		st := s.Steps[name]
		st.InFlight = 0
		s.setPhase(name, st, PhaseCancelled)
	}
	for key := range s.Commands {
		delete(s.Commands, key)
	}
	s.Pending = nil
}

// RunningSteps are the steps in PhaseRunning in the order they were entered.
func (s *State) RunningSteps() []string {
	out := make([]string, 0, len(s.running))
	for name := range s.running {
		out = append(out, name)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := s.Steps[out[i]].EnteredSeq, s.Steps[out[j]].EnteredSeq
		if a != b {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}

// Why a step.skipped was written (meta.reason).
const (
	// SkipWhen: the step was entered and its `when` was false; its arcs were routed.
	SkipWhen = "when_false"
	// SkipNotTaken: an arc into the step was not taken (informational: a later arc may
	// still enter it).
	SkipNotTaken = "not_taken"
)

func skipReason(ev Event) string {
	if r, _ := ev.Meta["reason"].(string); r == SkipWhen {
		return SkipWhen
	}
	return SkipNotTaken
}

func (s *State) applyStarted(ev Event) {
	c, _ := ev.Context.(map[string]any)
	if w, ok := c["workload"].(map[string]any); ok && len(s.Workload) == 0 {
		s.Workload = w
	}
	if p, ok := c["path"].(string); ok && s.Path == "" {
		s.Path = p
	}
	if ev.Step != "" && s.Path == "" {
		s.Path = ev.Step
	}
}

func (s *State) applyCtxUpdated(ev Event) {
	c := resultContext(ev)
	if vals, ok := c["values"].(map[string]any); ok {
		setValues(s.Ctx, vals)
	}
	if name, ok := c["step"].(string); ok && name != "" {
		s.step(name).SetApplied = true
	}
}

func (s *State) applyIssued(ev Event) {
	key := keyString(ev.Meta["command_id"])
	if key == "" {
		return
	}
	idx := int64(-1)
	if v, ok := ev.Meta["iteration_index"].(int64); ok {
		idx = v
	}
	s.Commands[key] = &CommandState{Key: key, EventID: ev.EventID, Step: ev.Step, Index: idx}
	st := s.step(ev.Step)
	st.InFlight++
	s.setPhase(ev.Step, st, PhaseRunning)
	if st.Loop != nil && idx >= 0 && idx+1 > st.Loop.Next {
		st.Loop.Next = idx + 1
	}
	s.Issued++
}

// workerOf is the worker an event comes from (the column, else meta.worker_id).
func workerOf(ev Event) string {
	if ev.WorkerID != "" {
		return ev.WorkerID
	}
	w, _ := ev.Meta["worker_id"].(string)
	return w
}

// command returns the outstanding command an event reports on, or nil when the command
// is unknown, already finished, or held by another worker than the reporter.
func (s *State) command(ev Event) *CommandState {
	c := s.Commands[CommandKeyOf(ev)]
	if c == nil {
		return nil
	}
	if w := workerOf(ev); w != "" && c.Worker != "" && w != c.Worker {
		return nil
	}
	return c
}

func (s *State) applyCallDone(ev Event) {
	c := s.command(ev)
	if c == nil {
		return // a late, unknown or revoked command: stored, but it changes nothing
	}
	c.HasCallDone = true
	c.Envelope = ev.Result
	st := s.step(c.Step)
	if c.Index < 0 {
		st.replaceResult(ev.Result)
	}
	if data, ok := tmpl.ExtractUserData(ev.Result); ok {
		s.mergeContextUpdates(data)
	}
}

// mergeContextUpdates folds `_context_updates` (rule `set` results the worker returns
// inside the tool data) into ctx, for single tools, pipelines and loop iterations alike.
func (s *State) mergeContextUpdates(data any) {
	m, ok := data.(map[string]any)
	if !ok {
		return
	}
	up, ok := m["_context_updates"].(map[string]any)
	if !ok {
		return
	}
	setValues(s.Ctx, up)
}

// setValues writes `set` values keyed as written into into (tmpl.SetKey, then
// tmpl.SetPath: `ctx.a.b` writes b inside the object a). Keys go in sorted order, so that
// with both `a` and `a.b` set the outcome does not depend on map order: `a` first, then
// b inside it.
func setValues(into, vals map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		tmpl.SetPath(into, tmpl.SetKey(k), vals[k])
	}
}

func (s *State) finishCommand(ev Event) (*CommandState, *StepState) {
	c := s.command(ev)
	if c == nil {
		return nil, nil
	}
	delete(s.Commands, c.Key)
	st := s.step(c.Step)
	if st.InFlight > 0 {
		st.InFlight--
	}
	return c, st
}

func (s *State) applyCompleted(ev Event, pb *playbook.Playbook) {
	c, st := s.finishCommand(ev)
	if c == nil {
		return
	}
	if c.Index >= 0 && st.Loop != nil {
		s.finishIteration(c, st, iterationData(c, ev, pb), true, ev.Seq)
		return
	}
	if !c.HasCallDone {
		// No call.done: the completion is this round's result, and replaces an
		// earlier round's.
		st.replaceResult(ev.Result)
	}
	s.completeStep(c.Step, st, ev.Seq)
}

// replaceResult makes envelope the step's result, in place of an earlier round's
// (envelope and the data an on_error failure or a loop set over it).
func (st *StepState) replaceResult(envelope any) {
	st.Envelope = envelope
	st.Data, st.HasData = nil, false
}

// finishIteration counts a finished iteration and keeps its data for the pass driver to
// store, then completes the loop when it was the last.
func (s *State) finishIteration(c *CommandState, st *StepState, data any, ok bool, seq int64) {
	l := st.Loop
	s.iterations = append(s.iterations, IterationResult{Step: c.Step, EntryID: l.EntryID, Key: c.Key, Index: c.Index, Data: data})
	if ok {
		l.Success++
	} else {
		l.Failed++
	}
	l.Finished++
	s.maybeFinishLoop(c.Step, st, seq)
}

// iterationData is the data a loop iteration finished with: its user data, flattened
// when the step's tool is a pipeline, as {{ <step> }} of a pipeline step is, so that
// {{ each.results[0].field }} reads a task's field as {{ step.field }} does (the labelled
// keys stay).
func iterationData(c *CommandState, ev Event, pb *playbook.Playbook) any {
	src := ev.Result
	if c.HasCallDone {
		src = c.Envelope
	}
	d, ok := tmpl.ExtractUserData(src)
	if !ok {
		return map[string]any{}
	}
	if pb != nil {
		if def := pb.Step(c.Step); def != nil && def.Tool.IsPipeline() {
			return tmpl.FlattenPipeline(d, def.Tool.Labels())
		}
	}
	return d
}

func (s *State) completeStep(name string, st *StepState, seq int64) {
	st.CompletedSeq = seq
	if st.Phase == PhaseCompleted { // completed again without an entry in between
		st.Routing = Routing{}
		s.unrouted = append(s.unrouted, name)
		return
	}
	s.setPhase(name, st, PhaseCompleted)
}

func (s *State) applyFailed(ev Event, pb *playbook.Playbook) {
	c, st := s.finishCommand(ev)
	if c == nil {
		return
	}
	msg := ErrorText(ev)
	if msg == "" {
		msg = c.Error
	}
	if msg == "" {
		msg = "command failed"
	}
	cont := continueOnError(pb, c.Step)
	if cont {
		// The failure the run goes on past keeps what its policy rules `set` on the way
		// (a retry's attempt count): the worker returns them in the failure's data.
		s.mergeContextUpdates(c.ErrorData)
	}
	if c.Index >= 0 && st.Loop != nil {
		if !cont {
			st.Loop.Stopped = true
			if st.Error == "" {
				st.Error = msg
				s.Failures = append(s.Failures, Failure{Step: c.Step, Error: msg})
			}
		}
		s.finishIteration(c, st, failureResult(msg, c.ErrorData, c.ErrorEnvelope), false, ev.Seq)
		return
	}
	if cont {
		// spec.on_error: continue: the step completes with the failure in its result,
		// and {{ steps.<step> }} is the failure's envelope, as it is a success's.
		st.Data = failureResult(msg, c.ErrorData, c.ErrorEnvelope)
		st.HasData = true
		st.Envelope = failureEnvelope(c, msg)
		s.completeStep(c.Step, st, ev.Seq)
		return
	}
	st.Error = msg
	st.CompletedSeq = ev.Seq
	s.setPhase(c.Step, st, PhaseFailed)
	s.Failures = append(s.Failures, Failure{Step: c.Step, Error: msg})
}

// failureData is the data of the ToolResult a call.error carries
// (result.context.result.context.data), nil when the tool produced none.
func failureData(result any) any {
	tr, _ := toolResultOf(result)
	return tr["data"]
}

// failureResult is the result of a step (or loop iteration) that failed under
// spec.on_error: continue: the tool's failure data with status "error" and the error
// text over it, so that arcs read both {{ step.error }} and what the tool saw
// ({{ step.status_code }} of an http step). Data that is not an object is kept under
// `data`. From the stored call.error (envelope), a tool status other than "error" (a
// timeout) is kept as tool_status, and the worker's error kind (connection, http,
// database, timeout, config, ...) as error_kind: a loop iteration has no envelope to
// read them from, as {{ steps.<step>.context.result.status }} reads a plain step's, so
// its recorded result is the only place they can survive.
func failureResult(msg string, data any, envelope any) map[string]any {
	out := map[string]any{}
	switch d := data.(type) {
	case nil:
	case map[string]any:
		for k, v := range d {
			out[k] = v
		}
	default:
		out["data"] = d
	}
	out["status"] = "error"
	out["error"] = msg
	if toolStatus := failureStatus(envelope); toolStatus != "" && toolStatus != "error" {
		out["tool_status"] = toolStatus
	}
	// A worker older than error_kind sends none: the result keeps its former shape.
	if tr, ok := toolResultOf(envelope); ok {
		if kind, _ := tr["error_kind"].(string); kind != "" {
			out["error_kind"] = kind
		}
	}
	return out
}

// failureStatus is the tool's own status in a stored call.error result
// (result.context.result.status: "error", "timeout"), "" when there is none.
func failureStatus(result any) string {
	m, _ := result.(map[string]any)
	ctx, _ := m["context"].(map[string]any)
	res, _ := ctx["result"].(map[string]any)
	status, _ := res["status"].(string)
	return status
}

// failureEnvelope is the raw envelope ({{ steps.<step> }}) of a step that failed under
// spec.on_error: continue. A success's is its stored call.done result,
//
//	{status, context: {command_id, call_index, result: {status: "success", context: ToolResult}}}
//
// and the worker's call.error has the same shape with status "error" and the error text
// (docs/worker.md): that stored result is used as it is. A failure that came without one
// (a call.error with no ToolResult, a command.failed alone) gets one built in that shape
// from the error text and the failure data, so templates read either the same way.
func failureEnvelope(c *CommandState, msg string) map[string]any {
	if env, ok := c.ErrorEnvelope.(map[string]any); ok {
		if _, ok := toolResultOf(env); ok {
			return env
		}
	}
	tr := map[string]any{"status": "error", "error": msg}
	if c.ErrorData != nil {
		tr["data"] = c.ErrorData
	}
	return map[string]any{"status": "FAILED", "context": map[string]any{
		"command_id": c.Key,
		"error":      msg,
		"result":     map[string]any{"status": "error", "context": tr},
	}}
}

// toolResultOf is the ToolResult of a stored call.done or call.error result
// (result.context.result.context), when it has one.
func toolResultOf(result any) (map[string]any, bool) {
	v := result
	for _, k := range []string{"context", "result", "context"} {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v = m[k]
	}
	tr, ok := v.(map[string]any)
	return tr, ok
}

// maybeFinishLoop completes or fails a loop step once every issued iteration has its
// terminal event and no more will be issued. The {results, stats} aggregate is
// assembled by the pass that routes the step (it reads the stored iteration results).
func (s *State) maybeFinishLoop(name string, st *StepState, seq int64) {
	l := st.Loop
	if st.InFlight > 0 {
		return
	}
	if l.Stopped {
		// One of its own iterations failed: the step fails once the others drained.
		st.CompletedSeq = seq
		s.setPhase(name, st, PhaseFailed)
		return
	}
	if l.Finished < l.Total() {
		return // more iterations to issue (or the run is failing and issues no more)
	}
	if l.Total() == 0 {
		st.Data = loopAggregate(l, nil)
		st.HasData = true
	} else {
		l.Aggregate = true
	}
	s.completeStep(name, st, seq)
}

// loopAggregate is a finished loop's {results, stats}: results in index order.
func loopAggregate(l *LoopState, results map[int64]any) map[string]any {
	out := make([]any, l.Total())
	for i := range out {
		out[i] = results[int64(i)]
	}
	return map[string]any{
		"results": out,
		"stats": map[string]any{
			"total": l.Total(), "success": l.Success, "failed": l.Failed,
		},
	}
}

func (s *State) applyStepExit(ev Event, pb *playbook.Playbook) {
	st := s.step(ev.Step)
	if ev.Status == StatusFailed && ev.Meta["reason"] == ReasonEvaluateError {
		// The engine's own record of a step whose template did not evaluate. A
		// worker's legacy step.exit keeps its old meaning below.
		s.failStep(ev.Step, st, ev)
		return
	}
	if st.Loop != nil && st.Phase == PhaseRunning {
		s.maybeFinishLoop(ev.Step, st, ev.Seq)
		return
	}
	if st.Phase == PhaseRunning && st.InFlight == 0 {
		if st.Envelope == nil {
			st.Envelope = ev.Result
		}
		s.completeStep(ev.Step, st, ev.Seq)
	}
}

// failStep folds a step.exit with status FAILED: the engine's record of a step whose own
// templates or loop did not evaluate (pass.fail). The step fails with the event's error;
// a loop with iterations still out stops issuing and fails once they drained, as when
// one of its iterations fails.
func (s *State) failStep(name string, st *StepState, ev Event) {
	msg := ErrorText(ev)
	if msg == "" {
		msg = "step failed"
	}
	if st.Error == "" { // a loop keeps the error of the iteration that failed first
		st.Error = msg
	}
	recorded := false
	for _, f := range s.Failures {
		recorded = recorded || f.Step == name
	}
	if !recorded {
		s.Failures = append(s.Failures, Failure{Step: name, Error: msg})
	}
	if st.Loop != nil && st.Phase == PhaseRunning {
		st.Loop.Stopped = true
		s.maybeFinishLoop(name, st, ev.Seq)
		return
	}
	st.CompletedSeq = ev.Seq
	s.setPhase(name, st, PhaseFailed)
}

func continueOnError(pb *playbook.Playbook, step string) bool {
	if pb == nil {
		return false
	}
	if st := pb.Step(step); st != nil {
		return st.Spec.ContinueOnError()
	}
	return false
}

func resultContext(ev Event) map[string]any {
	if rm, ok := ev.Result.(map[string]any); ok {
		if c, ok := rm["context"].(map[string]any); ok {
			return c
		}
	}
	if c, ok := ev.Context.(map[string]any); ok {
		return c
	}
	return map[string]any{}
}

// StepView summarises steps for the status route.
type StepView struct {
	Total, Completed, Running, Failed, Cancelled int
}

// Progress counts steps by phase (steps that were entered or skipped count as total).
func (s *State) Progress() StepView {
	var v StepView
	for _, st := range s.Steps {
		switch st.Phase {
		case PhaseCompleted:
			v.Total++
			v.Completed++
		case PhaseRunning:
			v.Total++
			v.Running++
		case PhaseFailed:
			v.Total++
			v.Failed++
		case PhaseCancelled:
			v.Total++
			v.Cancelled++
		}
	}
	return v
}
