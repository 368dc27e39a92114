package executor

import "reflect"
import "testing"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/tmpl"

// A step result reaches the worker plain; the names the command lists in data_alias get
// the server's .data alias back, so a template renders here as it would on the server
// (docs/engine.md, "Context, set and templates"): .data reads the object, a whole value
// is the data with its own keys only, and a value that is not a step result has no alias.
func TestCommandVarsGiveStepResultsTheirDataAlias(t *testing.T) {
	t.Parallel()
	cmd := &controlplane.Command{Context: map[string]any{
		"render_context": map[string]any{
			"fetch":  map[string]any{"x": int64(1)},
			"own":    map[string]any{"data": "kept", "y": int64(2)},
			"config": map[string]any{"z": int64(3)},
		},
		"data_alias": []any{"fetch", "own"},
	}}
	vars := commandVars(cmd, tool.Exec{ExecutionID: 1, Step: "s"})
	r := tmpl.New(0)
	cases := []struct {
		text string
		want any
	}{
		{"{{ fetch.data.x }}", int64(1)},
		{"{{ fetch['data'].x }}", int64(1)},
		{"{{ ctx.fetch.data.x }}", int64(1)},
		{"{{ fetch }}", map[string]any{"x": int64(1)}},
		{"{{ fetch | tojson }}", `{"x":1}`},
		{"{{ fetch | length }}", int64(1)},
		{"{{ own.data }}", "kept"},
		{"{{ config.data is defined }}", false},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			t.Parallel()
			got, err := r.RenderValue(c.text, vars)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("%s = %#v, want %#v", c.text, got, c.want)
			}
		})
	}
}
