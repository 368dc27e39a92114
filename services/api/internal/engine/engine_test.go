package engine

import "fmt"
import "reflect"
import "sort"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/tmpl"

func mustParse(t testing.TB, src string) *playbook.Playbook {
	t.Helper()
	pb, err := playbook.Parse([]byte(src))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	return pb
}

// playbookOf writes a playbook from step bodies (each already indented under "- step:").
func playbookOf(name string, steps ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: %s\n  path: tests/%s\nworkflow:\n", name, name)
	for _, s := range steps {
		b.WriteString(s)
	}
	return b.String()
}

// step writes one noop step routing to targets (a plain list, inclusive), with extra
// YAML lines under it.
func step(name string, targets []string, extra ...string) string {
	return resultStep(name, "", targets, extra...)
}

// resultStep is step with a noop `result` (a YAML flow value) the tool returns.
func resultStep(name, result string, targets []string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - step: %s\n    tool:\n      kind: noop\n", name)
	if result != "" {
		fmt.Fprintf(&b, "      result: %s\n", result)
	}
	for _, e := range extra {
		fmt.Fprintf(&b, "    %s\n", e)
	}
	if len(targets) > 0 {
		fmt.Fprintf(&b, "    next: [%s]\n", strings.Join(targets, ", "))
	}
	return b.String()
}

func TestBackEdgesByDepthFirstWalk(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		steps []string
		back  string // "src>dst" sorted
		fwdIn map[string]string
	}{
		{
			name:  "self loop",
			steps: []string{step("start", []string{"fetch"}), step("fetch", []string{"fetch", "end"}), step("end", nil)},
			back:  "fetch>fetch",
			fwdIn: map[string]string{"fetch": "start", "end": "fetch"},
		},
		{
			// Reachability would call a→join and b→join back-edges (join reaches a and b
			// through check → head); the walk finds only check → head.
			name: "join inside a cycle",
			steps: []string{step("start", []string{"head"}), step("head", []string{"a", "b"}), step("a", []string{"join"}),
				step("b", []string{"join"}), step("join", []string{"check"}), step("check", []string{"head", "end"}), step("end", nil)},
			back:  "check>head",
			fwdIn: map[string]string{"head": "start", "join": "a b", "check": "join"},
		},
		{
			// Arc order decides: the walk goes start → q first, so p → q is forward and
			// q → p is the back-edge.
			name:  "two-step cycle in arc order",
			steps: []string{step("start", []string{"p"}), step("p", []string{"q"}), step("q", []string{"p"})},
			back:  "q>p",
			fwdIn: map[string]string{"p": "start", "q": "p"},
		},
		{
			name:  "a step the walk from start does not reach is walked from itself",
			steps: []string{step("start", []string{"end"}), step("lost", []string{"lost2"}), step("lost2", []string{"lost"}), step("end", nil)},
			back:  "lost2>lost",
			fwdIn: map[string]string{"end": "start", "lost2": "lost"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := buildGraph(mustParse(t, playbookOf("g", c.steps...)), tmpl.New(0))
			var back []string
			for src, dsts := range g.back {
				for dst := range dsts {
					back = append(back, src+">"+dst)
				}
			}
			sort.Strings(back)
			if got := strings.Join(back, " "); got != c.back {
				t.Errorf("back-edges = %q, want %q", got, c.back)
			}
			for target, want := range c.fwdIn {
				if got := strings.Join(g.fwdIn[target], " "); got != want {
					t.Errorf("forward upstreams of %s = %q, want %q", target, got, want)
				}
			}
		})
	}
}

// A cycle of steps that complete without any worker (empty loops) spins until the pass
// runs out of work, then fails the run once: one failure, one terminal event.
func TestPassWorkIsBounded(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, playbookOf("spin",
		step("start", []string{"spin"}),
		"  - step: spin\n    loop:\n      in: \"{{ [] }}\"\n      iterator: x\n    tool:\n      kind: noop\n    next: [spin]\n"))
	e := New(tmpl.New(0), &seqIDs{})
	e.MaxPassWork = 40
	r := &simRun{t: t, e: e, pb: pb, st: NewState(1, 2, "tests/spin"), stored: iterationStore{}}
	out, err := e.Start(r.st, pb, map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.append(out)
	key := CommandKeyOf(Event{Meta: r.issued("start")[0].Meta})
	r.complete(&CommandState{Key: key, Step: "start"}, r.issued("start")[0])
	if r.st.Status != StatusFailed {
		t.Fatalf("status = %s, want FAILED", r.st.Status)
	}
	terminals, failures := 0, 0
	for _, ev := range r.log {
		if _, ok := TerminalStatus(ev.Type); ok {
			terminals++
			if !strings.Contains(ev.Error, "did not converge") || strings.Count(ev.Error, "did not converge") != 1 {
				t.Errorf("terminal event error = %q, want one 'did not converge'", ev.Error)
			}
		}
	}
	failures = len(r.st.Failures)
	if terminals != 1 || failures != 1 {
		t.Fatalf("%d terminal events and %d failures, want one each", terminals, failures)
	}
	if enters := strings.Count(fmt.Sprint(decisionLog(r.log)), "step.enter spin"); enters > e.MaxPassWork {
		t.Fatalf("spin entered %d times with a work bound of %d", enters, e.MaxPassWork)
	}
}

