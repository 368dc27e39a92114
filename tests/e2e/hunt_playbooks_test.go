package e2e

import "context"
import "encoding/json"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync"
import "testing"
import "time"

// huntAPI is the service the hunt playbooks call: /items lists three items, /flaky3/<key>
// answers 503 twice and then 200, /boom is always 500.
func huntAPI(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		n := hits[r.URL.Path]
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/items":
			_ = json.NewEncoder(w).Encode(map[string]any{"items": []any{
				map[string]any{"sku": "A1", "qty": 2}, map[string]any{"sku": "B2", "qty": 1}, map[string]any{"sku": "C3", "qty": 5}}})
		case strings.HasPrefix(r.URL.Path, "/flaky3/") && n < 3:
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"try": n})
		case strings.HasPrefix(r.URL.Path, "/flaky3/"):
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "try": n})
		case r.URL.Path == "/boom":
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]any{"detail": "kaput"})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Playbooks of the kind upstream users write, combining features on the reference
// worker: an http list fed to a loop of sub-playbooks whose results a python step sums; a
// self-loop accumulating ctx through its set; python values of every JSON type through
// when and args; routing on an http failure's status and kind; retries with backoff; a
// parallel loop continuing past a failed iteration; nested loops through sub-playbooks; a
// workbook tool in a loop; a step timeout routed on; a child's loop step returned whole
// ({results, stats}), not one iteration's data, and a child's step that continued past a
// failure; and a loop of pipelines whose iterations read flattened.
func TestHuntPlaybooks(t *testing.T) {
	var cases []huntCase
	for _, pb := range huntPlaybooks() {
		cases = append(cases, huntCase{path: pb.path, yaml: pb.yaml, want: pb.want})
	}
	runHuntCases(t, cases)
}

// huntCase is a playbook, the path to run (empty for a child), the end step's data and
// what the execute payload adds to base_url.
type huntCase struct {
	path, yaml, want string
	payload          map[string]any
}

// runHuntCases registers every playbook, then runs each case on the reference worker
// against huntAPI and compares the end step's data.
func runHuntCases(t *testing.T, cases []huntCase) {
	api := huntAPI(t)
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for _, pb := range cases {
		if err := c.register(ctx, pb.yaml); err != nil {
			t.Fatalf("register: %v\n%s", err, pb.yaml)
		}
	}
	for _, pb := range cases {
		if pb.path == "" {
			continue
		}
		t.Run(pb.path, func(t *testing.T) {
			payload := map[string]any{"base_url": api.URL}
			for k, v := range pb.payload {
				payload[k] = v
			}
			id, err := c.execute(ctx, pb.path, payload)
			if err != nil {
				t.Fatal(err)
			}
			log := waitCompleted(ctx, t, c, id, pb.path)
			if g := canonical(stepData(log, "end")); g != pb.want {
				t.Fatalf("end data %s, want %s\n%s", g, pb.want, describeLog(log))
			}
		})
	}
}

// huntPB is a playbook, the path to run (empty for a child) and the end step's data.
type huntPB struct{ path, yaml, want string }

