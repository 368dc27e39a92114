package engine

import "testing"

// Under spec.on_error: continue, the step's result is the tool's failure data (an http
// tool's {status_code, headers, data, body}, a pipeline's {labeled_results, failed_task})
// with status: error and the error text over it, so arcs can branch on what the tool
// saw, not only on the error text (docs/engine.md, "Failure and the end of a run").
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
				"missing": map[string]any{"code": 404, "reason": "no such user", "status": "error", "error": "HTTP 404 response"},
				"end":     map[string]any{"codes": []any{503, 503}, "failed": 2},
			},
		},
		{
			name:    "a failure without data keeps {status, error}",
			worker:  map[string]map[string]any{"fetch": {"status": "error", "error": "HTTP error: connection refused"}},
			outputs: map[string]any{"fetch": map[string]any{"status": "error", "error": "HTTP error: connection refused"}},
			notRun:  []string{"missing"},
		},
		{
			name: "data that is not an object is kept under data",
			worker: map[string]map[string]any{
				"fetch": {"status": "error", "error": "boom", "data": []any{"partial"}},
			},
			outputs: map[string]any{"fetch": map[string]any{"status": "error", "error": "boom", "data": []any{"partial"}}},
			notRun:  []string{"missing"},
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
