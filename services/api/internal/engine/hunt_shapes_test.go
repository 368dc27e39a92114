package engine

import "testing"

// Graph shapes a new user writes, run by the in-memory harness with its scripted worker.
func TestHuntShapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src string
		run       expectedRun
		want      map[string]any
	}{
		{
			// An outer cycle whose body runs a loop and a sibling branch into a join:
			// every round's join waits for the loop's aggregate and the sibling, and
			// sees this round's values.
			name: "a loop and a sibling into a join, in a cycle",
			src: `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_loop_join_cycle
  path: tests/hunt_loop_join_cycle
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.n: 0}
    next: [head]
  - step: head
    tool: {kind: noop}
    set: {ctx.n: "{{ ctx.n + 1 }}"}
    next: [each, side]
  - step: each
    loop: {in: "{{ range(ctx.n + 1) | list }}", iterator: i, spec: {mode: parallel}}
    tool: {kind: noop, result: {v: "{{ i * ctx.n }}"}}
    next: [join]
  - step: side
    tool: {kind: noop, result: {n: "{{ ctx.n }}"}}
    next: [join]
  - step: join
    tool:
      kind: noop
      result:
        vs: "{{ each.results | map(attribute='v') | list }}"
        side: "{{ side.n }}"
    set:
      ctx.rounds: "{{ (ctx.rounds | default([])) + [output] }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: head
          when: "{{ ctx.n < 3 }}"
        - step: end
  - step: end
    tool: {kind: noop, result: {rounds: "{{ ctx.rounds }}"}}
`,
			run: expectedRun{Worker: map[string]map[string]any{"side": {"after": "each"}}},
			want: map[string]any{"status": StatusCompleted,
				"commands": map[string]any{"head": 3, "each": 9, "side": 3, "join": 3, "end": 1},
				"outputs": map[string]any{"end": map[string]any{"rounds": []any{
					map[string]any{"vs": []any{0, 1}, "side": 1},
					map[string]any{"vs": []any{0, 2, 4}, "side": 2},
					map[string]any{"vs": []any{0, 3, 6, 9}, "side": 3},
				}}}},
		},
		{
			// Nested cycles: an inner self-loop inside an outer cycle, its exit and a
			// sibling branch joined in every outer round.
			name: "an inner self-loop and a sibling into a join, in an outer cycle",
			src: `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_nested_cycles
  path: tests/hunt_nested_cycles
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.o: 0}
    next: [outer]
  - step: outer
    tool: {kind: noop}
    set: {ctx.o: "{{ ctx.o + 1 }}", ctx.i: 0}
    next: [inner, side]
  - step: inner
    tool: {kind: noop, result: {at: "o{{ ctx.o }}i{{ ctx.i }}"}}
    set: {ctx.i: "{{ ctx.i + 1 }}", ctx.trail: "{{ (ctx.trail | default([])) + [output.at] }}"}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: inner
          when: "{{ ctx.i < ctx.o + 1 }}"
        - step: join
  - step: side
    tool: {kind: noop, result: {o: "{{ ctx.o }}"}}
    next: [join]
  - step: join
    tool: {kind: noop, result: {i: "{{ ctx.i }}", side: "{{ side.o }}"}}
    set:
      ctx.rounds: "{{ (ctx.rounds | default([])) + [output] }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: outer
          when: "{{ ctx.o < 2 }}"
        - step: end
  - step: end
    tool: {kind: noop, result: {rounds: "{{ ctx.rounds }}", trail: "{{ ctx.trail }}"}}
`,
			want: map[string]any{"status": StatusCompleted,
				"commands": map[string]any{"outer": 2, "inner": 5, "side": 2, "join": 2, "end": 1},
				"outputs": map[string]any{"end": map[string]any{
					"rounds": []any{map[string]any{"i": 2, "side": 1}, map[string]any{"i": 3, "side": 2}},
					"trail":  []any{"o1i0", "o1i1", "o2i0", "o2i1", "o2i2"},
				}}},
		},
		{
			// A cycle back through start: start's when is ignored and its set runs
			// again each round.
			name: "a cycle back through start",
			src: `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_back_to_start
  path: tests/hunt_back_to_start
workflow:
  - step: start
    when: "{{ false }}"
    tool: {kind: noop}
    set: {ctx.n: "{{ (ctx.n | default(0)) + 1 }}"}
    next: [again]
  - step: again
    tool: {kind: noop}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: start
          when: "{{ ctx.n < 3 }}"
        - step: end
  - step: end
    tool: {kind: noop, result: {n: "{{ ctx.n }}"}}
`,
			want: map[string]any{"status": StatusCompleted,
				"commands": map[string]any{"start": 3, "again": 3, "end": 1},
				"outputs":  map[string]any{"end": map[string]any{"n": 3}}},
		},
		{
			// A self-looping branch into a join: the join waits for the self-loop's
			// last round, and runs once.
			name: "a self-looping branch into a join",
			src: `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_self_loop_join
  path: tests/hunt_self_loop_join
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.k: 0}
    next: [quick, poll]
  - step: quick
    tool: {kind: noop, result: {q: 1}}
    next: [join]
  - step: poll
    tool: {kind: noop}
    set: {ctx.k: "{{ ctx.k + 1 }}"}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: poll
          when: "{{ ctx.k < 4 }}"
        - step: join
  - step: join
    tool: {kind: noop, result: {k: "{{ ctx.k }}", q: "{{ quick.q }}"}}
`,
			want: map[string]any{"status": StatusCompleted,
				"commands": map[string]any{"quick": 1, "poll": 4, "join": 1},
				"outputs":  map[string]any{"join": map[string]any{"k": 4, "q": 1}}},
		},
		{
			// A back-edge into one branch of a diamond: later rounds run only that
			// branch, and the join, whose other branch does not run again, still runs
			// every round. The looping branch is written first, so that the depth-first
			// walk finds join -> c as the back-edge (docs/engine.md, "The graph").
			name: "a back-edge into one branch of a diamond",
			src: `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_back_into_branch
  path: tests/hunt_back_into_branch
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.n: 0}
    next: [c, b]
  - step: b
    tool: {kind: noop}
    next: [join]
  - step: c
    tool: {kind: noop}
    set: {ctx.n: "{{ ctx.n + 1 }}"}
    next: [c2]
  - step: c2
    tool: {kind: noop}
    next: [join]
  - step: join
    tool: {kind: noop}
    set: {ctx.joins: "{{ (ctx.joins | default(0)) + 1 }}"}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: c
          when: "{{ ctx.n < 3 }}"
        - step: end
  - step: end
    tool: {kind: noop, result: {n: "{{ ctx.n }}", joins: "{{ ctx.joins }}"}}
`,
			run: expectedRun{Worker: map[string]map[string]any{"b": {"after": "c2"}}},
			want: map[string]any{"status": StatusCompleted,
				"commands": map[string]any{"b": 1, "c": 3, "c2": 3, "join": 3, "end": 1},
				"outputs":  map[string]any{"end": map[string]any{"n": 3, "joins": 3}}},
		},
		{
			// A loop step in a self-loop: each round loops over a list one longer.
			name: "a loop step that loops on itself",
			src: `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_loop_self_loop
  path: tests/hunt_loop_self_loop
workflow:
  - step: start
    tool: {kind: noop}
    next:
      - step: each
        args: {size: 1}
  - step: each
    loop: {in: "{{ range(size) | list }}", iterator: i}
    tool: {kind: noop, result: {i: "{{ i }}"}}
    set:
      ctx.sizes: "{{ (ctx.sizes | default([])) + [output.stats.total] }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: each
          when: "{{ size < 3 }}"
          args: {size: "{{ size + 1 }}"}
        - step: end
  - step: end
    tool: {kind: noop, result: {sizes: "{{ ctx.sizes }}", last: "{{ each.results | map(attribute='i') | list }}"}}
`,
			want: map[string]any{"status": StatusCompleted,
				"commands": map[string]any{"each": 6, "end": 1},
				"outputs":  map[string]any{"end": map[string]any{"sizes": []any{1, 2, 3}, "last": []any{0, 1, 2}}}},
		},
		{
			// A join in a cycle whose one branch is skipped (its when false) in the
			// second round only: the skipped branch routes on, and the join runs in
			// both rounds with what each round left.
			name: "a join whose branch is skipped in one round of a cycle",
			src: `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_skip_branch_in_cycle
  path: tests/hunt_skip_branch_in_cycle
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.n: 0}
    next: [head]
  - step: head
    tool: {kind: noop}
    set: {ctx.n: "{{ ctx.n + 1 }}"}
    next: [a, b]
  - step: a
    when: "{{ ctx.n == 1 }}"
    tool: {kind: noop, result: {round: "{{ ctx.n }}"}}
    next: [join]
  - step: b
    tool: {kind: noop, result: {round: "{{ ctx.n }}"}}
    next: [join]
  - step: join
    tool: {kind: noop, result: {a: "{{ a.round }}", b: "{{ b.round }}"}}
    set:
      ctx.rounds: "{{ (ctx.rounds | default([])) + [output] }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: head
          when: "{{ ctx.n < 2 }}"
        - step: end
  - step: end
    tool: {kind: noop, result: {rounds: "{{ ctx.rounds }}"}}
`,
			run: expectedRun{Worker: map[string]map[string]any{"a": {"after": "b"}}},
			want: map[string]any{"status": StatusCompleted,
				"commands": map[string]any{"head": 2, "a": 1, "b": 2, "join": 2, "end": 1},
				"outputs": map[string]any{"end": map[string]any{"rounds": []any{
					map[string]any{"a": 1, "b": 1},
					map[string]any{"a": 1, "b": 2}, // a keeps its round-1 result
				}}}},
		},
		{
			// An inclusive branch point: every round fires the back-edge and the exit.
			// The exit's only forward upstream is the step that fired it, so it has
			// nothing to wait for and runs every round (docs/engine.md, "Entering a
			// step"), beside the cycle's next round.
			name: "an inclusive branch point",
			src: `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_inclusive_branch_point
  path: tests/hunt_inclusive_branch_point
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.n: 0}
    next: [head]
  - step: head
    tool: {kind: noop}
    set: {ctx.n: "{{ ctx.n + 1 }}"}
    next:
      spec: {mode: inclusive}
      arcs:
        - step: head
          when: "{{ ctx.n < 3 }}"
        - step: report
  - step: report
    tool: {kind: noop, result: {n: "{{ ctx.n }}"}}
`,
			want: map[string]any{"status": StatusCompleted,
				"commands": map[string]any{"head": 3, "report": 3},
				"outputs":  map[string]any{"report": map[string]any{"n": 3}}},
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
