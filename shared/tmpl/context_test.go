package tmpl

import "reflect"
import "testing"

// callDone builds the stored result of a call.done event as the worker posts it and the
// server stores it (the envelope `{{ steps.<name> }}` reads; docs/engine.md, "Context, `set`
// and templates").
func callDone(data any) map[string]any {
	return map[string]any{
		"status": "COMPLETED",
		"context": map[string]any{
			"command_id": "c1", "call_index": int64(0),
			"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": data}},
		},
	}
}

// evalCases evaluates each case's expression against ctx in a parallel subtest and
// wants its value.
func evalCases(t *testing.T, r *Renderer, ctx map[string]any, cases []struct {
	expr string
	want any
}) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			t.Parallel()
			got, err := r.Eval(c.expr, ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v want %#v", got, c.want)
			}
		})
	}
}

func TestExtractUserData(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   any
		want any
		ok   bool
	}{
		{"nil has no binding", nil, nil, false},
		{"call.done envelope", callDone(map[string]any{"x": int64(1)}), map[string]any{"x": int64(1)}, true},
		{"context.data", map[string]any{"context": map[string]any{"data": "d"}}, "d", true},
		{"command.completed context", map[string]any{"context": map[string]any{"command_id": "c", "status": "success"}},
			map[string]any{"command_id": "c", "status": "success"}, true},
		{"bare value", map[string]any{"a": int64(1)}, map[string]any{"a": int64(1)}, true},
		{"scalar", "text", "text", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ExtractUserData(c.in)
			if ok != c.ok || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v,%v want %#v,%v", got, ok, c.want, c.ok)
			}
		})
	}
}

