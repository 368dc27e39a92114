package engine

import (
	"fmt"

	"github.com/noetl/controlplane/services/api/internal/playbook"
	"github.com/noetl/controlplane/shared/tmpl"
)

// route handles a step's completion: its step-level `set` (rendered once per completion
// with `output` bound to the step's own result), then its arcs.
func (p *pass) route(name string) {
	st := p.st.Steps[name]
	st.Routed = true
	def := p.pb.Step(name)
	if def == nil {
		return // a step the playbook does not know (a worker reported it)
	}
	if !st.SetApplied && len(def.Set) > 0 {
		data, _ := tmpl.StepData(p.stepResult(name, st))
		c := p.context(nil, nil, nil)
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
	event := map[string]any{"name": "call.done"}
	if def.Loop != nil {
		event["name"] = "loop.done"
	} else if st.HasData {
		if m, ok := st.Data.(map[string]any); ok && m["status"] == "error" {
			event["name"] = "call.error"
		}
	}
	c := p.context(nil, nil, event)
	inclusive := def.RoutingMode() == playbook.ModeInclusive
	matched := map[string]bool{}
	for _, a := range def.Next.Arcs {
		ok, err := p.e.R.EvalCondition(a.When, c)
		if err != nil {
			p.fail(name, fmt.Errorf("step '%s' arc to '%s': when: %w", name, a.Step, err))
			return
		}
		if !ok {
			continue
		}
		args, set, err := p.arcLayers(a, c)
		if err != nil {
			p.fail(name, fmt.Errorf("step '%s' arc to '%s': %w", name, a.Step, err))
			return
		}
		matched[a.Step] = true
		p.fire(a.Step, name, st.CompletedSeq, args, set)
		if !inclusive {
			break
		}
	}
	if p.g.isBranchPoint(name) {
		return // a cycle's exit arcs wait for the cycle to end; never mark them skipped
	}
	for _, a := range def.Next.Arcs {
		if matched[a.Step] || p.isPending(a.Step) {
			continue
		}
		if ts := p.st.Steps[a.Step]; ts != nil && ts.Phase != PhasePending {
			continue
		}
		if p.pb.Step(a.Step) == nil {
			continue
		}
		p.emit(Event{Type: TypeStepSkipped, Step: a.Step, Status: "SKIPPED",
			Result: map[string]any{"status": "SKIPPED"}})
		matched[a.Step] = true // one skip per target
	}
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
		set = make(map[string]any, len(a.Set))
		for k, v := range a.Set {
			rv, err := p.e.R.RenderValue(v, c)
			if err != nil {
				return nil, nil, fmt.Errorf("set %s: %w", k, err)
			}
			set[tmpl.SetKey(k)] = rv
		}
	}
	return args, set, nil
}

func (p *pass) stepResult(name string, st *StepState) tmpl.StepResult {
	r := tmpl.StepResult{Envelope: st.Envelope, Data: st.Data, HasData: st.HasData}
	if def := p.pb.Step(name); def != nil && def.Tool.IsPipeline() && !st.HasData {
		r.Labels = def.Tool.Labels()
	}
	return r
}

func (p *pass) isPending(step string) bool {
	for _, f := range p.st.Pending {
		if f.Step == step {
			return true
		}
	}
	return false
}

// fire records that an arc fired into step. Several arcs firing into one waiting step
// merge their layers (the later one wins on a key).
func (p *pass) fire(step, from string, fromSeq int64, args, set map[string]any) {
	for _, f := range p.st.Pending {
		if f.Step != step {
			continue
		}
		f.From, f.FromSeq = from, fromSeq
		f.Args = mergeMaps(f.Args, args)
		f.Set = mergeMaps(f.Set, set)
		return
	}
	p.st.Pending = append(p.st.Pending, &Fire{Step: step, From: from, FromSeq: fromSeq, Args: args, Set: set})
}

