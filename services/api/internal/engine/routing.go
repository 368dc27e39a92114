package engine

import "fmt"
import "maps"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/tmpl"

// route handles a step's completion: its step-level `set` (rendered once per completion
// with `output` bound to the step's own result), then its arcs.
func (p *pass) route(name string) {
	st := p.st.Steps[name]
	st.Routed = true
	def := p.pb.Step(name)
	if def == nil {
		return // a step the playbook does not know (a worker reported it)
	}
	if !p.spend() {
		return
	}
	if st.Loop != nil && st.Loop.Aggregate {
		if !p.aggregate(name, st) {
			return
		}
		p.emit(dataExit(name, st.Data))
	} else if def.Loop == nil && st.HasData {
		// A failure continued under spec.on_error: continue: its data is the engine's
		// (failureResult), not a call.done's.
		p.emit(dataExit(name, st.Data))
	}
	sc := p.g.scopes[name]
	// The step's set and its arcs see the args and set its entry came with, as its
	// command did (a self-loop pages by the arg it was called with), and as a skipped
	// step's arcs do. They are not passed on: a target gets only its arc's layers.
	entry := []map[string]any{st.EntryArgs, st.EntrySet}
	// The set sees the event the arcs see: written there, `{{ event.name }}` read as
	// undefined, so a set could not tell a continued failure from a success.
	event := map[string]any{"name": "call.done"}
	if def.Loop != nil {
		event["name"] = "loop.done"
	} else if st.HasData {
		if m, ok := st.Data.(map[string]any); ok && m["status"] == "error" {
			event["name"] = "call.error"
		}
	}
	if !st.SetApplied && len(def.Set) > 0 {
		data, _ := tmpl.StepData(p.stepResult(name, st))
		c := p.context(sc.set, entry, nil, event)
		c["output"] = tmpl.DataAlias(data)
		values := make(map[string]any, len(def.Set))
		for k, v := range def.Set {
			rv, err := p.e.R.RenderValue(v, c)
			if err != nil {
				p.fail(name, fmt.Errorf("step '%s' set %s: %w", name, k, err))
				return
			}
			values[tmpl.SetKey(k)] = rv
		}
		p.emit(Event{
			Type: TypeCtxUpdated, Step: name, Status: "CONTEXT",
			Result: map[string]any{"status": "CONTEXT", "context": map[string]any{
				"step": name, "gen": st.CompletedSeq, "values": values,
			}},
		})
	}
	if p.st.Failing() || def.Next == nil || len(def.Next.Arcs) == 0 {
		return
	}
	c := p.context(sc.route, entry, nil, event)
	// Arcs read the step's own result as `output`, as its set does: written there, it
	// read as undefined, so `when: "{{ output.ok }}"` was false whatever the step did.
	// Bound only when an arc reads it, as every name is.
	if sc.route.all || sc.route.names["output"] {
		data, _ := tmpl.StepData(p.stepResult(name, st))
		c["output"] = tmpl.DataAlias(data)
	}
	p.routeArcs(def, c, &Fire{From: name, FromSeq: st.CompletedSeq})
}

// routeArcs evaluates a finished (completed or skipped) step's arcs in its own mode:
// exclusive takes the first arc whose `when` holds, inclusive every one. Each taken arc
// fires its target with the arc's args and set layered over base's. Targets of arcs not
// taken get an informational step.skipped, except at a cycle's branch point, whose exit
// arcs wait for the cycle to end.
func (p *pass) routeArcs(def *playbook.Step, c map[string]any, base *Fire) {
	inclusive := def.RoutingMode() == playbook.ModeInclusive
	matched := map[string]bool{}
	for _, a := range def.Next.Arcs {
		ok, err := p.e.R.EvalCondition(a.When, c)
		if err != nil {
			p.fail(def.Name, fmt.Errorf("step '%s' arc to '%s': when: %w", def.Name, a.Step, err))
			return
		}
		if !ok {
			continue
		}
		args, set, err := p.arcLayers(a, c)
		if err != nil {
			p.fail(def.Name, fmt.Errorf("step '%s' arc to '%s': %w", def.Name, a.Step, err))
			return
		}
		matched[a.Step] = true
		p.fire(&Fire{Step: a.Step, From: base.From, FromSeq: base.FromSeq, FromSkip: base.FromSkip,
			Args: mergeMaps(base.Args, args), Set: mergeMaps(base.Set, set)})
		if !inclusive {
			break
		}
	}
	if p.g.isBranchPoint(def.Name) {
		return
	}
	for _, a := range def.Next.Arcs {
		if matched[a.Step] || p.isPending(a.Step) || p.pb.Step(a.Step) == nil {
			continue
		}
		if ts := p.st.Steps[a.Step]; ts != nil && ts.Phase != PhasePending {
			continue
		}
		p.emit(Event{Type: TypeStepSkipped, Step: a.Step, Status: "SKIPPED",
			Result: map[string]any{"status": "SKIPPED"},
			Meta:   map[string]any{"emitted_by": "orchestrator", "reason": SkipNotTaken, "from": def.Name}})
		matched[a.Step] = true // one skip per target
	}
}

