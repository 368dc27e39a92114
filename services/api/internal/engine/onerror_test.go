package engine

import "reflect"
import "testing"

// Under spec.on_error: continue, the step's result is the tool's failure data (an http
// tool's {status_code, headers, data, body}, a pipeline's {labeled_results, failed_task})
// with status: error and the error text over it, so arcs can branch on what the tool
// saw, not only on the error text (docs/engine.md, "Failure and the end of a run"). Its
// {{ steps.<step> }} is the failure's envelope, in the shape a success's has.
func TestOnErrorContinueKeepsTheFailureData(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: on_error_data
  path: tests/on_error_data
workflow:
  - step: start
    tool: {kind: noop}
    next: [fetch]
  - step: fetch
    spec: {on_error: continue}
    tool: {kind: noop}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: missing
          when: "{{ fetch.status_code == 404 and event.name == 'call.error' }}"
        - step: end
  - step: missing
    tool:
      kind: noop
      result:
        code: "{{ fetch.status_code }}"
        reason: "{{ fetch.body.detail }}"
        status: "{{ fetch.status }}"
        error: "{{ fetch.error }}"
        env_code: "{{ steps.fetch.context.result.context.data.status_code }}"
    next: [each]
  - step: each
    spec: {on_error: continue}
    loop: {in: "{{ [1, 2] }}", iterator: n}
    tool: {kind: noop}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        codes: "{{ each.results | map(attribute='status_code') | list }}"
        failed: "{{ each.stats.failed }}"
        env: "{{ steps.fetch.context.result.status }}: {{ steps.fetch.context.result.context.error }}"
`)
	notFound := map[string]any{"status_code": 404, "headers": map[string]any{"content-type": "application/json"},
		"data": map[string]any{"detail": "no such user"}, "body": map[string]any{"detail": "no such user"}}
	cases := []struct {
		name    string
		worker  map[string]map[string]any
		outputs map[string]any
		notRun  []string
	}{
		{
			name: "an http 404 routes on status_code",
			worker: map[string]map[string]any{
				"fetch": {"status": "error", "error": "HTTP 404 response", "data": notFound},
				"each":  {"status": "error", "error": "HTTP 503 response", "data": map[string]any{"status_code": 503}},
			},
			outputs: map[string]any{
				"fetch":   map[string]any{"status": "error", "error": "HTTP 404 response", "status_code": 404},
				"missing": map[string]any{"code": 404, "reason": "no such user", "status": "error", "error": "HTTP 404 response", "env_code": 404},
				"end":     map[string]any{"codes": []any{503, 503}, "failed": 2, "env": "error: HTTP 404 response"},
			},
		},
		{
			name:   "a failure without data keeps {status, error}",
			worker: map[string]map[string]any{"fetch": {"status": "error", "error": "HTTP error: connection refused"}},
			outputs: map[string]any{
				"fetch": map[string]any{"status": "error", "error": "HTTP error: connection refused"},
				"end":   map[string]any{"env": "error: HTTP error: connection refused"},
			},
			notRun: []string{"missing"},
		},
		{
			name: "data that is not an object is kept under data",
			worker: map[string]map[string]any{
				"fetch": {"status": "error", "error": "boom", "data": []any{"partial"}},
			},
			outputs: map[string]any{
				"fetch": map[string]any{"status": "error", "error": "boom", "data": []any{"partial"}},
				"end":   map[string]any{"env": "error: boom"},
			},
			notRun: []string{"missing"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runSim(t, pb, expectedRun{Worker: tc.worker})
			if r.st.Status != StatusCompleted {
				t.Fatalf("status %s, failures %+v", r.st.Status, r.st.Failures)
			}
			judge(t, r, map[string]any{"status": StatusCompleted, "outputs": tc.outputs})
			for _, s := range tc.notRun {
				if n := len(r.issued(s)); n != 0 {
					t.Errorf("%s ran %d times", s, n)
				}
			}
		})
	}
}

// A whole step result passed on through set or arc args is the step's data, once: the
// synthetic .data alias reads it but is not copied into the value (docs/engine.md,
// "Context, set and templates"). A failed step's result under on_error: continue, read
// whole, has the same one shape.
func TestWholeStepResultHasOneShape(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: whole_result
  path: tests/whole_result
workflow:
  - step: start
    tool: {kind: noop, result: {x: 1, nested: {y: z}}}
    next: [fetch]
  - step: fetch
    spec: {on_error: continue}
    tool: {kind: noop}
    set:
      ctx.kept: "{{ start }}"
    next:
      - step: end
        args:
          whole: "{{ start }}"
          failed: "{{ fetch }}"
          via_alias: "{{ start.data }}"
  - step: end
    tool:
      kind: noop
      result:
        whole: "{{ whole }}"
        failed: "{{ failed }}"
        via_alias: "{{ via_alias }}"
        kept: "{{ ctx.kept }}"
`)
	r := runSim(t, pb, expectedRun{Worker: map[string]map[string]any{
		"fetch": {"status": "error", "error": "HTTP 404 response", "data": map[string]any{"status_code": 404}},
	}})
	if r.st.Status != StatusCompleted {
		t.Fatalf("status %s, failures %+v", r.st.Status, r.st.Failures)
	}
	start := map[string]any{"x": int64(1), "nested": map[string]any{"y": "z"}}
	want := map[string]any{
		"whole":     start,
		"via_alias": start,
		"kept":      start,
		"failed":    map[string]any{"status_code": int64(404), "status": "error", "error": "HTTP 404 response"},
	}
	iss := r.issued("end")
	if len(iss) != 1 {
		t.Fatalf("end issued %d times", len(iss))
	}
	cfg, _ := iss[0].Context.(map[string]any)["tool_config"].(map[string]any)
	if got := cfg["result"]; !reflect.DeepEqual(got, want) {
		t.Errorf("end's result = %#v\nwant %#v", got, want)
	}
	if got := r.st.Ctx["kept"]; !reflect.DeepEqual(got, start) {
		t.Errorf("ctx.kept = %#v, want %#v", got, start)
	}
}