func huntPlaybooks() []huntPB {
	return []huntPB{
		{"", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: child_price, path: hunt/child_price}
workload: {sku: none, qty: 0}
workflow:
  - step: start
    tool:
      kind: python
      input: {sku: "{{ workload.sku }}", qty: "{{ workload.qty }}"}
      code: |
        prices = {"A1": 10, "B2": 7, "C3": 1}
        result = {"cost": prices[sku] * qty, "qty_type": type(qty).__name__}
    next: [finish]
  - step: finish
    tool:
      kind: noop
      result: {sku: "{{ workload.sku }}", cost: "{{ start.cost }}", qt: "{{ start.qty_type }}"}
`, ""},
		{"hunt/items_children", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: items_children, path: hunt/items_children}
workload: {base_url: ""}
workflow:
  - step: start
    tool: {kind: http, method: GET, url: "{{ workload.base_url }}/items"}
    next: [each]
  - step: each
    loop: {in: "{{ start.data.items }}", iterator: item, spec: {mode: sequential}}
    tool:
      kind: playbook
      path: hunt/child_price
      args: {sku: "{{ item.sku }}", qty: "{{ item.qty }}"}
      return_step: finish
    next: [summary]
  - step: summary
    tool:
      kind: python
      input: {rows: "{{ each.results }}"}
      code: |
        result = {"total": sum(r["cost"] for r in rows), "skus": [r["sku"] for r in rows], "qts": [r["qt"] for r in rows]}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        total: "{{ summary.total }}"
        skus: "{{ summary.skus | join(',') }}"
        qts: "{{ summary.qts }}"
        n: "{{ each.results | length }}"
        first: "{{ (each.results | first).sku }}"
        stats: "{{ each.stats }}"
        costly: "{{ each.results | selectattr('cost', 'gt', 5) | map(attribute='sku') | list }}"
`, `{"costly":["A1","B2"],"first":"A1","n":3,"qts":["int","int","int"],"skus":"A1,B2,C3","stats":{"failed":0,"success":3,"total":3},"total":32}`},
		{"hunt/accumulate", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: accumulate, path: hunt/accumulate}
workflow:
  - step: start
    tool: {kind: noop}
    set: {acc: [], n: 0, total: 0}
    next: [add]
  - step: add
    tool:
      kind: python
      input: {n: "{{ n }}"}
      code: |
        result = {"sq": n * n}
    set:
      acc: "{{ acc + [output.sq] }}"
      n: "{{ n + 1 }}"
      total: "{{ total + add.sq }}"
    next:
      - step: add
        when: "{{ n < 4 }}"
      - step: end
  - step: end
    tool:
      kind: noop
      result: {acc: "{{ acc }}", n: "{{ n }}", total: "{{ total }}", last: "{{ add.sq }}", ctxacc: "{{ ctx.acc | join('+') }}"}
`, `{"acc":[0,1,4,9],"ctxacc":"0+1+4+9","last":9,"n":4,"total":14}`},
		{"hunt/types", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: types, path: hunt/types}
workflow:
  - step: start
    tool:
      kind: python
      code: |
        result = {"nested": {"a": [1, None, True, 2.5], "b": {"c": "x"}}, "none": None, "flag": False, "yes": True,
                  "big": 2**63 - 1, "neg": -(2**62), "fl": 1.5, "empty": [], "emptyd": {}, "s": "007", "zero": 0}
    next:
      - step: typed
        when: "{{ not start.flag and start.yes and start.none is none and start.big > 100 }}"
      - step: end
  - step: typed
    tool:
      kind: python
      input:
        nested: "{{ start.nested }}"
        none: "{{ start.none }}"
        flag: "{{ start.flag }}"
        big: "{{ start.big }}"
        neg: "{{ start.neg }}"
        fl: "{{ start.fl }}"
        empty: "{{ start.empty }}"
        emptyd: "{{ start.emptyd }}"
        s: "{{ start.s }}"
        zero: "{{ start.zero }}"
        text: "n={{ start.big }}"
      code: |
        vals = dict(nested=nested, none=none, flag=flag, big=big, neg=neg, fl=fl, empty=empty, emptyd=emptyd, s=s, zero=zero, text=text)
        result = {"types": {k: type(v).__name__ for k, v in vals.items()}, "big": big, "big_ok": big == 2**63 - 1, "nested": nested}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        types: "{{ typed.types }}"
        big: "{{ typed.big }}"
        ok: "{{ typed.big_ok }}"
        nested_b: "{{ typed.nested.b.c }}"
        a: "{{ typed.nested.a }}"
        when_zero: "{{ 'zero' if not start.zero else 'nz' }}"
`, `{"a":[1,null,true,2.5],"big":9223372036854775807,"nested_b":"x","ok":true,"types":{"big":"int","empty":"list","emptyd":"dict","fl":"float","flag":"bool","neg":"int","nested":"dict","none":"NoneType","s":"str","text":"str","zero":"int"},"when_zero":"zero"}`},
		{"hunt/error_route", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: error_route, path: hunt/error_route}
