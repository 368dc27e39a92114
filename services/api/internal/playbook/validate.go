package playbook

import "fmt"
import "maps"
import "slices"
import "strings"

import "github.com/noetl/controlplane/shared/keychainprovider"
import "github.com/noetl/controlplane/shared/tmpl"

// validActions is the upstream rendering of EvalActions in messages.
var validActions = `["continue", "retry", "break", "jump", "fail"]`

// isValidExpression is upstream's check for `when`, `loop.in`, eval `expr`: non-empty,
// and either templated ({{ ... }}) or free of braces (a bare expression such as
// `status == 'ok'`). `{'a': 1}` fails.
func isValidExpression(s string) bool {
	return s != "" && (strings.Contains(s, "{{") || !strings.Contains(s, "{"))
}

// Validate checks the rules of the language. Messages are upstream's where upstream
// has one, so that clients matching on them keep working.
func (p *Playbook) Validate() error {
	if p.APIVersion != "noetl.io/v2" {
		return validationf(0, "Unsupported API version: %s. Expected noetl.io/v2", p.APIVersion)
	}
	if p.Kind != "Playbook" {
		return validationf(0, "Invalid kind: %s. Expected Playbook", p.Kind)
	}
	if strings.TrimSpace(p.Metadata.Name) == "" {
		return validationf(0, "Playbook metadata.name is required")
	}
	for i, s := range p.Workflow {
		if strings.TrimSpace(s.Name) == "" {
			return validationf(s.Line, "workflow[%d]: the step name ('step:') is required", i)
		}
	}
	if p.Start() == nil {
		return validationf(0, "Workflow must have a step named 'start'")
	}
	seen := make(map[string]bool, len(p.Workflow))
	for _, s := range p.Workflow {
		if seen[s.Name] {
			return validationf(s.Line, "Duplicate step name: %s", s.Name)
		}
		seen[s.Name] = true
	}
	for _, s := range p.Workflow {
		if err := p.validateStep(s); err != nil {
			return err
		}
	}
	for i, k := range p.Keychain {
		if strings.TrimSpace(k.Name) == "" {
			return validationf(k.Line, "keychain[%d]: 'name' is required", i)
		}
		switch k.Residency {
		case "", ResidencyNone, ResidencyAdvisory, ResidencyStrict:
		default:
			return validationf(k.Line, "keychain '%s': residency must be one of none, advisory, strict (got '%s')", k.Name, k.Residency)
		}
		// A provider no wallet backend serves would only fail when a step first reads the
		// entry, possibly hours into a run; a template is left for the wallet to judge.
		if p := strings.TrimSpace(k.Provider); p != "" && !strings.Contains(p, "{{") {
			if _, ok := keychainprovider.Canonical(p); !ok {
				return validationf(k.Line, "keychain '%s': unsupported provider '%s' (supported: %s)", k.Name, p, keychainprovider.Supported)
			}
		}
	}
	for i, w := range p.Workbook {
		if strings.TrimSpace(w.Name) == "" {
			return validationf(w.Line, "workbook[%d]: 'name' is required", i)
		}
		if w.Tool.Raw == nil {
			return validationf(w.Line, "workbook '%s': 'tool' is required", w.Name)
		}
		if err := validateKind(w.Tool.Kind, fmt.Sprintf("workbook '%s': tool", w.Name), w.Line); err != nil {
			return err
		}
	}
	if err := p.validateOnError(); err != nil {
		return err
	}
	if err := p.validateReserved(); err != nil {
		return err
	}
	if err := p.validateUnboundReads(); err != nil {
		return err
	}
	if err := p.validateTimeouts(); err != nil {
		return err
	}
	return p.validatePolicies()
}