// A step under spec.on_error: continue whose command timed out completes like any
// failure, and the tool's own status stays `timeout` where docs/worker.md ("Timeouts")
// promises it, {{ steps.<step>.context.result.status }}, for arcs, later steps and loop
// iterations alike: it is not rewritten to error, failed or completed.
func TestOnErrorContinueKeepsATimeout(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: on_error_timeout
  path: tests/on_error_timeout
workflow:
  - step: start
    tool: {kind: noop}
    next: [slow]
  - step: slow
    spec: {on_error: continue, timeout: 1}
    tool: {kind: noop}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: timed_out
          when: "{{ steps.slow.context.result.status == 'timeout' }}"
        - step: end
  - step: timed_out
    tool:
      kind: noop
      result:
        tool_status: "{{ steps.slow.context.result.status }}"
        inner_status: "{{ steps.slow.context.result.context.status }}"
        error: "{{ slow.error }}"
        event: "{{ slow.status }}"
    next: [end]
  - step: end
    tool: {kind: noop}
`)
	msg := "Step timed out after 1s (spec.timeout)"
	r := runSim(t, pb, expectedRun{Worker: map[string]map[string]any{"slow": {"status": "timeout", "error": msg}}})
	judge(t, r, map[string]any{"status": StatusCompleted, "outputs": map[string]any{
		"timed_out": map[string]any{"tool_status": "timeout", "inner_status": "timeout", "error": msg, "event": "error"},
	}})
	if st := r.st.Steps["slow"]; st == nil || st.Phase != PhaseCompleted {
		t.Errorf("slow: %+v, want completed", st)
	}
}

// A loop iteration that times out under spec.on_error: continue has no envelope of its
// own ({{ steps.<loop step> }} does not exist), so its recorded result carries the
// tool's status next to status: error, as tool_status: {{ each.results[i].tool_status }}
// reads `timeout` where a plain step's {{ steps.<step>.context.result.status }} does. A
// plain step's result carries it too, and a failure whose tool status is plain error
// keeps its shape ({status: error, error}: engine shapes 09 and 16).
func TestOnErrorContinueLoopIterationKeepsATimeout(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: on_error_loop_timeout
  path: tests/on_error_loop_timeout
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    spec: {on_error: continue, timeout: 1}
    loop: {in: "{{ [1, 2] }}", iterator: n}
    tool: {kind: noop}
    next: [slow]
  - step: slow
    spec: {on_error: continue, timeout: 1}
    tool: {kind: noop}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        statuses: "{{ each.results | map(attribute='tool_status') | list }}"
        timed_out: "{{ each.results | selectattr('tool_status', 'equalto', 'timeout') | list | length }}"
        first: "{{ each.results[0] }}"
        slow: "{{ slow.tool_status }}"
`)
	msg := "Step timed out after 1s (spec.timeout)"
	r := runSim(t, pb, expectedRun{Worker: map[string]map[string]any{
		"each": {"status": "timeout", "error": msg},
		"slow": {"status": "timeout", "error": msg},
	}})
	judge(t, r, map[string]any{"status": StatusCompleted, "outputs": map[string]any{
		"end": map[string]any{
			"statuses":  []any{"timeout", "timeout"},
			"timed_out": 2,
			"first":     map[string]any{"status": "error", "error": msg, "tool_status": "timeout"},
			"slow":      "timeout",
		},
	}})
}

