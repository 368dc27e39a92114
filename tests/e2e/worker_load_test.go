package e2e

import "context"
import "fmt"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/tests/e2e/scripted"

const wideChildPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_wide_child
  path: e2e/worker/wide_child
workload:
  x: 0
workflow:
  - step: start
    tool:
      kind: noop
      result:
        y: "{{ workload.x }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
`

const wideParentPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_wide_parent
  path: e2e/worker/wide_parent
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
      in: 24
      iterator: i
      spec:
        mode: parallel
    tool:
      kind: playbook
      path: e2e/worker/wide_child
      return_step: start
      timeout: 600
      args:
        x: "{{ iter.i }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
      result:
        total: "{{ fan.stats.total }}"
        ok: "{{ fan.stats.success }}"
`

// A worker with one slot and a parallel loop of playbook steps far wider than 16 (the
// bound on waiting steps per slot there was): every parent gives its slot back while it
// waits, so the children run and the loop completes. Before, the 17th parent kept the
// only slot while it waited, and nothing moved until the steps timed out (600 s here).
func TestWorkerSmallPoolWideLoopOfChildren(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, map[string]string{"WORKER_MAX_CONCURRENT": "1", "NOETL_LOG_LEVEL": "info"})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := c.register(ctx, wideChildPlaybook); err != nil {
		t.Fatal(err)
	}
	id := startRun(ctx, t, c, wideParentPlaybook, "e2e/worker/wide_parent", nil)
	log := waitCompleted(ctx, t, c, id, "e2e/worker/wide_parent")
	if got := jsonText(stepData(log, "end")); got != `{"ok":24,"total":24}` {
		t.Fatalf("end %s, want every one of the 24 children's steps to succeed", got)
	}
}

// outcomePlaybook runs the tool given (YAML lines under "tool:") as its first step.
const outcomePlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: worker_refused_outcome_%[1]d
  path: e2e/worker/refused_outcome_%[1]d
workflow:
  - step: start
    tool:
%[2]s
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
`

// Outcomes the control plane cannot take end the run FAILED, saying why, instead of
// being run and refused again for ever with the execution left RUNNING: a NUL character
// in a result (PostgreSQL cannot store it: 422), and an error text of
// megabytes (twice in one batch it was over the 2 MiB body limit: 413), which is now
// cut to 16 KiB so the error itself arrives.
func TestWorkerOutcomesTheControlPlaneCannotStore(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, map[string]string{"NOETL_LOG_LEVEL": "info"})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tests := []struct {
		name string
		tool string
		want []string // in the step's error
	}{
		{"a NUL in a python result", "      kind: python\n      code: |\n        result = {'s': 'a\\x00b'}",
			[]string{"the control plane refused the step's outcome", "HTTP 422", "NUL"}},
		{"an exception message of 3 MB", "      kind: python\n      code: |\n        raise ValueError('x' * 3000000)",
			[]string{"Python script exited with code 1: ValueError: xxxx", "[error truncated: "}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := fmt.Sprintf("e2e/worker/refused_outcome_%d", i)
			id := startRun(ctx, t, c, fmt.Sprintf(outcomePlaybook, i, tc.tool), path, nil)
			log := waitTerminal(ctx, t, c, id)
			if st := c.statuses(ctx, id, path); st.Detail != "FAILED" {
				t.Fatalf("status %+v, want FAILED\n%s", st, describeLog(log))
			}
			var msg string
			runs := 0
			for _, ev := range log {
				if ev.NodeName != "start" {
					continue
				}
				switch ev.EventType {
				case "command.failed":
					msg, _ = ev.Error.(string)
				case scripted.TypeCommandStarted:
					runs++
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("start's error %q lacks %q", clip(msg, 300), w)
				}
			}
			if len(msg) > 20<<10 || runs != 1 {
				t.Errorf("start ran %d times, its error is %d bytes; want once and at most about 16 KiB", runs, len(msg))
			}
		})
	}
}

// A NUL byte in a shell step's output (find -print0, a binary tool) reaches its data as
// {base64, size}, as output that is not UTF-8 does: as text the control plane could not
// store it, and the step failed.
func TestWorkerShellOutputWithNUL(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, map[string]string{"NOETL_LOG_LEVEL": "info"})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := "e2e/worker/refused_outcome_9"
	id := startRun(ctx, t, c, fmt.Sprintf(outcomePlaybook, 9, "      kind: shell\n      command: printf 'a\\000b'"), path, nil)
	log := waitCompleted(ctx, t, c, id, path)
	if got := jsonText(mapGet(stepData(log, "start"), "stdout")); got != `{"base64":"YQBi","size":3}` {
		t.Fatalf("start's stdout %s, want the three bytes as base64", got)
	}
}