// validateReserved refuses a step name, loop iterator, `set` key (step or arc; its first
// segment once ctx./iter./step. is dropped) or arc args key that is a name the template
// context binds itself (tmpl.Reserved): it would hide what every template reads, or be
// hidden by it, silently. Upstream has no such rule, so it runs after upstream's.
//
// A step name, a step's set key or a loop iterator that some templates bind over it
// (tmpl.Shadows: `output` in a step's set and next, the identifiers everywhere) is
// refused too: a step named output was read as the routing step's own result in every
// set and arc, and a ctx variable named path as the playbook's path, silently. An
// iterator may take an identifier's name (its tool reads the item), and an arc's args
// or set any of them: they are layers over the identifiers, for their target.
//
// A template keyword (tmpl.Keywords: none, true, and, ...) is refused the same way: `{{
// none }}` is the constant null whatever a step or key of that name holds, so such a
// name reads as nothing, silently.
func (p *Playbook) validateReserved() error {
	for _, s := range p.Workflow {
		why := reservedWhy(s.Name)
		if why == "" {
			why = shadowedWhy(s.Name)
		}
		if why != "" {
			return validationf(s.Line, "Step '%s': the step name '%s' %s", s.Name, s.Name, why)
		}
		if l := s.Loop; l != nil {
			why := reservedWhy(l.Iterator)
			if why == "" && !slices.Contains(tmpl.Identifiers[:], l.Iterator) {
				why = shadowedWhy(l.Iterator) // an iterator is bound over the identifiers
			}
			if why != "" {
				return validationf(s.Line, "Step '%s': loop.iterator '%s' %s", s.Name, l.Iterator, why)
			}
		}
		if k, why := reservedSetKey(s.Set, true); k != "" {
			return validationf(s.Line, "Step '%s': set key '%s' %s", s.Name, k, why)
		}
		n := s.Next
		if n == nil {
			continue
		}
		where := "next"
		if n.Shape == NextRouter {
			where = "next.arcs"
		}
		for i, a := range n.Arcs {
			if k, why := reservedSetKey(a.Set, false); k != "" {
				return validationf(a.Line, "Step '%s': %s[%d] set key '%s' %s", s.Name, where, i, k, why)
			}
			for _, k := range slices.Sorted(maps.Keys(a.Args)) {
				if why := reservedWhy(k); why != "" {
					return validationf(a.Line, "Step '%s': %s[%d] args key '%s' %s", s.Name, where, i, k, why)
				}
			}
		}
	}
	return nil
}

