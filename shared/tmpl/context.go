package tmpl

import "slices"
import "strings"

// StepResult is what the engine knows about one step that has produced a result.
type StepResult struct {
	// Envelope is the stored result of the step's latest call.done event, exposed raw
	// as {{ steps.<name> }} and unwrapped by ExtractUserData for {{ <name> }}.
	Envelope any
	// Data, when HasData is set, is the step's user data as the engine computed it
	// (a loop aggregate {results, stats}, the result of an on_error step). It is used
	// instead of extracting from Envelope.
	Data    any
	HasData bool
	// Labels lists a pipeline step's task labels in pipeline order. A non-nil Labels
	// marks a pipeline, whose data is flattened (see FlattenPipeline).
	Labels []string
}

// Iteration binds the variables of one loop iteration.
type Iteration struct {
	Var   string // the loop's iterator name
	Item  any
	Index int64
	Total int64
}

// ContextInput is everything the evaluation context is built from. Layers are applied
// in the order of the fields below; a later layer wins on a key clash.
type ContextInput struct {
	// Workload is the merged workload (playbook workload overlaid by the execute
	// payload). Its keys are visible at top level; the map itself is `workload`, which
	// no later layer can replace.
	Workload map[string]any
	// Steps maps a step name to its result: {{ <name> }} is the unwrapped user data
	// (with a synthetic .data alias), {{ steps.<name> }} the raw envelope.
	Steps map[string]StepResult
	// Ctx holds the durable execution variables (step `set`, rule `set`), bare keys.
	Ctx map[string]any
	// Identifiers, exposed as strings as upstream does; empty ones are not bound.
	ExecutionID string
	CatalogID   string
	Path        string
	Version     string
	// Overrides are further layers applied in order: this step's `set`, arc `args`,
	// arc `set`. Keys are used as given (see SetKey to strip ctx./iter./step.).
	Overrides []map[string]any
	// Iteration binds <Var>, _index, _total and iter.{<Var>, _index, _total}.
	Iteration *Iteration
	// Event, when non-nil, is bound as `event` (e.g. {name: "loop.done"}).
	Event map[string]any
	// Output, when HasOutput is set, is bound as `output` (with the .data alias): the
	// completed step's result while its step-level `set` is rendered.
	Output    any
	HasOutput bool
}

// Reserved are the names the evaluation context binds itself over every layer: `ctx`
// (the flat context again), `steps` (the raw envelopes), `workload` and `event`. A step,
// a loop iterator, a `set` key or an arc's args key of such a name would hide one of
// them from every template (a step named ctx takes {{ ctx.k }} away), or be hidden by
// it, so the playbook validator refuses them.
var Reserved = [...]string{"ctx", "steps", "workload", "event"}

// IsReserved reports whether name is one of Reserved.
func IsReserved(name string) bool { return slices.Contains(Reserved[:], name) }

// Keywords are the names an expression never reads as a variable: the constants
// (`{{ none }}` is null whatever the context binds as none) and the operators, which do
// not parse where a value belongs. A context entry of such a name can only be reached
// through ctx (`{{ ctx['none'] }}`), so the playbook validator refuses them as names.
var Keywords = [...]string{"true", "True", "false", "False", "none", "None", "and", "or", "not", "in", "is", "if", "else"}

// IsKeyword reports whether name is one of Keywords.
func IsKeyword(name string) bool { return slices.Contains(Keywords[:], name) }

// Identifiers are the execution's identifiers, bound over step results and ctx
// variables in every template (BuildContext).
var Identifiers = [...]string{"execution_id", "catalog_id", "path", "version"}

// Shadow is a name some templates bind over a step's result or a ctx variable of the
// same name, and which templates those are.
type Shadow struct {
	Name, Where string
}

