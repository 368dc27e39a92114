package engine

import "strings"
import "testing"

// A template of a step's own definition that does not evaluate (its when, loop, tool,
// set or an arc) fails that step as a tool failure would: phase failed, the error on
// the step, a step.exit with status FAILED in the log, and the step in the run's
// failed_steps. It used to leave the step to be closed out as cancelled with the run,
// so the status route counted no failed step (docs/engine.md, "Failure and the end of
// a run").
func TestTemplateErrorFailsItsStep(t *testing.T) {
	t.Parallel()
	head := "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: evalfail\n  path: tests/evalfail\n" +
		"workload:\n  name: ada\n  items: [1, 0, 2]\nworkflow:\n"
	cases := []struct {
		name      string
		steps     string
		worker    map[string]map[string]any
		failed    string   // the step that must be failed
		errSub    string   // in its error
		cancelled []string // steps the end closes out
		completed []string // steps that finished despite the failure
		notRun    []string
	}{
		{
			name: "tool",
			steps: `  - step: start
    tool: {kind: noop}
    next: [bad]
  - step: bad
    tool: {kind: noop, result: {x: "{{ workload.name | nosuchfilter }}"}}
    next: [after]
  - step: after
    tool: {kind: noop}
`,
			failed: "bad", errSub: `unknown filter "nosuchfilter"`, completed: []string{"start"}, notRun: []string{"bad", "after"},
		},
		{
			name: "tool under on_error continue",
			steps: `  - step: start
    tool: {kind: noop}
    next: [bad]
  - step: bad
    spec: {on_error: continue}
    tool: {kind: noop, result: {x: "{{ workload.name + 1 }}"}}
    next: [after]
  - step: after
    tool: {kind: noop}
`,
			failed: "bad", errSub: "step 'bad' tool", completed: []string{"start"}, notRun: []string{"bad", "after"},
		},
		{
			name: "step when",
			steps: `  - step: start
    tool: {kind: noop}
    next: [bad]
  - step: bad
    when: "{{ workload.name | nosuchfilter }}"
    tool: {kind: noop}
    next: [after]
  - step: after
    tool: {kind: noop}
`,
			failed: "bad", errSub: "step 'bad' when", completed: []string{"start"}, notRun: []string{"bad", "after"},
		},
		{
			name: "loop in",
			steps: `  - step: start
    tool: {kind: noop}
    next: [bad]
  - step: bad
    loop: {in: "{{ workload.items | nosuchfilter }}", iterator: n}
    tool: {kind: noop}
    next: [after]
  - step: after
    tool: {kind: noop}
`,
			failed: "bad", errSub: "loop step 'bad'", completed: []string{"start"}, notRun: []string{"bad", "after"},
		},
		{
			name: "arc when of a completed step",
			steps: `  - step: start
    tool: {kind: noop}
    next:
      - step: after
        when: "{{ workload.name - 1 > 0 }}"
  - step: after
    tool: {kind: noop}
`,
			failed: "start", errSub: "step 'start' arc to 'after': when", notRun: []string{"after"},
		},
		{
			name: "arc args",
			steps: `  - step: start
    tool: {kind: noop}
    next:
      - step: after
        args: {x: "{{ workload.name | nosuchfilter }}"}
  - step: after
    tool: {kind: noop}
`,
			failed: "start", errSub: "step 'start' arc to 'after': args", notRun: []string{"after"},
		},
		{
			name: "step set",
			steps: `  - step: start
    tool: {kind: noop}
    set:
      ctx.x: "{{ workload.name | nosuchfilter }}"
    next: [after]
  - step: after
    tool: {kind: noop}
`,
			failed: "start", errSub: "step 'start' set", notRun: []string{"after"},
		},
		{
			name: "arcs of a skipped step",
			steps: `  - step: start
    tool: {kind: noop}
    next: [gate]
  - step: gate
    when: "{{ false }}"
    tool: {kind: noop}
    next:
      - step: after
        when: "{{ workload.name | nosuchfilter }}"
  - step: after
    tool: {kind: noop}
`,
			failed: "gate", errSub: "step 'gate' arc to 'after'", completed: []string{"start"}, notRun: []string{"gate", "after"},
		},
		{
			// Iteration 1 does not render while iteration 0 is out: the loop issues no
			// more, iteration 0 drains, and the step ends failed, not cancelled.
			name: "loop iteration with another in flight",
			steps: `  - step: start
    tool: {kind: noop}
    next: [bad]
  - step: bad
    loop: {in: "{{ workload.items }}", iterator: n, mode: parallel}
    tool: {kind: noop, result: {x: "{{ 10 // n }}"}}
    next: [after]
  - step: after
    tool: {kind: noop}
`,
			failed: "bad", errSub: "step 'bad' tool", completed: []string{"start"}, notRun: []string{"after"},
		},
		{
			// A branch running beside the failed step drains; a loop that still had
			// iterations to issue is closed out as cancelled, as before.
			name: "other branches",
			steps: `  - step: start
    tool: {kind: noop}
    next: [slow, seq, bad]
  - step: slow
    tool: {kind: noop}
  - step: seq
    loop: {in: "{{ workload.items }}", iterator: n}
    tool: {kind: noop}
  - step: bad
    tool: {kind: noop, result: {x: "{{ workload.name | nosuchfilter }}"}}
`,
			failed: "bad", errSub: `unknown filter "nosuchfilter"`, completed: []string{"start", "slow"},
			cancelled: []string{"seq"}, notRun: []string{"bad"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pb := mustParse(t, head+tc.steps)
			r := runSim(t, pb, expectedRun{Worker: tc.worker})
			if r.st.Status != StatusFailed {
				t.Fatalf("status %s, want FAILED", r.st.Status)
			}
			st := r.st.Steps[tc.failed]
			if st == nil || st.Phase != PhaseFailed || !strings.Contains(st.Error, tc.errSub) {
				t.Fatalf("step %s = %+v, want phase failed with an error containing %q", tc.failed, st, tc.errSub)
			}
			var exits []Event
			for _, ev := range r.log {
				if ev.Type == TypeStepExit && ev.Step == tc.failed {
					exits = append(exits, ev)
				}
				if ev.Type == TypeStepCancelled && ev.Step == tc.failed {
					t.Errorf("%s has a step.cancelled: %+v", tc.failed, ev)
				}
			}
			if len(exits) != 1 || exits[0].Status != StatusFailed || exits[0].Meta["reason"] != ReasonEvaluateError ||
				!strings.Contains(ErrorText(exits[0]), tc.errSub) {
				t.Errorf("step.exit of %s = %+v, want one FAILED with reason %s and the error", tc.failed, exits, ReasonEvaluateError)
			}
			end := r.log[len(r.log)-1]
			if end.Type != TypePlaybookFailed || end.Meta["reason"] != ReasonEvaluateError {
				t.Fatalf("last event %s %+v, want playbook.failed (evaluate_error)", end.Type, end.Meta)
			}
			if fs, _ := end.Meta["failed_steps"].([]any); len(fs) != 1 || fs[0] != tc.failed {
				t.Errorf("failed_steps = %v, want [%s]", end.Meta["failed_steps"], tc.failed)
			}
			p := r.st.Progress()
			if p.Failed != 1 || p.Cancelled != len(tc.cancelled) || p.Running != 0 {
				t.Errorf("progress %+v, want 1 failed, %d cancelled", p, len(tc.cancelled))
			}
			for _, s := range tc.cancelled {
				if ph := r.st.Steps[s].Phase; ph != PhaseCancelled {
					t.Errorf("%s phase %q, want cancelled", s, ph)
				}
			}
			for _, s := range tc.completed {
				if ph := r.st.Steps[s].Phase; ph != PhaseCompleted {
					t.Errorf("%s phase %q, want completed", s, ph)
				}
			}
			for _, s := range tc.notRun {
				if n := len(r.issued(s)); n != 0 {
					t.Errorf("%s issued %d commands", s, n)
				}
			}
		})
	}
}
