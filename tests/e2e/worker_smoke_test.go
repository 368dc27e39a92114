package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/noetl/controlplane/shared/testkit/scripted"
)

const smokePlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_smoke
  path: e2e/worker/smoke
workload:
  who: noetl
workflow:
  - step: start
    tool:
      kind: python
      input:
        who: "{{ workload.who }}"
      code: |
        result = {"greeting": "hello " + who}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
      result:
        said: "{{ start.greeting }}"
`

// A python step and a noop step, run by a real worker through NATS and the router.
func TestWorkerRunsAPlaybook(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.register(ctx, smokePlaybook); err != nil {
		t.Fatal(err)
	}
	id, err := c.execute(ctx, "e2e/worker/smoke", nil)
	if err != nil {
		t.Fatal(err)
	}
	log := waitTerminal(ctx, t, c, id)
	st := c.statuses(ctx, id, "e2e/worker/smoke")
	if st.Detail != "COMPLETED" {
		t.Fatalf("status %+v\n%s", st, describeLog(log))
	}
	var said any
	for _, ev := range log {
		if ev.EventType == scripted.TypeCallDone && ev.NodeName == "end" {
			said, _ = scripted.Path(ev.Result, "context", "result", "context", "data", "said")
		}
	}
	if said != "hello noetl" {
		t.Fatalf("end said %v\n%s", said, describeLog(log))
	}
}
