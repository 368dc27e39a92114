package playbook

import "errors"
import "fmt"
import "reflect"
import "strings"
import "testing"

const header = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: t\n  path: tests/t\n"

// pb builds a playbook from a header and a workflow body (steps indented by two).
func pb(workflow string) string { return header + "workflow:\n" + workflow }

const okStart = "  - step: start\n    tool: {kind: noop}\n"

// TestValidationMessages: every validation message, each with the playbook that
// triggers it. Messages marked upstream are byte-identical to upstream's.
func TestValidationMessages(t *testing.T) {
	t.Parallel()
	valid := `["continue", "retry", "break", "jump", "fail"]`
	cases := []struct {
		name string
		src  string
		msg  string
	}{
		{"case block (upstream)", pb(okStart + "  - step: old\n    case: []\n    tool: {kind: noop}\n"),
			"Step 'old': 'case' blocks are not allowed in canonical format. Use 'step.when' for enable guards and 'next[].when' for conditional routing. For pipelines, use 'tool: [- label: {kind: ...}]' directly on the step."},
		{"case block without a name (upstream)", pb(okStart + "  - case: []\n"),
			"Step 'workflow[1]': 'case' blocks are not allowed in canonical format. Use 'step.when' for enable guards and 'next[].when' for conditional routing. For pipelines, use 'tool: [- label: {kind: ...}]' directly on the step."},
		{"api version (upstream)", strings.Replace(pb(okStart), "noetl.io/v2", "noetl.io/v10", 1),
			"Unsupported API version: noetl.io/v10. Expected noetl.io/v2"},
		{"missing api version (upstream)", strings.Replace(pb(okStart), "apiVersion: noetl.io/v2\n", "", 1),
			"Unsupported API version: . Expected noetl.io/v2"},
		{"kind (upstream)", strings.Replace(pb(okStart), "kind: Playbook", "kind: Workflow", 1),
			"Invalid kind: Workflow. Expected Playbook"},
		{"metadata name", strings.Replace(pb(okStart), "  name: t\n", "", 1),
			"Playbook metadata.name is required"},
		{"step without a name", pb(okStart + "  - tool: {kind: noop}\n"),
			"workflow[1]: the step name ('step:') is required"},
		{"missing start (upstream)", pb("  - step: begin\n    tool: {kind: noop}\n"),
			"Workflow must have a step named 'start'"},
		{"no workflow at all (upstream)", header,
			"Workflow must have a step named 'start'"},
		{"duplicate step (upstream)", pb(okStart + "  - step: a\n    tool: {kind: noop}\n  - step: a\n    tool: {kind: noop}\n"),
			"Duplicate step name: a"},
		{"step without tool", pb(okStart + "  - step: route\n    next: start\n"),
			"Step 'route': 'tool' is required (a routing-only step uses 'tool: {kind: noop}')"},
		{"empty pipeline (upstream)", pb("  - step: start\n    tool: []\n"),
			"Step 'start': tool pipeline must have at least one task"},
		{"pipeline item with two labels (upstream)", pb("  - step: start\n    tool:\n      - a: {kind: noop}\n        b: {kind: noop}\n"),
			"Step 'start': pipeline task[0] must have exactly one labeled entry (got 2)"},
		{"pipeline item with no label (upstream)", pb("  - step: start\n    tool:\n      - a: {kind: noop}\n      - {}\n"),
			"Step 'start': pipeline task[1] must have exactly one labeled entry (got 0)"},
		{"tool without kind", pb("  - step: start\n    tool: {code: x}\n"),
			"Step 'start': tool has no 'kind'"},
		{"unknown tool kind", pb("  - step: start\n    tool: {kind: mcp}\n"),
			"Step 'start': tool has unknown kind 'mcp'. Valid: [" + strings.Join(ToolKinds, ", ") + "]"},
		{"pipeline task without kind", pb("  - step: start\n    tool:\n      - a: {code: x}\n"),
			"Step 'start': pipeline task[0] 'a' has no 'kind'"},
		{"eval invalid expression (upstream)", pb("  - step: start\n    tool:\n      kind: noop\n      eval:\n        - expr: \"{'a': 1}\"\n          do: retry\n"),
			"Step 'start': eval[0] has invalid expression: {'a': 1}"},
		{"eval invalid action (upstream)", pb("  - step: start\n    tool:\n      kind: noop\n      eval:\n        - expr: \"{{ x }}\"\n          do: explode\n"),
			"Step 'start': eval[0] has invalid action 'explode'. Valid: " + valid},
		{"eval else invalid action (upstream)", pb("  - step: start\n    tool:\n      kind: noop\n      eval:\n        - expr: ok\n          do: continue\n        - else: {do: nope}\n"),
			"Step 'start': eval[1] else has invalid action 'nope'. Valid: " + valid},
		{"pipeline eval invalid expression (upstream)", pb("  - step: start\n    tool:\n      - t1:\n          kind: noop\n          eval: [{expr: \"\", do: fail}]\n"),
			"Step 'start': tool[].t1.eval[0] has invalid expression: "},
		{"pipeline eval invalid action (upstream)", pb("  - step: start\n    tool:\n      - t1:\n          kind: noop\n          eval: [{do: loop}]\n"),
			"Step 'start': tool[].t1.eval[0] has invalid action 'loop'. Valid: " + valid},
		{"pipeline eval else invalid action (upstream)", pb("  - step: start\n    tool:\n      - t1:\n          kind: noop\n          eval: [{else: {do: x}}]\n"),
			"Step 'start': tool[].t1.eval[0] else has invalid action 'x'. Valid: " + valid},
		{"loop.in invalid (upstream)", pb("  - step: start\n    loop: {in: \"{'a': 1}\", iterator: x}\n    tool: {kind: noop}\n"),
			"Step 'start': loop.in has invalid expression: {'a': 1}"},
		{"loop.in missing (upstream message)", pb("  - step: start\n    loop: {iterator: x}\n    tool: {kind: noop}\n"),
			"Step 'start': loop.in has invalid expression: (empty; loop.in is required: a list, or a template that renders to one)"},
		{"loop.in empty text", pb("  - step: start\n    loop: {in: \"  \", iterator: x}\n    tool: {kind: noop}\n"),
			"Step 'start': loop.in has invalid expression: (empty; loop.in is required: a list, or a template that renders to one)"},
		{"loop.iterator empty (upstream)", pb("  - step: start\n    loop: {in: \"{{ xs }}\"}\n    tool: {kind: noop}\n"),
			"Step 'start': loop.iterator must not be empty"},
		{"loop mode", pb("  - step: start\n    loop: {in: \"{{ xs }}\", iterator: x, spec: {mode: cursor}}\n    tool: {kind: noop}\n"),
			"Step 'start': loop.spec.mode must be 'sequential' or 'parallel' (got 'cursor')"},
		{"router mode unknown", pb("  - step: start\n    tool: {kind: noop}\n    next:\n      spec: {mode: all}\n      arcs: [{step: start}]\n"),
			"Step 'start': next.spec.mode must be 'exclusive' or 'inclusive' (got 'all')"},
		{"next_mode unknown", pb("  - step: start\n    tool: {kind: noop}\n    spec: {next_mode: inclusve}\n"),
			"Step 'start': spec.next_mode must be 'exclusive' or 'inclusive' (got 'inclusve')"},
		{"when invalid (upstream)", pb("  - step: start\n    when: \"{'a': 1}\"\n    tool: {kind: noop}\n"),
			"Step 'start': invalid 'when' expression: {'a': 1}"},
		{"unknown next target, single (upstream)", pb(okStart + "    next: nowhere\n"),
			"Step 'start' references unknown step 'nowhere' in next"},
		{"unknown next target, list (upstream)", pb(okStart + "    next: [start, nowhere]\n"),
			"Step 'start' references unknown step 'nowhere' in next"},
		{"unknown next target, targets (upstream)", pb(okStart + "    next: [{step: nowhere, when: \"{{ x }}\"}]\n"),
			"Step 'start' references unknown step 'nowhere' in next"},
		{"unknown next target, router (upstream)", pb(okStart + "    next:\n      spec: {mode: exclusive}\n      arcs: [{step: end}]\n"),
			"Step 'start' references unknown step 'end' in next.arcs"},
		{"arc when invalid, targets (upstream)", pb(okStart + "    next: [{step: start, when: \"{'a': 1}\"}]\n"),
			"Step 'start': next[].when has invalid expression: {'a': 1}"},
		{"arc when invalid, router (upstream)", pb(okStart + "    next:\n      arcs: [{step: start, when: \"\"}]\n"),
			"Step 'start': next.arcs[].when has invalid expression: "},
		{"arc without step", pb(okStart + "    next:\n      arcs: [{when: \"{{ x }}\"}]\n"),
			"Step 'start': next.arcs[0] has no 'step' target"},
		{"legacy when/then next", pb(okStart + "    next: [{when: \"{{ x }}\", then: [start]}]\n"),
			"Step 'start': next[0] has no 'step' target"},
		{"workbook without name (upstream)", pb("  - step: start\n    tool: {kind: workbook}\n"),
			"Step 'start': tool.kind=workbook requires a 'name' field referencing a workbook action"},
		{"workbook action not found (upstream)", header + "workbook:\n  - name: a\n    tool: {kind: noop}\n  - name: b\n    tool: {kind: noop}\nworkflow:\n  - step: start\n    tool: {kind: workbook, name: c}\n",
			"Step 'start': workbook action 'c' not found in playbook.workbook[] (available: [a, b])"},
		{"workbook action not found, empty workbook (upstream)", pb("  - step: start\n    tool: {kind: workbook, name: c}\n"),
			"Step 'start': workbook action 'c' not found in playbook.workbook[] (available: [])"},
		{"workbook entry without tool", header + "workbook:\n  - name: a\nworkflow:\n" + okStart,
			"workbook 'a': 'tool' is required"},
		{"workbook entry without name", header + "workbook:\n  - tool: {kind: noop}\nworkflow:\n" + okStart,
			"workbook[0]: 'name' is required"},
		{"keychain without name", header + "keychain:\n  - provider: gcp\nworkflow:\n" + okStart,
			"keychain[0]: 'name' is required"},
		{"keychain residency", header + "keychain:\n  - name: k\n    residency: sometimes\nworkflow:\n" + okStart,
			"keychain 'k': residency must be one of none, advisory, strict (got 'sometimes')"},
		{"keychain unknown provider", header + "keychain:\n  - name: k\n    provider: vaultt\nworkflow:\n" + okStart,
			"keychain 'k': unsupported provider 'vaultt' (supported: gcp, k8s, vault, aws, azure, aws_sts, gcp_iam, azure_oauth)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.src))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %T: %v", err, err)
			}
			if ve.Msg != c.msg || err.Error() != c.msg {
				t.Fatalf("message\n got: %s\nwant: %s", ve.Msg, c.msg)
			}
		})
	}
}

