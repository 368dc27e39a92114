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
	cases := []struct {
		name, src, msg string
		line           int
	}{
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
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, c.src, c.msg, c.line)
		})
	}
}
