package e2e

import "encoding/json"
import "net/http"
import "net/http/httptest"
import "strconv"
import "testing"

// Graph shapes users write whose steps need the reference worker (python, http,
// sub-playbooks), so the scripted engine shapes cannot hold them: a loop step calling a
// playbook that loops, http pagination along a self-loop until the cursor runs out (kept
// in ctx, or read from the step's own previous round), a python self-loop reading its
// previous round, policy retries inside loop iterations (succeeding, and running out
// under on_error: continue), and a loop over a python step's result joined with a
// sibling branch.
func TestGraphShapes(t *testing.T) {
	api := userAPI(t)
	pages := pagesAPI(t)
	_, c, ctx := startSuiteWithScratchCredential(t, "graph_pg")
	for _, pb := range []string{graphChildSquares, graphNestedLoops, graphPaginate, graphPaginateOwnResult, graphPythonSelfLoop, graphRetryLoop, graphRetryExhaustedLoop, graphPythonItemsJoin} {
		if err := c.register(ctx, pb); err != nil {
			t.Fatalf("register: %v\n%s", err, pb)
		}
	}
	for _, tc := range []struct {
		name, path string
		payload    map[string]any
		want       string
	}{
		{"a loop of playbooks that loop", "graph/nested_loops", nil,
			`{"sizes":[2,3,4],"sums":[1,5,14]}`},
		{"http pages along a self-loop until the cursor is null", "graph/paginate", map[string]any{"base_url": pages.URL},
			`{"cursor":null,"items":["p0-a","p0-b","p1-a","p1-b","p2-a","p2-b"],"pages":3}`},
		{"http pages along a self-loop that reads its own previous round", "graph/paginate_own_result", map[string]any{"base_url": pages.URL},
			`{"last":["p2-a","p2-b"],"pages":3,"seen":[1,2,0]}`},
		{"a python self-loop that reads its own previous round from its context", "graph/python_self_loop", nil,
			`{"rounds":[1,2,3],"total":3}`},
		{"a retry inside every iteration of a loop", "graph/retry_loop", map[string]any{"base_url": api.URL},
			`{"ok":[true,true,true],"stats":{"failed":0,"success":3,"total":3}}`},
		{"retries running out in loop iterations that continue on error", "graph/retry_exhausted_loop", map[string]any{"base_url": api.URL},
			`{"calls":4,"codes":[503,503],"stats":{"failed":2,"success":0,"total":2}}`},
		{"a loop over a python result joined with a sibling", "graph/python_items_join", map[string]any{"base_url": api.URL},
			`{"codes":[404,200,404],"failed":2,"n":3}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := c.execute(ctx, tc.path, tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			log := waitCompleted(ctx, t, c, id, tc.path)
			if g := canonical(stepData(log, "end")); g != tc.want {
				t.Fatalf("end data %s, want %s\n%s", g, tc.want, describeLog(log))
			}
		})
	}
}

// pagesAPI serves three pages: /pages?cursor=N answers page N's two items and the next
// cursor, null after the last page.
func pagesAPI(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("cursor"))
		if err != nil || n < 0 || n > 2 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var next any
		if n < 2 {
			next = n + 1
		}
		p := "p" + strconv.Itoa(n)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"items": []string{p + "-a", p + "-b"}, "next": next})
	}))
	t.Cleanup(srv.Close)
	return srv
}

const graphChildSquares = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: graph_child_squares
  path: graph/child_squares
workload:
  n: 0
workflow:
  - step: start
    tool: {kind: noop}
    next: [sq]
  - step: sq
    loop:
      in: "{{ workload.n }}"
      iterator: i
      spec: {mode: parallel, max_in_flight: 2}
    tool:
      kind: python
      input:
        i: "{{ iter.i }}"
      code: |
        result = {"sq": i * i}
    next: [total]
  - step: total
    tool:
      kind: noop
      result:
        sum: "{{ sq.results | map(attribute='sq') | sum }}"
        size: "{{ sq.stats.total }}"
`

const graphNestedLoops = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: graph_nested_loops
  path: graph/nested_loops
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop:
      in: "{{ [2, 3, 4] }}"
      iterator: n
    tool:
      kind: playbook
      path: graph/child_squares
      args:
        n: "{{ iter.n }}"
      return_step: total
      timeout: 60
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        sums: "{{ each.results | map(attribute='sum') | list }}"
        sizes: "{{ each.results | map(attribute='size') | list }}"
`

const graphPaginate = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: graph_paginate
  path: graph/paginate
workload:
  base_url: ""
workflow:
  - step: start
    tool: {kind: noop}
    set:
      ctx.cursor: 0
      ctx.items: []
      ctx.pages: 0
    next: [fetch]
  - step: fetch
    tool:
      kind: http
      url: "{{ workload.base_url }}/pages?cursor={{ ctx.cursor }}"
    set:
      ctx.cursor: "{{ output.data.next }}"
      ctx.items: "{{ ctx.items + output.data.items }}"
      ctx.pages: "{{ ctx.pages + 1 }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: fetch
          when: "{{ ctx.cursor is not none }}"
        - step: end
  - step: end
    tool:
      kind: noop
      result:
        cursor: "{{ ctx.cursor }}"
        items: "{{ ctx.items }}"
        pages: "{{ ctx.pages }}"
`

// graphPaginateOwnResult pages without ctx: each round's url reads the cursor from the
// step's own previous round, while its step set reads the round that just ended
// (docs/engine.md, "Rounds of a cycle": the next cursors, the last page's null defaulted
// to 0), and a loop runs over the list a python step returns whole.
const graphPaginateOwnResult = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: graph_paginate_own_result
  path: graph/paginate_own_result
workload:
  base_url: ""
workflow:
  - step: start
    tool: {kind: noop}
    next: [fetch]
  - step: fetch
    tool:
      kind: http
      url: "{{ workload.base_url }}/pages?cursor={{ fetch.data.next | default(0) }}"
    set:
      ctx.cursors: "{{ (ctx.cursors | default([])) + [fetch.data.next | default(0)] }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: fetch
          when: "{{ fetch.data.next is not none }}"
        - step: tally
  - step: tally
    tool:
      kind: python
      input:
        cursors: "{{ ctx.cursors }}"
      code: |
        result = cursors
    next: [each]
  - step: each
    loop:
      in: "{{ tally }}"
      iterator: i
    tool: {kind: noop, result: "{{ i }}"}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        last: "{{ fetch.data.items }}"
        pages: "{{ each.stats.total }}"
        seen: "{{ each.results }}"
`

// graphPythonSelfLoop counts in python along a self-loop: the code reads the step's own
// previous round from its context (the worker's render context carries it, plain data),
// and nothing in ctx.
const graphPythonSelfLoop = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: graph_python_self_loop
  path: graph/python_self_loop
workflow:
  - step: start
    tool: {kind: noop}
    next: [calc]
  - step: calc
    tool:
      kind: python
      code: |
        prev = context.get("calc") or {"total": 0, "rounds": []}
        result = {"total": prev["total"] + 1, "rounds": prev["rounds"] + [prev["total"] + 1]}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: calc
          when: "{{ calc.total < 3 }}"
        - step: end
  - step: end
    tool:
      kind: noop
      result: "{{ calc }}"
`

const graphRetryLoop = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: graph_retry_loop
  path: graph/retry_loop
workload:
  base_url: ""
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop:
      in: "{{ ['a', 'b', 'c'] }}"
      iterator: key
      spec: {mode: parallel, max_in_flight: 2}
    tool:
      kind: http
      url: "{{ workload.base_url }}/flaky/{{ execution_id }}-{{ iter.key }}"
      spec:
        policy:
          rules:
            - when: "{{ output.http.status == 503 }}"
              then: {do: retry, attempts: 3, delay: 0.05}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        ok: "{{ each.results | map(attribute='data') | map(attribute='ok') | list }}"
        stats: "{{ each.stats }}"
`

// graphRetryExhaustedLoop retries /down (always 503) twice in each of two sequential
// iterations: every iteration fails with the last attempt's response, which
// on_error: continue keeps as its result, and the server saw every attempt.
const graphRetryExhaustedLoop = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: graph_retry_exhausted_loop
  path: graph/retry_exhausted_loop
workload:
  base_url: ""
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    spec: {on_error: continue}
    loop:
      in: 2
      iterator: n
    tool:
      kind: http
      url: "{{ workload.base_url }}/down"
      spec:
        policy:
          rules:
            - when: "{{ output.error.retryable }}"
              then: {do: retry, attempts: 2, delay: 0.05}
    next: [calls]
  - step: calls
    tool:
      kind: http
      url: "{{ workload.base_url }}/down/calls"
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        codes: "{{ each.results | map(attribute='status_code') | list }}"
        stats: "{{ each.stats }}"
        calls: "{{ calls.data.calls }}"
`

const graphPythonItemsJoin = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: graph_python_items_join
  path: graph/python_items_join
workload:
  base_url: ""
workflow:
  - step: start
    tool:
      kind: python
      code: |
        result = {"ids": [3, 1, 2]}
    next: [each, count]
  - step: each
    spec: {on_error: continue}
    loop:
      in: "{{ start.ids }}"
      iterator: uid
    tool:
      kind: http
      url: "{{ workload.base_url }}/users/{{ iter.uid }}"
    next: [end]
  - step: count
    tool:
      kind: python
      input:
        ids: "{{ start.ids }}"
      code: |
        result = {"n": len(ids)}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        codes: "{{ each.results | map(attribute='status_code') | list }}"
        failed: "{{ each.stats.failed }}"
        n: "{{ count.n }}"
`