workload: {base_url: ""}
workflow:
  - step: start
    spec: {on_error: continue}
    tool: {kind: http, method: GET, url: "{{ workload.base_url }}/boom"}
    next:
      - step: server_err
        when: "{{ start.status_code == 500 }}"
      - step: conn_err
        when: "{{ start.error_kind == 'connection' }}"
      - step: ok
  - step: server_err
    tool: {kind: noop, result: {route: "500", detail: "{{ start.data.detail }}", status: "{{ start.status }}", kind: "{{ start.error_kind }}"}}
    next: [conn]
  - step: conn_err
    tool: {kind: noop, result: {route: conn}}
  - step: ok
    tool: {kind: noop, result: {route: ok}}
  - step: conn
    spec: {on_error: continue}
    tool: {kind: http, method: GET, url: "http://127.0.0.1:1/nothing", timeout: 5}
    next:
      - step: end
        when: "{{ conn.error_kind == 'connection' }}"
        args: {how: connection}
      - step: end
        args: {how: "other {{ conn.error_kind }}"}
  - step: end
    tool:
      kind: noop
      result: {route: "{{ server_err.route }}", detail: "{{ server_err.detail }}", how: "{{ how }}", kind: "{{ server_err.kind }}", status: "{{ server_err.status }}"}
`, `{"detail":"kaput","how":"connection","kind":"server_error","route":500,"status":"error"}`},
		{"hunt/retry_backoff", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: retry_backoff, path: hunt/retry_backoff}
workload: {base_url: ""}
workflow:
  - step: start
    tool:
      kind: http
      method: GET
      url: "{{ workload.base_url }}/flaky3/{{ execution_id }}"
      spec:
        policy:
          rules:
            - when: "{{ output.http.status == 503 }}"
              then: {do: retry, attempts: 4, delay: 0.1, backoff: exponential}
    next: [end]
  - step: end
    tool:
      kind: noop
      result: {ok: "{{ start.data.ok }}", try: "{{ start.data.try }}", code: "{{ start.status_code }}"}
`, `{"code":200,"ok":true,"try":3}`},
		{"hunt/loop_continue", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: loop_continue, path: hunt/loop_continue}
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    spec: {on_error: continue}
    loop: {in: [1, 2, 3, 4], iterator: x, spec: {mode: parallel, max_in_flight: 2}}
    tool:
      kind: python
      input: {x: "{{ x }}"}
      code: |
        if x == 3:
            raise RuntimeError("no threes")
        result = {"y": x * 10}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        stats: "{{ each.stats }}"
        ys: "{{ each.results | map(attribute='y') | select('defined') | list }}"
        errs: "{{ each.results | selectattr('status', 'equalto', 'error') | map(attribute='error') | list | length }}"
        ev: "{{ event.name }}"
`, `{"errs":1,"ev":null,"stats":{"failed":1,"success":3,"total":4},"ys":[10,20,40]}`},
		{"", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: child_group, path: hunt/child_group}
workload: {group: none, members: []}
workflow:
  - step: start
    loop: {in: "{{ workload.members }}", iterator: m}
    tool:
      kind: python
      input: {m: "{{ m }}", g: "{{ workload.group }}"}
      code: |
        result = {"tag": g + ":" + m.lower()}
    next: [end]
  - step: end
    tool:
      kind: noop
      result: {group: "{{ workload.group }}", tags: "{{ start.results | map(attribute='tag') | list }}"}
`, ""},
		{"hunt/nested", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: nested, path: hunt/nested}
workload:
  groups:
    - {name: red, members: [Ann, Bob]}
    - {name: blue, members: []}
    - {name: green, members: [Cy]}
workflow:
  - step: start
    tool: {kind: noop}
    next: [outer]
  - step: outer
    loop: {in: "{{ workload.groups }}", iterator: grp, spec: {mode: parallel}}
    tool:
      kind: playbook
      path: hunt/child_group
      args: {group: "{{ grp.name }}", members: "{{ grp.members }}"}
      return_step: end
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        all: "{{ outer.results | map(attribute='tags') | list }}"
        groups: "{{ outer.results | map(attribute='group') | join('|') }}"
