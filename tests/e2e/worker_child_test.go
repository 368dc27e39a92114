package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/noetl/controlplane/tests/e2e/scripted"
)

const gatedChildPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_gated_child
  path: e2e/worker/gated_child
workflow:
  - step: start
    tool:
      kind: shell
      command: "while [ ! -f {{ workload.gate }} ]; do sleep 0.1; done; echo opened"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
`

const awaitChildPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_await_child
  path: e2e/worker/await_child
workflow:
  - step: start
    tool:
      kind: playbook
      path: e2e/worker/gated_child
      args:
        gate: "{{ workload.gate }}"
      return_step: start
      poll_interval: 0.2
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
`

// A worker stops (its grace runs out) while a playbook step waits for its child: the
// command is handed back without cancelling the child, and the next worker's run of the
// command adopts that child instead of starting a second one. The parent completes
// with the child's result, and the parent has exactly one child.
func TestWorkerHandBackAdoptsTheChild(t *testing.T) {
	s := StartSuite(t, SuiteOptions{APIExtra: map[string]string{
		"NOETL_RUNTIME_SWEEP_INTERVAL": "1", "NOETL_RUNTIME_OFFLINE_SECONDS": "6",
	}})
	w1 := s.StartWorker(t, map[string]string{"NOETL_SHUTDOWN_TIMEOUT": "1s", "WORKER_HEARTBEAT_INTERVAL": "1s"})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.register(ctx, gatedChildPlaybook); err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(t.TempDir(), "gate")
	id := startRun(ctx, t, c, awaitChildPlaybook, "e2e/worker/await_child", map[string]any{"gate": gate})
	children := func() []string {
		v, err := c.doJSON(ctx, http.MethodGet, "/api/executions?path=e2e/worker/gated_child&limit=100", nil)
		if err != nil {
			t.Fatal(err)
		}
		// The suite is this test's own: every run of the child's path is a child of id
		// (the list route does not carry parent_execution_id).
		var out []string
		for _, row := range listEntries(v) {
			out = append(out, fmt.Sprint(mapGet(row, "status")))
		}
		return out
	}
	waitLog(ctx, t, c, id, "the playbook step waiting for its child", func(log []scripted.Event) bool {
		return runningBy(log, w1.ID) == 1 && len(children()) == 1
	})
	if err := w1.Stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("the worker did not stop cleanly: %v\n%s", err, tail(w1.Output(), 30))
	}
	if got := children(); len(got) != 1 || !strings.HasSuffix(got[0], "RUNNING") {
		t.Fatalf("after the hand-back the children are %v, want one RUNNING", got)
	}
	s.StartWorker(t, map[string]string{"WORKER_HEARTBEAT_INTERVAL": "1s"})
	if err := os.WriteFile(gate, []byte("open"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := waitCompleted(ctx, t, c, id, "e2e/worker/await_child")
	if got := children(); len(got) != 1 || !strings.HasSuffix(got[0], "COMPLETED") {
		t.Fatalf("children %v, want exactly one, COMPLETED\n%s", got, describeLog(log))
	}
	if data := fmt.Sprint(stepData(log, "start")); !strings.Contains(data, "opened") {
		t.Fatalf("the parent's start returned %s, want the child's output", data)
	}
}
