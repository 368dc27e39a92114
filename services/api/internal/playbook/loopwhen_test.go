package playbook

import "testing"

// A loop step's `when` is evaluated once, before the loop starts, where the loop's own
// variables are not bound: a `when` that reads them, meant as a per-item filter, ran
// every iteration or skipped the whole step without a word. Such a playbook is refused,
// naming the variable and the step's line; a name something else binds (a workload key,
// a step, a set key, an arc args key) is read as that and accepted.
func TestLoopWhenReadingItsIteratorIsRefused(t *testing.T) {
	t.Parallel()
	refused := func(step, name string) string {
		return "Step '" + step + "': when reads the loop variable '" + name + "', but a step's when is evaluated once, before its loop starts, where '" +
			name + "' is not bound; to run only some iterations, filter the items in loop.in (such as \"{{ items | reject('equalto', 2) | list }}\")"
	}
	loopStep := func(when string) string {
		return okStart + "    next: [each]\n  - step: each\n    when: \"" + when + "\"\n    loop: {in: [1, 2, 3], iterator: x}\n    tool: {kind: noop}\n"
	}
	cases := []validationCase{
		{"the iterator", pb(loopStep("{{ x != 2 }}")), refused("each", "x"), 10},
		{"the iterator as a bare expression", pb(loopStep("x > 1")), refused("each", "x"), 10},
		{"an attribute of the iterator", pb(loopStep("{{ x.enabled }}")), refused("each", "x"), 10},
		{"_index", pb(loopStep("{{ _index > 0 }}")), refused("each", "_index"), 10},

		{"other names", pb(loopStep("{{ workload.go and ctx.n | default(0) < 3 }}")), "", 0},
		{"a step of the iterator's name", pb(okStart + "    next: [x]\n  - step: x\n    tool: {kind: noop}\n    next: [each]\n" +
			"  - step: each\n    when: \"{{ x.ok }}\"\n    loop: {in: [1], iterator: x}\n    tool: {kind: noop}\n"), "", 0},
		{"a workload key of the iterator's name", "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t, path: t/t}\nworkload: {x: true}\nworkflow:\n" +
			loopStep("{{ x }}"), "", 0},
		{"a ctx key of the iterator's name", pb(okStart + "    set: {ctx.x: true}\n    next: [each]\n" +
			"  - step: each\n    when: \"{{ x }}\"\n    loop: {in: [1], iterator: x}\n    tool: {kind: noop}\n"), "", 0},
		{"a key a policy rule sets of the iterator's name", pb("  - step: start\n    tool:\n      kind: noop\n      spec:\n        policy:\n          rules:\n" +
			"            - when: \"{{ true }}\"\n              then: {do: continue, set: {ctx.x: true}}\n    next: [each]\n" +
			"  - step: each\n    when: \"{{ x }}\"\n    loop: {in: [1], iterator: x}\n    tool: {kind: noop}\n"), "", 0},
		{"an arc args key of the iterator's name", pb(okStart + "    next:\n      - step: each\n        args: {x: 1}\n" +
			"  - step: each\n    when: \"{{ x }}\"\n    loop: {in: [1], iterator: x}\n    tool: {kind: noop}\n"), "", 0},
		{"start's when, which is not evaluated", pb("  - step: start\n    when: \"{{ x }}\"\n    loop: {in: [1], iterator: x}\n    tool: {kind: noop}\n"), "", 0},
		{"a step without a loop", pb(okStart + "    next: [s]\n  - step: s\n    when: \"{{ x }}\"\n    tool: {kind: noop}\n"), "", 0},
	}
	checkValidationCases(t, cases)
}