// validateUnboundReads refuses a template that reads a name nothing binds where it is
// evaluated, which then reads as undefined without a word:
//
//   - a step's `when` that reads `output` or `event`: it is evaluated when the step is
//     entered, before it runs, and only a step's set and next see them, once it ran, so
//     `when: "{{ output.ok }}"` skipped the step whatever the step before it returned;
//   - a step's tool, `input` or `loop.in` that reads `output`: they are rendered before
//     the step has a result (policy rules and a pipeline task's `set`, which read the
//     tool's result as output on the worker, are left out);
//   - a loop step's `when`, `set` or arc (`when`, `args`, `set`) that reads the step's
//     own loop variables (its iterator, _index, _total, iter): a step's when is evaluated
//     once, before the loop starts, and its set and arcs once, after it ends, so
//     `when: "{{ x != 2 }}"` meant as a filter ran every iteration, `{{ x > 1 }}`
//     skipped the whole step, and `args: {id: "{{ x.id }}"}` handed the next step nothing;
//   - any other step's template that reads a loop's iterator, or `iter` outside a loop:
//     they are bound only in the loop step's tool, one iteration at a time.
//
// A name that something else binds there (a workload key, a step, a key a step or policy
// rule `set` writes, an arc's `args` or `set` key that reaches the step's entry) is left
// alone: the template may mean that. Upstream has no such rule, so it runs after
// upstream's.
func (p *Playbook) validateUnboundReads() error {
	bound := map[string]bool{}
	for k := range p.WorkloadMap() {
		bound[k] = true
	}
	setKeys := func(bound map[string]bool, set map[string]any) {
		for k := range set {
			top, _, _ := strings.Cut(tmpl.SetKey(k), ".")
			bound[top] = true
		}
	}
	// A policy rule's `set`, anywhere in a step's tools, writes ctx too.
	var ruleSets func(v any)
	ruleSets = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				if set, ok := e.(map[string]any); ok && k == "set" {
					setKeys(bound, set)
				}
				ruleSets(e)
			}
		case []any:
			for _, e := range t {
				ruleSets(e)
			}
		}
	}
	for _, w := range p.Workbook {
		ruleSets(w.Tool.Raw)
	}
	for _, s := range p.Workflow {
		bound[s.Name] = true
		setKeys(bound, s.Set)
		ruleSets(s.Raw["tool"])
	}
	// An arc's layers reach its target's entry, and travel on through skipped steps; a
	// step's own arcs to other steps bind nothing for it. arcKeys counts the arcs that
	// bind each key, so that a step's own can be taken out.
	arcKeys := map[string]int{}
	arcsOf := func(s *Step, others bool, count map[string]int) {
		if s.Next == nil {
			return
		}
		for _, a := range s.Next.Arcs {
			if others && a.Step == s.Name {
				continue // a self-loop's layers reach the step itself
			}
			for k := range a.Set {
				top, _, _ := strings.Cut(tmpl.SetKey(k), ".")
				count[top]++
			}
			for k := range a.Args {
				count[k]++
			}
		}
	}
	for _, s := range p.Workflow {
		arcsOf(s, false, arcKeys)
	}
	loopOf := map[string]string{} // a loop iterator → the first loop step that binds it
	for _, s := range p.Workflow {
		if s.Loop != nil && loopOf[s.Loop.Iterator] == "" {
			loopOf[s.Loop.Iterator] = s.Name
		}
	}
	type read struct {
		where string
		line  int
		refs  tmpl.Refs
	}
	for _, s := range p.Workflow {
		own := map[string]int{}
		arcsOf(s, true, own)
		entry := func(name string) bool { return bound[name] || arcKeys[name] > own[name] }
		// What each of the step's templates reads; one that does not compile fails
		// where it is evaluated.
		var when tmpl.Refs
		if strings.TrimSpace(s.When) != "" && s.Name != "start" { // start's when is not evaluated
			when, _ = tmpl.ConditionRefs(s.When)
		}
		values := func(vs ...any) tmpl.Refs {
			refs := tmpl.Refs{}
			for _, v := range vs {
				if tmpl.ValueRefs(v, refs) != nil {
					return nil
				}
			}
			return refs
		}
		after := []read{{"set", s.Line, values(map[string]any(s.Set))}}
		if s.Next != nil {
			where := "next"
			if s.Next.Shape == NextRouter {
				where = "next.arcs"
			}
			for i, a := range s.Next.Arcs {
				refs, err := tmpl.ConditionRefs(a.When)
				if args := values(map[string]any(a.Args), map[string]any(a.Set)); err == nil && args != nil {
					args.Merge(refs)
					after = append(after, read{fmt.Sprintf("%s[%d]", where, i), a.Line, args})
				}
			}
		}
		if name := readsUnbound(when, []string{"output", "event"}, entry); name != "" {
			return validationf(s.Line, "Step '%s': when reads '%s', which a step's set and next see once the step ran; a step's when is evaluated when the step is entered, before it runs: read an earlier step by its name (such as {{ <step>.ok }}), or route with a when on the arc (next[].when)", s.Name, name)
		}
		var loopIn tmpl.Refs
		if l := s.Loop; l != nil && l.Literal != nil {
			loopIn = values(l.Literal)
		} else if l != nil && tmpl.HasTemplate(l.In) {
			loopIn, _ = tmpl.ConditionRefs(l.In)
		}
		for _, r := range []read{{"tool", s.Line, values(renderedTool(s)...)}, {"loop.in", s.Line, loopIn}} {
			if readsUnbound(r.refs, []string{"output"}, entry) != "" {
				return validationf(r.line, "Step '%s': %s reads 'output', which a step's set and next see once the step ran, and a policy rule and a pipeline task's set as the tool's result; read an earlier step by its name (such as {{ <step>.field }})", s.Name, r.where)
			}
		}
		// Another loop step's variables are bound only in that step's tool, and
		// _index, _total and iter only in a loop step's.
		all := append([]read{{"when", s.Line, when}, {"tool", s.Line, values(s.Tool.Config(), map[string]any(s.Input))}, {"loop.in", s.Line, loopIn}}, after...)
		// A pipeline's tasks bind their labels and their input (or args) keys for the
		// tasks after them, on the worker.
		tasks := map[string]bool{}
		for _, t := range s.Tool.Pipeline {
			tasks[t.Label] = true
			for _, k := range []string{"input", "args"} {
				if m, ok := t.Tool.Raw[k].(map[string]any); ok {
					for name := range m {
						tasks[name] = true
					}
				}
			}
		}
		for _, r := range all {
			for _, name := range slices.Sorted(maps.Keys(r.refs)) {
				owner := loopOf[name]
				if owner == "" || owner == s.Name || (s.Loop != nil && s.Loop.Iterator == name) || entry(name) || (r.where == "tool" && tasks[name]) {
					continue
				}
				return validationf(r.line, "Step '%s': %s reads '%s', the loop variable of step '%s', which only that step's tool binds, one iteration at a time; read its iterations' data in {{ %s.results }}", s.Name, r.where, name, owner, owner)
			}
			// _index and _total are not refused there: a child playbook called from a
			// loop gets them in its payload (docs/engine.md, "What a command carries").
			if s.Loop == nil {
				if name := readsUnbound(r.refs, []string{"iter"}, entry); name != "" {
					return validationf(r.line, "Step '%s': %s reads 'iter', which only a loop step's tool binds, one iteration at a time", s.Name, r.where)
				}
			}
		}
		if s.Loop == nil {
			continue
		}
		vars := []string{s.Loop.Iterator, "_index", "_total", "iter"}
		if name := readsUnbound(when, vars, entry); name != "" {
			return validationf(s.Line, "Step '%s': when reads the loop variable '%s', but a step's when is evaluated once, before its loop starts, where '%s' is not bound; to run only some iterations, filter the items in loop.in (such as \"{{ items | reject('equalto', 2) | list }}\")", s.Name, name, name)
		}
		for _, r := range after {
			if name := readsUnbound(r.refs, vars, entry); name != "" {
				return validationf(r.line, "Step '%s': %s reads the loop variable '%s', but a loop step's set and next are evaluated once, after its loop ends, where '%s' is not bound; read every iteration's data in {{ output.results }} (in index order), or move the per-item work into the loop's tool", s.Name, r.where, name, name)
			}
		}
	}
	return nil
}

