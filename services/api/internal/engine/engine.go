package engine

import "errors"
import "fmt"
import "strconv"
import "strings"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/tmpl"

// IDSource mints event ids.
type IDSource interface {
	Next() (int64, error)
}

// IterationReader reads the results of loop iterations that earlier passes stored
// outside the snapshot (State.TakeIterations), keyed by iteration index.
type IterationReader interface {
	IterationResults(step string, entryID int64) (map[int64]any, error)
}

// Defaults of the engine's bounds (docs/engine.md, "Bounds").
const (
	// DefaultMaxLoopIterations is how many iterations one loop entry may have.
	DefaultMaxLoopIterations = 100_000
	// DefaultMaxPassWork is how many step entries, skips and routings one pass may make.
	DefaultMaxPassWork = 10_000
)

// Engine evaluates executions. It holds no per-execution state and is safe for
// concurrent use on different states.
type Engine struct {
	R   *tmpl.Renderer
	IDs IDSource
	// MaxPassWork bounds the work of one pass: step entries, skips and routings. A
	// playbook whose steps keep completing without a worker (a cycle of empty loops)
	// fails once with a clear message instead of spinning.
	MaxPassWork int
	// MaxLoopIterations caps the iterations of one loop entry; beyond it the step fails
	// with a message naming the limit, and nothing is issued.
	MaxLoopIterations int64
}

// New returns an engine with the default bounds.
func New(r *tmpl.Renderer, ids IDSource) *Engine {
	return &Engine{R: r, IDs: ids, MaxPassWork: DefaultMaxPassWork, MaxLoopIterations: DefaultMaxLoopIterations}
}

// maxAttempts is how many times a command may be claimed (lost-worker recovery).
const maxAttempts = 3

type pass struct {
	e       *Engine
	st      *State
	pb      *playbook.Playbook
	g       *graph
	iters   IterationReader
	trigger int64
	out     []Event
	err     error // infrastructure failure (id minting, reading results): abort the pass
	// work counts step entries, skips and routings against Engine.MaxPassWork.
	work int
	// skipped are the steps this pass skipped: a skip chain never enters them again.
	skipped map[string]bool
}

// Start begins an execution: playbook_started with the merged workload, then the `start`
// step (looped or not; its `when` is ignored), then evaluation until quiescent.
func (e *Engine) Start(st *State, pb *playbook.Playbook, workload map[string]any, meta map[string]any) ([]Event, error) {
	p := e.newPass(st, pb, 0, nil)
	ctx := map[string]any{
		"catalog_id":   strconv.FormatInt(st.CatalogID, 10),
		"execution_id": strconv.FormatInt(st.ExecutionID, 10),
		"path":         st.Path,
		"workload":     workload,
	}
	started := p.emit(Event{
		Type: TypePlaybookStarted, NodeID: "playbook", Step: st.Path, NodeType: "execution",
		Status: "STARTED", Context: ctx, Meta: meta,
	})
	if p.err != nil {
		return nil, p.err
	}
	p.trigger = started.EventID
	st.Pending = append(st.Pending, &Fire{Step: "start"})
	p.run()
	return p.out, p.err
}

// Advance evaluates after events were folded into st. trigger is the event that caused
// the pass; emitted events name it as their parent. iters reads stored loop iteration
// results, needed when a loop finished.
func (e *Engine) Advance(st *State, pb *playbook.Playbook, trigger int64, iters IterationReader) ([]Event, error) {
	p := e.newPass(st, pb, trigger, iters)
	p.run()
	return p.out, p.err
}

// Cancel writes playbook.cancelled. After it, passes dispatch nothing.
func (e *Engine) Cancel(st *State, reason string) ([]Event, error) {
	p := e.newPass(st, nil, 0, nil)
	meta := map[string]any{"status": StatusCancelled}
	if reason != "" {
		meta["reason"] = reason
	}
	p.closeRunning("the execution was cancelled")
	p.emit(Event{
		Type: TypePlaybookCancelled, NodeID: "playbook", Step: "playbook", Status: StatusCancelled,
		Result: map[string]any{"status": StatusCancelled}, Meta: meta,
	})
	return p.out, p.err
}

// Finalize writes the terminal event an operator asks for (status COMPLETED or FAILED).
func (e *Engine) Finalize(st *State, status, errText string) ([]Event, error) {
	p := e.newPass(st, nil, 0, nil)
	typ := TypePlaybookCompleted
	if status == StatusFailed {
		typ = TypePlaybookFailed
	}
	meta := map[string]any{"status": status, "emitted_by": "finalize"}
	result := map[string]any{"status": status}
	if errText != "" {
		meta["error"] = errText
		result["context"] = map[string]any{"error": errText}
	}
	p.closeRunning("the execution was finalized " + status)
	p.emit(Event{Type: typ, NodeID: "playbook", Step: "playbook", Status: status, Result: result, Meta: meta, Error: errText})
	return p.out, p.err
}