// A loop step's `set` and arcs are evaluated once, after its loop ends, where the loop's
// own variables are not bound: `args: {id: "{{ x.id }}"}` handed the next step nothing
// and `set: {ctx.last: "{{ _index }}"}` wrote null, without a word. Such a playbook is
// refused, naming the variable, the step and the arc, with the line of the step (its
// set) or the arc. A name something else binds there is read as that and accepted: a
// workload key, a step, a set key, an arc's args or set into the loop step (not the loop
// step's own arcs to other steps, whose layers are for their targets).
func TestLoopSetAndArcsReadingItsIteratorAreRefused(t *testing.T) {
	t.Parallel()
	refused := func(step, where, name string) string {
		return "Step '" + step + "': " + where + " reads the loop variable '" + name + "', but a loop step's set and next are evaluated once, after its loop ends, where '" +
			name + "' is not bound; read every iteration's data in {{ output.results }} (in index order), or move the per-item work into the loop's tool"
	}
	loopStep := func(rest string) string {
		return pb(okStart + "    next: [each]\n  - step: each\n    loop: {in: [1, 2, 3], iterator: x}\n    tool: {kind: noop}\n" + rest +
			"  - step: end\n    tool: {kind: noop}\n")
	}
	cases := []validationCase{
		{"set reads the iterator", loopStep("    set: {ctx.last: \"{{ x }}\"}\n"), refused("each", "set", "x"), 10},
		{"set reads _total through ctx", loopStep("    set: {ctx.n: \"{{ ctx._total }}\"}\n"), refused("each", "set", "_total"), 10},
		{"set reads iter", loopStep("    set: {ctx.n: \"{{ iter._index }}\"}\n"), refused("each", "set", "iter"), 10},
		{"an arc's when reads _index", loopStep("    next:\n      - step: end\n        when: \"{{ _index == 2 }}\"\n"), refused("each", "next[0]", "_index"), 14},
		{"an arc's args read the iterator", loopStep("    next:\n      - step: end\n        args: {x: \"{{ x.id }}\"}\n"), refused("each", "next[0]", "x"), 14},
		{"a router arc's set reads the iterator", loopStep("    next:\n      spec: {mode: inclusive}\n      arcs:\n        - step: end\n        - step: end\n          set: {y: \"{{ x }}\"}\n"),
			refused("each", "next.arcs[1]", "x"), 17},

		{"set and arcs read the results", loopStep("    set: {ctx.n: \"{{ output.stats.total }}\"}\n    next:\n      - step: end\n        when: \"{{ each.results | length == 3 }}\"\n        args: {xs: \"{{ output.results }}\"}\n"), "", 0},
		{"a workload key of the iterator's name", "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t, path: t/t}\nworkload: {x: 1}\nworkflow:\n" +
			okStart + "    next: [each]\n  - step: each\n    loop: {in: [1], iterator: x}\n    tool: {kind: noop}\n    set: {ctx.last: \"{{ x }}\"}\n", "", 0},
		{"an arc's args into the loop step", pb(okStart + "    next:\n      - step: each\n        args: {x: 1}\n  - step: each\n    loop: {in: [1], iterator: x}\n    tool: {kind: noop}\n" +
			"    next:\n      - step: end\n        when: \"{{ x == 1 }}\"\n  - step: end\n    tool: {kind: noop}\n"), "", 0},
		{"a self-loop's args", pb(okStart + "    next: [each]\n  - step: each\n    loop: {in: [1], iterator: x}\n    tool: {kind: noop}\n" +
			"    next:\n      - step: each\n        when: \"{{ x | default(0) < 3 }}\"\n        args: {x: \"{{ x | default(0) + 1 }}\"}\n"), "", 0},
		{"a ctx key of the iterator's name", pb(okStart + "    set: {ctx.x: 0}\n    next: [each]\n  - step: each\n    loop: {in: [1], iterator: x}\n    tool: {kind: noop}\n" +
			"    next:\n      - step: end\n        args: {x: \"{{ x }}\"}\n  - step: end\n    tool: {kind: noop}\n"), "", 0},
		{"a step without a loop", pb(okStart + "    next: [s]\n  - step: s\n    tool: {kind: noop}\n    set: {ctx.v: \"{{ x }}\"}\n"), "", 0},
	}
	checkValidationCases(t, cases)
}