// renderedTool is what of a step's tool and input is rendered without `output` and
// `event` bound: all but a tool's spec and eval (policy rules, which read the tool's
// result as output) and a pipeline task's set (which does too).
func renderedTool(s *Step) []any {
	without := func(raw map[string]any, keys ...string) map[string]any {
		m := maps.Clone(raw)
		for _, k := range keys {
			delete(m, k)
		}
		return m
	}
	out := []any{map[string]any(s.Input)}
	if t := s.Tool.Single; t != nil {
		return append(out, without(t.Raw, "spec", "eval"))
	}
	for _, t := range s.Tool.Pipeline {
		out = append(out, without(t.Tool.Raw, "spec", "eval", "set"))
	}
	return out
}

// readsUnbound is the first of names that refs read (as a name or as ctx.<name>) and
// bound does not hold, "" when there is none.
func readsUnbound(refs tmpl.Refs, names []string, bound func(string) bool) string {
	for _, name := range names {
		if bound(name) {
			continue
		}
		if _, reads := refs[name]; reads {
			return name
		}
		if c := refs["ctx"]; c != nil && c.Attrs[name] {
			return name
		}
	}
	return ""
}

// reservedWhy says why name cannot be a step, iterator or key name, "" when it can.
func reservedWhy(name string) string {
	switch {
	case tmpl.IsReserved(name):
		return "is reserved by the template context (" + strings.Join(tmpl.Reserved[:], ", ") + ")"
	case tmpl.IsKeyword(name):
		return fmt.Sprintf("is a template keyword: {{ %s }} never reads it (%s)", name, strings.Join(tmpl.Keywords[:], ", "))
	}
	return ""
}

