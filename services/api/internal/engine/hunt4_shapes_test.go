package engine

import "fmt"
import "testing"

import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/tmpl"

// Shapes of the fourth engine hunt, run by the in-memory harness with its scripted
// worker: loops over objects, literal loop lists, on_error routes out of a loop, joins
// after a loop, empty loops, big loops, loops in cycles.
func TestHunt4Shapes(t *testing.T) {
	t.Parallel()
	hdr := "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: hunt4, path: tests/hunt4}\n"
	cases := []struct {
		name, src string
		run       expectedRun
		want      map[string]any
	}{
		{
			// A literal loop.in list whose items are objects, and a literal mapping:
			// their JSON text has braces, which the expression check refused.
			name: "a literal list of objects and a literal mapping",
			src: hdr + `workflow:
  - step: start
    tool: {kind: noop}
    next: [rows]
  - step: rows
    loop: {in: [{id: 1, tags: [a]}, {id: 2, tags: []}], iterator: row}
    tool: {kind: noop, result: {id: "{{ row.id }}", n: "{{ row.tags | length }}"}}
    next: [pairs]
  - step: pairs
    loop: {in: {b: 2, a: 1}, iterator: p}
    tool: {kind: noop, result: {k: "{{ p.key }}", v: "{{ p.value }}"}}
    next: [end]
  - step: end
    tool: {kind: noop, result: {rows: "{{ rows.results }}", pairs: "{{ pairs.results }}"}}
`,
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"rows": 2, "pairs": 2},
				"outputs": map[string]any{"end": map[string]any{
					"rows":  []any{map[string]any{"id": 1, "n": 1}, map[string]any{"id": 2, "n": 0}},
					"pairs": []any{map[string]any{"k": "a", "v": 1}, map[string]any{"k": "b", "v": 2}}}}},
		},
		{
			// A loop over a workload list of objects: each iteration reads its item's
			// fields, _index, _total and iter; the step's set and a later step read the
			// results in index order.
			name: "a loop over objects",
			src: hdr + `workload:
  users: [{id: 1, name: a, tags: [x]}, {id: 2, name: b, tags: []}]
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop: {in: "{{ workload.users }}", iterator: u, spec: {mode: parallel}}
    tool: {kind: noop, result: {id: "{{ u.id }}", n: "{{ u.tags | length }}", i: "{{ _index }}", t: "{{ _total }}", it: "{{ iter.u.name }}"}}
    set: {ctx.ids: "{{ output.results | map(attribute='id') | list }}"}
    next: [end]
  - step: end
    tool: {kind: noop, result: {ids: "{{ ids }}", r: "{{ each.results }}"}}
`,
			want: map[string]any{"status": StatusCompleted, "outputs": map[string]any{"end": map[string]any{"ids": []any{1, 2},
				"r": []any{map[string]any{"id": 1, "n": 1, "i": 0, "t": 2, "it": "a"}, map[string]any{"id": 2, "n": 0, "i": 1, "t": 2, "it": "b"}}}}},
		},
		{
			// An empty loop completes at once; its set and arcs see {results: [],
			// stats.total: 0} and event.name loop.done.
			name: "an empty loop routes on its empty results",
			src: hdr + `workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop: {in: "{{ [] }}", iterator: u}
    tool: {kind: noop}
    set: {ctx.n: "{{ output.stats.total }}"}
    next:
      - step: nothing
        when: "{{ output.results == [] and event.name == 'loop.done' }}"
        args: {n: "{{ n }}"}
      - step: something
  - step: nothing
    tool: {kind: noop, result: {n: "{{ n }}"}}
  - step: something
    tool: {kind: noop}
`,
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"each": 0}, "not_run": []any{"something"},
				"outputs": map[string]any{"nothing": map[string]any{"n": 0}}},
		},
		{
			// A loop and a sibling into a join: the join waits for the loop's last
			// iteration, whichever branch ends last.
			name: "a join after a loop that finishes last",
			src: hdr + `workflow:
  - step: start
    tool: {kind: noop}
    next: [each, side]
  - step: each
    loop: {in: [1, 2, 3], iterator: x, spec: {mode: parallel}}
    tool: {kind: noop, result: {x: "{{ x }}"}}
    next: [join]
  - step: side
    tool: {kind: noop, result: {s: 1}}
    next: [join]
  - step: join
    tool: {kind: noop, result: {xs: "{{ each.results | map(attribute='x') | list }}", s: "{{ side.s }}"}}
`,
			run: expectedRun{Worker: map[string]map[string]any{"each": {"after": "side"}}},
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"join": 1}, "before": []any{[]any{"each", "join"}},
				"outputs": map[string]any{"join": map[string]any{"xs": []any{1, 2, 3}, "s": 1}}},
		},
		{
			// Under spec.on_error: continue, failed iterations are results with
			// status error; the step's arcs route on its stats and pass the errors on.
			name: "on_error routes out of a loop with failed iterations",
			src: hdr + `workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    spec: {on_error: continue}
    loop: {in: [1, 2, 3, 4], iterator: x, spec: {mode: parallel, max_in_flight: 2}}
    tool: {kind: noop, result: {x: "{{ x }}"}}
    set: {ctx.failed: "{{ output.results | selectattr('status', 'equalto', 'error') | list | length }}"}
    next:
      - step: some_failed
        when: "{{ output.stats.failed > 0 }}"
        args: {bad: "{{ output.results | selectattr('status', 'equalto', 'error') | map(attribute='error') | list }}"}
      - step: all_ok
  - step: some_failed
    tool: {kind: noop, result: {bad: "{{ bad }}", f: "{{ failed }}", ok: "{{ each.results | rejectattr('status') | map(attribute='x') | list }}"}}
  - step: all_ok
    tool: {kind: noop}
`,
			run: expectedRun{Worker: map[string]map[string]any{"each": {"fail_indexes": []any{1, 3}, "error": "boom"}}},
			want: map[string]any{"status": StatusCompleted, "not_run": []any{"all_ok"}, "max_in_flight": map[string]any{"each": 2},
				"outputs": map[string]any{"some_failed": map[string]any{"bad": []any{"boom", "boom"}, "f": 2, "ok": []any{1, 3}}}},
		},
		{
			// Without on_error, a failed iteration stops new ones, the others drain,
			// and the run fails without entering the next step.
			name: "a failed iteration fails the loop",
			src: hdr + `workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop: {in: [1, 2, 3, 4, 5], iterator: x, spec: {mode: parallel, max_in_flight: 2}}
    tool: {kind: noop}
    next: [after]
  - step: after
    tool: {kind: noop}
`,
			run:  expectedRun{Worker: map[string]map[string]any{"each": {"fail_indexes": []any{1}, "error": "boom"}}},
			want: map[string]any{"status": StatusFailed, "commands": map[string]any{"each": 3}, "not_run": []any{"after"}, "error_contains": "boom"},
		},
		{
			// Nested loops as a cycle: an outer step walks the groups with a counter,
			// an inner loop runs each group's items (one group is empty), and the
			// inner loop's set accumulates.
			name: "nested loops: an inner loop in a counted cycle",
			src: hdr + `workload: {groups: [[1, 2], [], [3]]}
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.g: 0, ctx.acc: []}
    next: [outer]
  - step: outer
    tool: {kind: noop, result: {group: "{{ workload.groups[g] }}"}}
    next: [inner]
  - step: inner
    loop: {in: "{{ outer.group }}", iterator: v}
    tool: {kind: noop, result: {v: "{{ v * 10 }}", g: "{{ g }}"}}
    set: {ctx.acc: "{{ acc + output.results }}", ctx.g: "{{ g + 1 }}"}
    next:
      - step: outer
        when: "{{ g < (workload.groups | length) }}"
      - step: end
  - step: end
    tool: {kind: noop, result: {acc: "{{ acc }}", g: "{{ g }}"}}
`,
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"outer": 3, "inner": 3, "end": 1},
				"outputs": map[string]any{"end": map[string]any{"g": 3, "acc": []any{
					map[string]any{"v": 10, "g": 0}, map[string]any{"v": 20, "g": 0}, map[string]any{"v": 30, "g": 2}}}}},
		},
		{
			// A loop step reached by two routes: entered once, after both, with both
			// arcs' args in every iteration.
			name: "a loop step reached by two routes",
			src: hdr + `workflow:
  - step: start
    tool: {kind: noop}
    next: [a, b]
  - step: a
    tool: {kind: noop}
    next:
      - step: each
        args: {fa: 1}
  - step: b
    tool: {kind: noop}
    next:
      - step: each
        args: {fb: 2}
  - step: each
    loop: {in: [1, 2], iterator: x, spec: {mode: parallel}}
    tool: {kind: noop, result: {x: "{{ x }}", fa: "{{ fa }}", fb: "{{ fb }}"}}
    next: [end]
  - step: end
    tool: {kind: noop, result: {r: "{{ each.results }}"}}
`,
			run: expectedRun{Worker: map[string]map[string]any{"b": {"after": "a"}}},
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"each": 2},
				"outputs": map[string]any{"end": map[string]any{"r": []any{
					map[string]any{"x": 1, "fa": 1, "fb": 2}, map[string]any{"x": 2, "fa": 1, "fb": 2}}}}},
		},
		{
			// A loop step whose when is false in one round of a cycle keeps the
			// previous round's results; the next round replaces them.
			name: "a loop step skipped in one round of a cycle",
			src: hdr + `workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.n: 0}
    next: [head]
  - step: head
    tool: {kind: noop}
    set: {ctx.n: "{{ n + 1 }}"}
    next: [each]
  - step: each
    when: "{{ n != 2 }}"
    loop: {in: "{{ range(n) | list }}", iterator: i}
    tool: {kind: noop, result: {i: "{{ i }}", n: "{{ n }}"}}
    next: [tail]
  - step: tail
    tool: {kind: noop}
    set: {ctx.log: "{{ (log | default([])) + [each.results | map(attribute='n') | list] }}"}
    next:
      - step: head
        when: "{{ n < 3 }}"
      - step: end
  - step: end
    tool: {kind: noop, result: {log: "{{ log }}"}}
`,
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"each": 4, "tail": 3},
				"outputs": map[string]any{"end": map[string]any{"log": []any{[]any{1}, []any{1}, []any{3, 3, 3}}}}},
		},
		{
			// A step's set sees the event its arcs see: call.done, call.error for a
			// failure continued past, loop.done for a loop. It read as undefined.
			name: "a step's set reads event.name",
			src: hdr + `workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.events: ["{{ event.name }}"]}
    next: [flaky]
  - step: flaky
    spec: {on_error: continue}
    tool: {kind: noop}
    set: {ctx.events: "{{ events + [event.name] }}"}
    next: [each]
  - step: each
    loop: {in: [1], iterator: x}
    tool: {kind: noop}
    set: {ctx.events: "{{ events + [event.name] }}"}
    next: [end]
  - step: end
    tool: {kind: noop, result: {events: "{{ events }}"}}
`,
			run: expectedRun{Worker: map[string]map[string]any{"flaky": {"status": "error", "error": "kaput"}}},
			want: map[string]any{"status": StatusCompleted,
				"outputs": map[string]any{"end": map[string]any{"events": []any{"call.done", "call.error", "loop.done"}}}},
		},
		{
			// on_error routes inside a counted cycle: the body fails in rounds 2 and 3,
			// its arcs route those rounds to a handler and the others on, and both
			// rejoin the cycle's tail.
			name: "on_error routes inside a counted cycle",
			src: hdr + `workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.i: 0, ctx.log: []}
    next: [head]
  - step: head
    tool: {kind: noop}
    set: {ctx.i: "{{ i + 1 }}"}
    next: [work]
  - step: work
    spec: {on_error: continue}
    tool: {kind: noop, result: {ok: "{{ i }}"}}
    next:
      - step: handle
        when: "{{ event.name == 'call.error' }}"
        args: {why: "{{ output.error }}"}
      - step: fine
  - step: handle
    tool: {kind: noop}
    set: {ctx.log: "{{ log + [why ~ ' ' ~ i] }}"}
    next: [tail]
  - step: fine
    tool: {kind: noop}
    set: {ctx.log: "{{ log + ['ok ' ~ i] }}"}
    next: [tail]
  - step: tail
    tool: {kind: noop}
    next:
      - step: head
        when: "{{ i < 4 }}"
      - step: end
  - step: end
    tool: {kind: noop, result: {log: "{{ log }}", last: "{{ work }}"}}
`,
			run: expectedRun{Worker: map[string]map[string]any{"work": {"fail_calls": []any{2, 3}, "error": "bad"}}},
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"work": 4, "handle": 2, "fine": 2, "tail": 4},
				"outputs": map[string]any{"end": map[string]any{"log": []any{"ok 1", "bad 2", "bad 3", "ok 4"}, "last": map[string]any{"ok": 4}}}},
		},
		{
			// A sub-playbook call per item: each iteration's command carries the
			// item, _index and _total in the child's args, with the entry's args.
			name: "a sub-playbook call in a loop",
			src: hdr + `workload: {child: tests/child}
workflow:
  - step: start
    tool: {kind: noop, result: {k: 5}}
    next:
      - step: each
        args: {lim: "{{ output.k }}"}
  - step: each
    loop: {in: [{id: 1}, {id: 2}], iterator: row, spec: {mode: parallel}}
    tool:
      kind: playbook
      path: "{{ workload.child }}"
      args: {id: "{{ row.id }}", lim: "{{ lim }}"}
    next: [end]
  - step: end
    tool: {kind: noop}
`,
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"each": 2},
				"tool_args": map[string]any{"each": map[string]any{"lim": 5, "_total": 2}}},
		},
		{
			// A workload key named ctx (the playbook's or the execute payload's) took
			// the ctx shim away: {{ ctx.n }} read workload.ctx.n instead of the ctx
			// variable a step set. It stays readable as workload.ctx.
			name: "a workload key named ctx",
			src: hdr + `workload: {ctx: {n: wrong}}
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.n: 2}
    next:
      - step: end
        when: "{{ ctx.n == 2 }}"
  - step: end
    tool: {kind: noop, result: {n: "{{ ctx.n }}", w: "{{ workload.ctx.n }}", p: "{{ ctx.other }}"}}
`,
			run: expectedRun{Payload: map[string]any{"other": "x"}},
			want: map[string]any{"status": StatusCompleted, "commands": map[string]any{"end": 1},
				"outputs": map[string]any{"end": map[string]any{"n": 2, "w": "wrong", "p": "x"}}},
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

// A loop over 10,000 items, sequential and parallel with a cap, driven pass by pass
// without the snapshot round trip (the engine alone): every item runs once, never more
// than the cap at once, and the aggregate holds every result in index order, which the
// loop step's set and the next step read.
func TestHunt4TenThousandItemLoop(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"sequential", "parallel, max_in_flight: 100"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: hunt4_10k, path: tests/hunt4_10k}
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop: {in: "{{ range(10000) | map('string') | list }}", iterator: x, spec: {mode: `+mode+`}}
    tool: {kind: noop, result: {x: "{{ x }}", i: "{{ _index }}"}}
    set: {ctx.n: "{{ output.results | length }}", ctx.last: "{{ output.results[-1] }}"}
    next: [end]
  - step: end
    tool: {kind: noop, result: {n: "{{ n }}", stats: "{{ each.stats }}", ordered: "{{ each.results | map(attribute='i') | list == range(10000) | list }}"}}
`)
			d := newDriver(t, pb)
			issued, peak := 0, 0
			for len(d.st.Commands) > 0 {
				peak = max(peak, len(d.st.Commands))
				issued += len(d.pass(t, d.pending()[0]))
			}
			if d.st.Status != StatusCompleted || issued != 10000+1 {
				t.Fatalf("status %s, %d commands issued after start, failures %v", d.st.Status, issued, d.st.Failures)
			}
			if want := map[string]bool{"sequential": true}[mode]; want && peak != 1 || !want && peak != 100 {
				t.Errorf("peak in flight %d", peak)
			}
			st := d.st.Steps["end"]
			got, _ := tmpl.StepData(tmpl.StepResult{Envelope: st.Envelope, Data: st.Data, HasData: st.HasData})
			want := map[string]any{"n": 10000, "ordered": true, "stats": map[string]any{"total": 10000, "success": 10000, "failed": 0}}
			if err := subset(jsonx.Normalize(want), got, "end"); err != nil {
				t.Error(err)
			}
			if last := fmt.Sprint(d.st.Ctx["last"]); last != "map[i:9999 x:9999]" {
				t.Errorf("ctx last = %s", last)
			}
		})
	}
}
