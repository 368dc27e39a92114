package engine_test

import "fmt"
import "os"
import "path/filepath"
import "reflect"
import "runtime"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/tmpl"
import "go.yaml.in/yaml/v3"

// TestConformanceChains runs the straight-line engine cases of the conformance suite
// through the template layer alone: a noop step returns its rendered `result`, the
// engine context is rebuilt for every step, step `set` and arc `set`/`args` are
// applied, and each step's {{ step }} is compared with the case's `outputs`. This pins
// the typing, unwrapping, flattening and precedence rules to the suite's numbers.
func TestConformanceChains(t *testing.T) {
	t.Parallel()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "testdata", "conformance", "engine")
	for _, name := range []string{"01_linear", "02_workload_override", "11_ctx_set", "17_workbook", "18_pipeline_flatten", "22_bigint_precision"} {
		src, err := os.ReadFile(filepath.Join(dir, name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		pb, err := playbook.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		expect := readExpect(t, filepath.Join(dir, name+".expect.yaml"))
		for _, run := range expect["runs"].([]any) {
			run := run.(map[string]any)
			t.Run(fmt.Sprintf("%s/%s", name, run["name"]), func(t *testing.T) {
				t.Parallel()
				payload, _ := run["payload"].(map[string]any)
				outputs, args := runChain(t, pb, payload)
				exp := run["expect"].(map[string]any)
				if want, ok := exp["outputs"].(map[string]any); ok {
					for step, w := range want {
						if !subset(w, outputs[step]) {
							t.Errorf("%s: got %#v, want at least %#v", step, outputs[step], w)
						}
					}
				}
				if want, ok := exp["tool_args"].(map[string]any); ok {
					for step, w := range want {
						if !subset(w, args[step]) {
							t.Errorf("%s tool args: got %#v, want at least %#v", step, args[step], w)
						}
					}
				}
			})
		}
	}
}

func readExpect(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return jsonx.Normalize(v).(map[string]any)
}

// runChain walks the first matching arc from start to a step without next.
func runChain(t *testing.T, pb *playbook.Playbook, payload map[string]any) (outputs, toolArgs map[string]any) {
	t.Helper()
	r := tmpl.New(0)
	workload := map[string]any{}
	for k, v := range pb.WorkloadMap() {
		workload[k] = v
	}
	for k, v := range payload {
		workload[k] = v
	}
	steps := map[string]tmpl.StepResult{}
	ctx := map[string]any{}
	outputs, toolArgs = map[string]any{}, map[string]any{}
	var arcLayers []map[string]any
	for cur := pb.Start(); cur != nil; {
		vars := tmpl.BuildContext(tmpl.ContextInput{Workload: workload, Steps: steps, Ctx: ctx, ExecutionID: "612345678901234567", Overrides: arcLayers})
		var data any = map[string]any{}
		var labels []string
		if cur.Tool.IsPipeline() {
			m := map[string]any{}
			for _, task := range cur.Tool.Pipeline {
				res, err := r.RenderValue(task.Tool.Raw["result"], vars)
				if err != nil {
					t.Fatal(err)
				}
				m[task.Label] = res
			}
			data, labels = m, cur.Tool.Labels()
		} else {
			if res, ok := cur.Tool.Single.Raw["result"]; ok {
				rendered, err := r.RenderValue(res, vars)
				if err != nil {
					t.Fatal(err)
				}
				data = rendered
			}
			in, err := r.RenderValue(cur.ToolInput(), vars)
			if err != nil {
				t.Fatal(err)
			}
			toolArgs[cur.Name] = in
		}
		steps[cur.Name] = tmpl.StepResult{Envelope: callDone(data), Labels: labels}
		out, _ := tmpl.StepData(steps[cur.Name])
		outputs[cur.Name] = out
		if len(cur.Set) > 0 {
			setVars := tmpl.BuildContext(tmpl.ContextInput{Workload: workload, Steps: steps, Ctx: ctx, ExecutionID: "612345678901234567", Output: out, HasOutput: true})
			updates := map[string]any{}
			for k, v := range cur.Set {
				rv, err := r.RenderValue(v, setVars)
				if err != nil {
					t.Fatal(err)
				}
				updates[tmpl.SetKey(k)] = rv // every key sees the pre-set context
			}
			for k, v := range updates {
				ctx[k] = v
			}
		}
		arcLayers = nil
		var next *playbook.Step
		if cur.Next != nil {
			vars := tmpl.BuildContext(tmpl.ContextInput{Workload: workload, Steps: steps, Ctx: ctx, ExecutionID: "612345678901234567"})
			for _, a := range cur.Next.Arcs {
				ok, err := r.EvalCondition(a.When, vars)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					continue
				}
				set := map[string]any{}
				for k, v := range a.Set {
					rv, err := r.RenderValue(v, vars)
					if err != nil {
						t.Fatal(err)
					}
					set[tmpl.SetKey(k)] = rv
				}
				arcLayers = []map[string]any{a.Args, set}
				next = pb.Step(a.Step)
				break
			}
		}
		cur = next
	}
	return outputs, toolArgs
}

// subset: every key of want is in got with a subset value; lists compare item by item.
func subset(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !subset(wv, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !subset(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(want, got)
}

// callDone builds the stored result of a call.done event as the worker posts it and the
// server stores it.
func callDone(data any) map[string]any {
	return map[string]any{
		"status": "COMPLETED",
		"context": map[string]any{
			"command_id": "c1", "call_index": int64(0),
			"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": data}},
		},
	}
}