// TestValidationOrder: when a playbook breaks several rules, the first in upstream's
// order is reported.
func TestValidationOrder(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, msg string }{
		// case beats everything, even a wrong apiVersion
		{strings.Replace(pb("  - step: x\n    case: []\n"), "noetl.io/v2", "v1", 1), "Step 'x': 'case' blocks"},
		// workbook resolution runs before validation
		{pb("  - step: nostart\n    tool: {kind: workbook, name: q}\n"), "workbook action 'q' not found"},
		// apiVersion before kind before start
		{strings.Replace(strings.Replace(pb("  - step: x\n    tool: {kind: noop}\n"), "Playbook", "Nope", 1), "noetl.io/v2", "v1", 1), "Unsupported API version"},
		{pb("  - step: x\n    tool: {kind: noop}\n  - step: x\n    tool: {kind: noop}\n"), "Workflow must have a step named 'start'"},
		// per step, in order: tool, loop, when, next
		{pb("  - step: start\n    tool: {kind: bogus}\n    when: \"{bad}\"\n    next: nowhere\n"), "unknown kind 'bogus'"},
		{pb("  - step: start\n    tool: {kind: noop}\n    loop: {in: \"{bad}\", iterator: x}\n    when: \"{bad}\"\n"), "loop.in has invalid"},
		{pb("  - step: start\n    tool: {kind: noop}\n    when: \"{bad}\"\n    next: nowhere\n"), "invalid 'when'"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("got %v, want a message containing %q", err, c.msg)
		}
	}
}

