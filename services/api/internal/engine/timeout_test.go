package engine

import "reflect"
import "testing"

// A step's spec.timeout travels in its command as step_timeout_seconds, the worker's
// bound for the whole command (docs/engine.md, "Timeouts"); a step without one keeps
// the context shape it always had.
func TestCommandCarriesTheStepTimeout(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: step_timeout
  path: tests/step_timeout
workflow:
  - step: start
    spec: {timeout: 2m}
    tool: {kind: noop}
    next: [fraction]
  - step: fraction
    spec: {timeout: 1.5}
    tool: {kind: noop}
    next: [end]
  - step: end
    tool: {kind: noop}
`)
	r := runSim(t, pb, expectedRun{})
	for step, want := range map[string]any{"start": int64(120), "fraction": 1.5} {
		ctx, _ := r.issued(step)[0].Context.(map[string]any)
		got, ok := ctx["step_timeout_seconds"]
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: step_timeout_seconds = %#v (present %v), want %#v", step, got, ok, want)
		}
	}
	ctx, _ := r.issued("end")[0].Context.(map[string]any)
	if _, ok := ctx["step_timeout_seconds"]; ok {
		t.Errorf("end: a step without spec.timeout carries step_timeout_seconds: %v", ctx)
	}
}