// aggregate assembles a finished loop's {results, stats} from the iteration results
// stored by earlier passes and those folded in this one.
func (p *pass) aggregate(name string, st *StepState) bool {
	l := st.Loop
	results := map[int64]any{}
	if p.iters == nil {
		p.err = errNoIterationReader
		return false
	}
	stored, err := p.iters.IterationResults(name, l.EntryID)
	if err != nil {
		p.err = fmt.Errorf("read the iteration results of loop step %s: %w", name, err)
		return false
	}
	for i, v := range stored {
		results[i] = v
	}
	for _, r := range p.st.iterations {
		if r.Step == name && r.EntryID == l.EntryID {
			results[r.Index] = r.Data
		}
	}
	st.Data = loopAggregate(l, results)
	st.HasData = true
	l.Aggregate = false
	return true
}

// arcLayers renders an arc's `args` and `set` against the routing context (the producing
// step's result is visible). set keys lose their ctx./iter./step. prefix.
func (p *pass) arcLayers(a playbook.Arc, c map[string]any) (map[string]any, map[string]any, error) {
	var args, set map[string]any
	if len(a.Args) > 0 {
		v, err := p.e.R.RenderValue(a.Args, c)
		if err != nil {
			return nil, nil, fmt.Errorf("args: %w", err)
		}
		args, _ = v.(map[string]any)
	}
	if len(a.Set) > 0 {
		rendered := make(map[string]any, len(a.Set))
		for k, v := range a.Set {
			rv, err := p.e.R.RenderValue(v, c)
			if err != nil {
				return nil, nil, fmt.Errorf("set %s: %w", k, err)
			}
			rendered[k] = rv
		}
		set = make(map[string]any, len(a.Set))
		setValues(set, rendered)
	}
	return args, set, nil
}

func (p *pass) isPending(step string) bool {
	for _, f := range p.st.Pending {
		if f.Step == step {
			return true
		}
	}
	return false
}

// fire records that an arc fired into a step that has not been dispatched yet. Several
// arcs firing into one waiting step merge their layers (the later one wins on a key).
func (p *pass) fire(nf *Fire) {
	for _, f := range p.st.Pending {
		if f.Step != nf.Step {
			continue
		}
		f.From, f.FromSeq = nf.From, max(f.FromSeq, nf.FromSeq)
		f.FromSkip = f.FromSkip && nf.FromSkip
		f.Args = mergeMaps(f.Args, nf.Args)
		f.Set = mergeMaps(f.Set, nf.Set)
		return
	}
	p.st.Pending = append(p.st.Pending, nf)
}

