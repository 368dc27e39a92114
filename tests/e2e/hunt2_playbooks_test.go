package e2e

import "context"
import "fmt"
import "net/http"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/tests/e2e/scripted"

// More playbooks of the kind upstream users write, on the reference worker: policy
// retries chosen by the http status, retries exhausted and then routed on the failure's
// kind, arcs on event.name, a join one of whose branches is skipped, an execute payload
// replacing a nested workload key, rule `set` from parallel loop iterations, and ctx
// handed to a sub-playbook's args.
func TestHunt2Playbooks(t *testing.T) { runHuntCases(t, hunt2Playbooks()) }

func hunt2Playbooks() []huntCase {
	return []huntCase{
		{"hunt2/retry_on_status", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: retry_on_status, path: hunt2/retry_on_status}
workload: {base_url: ""}
workflow:
  - step: start
    tool:
      kind: http
      method: GET
      url: "{{ workload.base_url }}/flaky3/rs"
      spec:
        policy:
          rules:
            - when: "{{ output.http.status == 503 and output.error.kind == 'server_error' }}"
              then: {do: retry, attempts: 5}
    next: [end]
  - step: end
    tool: {kind: noop, result: {ok: "{{ start.data.ok }}", try: "{{ start.data.try }}"}}
`, `{"ok":true,"try":3}`, nil},
		{"hunt2/retry_exhausted", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: retry_exhausted, path: hunt2/retry_exhausted}
workload: {base_url: ""}
workflow:
  - step: start
    spec: {on_error: continue}
    tool:
      kind: http
      method: GET
      url: "{{ workload.base_url }}/boom"
      spec:
        policy:
          rules:
            - when: "{{ output.error.status_code == 500 }}"
              then: {do: retry, attempts: 2}
    next:
      - step: end
        when: "{{ event.name == 'call.error' and start.error_kind == 'server_error' }}"
        args: {why: "{{ start.status_code }}", ev: "{{ event.name }}"}
      - step: end
        args: {why: other, ev: "{{ event.name }}"}
  - step: end
    tool: {kind: noop, result: {why: "{{ why }}", ev: "{{ ev }}", detail: "{{ start.data.detail }}", st: "{{ steps.start.status }}"}}
`, `{"detail":"kaput","ev":"call.error","st":"FAILED","why":500}`, nil},
		{"hunt2/attempts_spent", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: attempts_spent, path: hunt2/attempts_spent}
workload: {base_url: ""}
workflow:
  - step: start
    spec: {on_error: continue}
    tool:
      kind: http
      method: GET
      url: "{{ workload.base_url }}/flaky3/spent"
      spec:
        policy:
          rules:
            - when: "{{ output.error.retryable }}"
              then: {do: retry, attempts: 2, backoff: none, set: {ctx.tries: "{{ _attempt }}"}}
    next:
      - step: end
        when: "{{ start.status == 'error' }}"
        args: {route: failed}
      - step: end
        args: {route: ok}
  - step: end
    tool: {kind: noop, result: {route: "{{ route }}", try: "{{ start.data.try }}", code: "{{ start.status_code }}", tries: "{{ tries | default('unset') }}"}}
`, `{"code":503,"route":"failed","tries":2,"try":2}`, nil},
		{"hunt2/handled_error", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: handled_error, path: hunt2/handled_error}
workload: {base_url: ""}
workflow:
  - step: start
    tool:
      kind: http
      method: GET
      url: "{{ workload.base_url }}/boom"
      spec:
        policy:
          rules:
            - when: "{{ output.error.kind == 'server_error' }}"
              then: {do: continue, set: {ctx.recovered.code: "{{ output.error.status_code }}"}}
    next: [end]
  - step: end
    tool: {kind: noop, result: {recovered: "{{ recovered }}", code: "{{ start.status_code }}", detail: "{{ start.data.detail }}"}}
`, `{"code":500,"detail":"kaput","recovered":{"code":500}}`, nil},
		{"hunt2/python_handled", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: python_handled, path: hunt2/python_handled}
