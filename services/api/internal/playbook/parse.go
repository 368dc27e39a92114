package playbook

import "encoding/json"
import "fmt"
import "math"
import "strconv"
import "strings"

import "go.yaml.in/yaml/v3"

import "github.com/noetl/controlplane/shared/jsonx"

// Parse reads, resolves and validates a playbook. The error is a *ParseError (the
// YAML or a value's type is wrong; HTTP 400) or a *ValidationError (a rule of the
// language is broken; HTTP 422).
//
// The order of checks follows upstream, so the same broken playbook gets the same
// message: `case` blocks, then typed decoding, then workbook resolution, then
// validation (apiVersion, kind, start, duplicate names, then per step: tool, loop,
// when, next).
func Parse(src []byte) (*Playbook, error) {
	pb, err := Decode(src)
	if err != nil {
		return nil, err
	}
	if err := pb.resolveWorkbook(); err != nil {
		return nil, err
	}
	if err := pb.Validate(); err != nil {
		return nil, err
	}
	return pb, nil
}

// Decode reads a playbook without resolving workbook references or validating it.
// Catalog registration uses it: upstream stores any playbook that is valid YAML.
func Decode(src []byte) (*Playbook, error) {
	root, err := parseYAML(src)
	if err != nil {
		return nil, err
	}
	c := &converter{}
	raw, err := c.value(root)
	if err != nil {
		return nil, err
	}
	doc, ok := raw.(map[string]any)
	if !ok {
		return nil, &ParseError{Line: root.Line, Msg: "the playbook must be a YAML mapping"}
	}
	d := &decoder{root: root}
	if err := d.checkCase(doc); err != nil {
		return nil, err
	}
	return d.playbook(doc)
}

// DecodeValue reads one YAML document into the shared value model under Parse's rules
// (a single document, no duplicate keys, bounded alias expansion; errors are
// *ParseError with a line) without reading it as a playbook. The catalog reads the
// resource kinds that are not playbooks with it.
func DecodeValue(src []byte) (any, error) {
	root, err := parseYAML(src)
	if err != nil {
		return nil, err
	}
	return (&converter{}).value(root)
}

type decoder struct {
	root *yaml.Node
	// step is the name of the step being decoded ("" outside workflow steps).
	step string
	// strayOnError lists the `on_error` keys found outside a step's spec; Validate
	// reports the first once upstream's rules passed.
	strayOnError []strayKey
	// timeouts lists every step `spec.timeout` and tool `timeout` key; Validate checks
	// their format once upstream's rules passed.
	timeouts []timeoutKey
}

// strayKey is a key written where the language does not read it.
type strayKey struct {
	step string
	path []any
	line int
}

// noOnError records an `on_error` key of m (at path) and of m's `spec`: on_error is
// read only under a step's spec, and dropping it anywhere else would silently fail a
// step the author meant to survive.
func (d *decoder) noOnError(m map[string]any, path []any) {
	if _, ok := m["on_error"]; ok {
		d.strayOnErrorAt(at(path, "on_error"))
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		if _, ok := spec["on_error"]; ok {
			d.strayOnErrorAt(at(path, "spec", "on_error"))
		}
	}
}

// timeoutAt records the timeout key of m (at path), if any, for Validate.
func (d *decoder) timeoutAt(m map[string]any, path []any, step bool) {
	v, ok := m["timeout"]
	if !ok {
		return
	}
	p := at(path, "timeout")
	d.timeouts = append(d.timeouts, timeoutKey{strayKey: strayKey{step: d.step, path: p, line: lineOf(d.root, p...)}, value: v, stepLevel: step})
}

func (d *decoder) strayOnErrorAt(path []any) {
	d.strayOnError = append(d.strayOnError, strayKey{step: d.step, path: path, line: lineOf(d.root, path...)})
}