// bigMapping is n mapping entries k00..k<n-1>, indented by two.
func bigMapping(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  k%02d: %d\n", i, i)
	}
	return b.String()
}

// TestParseErrors: YAML and type problems are *ParseError with the line they are on.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"bad indentation", header + "workflow:\n  - step: start\n    tool: {kind: noop}\n   next: x\n", 9, "expected '-' indicator"},
		{"bad indentation deep in a step", header + "workflow:\n  - step: start\n    tool:\n      kind: python\n      code: x\n     bad: 1\n  - step: end\n", 11, "did not find expected key"},
		{"a value that is a mapping", header + "workflow:\n  - step: start\n    tool:\n      code: x: y\n", 9, "mapping values are not allowed"},
		{"a flow list not closed", header + "workflow:\n  - step: start\n    next: [a, b\n  - step: end\n", 9, "did not find expected ',' or ']'"},
		{"an error on the first line", "a: b: c\n", 1, "mapping values are not allowed"},
		{"CR line breaks", "a: 1\rb: 2\rc: d: e\r", 3, "mapping values are not allowed"},
		{"CR LF line breaks", "a: 1\r\nb: 2\r\nc: d: e\r\n", 3, "mapping values are not allowed"},
		{"unicode line breaks", "a: 1\u2028b: 2\u0085c: d: e\n", 3, "mapping values are not allowed"},
		{"a tab on the first line", "\tkind: Playbook\n", 1, "found character that cannot start any token"},
		{"a quoted string not closed", header + "workflow:\n  - step: start\n    tool: {kind: python, code: \"x}\n  - step: end\n", 8, "found unexpected end of stream"},
		{"unclosed flow", header + "workflow:\n  - step: start\n    tool: {kind: noop\n", 0, ""},
		{"tab indentation", header + "workflow:\n\t- step: start\n", 7, ""},
		{"duplicate key", header + "workflow:\n  - step: start\n    tool: {kind: noop}\n    tool: {kind: noop}\n", 9, "already defined at line 8"},
		{"empty", "", 1, "empty"},
		{"duplicate key in a big mapping", header + "workload:\n" + bigMapping(20) + "  k03: again\nworkflow:\n" + okStart, 27, "already defined at line 10"},
		{"duplicate key before a bad value", header + "workload:\n  a: &x [*x]\n  a: 2\nworkflow:\n" + okStart, 8, "already defined at line 7"},
		{"non-scalar key", header + "workload:\n  [a]: 1\nworkflow:\n" + okStart, 7, "mapping keys must be scalars"},
		{"duplicate of a merged key is allowed, own keys are not", header + "workload:\n  <<: {a: 1}\n  a: 2\n  a: 3\nworkflow:\n" + okStart, 9, "already defined at line 8"},
		{"only a comment", "# nothing\n", 1, "empty"},
		{"not a mapping", "- a\n- b\n", 1, "must be a YAML mapping"},
		{"two documents", header + "workflow: []\n---\nkind: x\n", 7, "single YAML document"},
		{"tool is a string", pb("  - step: start\n    tool: python\n"), 8, "'tool' must be a mapping"},
		{"tool is a number", pb("  - step: start\n    tool: 3\n"), 8, "'tool' must be a mapping"},
		{"workflow is a map", header + "workflow:\n  start: {}\n", 6, "'workflow' must be a list"},
		{"step is a string", pb("  - start\n"), 7, "must be a mapping"},
		{"workload is a list", header + "workload: [a, b]\nworkflow:\n" + okStart, 6, "'workload' must be a mapping, got"},
		{"workload is a number", header + "workload: 3\nworkflow:\n" + okStart, 6, "'workload' must be a mapping, got"},
		{"metadata is a list", "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: [a]\n", 3, "'metadata' must be a mapping"},
		{"next is a number", pb(okStart + "    next: 5\n"), 9, "'next' must be a step name"},
		{"next mixed list", pb(okStart + "    next: [start, {step: start}]\n"), 9, "only step names or only"},
		{"arcs not a list", pb(okStart + "    next: {arcs: start}\n"), 9, "'workflow[0].next.arcs' must be a list"},
		{"params is a string", pb("  - step: start\n    tool: {kind: postgres, query: x, params: abc}\n"), 8, "'workflow[0].tool.params' must be a mapping or a list, got"},
		{"headers must be strings", pb("  - step: start\n    tool:\n      kind: http\n      headers: {X-N: [1]}\n"), 10, "must be a string"},
		{"args and input both", pb("  - step: start\n    tool: {kind: python, args: {a: 1}, input: {a: 2}}\n"), 8, "both 'args' and 'input'"},
		{"loop not a map", pb("  - step: start\n    loop: [1]\n    tool: {kind: noop}\n"), 8, "'workflow[0].loop' must be a mapping"},
		{"max_in_flight negative", pb("  - step: start\n    loop: {in: \"{{ x }}\", iterator: i, spec: {max_in_flight: -1}}\n    tool: {kind: noop}\n"), 8, "max_in_flight"},
		{"keychain no_broker_fallback", header + "keychain:\n  - name: k\n    no_broker_fallback: maybe\nworkflow:\n" + okStart, 8, "true or false"},
		{"bad merge", header + "workflow:\n  - <<: 5\n    step: start\n", 7, "merge key"},
		{"null step", header + "workflow:\n  - null\n", 0, "workflow steps must be mappings, got null"},
		{"null keychain entry", header + "keychain:\n  - null\nworkflow:\n" + okStart, 0, "keychain entries must be mappings, got null"},
		{"null workbook entry", header + "workbook:\n  - null\nworkflow:\n" + okStart, 0, "workbook entries must be mappings, got null"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.src))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("want *ParseError, got %T: %v", err, err)
			}
			if c.line != 0 && pe.Line != c.line {
				t.Errorf("line %d, want %d (%v)", pe.Line, c.line, err)
			}
			if c.line == 0 && pe.Line == 0 {
				t.Errorf("no line reported (%v)", err)
			}
			if !strings.Contains(pe.Msg, c.msg) {
				t.Errorf("message %q does not contain %q", pe.Msg, c.msg)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("line %d", pe.Line)) {
				t.Errorf("Error() does not name the line: %v", err)
			}
		})
	}
}