// shadowedWhy says which templates bind name over a step or a ctx variable of that
// name (tmpl.Shadows), "" when none does.
func shadowedWhy(name string) string {
	if s, ok := tmpl.ShadowOf(name); ok {
		return fmt.Sprintf("is bound to %s: {{ %s }} does not read it there", s.Where, name)
	}
	return ""
}

// reservedSetKey is the first key of set (in sorted order, so the message is stable)
// that writes a reserved name or a keyword, or, when shadowed is set (a step's set, which
// writes ctx), a name some templates bind over ctx (tmpl.Shadows), and why; "" when none
// does. An arc's set is a layer of the entry, above the identifiers, so it may bind
// `path` for the target on purpose.
func reservedSetKey(set map[string]any, shadowed bool) (string, string) {
	for _, k := range slices.Sorted(maps.Keys(set)) {
		top, _, _ := strings.Cut(tmpl.SetKey(k), ".")
		why := reservedWhy(top)
		if why == "" && shadowed {
			why = shadowedWhy(top)
		}
		if why != "" {
			return k, why
		}
	}
	return "", ""
}

// validateOnError refuses an on_error the engine would not read: a value other than
// continue or fail, or the key anywhere but a step's spec. Upstream parses and ignores
// on_error, so these checks run after all of upstream's: a playbook upstream refuses
// gets upstream's message.
func (p *Playbook) validateOnError() error {
	for _, s := range p.Workflow {
		switch strings.ToLower(strings.TrimSpace(s.Spec.OnError)) {
		case "", OnErrorContinue, OnErrorFail:
		default:
			return validationf(s.Spec.onErrorLine, "Step '%s': spec.on_error must be '%s' or '%s' (got '%s')", s.Name, OnErrorContinue, OnErrorFail, s.Spec.OnError)
		}
	}
	if len(p.strayOnError) == 0 {
		return nil
	}
	k := p.strayOnError[0]
	where := ""
	if k.step != "" {
		where = fmt.Sprintf("Step '%s': ", k.step)
	}
	return validationf(k.line, "%s'on_error' is not allowed at %s: only a step's 'spec.on_error' is read (%s or %s)", where, describePath(k.path), OnErrorContinue, OnErrorFail)
}

