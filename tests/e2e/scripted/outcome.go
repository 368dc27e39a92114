package scripted

import "bytes"
import "encoding/json"
import "fmt"
import "strconv"

// Outcome is what the worker does with every command of one step (the conformance
// suite's `worker.<step>`). The zero value is the default: success with the command's
// data.
type Outcome struct {
	// Status "error" finishes with call.error + command.failed carrying Error.
	Status string
	Error  string
	// Data, with Status "error", is the failed tool's data (an http tool's
	// {status_code, headers, data, body}): call.error then carries a ToolResult
	// {status: error, error, data} as the reference worker sends it, so that a step
	// under spec.on_error: continue completes with it. Nil sends no ToolResult.
	Data any
	// After waits until step After has at least one command.issued and every one of
	// them has its terminal event (or the run is terminal).
	After string
	// WaitIssued waits until the event log holds at least this many command.issued of
	// the command's own step (or the run is terminal).
	WaitIssued int
	// HoldUntilCancelled waits until the event log holds the cancel event, then
	// finishes with success. It combines with nothing.
	HoldUntilCancelled bool
}

// Waits reports whether the outcome depends on the event log.
func (o Outcome) Waits() bool { return o.After != "" || o.WaitIssued > 0 || o.HoldUntilCancelled }

// OutcomeFromMap reads the suite's YAML form: {status: error, error: T}, {after: S},
// {wait_issued: N}, {hold: until_cancelled}, or a combination of the first three; and
// this repository's addition to it, {status: error, error: T, data: D}.
func OutcomeFromMap(m map[string]any) (Outcome, error) {
	var o Outcome
	for k, v := range m {
		switch k {
		case "status":
			s, ok := v.(string)
			if !ok || s != "error" {
				return o, fmt.Errorf("status: only \"error\" is supported, got %v", v)
			}
			o.Status = s
		case "error":
			s, ok := v.(string)
			if !ok {
				return o, fmt.Errorf("error: want a string, got %T", v)
			}
			o.Error = s
		case "after":
			s, ok := v.(string)
			if !ok || s == "" {
				return o, fmt.Errorf("after: want a step name, got %v", v)
			}
			o.After = s
		case "wait_issued":
			n, ok := AsInt(v)
			if !ok || n < 1 {
				return o, fmt.Errorf("wait_issued: want a positive integer, got %v", v)
			}
			o.WaitIssued = int(n)
		case "data":
			if v == nil {
				return o, fmt.Errorf("data: want a value, got null")
			}
			o.Data = v
		case "hold":
			if v != "until_cancelled" {
				return o, fmt.Errorf("hold: only until_cancelled is supported, got %v", v)
			}
			o.HoldUntilCancelled = true
		default:
			return o, fmt.Errorf("unknown worker option %q", k)
		}
	}
	if o.HoldUntilCancelled && (o.Status != "" || o.After != "" || o.WaitIssued > 0) {
		return o, fmt.Errorf("hold combines with nothing")
	}
	if o.Status == "error" && o.Error == "" {
		return o, fmt.Errorf("status: error needs an error text")
	}
	if o.Data != nil && o.Status != "error" {
		return o, fmt.Errorf("data: only with status: error (a success returns the command's own data)")
	}
	return o, nil
}

// FailureResult is what call.error carries for a failure with data: the ToolResult the
// reference worker sends (docs/worker.md, "What a failure keeps"), nil without data.
func (o Outcome) FailureResult() map[string]any {
	if o.Data == nil {
		return nil
	}
	return map[string]any{"status": "error", "context": map[string]any{"status": "error", "error": o.Error, "data": o.Data}}
}

// Data is the D a command returns (conformance README, "The scripted worker"): for a
// single tool its tool_config.result exactly as rendered (or {} without one); for a
// pipeline ([{label: task}, ...]) {label: task.result, ...} in pipeline order.
func Data(toolConfig any) any {
	switch tc := toolConfig.(type) {
	case map[string]any:
		if r, ok := tc["result"]; ok {
			return r
		}
		if tasks, ok := tc["tasks"].([]any); ok {
			return pipelineData(tasks)
		}
		if tasks, ok := tc["tool_config"].([]any); ok {
			return pipelineData(tasks)
		}
		return map[string]any{}
	case []any:
		return pipelineData(tc)
	}
	return map[string]any{}
}

func pipelineData(tasks []any) any {
	out := &orderedObject{}
	for i, item := range tasks {
		label, task := pipelineTask(item)
		if label == "" {
			label = "task_" + strconv.Itoa(i)
		}
		var res any = map[string]any{}
		if r, ok := task["result"]; ok {
			res = r
		}
		out.set(label, res)
	}
	return out
}

// pipelineTask accepts the nested item shape {label: {kind, ...}} and the flat one
// {name: label, kind, ...}.
func pipelineTask(item any) (string, map[string]any) {
	m, ok := item.(map[string]any)
	if !ok {
		return "", nil
	}
	if len(m) == 1 {
		for k, v := range m {
			if task, ok := v.(map[string]any); ok {
				return k, task
			}
		}
	}
	if name, ok := m["name"].(string); ok {
		return name, m
	}
	return "", m
}

// orderedObject encodes its keys in insertion order: pipeline order must survive the
// trip to the server even though Go maps have none.
type orderedObject struct {
	keys []string
	vals map[string]any
}

func (o *orderedObject) set(k string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