// errAt is a ParseError at the YAML position of path.
func (d *decoder) errAt(path []any, format string, args ...any) *ParseError {
	return &ParseError{Line: lineOf(d.root, path...), Msg: fmt.Sprintf(format, args...)}
}

func at(base []any, more ...any) []any {
	out := make([]any, 0, len(base)+len(more))
	return append(append(out, base...), more...)
}

// checkCase rejects Python-era `case` blocks before anything else (upstream order).
func (d *decoder) checkCase(doc map[string]any) error {
	wf, ok := doc["workflow"].([]any)
	if !ok {
		return nil
	}
	for i, item := range wf {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		if _, has := m["case"]; has {
			name := fmt.Sprintf("workflow[%d]", i)
			if s, ok := m["step"].(string); ok && s != "" {
				name = s
			}
			return validationf(lineOf(d.root, "workflow", i), "Step '%s': 'case' blocks are not allowed in canonical format. Use 'step.when' for enable guards and 'next[].when' for conditional routing. For pipelines, use 'tool: [- label: {kind: ...}]' directly on the step.", name)
		}
	}
	return nil
}

// ---- typed accessors: scalars are accepted leniently as strings where upstream
// accepts them (plain struct fields); wrong shapes are parse errors. ----

// Leaf accessors take the path of the value as a base plus trailing keys, and only
// join them when they report an error: building a path per field dominated parse time.

func (d *decoder) str(v any, base []any, rest ...any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), nil
	}
	path := at(base, rest...)
	return "", d.errAt(path, "%s must be a string, got %s", describePath(path), yamlKinds.Of(v))
}

func (d *decoder) obj(v any, base []any, rest ...any) (map[string]any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return t, nil
	}
	path := at(base, rest...)
	return nil, d.errAt(path, "%s must be a mapping, got %s", describePath(path), yamlKinds.Of(v))
}

func (d *decoder) list(v any, base []any, rest ...any) ([]any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return t, nil
	}
	path := at(base, rest...)
	return nil, d.errAt(path, "%s must be a list, got %s", describePath(path), yamlKinds.Of(v))
}

func (d *decoder) boolean(v any, base []any, rest ...any) (bool, error) {
	switch t := v.(type) {
	case nil:
		return false, nil
	case bool:
		return t, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(t)); err == nil {
			return b, nil
		}
	}
	path := at(base, rest...)
	return false, d.errAt(path, "%s must be true or false, got %s", describePath(path), yamlKinds.Of(v))
}