// A step's `when` is evaluated when the step is entered, before it runs: `output` and
// `event` are bound only in a step's set and next, once it ran, so `when: "{{ output.ok
// }}"` (meant as the previous step's result) skipped the step whatever that step
// returned, without a word. Such a playbook is refused; a name something else binds at
// the entry (an arc's args into the step, a workload key) is read as that.
func TestStepWhenReadingOutputOrEventIsRefused(t *testing.T) {
	t.Parallel()
	refused := func(step, name string) string {
		return "Step '" + step + "': when reads '" + name + "', which a step's set and next see once the step ran; a step's when is evaluated when the step is entered, before it runs: " +
			"read an earlier step by its name (such as {{ <step>.ok }}), or route with a when on the arc (next[].when)"
	}
	guarded := func(when string) string {
		return pb(okStart + "    next: [b]\n  - step: b\n    when: \"" + when + "\"\n    tool: {kind: noop}\n")
	}
	cases := []validationCase{
		{"output", guarded("{{ output.ok }}"), refused("b", "output"), 10},
		{"output as a bare expression", guarded("output is defined"), refused("b", "output"), 10},
		{"event", guarded("{{ event.name == 'call.done' }}"), refused("b", "event"), 10},
		{"ctx.output", guarded("{{ ctx.output }}"), refused("b", "output"), 10},
		{"a loop step's when", pb(okStart + "    next: [b]\n  - step: b\n    when: \"{{ output.ok }}\"\n    loop: {in: [1], iterator: x}\n    tool: {kind: noop}\n"), refused("b", "output"), 10},

		{"an earlier step", guarded("{{ start.ok and start.output is defined }}"), "", 0},
		{"an arc's args into the step", pb(okStart + "    next:\n      - step: b\n        args: {output: 1}\n  - step: b\n    when: \"{{ output == 1 }}\"\n    tool: {kind: noop}\n"), "", 0},
		{"start's when, which is not evaluated", pb("  - step: start\n    when: \"{{ output.ok }}\"\n    tool: {kind: noop}\n"), "", 0},
		{"an arc's when", pb(okStart + "    next:\n      - step: b\n        when: \"{{ output.ok and event.name == 'call.done' }}\"\n  - step: b\n    tool: {kind: noop}\n"), "", 0},
	}
	checkValidationCases(t, cases)
}