func TestTopLevelAndUnknownKeys(t *testing.T) {
	t.Parallel()
	src := `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: full
  path: examples/full
  description: every section
  version: "3"
  labels: {team: data, tier: 1}
  owner: someone
spec:
  state: kept-but-unused
executor: {profile: local}
vars: {a: 1}
workload:
  n: 3
  big: 9007199254740993
  when_text: 2026-01-02
keychain:
  - name: pg
    kind: secrets
    provider: gcp
    region: " eu-west1 "
    residency: strict
    allowed_regions: [eu-west1, eu-west4]
    no_broker_fallback: true
    auto_renew: true
    credential: "{{ cred }}"
    token_type: bearer
    scope: [a, b]
    auth: workload_identity
    map: {user: "projects/p/secrets/u", password: "projects/p/secrets/{{ env }}-pw"}
    custom_field: 7
  - name: plain
workflow:
  - step: start
    desc: first
    sink: {kind: postgres}
    args: {a: "{{ x }}"}
    input: {b: 2}
    vars: {v: 1}
    spec: {next_mode: inclusive, timeout: 30s, on_error: continue, policy: {admit: {}}}
    tool:
      kind: python
      code: "result = 1"
      libs: {math: math}
      auth: "{{ pg_auth }}"
      input: {n: "{{ n }}"}
      timeout: 10
      spec: {policy: {rules: [{when: "{{ output.status == 'error' }}", then: {do: retry}}]}}
    next:
      - {step: end, when: "{{ start.ok }}", args: {k: v}, set: {ctx.x: 1}, spec: {note: kept}}
      - {step: end}
  - step: end
    tool: {kind: noop}
`
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Description != "every section" || p.Metadata.Version != "3" || p.Metadata.Labels["tier"] != "1" || p.Metadata.Extra["owner"] != "someone" {
		t.Errorf("metadata: %+v", p.Metadata)
	}
	if p.Extra["spec"] == nil || p.Extra["executor"] == nil {
		t.Errorf("unknown top-level keys kept: %#v", p.Extra)
	}
	if p.Vars["a"] != int64(1) {
		t.Errorf("vars: %#v", p.Vars)
	}
	w := p.WorkloadMap()
	if w["big"] != int64(9007199254740993) || w["when_text"] != "2026-01-02" {
		t.Errorf("workload: %#v", w)
	}
	k, ok := p.FindKeychain("pg")
	if !ok {
		t.Fatal("FindKeychain(pg)")
	}
	want := KeychainDef{
		Name: "pg", Kind: "secrets", Provider: "gcp", Region: "eu-west1", Residency: ResidencyStrict,
		AllowedRegions: []string{"eu-west1", "eu-west4"}, NoBrokerFallback: true, AutoRenew: true,
		Credential: "{{ cred }}", TokenType: "bearer", Scope: []any{"a", "b"}, Auth: "workload_identity",
		Map:   map[string]string{"user": "projects/p/secrets/u", "password": "projects/p/secrets/{{ env }}-pw"},
		Extra: map[string]any{"custom_field": int64(7)},
	}
	k.Raw, k.Line = nil, 0
	if !reflect.DeepEqual(*k, want) {
		t.Errorf("keychain\n got %#v\nwant %#v", *k, want)
	}
	if plain, _ := p.FindKeychain("plain"); plain.Residency != "" || len(plain.AllowedRegions) != 0 || plain.NoBrokerFallback {
		t.Errorf("keychain defaults: %+v", plain)
	}
	if _, ok := p.FindKeychain("nope"); ok {
		t.Error("FindKeychain(nope) found something")
	}
	s := p.Step("start")
	if s.Desc != "first" || s.Extra["sink"] == nil || s.Args["a"] != "{{ x }}" || s.Input["b"] != int64(2) || s.Vars["v"] != int64(1) {
		t.Errorf("step fields: %+v", s)
	}
	if s.Spec.NextMode != "inclusive" || s.Spec.Timeout != "30s" || !s.Spec.ContinueOnError() || s.Spec.Raw["policy"] == nil {
		t.Errorf("step spec: %+v", s.Spec)
	}
	tool := s.Tool.Single
	if tool.Code != "result = 1" || tool.Libs == nil || tool.Auth != "{{ pg_auth }}" || tool.Extra["timeout"] != int64(10) {
		t.Errorf("tool: %+v", tool)
	}
	rules := tool.Spec["policy"].(map[string]any)["rules"].([]any)
	if rules[0].(map[string]any)["when"] != "{{ output.status == 'error' }}" {
		t.Errorf("tool spec kept unrendered: %#v", tool.Spec)
	}
	if tool.Raw["kind"] != "python" || tool.Raw["timeout"] != int64(10) {
		t.Errorf("raw tool map: %#v", tool.Raw)
	}
	if s.Next.Shape != NextTargets || s.RoutingMode() != ModeInclusive {
		t.Errorf("targets with next_mode: %v %s", s.Next.Shape, s.RoutingMode())
	}
	a := s.Next.Arcs[0]
	if a.When != "{{ start.ok }}" || a.Args["k"] != "v" || a.Set["ctx.x"] != int64(1) || a.Spec["note"] != "kept" {
		t.Errorf("arc: %+v", a)
	}
	if p.Step("end").Next != nil {
		t.Error("a step without next has nil Next")
	}
}

