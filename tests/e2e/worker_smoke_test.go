package e2e

import "context"
import "fmt"
import "io"
import "net/http"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/tests/e2e/scripted"

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
	id := startRun(ctx, t, c, smokePlaybook, "e2e/worker/smoke", nil)
	log := waitCompleted(ctx, t, c, id, "e2e/worker/smoke")
	if said := mapGet(stepData(log, "end"), "said"); said != "hello noetl" {
		t.Fatalf("end said %v\n%s", said, describeLog(log))
	}
}

const bigResultPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_big_result
  path: e2e/worker/big_result
workflow:
  - step: start
    tool:
      kind: python
      code: |
        result = {"blob": "x" * 300000, "n": 7}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
      result:
        n: "{{ start.n }}"
        size: "{{ start.blob | length }}"
`

// A result over the inline limit goes to the result store: the call.done carries a
// reference, the next step still reads the data, and the worker's metrics count both
// commands.
func TestWorkerOffloadsLargeResults(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	w := s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	id := startRun(ctx, t, c, bigResultPlaybook, "e2e/worker/big_result", nil)
	log := waitCompleted(ctx, t, c, id, "e2e/worker/big_result")
	var ref any
	for _, ev := range log {
		if ev.EventType == scripted.TypeCallDone && ev.NodeName == "start" {
			ref, _ = scripted.Path(ev.Result, "context", "result", "reference", "ref")
		}
	}
	if r, _ := ref.(string); !strings.HasPrefix(r, "noetl://execution/") {
		t.Fatalf("start's call.done carries no result reference\n%s", describeLog(log))
	}
	if end := stepData(log, "end"); canonical(end) != `{"n":7,"size":300000}` {
		t.Fatalf("end read %s from the offloaded result", jsonText(end))
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", w.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`noetl_worker_commands_total{outcome="success",tool="python"} 1`, `noetl_worker_commands_total{outcome="success",tool="noop"} 1`,
		"noetl_worker_commands_in_flight 0", "noetl_worker_tool_duration_seconds_count{tool=\"python\"} 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("worker metrics lack %s", want)
		}
	}
}
