package engine

import "regexp"
import "slices"
import "strconv"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/tmpl"

// scope is what one decision's templates can read from the evaluation context. The
// engine binds only that (docs/engine.md, "Cost does not grow with history"): a pass
// at step 1,000 builds the same small context as one at step 10, instead of one holding
// every earlier result.
type scope struct {
	// all: a template reads `ctx` or `steps` whole (or does not compile, and will report
	// its error when rendered): bind the full context.
	all bool
	// names are flat names the templates read, directly or as ctx.<name>.
	names map[string]bool
	// envelopes are steps read raw, as steps.<name>.
	envelopes map[string]bool
}

func newScope() *scope { return &scope{names: map[string]bool{}, envelopes: map[string]bool{}} }

// add folds template references into the scope.
func (s *scope) add(refs tmpl.Refs) {
	for name, r := range refs {
		switch name {
		case "ctx", "steps":
			if r.Whole {
				s.all = true
			}
			for a := range r.Attrs {
				if name == "ctx" {
					s.names[a] = true
				} else {
					s.envelopes[a] = true
				}
			}
		default:
			s.names[name] = true
		}
	}
}

// addValue adds what rendering v can read; a template that does not compile widens the
// scope to everything, so its render reports the error as it always did.
func (s *scope) addValue(r *tmpl.Renderer, v any) {
	refs := tmpl.Refs{}
	if err := r.ValueRefs(v, refs); err != nil {
		s.all = true
		return
	}
	s.add(refs)
}

func (s *scope) addCondition(r *tmpl.Renderer, text string) {
	refs, err := r.ConditionRefs(text)
	if err != nil {
		s.all = true
		return
	}
	s.add(refs)
}

// scopesOf computes, once per playbook, what each decision about a step can read.
func scopesOf(st *playbook.Step, r *tmpl.Renderer) *stepScopes {
	sc := &stepScopes{when: newScope(), set: newScope(), route: newScope(), loop: newScope(), tool: newScope()}
	sc.when.addCondition(r, st.When)
	sc.set.addValue(r, map[string]any(st.Set))
	if st.Next != nil {
		for _, a := range st.Next.Arcs {
			sc.route.addCondition(r, a.When)
			sc.route.addValue(r, map[string]any(a.Args))
			sc.route.addValue(r, map[string]any(a.Set))
		}
	}
	if st.Loop != nil {
		sc.loop.addValue(r, st.Loop.In)
	}
	// The tool scope covers every string of the tool, the ones the worker renders too:
	// the command's render context is cut from this context.
	sc.tool.addValue(r, st.Tool.Config())
	sc.tool.addValue(r, map[string]any(st.Input))
	for _, code := range pythonCode(st) {
		names, whole := pythonContextReads(code)
		if whole {
			sc.tool.all = true
		}
		for _, n := range names {
			sc.tool.names[n] = true
		}
	}
	return sc
}

// pythonCode lists the code of a step's python tool or python pipeline tasks.
func pythonCode(st *playbook.Step) []string {
	var out []string
	if t := st.Tool.Single; t != nil {
		if t.Kind == "python" {
			out = append(out, t.Code)
		}
		return out
	}
	for _, task := range st.Tool.Pipeline {
		if task.Tool.Kind == "python" {
			out = append(out, task.Tool.Code)
		}
	}
	return out
}

var (
	// pyContextName finds the globals through which python code sees the command's
	// render context (the reference worker binds both).
	pyContextName = regexp.MustCompile(`\b(context|variables)\b`)
	// pyContextKey is a lookup of one literal key right after such a name.
	pyContextKey = regexp.MustCompile(`^(?:\.get\(\s*|\[\s*)(?:'([^'\\]*)'|"([^"\\]*)")`)
)

// pythonContextReads finds what python code can read of its `context` / `variables`
// global: the literal keys of context.get('k') and context['k']. Any other use of
// either name (iterating it, passing it on, a computed key) reads it whole.
func pythonContextReads(code string) (names []string, whole bool) {
	for _, loc := range pyContextName.FindAllStringIndex(code, -1) {
		if loc[0] > 0 && code[loc[0]-1] == '.' {
			continue // an attribute of something else (self.context)
		}
		m := pyContextKey.FindStringSubmatch(code[loc[1]:])
		if m == nil {
			return nil, true
		}
		names = append(names, m[1]+m[2])
	}
	return names, false
}

