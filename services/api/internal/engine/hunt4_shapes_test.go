package engine

import "testing"

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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runSim(t, mustParse(t, tc.src), tc.run)
			judge(t, r, tc.want)
		})
	}
}
