package e2e

import "context"
import "fmt"
import "net/http"
import "os"
import "path/filepath"
import "sort"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/tests/e2e/scripted"

const fanOutSleepPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_fan_out_sleep
  path: e2e/worker/fan_out_sleep
workload:
  items: [0, 1, 2, 3, 4, 5, 6, 7]
  dir: "."
workflow:
  - step: start
    tool:
      kind: noop
    next:
      spec: {mode: exclusive}
      arcs:
        - step: fan
  - step: fan
    loop:
      in: "{{ workload.items }}"
      iterator: item
      spec:
        mode: parallel
        max_in_flight: 8
    tool:
      kind: shell
      command: "sleep 4 && echo {{ iter.item }} >> {{ workload.dir }}/done-{{ execution_id }}.txt"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
`

// Two workers share the iterations of one parallel loop; one of them is killed
// (SIGKILL) while its iterations run. The control plane makes the dead worker's commands
// claimable again, the other worker runs them, the execution completes, and every
// iteration ran to completion exactly once: one terminal event per command, one line per
// item in the file the iterations append to (the killed worker's children die with it).
func TestWorkerKilledMidLoop(t *testing.T) {
	// Heartbeats every second against an 8 s offline threshold: a loaded machine does not
	// make the surviving worker look lost.
	s := StartSuite(t, SuiteOptions{APIExtra: map[string]string{
		"NOETL_RUNTIME_SWEEP_INTERVAL": "1", "NOETL_RUNTIME_OFFLINE_SECONDS": "8",
	}})
	env := map[string]string{"WORKER_MAX_CONCURRENT": "4", "WORKER_HEARTBEAT_INTERVAL": "1s"}
	a := s.StartWorker(t, env)
	b := s.StartWorker(t, env)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	id := startRun(ctx, t, c, fanOutSleepPlaybook, "e2e/worker/fan_out_sleep", map[string]any{"dir": dir})
	// Kill A once it is running iterations it has not reported.
	waitLog(ctx, t, c, id, "worker A running an iteration", func(log []scripted.Event) bool { return runningBy(log, a.ID) > 0 })
	if err := a.Stop(syscall.SIGKILL, 10*time.Second); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Logf("worker A stopped: %v", err)
	}
	log := waitCompleted(ctx, t, c, id, "e2e/worker/fan_out_sleep")
	ix := indexLog(log)
	claimedBy := map[string]int{}
	requeued := 0
	for _, ev := range log {
		switch ev.EventType {
		case scripted.TypeCommandClaimed:
			claimedBy[workerOf(ev)]++
		case "command.requeued":
			requeued++
		}
	}
	if claimedBy[a.ID] == 0 || claimedBy[b.ID] == 0 {
		t.Errorf("the load was not shared: claims by worker %v\n%s", claimedBy, describeLog(log))
	}
	if requeued == 0 {
		t.Errorf("no command of the killed worker was made claimable again\n%s", describeLog(log))
	}
	for _, step := range []string{"start", "fan", "end"} {
		for _, is := range ix.issued[step] {
			if n := len(ix.terminals[is.CommandID()]); n != 1 {
				t.Errorf("command %s of %s has %d terminal events, want exactly one", is.CommandID(), step, n)
			}
		}
	}
	if got := len(ix.issued["fan"]); got != 8 {
		t.Errorf("fan has %d commands, want 8 (one per item; requeues reuse the command)", got)
	}
	raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("done-%d.txt", id)))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(raw))
	sort.Strings(lines)
	if strings.Join(lines, ",") != "0,1,2,3,4,5,6,7" {
		t.Errorf("iterations that ran to completion: %v, want each of 0..7 once", lines)
	}
}

// runningBy counts commands a worker reported started and has not finished.
func runningBy(log []scripted.Event, worker string) int {
	ix := indexLog(log)
	n := 0
	for _, ev := range log {
		if ev.EventType == scripted.TypeCommandStarted && workerOf(ev) == worker {
			id, _ := scripted.Path(ev.Result, "context", "command_id")
			if len(ix.terminals[scripted.IDString(id)]) == 0 {
				n++
			}
		}
	}
	return n
}

const longPythonPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_long_python
  path: e2e/worker/long_python
workflow:
  - step: start
    tool:
      kind: python
      code: |
        import time
        time.sleep(10)
        result = {"slept": 10}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: after
  - step: after
    tool:
      kind: noop
      result:
        slept: "{{ start.slept }}"
`