func (d *decoder) strMap(v any, base []any, rest ...any) (map[string]string, error) {
	m, err := d.obj(v, base, rest...)
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		if s, ok := e.(string); ok {
			out[k] = s
			continue
		}
		s, err := d.str(e, at(base, rest...), k)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

func (d *decoder) strList(v any, base []any, rest ...any) ([]string, error) {
	if s, ok := v.(string); ok {
		return []string{s}, nil
	}
	l, err := d.list(v, base, rest...)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(l))
	for i, e := range l {
		s, err := d.str(e, at(base, rest...), i)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// field pairs a mapping key with the Go value it decodes into. The key is held boxed
// (it is always a string) because accessors take it as a path element: boxing a
// constant is free, boxing a string variable allocates on every read.
type field[T any] struct {
	key any
	dst *T
}

// decodeFields reads each field's key of m with the accessor for its type, in order,
// stopping at the first error: the error names the first bad field, as upstream does.
// The accessors are called directly, not through a func value, so that their variadic
// path stays on the stack.
func decodeFields[T string | bool | map[string]any](d *decoder, m map[string]any, path []any, fields []field[T]) error {
	for _, f := range fields {
		v := m[f.key.(string)]
		var err error
		switch dst := any(f.dst).(type) {
		case *string:
			*dst, err = d.str(v, path, f.key)
		case *bool:
			*dst, err = d.boolean(v, path, f.key)
		case *map[string]any:
			*dst, err = d.obj(v, path, f.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// entry reads a list entry, which must be a mapping; what names the entries in the
// error for a null one.
func (d *decoder) entry(v any, path []any, what string) (map[string]any, error) {
	m, err := d.obj(v, path)
	if err == nil && m == nil {
		err = d.errAt(path, "%s must be mappings, got null", what)
	}
	return m, err
}

// decodeList reads the list v at path with one, an entry at a time (each at path[i]).
func decodeList[T any](d *decoder, v any, path []any, one func(v any, path []any) (T, error)) ([]T, error) {
	l, err := d.list(v, path)
	if err != nil {
		return nil, err
	}
	var out []T
	for i, e := range l {
		x, err := one(e, at(path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func describePath(path []any) string {
	var b strings.Builder
	for i, p := range path {
		switch t := p.(type) {
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(t)
		case int:
			fmt.Fprintf(&b, "[%d]", t)
		}
	}
	if b.Len() == 0 {
		return "the document"
	}
	return "'" + b.String() + "'"
}

// yamlKinds names a value's kind in a parse error, in YAML's words.
var yamlKinds = jsonx.KindNames{Null: "null", Bool: "a boolean", Integer: "a number", Float: "a number", String: "a string", Array: "a list", Object: "a mapping"}

// extra collects the keys of m not in known.
func extra(m map[string]any, known ...string) map[string]any {
	var out map[string]any
outer:
	for k, v := range m {
		for _, kn := range known {
			if k == kn {
				continue outer
			}
		}
		if out == nil {
			out = map[string]any{}
		}
		out[k] = v
	}
	return out
}

// ---- document ----

func (d *decoder) playbook(doc map[string]any) (*Playbook, error) {
	pb := &Playbook{Raw: doc, Workload: doc["workload"]}
	var err error
	if pb.APIVersion, err = d.str(doc["apiVersion"], []any{"apiVersion"}); err != nil {
		return nil, err
	}
	if pb.Kind, err = d.str(doc["kind"], []any{"kind"}); err != nil {
		return nil, err
	}
	if err := d.metadata(pb, doc["metadata"]); err != nil {
		return nil, err
	}
	if pb.Vars, err = d.obj(doc["vars"], []any{"vars"}); err != nil {
		return nil, err
	}
	// The workload is merged key by key with the execute payload: a list or a scalar
	// contributed nothing, silently (upstream accepts it the same way).
	if _, err = d.obj(doc["workload"], []any{"workload"}); err != nil {
		return nil, err
	}
	d.noOnError(doc, nil)
	if pb.Keychain, err = decodeList(d, doc["keychain"], []any{"keychain"}, d.keychain); err != nil {
		return nil, err
	}
	if pb.Workbook, err = decodeList(d, doc["workbook"], []any{"workbook"}, d.workbookEntry); err != nil {
		return nil, err
	}
	if pb.Workflow, err = decodeList(d, doc["workflow"], []any{"workflow"}, d.workflowStep); err != nil {
		return nil, err
	}
	pb.strayOnError = d.strayOnError
	pb.timeouts = d.timeouts
	pb.Extra = extra(doc, "apiVersion", "kind", "metadata", "workload", "vars", "keychain", "workbook", "workflow")
	pb.index()
	return pb, nil
}

func (p *Playbook) index() {
	p.steps = make(map[string]*Step, len(p.Workflow))
	for _, s := range p.Workflow {
		if _, dup := p.steps[s.Name]; !dup {
			p.steps[s.Name] = s
		}
	}
}

func (d *decoder) metadata(pb *Playbook, v any) error {
	path := []any{"metadata"}
	m, err := d.obj(v, path)
	if err != nil || m == nil {
		return err
	}
	md := &pb.Metadata
	if err := decodeFields(d, m, path, []field[string]{{"name", &md.Name}, {"path", &md.Path}, {"description", &md.Description}, {"version", &md.Version}}); err != nil {
		return err
	}
	if md.Labels, err = d.strMap(m["labels"], path, "labels"); err != nil {
		return err
	}
	md.Extra = extra(m, "name", "path", "description", "version", "labels")
	return nil
}

func (d *decoder) keychain(v any, path []any) (KeychainDef, error) {
	m, err := d.entry(v, path, "keychain entries")
	if err != nil {
		return KeychainDef{}, err
	}
	k := KeychainDef{Raw: m, Line: lineOf(d.root, path...)}
	if err := decodeFields(d, m, path, []field[string]{{"name", &k.Name}, {"kind", &k.Kind}, {"credential", &k.Credential}, {"token_type", &k.TokenType}, {"provider", &k.Provider}, {"region", &k.Region}, {"residency", &k.Residency}}); err != nil {
		return k, err
	}
	k.Scope = m["scope"]
	k.Auth = m["auth"]
	k.Region = strings.TrimSpace(k.Region)
	k.Residency = strings.TrimSpace(k.Residency)
	if k.Map, err = d.strMap(m["map"], path, "map"); err != nil {
		return k, err
	}
	if k.AllowedRegions, err = d.strList(m["allowed_regions"], path, "allowed_regions"); err != nil {
		return k, err
	}
	if k.AllowedRegions == nil {
		k.AllowedRegions = []string{}
	}
	if err := decodeFields(d, m, path, []field[bool]{{"no_broker_fallback", &k.NoBrokerFallback}, {"auto_renew", &k.AutoRenew}}); err != nil {
		return k, err
	}
	k.Extra = extra(m, "name", "kind", "credential", "token_type", "scope", "provider", "auth", "map",
		"region", "residency", "allowed_regions", "no_broker_fallback", "auto_renew")
	return k, nil
}

func (d *decoder) workbookEntry(v any, path []any) (WorkbookEntry, error) {
	m, err := d.entry(v, path, "workbook entries")
	if err != nil {
		return WorkbookEntry{}, err
	}
	w := WorkbookEntry{Raw: m, Line: lineOf(d.root, path...)}
	if w.Name, err = d.str(m["name"], path, "name"); err != nil {
		return w, err
	}
	if t, ok := m["tool"]; ok && t != nil {
		tm, err := d.obj(t, path, "tool")
		if err != nil {
			return w, err
		}
		if w.Tool, err = d.toolSpec(tm, at(path, "tool")); err != nil {
			return w, err
		}
	}
	w.Sink = m["sink"]
	w.Extra = extra(m, "name", "tool", "sink")
	return w, nil
}

func (d *decoder) workflowStep(v any, path []any) (*Step, error) {
	m, err := d.entry(v, path, "workflow steps")
	if err != nil {
		return nil, err
	}
	s := &Step{Raw: m, Line: lineOf(d.root, path...)}
	if err := decodeFields(d, m, path, []field[string]{{"step", &s.Name}, {"desc", &s.Desc}, {"when", &s.When}}); err != nil {
		return nil, err
	}
	d.step = s.Name
	if _, ok := m["on_error"]; ok {
		d.strayOnErrorAt(at(path, "on_error"))
	}
	if err := d.stepSpec(s, m["spec"], at(path, "spec")); err != nil {
		return nil, err
	}
	if err := decodeFields(d, m, path, []field[map[string]any]{{"args", &s.Args}, {"input", &s.Input}, {"vars", &s.Vars}, {"set", &s.Set}}); err != nil {
		return nil, err
	}
	if lv, ok := m["loop"]; ok && lv != nil {
		if s.Loop, err = d.loop(lv, at(path, "loop")); err != nil {
			return nil, err
		}
	}
	if tv, ok := m["tool"]; ok && tv != nil {
		if s.Tool, err = d.tool(tv, at(path, "tool")); err != nil {
			return nil, err
		}
		s.hasTool = true
	}
	if nv, ok := m["next"]; ok && nv != nil {
		if s.Next, err = d.next(nv, at(path, "next")); err != nil {
			return nil, err
		}
	}
	s.Extra = extra(m, "step", "desc", "when", "spec", "args", "input", "vars", "set", "loop", "tool", "next")
	return s, nil
}

func (d *decoder) stepSpec(s *Step, v any, path []any) error {
	m, err := d.obj(v, path)
	if err != nil || m == nil {
		return err
	}
	s.Spec.Raw = m
	s.Spec.onErrorLine = lineOf(d.root, at(path, "on_error")...)
	d.timeoutAt(m, path, true)
	return decodeFields(d, m, path, []field[string]{{"next_mode", &s.Spec.NextMode}, {"timeout", &s.Spec.Timeout}, {"on_error", &s.Spec.OnError}})
}

func (d *decoder) loop(v any, path []any) (*Loop, error) {
	m, err := d.obj(v, path)
	if err != nil {
		return nil, err
	}
	l := &Loop{Raw: m, Mode: LoopSequential}
	d.noOnError(m, path)
	if l.In, err = d.loopIn(m["in"], path, "in"); err != nil {
		return nil, err
	}
	switch m["in"].(type) {
	case []any, map[string]any:
		l.Literal = m["in"]
	}
	if l.Iterator, err = d.str(m["iterator"], path, "iterator"); err != nil {
		return nil, err
	}
	if l.Spec, err = d.obj(m["spec"], path, "spec"); err != nil {
		return nil, err
	}
	// mode and max_in_flight belong in loop.spec; they are also accepted directly
	// under loop (a common spelling in the wild), loop.spec winning.
	sources := []struct {
		m    map[string]any
		path []any
	}{{m, path}, {l.Spec, at(path, "spec")}}
	for _, src := range sources {
		if src.m == nil {
			continue
		}
		if mv, ok := src.m["mode"]; ok && mv != nil {
			mode, err := d.str(mv, src.path, "mode")
			if err != nil {
				return nil, err
			}
			l.Mode = strings.ToLower(strings.TrimSpace(mode))
			l.modeLine = lineOf(d.root, at(src.path, "mode")...)
		}
		if fv, ok := src.m["max_in_flight"]; ok && fv != nil {
			n, err := d.positiveInt(fv, src.path, "max_in_flight")
			if err != nil {
				return nil, err
			}
			l.MaxInFlight = n
		}
	}
	return l, nil
}

// loopIn accepts a template string, or a literal list/number written directly (it is
// kept as its JSON text, which renders back to the same value).
func (d *decoder) loopIn(v any, base []any, rest ...any) (string, error) {
	switch t := v.(type) {
	case []any, map[string]any:
		return jsonText(t), nil
	}
	return d.str(v, base, rest...)
}

func (d *decoder) positiveInt(v any, base []any, rest ...any) (int64, error) {
	switch t := v.(type) {
	case int64:
		if t >= 0 {
			return t, nil
		}
	case float64:
		if t >= 0 && t == math.Trunc(t) && t < 1e15 {
			return int64(t), nil
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil && n >= 0 {
			return n, nil
		}
	}
	path := at(base, rest...)
	return 0, d.errAt(path, "%s must be a non-negative integer, got %s", describePath(path), yamlKinds.Of(v))
}

// ---- tools ----

func (d *decoder) tool(v any, path []any) (Tool, error) {
	switch t := v.(type) {
	case map[string]any:
		spec, err := d.toolSpec(t, path)
		if err != nil {
			return Tool{}, err
		}
		return Tool{Single: &spec}, nil
	case []any:
		tasks := make([]PipelineTask, 0, len(t))
		for i, item := range t {
			task, err := d.pipelineTask(item, at(path, i), i)
			if err != nil {
				return Tool{}, err
			}
			tasks = append(tasks, task)
		}
		return Tool{Pipeline: tasks}, nil
	}
	return Tool{}, d.errAt(path, "'tool' must be a mapping (one tool) or a list (a pipeline), got %s; a routing-only step uses 'tool: {kind: noop}'", yamlKinds.Of(v))
}

// pipelineTask reads one pipeline item: the flat shape {name, kind, ...} is tried
// first, then the labelled shape {<label>: {kind, ...}}. A labelled item with more or
// fewer than one key is a validation error, reported by Validate.
func (d *decoder) pipelineTask(v any, path []any, i int) (PipelineTask, error) {
	m, err := d.obj(v, path)
	if err != nil {
		return PipelineTask{}, err
	}
	task := PipelineTask{Line: lineOf(d.root, path...)}
	if _, flat := m["kind"]; flat {
		label, err := d.str(m["name"], path, "name")
		if err != nil {
			return task, err
		}
		spec := make(map[string]any, len(m))
		for k, e := range m {
			if k != "name" {
				spec[k] = e
			}
		}
		task.Label, task.Flat = label, true
		task.Tool, err = d.toolSpec(spec, path)
		task.Tool.Name = label
		return task, err
	}
	if len(m) != 1 {
		// keep the item; Validate reports the exact message
		task.Label = fmt.Sprintf("\x00bad:%d", len(m))
		return task, nil
	}
	for label, body := range m {
		bm, err := d.obj(body, path, label)
		if err != nil {
			return task, err
		}
		if bm == nil {
			bm = map[string]any{}
		}
		task.Label = label
		task.Tool, err = d.toolSpec(bm, at(path, label))
		if err != nil {
			return task, err
		}
	}
	return task, nil
}

func (d *decoder) toolSpec(m map[string]any, path []any) (ToolSpec, error) {
	t := ToolSpec{Raw: m}
	d.noOnError(m, path)
	d.timeoutAt(m, path, false)
	err := decodeFields(d, m, path, []field[string]{
		{"kind", &t.Kind}, {"name", &t.Name}, {"code", &t.Code}, {"url", &t.URL}, {"method", &t.Method},
		{"query", &t.Query}, {"command", &t.Command}, {"connection", &t.Connection},
	})
	if err != nil {
		return t, err
	}
	t.Kind = strings.TrimSpace(t.Kind)
	_, hasArgs := m["args"]
	_, hasInput := m["input"]
	if hasArgs && hasInput {
		return t, d.errAt(at(path, "args"), "a tool has both 'args' and 'input' (they are the same field; use 'input')")
	}
	if hasInput {
		t.Input, t.HasInput = m["input"], true
	} else if hasArgs {
		t.Input, t.HasInput = m["args"], true
	}
	t.Auth, t.Libs, t.OutputSelect = m["auth"], m["libs"], m["output_select"]
	switch v := m["params"].(type) {
	case nil, map[string]any, []any:
		t.Params = v
	default:
		p := at(path, "params")
		return t, d.errAt(p, "%s must be a mapping or a list, got %s", describePath(p), yamlKinds.Of(v))
	}
	if t.Headers, err = d.strMap(m["headers"], path, "headers"); err != nil {
		return t, err
	}
	if err := decodeFields(d, m, path, []field[map[string]any]{{"spec", &t.Spec}, {"set", &t.Set}}); err != nil {
		return t, err
	}
	if t.Eval, err = decodeList(d, m["eval"], at(path, "eval"), d.evalEntry); err != nil {
		return t, err
	}
	t.Extra = extra(m, "kind", "name", "code", "url", "method", "query", "command", "connection",
		"args", "input", "auth", "libs", "output_select", "params", "headers", "spec", "set", "eval")
	return t, nil
}

func (d *decoder) evalEntry(v any, path []any) (EvalEntry, error) {
	m, err := d.obj(v, path)
	if err != nil {
		return EvalEntry{}, err
	}
	e := EvalEntry{Raw: m}
	if ev, ok := m["else"]; ok {
		em, err := d.obj(ev, path, "else")
		if err != nil {
			return e, err
		}
		e.Else = &EvalElse{}
		if e.Else.Do, err = d.str(em["do"], path, "else", "do"); err != nil {
			return e, err
		}
		if e.Else.SetVars, err = d.obj(em["set_vars"], path, "else", "set_vars"); err != nil {
			return e, err
		}
		return e, nil
	}
	if err := decodeFields(d, m, path, []field[string]{{"expr", &e.Expr}, {"do", &e.Do}, {"target", &e.Target}}); err != nil {
		return e, err
	}
	e.Attempts, e.Backoff, e.Delay = m["attempts"], m["backoff"], m["delay"]
	if e.SetVars, err = d.obj(m["set_vars"], path, "set_vars"); err != nil {
		return e, err
	}
	return e, nil
}

// ---- next ----

func (d *decoder) next(v any, path []any) (*Next, error) {
	n := &Next{Raw: v}
	switch t := v.(type) {
	case string:
		n.Shape = NextSingle
		n.Arcs = []Arc{{Step: t, Line: lineOf(d.root, path...)}}
		return n, nil
	case []any:
		allStrings, allMaps := true, true
		for _, e := range t {
			switch e.(type) {
			case string:
				allMaps = false
			case map[string]any:
				allStrings = false
			default:
				allStrings, allMaps = false, false
			}
		}
		switch {
		case allStrings:
			n.Shape = NextList
			for i, e := range t {
				n.Arcs = append(n.Arcs, Arc{Step: e.(string), Line: lineOf(d.root, at(path, i)...)})
			}
			return n, nil
		case allMaps:
			n.Shape = NextTargets
			for i, e := range t {
				arc, err := d.arc(e.(map[string]any), at(path, i))
				if err != nil {
					return nil, err
				}
				n.Arcs = append(n.Arcs, arc)
			}
			return n, nil
		}
		return nil, d.errAt(path, "'next' as a list must hold only step names or only {step: ...} mappings")
	case map[string]any:
		n.Shape = NextRouter
		if _, single := t["step"]; !single || t["arcs"] != nil {
			d.noOnError(t, path) // a lone arc mapping is checked as an arc
		}
		spec, err := d.obj(t["spec"], path, "spec")
		if err != nil {
			return nil, err
		}
		n.Spec = spec
		if n.Mode, err = d.str(spec["mode"], path, "spec", "mode"); err != nil {
			return nil, err
		}
		arcs, err := d.list(t["arcs"], path, "arcs")
		if err != nil {
			return nil, err
		}
		if arcs == nil {
			if _, single := t["step"]; single {
				// a lone {step: x, when: ...} mapping: one arc
				arc, err := d.arc(t, path)
				if err != nil {
					return nil, err
				}
				n.Shape = NextTargets
				n.Spec, n.Mode = nil, ""
				n.Arcs = []Arc{arc}
				return n, nil
			}
		}
		for i, e := range arcs {
			m, err := d.obj(e, path, "arcs", i)
			if err != nil {
				return nil, err
			}
			arc, err := d.arc(m, at(path, "arcs", i))
			if err != nil {
				return nil, err
			}
			n.Arcs = append(n.Arcs, arc)
		}
		return n, nil
	}
	return nil, d.errAt(path, "'next' must be a step name, a list or a mapping, got %s", yamlKinds.Of(v))
}

func (d *decoder) arc(m map[string]any, path []any) (Arc, error) {
	a := Arc{Raw: m, Line: lineOf(d.root, path...)}
	if m == nil {
		return a, nil
	}
	d.noOnError(m, path)
	if err := decodeFields(d, m, path, []field[string]{{"step", &a.Step}, {"when", &a.When}}); err != nil {
		return a, err
	}
	if err := decodeFields(d, m, path, []field[map[string]any]{{"args", &a.Args}, {"set", &a.Set}, {"spec", &a.Spec}}); err != nil {
		return a, err
	}
	return a, nil
}

// jsonText renders a literal value as JSON text (used for a literal loop.in list).
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
