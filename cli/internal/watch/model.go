// Package watch follows a running execution: it folds the execution's event log into a
// view of its steps (state, loop progress, elapsed time) and draws that view, in place on
// a terminal and as plain lines otherwise, until the execution ends.
package watch

import "encoding/json"
import "strings"
import "time"

import "github.com/noetl/controlplane/cli/internal/client"
import "github.com/noetl/controlplane/shared/publicapi"

// Step states, as the view shows them ("" until the log says one).
const (
	StateEntered   = "entered"
	StateRunning   = "running"
	StateCompleted = "completed"
	StateFailed    = "failed"
	StateSkipped   = "skipped"
	// StateCancelled is a step that was still running when the execution ended (the
	// api's step.cancelled, or a log that ends without one).
	StateCancelled = "cancelled"
)

// Step is one step of the view. It is drawn, never encoded.
type Step struct {
	Name  string
	State string
	// Loop progress: Total is the number of iterations (0 for a step without a loop),
	// Done the iterations that finished.
	Done, Total int
	// Error is the failure of the step's command, when it failed.
	Error string
	// Start is when the step was entered, End when it finished (zero while it runs).
	Start, End time.Time
	// Changed is when the step took its current state and progress: the time of the
	// event that said so (server time), which the plain lines print.
	Changed time.Time
}

// Model is an execution's state as its event log tells it.
type Model struct {
	Path     string
	Status   string // RUNNING until a terminal event arrives
	Started  time.Time
	Finished time.Time
	// Error is the terminal event's error (playbook.failed).
	Error string
	Steps []*Step
	// LastSeq is the seq of the last event folded: read on after it.
	LastSeq int64

	byName   map[string]*Step
	commands map[string]command // command_id -> its step and whether it is an iteration
	lastAt   time.Time          // time of the last event folded
}

type command struct {
	step      string
	iteration bool
}

// NewModel is the view of an execution nothing is known about yet.
func NewModel() *Model {
	return &Model{Status: publicapi.StatusRunning, byName: map[string]*Step{}, commands: map[string]command{}}
}

// Apply folds events (in seq order) into the model.
func (m *Model) Apply(events []client.Event) {
	for _, e := range events {
		if e.Seq > m.LastSeq {
			m.LastSeq = e.Seq
		}
		at, _ := time.Parse(time.RFC3339Nano, e.CreatedAt)
		if !at.IsZero() {
			m.lastAt = at
		}
		if m.Terminal() {
			// After the end nothing changes: a worker's late outcome is in the log,
			// but the step was closed with the execution.
			continue
		}
		switch e.EventType {
		case "playbook_started", "playbook.started":
			m.Started = at
			if e.NodeName != "" {
				m.Path = e.NodeName
			}
			continue
		case "playbook.completed":
			m.finish(publicapi.StatusCompleted, at, e)
			continue
		case "playbook.failed":
			m.finish(publicapi.StatusFailed, at, e)
			continue
		case "playbook.cancelled":
			m.finish(publicapi.StatusCancelled, at, e)
			continue
		}
		if e.NodeName == "" || e.NodeName == "playbook" {
			continue
		}
		s := m.step(e.NodeName, at)
		meta := object(e.Meta)
		cmdID := commandID(e, meta)
		before := s.progress()
		switch e.EventType {
		case "step.enter", "command.issued":
			m.goneOn(at)
		}
		switch e.EventType {
		case "step.enter":
			if s.State == "" || s.State == StateSkipped || isDone(s.State) {
				// A step entered again (a back-edge) starts over.
				*s = Step{Name: s.Name, State: StateEntered, Start: at}
			}
		case "step.skipped":
			if s.State == "" {
				s.State = StateSkipped
			}
		case "step.cancelled":
			s.State = StateCancelled
			s.End = at
		case "step.exit", "step_completed":
			// A step the server finishes itself, without a command: an empty loop, or
			// a step whose own template did not evaluate (FAILED, with the error). A
			// loop whose iterations all finished gets one too, with its aggregate.
			s.State = StateCompleted
			if strings.EqualFold(e.Status, "FAILED") {
				s.State = StateFailed
				s.Error = firstNonEmpty(e.Error, resultError(e.Result))
			}
			s.End = at
		case "command.issued":
			if total, ok := number(meta["iteration_total"]); ok {
				s.Total = total
				m.commands[cmdID] = command{step: s.Name, iteration: true}
			} else {
				m.commands[cmdID] = command{step: s.Name}
			}
			if s.State == "" || s.State == StateSkipped {
				s.State = StateEntered
			}
		case "command.claimed", "command.started":
			if !isDone(s.State) {
				s.State = StateRunning
			}
		case "command.completed":
			c := m.commands[cmdID]
			if c.iteration {
				s.Done++
				if s.Done >= s.Total && s.State != StateFailed {
					s.State = StateCompleted
				}
			} else if s.State != StateFailed {
				s.State = StateCompleted
			}
			s.End = at
		case "command.failed":
			if m.commands[cmdID].iteration {
				s.Done++
			}
			s.State = StateFailed
			s.Error = firstNonEmpty(e.Error, resultError(e.Result))
			s.End = at
		case "call.error":
			// Under on_error: continue the step goes on; keep the error for the view.
			if s.Error == "" {
				s.Error = firstNonEmpty(e.Error, resultError(e.Result))
			}
		}
		if s.progress() != before {
			s.Changed = at
		}
	}
}