workflow:
  - step: start
    tool:
      kind: python
      code: |
        raise ValueError("bad row 7")
      spec:
        policy:
          rules:
            - when: "{{ 'bad row' in output.error.message and not output.error.retryable }}"
              then: {do: continue, set: {ctx.err.kind: "{{ output.error.kind }}", ctx.err.attempt: "{{ _attempt }}"}}
    next: [end]
  - step: end
    tool: {kind: noop, result: {err: "{{ err }}", status: "{{ steps.start.status }}"}}
`, `{"err":{"attempt":1,"kind":"python"},"status":"COMPLETED"}`, nil},
		{"hunt2/not_retryable", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: not_retryable, path: hunt2/not_retryable}
workload: {base_url: ""}
workflow:
  - step: start
    spec: {on_error: continue}
    tool:
      kind: http
      method: GET
      url: "{{ workload.base_url }}/nothing-here"
      spec:
        policy:
          rules:
            - when: "{{ output.error.retryable }}"
              then: {do: retry, attempts: 3}
    next:
      - step: end
        when: "{{ start.error_kind == 'not_found' }}"
        args: {route: missing}
      - step: end
        args: {route: other}
  - step: end
    tool: {kind: noop, result: {route: "{{ route }}", code: "{{ start.status_code }}", err: "{{ start.error }}"}}
`, `{"code":404,"err":"HTTP 404 response","route":"missing"}`, nil},
		{"hunt2/join_skip", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: join_skip, path: hunt2/join_skip}
workflow:
  - step: start
    tool: {kind: noop}
    next: [a, b]
  - step: a
    when: "{{ false }}"
    tool: {kind: noop, result: {v: a}}
    next: [join]
  - step: b
    tool: {kind: python, code: "result = {'v': 'b'}"}
    next: [join]
  - step: join
    tool: {kind: python, input: {bv: "{{ b.v }}"}, code: "result = {'seen': bv}"}
    next:
      - step: end
        when: "{{ steps.b.status == 'COMPLETED' }}"
        args: {route: b_done}
      - step: end
        args: {route: else}
  - step: end
    tool: {kind: noop, result: {seen: "{{ join.seen }}", route: "{{ route }}"}}
`, `{"route":"b_done","seen":"b"}`, nil},
		{"hunt2/nested_payload", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: nested_payload, path: hunt2/nested_payload}
workload: {base_url: "", cfg: {a: 1, b: 2}, keep: yes}
workflow:
  - step: start
    tool: {kind: python, input: {cfg: "{{ workload.cfg }}"}, code: "result = {'keys': sorted(cfg.keys())}"}
    next: [end]
  - step: end
    tool: {kind: noop, result: {cfg: "{{ workload.cfg }}", keys: "{{ start['keys'] }}", keep: "{{ keep }}", flat: "{{ cfg.a }}"}}
`, `{"cfg":{"a":5},"flat":5,"keep":"yes","keys":["a"]}`, map[string]any{"cfg": map[string]any{"a": 5}}},
		{"hunt2/parallel_set", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: parallel_set, path: hunt2/parallel_set}
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.hits.seed: 0}
    next: [each]
  - step: each
    loop: {in: [1, 2, 3], iterator: x}
    tool:
      kind: python
      input: {x: "{{ x }}"}
      code: "result = {'sq': x * x}"
      spec:
        policy:
          rules:
            - when: "{{ output.status == 'ok' }}"
              then: {do: continue, set: {ctx.hits.last: "{{ output.data.sq }}", "ctx.hits.sum": "{{ (hits.sum | default(0)) + output.data.sq }}"}}
    set: {count: "{{ each.results | length }}"}
    next: [end]
  - step: end
    tool: {kind: noop, result: {hits: "{{ hits }}", count: "{{ count }}"}}