func mergeMaps(a, b map[string]any) map[string]any {
	if len(b) == 0 {
		return a
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
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

// admit applies the guards and the fan-in barrier to a fired target.
func (p *pass) admit(f *Fire) admission {
	def := p.pb.Step(f.Step)
	if def == nil {
		return admitDrop
	}
	ts := p.st.Steps[f.Step]
	if ts != nil {
		switch ts.Phase {
		case PhaseRunning:
			return admitDrop // already dispatched
		case PhaseFailed:
			return admitDrop
		case PhaseCompleted:
			// Only a back-edge re-enters a finished step: the target reaches the source
			// (a cycle), and the source completed after the target did.
			if f.From == "" || !p.g.reaches(f.Step, f.From) || f.FromSeq <= ts.CompletedSeq {
				return admitDrop
			}
		}
	}
	for _, u := range p.g.upstreams[f.Step] {
		if u == f.From {
			continue
		}
		if us := p.st.Steps[u]; us != nil {
			switch us.Phase {
			case PhaseCompleted, PhaseFailed, PhaseSkipped:
				continue
			}
		}
		if p.live(u, f.Step) {
			return admitDefer
		}
	}
	return admitGo
}

// live reports whether step u may still run: it is reachable (itself included) from a
// running step, a completed step whose arcs are not evaluated yet, or another fired
// target waiting to be dispatched.
func (p *pass) live(u, target string) bool {
	for name, st := range p.st.Steps {
		active := st.Phase == PhaseRunning || (st.Phase == PhaseCompleted && !st.Routed)
		if active && p.g.reaches(name, u) {
			return true
		}
	}
	for _, f := range p.st.Pending {
		if f.Step != target && p.g.reaches(f.Step, u) {
			return true
		}
	}
	return false
}

// dispatch enters a target: its `when` guard (a false guard skips it and follows its
// first matching arc), then a loop or a single command.
func (p *pass) dispatch(f *Fire) {
	def := p.pb.Step(f.Step)
	layers := []map[string]any{f.Args, f.Set}
	if def.When != "" && def.Name != "start" {
		c := p.context(layers, nil, nil)
		ok, err := p.e.R.EvalCondition(def.When, c)
		if err != nil {
			p.fail(f.Step, fmt.Errorf("step '%s' when: %w", f.Step, err))
			return
		}
		if !ok {
			p.skipChain(def, f, c)
			return
		}
	}
	if def.Loop != nil {
		p.enterLoop(def, f)
		return
	}
	var ctx map[string]any
	if len(f.Args) > 0 {
		ctx = f.Args
	}
	p.emit(Event{Type: TypeStepEnter, Step: f.Step, Status: "ENTERED", Result: statusResult("ENTERED", ctx)})
	ts := p.st.step(f.Step)
	ts.EntryArgs, ts.EntrySet, ts.Loop = f.Args, f.Set, nil
	p.issue(def, ts, nil)
}

// skipChain marks a step whose `when` is false as skipped and follows its first arc
// whose condition holds; the chain may reach `end`, which then runs (HEAD defect 12 is
// not copied).
func (p *pass) skipChain(def *playbook.Step, f *Fire, c map[string]any) {
	var ctx map[string]any
	if len(f.Args) > 0 {
		ctx = f.Args
	}
	skipped := p.emit(Event{Type: TypeStepSkipped, Step: def.Name, Status: "SKIPPED", Result: statusResult("SKIPPED", ctx)})
	if ts := p.st.step(def.Name); ts.Phase == PhasePending {
		ts.Phase = PhaseSkipped
	}
	if def.Next == nil {
		return
	}
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
		p.fire(a.Step, def.Name, skipped.Seq, mergeMaps(f.Args, args), mergeMaps(f.Set, set))
		return
	}
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
func (p *pass) enterLoop(def *playbook.Step, f *Fire) {
	c := p.context([]map[string]any{f.Args, f.Set}, nil, nil)
	v, err := p.e.R.RenderText(def.Loop.In, c)
	if err != nil {
		p.fail(def.Name, fmt.Errorf("loop step '%s': %w", def.Name, err))
		return
	}
	items, err := loopItems(v, def.Loop.In)
	if err != nil {
		p.fail(def.Name, fmt.Errorf("loop step '%s': %w", def.Name, err))
		return
	}
	iter := def.Loop.Iterator
	if iter == "" {
		iter = "item"
	}
	mode := def.Loop.Mode
	if mode == "" {
		mode = playbook.LoopSequential
	}
	ctx := mergeMaps(f.Args, map[string]any{"iterations_expected": int64(len(items)), "iterator_var": iter})
	p.emit(Event{Type: TypeStepEnter, Step: def.Name, Status: "ENTERED", Result: statusResult("ENTERED", ctx)})
	ts := p.st.step(def.Name)
	ts.EntryArgs, ts.EntrySet = f.Args, f.Set
	ts.Loop = &LoopState{Items: items, Var: iter, Mode: mode, MaxInFlight: def.Loop.MaxInFlight, Results: make([]any, len(items))}
	if len(items) == 0 {
		p.emit(Event{Type: TypeStepExit, Step: def.Name, Status: StatusCompleted, Result: map[string]any{"status": StatusCompleted}})
		return
	}
	p.topUp(def, ts)
}

// topUpLoops issues the next iterations of every running loop.
func (p *pass) topUpLoops() bool {
	progressed := false
	for _, name := range stepNames(p.st.Steps) {
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
		p.issue(def, ts, &tmpl.Iteration{Var: l.Var, Item: l.Items[idx], Index: int64(idx), Total: int64(l.Total())})
		if l.Next == idx { // the command was not issued (render failure)
			break
		}
		issued = true
	}
	return issued
}
