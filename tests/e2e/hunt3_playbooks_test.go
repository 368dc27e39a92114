package e2e

import "testing"

// Playbooks beyond the conformance suite on the reference worker: loops over an object,
// a comma-separated string, the JSON text of an object, a literal list of templates and
// an empty string; a capped parallel loop whose tool is a pipeline (each iteration's
// data flattened, its second task reading the first's through _prev); an exclusive
// router none of whose arcs holds, which ends the branch and completes the run; arcs
// reading the step's result as output; and ctx written from parallel loop iterations by
// rule `set` next to a step `set` over the aggregate (docs/engine.md, "Context, set and
// templates").
func TestHunt3Playbooks(t *testing.T) { runHuntCases(t, hunt3Playbooks()) }

func hunt3Playbooks() []huntCase {
	return []huntCase{
		{"hunt3/loop_kinds", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: loop_kinds, path: hunt3/loop_kinds}
workload:
  cfg: {b: 2, a: 1}
  csv: "x, y ,z"
  body: '{"b": [2], "a": 1}'
  who: 'O"Brien, Pat'
workflow:
  - step: start
    tool: {kind: noop}
    next: [pairs]
  - step: pairs
    loop: {in: "{{ workload.cfg }}", iterator: kv}
    tool: {kind: python, input: {kv: "{{ kv }}"}, code: "result = {'k': kv['key'], 'v': kv['value'] * 10}"}
    next: [parts]
  - step: parts
    loop: {in: "{{ workload.csv }}", iterator: p}
    tool: {kind: noop, result: {p: "{{ p }}", i: "{{ _index }}", n: "{{ _total }}"}}
    next: [json]
  - step: json
    loop: {in: "{{ workload.body }}", iterator: kv}
    tool: {kind: noop, result: {k: "{{ kv.key }}", v: "{{ kv.value }}"}}
    next: [literal]
  - step: literal
    loop: {in: ["{{ workload.who }}", "{{ workload.cfg }}", 3], iterator: it}
    tool: {kind: python, input: {it: "{{ it }}"}, code: "result = {'t': type(it).__name__, 'it': it}"}
    next: [empty]
  - step: empty
    loop: {in: "{{ '' }}", iterator: q}
    tool: {kind: noop, result: {q: "{{ q }}"}}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        pairs: "{{ pairs.results }}"
        parts: "{{ parts.results }}"
        empty: "{{ empty }}"
        json: "{{ json.results }}"
        literal: "{{ literal.results }}"
`, `{"empty":{"results":[],"stats":{"failed":0,"success":0,"total":0}},"json":[{"k":"a","v":1},{"k":"b","v":[2]}],"literal":[{"it":"O\"Brien, Pat","t":"str"},{"it":{"a":1,"b":2},"t":"dict"},{"it":3,"t":"int"}],"pairs":[{"k":"a","v":10},{"k":"b","v":20}],"parts":[{"i":0,"n":3,"p":"x"},{"i":1,"n":3,"p":"y"},{"i":2,"n":3,"p":"z"}]}`, nil},
		{"hunt3/capped_pipeline_loop", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: capped_pipeline_loop, path: hunt3/capped_pipeline_loop}
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop: {in: "{{ range(5) | list }}", iterator: n, spec: {mode: parallel, max_in_flight: 2}}
    tool:
      - double: {kind: python, input: {n: "{{ n }}"}, code: "result = {'d': n * 2}"}
      - inc: {kind: python, input: {d: "{{ _prev.d }}"}, code: "result = {'d': d + 1}"}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        ds: "{{ each.results | map(attribute='d') | list }}"
        doubles: "{{ each.results | map(attribute='double') | map(attribute='d') | list }}"
        stats: "{{ each.stats }}"
`, `{"doubles":[0,2,4,6,8],"ds":[1,3,5,7,9],"stats":{"failed":0,"success":5,"total":5}}`, nil},
		{"hunt3/no_arc_holds", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: no_arc_holds, path: hunt3/no_arc_holds}
workload: {n: 5}
workflow:
  - step: start
    tool: {kind: noop}
    next: [route, end]
  - step: route
    tool: {kind: noop}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: small
          when: "{{ workload.n < 2 }}"
        - step: medium
          when: "{{ workload.n < 4 }}"
  - step: small
    tool: {kind: noop}
  - step: medium
    tool: {kind: noop}
  - step: end
    tool: {kind: noop, result: {n: "{{ workload.n }}"}}
`, `{"n":5}`, nil},
		{"hunt3/arc_output", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: arc_output, path: hunt3/arc_output}
workflow:
  - step: start
    tool: {kind: python, code: "result = {'status_code': 404, 'who': 'x'}"}
    next:
      - step: missing
        when: "{{ output.status_code == 404 }}"
        args: {who: "{{ output.who }}"}
      - step: found
  - step: missing
    tool: {kind: noop}
    next:
      - step: end
        args: {who: "{{ who }}"}
  - step: found
    tool: {kind: noop}
  - step: end
    tool: {kind: noop, result: {who: "{{ who }}"}}
`, `{"who":"x"}`, nil},
		{"hunt3/parallel_ctx", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: parallel_ctx, path: hunt3/parallel_ctx}
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.total: 0}
    next: [each, side]
  - step: each
    loop: {in: [1, 2, 3], iterator: x, spec: {mode: parallel}}
    tool:
      kind: python
      input: {x: "{{ x }}"}
      code: "result = {'sq': x * x}"
      spec:
        policy:
          rules:
            - when: "{{ output.status == 'ok' }}"
              then: {do: continue, set: {ctx.sum: "{{ (sum | default(0)) + output.data.sq }}"}}
    set: {ctx.total: "{{ total + (each.results | sum(attribute='sq')) }}"}
    next: [end]
  - step: side
    tool: {kind: noop}
    set: {ctx.total: "{{ total + 100 }}"}
    next: [end]
  - step: end
    tool: {kind: noop, result: {total: "{{ total }}", sum_is_one_square: "{{ sum in [1, 4, 9] }}"}}
`, `{"sum_is_one_square":true,"total":114}`, nil},
	}
}
