package playbook

import "errors"
import "strings"
import "testing"

// on_error is read in one place, a step's spec, with two values. Written anywhere else
// or misspelled it used to be dropped without a word, and the step failed the run the
// user meant it to survive; now the playbook is refused with the path, its line and
// what is accepted.
func TestOnErrorPlacementAndValues(t *testing.T) {
	t.Parallel()
	only := "only a step's 'spec.on_error' is read (continue or fail)"
	cases := []validationCase{
		{"spec.on_error continue", pb("  - step: start\n    spec: {on_error: continue}\n    tool: {kind: noop}\n"), "", 0},
		{"spec.on_error in any case, spaces trimmed", pb("  - step: start\n    spec: {on_error: ' Continue '}\n    tool: {kind: noop}\n"), "", 0},
		{"spec.on_error fail (the default, written out)", pb("  - step: start\n    spec: {on_error: FAIL}\n    tool: {kind: noop}\n"), "", 0},
		{"spec.on_error null", pb("  - step: start\n    spec: {on_error: null}\n    tool: {kind: noop}\n"), "", 0},
		{"other unknown keys stay accepted",
			pb("  - step: start\n    sink: x\n    spec: {policy: {admit: {}}, whatever: 1}\n    tool: {kind: noop, spec: {policy: {rules: []}}, extra: 1}\n    next:\n      spec: {mode: inclusive, note: x}\n      arcs: [{step: start, spec: {x: 1}}]\n"), "", 0},

		{"misspelled value", pb(okStart + "  - step: risky\n    spec:\n      on_error: contine\n    tool: {kind: noop}\n"),
			"Step 'risky': spec.on_error must be 'continue' or 'fail' (got 'contine')", 11},
		{"a boolean value", pb("  - step: start\n    spec: {on_error: true}\n    tool: {kind: noop}\n"),
			"Step 'start': spec.on_error must be 'continue' or 'fail' (got 'true')", 8},
		{"step top level", pb(okStart + "  - step: risky\n    on_error: continue\n    tool: {kind: noop}\n"),
			"Step 'risky': 'on_error' is not allowed at 'workflow[1].on_error': " + only, 10},
		{"next.spec", pb("  - step: start\n    tool: {kind: noop}\n    next:\n      spec: {mode: exclusive, on_error: continue}\n      arcs: [{step: start}]\n"),
			"Step 'start': 'on_error' is not allowed at 'workflow[0].next.spec.on_error': " + only, 10},
		{"an arc's spec", pb("  - step: start\n    tool: {kind: noop}\n    next:\n      arcs:\n        - step: start\n          spec:\n            on_error: continue\n"),
			"Step 'start': 'on_error' is not allowed at 'workflow[0].next.arcs[0].spec.on_error': " + only, 13},
		{"an arc", pb("  - step: start\n    tool: {kind: noop}\n    next:\n      - step: start\n        on_error: continue\n"),
			"Step 'start': 'on_error' is not allowed at 'workflow[0].next[0].on_error': " + only, 11},
		{"the router", pb("  - step: start\n    tool: {kind: noop}\n    next:\n      on_error: continue\n      arcs: [{step: start}]\n"),
			"Step 'start': 'on_error' is not allowed at 'workflow[0].next.on_error': " + only, 10},
		{"the tool", pb("  - step: start\n    tool:\n      kind: noop\n      on_error: continue\n"),
			"Step 'start': 'on_error' is not allowed at 'workflow[0].tool.on_error': " + only, 10},
		{"the tool's spec", pb("  - step: start\n    tool:\n      kind: noop\n      spec: {on_error: continue}\n"),
			"Step 'start': 'on_error' is not allowed at 'workflow[0].tool.spec.on_error': " + only, 10},
		{"a pipeline task", pb("  - step: start\n    tool:\n      - a:\n          kind: noop\n          spec: {on_error: continue}\n"),
			"Step 'start': 'on_error' is not allowed at 'workflow[0].tool[0].a.spec.on_error': " + only, 11},
		{"a flat pipeline task", pb("  - step: start\n    tool:\n      - name: a\n        kind: noop\n        on_error: continue\n"),
			"Step 'start': 'on_error' is not allowed at 'workflow[0].tool[0].on_error': " + only, 11},
		{"the loop's spec", pb("  - step: start\n    loop: {in: \"{{ xs }}\", iterator: x, spec: {mode: parallel, on_error: continue}}\n    tool: {kind: noop}\n"),
			"Step 'start': 'on_error' is not allowed at 'workflow[0].loop.spec.on_error': " + only, 8},
		{"the playbook", strings.Replace(pb(okStart), "workflow:", "on_error: continue\nworkflow:", 1),
			"'on_error' is not allowed at 'on_error': " + only, 6},
		{"the playbook's spec", strings.Replace(pb(okStart), "workflow:", "spec:\n  on_error: continue\nworkflow:", 1),
			"'on_error' is not allowed at 'spec.on_error': " + only, 7},
		{"a workbook entry's tool", header + "workbook:\n  - name: w\n    tool: {kind: noop, on_error: continue}\nworkflow:\n  - step: start\n    tool: {kind: workbook, name: w}\n",
			"'on_error' is not allowed at 'workbook[0].tool.on_error': " + only, 8},
	}
	checkValidationCases(t, cases)
}

// checkValidation parses src and checks that it is accepted (msg "") or refused with a
// *ValidationError of exactly msg at line.
// validationCase is a playbook and what Parse says of it: msg "" when it is accepted,
// else the validation message and the line it names.
type validationCase struct {
	name, src, msg string
	line           int
}

// checkValidationCases runs checkValidation on each case, in parallel.
func checkValidationCases(t *testing.T, cases []validationCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, c.src, c.msg, c.line)
		})
	}
}

func checkValidation(t *testing.T, src, msg string, line int) {
	t.Helper()
	p, err := Parse([]byte(src))
	if msg == "" {
		if err != nil {
			t.Fatalf("refused: %v\n%s", err, src)
		}
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %T: %v (parsed %v)", err, err, p != nil)
	}
	if ve.Msg != msg || ve.Line != line {
		t.Fatalf("got line %d: %s\nwant line %d: %s", ve.Line, ve.Msg, line, msg)
	}
}

// A playbook that breaks an upstream rule as well gets upstream's message: the on_error
// checks run last.
func TestOnErrorCheckedAfterUpstreamRules(t *testing.T) {
	t.Parallel()
	src := pb("  - step: start\n    on_error: continue\n    tool: {kind: noop}\n    next: nowhere\n")
	_, err := Parse([]byte(src))
	if err == nil || err.Error() != "Step 'start' references unknown step 'nowhere' in next" {
		t.Fatalf("got %v", err)
	}
}
