package tmpl

import "testing"

// A typical command: the tool config of a step that reads the workload, an earlier step
// and the execution id, rendered field by field with render_to_value typing.
func benchContext() map[string]any {
	steps := map[string]StepResult{}
	for _, name := range []string{"start", "fetch", "transform"} {
		steps[name] = StepResult{Envelope: callDone(map[string]any{
			"rows":  []any{map[string]any{"id": int64(1), "name": "a"}, map[string]any{"id": int64(2), "name": "b"}},
			"count": int64(2), "table": "tmp_" + name,
		})}
	}
	return BuildContext(ContextInput{
		Workload:    map[string]any{"pg_auth": "pg_local", "base_url": "http://localhost:8082", "limit": int64(50)},
		Steps:       steps,
		ExecutionID: "612345678901234567",
		CatalogID:   "612345678901234000",
		Path:        "examples/bench",
	})
}

var benchTool = map[string]any{
	"kind": "postgres",
	"auth": "{{ workload.pg_auth }}",
	"command": "INSERT INTO {{ transform.table }} (execution_id, n)\n" +
		"SELECT '{{ execution_id }}', {{ fetch.count }} LIMIT {{ workload.limit }}",
	"input": map[string]any{
		"rows":  "{{ fetch.rows }}",
		"count": "{{ fetch.count + 1 }}",
		"url":   "{{ workload.base_url }}/api/executions/{{ execution_id }}",
		"flag":  "{{ fetch.count > 1 and start.table is defined }}",
	},
}

// BenchmarkRenderCommand renders a typical command's tool config (cached templates).
// Target: under 50 µs.
func BenchmarkRenderCommand(b *testing.B) {
	r := New(0)
	vars := benchContext()
	if _, err := r.RenderValue(benchTool, vars); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.RenderValue(benchTool, vars); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/render")
}

// BenchmarkRenderUncached is the same render with compilation every time, for contrast.
func BenchmarkRenderUncached(b *testing.B) {
	vars := benchContext()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := New(0)
		if _, err := r.RenderValue(benchTool, vars); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/render")
}

// BenchmarkCondition evaluates an arc condition (cached).
func BenchmarkCondition(b *testing.B) {
	r := New(0)
	vars := benchContext()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := r.EvalCondition("{{ fetch.count > 1 and workload.limit >= 50 }}", vars); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/cond")
}

// BenchmarkBuildContext builds the evaluation context of a pass with three results.
func BenchmarkBuildContext(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		benchContext()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/build")
}