// CloseEnded closes the steps an execution that already ended still shows running: what
// an older version of the engine left (it did not close steps at the end). It writes the
// same step.cancelled events the end writes now, with the terminal event (terminalID) as
// their parent, and closes the steps and outstanding commands in the state. An
// execution that has not ended, or has nothing running, gets nothing.
func (e *Engine) CloseEnded(st *State, terminalID int64, reason string) ([]Event, error) {
	if !st.Terminal() {
		return nil, nil
	}
	p := e.newPass(st, nil, terminalID, nil)
	// The fold ignores events after the terminal one, so the state is closed directly.
	p.closeRunning(reason)
	if p.err != nil {
		return nil, p.err
	}
	st.closeRunning()
	return p.out, nil
}

// FailCommand writes the command.failed the engine issues itself for a command that can
// no longer run (its re-claims ran out), then evaluates.
func (e *Engine) FailCommand(st *State, pb *playbook.Playbook, key, reason string, iters IterationReader) ([]Event, error) {
	c := st.Commands[key]
	if c == nil {
		return nil, nil
	}
	p := e.newPass(st, pb, c.EventID, iters)
	p.emit(Event{
		Type: TypeCommandFailed, Step: c.Step, Status: StatusFailed,
		Result: map[string]any{"status": StatusFailed, "context": map[string]any{"command_id": key, "error": reason}},
		Meta:   map[string]any{"command_id": key, "emitted_by": "orchestrator", "error": reason},
		Error:  reason,
	})
	p.run()
	return p.out, p.err
}

func (e *Engine) newPass(st *State, pb *playbook.Playbook, trigger int64, iters IterationReader) *pass {
	p := &pass{e: e, st: st, pb: pb, trigger: trigger, iters: iters, skipped: map[string]bool{}}
	if pb != nil {
		p.g = graphOf(pb, e.R)
	}
	return p
}

// emit completes an event (id, sequence, parent), folds it into the state and records it.
func (p *pass) emit(ev Event) Event {
	if p.err != nil {
		return ev
	}
	if ev.EventID == 0 {
		id, err := p.e.IDs.Next()
		if err != nil {
			p.err = fmt.Errorf("mint event id: %w", err)
			return ev
		}
		ev.EventID = id
	}
	ev.ExecutionID = p.st.ExecutionID
	ev.Seq = p.st.Seq + 1
	if ev.ParentEventID == 0 {
		ev.ParentEventID = p.trigger
	}
	if ev.NodeID == "" {
		ev.NodeID = ev.Step
	}
	if ev.Meta == nil {
		ev.Meta = map[string]any{"emitted_by": "orchestrator"}
	}
	p.st.Apply(ev, p.pb)
	p.out = append(p.out, ev)
	return ev
}

// run evaluates until nothing more can happen without a worker, then writes the terminal
// event if nothing is in flight. It always returns: every round routes, enters, skips
// or issues something, each entry, skip and routing spends work, and issuing is bounded
// by the loops' sizes.
func (p *pass) run() {
	if p.pb == nil {
		return
	}
	for p.err == nil && !p.st.Terminal() {
		if p.round() {
			continue
		}
		if p.forceStuck() {
			continue
		}
		p.finishIfDone()
		return
	}
}

// spend counts one unit of work. When the pass runs out of work it fails the execution
// once, drops every fired target and reports false.
func (p *pass) spend() bool {
	max := p.e.MaxPassWork
	if max <= 0 {
		max = DefaultMaxPassWork
	}
	p.work++
	if p.work == max+1 {
		p.fail("", fmt.Errorf("evaluation did not converge: one pass entered, skipped or routed steps %d times without waiting for any worker (a cycle of steps that complete on their own, such as empty loops?)", max))
		p.st.Pending = nil
	}
	return p.work <= max
}

// round makes one sweep of decisions and reports whether anything changed.
func (p *pass) round() bool {
	progressed := false
	for {
		name, ok := p.st.nextUnrouted()
		if !ok {
			break
		}
		p.route(name)
		progressed = true
		if p.err != nil {
			return false
		}
	}
	if p.st.Failing() {
		if len(p.st.Pending) > 0 {
			p.st.Pending = nil // a failure stops all new dispatch
			progressed = true
		}
		return progressed
	}
	if p.topUpLoops() {
		progressed = true
	}
	if p.dispatchPending() {
		progressed = true
	}
	return progressed
}