// TestNextShapes covers the four shapes of next and their routing modes.
func TestNextShapes(t *testing.T) {
	t.Parallel()
	two := "  - step: a\n    tool: {kind: noop}\n  - step: b\n    tool: {kind: noop}\n"
	cases := []struct {
		name  string
		next  string
		spec  string
		shape NextShape
		mode  string
		arcs  []string
		whens []string
	}{
		{"single", "    next: a\n", "", NextSingle, ModeExclusive, []string{"a"}, []string{""}},
		{"list fires all", "    next: [a, b]\n", "", NextList, ModeInclusive, []string{"a", "b"}, []string{"", ""}},
		{"targets default exclusive", "    next: [{step: a, when: \"{{ x }}\"}, {step: b}]\n", "", NextTargets, ModeExclusive, []string{"a", "b"}, []string{"{{ x }}", ""}},
		{"targets with next_mode", "    next: [{step: a}, {step: b}]\n", "    spec: {next_mode: INCLUSIVE}\n", NextTargets, ModeInclusive, []string{"a", "b"}, []string{"", ""}},
		{"router inclusive", "    next:\n      spec: {mode: inclusive}\n      arcs: [{step: a}, {step: b, when: \"x > 1\"}]\n", "", NextRouter, ModeInclusive, []string{"a", "b"}, []string{"", "x > 1"}},
		{"router default exclusive", "    next:\n      arcs: [{step: a}]\n", "", NextRouter, ModeExclusive, []string{"a"}, []string{""}},
		{"router falls back to next_mode", "    next:\n      arcs: [{step: a}]\n", "    spec: {next_mode: inclusive}\n", NextRouter, ModeInclusive, []string{"a"}, []string{""}},
		{"router mode wins over next_mode", "    next:\n      spec: {mode: exclusive}\n      arcs: [{step: a}]\n", "    spec: {next_mode: inclusive}\n", NextRouter, ModeExclusive, []string{"a"}, []string{""}},
		{"lone target map", "    next: {step: a, when: \"{{ y }}\"}\n", "", NextTargets, ModeExclusive, []string{"a"}, []string{"{{ y }}"}},
		{"boolean when is lenient", "    next: [{step: a, when: true}]\n", "", NextTargets, ModeExclusive, []string{"a"}, []string{"true"}},
		{"router without arcs", "    next:\n      spec: {mode: exclusive}\n", "", NextRouter, ModeExclusive, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse([]byte(pb("  - step: start\n    tool: {kind: noop}\n" + c.spec + c.next + two)))
			if err != nil {
				t.Fatal(err)
			}
			s := p.Start()
			if s.Next.Shape != c.shape || s.RoutingMode() != c.mode {
				t.Fatalf("shape %v mode %s, want %v %s", s.Next.Shape, s.RoutingMode(), c.shape, c.mode)
			}
			var steps, whens []string
			for _, a := range s.Next.Arcs {
				steps = append(steps, a.Step)
				whens = append(whens, a.When)
			}
			if !reflect.DeepEqual(steps, c.arcs) || !reflect.DeepEqual(whens, c.whens) {
				t.Fatalf("arcs %v whens %q", steps, whens)
			}
		})
	}
}

