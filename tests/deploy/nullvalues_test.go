package deploy

import "os"
import "path/filepath"
import "sort"
import "strings"
import "testing"

import "sigs.k8s.io/yaml"

// TestChartNullSubtrees: a user who writes `key: null` (or `--set key=null`) to turn a
// block of settings off gets a chart that renders, or a refusal that says what to set,
// never Go's "nil pointer evaluating" from a template that reads a field of the block.
func TestChartNullSubtrees(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(chartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var defaults map[string]any
	if err := yaml.Unmarshal(b, &defaults); err != nil {
		t.Fatal(err)
	}
	var paths [][]string
	var walk func(prefix []string, m map[string]any)
	walk = func(prefix []string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, ok := m[k].(map[string]any)
			if !ok || len(sub) == 0 {
				continue
			}
			p := append(append([]string{}, prefix...), k)
			paths = append(paths, p)
			walk(p, sub)
		}
	}
	walk(nil, defaults)
	for _, p := range paths {
		t.Run(strings.Join(p, "."), func(t *testing.T) {
			t.Parallel()
			values := map[string]any{}
			cur := values
			for _, k := range p[:len(p)-1] {
				next := map[string]any{}
				cur[k] = next
				cur = next
			}
			cur[p[len(p)-1]] = nil
			if _, err := renderChart(t, values, newKubeAPI(t)); err != nil && strings.Contains(err.Error(), "nil pointer") {
				t.Errorf("%s: null: %v", strings.Join(p, "."), err)
			}
		})
	}
}

// TestValuesSchemaCoversValues: values.schema.json, which helm checks every install and
// upgrade against, knows every key of values.yaml with the type of its default: a block
// is an object, a switch a boolean, a list an array. A key added to values.yaml without
// its schema entry fails here, so the schema cannot fall behind.
func TestValuesSchemaCoversValues(t *testing.T) {
	t.Parallel()
	var defaults, schema map[string]any
	for name, dst := range map[string]*map[string]any{"values.yaml": &defaults, "values.schema.json": &schema} {
		b, err := os.ReadFile(filepath.Join(chartDir(t), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, dst); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var check func(path string, value any, node map[string]any)
	check = func(path string, value any, node map[string]any) {
		want := ""
		switch value.(type) {
		case map[string]any:
			want = "object"
		case bool:
			want = "boolean"
		case []any:
			want = "array"
		}
		if got, _ := node["type"].(string); got != want {
			t.Errorf("values.schema.json: %s has type %q, want %q (the type of its default)", path, got, want)
		}
		m, ok := value.(map[string]any)
		if !ok {
			return
		}
		props, _ := node["properties"].(map[string]any)
		for k, v := range m {
			sub, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("values.schema.json: %s.%s is missing", path, k)
				continue
			}
			check(path+"."+k, v, sub)
		}
	}
	check("(root)", defaults, schema)
}
