package engine

import "fmt"
import "strings"
import "testing"

// Shapes of the third engine hunt, run by the in-memory harness with its scripted
// worker: what `loop.in` may render to, a capped parallel loop of pipelines, cancel
// during a loop, a router none of whose arcs holds, a 500-branch fan-in and a
// 2,000-step skip chain.
func TestHunt3Shapes(t *testing.T) {
	t.Parallel()
	loopOf := func(in string) string {
		return playbookOf("hunt3_loop_in",
			"  - step: start\n    tool: {kind: noop}\n    next: [each]\n",
			"  - step: each\n    loop: {in: "+in+", iterator: x}\n    tool: {kind: noop, result: {x: \"{{ x }}\"}}\n    next: [end]\n",
			"  - step: end\n    tool: {kind: noop, result: {xs: \"{{ each.results | map(attribute='x') | list }}\"}}\n")
	}
	var fan strings.Builder
	var branches []string
	for i := range 500 {
		branches = append(branches, fmt.Sprintf("b%d", i))
	}
	fan.WriteString(step("start", branches))
	for _, b := range branches {
		fan.WriteString(step(b, []string{"join"}, "set: {ctx.seen."+b+": true}"))
	}
	fan.WriteString(resultStep("join", `{n: "{{ ctx.seen | length }}"}`, nil))
	var chain strings.Builder
	chain.WriteString(step("start", []string{"c1"}))
	for i := 1; i < 2000; i++ {
		chain.WriteString(step(fmt.Sprintf("c%d", i), []string{fmt.Sprintf("c%d", i+1)}, `when: "{{ false }}"`))
	}
	chain.WriteString(resultStep("c2000", `{done: true}`, nil))

	cases := []struct {
		name, src string
		run       expectedRun
		want      map[string]any
	}{
		// docs/engine.md, "Loops": the table of what loop.in renders to.
		{name: "loop over an object: key/value pairs in key order", src: loopOf(`"{{ {'b': 2, 'a': 1} }}"`),
			want: map[string]any{"status": StatusCompleted, "outputs": map[string]any{"end": map[string]any{"xs": []any{
				map[string]any{"key": "a", "value": 1}, map[string]any{"key": "b", "value": 2}}}}}},
		{name: "loop over a comma-separated string", src: loopOf(`" x, y ,z "`),
			want: map[string]any{"status": StatusCompleted, "outputs": map[string]any{"end": map[string]any{"xs": []any{"x", "y", "z"}}}}},
		{name: "loop over a JSON array in a string", src: loopOf(`"{{ '[1, \"two\"]' }}"`),
			want: map[string]any{"status": StatusCompleted, "outputs": map[string]any{"end": map[string]any{"xs": []any{1, "two"}}}}},
		{name: "loop over a JSON object in a string: its pairs", src: loopOf(`"{{ '{\"b\": 2, \"a\": [1]}' }}"`),
			want: map[string]any{"status": StatusCompleted, "outputs": map[string]any{"end": map[string]any{"xs": []any{
				map[string]any{"key": "a", "value": []any{1}}, map[string]any{"key": "b", "value": 2}}}}}},
		{name: "loop over text that only starts like JSON: its comma-separated parts", src: loopOf(`"{{ '{a, b' }}"`),
			want: map[string]any{"status": StatusCompleted, "outputs": map[string]any{"end": map[string]any{"xs": []any{"{a", "b"}}}}},
		{
			// A literal YAML list whose items are templates: each item renders on its
			// own, keeping its type, whatever quotes or commas its value holds.
			name: "loop over a literal list of templates",
			src: "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: hunt3_literal_in, path: tests/hunt3_literal_in}\n" +
				"workload: {name: 'O\"Brien, Pat', obj: {k: 1}}\nworkflow:\n" +
				"  - step: start\n    tool: {kind: noop}\n    next: [each]\n" +
				"  - step: each\n    loop: {in: [\"{{ workload.name }}\", \"{{ workload.obj }}\", {n: \"{{ workload.obj.k + 1 }}\"}, 4], iterator: x}\n" +
				"    tool: {kind: noop, result: {x: \"{{ x }}\"}}\n    next: [end]\n" +
				"  - step: end\n    tool: {kind: noop, result: {xs: \"{{ each.results | map(attribute='x') | list }}\"}}\n",
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"each": 4},
				"outputs": map[string]any{"end": map[string]any{"xs": []any{
					`O"Brien, Pat`, map[string]any{"k": 1}, map[string]any{"n": 2}, 4}}}},
		},
		{name: "loop over an empty string completes at once", src: loopOf(`"{{ '' }}"`),
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"each": 0, "end": 1},
				"outputs": map[string]any{"end": map[string]any{"xs": []any{}}}}},
		{name: "loop over a negative number completes at once", src: loopOf(`"{{ -3 }}"`),
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"each": 0, "end": 1}}},
		{name: "loop over null fails the step", src: loopOf(`"{{ workload.missing }}"`),
			want: map[string]any{"status": StatusFailed, "not_run": []any{"each", "end"},
				"error_contains": "did not evaluate to an iterable (got null)"}},
		{name: "loop over a boolean fails the step", src: loopOf(`"{{ true }}"`),
			want: map[string]any{"status": StatusFailed, "not_run": []any{"each", "end"},
				"error_contains": "did not evaluate to an iterable (got bool)"}},
		{
			// A capped parallel loop whose tool is a pipeline: never more than the cap
			// in flight, and each iteration's data flattened in task order with the
			// labelled keys kept.
			name: "a capped parallel loop of pipelines",
			src: playbookOf("hunt3_capped_pipelines",
				"  - step: start\n    tool: {kind: noop}\n    next: [each]\n",
				"  - step: each\n    loop: {in: \"{{ range(7) | list }}\", iterator: n, spec: {mode: parallel, max_in_flight: 2}}\n"+
					"    tool:\n      - a: {kind: noop, result: {n: \"{{ n }}\", from: a}}\n      - b: {kind: noop, result: {from: b}}\n    next: [end]\n",
				"  - step: end\n    tool: {kind: noop, result: {ns: \"{{ each.results | map(attribute='n') | list }}\", "+
					"froms: \"{{ each.results | map(attribute='from') | unique | list }}\", a0: \"{{ each.results[0].a.from }}\"}}\n"),
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"each": 7},
				"peak_in_flight": map[string]any{"each": 2},
				"outputs":        map[string]any{"end": map[string]any{"ns": []any{0, 1, 2, 3, 4, 5, 6}, "froms": []any{"b"}, "a0": "a"}}},
		},
		{
			// Cancel while a parallel loop runs: what is out is closed, nothing more
			// is issued, and the loop's step ends cancelled.
			name: "cancel during a parallel loop",
			src: playbookOf("hunt3_cancel_loop",
				"  - step: start\n    tool: {kind: noop}\n    next: [each]\n",
				"  - step: each\n    loop: {in: \"{{ range(10) | list }}\", iterator: n, spec: {mode: parallel, max_in_flight: 3}}\n    tool: {kind: noop}\n    next: [end]\n",
				"  - step: end\n    tool: {kind: noop}\n"),
			run:  expectedRun{CancelWhenRunning: "each"},
			want: map[string]any{"status": StatusCancelled, "commands": map[string]any{"each": 3}, "not_run": []any{"end"}},
		},
		{
			// An exclusive router none of whose arcs holds ends its branch: its
			// targets are marked not taken, and the run completes (docs/engine.md,
			// "Routing a finished step").
			name: "a router none of whose arcs holds",
			src: playbookOf("hunt3_no_arc",
				"  - step: start\n    tool: {kind: noop}\n    next:\n      spec: {mode: exclusive}\n      arcs:\n"+
					"        - step: small\n          when: \"{{ 5 < 2 }}\"\n        - step: medium\n          when: \"{{ 5 < 4 }}\"\n",
				"  - step: small\n    tool: {kind: noop}\n",
				"  - step: medium\n    tool: {kind: noop}\n"),
			want: map[string]any{"status": StatusCompleted, "not_run": []any{"small", "medium"}, "skipped": []any{"small", "medium"},
				"decisions": []any{"step.enter start", "command.issued start", "command.completed start",
					"step.skipped small", "step.skipped medium", "playbook.completed"}},
		},
		{
			// Arcs read the step's own result as output, as its set does: a tool's
			// data, a loop's aggregate, a failure continued past.
			name: "arcs read the step's result as output",
			src: playbookOf("hunt3_arc_output",
				"  - step: start\n    tool: {kind: noop, result: {ok: true, v: 7}}\n    next:\n"+
					"      - step: each\n        when: \"{{ output.ok and output.data.v == 7 }}\"\n        args: {v: \"{{ output.v }}\"}\n"+
					"      - step: wrong\n",
				"  - step: each\n    loop: {in: \"{{ [v, v + 1] }}\", iterator: x}\n    tool: {kind: noop, result: {x: \"{{ x }}\"}}\n    next:\n"+
					"      - step: flaky\n        when: \"{{ output.stats.success == 2 and output.results[1].x == 8 }}\"\n      - step: wrong\n",
				"  - step: flaky\n    spec: {on_error: continue}\n    tool: {kind: noop}\n    next:\n"+
					"      - step: end\n        when: \"{{ output.status == 'error' }}\"\n        args: {why: \"{{ output.error }}\"}\n      - step: wrong\n",
				"  - step: end\n    tool: {kind: noop, result: {why: \"{{ why }}\"}}\n",
				"  - step: wrong\n    tool: {kind: noop}\n"),
			run: expectedRun{Worker: map[string]map[string]any{"flaky": {"status": "error", "error": "kaput"}}},
			want: map[string]any{"status": StatusCompleted, "not_run": []any{"wrong"}, "commands": map[string]any{"each": 2, "end": 1},
				"outputs": map[string]any{"end": map[string]any{"why": "kaput"}}},
		},
		{
			// 500 branches into one join: the join runs once, after every branch's set.
			name: "a 500-branch fan-in", src: playbookOf("hunt3_fan_in", fan.String()),
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"join": 1, "b0": 1, "b499": 1},
				"outputs": map[string]any{"join": map[string]any{"n": 500}}},
		},
		{
			// A chain of 1,999 skipped steps is one pass well within the work bound,
			// and the step after it runs.
			name: "a 2,000-step skip chain", src: playbookOf("hunt3_skip_chain", chain.String()),
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"start": 1, "c1": 0, "c1999": 0, "c2000": 1}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runSim(t, mustParse(t, tc.src), tc.run)
			judge(t, r, tc.want)
		})
	}
}