// progress is what a plain line shows of a step: its state and loop progress.
type progress struct {
	state       string
	done, total int
}

func (s *Step) progress() progress {
	return progress{s.State, s.Done, s.Total}
}

// goneOn is called when the engine dispatches something (a step entered, a command
// issued). A failed step stops all new dispatch (docs/engine.md, "Failure and the end
// of a run"), so a step seen failing before it was not failed: its failure was one it
// let go on (`spec.on_error: continue`). A loop step is running again (its next
// iterations come), any other step completed.
func (m *Model) goneOn(at time.Time) {
	for _, s := range m.Steps {
		if s.State != StateFailed {
			continue
		}
		if s.Total > 0 && s.Done < s.Total {
			s.State = StateRunning
		} else {
			s.State = StateCompleted
		}
		s.Changed = at
	}
}

func (m *Model) finish(status string, at time.Time, e client.Event) {
	m.Status = status
	m.Finished = at
	m.Error = firstNonEmpty(e.Error, resultError(e.Result))
	m.closeOpen(at)
	if status == "COMPLETED" {
		// A failed step ends the run FAILED; in a completed run a failed command was
		// one the step let go on (`spec.on_error: continue`), so the step completed.
		// Its Error stays for the view.
		for _, s := range m.Steps {
			if s.State == StateFailed {
				s.State = StateCompleted
			}
		}
	}
}

// closeOpen ends the steps still entered or running at the end of the execution, as
// the api closes them (a log written before it did has no step.cancelled), so no
// clock of an ended execution keeps growing.
func (m *Model) closeOpen(at time.Time) {
	for _, s := range m.Steps {
		if s.State == StateEntered || s.State == StateRunning {
			s.State = StateCancelled
			s.End = at
			s.Changed = at
		}
	}
}

// Ended records a terminal status learnt elsewhere (the status route) when the events
// folded so far do not include the terminal event (a log cut short): the execution and
// its open steps end at at, or at the last event folded when at is zero.
func (m *Model) Ended(status string, at time.Time) {
	if m.Terminal() || !publicapi.Terminal(status) {
		return
	}
	if at.IsZero() {
		at = m.lastAt
	}
	m.Status = status
	m.Finished = at
	m.closeOpen(at)
}

func (m *Model) step(name string, at time.Time) *Step {
	if s, ok := m.byName[name]; ok {
		return s
	}
	s := &Step{Name: name, Start: at, Changed: at}
	m.byName[name] = s
	m.Steps = append(m.Steps, s)
	return s
}

// Terminal reports whether the execution has ended.
func (m *Model) Terminal() bool { return publicapi.Terminal(m.Status) }

// FailedStep is the first step that failed, or nil.
func (m *Model) FailedStep() *Step {
	for _, s := range m.Steps {
		if s.State == StateFailed {
			return s
		}
	}
	return nil
}

// Elapsed is the time from the start to the end, or to now while it runs.
func (m *Model) Elapsed(now time.Time) time.Duration {
	if m.Started.IsZero() {
		return 0
	}
	end := now
	if !m.Finished.IsZero() {
		end = m.Finished
	}
	return end.Sub(m.Started)
}

// StepElapsed is a step's time from entry to its end, or to now while it runs. A skipped
// step never ran: it has none (its clock would otherwise grow for ever).
func StepElapsed(s *Step, now time.Time) time.Duration {
	if s.Start.IsZero() || s.State == StateSkipped {
		return 0
	}
	end := now
	if isDone(s.State) && !s.End.IsZero() {
		end = s.End
	}
	if end.Before(s.Start) {
		return 0
	}
	return end.Sub(s.Start)
}

func isDone(state string) bool {
	return state == StateCompleted || state == StateFailed || state == StateCancelled
}

func object(raw json.RawMessage) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// commandID is the command an event is about: command.issued names it in meta, the
// worker's events inside result.context.
func commandID(e client.Event, meta map[string]any) string {
	if id, ok := meta["command_id"].(string); ok {
		return id
	}
	res := object(e.Result)
	if ctx, ok := res["context"].(map[string]any); ok {
		if id, ok := ctx["command_id"].(string); ok {
			return id
		}
	}
	return ""
}

func resultError(raw json.RawMessage) string {
	res := object(raw)
	if ctx, ok := res["context"].(map[string]any); ok {
		if s, ok := ctx["error"].(string); ok {
			return s
		}
	}
	if s, ok := res["error"].(string); ok {
		return s
	}
	return ""
}

func number(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
