package engine

import "fmt"
import "math"
import "sort"
import "strconv"
import "strings"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/timeouts"
import "github.com/noetl/controlplane/shared/tmpl"

// Tool-config keys that reach the worker exactly as written: policy rules and legacy
// eval entries are evaluated by the worker against the tool's outcome (docs/engine.md,
// "What a command carries").
var verbatimToolKeys = map[string]bool{"spec": true, "eval": true}

// Pipeline-task keys the worker renders itself, task by task, against values earlier
// tasks produce (_prev, _results, task-level set).
var verbatimTaskKeys = map[string]bool{"set": true, "args": true, "input": true, "spec": true, "command": true, "eval": true}

// issue writes one command.issued for a step entry (it for a loop iteration).
func (p *pass) issue(def *playbook.Step, ts *StepState, it *tmpl.Iteration) {
	id, err := p.e.IDs.Next()
	if err != nil {
		p.err = fmt.Errorf("mint event id: %w", err)
		return
	}
	key := fmt.Sprintf("%d:%s:%d", p.st.ExecutionID, def.Name, id)
	if it != nil {
		key += fmt.Sprintf(":i%d", it.Index)
	}
	c := p.context(p.g.scopes[def.Name].tool, []map[string]any{ts.EntryArgs, ts.EntrySet}, it, nil)
	cfg, err := p.renderTool(def, c, it)
	if err != nil {
		p.fail(def.Name, fmt.Errorf("step '%s' tool: %w", def.Name, err))
		return
	}
	renderCtx, aliased := p.renderContext(c, cfg, def)
	args := def.Args
	if args == nil {
		args = map[string]any{}
	}
	kind := def.Tool.Kind()
	meta := map[string]any{
		"command_id":   key,
		"step":         def.Name,
		"tool_kind":    kind,
		"max_attempts": int64(maxAttempts),
		"attempt":      int64(1),
		"execution_id": strconv.FormatInt(p.st.ExecutionID, 10),
		"catalog_id":   strconv.FormatInt(p.st.CatalogID, 10),
		"actionable":   true,
	}
	if it != nil {
		meta["iteration_index"] = it.Index
		meta["iteration_total"] = it.Total
		meta["iterator_step"] = def.Name
		meta["item_var"] = it.Var
		meta["loop_event_id"] = strconv.FormatInt(ts.Loop.EntryID, 10)
	}
	cmdCtx := map[string]any{"tool_config": cfg, "args": args, "render_context": renderCtx}
	if d, ok := def.Spec.Bound(); ok {
		// Only when the step sets one: commands of steps without it keep their shape.
		cmdCtx["step_timeout_seconds"] = timeouts.Seconds(d)
	}
	if len(aliased) > 0 {
		names := make([]any, len(aliased))
		for i, n := range aliased {
			names[i] = n
		}
		cmdCtx["data_alias"] = names
	}
	p.emit(Event{
		EventID: id, Type: TypeCommandIssued, Step: def.Name, NodeType: kind, Status: "PENDING",
		Context: cmdCtx,
		Meta:    meta,
	})
}

// The worker renders every string of a tool config that still holds a template, so what
// the server renders is escaped: data that looks like a template (a workload value, a
// step's HTTP response) must not become one there, with the keychain in scope
// (docs/security.md, "Templates in data").
var renderOpts = tmpl.Options{DeferRoots: []string{"keychain"}, DeferUnresolved: true, EscapeOutput: true}
var taskRenderOpts = tmpl.Options{DeferRoots: []string{"keychain", "_prev", "_results"}, DeferUnresolved: true, EscapeOutput: true}

// renderTool renders a step's tool config for the command: a single tool's fields
// (without kind, which travels as the command's action), with step-level `input` under
// the tool's input and the iteration variables added to its args; or a pipeline as
// [{label: task}], rendering only the task fields the worker does not own.
func (p *pass) renderTool(def *playbook.Step, c map[string]any, it *tmpl.Iteration) (any, error) {
	if def.Tool.IsPipeline() {
		out := make([]any, 0, len(def.Tool.Pipeline))
		for _, task := range def.Tool.Pipeline {
			m := make(map[string]any, len(task.Tool.Raw))
			for k, v := range task.Tool.Raw {
				if verbatimTaskKeys[k] {
					m[k] = v
					continue
				}
				rv, err := p.e.R.RenderValueOpts(v, c, taskRenderOpts)
				if err != nil {
					return nil, fmt.Errorf("task '%s' %s: %w", task.Label, k, err)
				}
				m[k] = rv
			}
			out = append(out, map[string]any{task.Label: m})
		}
		return out, nil
	}
	raw := def.Tool.Single.Raw
	out := make(map[string]any, len(raw)+1)
	for k, v := range raw {
		if k == "kind" {
			continue
		}
		if verbatimToolKeys[k] {
			out[k] = v
			continue
		}
		rv, err := p.e.R.RenderValueOpts(v, c, renderOpts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = rv
	}
	key := inputKey(out)
	if len(def.Input) > 0 {
		rv, err := p.e.R.RenderValueOpts(map[string]any(def.Input), c, renderOpts)
		if err != nil {
			return nil, fmt.Errorf("step input: %w", err)
		}
		merged, _ := rv.(map[string]any)
		if own, ok := out[key].(map[string]any); ok {
			merged = mergeMaps(merged, own) // the tool's own keys win
		}
		out[key] = merged
	}
	if it != nil {
		// Added after rendering: an item is data, never a template, so it is escaped
		// for the worker's render like any rendered value.
		args, _ := out[key].(map[string]any)
		args = mergeMaps(args, map[string]any{it.Var: tmpl.EscapeValue(it.Item), "_index": it.Index, "_total": it.Total})
		out[key] = args
	}
	return out, nil
}

// inputKey is where a tool keeps its arguments: `input` when the tool uses it, else
// `args` (upstream aliases).
func inputKey(tool map[string]any) string {
	if _, ok := tool["input"]; ok {
		if _, both := tool["args"]; !both {
			return "input"
		}
	}
	return "args"
}

// loopOver turns a rendered loop.in into a loop: a list as is; an object as
// [{key, value}] in key order; a string as a JSON array, else split on commas and
// newlines; an integer n as the range 0..n-1, which is never materialised. Anything
// else is not iterable.
func loopOver(v any, expr string) (*LoopState, error) {
	switch t := v.(type) {
	case []any:
		return &LoopState{Items: t}, nil
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = map[string]any{"key": k, "value": t[k]}
		}
		return &LoopState{Items: out}, nil
	case string:
		s := strings.TrimSpace(t)
		// JSON text (an http body, a python step's json.dumps) iterates as the value it
		// holds: an array's items, an object's pairs. Split on its commas, an object
		// came apart into fragments such as `{"a": 1`.
		if strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{") {
			if v, err := jsonx.Decode([]byte(s)); err == nil {
				switch v.(type) {
				case []any, map[string]any:
					return loopOver(v, expr)
				}
			}
		}
		out := []any{}
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
		return &LoopState{Items: out}, nil
	case int64:
		return &LoopState{Range: max(t, 0)}, nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<63 {
			return loopOver(int64(t), expr)
		}
	}
	return nil, fmt.Errorf("Loop expression '%s' did not evaluate to an iterable (got %s)", expr, loopKinds.Of(v))
}

// loopKinds names what a loop expression gave instead of an iterable, in the words of
// upstream's message; kinds it has no word for are named by their Go type.
var loopKinds = jsonx.KindNames{Null: "null", Bool: "bool", Float: "float", String: "string"}
