package e2e

import (
	"context"
	"testing"
	"time"
)

// onErrorTimeout runs a shell step past its spec.timeout under spec.on_error: continue,
// then reads what is left of the failure: the step's result and its envelope.
const onErrorTimeout = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_on_error_timeout
  path: e2e/hunt/on_error_timeout
workflow:
  - step: start
    tool: {kind: noop}
    next: [slow]
  - step: slow
    spec: {on_error: continue, timeout: 1s}
    tool:
      kind: shell
      command: "sleep 60"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
          when: "{{ event.name == 'call.error' }}"
  - step: end
    tool:
      kind: noop
      result:
        tool_status: "{{ steps.slow.context.result.status }}"
        inner_status: "{{ steps.slow.context.result.context.status }}"
        status: "{{ slow.status }}"
        error: "{{ slow.error }}"
`

// A step under spec.on_error: continue whose command ran past its spec.timeout completes,
// and its tool status stays `timeout` where docs/worker.md ("Timeouts") says it is read,
// {{ steps.<step>.context.result.status }}, while its result says `status: error` as every
// continued failure's does (docs/engine.md, "Failure and the end of a run").
func TestHuntOnErrorContinueKeepsATimeout(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.register(ctx, onErrorTimeout); err != nil {
		t.Fatal(err)
	}
	id, err := c.execute(ctx, "e2e/hunt/on_error_timeout", nil)
	if err != nil {
		t.Fatal(err)
	}
	log := waitCompleted(ctx, t, c, id, "e2e/hunt/on_error_timeout")
	want := `{"error":"Step timed out after 1s (spec.timeout)","inner_status":"timeout","status":"error","tool_status":"timeout"}`
	if g := canonical(stepData(log, "end")); g != want {
		t.Fatalf("end data %s, want %s\n%s", g, want, describeLog(log))
	}
}