`, `{"count":3,"hits":{"last":9,"seed":0,"sum":14}}`, nil},
		{"hunt2/sibling_set", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: sibling_set, path: hunt2/sibling_set}
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.cfg.base: 1}
    next: [a, b]
  - step: a
    tool: {kind: python, code: "result = {'v': 'a'}"}
    set: {ctx.cfg.a: "{{ output.v }}"}
    next: [join]
  - step: b
    tool: {kind: python, code: "result = {'v': 'b'}"}
    set: {ctx.cfg.b: "{{ output.v }}"}
    next: [join]
  - step: join
    tool: {kind: python, input: {cfg: "{{ cfg }}"}, code: "result = {'keys': sorted(cfg)}"}
    next: [end]
  - step: end
    tool: {kind: noop, result: {cfg: "{{ ctx.cfg }}", keys: "{{ join['keys'] }}"}}
`, `{"cfg":{"a":"a","b":"b","base":1},"keys":["a","b","base"]}`, nil},
		{"hunt2/inclusive", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: inclusive, path: hunt2/inclusive}
workflow:
  - step: start
    tool: {kind: python, code: "result = {'n': 2}"}
    next:
      spec: {mode: inclusive}
      arcs:
        - {step: x, when: "{{ start.n > 1 }}", args: {from_x: 1}}
        - {step: y, when: "{{ start.n > 5 }}"}
        - {step: z, args: {from_z: 2}}
  - step: x
    tool: {kind: python, input: {v: "{{ from_x }}"}, code: "result = {'v': v}"}
    next: [end]
  - step: y
    tool: {kind: noop, result: {v: y}}
    next: [end]
  - step: z
    when: "{{ from_z == 2 }}"
    tool: {kind: python, input: {v: "{{ from_z }}"}, code: "result = {'v': v}"}
    next: [end]
  - step: end
    tool: {kind: noop, result: {x: "{{ x.v }}", z: "{{ z.v }}", y: "{{ steps.y is defined }}"}}
`, `{"x":1,"y":false,"z":2}`, nil},
		{"hunt2/skip_chain", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: skip_chain, path: hunt2/skip_chain}
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: gate, args: {tag: t1}}]
  - step: gate
    when: "{{ false }}"
    tool: {kind: noop}
    next:
      - step: end
        when: "{{ event.name == 'step.skipped' }}"
        set: {route: skipped}
      - step: end
        set: {route: other}
  - step: end
    tool: {kind: noop, result: {route: "{{ route }}", tag: "{{ tag }}"}}
`, `{"route":"skipped","tag":"t1"}`, nil},
		{"hunt2/loop_done", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: loop_done, path: hunt2/loop_done}
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.cfg.mult: 3}
    next: [each]
  - step: each
    loop: {in: [1, 2, 3], iterator: x, spec: {mode: parallel, max_in_flight: 2}}
    tool: {kind: playbook, path: hunt2/child_echo, args: {who: "w{{ x }}", n: "{{ x * cfg.mult }}"}, return_step: start}
    set: {total: "{{ output.results | sum(attribute='n2') }}", seen: "{{ output.stats.total }}"}
    next:
      - step: end
        when: "{{ event.name == 'loop.done' and each.stats.success == 3 }}"
        args: {ev: "{{ event.name }}"}
  - step: end
    tool: {kind: noop, result: {ev: "{{ ev }}", total: "{{ total }}", seen: "{{ seen }}", whos: "{{ each.results | map(attribute='who') | list }}"}}
`, `{"ev":"loop.done","seen":3,"total":36,"whos":["w1","w2","w3"]}`, nil},
		{"", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: child_echo, path: hunt2/child_echo}
workload: {who: none, n: 0}
workflow:
  - step: start
    tool: {kind: python, input: {who: "{{ workload.who }}", n: "{{ workload.n }}"}, code: "result = {'who': who, 'n2': n * 2}"}
`, "", nil},
		{"hunt2/ctx_to_child", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: ctx_to_child, path: hunt2/ctx_to_child}
workflow:
  - step: start
    tool: {kind: python, code: "result = {'n': 21}"}
    set: {ctx.who.name: ann, num: "{{ output.n }}"}
    next: [call]
  - step: call
    tool: {kind: playbook, path: hunt2/child_echo, args: {who: "{{ ctx.who.name }}", n: "{{ num }}"}, return_step: start}
    next: [end]
  - step: end
    tool: {kind: noop, result: {who: "{{ call.who }}", n2: "{{ call.n2 }}"}}
