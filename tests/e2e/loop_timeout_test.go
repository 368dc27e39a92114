package e2e

import "context"
import "testing"
import "time"

// onErrorLoopTimeout runs a loop of shell iterations past their spec.timeout under
// spec.on_error: continue, then reads what each iteration's result kept of the timeout.
const onErrorLoopTimeout = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_on_error_loop_timeout
  path: e2e/hunt/on_error_loop_timeout
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    spec: {on_error: continue, timeout: 1s}
    loop: {in: "{{ [1, 2] }}", iterator: n, mode: parallel}
    tool:
      kind: shell
      command: "sleep 60"
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        tool_statuses: "{{ each.results | map(attribute='tool_status') | list }}"
        error_kinds: "{{ each.results | map(attribute='error_kind') | list }}"
        statuses: "{{ each.results | map(attribute='status') | list }}"
        failed: "{{ each.stats.failed }}"
`

// A loop iteration has no {{ steps.<step> }} envelope, so an iteration that ran past its
// spec.timeout under spec.on_error: continue keeps the tool's `timeout` status in its
// recorded result as tool_status (docs/engine.md, "Failure and the end of a run"), sent
// by the reference worker as its call.error's result.status, and the worker's kind of
// the failure (its ToolResult's error_kind) as error_kind.
func TestHuntOnErrorContinueLoopKeepsATimeout(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.register(ctx, onErrorLoopTimeout); err != nil {
		t.Fatal(err)
	}
	id, err := c.execute(ctx, "e2e/hunt/on_error_loop_timeout", nil)
	if err != nil {
		t.Fatal(err)
	}
	log := waitCompleted(ctx, t, c, id, "e2e/hunt/on_error_loop_timeout")
	want := `{"error_kinds":["timeout","timeout"],"failed":2,"statuses":["error","error"],"tool_statuses":["timeout","timeout"]}`
	if g := canonical(stepData(log, "end")); g != want {
		t.Fatalf("end data %s, want %s\n%s", g, want, describeLog(log))
	}
}