// TestStepResultUnwrapping: {{ step.field }}, {{ step.data.field }}, pipeline label
// flattening (later task wins, labels kept) and steps.<name> as the raw envelope.
func TestStepResultUnwrapping(t *testing.T) {
	t.Parallel()
	pipeline := callDone(map[string]any{
		// a JSONB-like store returns keys in its own order; flattening must use Labels
		"check":  map[string]any{"valid": true, "source": "check", "stage": int64(2)},
		"loader": map[string]any{"rows": int64(3), "source": "loader", "stage": int64(1)},
	})
	ctx := BuildContext(ContextInput{
		Workload: map[string]any{"who": "world"},
		Steps: map[string]StepResult{
			"start":     {Envelope: callDone(map[string]any{"x": int64(4), "big": int64(3900000000000000123)})},
			"own_data":  {Envelope: callDone(map[string]any{"data": "mine", "y": int64(1)})},
			"pipe":      {Envelope: pipeline, Labels: []string{"loader", "check"}},
			"loop_step": {Envelope: nil, Data: map[string]any{"results": []any{int64(1)}, "stats": map[string]any{"total": int64(1)}}, HasData: true},
			"noop":      {Envelope: map[string]any{"status": "COMPLETED", "context": map[string]any{"command_id": "c9", "status": "success"}}},
			"nothing":   {Envelope: nil},
		},
	})
	cases := []struct {
		expr string
		want any
	}{
		{"start.x", int64(4)},
		{"start.data.x", int64(4)},
		{"start.big + 1", int64(3900000000000000124)},
		{"own_data.data", "mine"}, // a user data field is never overwritten
		{"pipe.rows", int64(3)},
		{"pipe.valid", true},
		{"pipe.source", "check"}, // the later task in pipeline order wins
		{"pipe.stage", int64(2)},
		{"pipe.loader.source", "loader"},
		{"pipe.check.stage", int64(2)},
		{"pipe.data.rows", int64(3)},
		{"loop_step.results[0]", int64(1)},
		{"loop_step.data.stats.total", int64(1)},
		{"noop.command_id", "c9"},
		{"nothing is defined", false},
		{"steps.start.context.command_id", "c1"},
		{"steps.start.status", "COMPLETED"},
	}
	r := New(0)
	evalCases(t, r, ctx, cases)
	// {{ step }} as a whole value is an object (without the alias key: TestDataAliasIsNotPartOfTheValue)
	v, err := r.RenderText("{{ start }}", ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := v.(map[string]any); !ok || m["x"] != int64(4) {
		t.Fatalf("{{ start }} = %#v", v)
	}
	// the context encodes as JSON (no self-referencing maps)
	if _, err := r.RenderString("{{ start | tojson }}{{ ctx | tojson }}", ctx); err != nil {
		t.Fatal(err)
	}
}

// The synthetic .data alias reads the step's data, but a whole step result that a
// template hands back, prints or walks has the data's own keys only: passed on through
// args or set it keeps one shape, with no copy of itself under `data`.
func TestDataAliasIsNotPartOfTheValue(t *testing.T) {
	t.Parallel()
	ctx := BuildContext(ContextInput{Steps: map[string]StepResult{
		"a":     {Envelope: callDone(map[string]any{"x": int64(1), "nested": map[string]any{"y": "z"}})},
		"own":   {Envelope: callDone(map[string]any{"data": "mine", "x": int64(2)})},
		"empty": {Envelope: callDone(map[string]any{})},
	}})
	r := New(0)
	values := []struct {
		tmpl string
		want any
	}{
		{"{{ a }}", map[string]any{"x": int64(1), "nested": map[string]any{"y": "z"}}},
		{"{{ a.data }}", map[string]any{"x": int64(1), "nested": map[string]any{"y": "z"}}},
		{"{{ a['data'] }}", map[string]any{"x": int64(1), "nested": map[string]any{"y": "z"}}},
		{"{{ a.data.x }}", int64(1)},
		{"{{ [a] }}", []any{map[string]any{"x": int64(1), "nested": map[string]any{"y": "z"}}}},
		{"{{ {'copy': a} }}", map[string]any{"copy": map[string]any{"x": int64(1), "nested": map[string]any{"y": "z"}}}},
		{"{{ own }}", map[string]any{"data": "mine", "x": int64(2)}}, // a real data key stays
		{"{{ empty }}", map[string]any{}},
		{"{{ a | length }}", int64(2)},
		{"{{ a | list }}", []any{"nested", "x"}},
		{"{{ a.keys() | list }}", []any{"nested", "x"}},
		{"{{ a | dictsort | map('first') | list }}", []any{"nested", "x"}},
		{"{{ a == {'x': 1, 'nested': {'y': 'z'}} }}", true},
		{"{{ 'data' in a }}", true}, // it can still be read
		{"{{ empty is defined and empty }}", map[string]any{}},
	}
	for _, tc := range values {
		t.Run(tc.tmpl, func(t *testing.T) {
			got, err := r.RenderValue(tc.tmpl, ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	texts := []struct{ tmpl, want string }{
		{"a={{ a }}", `a={"nested": {"y": "z"}, "x": 1}`},
		{"{{ a | tojson }}", `{"nested":{"y":"z"},"x":1}`},
		{"{{ empty | tojson }}", `{}`},
		{"{% for k, v in a.items() %}{{ k }};{% endfor %}", "nested;x;"},
	}
	for _, tc := range texts {
		t.Run(tc.tmpl, func(t *testing.T) {
			got, err := r.RenderString(tc.tmpl, ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBuildContextLayers(t *testing.T) {
	t.Parallel()
	ctx := BuildContext(ContextInput{
		Workload:    map[string]any{"total": int64(1), "who": "w", "shadowed": "workload"},
		Steps:       map[string]StepResult{"shadowed": {Envelope: callDone("step")}},
		Ctx:         map[string]any{"total": int64(15), "mode": "from_ctx"},
		ExecutionID: "612345678901234567",
		CatalogID:   "77",
		Path:        "conformance/engine/ctx_set",
		Overrides: []map[string]any{
			{"mode": "from_step_set"},
			{"origin": "via_args", "mode": "from_args"},
			{"mode": "from_arc", "workload": "cannot replace"},
		},
		Iteration: &Iteration{Var: "v", Item: int64(8), Index: 2, Total: 4},
		Event:     map[string]any{"name": "loop.done"},
		Output:    map[string]any{"base": int64(10)},
		HasOutput: true,
	})
	cases := []struct {
		expr string
		want any
	}{
		{"who", "w"},
		{"workload.total", int64(1)},
		{"total", int64(15)},
		{"ctx.total", int64(15)},
		{"mode", "from_arc"},
		{"ctx.mode", "from_arc"},
		{"origin", "via_args"},
		{"shadowed", "step"},
		{"workload.shadowed", "workload"},
		{"execution_id", "612345678901234567"},
		{"catalog_id", "77"},
		{"path", "conformance/engine/ctx_set"},
		{"version is defined", false},
		{"v", int64(8)},
		{"iter.v", int64(8)},
		{"_index", int64(2)},
		{"iter._total", int64(4)},
		{"ctx.v", int64(8)},
		{"event.name", "loop.done"},
		{"output.base + 5", int64(15)},
		{"output.data.base", int64(10)},
	}
	r := New(0)
	evalCases(t, r, ctx, cases)
	// no event, no iteration: those names are undefined
	plain := BuildContext(ContextInput{})
	for _, name := range []string{"event", "iter", "_index", "output", "execution_id", "steps"} {
		if _, ok := plain[name]; ok {
			t.Errorf("%s bound in an empty context", name)
		}
	}
	if w, ok := plain["workload"].(map[string]any); !ok || len(w) != 0 {
		t.Errorf("workload = %#v, want an empty map", plain["workload"])
	}
}

func TestFlattenPipeline(t *testing.T) {
	t.Parallel()
	data := map[string]any{
		"b":                map[string]any{"k": "from_b", "only_b": int64(1)},
		"a":                map[string]any{"k": "from_a", "b": "field named like a label"},
		"_context_updates": map[string]any{"ctx.x": int64(1)},
		"scalar_task":      int64(5),
	}
	got := FlattenPipeline(data, []string{"b", "a", "scalar_task"}).(map[string]any)
	if got["k"] != "from_a" || got["only_b"] != int64(1) {
		t.Fatalf("pipeline order: %#v", got)
	}
	if _, ok := got["b"].(map[string]any); !ok {
		t.Fatalf("label key must be kept: %#v", got["b"])
	}
	if got["scalar_task"] != int64(5) {
		t.Fatalf("non-object task data kept: %#v", got)
	}
	if _, ok := got["ctx.x"]; ok {
		t.Fatal("non-label keys are not flattened")
	}
	if FlattenPipeline("x", []string{"a"}) != "x" {
		t.Fatal("non-map data returned as is")
	}
}

func TestSetKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"ctx.total": "total", "iter.x": "x", "step.y": "y", "bare": "bare", "a.b": "a.b", "ctx.": "ctx."} {
		if got := SetKey(in); got != want {
			t.Errorf("SetKey(%q) = %q want %q", in, got, want)
		}
	}
}

func TestSetPath(t *testing.T) {
	t.Parallel()
	shared := map[string]any{"x": int64(1)}
	cases := []struct {
		name string
		in   map[string]any
		key  string
		want map[string]any
	}{
		{"plain key", map[string]any{}, "a", map[string]any{"a": int64(5)}},
		{"dots nest", map[string]any{}, "a.b.c", map[string]any{"a": map[string]any{"b": map[string]any{"c": int64(5)}}}},
		{"an object on the way keeps its keys", map[string]any{"a": shared}, "a.y", map[string]any{"a": map[string]any{"x": int64(1), "y": int64(5)}}},
		{"a value on the way becomes an object", map[string]any{"a": "text"}, "a.b", map[string]any{"a": map[string]any{"b": int64(5)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			SetPath(c.in, c.key, int64(5))
			if !reflect.DeepEqual(c.in, c.want) {
				t.Errorf("got %#v, want %#v", c.in, c.want)
			}
		})
	}
	if len(shared) != 1 {
		t.Errorf("the object on the way was modified in place: %#v", shared)
	}
}
