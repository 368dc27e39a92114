package runner

import "context"
import "fmt"
import "maps"
import "slices"
import "strings"

import "github.com/noetl/controlplane/services/worker/internal/policy"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/tmpl"

// Task fields the server leaves verbatim for the worker: rendered here with the running
// context, every string of them (not only those with templates).
var verbatimTaskKeys = map[string]bool{"input": true, "args": true, "command": true}

// task is one pipeline entry.
type task struct {
	Label string
	Spec  map[string]any
	// Rules are the task's policy rules, read before any task runs.
	Rules []policy.Rule
}

// pipelineTasks recognises a pipeline: kind task_sequence, or a config that is a list
// of {label: task} (or {tasks: [...]}, or the worker envelope {tool_config: [...]}).
func pipelineTasks(kind string, cfg any) ([]any, bool) {
	switch t := cfg.(type) {
	case []any:
		return t, true
	case map[string]any:
		if !strings.EqualFold(kind, KindPipeline) {
			return nil, false
		}
		for _, k := range []string{"tasks", "tool_config"} {
			if l, ok := t[k].([]any); ok {
				return l, true
			}
		}
		return []any{}, true
	}
	return nil, false
}

// parseTasks reads both item shapes: {label: {kind, ...}} and {name: label, kind, ...}.
func parseTasks(list []any) ([]task, error) {
	out := make([]task, 0, len(list))
	seen := map[string]bool{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("task_sequence: task %d is not an object", i)
		}
		var t task
		if name, ok := m["name"].(string); ok && m["kind"] != nil {
			t = task{Label: name, Spec: withoutKeys(m, "name")}
		} else if len(m) == 1 {
			for label, spec := range m {
				sm, ok := spec.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("task_sequence: task '%s' is not an object", label)
				}
				t = task{Label: label, Spec: sm}
			}
		} else {
			return nil, fmt.Errorf("task_sequence: task %d must have exactly one key (its label)", i)
		}
		if k, _ := t.Spec["kind"].(string); k == "" {
			return nil, fmt.Errorf("task_sequence: task '%s' missing required 'kind' field", t.Label)
		}
		if seen[t.Label] {
			return nil, fmt.Errorf("task_sequence: two tasks are labelled '%s'", t.Label)
		}
		seen[t.Label] = true
		out = append(out, t)
	}
	return out, nil
}

// runPipeline runs the tasks in order over one running context. Per task: its `input`
// is rendered and bound as variables; its other fields are rendered and the tool runs;
// its data is stored under its label (also as `_prev` and `_results.<label>`); its
// `set` is applied with `output` = that data; then its policy rules decide. Success
// (or break) returns {<label>: data, ..., _context_updates}; a failure returns
// {labeled_results, failed_task} with the failing task's error.
func (rn *Runner) runPipeline(ctx context.Context, s Step, list []any) Outcome {
	tasks, err := parseTasks(list)
	if err != nil {
		r := tool.Failed("config", false, "%v", err)
		return Outcome{Result: r, Tool: r}
	}
	running := copyMap(s.Vars)
	results := map[string]any{}
	prevResults := map[string]any{}
	running["_results"] = prevResults
	updates := map[string]any{}
	attempts := map[string]int{}
	var last tool.Result
	executions := 0
	fail := func(i int, r tool.Result) Outcome {
		labeled := make(map[string]any, len(results))
		for k, v := range results {
			labeled[k] = v
		}
		r.Status = errorStatus(r.Status)
		data := map[string]any{"labeled_results": labeled, "failed_task": int64(i)}
		// The rules' sets so far, as a success returns them: a step under
		// spec.on_error: continue keeps them (the engine folds them from the failure).
		if len(updates) > 0 {
			data["_context_updates"] = maps.Clone(updates)
		}
		r = r.WithData(data)
		return Outcome{Result: r, Tool: last, Attempts: executions}
	}
	// A bad policy anywhere (an unknown verb) fails the pipeline before its first task
	// runs, not after the tasks before it have had their effects.
	for i := range tasks {
		rules, err := policy.Parse(tasks[i].Spec["spec"])
		if err != nil {
			return fail(i, tool.Failed("config", false, "task '%s': Configuration error: %v", tasks[i].Label, err))
		}
		tasks[i].Rules = rules
	}
	for i := 0; i < len(tasks); {
		if ctx.Err() != nil {
			return Outcome{Result: cancelled(), Tool: last, Attempts: executions}
		}
		executions++
		if executions > rn.MaxIterations {
			r := tool.Failed("policy", false, "task_sequence: max_iterations_exceeded (%d task executions)", rn.MaxIterations)
			return fail(i, r)
		}
		t := tasks[i]
		attempts[t.Label]++
		kind, _ := t.Spec["kind"].(string)
		kvars, err := withKeychain(ctx, s.Creds, t.Spec, running)
		if err != nil {
			return fail(i, credentialFailure(err))
		}
		taskVars := running
		var input map[string]any
		if raw, ok := inputOf(t.Spec); ok {
			rv, err := rn.r.RenderValue(raw, kvars)
			if err != nil {
				return fail(i, tool.Failed("config", false, "task '%s' input: Template error: %v", t.Label, err))
			}
			m, ok := rv.(map[string]any)
			if !ok {
				return fail(i, tool.Failed("config", false, "task '%s' input must be an object", t.Label))
			}
			input = m
			taskVars = overlay(running, input)
			kvars = overlay(kvars, input)
		}
		cfg, err := rn.taskConfig(t, kvars, input)
		if err != nil {
			return fail(i, tool.Failed("config", false, "task '%s': Template error: %v", t.Label, err))
		}
		exec := s.Exec
		exec.Invocation = tool.Invocation(t.Label, attempts[t.Label])
		res := rn.call(ctx, kind, cfg, taskVars, exec, s.Creds)
		last = res
		if tool.BoundOf(ctx) != nil {
			// The step's timeout: the failure names the task and keeps what ran before it.
			return fail(i, taskFailure(i, t.Label, res))
		}
		if ctx.Err() != nil {
			return Outcome{Result: cancelled(), Tool: res, Attempts: executions}
		}
		var data any = map[string]any{}
		if res.HasData {
			data = res.Data
		}
		results[t.Label] = data
		prevResults[t.Label] = data
		running[t.Label] = tmpl.DataAlias(data)
		running["_prev"] = data
		if set, ok := t.Spec["set"].(map[string]any); ok && len(set) > 0 {
			sv := overlay(taskVars, map[string]any{"output": tmpl.DataAlias(data)})
			for _, k := range sortedKeys(set) {
				rv, err := rn.r.RenderValue(set[k], sv)
				if err != nil {
					return fail(i, tool.Failed("config", false, "task '%s' set %s: Template error: %v", t.Label, k, err))
				}
				policy.SetVar(running, k, rv)
			}
		}
		rules := t.Rules
		if len(rules) == 0 {
			if !res.OK() {
				return fail(i, taskFailure(i, t.Label, res))
			}
			i++
			continue
		}
		d, err := rn.decide(rules, running, res, attempts[t.Label], updates)
		if err != nil {
			return fail(i, tool.Failed("config", false, "task '%s': %v", t.Label, err))
		}
		what := fmt.Sprintf("task[%d] '%s'", i, t.Label)
		switch {
		case !d.Matched && !res.OK():
			return fail(i, taskFailure(i, t.Label, res))
		case !d.Matched, d.Then.Do == policy.Continue:
			i++
		case d.Then.Do == policy.Break:
			return rn.pipelineSuccess(tasks, results, updates, res, executions)
		case d.Then.Do == policy.Fail:
			final, _, _ := settle(d, res, attempts[t.Label], what)
			return fail(i, final)
		case d.Then.Do == policy.Retry:
			if attempts[t.Label] >= d.Then.Attempts {
				if !res.OK() {
					return fail(i, taskFailure(i, t.Label, res))
				}
				i++
				continue
			}
			if err := rn.Sleep(ctx, d.Then.RetryDelay(attempts[t.Label])); err != nil {
				return Outcome{Result: cancelled(), Tool: res, Attempts: executions}
			}
		case d.Then.Do == policy.Jump:
			j := jumpTarget(tasks, i, d.Then.To)
			if j < 0 {
				return fail(i, tool.Failed("policy", false, "task_sequence: jump target '%s' not found", d.Then.To))
			}
			i = j
		default:
			// policy.Parse admits no other verb.
			return fail(i, tool.Failed("config", false, "task '%s': unknown policy action '%s'", t.Label, d.Then.Do))
		}
	}
	return rn.pipelineSuccess(tasks, results, updates, last, executions)
}