// forceStuck releases a deferred target when nothing is in flight and nothing else can
// happen: with no live step left, no barrier can be waiting for anything real. (The
// barrier never holds a target then; this is a safety net, and it still refuses to
// enter a running step twice.)
func (p *pass) forceStuck() bool {
	if p.st.Failing() || p.st.InFlight() > 0 || len(p.st.Pending) == 0 {
		return false
	}
	f := p.st.Pending[0]
	p.st.Pending = p.st.Pending[1:]
	if ts := p.st.Steps[f.Step]; ts == nil || ts.Phase != PhaseRunning {
		p.dispatch(f)
	}
	return true
}

// finishIfDone writes the terminal event once nothing is in flight.
func (p *pass) finishIfDone() {
	if p.st.Terminal() || p.st.InFlight() > 0 {
		return
	}
	// Nothing is in flight, but a loop whose run is failing keeps the iterations it
	// never issued: it ends with the run.
	p.closeRunning("the execution ended before the step finished")
	if !p.st.Failing() {
		p.emit(Event{
			Type: TypePlaybookCompleted, NodeID: "playbook", Step: "playbook", Status: StatusCompleted,
			Result: map[string]any{"status": StatusCompleted},
			Meta:   map[string]any{"status": StatusCompleted, "emitted_by": "orchestrator"},
		})
		return
	}
	var steps, parts []string
	evaluate := false
	for _, f := range p.st.Failures {
		if f.Step != "" && !contains(steps, f.Step) {
			steps = append(steps, f.Step)
		}
		if strings.HasPrefix(f.Error, evalPrefix) {
			evaluate = true
		}
		if f.Step != "" {
			parts = append(parts, fmt.Sprintf("%s: %s", f.Step, f.Error))
		} else {
			parts = append(parts, f.Error)
		}
	}
	msg := strings.Join(parts, "; ")
	if len(steps) > 0 && !evaluate {
		msg = "Failed steps: " + strings.Join(steps, ", ") + " (" + msg + ")"
	}
	failed := make([]any, len(steps))
	for i, s := range steps {
		failed[i] = s
	}
	meta := map[string]any{"status": StatusFailed, "error": msg, "failed_steps": failed, "emitted_by": "orchestrator"}
	if evaluate {
		meta["reason"] = ReasonEvaluateError
	}
	p.emit(Event{
		Type: TypePlaybookFailed, NodeID: "playbook", Step: "playbook", Status: StatusFailed,
		Result: map[string]any{"status": StatusFailed, "context": map[string]any{"error": msg}},
		Meta:   meta, Error: msg,
	})
}

// closeRunning writes a step.cancelled for every step still running, in the order
// they were entered, right before the terminal event: the log's record of when each
// stopped. Its outstanding commands are counted in meta.in_flight.
func (p *pass) closeRunning(reason string) {
	for _, name := range p.st.RunningSteps() {
		n := p.st.Steps[name].InFlight
		p.emit(Event{
			Type: TypeStepCancelled, Step: name, NodeType: "step", Status: StatusCancelled,
			Result: map[string]any{"status": StatusCancelled},
			Meta: map[string]any{"status": StatusCancelled, "reason": reason, "in_flight": int64(n),
				"emitted_by": "orchestrator"},
		})
	}
}

const evalPrefix = "Orchestrator evaluate failed: "

// ReasonEvaluateError is the meta.reason of a step.exit the engine writes for a step
// whose own templates or loop did not evaluate, and of the playbook.failed of a run that
// ended on such an error.
const ReasonEvaluateError = "evaluate_error"

// fail records an evaluation failure (a template or loop error, the work bound): nothing
// new is dispatched, in-flight work drains, and the run ends FAILED. An error in a
// step's own definition (its when, loop, tool, set or arcs) fails that step as a tool's
// failure would: a step.exit with status FAILED and the error, so the step is counted
// and shown as failed, not as cancelled with the run (docs/engine.md, "Failure and the
// end of a run"). spec.on_error: continue does not apply: the playbook, not the tool,
// is at fault, and would fail the same way on every round.
func (p *pass) fail(step string, err error) {
	p.st.Failures = append(p.st.Failures, Failure{Step: step, Error: evalPrefix + err.Error()})
	if step == "" || p.pb.Step(step) == nil {
		return
	}
	msg := err.Error()
	p.emit(Event{
		Type: TypeStepExit, Step: step, NodeType: "step", Status: StatusFailed, Error: msg,
		Result: map[string]any{"status": StatusFailed, "context": map[string]any{"error": msg}},
		Meta: map[string]any{"status": StatusFailed, "reason": ReasonEvaluateError, "error": msg,
			"emitted_by": "orchestrator"},
	})
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

var errNoIterationReader = errors.New("a loop finished but the pass has no reader for its stored iteration results")
