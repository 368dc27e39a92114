package e2e

import "context"
import "fmt"
import "net/http"
import "net/url"
import "os"
import "path/filepath"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/noetl/controlplane/tests/e2e/scripted"

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
	// The suite is this test's own: every run of the child's path is a child of id.
	children := func() []string { return childStatuses(ctx, t, c) }
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

// childStatuses lists the statuses of the suite's runs of the gated child, which are
// the children its test started (the list route does not carry parent_execution_id).
func childStatuses(ctx context.Context, t *testing.T, c *rtClient) []string {
	return pathStatuses(ctx, t, c, "e2e/worker/gated_child")
}

// pathStatuses lists the statuses of the runs of the playbooks whose path contains path.
func pathStatuses(ctx context.Context, t *testing.T, c *rtClient, path string) []string {
	t.Helper()
	v, err := c.doJSON(ctx, http.MethodGet, "/api/executions?path="+url.QueryEscape(path)+"&limit=100", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, row := range listEntries(v) {
		out = append(out, fmt.Sprint(mapGet(row, "status")))
	}
	return out
}

// timedOutChildPlaybook waits for a child that never finishes: the step `own` within its
// own timeout_seconds, retried once on a timeout, the step `bounded` within the step's
// spec.timeout (a tool timeout_seconds far off).
const timedOutChildPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_timed_out_child
  path: e2e/worker/timed_out_child
workflow:
  - step: start
    tool:
      kind: noop
    next:
      spec: {mode: exclusive}
      arcs:
        - step: own
          when: "{{ workload.step == 'own' }}"
        - step: bounded
          when: "{{ workload.step == 'bounded' }}"
  - step: own
    tool:
      kind: playbook
      path: e2e/worker/gated_child
      args:
        gate: "{{ workload.gate }}"
      return_step: start
      poll_interval: 0.2
      timeout_seconds: 2
      spec:
        policy:
          rules:
            - when: "{{ output.error.kind == 'timeout' }}"
              then: {do: retry, attempts: 2}
  - step: bounded
    spec: {timeout: "2s"}
    tool:
      kind: playbook
      path: e2e/worker/gated_child
      args:
        gate: "{{ workload.gate }}"
      return_step: start
      poll_interval: 0.2
      timeout_seconds: 600
`

// A playbook step whose wait runs out cancels its child before it reports the timeout,
// so no child runs on that nobody waits for: with its own timeout_seconds and a retry
// rule, each attempt's child ends CANCELLED (the retry started a fresh one); under the
// step's spec.timeout, its child ends CANCELLED too. Either way the parent fails with
// the tool status timeout, as every tool timeout reports.
func TestWorkerPlaybookTimeoutCancelsTheChild(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, map[string]string{"WORKER_HEARTBEAT_INTERVAL": "1s"})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.register(ctx, gatedChildPlaybook); err != nil {
		t.Fatal(err)
	}
	if err := c.register(ctx, timedOutChildPlaybook); err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(t.TempDir(), "never-opened")
	children := func() []string { return childStatuses(ctx, t, c) }
	for _, tc := range []struct {
		step     string
		children int // this suite's children once the run ended
		err      string
	}{
		{"own", 2, "not finished after 2s; the child was cancelled"},
		{"bounded", 3, "Step timed out after 2s (spec.timeout); child playbook e2e/worker/gated_child"},
	} {
		id, err := c.execute(ctx, "e2e/worker/timed_out_child", map[string]any{"gate": gate, "step": tc.step})
		if err != nil {
			t.Fatal(err)
		}
		log := waitTerminal(ctx, t, c, id)
		if st := c.statuses(ctx, id, "e2e/worker/timed_out_child"); st.Detail != "FAILED" {
			t.Fatalf("%s: parent status %+v, want FAILED\n%s", tc.step, st, describeLog(log))
		}
		var failures []string
		for _, ev := range log {
			if ev.EventType != scripted.TypeCallError || ev.NodeName != tc.step {
				continue
			}
			status, _ := scripted.Path(ev.Result, "context", "result", "status")
			msg, _ := scripted.Path(ev.Result, "context", "error")
			failures = append(failures, fmt.Sprintf("%v: %v", status, msg))
		}
		if len(failures) != 1 || !strings.HasPrefix(failures[0], "timeout: ") || !strings.Contains(failures[0], tc.err) {
			t.Fatalf("%s: call.error %q, want one with status timeout and %q\n%s", tc.step, failures, tc.err, describeLog(log))
		}
		// The cancel is posted before the parent's outcome, so the children are
		// CANCELLED by now; nothing waits for them, and none is left running.
		got := children()
		cancelled := 0
		for _, st := range got {
			if strings.HasSuffix(st, "CANCELLED") {
				cancelled++
			}
		}
		if len(got) != tc.children || cancelled != tc.children {
			t.Fatalf("%s: children %v, want %d, all CANCELLED", tc.step, got, tc.children)
		}
	}
}
