package playbook

import "testing"

// The names the template context binds itself (tmpl.Reserved: ctx, steps, workload,
// event) cannot be a step's name, a loop's iterator, a `set` key or an arc's args key:
// such a name would hide what every template reads (a step named ctx takes `{{ ctx.k }}`
// away from the whole playbook) or be hidden by it, without a word. The playbook is
// refused, naming the offender and its line.
func TestReservedNamesAreRefused(t *testing.T) {
	t.Parallel()
	reserved := "is reserved by the template context (ctx, steps, workload, event)"
	cases := []validationCase{
		{"a step named ctx", pb(okStart + "  - step: ctx\n    tool: {kind: noop}\n"),
			"Step 'ctx': the step name 'ctx' " + reserved, 9},
		{"a step named event", pb("  - step: start\n    tool: {kind: noop}\n    next: [event]\n  - step: event\n    tool: {kind: noop}\n"),
			"Step 'event': the step name 'event' " + reserved, 10},
		{"an iterator named workload", pb("  - step: start\n    loop: {in: \"{{ [1] }}\", iterator: workload}\n    tool: {kind: noop}\n"),
			"Step 'start': loop.iterator 'workload' " + reserved, 7},
		{"a step set key steps", pb("  - step: start\n    tool: {kind: noop}\n    set:\n      steps: 1\n"),
			"Step 'start': set key 'steps' " + reserved, 7},
		{"a step set key ctx.event", pb("  - step: start\n    tool: {kind: noop}\n    set:\n      ctx.event: 1\n"),
			"Step 'start': set key 'ctx.event' " + reserved, 7},
		{"a nested step set key ctx.workload.x", pb("  - step: start\n    tool: {kind: noop}\n    set:\n      ctx.workload.x: 1\n"),
			"Step 'start': set key 'ctx.workload.x' " + reserved, 7},
		{"a step set key ctx.ctx", pb("  - step: start\n    tool: {kind: noop}\n    set:\n      ctx.ctx: 1\n"),
			"Step 'start': set key 'ctx.ctx' " + reserved, 7},
		{"an arc set key", pb("  - step: start\n    tool: {kind: noop}\n    next:\n      - step: start\n        set: {iter.workload: 1}\n"),
			"Step 'start': next[0] set key 'iter.workload' " + reserved, 10},
		{"an arc args key", pb("  - step: start\n    tool: {kind: noop}\n    next:\n      arcs:\n        - step: start\n          args: {event: x}\n"),
			"Step 'start': next.arcs[0] args key 'event' " + reserved, 11},
		// A keyword is no name: {{ none }} is null, {{ in }} does not parse, whatever
		// the context holds under that name.
		{"a step named none", pb(okStart + "  - step: none\n    tool: {kind: noop}\n"),
			"Step 'none': the step name 'none' " + keyword("none"), 9},
		{"an iterator named None", pb("  - step: start\n    loop: {in: \"{{ [1] }}\", iterator: None}\n    tool: {kind: noop}\n"),
			"Step 'start': loop.iterator 'None' " + keyword("None"), 7},
		{"a step set key ctx.false", pb("  - step: start\n    tool: {kind: noop}\n    set:\n      ctx.false: 1\n"),
			"Step 'start': set key 'ctx.false' " + keyword("false"), 7},
		{"an arc args key in", pb("  - step: start\n    tool: {kind: noop}\n    next:\n      - step: start\n        args: {in: 1}\n"),
			"Step 'start': next[0] args key 'in' " + keyword("in"), 10},
		{"an arc set key if", pb("  - step: start\n    tool: {kind: noop}\n    next:\n      arcs:\n        - step: start\n          set: {if: 1}\n"),
			"Step 'start': next.arcs[0] set key 'if' " + keyword("if"), 11},
		{"names that only start like a keyword", pb("  - step: start\n    tool: {kind: noop}\n    set: {ctx.nones: 1, ctx.cfg.none: 2, ctx.index: 3, ctx.is_ok: 4}\n    next:\n      - step: start\n        args: {iffy: 1, truex: 2}\n"), "", 0},

		{"names that only start like one", pb("  - step: start\n    loop: {in: \"{{ [1] }}\", iterator: events}\n    tool: {kind: noop}\n    set: {ctx.ctx_count: 1, ctx.stepsize: 2, ctx.cfg.event: 3}\n    next:\n      - step: start\n        args: {workloads: 1, context: 2}\n"), "", 0},
	}
	checkValidationCases(t, cases)
}

// Some templates bind a name over the step results and ctx variables of that name
// (tmpl.Shadows): `output` in every step's set and next, the execution's identifiers in
// every template, the iteration's variables in a loop's tool, and the worker's own. A
// step named output was read, in every set and arc, as the routing step's result, and a
// ctx variable named path as the playbook's path, without a word. A step name, a step
// set key or a loop iterator of such a name is refused; an iterator may take an
// identifier's name, and an arc's args and set any of them: they are layers over the
// identifiers, bound for their target on purpose.
func TestShadowedNamesAreRefused(t *testing.T) {
	t.Parallel()
	output := "is bound to the step's own result in its set and next, and the tool's result in a policy rule and a pipeline task's set: {{ output }} does not read it there"
	cases := []validationCase{
		{"a step named output", pb(okStart + "  - step: output\n    tool: {kind: noop}\n"),
			"Step 'output': the step name 'output' " + output, 9},
		{"a step named path", pb(okStart + "  - step: path\n    tool: {kind: noop}\n"),
			"Step 'path': the step name 'path' is bound to the playbook's path in every template: {{ path }} does not read it there", 9},
		{"a step named _index", pb(okStart + "  - step: _index\n    tool: {kind: noop}\n"),
			"Step '_index': the step name '_index' is bound to the iteration's index in a loop step's tool: {{ _index }} does not read it there", 9},
		{"a step set key ctx.version", pb("  - step: start\n    tool: {kind: noop}\n    set: {ctx.version: 2}\n"),
			"Step 'start': set key 'ctx.version' is bound to the playbook's version in every template: {{ version }} does not read it there", 7},
		{"a nested step set key output.x", pb("  - step: start\n    tool: {kind: noop}\n    set: {output.x: 2}\n"),
			"Step 'start': set key 'output.x' " + output, 7},
		{"an iterator named iter", pb("  - step: start\n    loop: {in: [1], iterator: iter}\n    tool: {kind: noop}\n"),
			"Step 'start': loop.iterator 'iter' is bound to the iteration's variables in a loop step's tool: {{ iter }} does not read it there", 7},
		{"an iterator named output", pb("  - step: start\n    loop: {in: [1], iterator: output}\n    tool: {kind: noop}\n"),
			"Step 'start': loop.iterator 'output' " + output, 7},

		{"an iterator named path, an arc's args and set of shadowed names", pb("  - step: start\n    loop: {in: [a], iterator: path}\n    tool: {kind: noop}\n" +
			"    next:\n      - step: end\n        args: {path: x, output: y}\n        set: {ctx.version: 1}\n  - step: end\n    tool: {kind: noop}\n"), "", 0},
		{"names that only start like one", pb("  - step: start\n    tool: {kind: noop}\n    set: {ctx.outputs: 1, ctx.cfg.path: 2, ctx.index: 3}\n    next: [paths]\n" +
			"  - step: paths\n    loop: {in: [1], iterator: iters}\n    tool: {kind: noop}\n"), "", 0},
	}
	checkValidationCases(t, cases)
}

// keyword is the reason a keyword is refused as a name.
func keyword(name string) string {
	return "is a template keyword: {{ " + name + " }} never reads it (true, True, false, False, none, None, and, or, not, in, is, if, else)"
}
