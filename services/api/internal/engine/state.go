package engine

import (
	"sort"

	"github.com/noetl/controlplane/services/api/internal/playbook"
	"github.com/noetl/controlplane/shared/tmpl"
)

// Step phases.
const (
	PhasePending   = ""
	PhaseRunning   = "running"
	PhaseCompleted = "completed"
	PhaseFailed    = "failed"
	PhaseSkipped   = "skipped"
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
	// Issued counts command.issued events; Rounds guards against a pass that never
	// converges.
	Issued int64 `json:"issued"`
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
	// CompletedSeq is the sequence of the event that last completed the step; it
	// orders completions (never timestamps) and is the `gen` of its step `set`.
	CompletedSeq int64 `json:"completed_seq,omitempty"`
	Routed       bool  `json:"routed,omitempty"`
	SetApplied   bool  `json:"set_applied,omitempty"`
	InFlight     int   `json:"in_flight,omitempty"`
	// EntryArgs and EntrySet are the arc `args` and `set` the current entry came with;
	// they apply to every command of the entry (each loop iteration too).
	EntryArgs map[string]any `json:"entry_args,omitempty"`
	EntrySet  map[string]any `json:"entry_set,omitempty"`
	Loop      *LoopState     `json:"loop,omitempty"`
}

// LoopState is the progress of a loop step's current entry.
type LoopState struct {
	Items       []any  `json:"items"`
	Var         string `json:"var"`
	Mode        string `json:"mode"`
	MaxInFlight int64  `json:"max_in_flight,omitempty"`
	Next        int    `json:"next"`
	Finished    int    `json:"finished"`
	Success     int    `json:"success"`
	Failed      int    `json:"failed"`
	Results     []any  `json:"results"`
	Stopped     bool   `json:"stopped,omitempty"`
}

// Total is the number of iterations.
func (l *LoopState) Total() int { return len(l.Items) }