func errorStatus(s tool.Status) tool.Status {
	if s == tool.Success {
		return tool.Error
	}
	return s
}

func (rn *Runner) pipelineSuccess(tasks []task, results, updates map[string]any, last tool.Result, executions int) Outcome {
	data := make(map[string]any, len(results)+1)
	for _, t := range tasks {
		if v, ok := results[t.Label]; ok {
			data[t.Label] = v
		}
	}
	if len(updates) > 0 {
		cu := make(map[string]any, len(updates))
		for k, v := range updates {
			cu[k] = v
		}
		data["_context_updates"] = cu
	}
	r := tool.Result{Status: tool.Success, Stdout: last.Stdout, Stderr: last.Stderr, ExitCode: last.ExitCode}.WithData(data)
	return Outcome{Result: r, Tool: r, Attempts: executions}
}

// inputOf is a task's `input` (upstream restores the tool-level input under that name),
// else its `args`.
func inputOf(spec map[string]any) (any, bool) {
	for _, k := range []string{"input", "args"} {
		if v, ok := spec[k]; ok && v != nil {
			return v, true
		}
	}
	return nil, false
}

// taskConfig renders a task's config for its tool: the fields the server kept verbatim
// in full, the others only where templates remain; the rendered input goes in as
// `input`.
func (rn *Runner) taskConfig(t task, vars map[string]any, input map[string]any) (map[string]any, error) {
	cfg := make(map[string]any, len(t.Spec))
	for k, v := range t.Spec {
		switch k {
		case "kind", "set", "spec", "input", "args":
			continue
		}
		rv, err := rn.r.RenderValueOpts(v, vars, tmpl.Options{KeepPlain: !verbatimTaskKeys[k]})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		cfg[k] = rv
	}
	if input != nil {
		cfg["input"] = input
	}
	return cfg, nil
}

// jumpTarget finds a label, or the task before i for previous/prev/_previous/@previous.
func jumpTarget(tasks []task, i int, to string) int {
	switch strings.TrimSpace(to) {
	case "previous", "prev", "_previous", "@previous":
		if i > 0 {
			return i - 1
		}
		return -1
	}
	for j, t := range tasks {
		if t.Label == to {
			return j
		}
	}
	return -1
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// taskFailure names the failing task in a tool's error, so the step's error says which
// task of the pipeline failed (failed_task in the data is only its index).
func taskFailure(i int, label string, r tool.Result) tool.Result {
	if r.Error != "" {
		r.Error = fmt.Sprintf("task[%d] '%s': %s", i, label, r.Error)
	}
	return r
}