// A step result travels in the render context as its plain data; the .data alias is not
// a key of it, and the command lists the entries the worker gives the alias back to
// (docs/engine.md, "What a command carries").
func TestRenderContextCarriesPlainStepResults(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, playbookOf("plain",
		resultStep("start", "{v: 1}", []string{"a"}),
		resultStep("a", "{data: kept, w: 2}", []string{"b"}, "set: {ctx.cfg: {z: 3}}"),
		"  - step: b\n    tool:\n      kind: noop\n      note: \"{{ later.x }} {{ start.data.v }} {{ a.data }} {{ cfg.z }}\"\n"))
	r := runSim(t, pb, expectedRun{Name: "plain"})
	issued := r.issued("b")
	if len(issued) != 1 {
		t.Fatalf("b issued %d commands", len(issued))
	}
	cmd := issued[0].Context.(map[string]any)
	rc := cmd["render_context"].(map[string]any)
	want := map[string]any{
		"start": map[string]any{"v": int64(1)},
		"a":     map[string]any{"data": "kept", "w": int64(2)},
		"cfg":   map[string]any{"z": int64(3)},
	}
	for name, w := range want {
		if got := rc[name]; !reflect.DeepEqual(got, w) || reflect.TypeOf(got) != reflect.TypeOf(w) {
			t.Errorf("render_context[%s] = %#v, want %#v", name, got, w)
		}
	}
	if got := cmd["data_alias"]; !reflect.DeepEqual(got, []any{"start"}) {
		t.Errorf("data_alias = %#v, want [start]", got)
	}
}

// What a command carries: the identifiers, and only the context entries its unrendered
// templates and its python code's context lookups can read.
func TestRenderContextHoldsWhatTheCommandCanRead(t *testing.T) {
	t.Parallel()
	big := "{v: 1, pad: \"" + strings.Repeat("x", 200) + "\"}"
	cases := []struct {
		name, tool string
		want       string // sorted keys of render_context
	}{
		{
			name: "fully rendered",
			tool: "      kind: noop\n      result: {v: \"{{ a.v + start.v }}\"}\n",
			want: "catalog_id execution_id path",
		},
		{
			name: "deferred and verbatim templates",
			tool: "      kind: noop\n      note: \"{{ later.x }} {{ start.v }}\"\n" +
				"      spec:\n        policy:\n          rules:\n            - when: \"{{ output.status == 'error' and ctx.limit > 1 }}\"\n              then: {do: retry}\n",
			want: "catalog_id execution_id limit path start",
		},
		{
			name: "raw envelope",
			tool: "      kind: noop\n      note: \"{{ later.x }} {{ steps.a.status }}\"\n",
			want: "catalog_id execution_id path steps",
		},
		{
			name: "python context lookups",
			tool: "      kind: python\n      code: |\n        x = context.get('a')\n        y = variables[\"limit\"]\n",
			want: "a catalog_id execution_id limit path",
		},
		{
			name: "python code that uses its context whole",
			tool: "      kind: python\n      code: |\n        for k in context:\n          print(k)\n",
			want: "a catalog_id execution_id limit path start steps workload",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pb := mustParse(t, playbookOf("carry",
				resultStep("start", big, []string{"a"}, "set: {ctx.limit: 3}"),
				resultStep("a", big, []string{"b"}),
				"  - step: b\n    tool:\n"+c.tool))
			r := runSim(t, pb, expectedRun{Name: "carry"})
			issued := r.issued("b")
			if len(issued) != 1 {
				t.Fatalf("b issued %d commands", len(issued))
			}
			rc := issued[0].Context.(map[string]any)["render_context"].(map[string]any)
			var keys []string
			for k := range rc {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if got := strings.Join(keys, " "); got != c.want {
				t.Fatalf("render_context keys = %q, want %q", got, c.want)
			}
			if env, ok := rc["steps"].(map[string]any); ok && c.name == "raw envelope" {
				if _, hasA := env["a"]; !hasA || len(env) != 1 {
					t.Fatalf("steps in render_context = %v, want only a", env)
				}
			}
		})
	}
}