// A failure under spec.on_error: continue keeps the worker's error kind (the ToolResult's
// error_kind: connection, http, database, timeout, config, ...) in its result as
// error_kind, next to error and tool_status, so arcs and loop results can tell
// failures apart; {{ steps.<step>.context.result.context.error_kind }} reads it from the
// envelope. A failure from a worker that sends no kind keeps its shape without one.
func TestOnErrorContinueKeepsTheErrorKind(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: on_error_kind
  path: tests/on_error_kind
workflow:
  - step: start
    tool: {kind: noop}
    next: [fetch]
  - step: fetch
    spec: {on_error: continue}
    tool: {kind: noop}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: unreachable
          when: "{{ fetch.error_kind == 'connection' }}"
        - step: end
  - step: unreachable
    tool: {kind: noop}
    next: [each]
  - step: each
    spec: {on_error: continue}
    loop: {in: "{{ [1, 2] }}", iterator: n}
    tool: {kind: noop}
    next: [old]
  - step: old
    spec: {on_error: continue}
    tool: {kind: noop}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        kinds: "{{ each.results | map(attribute='error_kind') | list }}"
        fetch: "{{ fetch }}"
        envelope: "{{ steps.fetch.context.result.context.error_kind }}"
        old: "{{ old }}"
`)
	r := runSim(t, pb, expectedRun{Worker: map[string]map[string]any{
		"fetch": {"status": "error", "error": "connection refused", "error_kind": "connection"},
		"each":  {"status": "timeout", "error": "Tool timed out after 1s (timeout)", "error_kind": "timeout"},
		"old":   {"status": "error", "error": "boom"},
	}})
	judge(t, r, map[string]any{"status": StatusCompleted, "outputs": map[string]any{
		"end": map[string]any{
			"kinds":    []any{"timeout", "timeout"},
			"fetch":    map[string]any{"status": "error", "error": "connection refused", "error_kind": "connection"},
			"envelope": "connection",
			"old":      map[string]any{"status": "error", "error": "boom"},
		},
	}})
	if st := r.st.Steps["unreachable"]; st == nil || st.Phase != PhaseCompleted {
		t.Errorf("unreachable: %+v, want completed (the arc on error_kind taken)", st)
	}
}

// A failure continued under spec.on_error: continue keeps what its policy rules set:
// the worker returns them as _context_updates in the failure's data, and later steps
// read them from ctx, for a plain step and a loop iteration alike (docs/engine.md,
// "Context, set and templates").
func TestOnErrorContinueFoldsTheRulesSet(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: on_error_set
  path: tests/on_error_set
workflow:
  - step: start
    spec: {on_error: continue}
    tool: {kind: noop}
    next: [each]
  - step: each
    spec: {on_error: continue}
    loop: {in: "{{ [1] }}", iterator: n}
    tool: {kind: noop}
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        tries: "{{ tries | default('unset') }}"
        why: "{{ ctx.why | default('unset') }}"
`)
	cases := []struct {
		name   string
		worker map[string]map[string]any
		want   map[string]any
	}{
		{"both sets reach ctx", map[string]map[string]any{
			"start": {"status": "error", "error": "HTTP 503 response",
				"data": map[string]any{"status_code": 503, "_context_updates": map[string]any{"ctx.tries": 2}}},
			"each": {"status": "error", "error": "boom", "data": map[string]any{"_context_updates": map[string]any{"why": "boom"}}},
		}, map[string]any{"tries": 2, "why": "boom"}},
		{"a failure without sets leaves ctx alone", map[string]map[string]any{
			"start": {"status": "error", "error": "HTTP 503 response", "data": map[string]any{"status_code": 503}},
			"each":  {"status": "error", "error": "boom"},
		}, map[string]any{"tries": "unset", "why": "unset"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runSim(t, pb, expectedRun{Worker: tc.worker})
			if r.st.Status != StatusCompleted {
				t.Fatalf("status %s, failures %+v", r.st.Status, r.st.Failures)
			}
			judge(t, r, map[string]any{"status": StatusCompleted, "outputs": map[string]any{"end": tc.want}})
		})
	}
}