func (p *Playbook) validateStep(s *Step) error {
	if !s.hasTool {
		return validationf(s.Line, "Step '%s': 'tool' is required (a routing-only step uses 'tool: {kind: noop}')", s.Name)
	}
	if s.Tool.IsPipeline() {
		if len(s.Tool.Pipeline) == 0 {
			return validationf(s.Line, "Step '%s': tool pipeline must have at least one task", s.Name)
		}
		for i, t := range s.Tool.Pipeline {
			if strings.HasPrefix(t.Label, "\x00bad:") {
				return validationf(t.Line, "Step '%s': pipeline task[%d] must have exactly one labeled entry (got %s)", s.Name, i, strings.TrimPrefix(t.Label, "\x00bad:"))
			}
			if err := validateKind(t.Tool.Kind, fmt.Sprintf("Step '%s': pipeline task[%d] '%s'", s.Name, i, t.Label), t.Line); err != nil {
				return err
			}
			if err := validateEval(t.Tool.Eval, fmt.Sprintf("Step '%s': tool[].%s.eval", s.Name, t.Label), t.Line); err != nil {
				return err
			}
		}
	} else {
		if err := validateKind(s.Tool.Single.Kind, fmt.Sprintf("Step '%s': tool", s.Name), s.Line); err != nil {
			return err
		}
		if err := validateEval(s.Tool.Single.Eval, fmt.Sprintf("Step '%s': eval", s.Name), s.Line); err != nil {
			return err
		}
	}
	if l := s.Loop; l != nil {
		if strings.TrimSpace(l.In) == "" && l.Literal == nil {
			// Upstream's wording, with what is wrong: its message ended in an empty expression.
			return validationf(s.Line, "Step '%s': loop.in has invalid expression: (empty; loop.in is required: a list, or a template that renders to one)", s.Name)
		}
		// A literal list or mapping is no expression: its JSON text has braces whenever
		// an item is an object (`in: [{id: 1}]`), which the check refused.
		if l.Literal == nil && !isValidExpression(l.In) {
			return validationf(s.Line, "Step '%s': loop.in has invalid expression: %s", s.Name, l.In)
		}
		if strings.TrimSpace(l.Iterator) == "" {
			return validationf(s.Line, "Step '%s': loop.iterator must not be empty", s.Name)
		}
		if l.Mode != LoopSequential && l.Mode != LoopParallel {
			return validationf(l.modeLine, "Step '%s': loop.spec.mode must be 'sequential' or 'parallel' (got '%s')", s.Name, l.Mode)
		}
	}
	if s.When != "" && !isValidExpression(s.When) {
		return validationf(s.Line, "Step '%s': invalid 'when' expression: %s", s.Name, s.When)
	}
	// An unknown routing mode used to route exclusively without a word (upstream does
	// so): `mode: all` meant as inclusive fired one arc. It is refused as loop.spec.mode is.
	if !isRoutingMode(s.Spec.NextMode) {
		return validationf(s.Line, "Step '%s': spec.next_mode must be 'exclusive' or 'inclusive' (got '%s')", s.Name, s.Spec.NextMode)
	}
	if n := s.Next; n != nil && n.Shape == NextRouter && !isRoutingMode(n.Mode) {
		return validationf(s.Line, "Step '%s': next.spec.mode must be 'exclusive' or 'inclusive' (got '%s')", s.Name, n.Mode)
	}
	if n := s.Next; n != nil {
		where, whenWhere := "next", "next[].when"
		if n.Shape == NextRouter {
			where, whenWhere = "next.arcs", "next.arcs[].when"
		}
		for i, a := range n.Arcs {
			if strings.TrimSpace(a.Step) == "" {
				return validationf(a.Line, "Step '%s': %s[%d] has no 'step' target", s.Name, where, i)
			}
			if p.Step(a.Step) == nil {
				return validationf(a.Line, "Step '%s' references unknown step '%s' in %s", s.Name, a.Step, where)
			}
			if _, has := a.Raw["when"]; has && !isValidExpression(a.When) {
				return validationf(a.Line, "Step '%s': %s has invalid expression: %s", s.Name, whenWhere, a.When)
			}
		}
	}
	return nil
}

// isRoutingMode reports whether mode is empty (the default) or names a routing mode in
// any case, as RoutingMode reads it.
func isRoutingMode(mode string) bool {
	mode = strings.TrimSpace(mode)
	return mode == "" || strings.EqualFold(mode, ModeExclusive) || strings.EqualFold(mode, ModeInclusive)
}

func validateKind(kind, where string, line int) error {
	if kind == "" {
		return validationf(line, "%s has no 'kind'", where)
	}
	if !slices.Contains(ToolKinds, kind) {
		return validationf(line, "%s has unknown kind '%s'. Valid: [%s]", where, kind, strings.Join(ToolKinds, ", "))
	}
	return nil
}

func validateEval(entries []EvalEntry, prefix string, line int) error {
	for i, e := range entries {
		if e.Else != nil {
			if !slices.Contains(EvalActions, e.Else.Do) {
				return validationf(line, "%s[%d] else has invalid action '%s'. Valid: %s", prefix, i, e.Else.Do, validActions)
			}
			continue
		}
		if _, has := e.Raw["expr"]; has && !isValidExpression(e.Expr) {
			return validationf(line, "%s[%d] has invalid expression: %s", prefix, i, e.Expr)
		}
		if !slices.Contains(EvalActions, e.Do) {
			return validationf(line, "%s[%d] has invalid action '%s'. Valid: %s", prefix, i, e.Do, validActions)
		}
	}
	return nil
}