// A loop's iterator is bound only in its own step's tool, one iteration at a time, and
// iter only in a loop step's: another step that reads them (a step after the loop that
// meant the last item) read undefined, without a word. Such a playbook is refused,
// naming the loop step, unless something else binds the name there. _index and _total
// stay readable: a child playbook called from a loop gets them in its payload.
func TestOtherLoopsVariablesAreRefused(t *testing.T) {
	t.Parallel()
	refused := func(step, where, name, owner string) string {
		return "Step '" + step + "': " + where + " reads '" + name + "', the loop variable of step '" + owner + "', which only that step's tool binds, one iteration at a time; read its iterations' data in {{ " + owner + ".results }}"
	}
	after := func(rest string) string {
		return pb(okStart + "    next: [each]\n  - step: each\n    loop: {in: [1, 2], iterator: row}\n    tool: {kind: noop}\n    next: [end]\n  - step: end\n" + rest)
	}
	cases := []validationCase{
		{"a later step's tool", after("    tool: {kind: noop, result: {id: \"{{ row.id }}\"}}\n"), refused("end", "tool", "row", "each"), 14},
		{"a later step's step input", after("    tool: {kind: noop}\n    input: {id: \"{{ row }}\"}\n"), refused("end", "tool", "row", "each"), 14},
		{"a later step's arc", after("    tool: {kind: noop}\n    next:\n      - step: start\n        when: \"{{ row == 2 }}\"\n"), refused("end", "next[0]", "row", "each"), 17},
		{"another loop's loop.in", after("    loop: {in: \"{{ [row] }}\", iterator: v}\n    tool: {kind: noop}\n"), refused("end", "loop.in", "row", "each"), 14},
		{"iter outside a loop", after("    tool: {kind: noop}\n    set: {ctx.i: \"{{ iter.row }}\"}\n"),
			"Step 'end': set reads 'iter', which only a loop step's tool binds, one iteration at a time", 14},

		{"_index and _total outside a loop (a child's payload)", after("    tool: {kind: noop, result: {i: \"{{ _index }} of {{ _total }}\"}}\n"), "", 0},
		{"a pipeline task's label and input", after("    tool:\n      - row: {kind: noop, result: {id: 1}}\n      - b: {kind: noop, input: {x: \"{{ row.id }}\"}, result: {x: \"{{ x }}\"}}\n"), "", 0},
		{"two loops with one iterator name", after("    loop: {in: [3], iterator: row}\n    tool: {kind: noop, result: {r: \"{{ row }}\"}}\n"), "", 0},
		{"an arc's args into the step", pb(okStart + "    next: [each]\n  - step: each\n    loop: {in: [1, 2], iterator: row}\n    tool: {kind: noop}\n" +
			"    next:\n      - step: end\n        args: {row: \"{{ output.results[-1] }}\"}\n  - step: end\n    tool: {kind: noop, result: {r: \"{{ row }}\"}}\n"), "", 0},
		{"a workload key of the iterator's name", "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t, path: t/t}\nworkload: {row: 1}\nworkflow:\n" +
			okStart + "    next: [each]\n  - step: each\n    loop: {in: [1], iterator: row}\n    tool: {kind: noop}\n    next: [end]\n  - step: end\n    tool: {kind: noop, result: {r: \"{{ row }}\"}}\n", "", 0},
	}
	checkValidationCases(t, cases)
}

// A step's tool and loop.in are rendered before the step has a result: `output` is not
// bound there (only in its set and next, and as the tool's result in a policy rule and a
// pipeline task's set), so `url: "{{ output.next }}"`, meant as the previous step's
// result, rendered as nothing, without a word. Refused, unless something else binds
// the name at the entry.
func TestToolReadingOutputIsRefused(t *testing.T) {
	t.Parallel()
	refused := func(where string) string {
		return "Step 'b': " + where + " reads 'output', which a step's set and next see once the step ran, and a policy rule and a pipeline task's set as the tool's result; read an earlier step by its name (such as {{ <step>.field }})"
	}
	b := func(rest string) string { return pb(okStart + "    next: [b]\n  - step: b\n" + rest) }
	cases := []validationCase{
		{"a tool field", b("    tool: {kind: http, url: \"{{ output.next }}\"}\n"), refused("tool"), 10},
		{"step input", b("    tool: {kind: noop}\n    input: {v: \"{{ output }}\"}\n"), refused("tool"), 10},
		{"a pipeline task's args", b("    tool:\n      - a: {kind: noop, args: {v: \"{{ output.v }}\"}}\n"), refused("tool"), 10},
		{"loop.in", b("    loop: {in: \"{{ output.items }}\", iterator: x}\n    tool: {kind: noop}\n"), refused("loop.in"), 10},

		{"a policy rule and a pipeline task's set", b("    tool:\n      - a:\n          kind: noop\n          set: {v: \"{{ output.v }}\"}\n" +
			"          spec: {policy: {rules: [{when: \"{{ output.status == 'error' }}\", then: {do: retry}}]}}\n"), "", 0},
		{"a single tool's policy rule", b("    tool:\n      kind: noop\n      spec: {policy: {rules: [{when: \"{{ output.status == 'error' }}\", then: {do: retry}}]}}\n"), "", 0},
		{"an arc's args into the step", pb(okStart + "    next:\n      - step: b\n        args: {output: \"{{ output }}\"}\n  - step: b\n    tool: {kind: noop, result: \"{{ output }}\"}\n"), "", 0},
	}
	checkValidationCases(t, cases)
}