func mergeMaps(a, b map[string]any) map[string]any {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make(map[string]any, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}

type admission int

const (
	admitDrop admission = iota
	admitDefer
	admitGo
)

// dispatchPending dispatches every fired target whose barrier is satisfied.
func (p *pass) dispatchPending() bool {
	progressed := false
	for i := 0; i < len(p.st.Pending) && p.err == nil && !p.st.Failing(); {
		f := p.st.Pending[i]
		switch p.admit(f) {
		case admitDefer:
			i++
		case admitDrop:
			p.st.Pending = append(p.st.Pending[:i], p.st.Pending[i+1:]...)
			progressed = true
		case admitGo:
			p.st.Pending = append(p.st.Pending[:i], p.st.Pending[i+1:]...)
			p.dispatch(f)
			progressed = true
		}
	}
	return progressed
}

// admit decides what happens to a fired target (docs/engine.md, "Entering a step"):
//   - a skip chain never enters a step this pass already skipped;
//   - a fire is fresh when its source finished after the target's latest entry began;
//     a stale one was answered by that entry and is dropped;
//   - a running target keeps a fresh fire until its entry ends (a new round), and
//     drops a stale one (a fan-in already dispatched);
//   - a failed target is not entered again;
//   - the fan-in barrier: the target waits while a step that reaches it through forward
//     arcs may still run (it is running, finished but not routed yet, or fired).
func (p *pass) admit(f *Fire) admission {
	if p.pb.Step(f.Step) == nil {
		return admitDrop
	}
	if f.FromSkip && p.skipped[f.Step] {
		return admitDrop
	}
	if ts := p.st.Steps[f.Step]; ts != nil && ts.Phase != PhasePending {
		fresh := f.FromSeq > ts.EnteredSeq
		switch ts.Phase {
		case PhaseRunning:
			if fresh {
				return admitDefer
			}
			return admitDrop
		case PhaseFailed:
			return admitDrop
		default: // completed or skipped
			if !fresh {
				return admitDrop
			}
		}
	}
	if p.waitsForUpstream(f) {
		return admitDefer
	}
	return admitGo
}

// waitsForUpstream is the fan-in barrier. Only back-edges are left out of "reaches", so a
// join inside a loop body waits for all its branches in every round.
func (p *pass) waitsForUpstream(f *Fire) bool {
	ups := p.g.fwdIn[f.Step]
	if len(ups) == 0 || (len(ups) == 1 && ups[0] == f.From) {
		return false // nothing else leads here: no other branch to wait for
	}
	for name := range p.st.running {
		if name != f.Step && p.g.forwardReaches(name, f.Step) {
			return true
		}
	}
	for _, name := range p.st.unrouted {
		if name != f.Step && p.g.forwardReaches(name, f.Step) {
			return true
		}
	}
	for _, g := range p.st.Pending {
		if g.Step != f.Step && p.g.forwardReaches(g.Step, f.Step) {
			return true
		}
	}
	return false
}

// dispatch enters a target: its `when` guard (a false guard skips it, and its arcs are
// routed in its own mode), then a loop or a single command.
func (p *pass) dispatch(f *Fire) {
	if !p.spend() {
		return
	}
	def := p.pb.Step(f.Step)
	layers := []map[string]any{f.Args, f.Set}
	if def.When != "" && def.Name != "start" {
		c := p.context(p.g.scopes[def.Name].when, layers, nil, nil)
		ok, err := p.e.R.EvalCondition(def.When, c)
		if err != nil {
			p.fail(f.Step, fmt.Errorf("step '%s' when: %w", f.Step, err))
			return
		}
		if !ok {
			p.skip(def, f)
			return
		}
	}
	ts := p.st.step(f.Step)
	ts.EntryArgs, ts.EntrySet = f.Args, f.Set
	if def.Loop != nil {
		p.enterLoop(def, ts, f)
		return
	}
	ts.Loop = nil
	p.emit(Event{Type: TypeStepEnter, Step: f.Step, Status: "ENTERED", Result: statusResult("ENTERED", f.Args)})
	p.issue(def, ts, nil)
}

// skip marks a step whose `when` is false as skipped and routes its arcs like a
// completed step's, in its own mode, without a result of its own; the arriving arc's
// args and set travel on. A chain of skips may reach `end`, which then runs.
func (p *pass) skip(def *playbook.Step, f *Fire) {
	skipped := p.emit(Event{Type: TypeStepSkipped, Step: def.Name, Status: "SKIPPED",
		Result: statusResult("SKIPPED", f.Args),
		Meta:   map[string]any{"emitted_by": "orchestrator", "reason": SkipWhen}})
	p.skipped[def.Name] = true
	if def.Next == nil || len(def.Next.Arcs) == 0 || p.err != nil {
		return
	}
	// Its arcs see the skip as their event, as a finished step's see call.done.
	c := p.context(p.g.scopes[def.Name].route, []map[string]any{f.Args, f.Set}, nil, map[string]any{"name": TypeStepSkipped})
	p.routeArcs(def, c, &Fire{From: def.Name, FromSeq: skipped.Seq, FromSkip: true, Args: f.Args, Set: f.Set})
}

func statusResult(status string, ctx map[string]any) map[string]any {
	r := map[string]any{"status": status}
	if len(ctx) > 0 {
		r["context"] = ctx
	}
	return r
}

// enterLoop renders loop.in and starts the iterations (none for an empty collection,
// which completes the step at once with results: []).
func (p *pass) enterLoop(def *playbook.Step, ts *StepState, f *Fire) {
	c := p.context(p.g.scopes[def.Name].loop, []map[string]any{f.Args, f.Set}, nil, nil)
	var v any
	var err error
	if def.Loop.Literal != nil {
		// A literal list is rendered item by item: its JSON text rendered as a whole
		// broke on an item whose value is an object or holds a quote, and then came
		// apart on its commas.
		v, err = p.e.R.RenderValue(def.Loop.Literal, c)
	} else {
		v, err = p.e.R.RenderText(def.Loop.In, c)
	}
	if err != nil {
		p.fail(def.Name, fmt.Errorf("loop step '%s': %w", def.Name, err))
		return
	}
	l, err := loopOver(v, def.Loop.In)
	if err == nil && l.Total() > p.maxLoopIterations() {
		err = fmt.Errorf("loop step '%s': %d iterations exceed the limit of %d iterations per loop (NOETL_MAX_LOOP_ITERATIONS)",
			def.Name, l.Total(), p.maxLoopIterations())
	}
	if err != nil {
		p.fail(def.Name, err)
		return
	}
	id, err := p.e.IDs.Next()
	if err != nil {
		p.err = fmt.Errorf("mint event id: %w", err)
		return
	}
	l.EntryID, l.Var, l.Mode, l.MaxInFlight = id, def.Loop.Iterator, def.Loop.Mode, def.Loop.MaxInFlight
	if l.Var == "" {
		l.Var = "item"
	}
	if l.Mode == "" {
		l.Mode = playbook.LoopSequential
	}
	ts.Loop = l
	ctx := mergeMaps(f.Args, map[string]any{"iterations_expected": l.Total(), "iterator_var": l.Var})
	p.emit(Event{EventID: id, Type: TypeStepEnter, Step: def.Name, Status: "ENTERED", Result: statusResult("ENTERED", ctx)})
	if l.Total() == 0 {
		p.emit(dataExit(def.Name, loopAggregate(l, nil)))
		return
	}
	p.topUp(def, ts)
}

// dataExit is the step.exit that records in the log a step result no call.done carries:
// a finished loop's {results, stats}, or the result of a failure continued under
// spec.on_error: continue (result.context.data). Without it a reader of the log (the
// worker's playbook tool returning a child's step) would find only the last iteration's
// data, or none. Folded, it changes nothing: the step has completed, or (an empty loop)
// completes by it.
func dataExit(step string, data any) Event {
	return Event{Type: TypeStepExit, Step: step, Status: StatusCompleted,
		Result: statusResult(StatusCompleted, map[string]any{"data": data})}
}

func (p *pass) maxLoopIterations() int64 {
	if p.e.MaxLoopIterations > 0 {
		return p.e.MaxLoopIterations
	}
	return DefaultMaxLoopIterations
}

// topUpLoops issues the next iterations of every running loop.
func (p *pass) topUpLoops() bool {
	progressed := false
	for _, name := range append([]string(nil), p.st.loops...) {
		ts := p.st.Steps[name]
		if ts.Loop == nil || ts.Phase != PhaseRunning || ts.Loop.Stopped {
			continue
		}
		if def := p.pb.Step(name); def != nil && p.topUp(def, ts) {
			progressed = true
		}
	}
	return progressed
}

// topUp issues iterations up to the mode's limit: one at a time for sequential loops,
// min(max_in_flight, N) at once for parallel ones, topping up one for one.
func (p *pass) topUp(def *playbook.Step, ts *StepState) bool {
	l := ts.Loop
	issued := false
	for l.Next < l.Total() && p.err == nil && !p.st.Failing() {
		if l.Mode != playbook.LoopParallel && ts.InFlight >= 1 {
			break
		}
		if l.Mode == playbook.LoopParallel && l.MaxInFlight > 0 && int64(ts.InFlight) >= l.MaxInFlight {
			break
		}
		idx := l.Next
		p.issue(def, ts, &tmpl.Iteration{Var: l.Var, Item: l.Item(idx), Index: idx, Total: l.Total()})
		if l.Next == idx { // the command was not issued (render failure)
			break
		}
		issued = true
	}
	return issued
}