// TestToolKinds: every accepted kind parses as a single tool and as a pipeline task.
func TestToolKinds(t *testing.T) {
	t.Parallel()
	for _, kind := range ToolKinds {
		if kind == KindWorkbook {
			continue // resolved at parse time; see TestWorkbook
		}
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			p, err := Parse([]byte(pb(fmt.Sprintf("  - step: start\n    tool: {kind: %s}\n  - step: p\n    tool:\n      - t: {kind: %s}\n      - name: u\n        kind: %s\n", kind, kind, kind))))
			if err != nil {
				t.Fatal(err)
			}
			if p.Start().Tool.Kind() != kind || p.Start().Tool.IsPipeline() {
				t.Fatalf("single: %+v", p.Start().Tool)
			}
			pt := p.Step("p").Tool
			if !pt.IsPipeline() || pt.Pipeline[0].Tool.Kind != kind || pt.Pipeline[1].Tool.Kind != kind {
				t.Fatalf("pipeline: %+v", pt)
			}
		})
	}
}

func TestToolFields(t *testing.T) {
	t.Parallel()
	src := pb(`  - step: start
    tool:
      kind: http
      method: POST
      url: "{{ base }}/x"
      params: {page: 1}
      headers: {Accept: application/json, X-Count: 3}
      output_select: body
      args: {payload: "{{ p }}"}
      eval:
        - expr: "{{ output.status == 'error' }}"
          do: retry
          attempts: 3
          backoff: exponential
          delay: 0.5
          set_vars: {r: 1}
        - {expr: "ok", do: jump, target: start}
        - else: {do: fail, set_vars: {e: 1}}
  - step: db
    tool: {kind: postgres, query: "select 1", connection: "{{ dsn }}"}
  - step: dbparams
    tool:
      kind: postgres
      query: "SELECT * FROM t WHERE id = $1 AND name = $2"
      params: ["{{ execution_id }}", bob]
  - step: pipe
    tool:
      - first:
          kind: python
          code: "result = 1"
          set: {ctx.a: "{{ output }}"}
          input: {x: 1}
      - name: second
        kind: shell
        command: "echo {{ _prev.x }}"
        spec: {policy: {rules: []}}
`)
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	h := p.Start().Tool.Single
	if h.Method != "POST" || h.URL != "{{ base }}/x" || h.Params.(map[string]any)["page"] != int64(1) || h.Headers["X-Count"] != "3" || h.OutputSelect != "body" {
		t.Errorf("http tool: %+v", h)
	}
	if !h.HasInput || h.Input.(map[string]any)["payload"] != "{{ p }}" {
		t.Errorf("args alias: %#v", h.Input)
	}
	if len(h.Eval) != 3 || h.Eval[0].Do != "retry" || h.Eval[0].Attempts != int64(3) || h.Eval[0].Delay != 0.5 || h.Eval[0].SetVars["r"] != int64(1) {
		t.Errorf("eval[0]: %+v", h.Eval[0])
	}
	if h.Eval[1].Target != "start" || h.Eval[2].Else == nil || h.Eval[2].Else.Do != "fail" || h.Eval[2].Else.SetVars["e"] != int64(1) {
		t.Errorf("eval: %+v", h.Eval)
	}
	db := p.Step("db").Tool.Single
	if db.Query != "select 1" || db.Connection != "{{ dsn }}" {
		t.Errorf("db tool: %+v", db)
	}
	// postgres params are positional: a list, which the worker binds as $1, $2, ...
	if got := p.Step("dbparams").Tool.Single.Params; !reflect.DeepEqual(got, []any{"{{ execution_id }}", "bob"}) {
		t.Errorf("postgres params: %#v", got)
	}
	pipe := p.Step("pipe").Tool
	first, second := pipe.Pipeline[0], pipe.Pipeline[1]
	if first.Label != "first" || first.Flat || first.Tool.Set["ctx.a"] != "{{ output }}" || first.Tool.Input.(map[string]any)["x"] != int64(1) {
		t.Errorf("first task: %+v", first)
	}
	if second.Label != "second" || !second.Flat || second.Tool.Command != "echo {{ _prev.x }}" || second.Tool.Spec == nil {
		t.Errorf("second task: %+v", second)
	}
	cfg := pipe.Config().([]any)
	if _, ok := cfg[0].(map[string]any)["first"]; !ok || len(cfg) != 2 {
		t.Errorf("pipeline tool_config: %#v", cfg)
	}
	if single := p.Start().Tool.Config().(map[string]any); single["kind"] != "http" {
		t.Errorf("single tool_config: %#v", single)
	}
}