// CommandState is an outstanding command.
type CommandState struct {
	Key     string `json:"key"`
	EventID int64  `json:"event_id"`
	Step    string `json:"step"`
	Index   int    `json:"index"` // -1 outside loops
	// Worker holds the current claim. Reports from any other worker (one whose claim
	// was revoked when it stopped heart-beating) are ignored.
	Worker      string `json:"worker,omitempty"`
	HasCallDone bool   `json:"has_call_done,omitempty"`
	Envelope    any    `json:"envelope,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Fire is an arc that fired into a step that has not been dispatched yet (a fan-in
// barrier holds it, or it waits for its round).
type Fire struct {
	Step    string         `json:"step"`
	From    string         `json:"from,omitempty"`
	FromSeq int64          `json:"from_seq,omitempty"`
	Args    map[string]any `json:"args,omitempty"`
	Set     map[string]any `json:"set,omitempty"`
}

// Failure is a step (or evaluation) failure that will end the run FAILED.
type Failure struct {
	Step  string `json:"step,omitempty"`
	Error string `json:"error"`
}

// NewState returns an empty state for an execution.
func NewState(executionID, catalogID int64, path string) *State {
	return &State{
		ExecutionID: executionID, CatalogID: catalogID, Path: path,
		Workload: map[string]any{}, Ctx: map[string]any{},
		Steps: map[string]*StepState{}, Commands: map[string]*CommandState{},
		Status: StatusRunning,
	}
}

// Normalize fills nil maps after decoding a snapshot.
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
}

// Terminal reports whether the run has its terminal event.
func (s *State) Terminal() bool { return s.Status != StatusRunning }

// Failing reports whether a failure means nothing new may be dispatched.
func (s *State) Failing() bool { return len(s.Failures) > 0 }

// InFlight is the number of outstanding commands.
func (s *State) InFlight() int { return len(s.Commands) }

func (s *State) step(name string) *StepState {
	st := s.Steps[name]
	if st == nil {
		st = &StepState{}
		s.Steps[name] = st
	}
	return st
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
		}
		return
	}
	switch ev.Type {
	case TypePlaybookStarted, "playbook.started", "playbook.initialized":
		s.applyStarted(ev)
	case TypeStepEnter, "step_enter", "step_started":
		st := s.step(ev.Step)
		st.Phase = PhaseRunning
		st.Entries++
		st.Routed, st.SetApplied = false, false
		st.Error = ""
		st.Data, st.HasData = nil, false
	case TypeStepSkipped:
		st := s.step(ev.Step)
		if st.Phase == PhasePending {
			st.Phase = PhaseSkipped
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
		for k, v := range vals {
			s.Ctx[tmpl.SetKey(k)] = v
		}
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
	idx := -1
	if v, ok := ev.Meta["iteration_index"].(int64); ok {
		idx = int(v)
	}
	s.Commands[key] = &CommandState{Key: key, EventID: ev.EventID, Step: ev.Step, Index: idx}
	st := s.step(ev.Step)
	st.InFlight++
	st.Phase = PhaseRunning
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
		st.Envelope = ev.Result
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
	for k, v := range up {
		s.Ctx[tmpl.SetKey(k)] = v
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
		data := iterationData(c, ev)
		if c.Index < len(st.Loop.Results) {
			st.Loop.Results[c.Index] = data
		}
		st.Loop.Success++
		st.Loop.Finished++
		s.maybeFinishLoop(c.Step, st, ev.Seq)
		return
	}
	if !c.HasCallDone && st.Envelope == nil {
		st.Envelope = ev.Result
	}
	s.completeStep(st, ev.Seq)
}

func iterationData(c *CommandState, ev Event) any {
	src := ev.Result
	if c.HasCallDone {
		src = c.Envelope
	}
	if d, ok := tmpl.ExtractUserData(src); ok {
		return d
	}
	return map[string]any{}
}

func (s *State) completeStep(st *StepState, seq int64) {
	st.Phase = PhaseCompleted
	st.CompletedSeq = seq
	st.Routed, st.SetApplied = false, false
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
	if c.Index >= 0 && st.Loop != nil {
		if c.Index < len(st.Loop.Results) {
			st.Loop.Results[c.Index] = map[string]any{"status": "error", "error": msg}
		}
		st.Loop.Failed++
		st.Loop.Finished++
		if !cont {
			st.Loop.Stopped = true
			if st.Error == "" {
				st.Error = msg
				s.Failures = append(s.Failures, Failure{Step: c.Step, Error: msg})
			}
		}
		s.maybeFinishLoop(c.Step, st, ev.Seq)
		return
	}
	if cont {
		// spec.on_error: continue: the step completes with the failure in its result.
		st.Data = map[string]any{"status": "error", "error": msg}
		st.HasData = true
		s.completeStep(st, ev.Seq)
		return
	}
	st.Phase = PhaseFailed
	st.Error = msg
	st.CompletedSeq = ev.Seq
	s.Failures = append(s.Failures, Failure{Step: c.Step, Error: msg})
}

// maybeFinishLoop completes or fails a loop step once every issued iteration has its
// terminal event and no more will be issued.
func (s *State) maybeFinishLoop(name string, st *StepState, seq int64) {
	l := st.Loop
	if st.InFlight > 0 {
		return
	}
	if l.Stopped {
		// One of its own iterations failed: the step fails once the others drained.
		st.Phase = PhaseFailed
		st.CompletedSeq = seq
		return
	}
	if l.Finished < l.Total() {
		return // more iterations to issue (or the run is failing and issues no more)
	}
	st.Data = loopAggregate(l)
	st.HasData = true
	s.completeStep(st, seq)
}

func loopAggregate(l *LoopState) map[string]any {
	results := make([]any, len(l.Results))
	copy(results, l.Results)
	return map[string]any{
		"results": results,
		"stats": map[string]any{
			"total": int64(l.Total()), "success": int64(l.Success), "failed": int64(l.Failed),
		},
	}
}

func (s *State) applyStepExit(ev Event, pb *playbook.Playbook) {
	st := s.step(ev.Step)
	if st.Loop != nil && st.Phase == PhaseRunning {
		s.maybeFinishLoop(ev.Step, st, ev.Seq)
		return
	}
	if st.Phase == PhaseRunning && st.InFlight == 0 {
		if st.Envelope == nil {
			st.Envelope = ev.Result
		}
		s.completeStep(st, ev.Seq)
	}
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

// completedUnrouted lists steps whose latest completion has not been routed yet, in
// completion order.
func (s *State) completedUnrouted() []string {
	var out []string
	for name, st := range s.Steps {
		if st.Phase == PhaseCompleted && !st.Routed {
			out = append(out, name)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := s.Steps[out[i]], s.Steps[out[j]]
		if a.CompletedSeq != b.CompletedSeq {
			return a.CompletedSeq < b.CompletedSeq
		}
		return out[i] < out[j]
	})
	return out
}

// StepView summarises steps for the status route.
type StepView struct {
	Total, Completed, Running, Failed int
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
		}
	}
	return v
}