`, `{"n2":42,"who":"ann"}`, nil},
	}
}

// Cancelling a parent whose loop of sub-playbooks is running ends every child
// CANCELLED and the parent CANCELLED; a child that fails makes the parent step's error
// name it.
func TestHunt2ChildrenCancelAndFail(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, pb := range []string{hunt2SleepChild, hunt2FailChild} {
		if err := c.register(ctx, pb); err != nil {
			t.Fatal(err)
		}
	}
	children := func() []string { return pathStatuses(ctx, t, c, "hunt2/child_sleep") }
	t.Run("cancel", func(t *testing.T) {
		id := startRun(ctx, t, c, hunt2SleepParent, "hunt2/sleep_parent", nil)
		waitLog(ctx, t, c, id, "two children running", func([]scripted.Event) bool {
			got := children()
			return len(got) == 2 && got[0] == "RUNNING" && got[1] == "RUNNING"
		})
		if err := c.cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
		log := waitTerminal(ctx, t, c, id)
		if st := c.statuses(ctx, id, "hunt2/sleep_parent"); st.Detail != "CANCELLED" {
			t.Fatalf("parent status %+v\n%s", st, describeLog(log))
		}
		waitLog(ctx, t, c, id, "every child CANCELLED", func([]scripted.Event) bool {
			got := children()
			return len(got) == 2 && got[0] == "CANCELLED" && got[1] == "CANCELLED"
		})
		// Nothing is left running, in the parent or in a child.
		ids := []string{idOf(id)}
		v, err := c.doJSON(ctx, http.MethodGet, "/api/executions?path=hunt2/child_sleep&limit=100", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range listEntries(v) {
			ids = append(ids, scripted.IDString(mapGet(row, "execution_id")))
		}
		for _, eid := range ids {
			st, err := c.doJSON(ctx, http.MethodGet, "/api/executions/"+eid+"/status", nil)
			if err != nil {
				t.Fatal(err)
			}
			if r := fmt.Sprint(mapGet(mapGet(st, "progress"), "running_steps")); r != "0" {
				t.Errorf("execution %s: %v steps still running (%v)", eid, r, st)
			}
		}
	})
	t.Run("fail", func(t *testing.T) {
		id := startRun(ctx, t, c, hunt2FailParent, "hunt2/fail_parent", nil)
		log := waitCompleted(ctx, t, c, id, "hunt2/fail_parent")
		err := fmt.Sprint(mapGet(stepData(log, "end"), "err"))
		for _, want := range []string{"hunt2/child_fail", "boom-in-child"} {
			if !strings.Contains(err, want) {
				t.Fatalf("the parent step's error %q does not name %q\n%s", err, want, describeLog(log))
			}
		}
	})
}

const hunt2SleepChild = `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: child_sleep, path: hunt2/child_sleep}
workflow:
  - step: start
    tool: {kind: python, code: "import time\ntime.sleep(120)\nresult = {'late': True}"}
`

const hunt2SleepParent = `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: sleep_parent, path: hunt2/sleep_parent}
workflow:
  - step: start
    loop: {in: [1, 2], iterator: i, spec: {mode: parallel}}
    tool: {kind: playbook, path: hunt2/child_sleep, args: {i: "{{ i }}"}, return_result: true, poll_interval: 0.2}
    next: [end]
  - step: end
    tool: {kind: noop}
`

const hunt2FailChild = `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: child_fail, path: hunt2/child_fail}
workflow:
  - step: start
    tool: {kind: python, code: "raise ValueError('boom-in-child')"}
`

const hunt2FailParent = `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: fail_parent, path: hunt2/fail_parent}
workflow:
  - step: start
    spec: {on_error: continue}
    tool: {kind: playbook, path: hunt2/child_fail, return_result: true, poll_interval: 0.2}
    next: [end]
  - step: end
    tool: {kind: noop, result: {err: "{{ start.error }}"}}
`
