package playbook

import "testing"
import "time"

import "github.com/noetl/controlplane/shared/timeouts"

// A step's spec.timeout and a tool's timeout bound the step on the worker. A value the
// worker could not read used to be parsed and ignored, so the step ran unbounded; now
// the playbook is refused with the path, its line and the accepted formats.
func TestTimeoutValidation(t *testing.T) {
	t.Parallel()
	format := "must be " + timeouts.Format
	cases := []validationCase{
		{"spec.timeout in seconds", pb("  - step: start\n    spec: {timeout: 30}\n    tool: {kind: noop}\n"), "", 0},
		{"spec.timeout fractional seconds", pb("  - step: start\n    spec: {timeout: 0.5}\n    tool: {kind: noop}\n"), "", 0},
		{"spec.timeout duration", pb("  - step: start\n    spec: {timeout: 5m}\n    tool: {kind: noop}\n"), "", 0},
		{"spec.timeout seconds as text", pb("  - step: start\n    spec: {timeout: '45'}\n    tool: {kind: noop}\n"), "", 0},
		{"tool timeout", pb("  - step: start\n    tool: {kind: python, code: 'x', timeout: 1h30m}\n"), "", 0},
		{"tool timeout template", pb("  - step: start\n    tool: {kind: http, url: x, timeout: '{{ workload.t }}'}\n"), "", 0},
		{"pipeline task timeout", pb("  - step: start\n    tool:\n      - a: {kind: noop, timeout: 10}\n"), "", 0},

		{"spec.timeout word", pb(okStart + "  - step: slow\n    spec:\n      timeout: soon\n    tool: {kind: noop}\n"),
			"Step 'slow': 'workflow[1].spec.timeout' " + format + `, got "soon"`, 11},
		{"spec.timeout zero", pb("  - step: start\n    spec: {timeout: 0}\n    tool: {kind: noop}\n"),
			"Step 'start': 'workflow[0].spec.timeout' must be positive, got 0", 8},
		{"spec.timeout negative duration", pb("  - step: start\n    spec: {timeout: -5s}\n    tool: {kind: noop}\n"),
			`Step 'start': 'workflow[0].spec.timeout' must be positive, got "-5s"`, 8},
		{"spec.timeout boolean", pb("  - step: start\n    spec: {timeout: true}\n    tool: {kind: noop}\n"),
			"Step 'start': 'workflow[0].spec.timeout' " + format + ", got a boolean", 8},
		{"spec.timeout template", pb("  - step: start\n    spec: {timeout: '{{ workload.t }}'}\n    tool: {kind: noop}\n"),
			"Step 'start': 'workflow[0].spec.timeout' " + format + `, got "{{ workload.t }}"`, 8},
		{"tool timeout unit misspelled", pb("  - step: start\n    tool:\n      kind: shell\n      command: ls\n      timeout: 5 minutes\n"),
			"Step 'start': 'workflow[0].tool.timeout' " + format + `, got "5 minutes"`, 11},
		{"pipeline task timeout", pb("  - step: start\n    tool:\n      - a:\n          kind: noop\n          timeout: -1\n"),
			"Step 'start': 'workflow[0].tool[0].a.timeout' must be positive, got -1", 11},
		{"flat pipeline task timeout", pb("  - step: start\n    tool:\n      - name: a\n        kind: noop\n        timeout: [1]\n"),
			"Step 'start': 'workflow[0].tool[0].timeout' " + format + ", got a list", 11},
		{"workbook tool timeout", header + "workbook:\n  - name: w\n    tool: {kind: noop, timeout: never}\nworkflow:\n  - step: start\n    tool: {kind: workbook, name: w}\n",
			"'workbook[0].tool.timeout' " + format + `, got "never"`, 8},
	}
	checkValidationCases(t, cases)
}

func TestStepSpecBound(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(pb("  - step: start\n    spec: {timeout: 2m}\n    tool: {kind: noop}\n    next: [{step: other}]\n  - step: other\n    tool: {kind: noop}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := p.Step("start").Spec.Bound(); !ok || d != 2*time.Minute {
		t.Fatalf("start: Bound() = %v, %v; want 2m, true", d, ok)
	}
	if d, ok := p.Step("other").Spec.Bound(); ok {
		t.Fatalf("other: Bound() = %v, true; want none", d)
	}
}