`, `{"all":[["red:ann","red:bob"],[],["green:cy"]],"groups":"red|blue|green"}`},
		{"hunt/workbook_vars", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: workbook_vars, path: hunt/workbook_vars}
workload: {factor: 3, names: [b, a]}
workbook:
  - name: scale
    tool:
      kind: python
      input: {factor: "{{ workload.factor }}", v: 1}
      code: |
        result = {"scaled": v * factor}
workflow:
  - step: start
    tool: {kind: workbook, name: scale, input: {v: 5}}
    set: {base: "{{ start.scaled }}"}
    next: [again]
  - step: again
    loop: {in: "{{ workload.names | sort }}", iterator: nm}
    tool: {kind: workbook, name: scale, input: {v: "{{ base + _index }}"}}
    next: [end]
  - step: end
    tool:
      kind: noop
      result: {base: "{{ base }}", scaled: "{{ again.results | map(attribute='scaled') | list }}"}
`, `{"base":15,"scaled":[45,48]}`},
		{"", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: child_loop_return, path: hunt/child_loop_return}
workload: {xs: []}
workflow:
  - step: start
    loop: {in: "{{ workload.xs }}", iterator: x, spec: {mode: parallel, max_in_flight: 2}}
    tool:
      kind: python
      input: {x: "{{ x }}"}
      code: |
        result = {"d": x * 2}
    next: [end]
  - step: end
    tool: {kind: noop}
`, ""},
		{"hunt/loop_return", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: loop_return, path: hunt/loop_return}
workflow:
  - step: start
    tool: {kind: playbook, path: hunt/child_loop_return, args: {xs: [1, 2, 3]}, return_step: start}
    next: [empty]
  - step: empty
    tool: {kind: playbook, path: hunt/child_loop_return, args: {xs: []}, return_step: start}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        ds: "{{ start.results | map(attribute='d') | list }}"
        stats: "{{ start.stats }}"
        empty: "{{ empty.results }}"
`, `{"ds":[2,4,6],"empty":[],"stats":{"failed":0,"success":3,"total":3}}`},
		{"hunt/pipe_loop", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: pipe_loop, path: hunt/pipe_loop}
workflow:
  - step: start
    tool: {kind: noop}
    set: {ctx.cfg.limit: 3, ctx.cfg.name: pipe}
    next: [each]
  - step: each
    loop: {in: "{{ range(cfg.limit) | list }}", iterator: i}
    tool:
      - fetch:
          kind: python
          input: {i: "{{ i }}"}
          code: |
            result = {"raw": i * 100}
      - shape:
          kind: python
          input: {prev: "{{ _prev }}", name: "{{ cfg.name }}"}
          code: |
            result = {"val": prev["raw"] + 1, "name": name}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        vals: "{{ each.results | map(attribute='val') | list }}"
        raws: "{{ each.results | map(attribute='fetch.raw') | list }}"
        cfg: "{{ cfg }}"
`, `{"cfg":{"limit":3,"name":"pipe"},"raws":[0,100,200],"vals":[1,101,201]}`},
		{"", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: child_risky, path: hunt/child_risky}
workload: {base_url: ""}
workflow:
  - step: start
    spec: {on_error: continue}
    tool: {kind: http, method: GET, url: "{{ workload.base_url }}/boom"}
    next: [end]
  - step: end
    tool: {kind: noop}
`, ""},
		{"hunt/risky_return", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: risky_return, path: hunt/risky_return}
workload: {base_url: ""}
workflow:
  - step: start
    tool: {kind: playbook, path: hunt/child_risky, args: {base_url: "{{ workload.base_url }}"}, return_step: start}
    next: [end]
  - step: end
    tool:
      kind: noop
      result: {code: "{{ start.status_code }}", status: "{{ start.status }}", detail: "{{ start.data.detail }}"}
`, `{"code":500,"detail":"kaput","status":"error"}`},
		{"hunt/timeout_route", `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: timeout_route, path: hunt/timeout_route}
workflow:
  - step: start
    spec: {on_error: continue, timeout: 1}
    tool:
      kind: python
      code: |
        import time
        time.sleep(30)
        result = {"late": True}
    next:
      - step: end
        when: "{{ start.tool_status == 'timeout' }}"
        args: {why: timeout}
      - step: end
        args: {why: "{{ start.status }}"}
  - step: end
    tool: {kind: noop, result: {why: "{{ why }}", err: "{{ start.error }}"}}
`, `{"err":"Step timed out after 1s (spec.timeout)","why":"timeout"}`},
	}
}