// context builds the evaluation context of one decision: the workload, identifiers,
// override layers and iteration variables, plus the step results and ctx variables the
// decision's scope names.
func (p *pass) context(sc *scope, overrides []map[string]any, it *tmpl.Iteration, event map[string]any) map[string]any {
	var steps map[string]tmpl.StepResult
	ctxVars := p.st.Ctx
	if sc.all {
		steps = make(map[string]tmpl.StepResult, len(p.st.Steps))
		for name, st := range p.st.Steps {
			p.bindStep(steps, name, st)
		}
	} else {
		steps = make(map[string]tmpl.StepResult, len(sc.names)+len(sc.envelopes))
		for name := range sc.names {
			if st := p.st.Steps[name]; st != nil {
				p.bindStep(steps, name, st)
			}
		}
		for name := range sc.envelopes {
			if st := p.st.Steps[name]; st != nil {
				p.bindStep(steps, name, st)
			}
		}
		ctxVars = make(map[string]any, len(sc.names))
		for name := range sc.names {
			if v, ok := p.st.Ctx[name]; ok {
				ctxVars[name] = v
			}
		}
	}
	in := tmpl.ContextInput{
		Workload:    p.st.Workload,
		Steps:       steps,
		Ctx:         ctxVars,
		ExecutionID: strconv.FormatInt(p.st.ExecutionID, 10),
		CatalogID:   strconv.FormatInt(p.st.CatalogID, 10),
		Path:        p.st.Path,
		Overrides:   overrides,
		Iteration:   it,
		Event:       event,
	}
	if p.st.Version > 0 {
		in.Version = strconv.FormatInt(p.st.Version, 10)
	}
	return tmpl.BuildContext(in)
}

func (p *pass) bindStep(steps map[string]tmpl.StepResult, name string, st *StepState) {
	if st.Envelope == nil && !st.HasData {
		return
	}
	steps[name] = p.stepResult(name, st)
}

func (p *pass) stepResult(name string, st *StepState) tmpl.StepResult {
	r := tmpl.StepResult{Envelope: st.Envelope, Data: st.Data, HasData: st.HasData}
	if def := p.pb.Step(name); def != nil && def.Tool.IsPipeline() && !st.HasData {
		r.Labels = def.Tool.Labels()
	}
	return r
}

// identifiers are always in a command's render context: small, and what tools read
// besides templates (a python tool's context.get('execution_id')).
var identifiers = tmpl.Identifiers[:]

// renderContext is what a command carries for the worker (docs/engine.md, "What a
// command carries"): the identifiers, and the entries of the context c it was rendered
// against that the templates left in its tool config, and its python code's context
// lookups, can read. Never the ctx shim: workers rebuild it from these entries. A step
// result travels as its plain data, without the .data alias (which is not a key of the
// data); aliased lists, sorted, the entries the worker gives the alias back to, so
// {{ step.data.x }} renders on the worker as on the server.
func (p *pass) renderContext(c map[string]any, cfg any, def *playbook.Step) (out map[string]any, aliased []string) {
	sc := newScope()
	sc.addValue(p.e.R, unrendered(cfg))
	for _, code := range pythonCode(def) {
		names, whole := pythonContextReads(code)
		if whole {
			sc.all = true
		}
		for _, n := range names {
			sc.names[n] = true
		}
	}
	put := func(k string, v any) {
		plain, had := tmpl.WithoutAlias(v)
		out[k] = plain
		if had {
			aliased = append(aliased, k)
		}
	}
	if sc.all {
		out = make(map[string]any, len(c))
		for k, v := range c {
			if k != "ctx" {
				put(k, v)
			}
		}
		slices.Sort(aliased)
		return out, aliased
	}
	out = make(map[string]any, len(sc.names)+len(identifiers)+1)
	for _, k := range identifiers {
		if v, ok := c[k]; ok {
			out[k] = v
		}
	}
	for name := range sc.names {
		if v, ok := c[name]; ok {
			put(name, v)
		}
	}
	if len(sc.envelopes) > 0 {
		raw, _ := c["steps"].(map[string]any)
		envs := make(map[string]any, len(sc.envelopes))
		for name := range sc.envelopes {
			if v, ok := raw[name]; ok {
				envs[name] = v
			}
		}
		out["steps"] = envs
	}
	slices.Sort(aliased)
	return out, aliased
}

// unrendered collects the strings of a rendered tool config that still hold template
// syntax: the ones the server deferred or never renders.
func unrendered(v any) []any {
	var out []any
	for s := range jsonx.Strings(v) {
		if tmpl.HasTemplate(s) {
			out = append(out, s)
		}
	}
	return out
}