func TestLoop(t *testing.T) {
	t.Parallel()
	cases := []struct {
		loop string
		in   string
		mode string
		max  int64
	}{
		{"{in: \"{{ xs }}\", iterator: x}", "{{ xs }}", LoopSequential, 0},
		{"{in: \"{{ xs }}\", iterator: x, spec: {mode: Parallel, max_in_flight: 4}}", "{{ xs }}", LoopParallel, 4},
		{"{in: \"{{ xs }}\", iterator: x, mode: parallel, max_in_flight: \"3\"}", "{{ xs }}", LoopParallel, 3},
		{"{in: \"{{ xs }}\", iterator: x, mode: sequential, spec: {mode: parallel}}", "{{ xs }}", LoopParallel, 0},
		{"{in: \"workload.items\", iterator: x}", "workload.items", LoopSequential, 0},
		{"{in: [1, 2, 3], iterator: x}", "[1,2,3]", LoopSequential, 0},
		{"{in: 5, iterator: x}", "5", LoopSequential, 0},
	}
	for _, c := range cases {
		t.Run(c.loop, func(t *testing.T) {
			t.Parallel()
			p, err := Parse([]byte(pb("  - step: start\n    loop: " + c.loop + "\n    tool: {kind: noop}\n")))
			if err != nil {
				t.Fatal(err)
			}
			l := p.Start().Loop
			if l.In != c.in || l.Iterator != "x" || l.Mode != c.mode || l.MaxInFlight != c.max {
				t.Fatalf("loop %+v", l)
			}
		})
	}
}

func TestWorkbook(t *testing.T) {
	t.Parallel()
	src := header + `workbook:
  - name: obj
    tool: {kind: python, code: "c", input: {a: 1, b: 2}, auth: wb_auth}
    sink: {kind: postgres}
  - name: scalar_in
    tool: {kind: noop, args: "text"}
  - name: none_in
    tool: {kind: noop}
workflow:
  - step: start
    tool: {kind: workbook, name: obj, input: {b: 20, c: 30}, auth: step_auth, code: ignored}
  - step: keep
    tool: {kind: workbook, name: obj}
  - step: replace_scalar
    tool: {kind: workbook, name: scalar_in, input: {x: 1}}
  - step: replace_with_scalar
    tool: {kind: workbook, name: obj, input: [1]}
  - step: add
    tool: {kind: workbook, name: none_in, args: {y: 2}}
  - step: pipe
    tool:
      - t: {kind: workbook, name: obj}
`
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		step  string
		input any
	}{
		{"start", map[string]any{"a": int64(1), "b": int64(20), "c": int64(30)}},
		{"keep", map[string]any{"a": int64(1), "b": int64(2)}},
		{"replace_scalar", map[string]any{"x": int64(1)}},
		{"replace_with_scalar", []any{int64(1)}},
		{"add", map[string]any{"y": int64(2)}},
	}
	for _, c := range cases {
		tool := p.Step(c.step).Tool.Single
		if !reflect.DeepEqual(tool.Input, c.input) || !reflect.DeepEqual(tool.Raw["input"], c.input) {
			t.Errorf("%s: input %#v raw %#v, want %#v", c.step, tool.Input, tool.Raw["input"], c.input)
		}
		if _, ok := tool.Raw["args"]; ok {
			t.Errorf("%s: raw keeps args alongside input", c.step)
		}
	}
	st := p.Start().Tool.Single
	if st.Kind != KindPython || st.Code != "c" || st.Auth != "wb_auth" || st.Workbook != "obj" {
		t.Errorf("resolved tool takes the workbook's fields only: %+v", st)
	}
	// the workbook entry itself is not modified by resolution
	if wb, _ := p.FindWorkbook("obj"); wb.Tool.Input.(map[string]any)["b"] != int64(2) || wb.Sink == nil {
		t.Errorf("workbook entry changed: %+v", wb)
	}
	if pt := p.Step("pipe").Tool.Pipeline[0].Tool; pt.Kind != KindWorkbook {
		t.Errorf("pipeline tasks are not resolved: %+v", pt)
	}
}

func TestYAMLFeatures(t *testing.T) {
	t.Parallel()
	src := header + `x-defaults: &noop
  kind: noop
  result: {from: anchor}
workload:
  big: 3900000000000000123
  huge: 18446744073709551616
  hex: 0x10
  octal: 0o17
  float: 1.5e3
  quoted: "123"
  nothing: ~
  yes_str: yes
  1: numeric key
workflow:
  - step: start
    tool:
      <<: *noop
      result: {from: override}
  - step: second
    tool: *noop
`
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	w := p.WorkloadMap()
	want := map[string]any{
		"big": int64(3900000000000000123), "huge": 18446744073709551616.0, "hex": int64(16), "octal": int64(15),
		"float": 1500.0, "quoted": "123", "nothing": nil, "yes_str": "yes", "1": "numeric key",
	}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("workload\n got %#v\nwant %#v", w, want)
	}
	if r := p.Start().Tool.Single.Raw["result"].(map[string]any); r["from"] != "override" || p.Start().Tool.Kind() != KindNoop {
		t.Errorf("merge key: %#v", p.Start().Tool.Single.Raw)
	}
	if p.Step("second").Tool.Single.Raw["result"].(map[string]any)["from"] != "anchor" {
		t.Error("alias")
	}
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(header + "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("workflow: []\n")
	_, err := Parse([]byte(b.String()))
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("want a LimitError, got %v", err)
	}
}