// Shadows lists the names bound in some templates over a step's result and a ctx
// variable: there `{{ <name> }}` never reads a step or a ctx variable of that name.
// Unlike Reserved, a later layer (an arc's args, a loop iterator) may still bind them
// on purpose, for the templates that layer reaches.
var Shadows = [...]Shadow{
	{"output", "the step's own result in its set and next, and the tool's result in a policy rule and a pipeline task's set"},
	{"execution_id", "the execution's id in every template"},
	{"catalog_id", "the playbook's catalog id in every template"},
	{"path", "the playbook's path in every template"},
	{"version", "the playbook's version in every template"},
	{"iter", "the iteration's variables in a loop step's tool"},
	{"_index", "the iteration's index in a loop step's tool"},
	{"_total", "the loop's length in a loop step's tool"},
	{"keychain", "the keychain entries in a tool on the worker"},
	{"_prev", "the previous task's result in a pipeline"},
	{"_results", "the results of the earlier tasks in a pipeline"},
	{"_attempt", "the attempt's number in a policy rule"},
}

// ShadowOf is the entry of Shadows for name, and whether there is one.
func ShadowOf(name string) (Shadow, bool) {
	for _, s := range Shadows {
		if s.Name == name {
			return s, true
		}
	}
	return Shadow{}, false
}

// BuildContext builds the flat evaluation context. The result also carries `ctx`, a
// shallow copy of the whole flat context ({{ ctx.k }} ≡ {{ k }}), over any layer's key
// named ctx.
func BuildContext(in ContextInput) map[string]any {
	size := len(in.Workload) + 2*len(in.Steps) + len(in.Ctx) + 8
	c := make(map[string]any, size)
	for k, v := range in.Workload {
		c[k] = v
	}
	if len(in.Steps) > 0 {
		raw := make(map[string]any, len(in.Steps))
		for name, r := range in.Steps {
			raw[name] = r.Envelope
			if data, ok := StepData(r); ok {
				c[name] = data
			}
		}
		c["steps"] = raw
	}
	for k, v := range in.Ctx {
		c[k] = v
	}
	for k, v := range map[string]string{"execution_id": in.ExecutionID, "catalog_id": in.CatalogID, "path": in.Path, "version": in.Version} {
		if v != "" {
			c[k] = v
		}
	}
	for _, layer := range in.Overrides {
		for k, v := range layer {
			c[k] = v
		}
	}
	workload := in.Workload
	if workload == nil {
		workload = map[string]any{}
	}
	c["workload"] = workload
	if it := in.Iteration; it != nil && it.Var != "" {
		c[it.Var] = it.Item
		c["_index"] = it.Index
		c["_total"] = it.Total
		c["iter"] = map[string]any{it.Var: it.Item, "_index": it.Index, "_total": it.Total}
	}
	if in.Event != nil {
		c["event"] = in.Event
	}
	if in.HasOutput {
		c["output"] = DataAlias(in.Output)
	}
	// Always the shim: a workload key named ctx (the playbook's or the execute
	// payload's, which nothing refuses) took {{ ctx.k }} away from every template. The
	// key stays readable as {{ workload.ctx }}.
	shim := make(map[string]any, len(c))
	for k, v := range c {
		shim[k] = v
	}
	c["ctx"] = shim
	return c
}

// StepData is the value {{ <name> }} has for a step result: Data when the engine
// supplied it, else the user data unwrapped from the envelope, flattened for
// pipelines, with the synthetic .data alias. ok is false when the step has nothing to
// bind (a null envelope).
func StepData(r StepResult) (any, bool) {
	data, ok := r.Data, r.HasData
	if !ok {
		data, ok = ExtractUserData(r.Envelope)
	}
	if !ok {
		return nil, false
	}
	if r.Labels != nil {
		data = FlattenPipeline(data, r.Labels)
	}
	return DataAlias(data), true
}

// ExtractUserData unwraps a stored call.done result to the tool's user data: the first
// of context.result.context.data, context.data, context, and the value itself. A nil
// envelope has no data.
func ExtractUserData(envelope any) (any, bool) {
	if envelope == nil {
		return nil, false
	}
	m, ok := envelope.(map[string]any)
	if !ok {
		return envelope, true
	}
	ctx, ok := m["context"]
	if !ok {
		return envelope, true
	}
	cm, ok := ctx.(map[string]any)
	if !ok {
		return ctx, true
	}
	if res, ok := cm["result"].(map[string]any); ok {
		if rc, ok := res["context"].(map[string]any); ok {
			if data, ok := rc["data"]; ok {
				return data, true
			}
		}
	}
	if data, ok := cm["data"]; ok {
		return data, true
	}
	return ctx, true
}