// SIGTERM while a 10-second python step runs: the worker stops taking work (its
// readiness fails at once), lets the step finish, reports it, deregisters and exits 0.
// The next step waits for another worker.
func TestWorkerSIGTERMFinishesTheStep(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	w1 := s.StartWorker(t, map[string]string{"NOETL_SHUTDOWN_TIMEOUT": "90s"})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := startRun(ctx, t, c, longPythonPlaybook, "e2e/worker/long_python", nil)
	waitLog(ctx, t, c, id, "the python step running", func(log []scripted.Event) bool { return runningBy(log, w1.ID) == 1 })
	signalled := time.Now()
	if err := w1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// While it drains, the worker is not ready.
	if !eventually(10*time.Second, func() bool { return w1.readyz() == http.StatusServiceUnavailable }) {
		t.Errorf("the draining worker still reports ready")
	}
	select {
	case <-w1.done:
	case <-ctx.Done():
		t.Fatalf("the worker did not exit\n%s", tail(w1.Output(), 30))
	}
	if w1.err != nil {
		t.Fatalf("the worker exited with %v\n%s", w1.err, tail(w1.Output(), 30))
	}
	t.Logf("exited %s after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	// Read after the exit: whatever is there was posted by the process before it ended.
	log, err := c.log(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ix := indexLog(log)
	start := ix.issued["start"]
	if len(start) != 1 {
		t.Fatalf("start has %d commands\n%s", len(start), describeLog(log))
	}
	terms := ix.terminals[start[0].CommandID()]
	if len(terms) != 1 || terms[0].EventType != scripted.TypeCommandCompleted || workerOf(terms[0]) != w1.ID {
		t.Fatalf("the step was not reported completed by the stopping worker\n%s", describeLog(log))
	}
	for _, ev := range log {
		if ev.NodeName == "after" && ev.EventType == scripted.TypeCommandClaimed {
			t.Fatalf("the stopping worker took new work\n%s", describeLog(log))
		}
	}
	// Deregistered: the row is gone (or offline), so nothing it held waits for it.
	if st := workerStatus(ctx, t, c, w1.ID); st != "" && st != "offline" {
		t.Errorf("the stopped worker's registry row is %q, want it deregistered", st)
	}
	w2 := s.StartWorker(t, nil)
	log = waitCompleted(ctx, t, c, id, "e2e/worker/long_python")
	for _, ev := range log {
		if ev.NodeName == "after" && ev.EventType == scripted.TypeCommandClaimed && workerOf(ev) != w2.ID {
			t.Errorf("after was claimed by %s, want the second worker", workerOf(ev))
		}
	}
}

// SIGTERM with a short grace period while a long step runs: the worker stops the step,
// reports nothing for it, deregisters and exits; the control plane makes the command
// claimable again and another worker runs it to completion, once.
func TestWorkerHandsBackPastGrace(t *testing.T) {
	s := StartSuite(t, SuiteOptions{APIExtra: map[string]string{
		"NOETL_RUNTIME_SWEEP_INTERVAL": "1", "NOETL_RUNTIME_OFFLINE_SECONDS": "6",
	}})
	w1 := s.StartWorker(t, map[string]string{"NOETL_SHUTDOWN_TIMEOUT": "1s", "WORKER_HEARTBEAT_INTERVAL": "1s"})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := startRun(ctx, t, c, longPythonPlaybook, "e2e/worker/long_python", nil)
	waitLog(ctx, t, c, id, "the python step running", func(log []scripted.Event) bool { return runningBy(log, w1.ID) == 1 })
	if err := w1.Stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("the worker did not stop cleanly: %v\n%s", err, tail(w1.Output(), 30))
	}
	if !strings.Contains(w1.Output(), "handed back") {
		t.Errorf("the worker did not say it handed the command back\n%s", tail(w1.Output(), 30))
	}
	s.StartWorker(t, map[string]string{"WORKER_HEARTBEAT_INTERVAL": "1s"})
	log := waitCompleted(ctx, t, c, id, "e2e/worker/long_python")
	ix := indexLog(log)
	start := ix.issued["start"][0]
	terms := ix.terminals[start.CommandID()]
	if len(terms) != 1 || workerOf(terms[0]) == w1.ID {
		t.Fatalf("start should end once, by the second worker\n%s", describeLog(log))
	}
	requeued := false
	for _, ev := range log {
		requeued = requeued || ev.EventType == "command.requeued"
	}
	if !requeued {
		t.Errorf("the handed-back command was not requeued\n%s", describeLog(log))
	}
}

// workerStatus is a worker's registry status.
func workerStatus(ctx context.Context, t *testing.T, c *rtClient, name string) string {
	t.Helper()
	v, err := c.doJSON(ctx, http.MethodGet, "/api/worker/pools?name="+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range listEntries(v) {
		if mapGet(row, "name") == name {
			s, _ := mapGet(row, "status").(string)
			return s
		}
	}
	return ""
}

const sequentialPythonPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_sequential_python
  path: e2e/worker/sequential_python
workload:
  items: [1, 2, 3, 4, 5, 6]
workflow:
  - step: start
    tool:
      kind: noop
    next:
      spec: {mode: exclusive}
      arcs:
        - step: each
  - step: each
    loop:
      in: "{{ workload.items }}"
      iterator: n
    tool:
      kind: python
      input:
        n: "{{ iter.n }}"
      code: |
        import time
        time.sleep(0.5)
        result = {"square": n * n}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
      result:
        squares: "{{ each.results | map(attribute='square') | list }}"
`

// NATS stops while a playbook runs and comes back on the same port and store: the
// worker waits it out, the api's outbox publishes what piled up, and the execution
// completes with every command run once.
func TestWorkerSurvivesNATSRestart(t *testing.T) {
	n := testkit.StartNATS(t)
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{"NATS_URL": n.URL()}})
	w := s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := startRun(ctx, t, c, sequentialPythonPlaybook, "e2e/worker/sequential_python", nil)
	waitLog(ctx, t, c, id, "the loop's second iteration", func(log []scripted.Event) bool { return len(indexLog(log).issued["each"]) >= 2 })
	n.Stop()
	if !eventually(30*time.Second, func() bool { return w.readyz() == http.StatusServiceUnavailable }) {
		t.Errorf("the worker did not notice NATS going away")
	}
	n.Restart()
	log := waitCompleted(ctx, t, c, id, "e2e/worker/sequential_python")
	ix := indexLog(log)
	if got := len(ix.issued["each"]); got != 6 {
		t.Errorf("each has %d commands, want 6", got)
	}
	for step, issued := range ix.issued {
		for _, is := range issued {
			if k := len(ix.terminals[is.CommandID()]); k != 1 {
				t.Errorf("command %s of %s has %d terminal events", is.CommandID(), step, k)
			}
		}
	}
	if squares := mapGet(stepData(log, "end"), "squares"); jsonText(squares) != "[1,4,9,16,25,36]" {
		t.Errorf("end saw squares %s\n%s", jsonText(squares), describeLog(log))
	}
}

// workerOf is the worker_id column of an event.
func workerOf(ev scripted.Event) string {
	s, _ := ev.Raw["worker_id"].(string)
	return s
}