func TestDecodeWithoutValidation(t *testing.T) {
	t.Parallel()
	// catalog registration stores playbooks that would fail validation
	p, err := Decode([]byte("apiVersion: v1\nkind: Other\nmetadata: {name: x, path: a/b}\nworkflow:\n  - step: s\n    tool: {kind: workbook, name: missing}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Path != "a/b" || p.Step("s") == nil {
		t.Fatalf("%+v", p)
	}
	if err := p.Validate(); err == nil {
		t.Fatal("Validate accepted a v1 playbook")
	}
}

// TestRecursiveYAML: aliases and merge keys that refer to their own ancestors, and
// exponential merges, fail fast as ParseErrors instead of recursing without end.
func TestRecursiveYAML(t *testing.T) {
	t.Parallel()
	var merge strings.Builder
	merge.WriteString("m0: &m0 {k: 1}\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&merge, "m%d: &m%d {<<: [*m%d, *m%d], k%d: 1}\n", i, i, i-1, i-1, i)
	}
	cases := []struct{ src, msg string }{
		{"a: &a [*a]", "recursive alias *a"},
		{"a: &a {b: *a}", "recursive alias *a"},
		{"workflow: &w [{step: start, tool: {kind: noop}, next: *w}]", "recursive alias *w"},
		{"a: &a {<<: *a}", "refers to the mapping that contains it"},
		{"a: &a {<<: [*a, *a]}", "refers to the mapping that contains it"},

		{strings.Repeat("[", 5000) + strings.Repeat("]", 5000), ""},
	}
	// A recursion without end shows as the test binary's timeout, not as a wall-clock
	// bound here: a loaded machine must not fail a parse that is merely slow.
	for _, c := range cases {
		_, err := Parse([]byte(c.src))
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("%.40q: got %v, want a ParseError containing %q", c.src, err, c.msg)
		}
	}
	var le *LimitError
	if _, err := Parse([]byte(merge.String())); !errors.As(err, &le) {
		t.Errorf("exponential merges: got %v, want a LimitError", err)
	}
}

// aliasBomb is the attack of the security review: one anchored string of size bytes and
// levels of ten aliases each, expanding to size·10^levels bytes.
func aliasBomb(size, levels int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "metadata: {name: bomb, path: bomb}\nl0: &l0 %q\n", strings.Repeat("x", size))
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// TestAliasBombsAreBoundedInBytes: a document whose aliases expand past
// MaxExpandedBytes fails with a LimitError naming the limit, however few nodes it has;
// one just under the limit is read.
func TestAliasBombsAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		src  string
		ok   bool
	}{
		{"100 KB string, three levels of ten (the review's 111 MB)", aliasBomb(100_000, 3), false},
		{"1 KB string, five levels of ten", aliasBomb(1000, 5), false},
		{"a 1 MB string as the value of nine keys", "metadata: {name: a}\ns: &s " + strings.Repeat("y", 1<<20) + "\nm: {a: *s, b: *s, c: *s, d: *s, e: *s, f: *s, g: *s, h: *s}\n", false},
		{"100 KB string, one level of ten", aliasBomb(100_000, 1), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, decode := range []func([]byte) (any, error){
				DecodeValue,
				func(b []byte) (any, error) { return Decode(b) },
			} {
				_, err := decode([]byte(tc.src))
				var le *LimitError
				switch {
				case tc.ok && errors.As(err, &le):
					t.Errorf("rejected under the limit: %v", err)
				case !tc.ok && !errors.As(err, &le):
					t.Errorf("got %v, want a LimitError", err)
				case !tc.ok && (le.Limit != MaxExpandedBytes || !strings.Contains(le.Error(), fmt.Sprint(MaxExpandedBytes))):
					t.Errorf("error %q does not name the byte limit", le)
				}
			}
		})
	}
}

func TestToolInput(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(pb(`  - step: start
    input: {a: step, b: step}
    tool: {kind: python, input: {b: tool, c: tool}}
  - step: only_step
    input: {a: 1}
    tool: {kind: python}
  - step: scalar_tool
    input: {a: 1}
    tool: {kind: python, input: text}
  - step: only_tool
    tool: {kind: python, args: {z: 1}}
  - step: pipe
    input: {a: 1}
    tool: [{t: {kind: noop}}]
`)))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]any{
		"start":       map[string]any{"a": "step", "b": "tool", "c": "tool"},
		"only_step":   map[string]any{"a": int64(1)},
		"scalar_tool": "text",
		"only_tool":   map[string]any{"z": int64(1)},
		"pipe":        nil,
	}
	for step, want := range cases {
		if got := p.Step(step).ToolInput(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v want %#v", step, got, want)
		}
	}
	if p.Start().Tool.Single.Input.(map[string]any)["a"] != nil {
		t.Error("the tool's own input map was modified")
	}
}

// The providers a wallet serves, under any alias or case, and a templated provider (the
// wallet judges it once rendered) all register.
func TestKeychainProvidersAccepted(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"gcp", "Kubernetes", " vault ", "aws_sm", "azure_kv", "aws_iam", "gcp_iamcredentials", "azure_aad", "\"{{ workload.backend }}\""} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			src := header + "keychain:\n  - name: k\n    provider: " + p + "\nworkflow:\n" + okStart
			if _, err := Parse([]byte(src)); err != nil {
				t.Fatalf("provider %q: %v", p, err)
			}
		})
	}
}