// FlattenPipeline merges the fields of each task's data (an object under its label)
// into the top level, in pipeline order so the later task wins, and keeps the labelled
// keys. Pipeline order comes from labels, never from map order: stored JSON objects
// (JSONB) do not keep it. Non-object task data and keys that are not labels (such as
// _context_updates) are left as they are.
func FlattenPipeline(data any, labels []string) any {
	m, ok := data.(map[string]any)
	if !ok || len(m) == 0 {
		return data
	}
	out := make(map[string]any, len(m)*2)
	for k, v := range m {
		out[k] = v
	}
	for _, l := range labels {
		if task, ok := m[l].(map[string]any); ok {
			for k, v := range task {
				out[k] = v
			}
		}
	}
	for _, l := range labels {
		if v, ok := m[l]; ok {
			out[l] = v
		}
	}
	return out
}

// DataAlias adds the synthetic `data` key to an object that has none, pointing at the
// object's own fields, so that {{ step.data.x }} is {{ step.x }}. The alias is a way to
// read the object, not a part of it: reading it (`step.data`, `step['data']`) gives the
// object, but the value a template hands back ({{ step }} whole, printed, `tojson`),
// iterating the object, its keys, items and length leave it out, so a whole step result
// passed on through args or set keeps its one shape (docs/engine.md, "Context, set and
// templates"). Other values are returned unchanged.
func DataAlias(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if _, has := m["data"]; has {
		return m
	}
	out := make(map[string]any, len(m)+1)
	for k, e := range m {
		out[k] = e
	}
	out["data"] = selfAlias(m)
	return out
}

// selfAlias is the value of the synthetic `data` key DataAlias adds (the object's own
// fields, not a copy): its own type, so that the evaluator can tell it from a `data` key
// the data really has.
type selfAlias map[string]any

func isSelfAlias(v any) bool {
	_, ok := v.(selfAlias)
	return ok
}

// WithoutAlias is v without the synthetic `data` key DataAlias added, and whether it had
// one: for a value that leaves the evaluator as data (a command's render context), so
// that Go code outside this package only ever sees plain model values and the alias is
// not mistaken for a key of the data. The receiver builds the alias again with DataAlias
// (the worker does, for the names a command lists in `data_alias`). Other values are
// returned as they are, with false.
func WithoutAlias(v any) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok || !isSelfAlias(m["data"]) {
		return v, false
	}
	out := make(map[string]any, len(m)-1)
	for k, e := range m {
		if k != "data" {
			out[k] = e
		}
	}
	return out, true
}

// SetKey is the variable a `set:` key writes: the ctx., iter. and step. prefixes are
// stripped (one flat namespace); any other key is used literally. SetPath then reads its
// dots as nesting.
func SetKey(k string) string {
	for _, p := range [...]string{"ctx.", "iter.", "step."} {
		if strings.HasPrefix(k, p) && len(k) > len(p) {
			return k[len(p):]
		}
	}
	return k
}

// SetPath writes v into m at key, whose dots nest: "a.b" writes m["a"]["b"], so that
// `{{ a.b }}` reads what `set: {ctx.a.b: ...}` wrote, on the server as in a worker's
// command. An object on the way is copied, never modified (it may be shared with a
// snapshot or a command's context); a value on the way that is not an object is replaced
// by one.
func SetPath(m map[string]any, key string, v any) {
	head, rest, nested := strings.Cut(key, ".")
	if !nested {
		m[key] = v
		return
	}
	child, _ := m[head].(map[string]any)
	cp := make(map[string]any, len(child)+1)
	for k, e := range child {
		cp[k] = e
	}
	SetPath(cp, rest, v)
	m[head] = cp
}
