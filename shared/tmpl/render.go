package tmpl

import "container/list"
import "strconv"
import "strings"
import "sync"

import "github.com/noetl/controlplane/shared/jsonx"

// DefaultCacheSize is the number of compiled templates a Renderer keeps by default.
const DefaultCacheSize = 4096

// Renderer renders templates with a bounded cache of compiled templates, so that the
// hot path (every orchestration pass renders the same playbook strings again) parses
// each distinct text once. A Renderer is safe for concurrent use; the zero value is not
// usable, call New.
type Renderer struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front = most recently used
	items map[string]*list.Element
}

type cacheEntry struct {
	key  string
	tpl  *Template
	expr expr // for bare expressions
	refs Refs // for bare expressions
	err  error
}

// New returns a Renderer whose cache holds up to size compiled templates (and bare
// expressions); size <= 0 means DefaultCacheSize.
func New(size int) *Renderer {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Renderer{max: size, ll: list.New(), items: make(map[string]*list.Element, min(size, 256))}
}

var defaultRenderer = New(DefaultCacheSize)

// Default returns a process-wide Renderer.
func Default() *Renderer { return defaultRenderer }

// CacheLen reports how many compiled entries the cache holds.
func (r *Renderer) CacheLen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ll.Len()
}

func (r *Renderer) get(key string) (*cacheEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.items[key]; ok {
		r.ll.MoveToFront(el)
		return el.Value.(*cacheEntry), true
	}
	return nil, false
}

func (r *Renderer) put(ent *cacheEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.items[ent.key]; ok {
		r.ll.MoveToFront(el)
		return
	}
	r.items[ent.key] = r.ll.PushFront(ent)
	for r.ll.Len() > r.max {
		last := r.ll.Back()
		r.ll.Remove(last)
		delete(r.items, last.Value.(*cacheEntry).key)
	}
}

// Template compiles text, or returns the cached compilation. Syntax errors are cached
// too: a broken template in a hot loop fails fast without re-parsing.
func (r *Renderer) Template(text string) (*Template, error) {
	if ent, ok := r.get(text); ok {
		return ent.tpl, ent.err
	}
	t, err := Compile(text)
	r.put(&cacheEntry{key: text, tpl: t, err: err})
	return t, err
}

// exprKey prefixes bare expressions so they never collide with template texts.
const exprKey = "\x00expr\x00"

func (r *Renderer) compileExpr(text string) (expr, error) {
	key := exprKey + text
	if ent, ok := r.get(key); ok {
		return ent.expr, ent.err
	}
	e, refs, err := compileBareExpr(text)
	r.put(&cacheEntry{key: key, expr: e, refs: refs, err: err})
	return e, err
}

// HasTemplate reports whether s is a template: it holds both {{ and }}, or both {% and
// %} (upstream's test). Anything else — shell's ${#arr[@]}, a lone "{{" — is text and
// is never rendered.
func HasTemplate(s string) bool {
	return (strings.Contains(s, "{{") && strings.Contains(s, "}}")) ||
		(strings.Contains(s, "{%") && strings.Contains(s, "%}"))
}

// RenderString renders text as a text template. Values print as text: strings as they
// are, booleans true/false, null and undefined as nothing, lists and maps as JSON.
// Text without template syntax is returned unchanged.
func (r *Renderer) RenderString(text string, vars map[string]any) (string, error) {
	if !HasTemplate(text) {
		return text, nil
	}
	t, err := r.Template(text)
	if err != nil {
		return "", err
	}
	s, _, err := t.render(vars)
	return s, err
}

// Render executes a compiled template as text.
func (t *Template) Render(vars map[string]any) (string, error) {
	s, _, err := t.render(vars)
	return s, err
}

func (t *Template) render(vars map[string]any) (string, bool, error) {
	e := &env{root: vars}
	var b strings.Builder
	if err := execAll(t.nodes, e, &b); err != nil {
		return "", e.missed, err
	}
	return b.String(), e.missed, nil
}

// value evaluates a template to a typed value: a whole {{ expression }} yields the
// expression's value (undefined and null yield nil), anything else renders as text and
// is retyped by Coerce.
func (t *Template) value(vars map[string]any) (any, bool, error) {
	if t.whole != nil {
		e := &env{root: vars}
		v, err := t.whole.eval(e)
		if err != nil {
			return nil, e.missed, err
		}
		return exportValue(v), e.missed, nil
	}
	s, missed, err := t.render(vars)
	if err != nil {
		return nil, missed, err
	}
	return Coerce(s), missed, nil
}

// Value evaluates a compiled template with render_to_value typing; see RenderValue.
func (t *Template) Value(vars map[string]any) (any, error) {
	v, _, err := t.value(vars)
	return v, err
}

// exportValue turns an evaluation result into a plain model value: undefined becomes
// nil, namespaces become maps, functions become nil.
func exportValue(v any) any {
	switch t := v.(type) {
	case undefinedType, callable:
		return nil
	case *namespace:
		return exportValue(t.m)
	case []any:
		for i, e := range t {
			if !isPlain(e) {
				out := make([]any, len(t))
				copy(out, t[:i])
				for j := i; j < len(t); j++ {
					out[j] = exportValue(t[j])
				}
				return out
			}
		}
		return t
	case map[string]any:
		for _, e := range t {
			if !isPlain(e) {
				out := make(map[string]any, len(t))
				for k, e := range t {
					if !isSelfAlias(e) { // the synthetic .data alias is not part of the value
						out[k] = exportValue(e)
					}
				}
				return out
			}
		}
		return t
	}
	return norm(v)
}

// isPlain: the value (shallowly) holds nothing that exportValue must replace.
func isPlain(v any) bool {
	switch t := v.(type) {
	case nil, bool, int64, float64, string:
		return true
	case []any:
		for _, e := range t {
			if !isPlain(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range t {
			if !isPlain(e) {
				return false
			}
		}
		return true
	}
	return false
}

// Coerce retypes rendered text the way upstream's render_to_value does. On the trimmed
// text, in order: a JSON object or array → that value; true/True/false/False → bool;
// a 64-bit integer → int64; a finite decimal number → float64; empty, null or None →
// nil. Otherwise the text is returned as it was (untrimmed).
func Coerce(s string) any {
	t := strings.TrimSpace(s)
	if len(t) >= 2 && ((t[0] == '{' && t[len(t)-1] == '}') || (t[0] == '[' && t[len(t)-1] == ']')) {
		if v, err := jsonx.Decode([]byte(t)); err == nil {
			return v
		}
		return s
	}
	switch t {
	case "true", "True":
		return true
	case "false", "False":
		return false
	case "", "null", "None":
		return nil
	}
	if i, err := strconv.ParseInt(t, 10, 64); err == nil {
		return i
	}
	if f, ok := parseDecimalFloat(t); ok {
		return f
	}
	return s
}

// RenderText renders one string with render_to_value typing: a string that is exactly
// one {{ expression }} evaluates to the expression's value (JSON types kept, 64-bit
// integers exact, null/undefined → nil); other strings, templated or plain, are
// rendered as text and retyped by Coerce.
func (r *Renderer) RenderText(text string, vars map[string]any) (any, error) {
	if !HasTemplate(text) {
		return Coerce(text), nil
	}
	t, err := r.Template(text)
	if err != nil {
		return nil, err
	}
	v, _, err := t.value(vars)
	return v, err
}

// RenderValue renders a structure: every string leaf goes through RenderText, map keys
// are rendered as plain text (not retyped), and other scalars are returned unchanged.
// The input is not modified.
func (r *Renderer) RenderValue(v any, vars map[string]any) (any, error) {
	return r.RenderValueOpts(v, vars, Options{})
}

// Options changes how RenderValueOpts treats string leaves.
type Options struct {
	// DeferRoots: a template that reads any of these top-level names (for example
	// "_prev", "_results", "keychain") is left verbatim for the worker to render.
	DeferRoots []string
	// DeferUnresolved: a template that reads a variable or attribute that does not
	// exist is left verbatim instead of rendering it as undefined.
	DeferUnresolved bool
	// KeepPlain: a string without template syntax is returned as it is, not retyped.
	// The worker renders values the server already rendered (only the templates the
	// server deferred are left): "123" there is a string a template produced, not a
	// number.
	KeepPlain bool
	// EscapeOutput: what a template renders to is escaped (Escape) wherever it holds
	// template syntax, for a value that is rendered again later. The server renders a
	// command's tool config and the worker renders every string in it that still holds a
	// template: without this, data that looks like a template (a workload value, an HTTP
	// response, a database row) became one on the worker, with the keychain in scope.
	EscapeOutput bool
}

// Escape returns s in a form that renders back to exactly s: each "{{", "{%" and "{#"
// becomes an expression that prints it. Text without template syntax is returned as it
// is, since nothing renders it.
func Escape(s string) string {
	if !HasTemplate(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '{' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '%' || s[i+1] == '#') {
			b.WriteString("{{ '{")
			b.WriteByte(s[i+1])
			b.WriteString("' }}")
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// EscapeValue is v with Escape applied to every string and map key, at any depth; v is
// not modified.
func EscapeValue(v any) any {
	switch t := v.(type) {
	case string:
		return Escape(t)
	case map[string]any: // keys too: the worker renders keys that hold a template
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[Escape(k)] = EscapeValue(e)
		}
		return out
	}
	return jsonx.MapChildren(v, EscapeValue)
}

// RenderValueOpts is RenderValue with deferral options. A deferred leaf is kept as the
// original string (it is not retyped).
func (r *Renderer) RenderValueOpts(v any, vars map[string]any, opts Options) (any, error) {
	return r.renderValue(v, vars, &opts, 0)
}

func (r *Renderer) renderValue(v any, vars map[string]any, opts *Options, depth int) (any, error) {
	if depth > 512 {
		return nil, renderErr("value nested too deeply")
	}
	switch t := v.(type) {
	case string:
		return r.renderLeaf(t, vars, opts)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			rv, err := r.renderValue(e, vars, opts, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = rv
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			rk := k
			if HasTemplate(k) {
				s, err := r.RenderString(k, vars)
				if err != nil {
					return nil, err
				}
				rk = s
				if opts.EscapeOutput {
					rk = Escape(s)
				}
			}
			rv, err := r.renderValue(e, vars, opts, depth+1)
			if err != nil {
				return nil, err
			}
			out[rk] = rv
		}
		return out, nil
	case nil, bool, int64, float64:
		return v, nil
	}
	return r.renderValue(norm(v), vars, opts, depth+1)
}

func (r *Renderer) renderLeaf(s string, vars map[string]any, opts *Options) (any, error) {
	if !HasTemplate(s) {
		if opts.KeepPlain {
			return s, nil
		}
		return Coerce(s), nil
	}
	t, err := r.Template(s)
	if err != nil {
		return nil, err
	}
	for _, root := range opts.DeferRoots {
		if t.refs[root] != nil {
			return s, nil
		}
	}
	v, missed, err := t.value(vars)
	if opts.DeferUnresolved && missed {
		return s, nil
	}
	if err == nil && opts.EscapeOutput {
		return EscapeValue(v), nil
	}
	return v, err
}

// Eval evaluates a bare expression (no {{ }}), such as `a.b > 3`, to its value.
// Undefined and null yield nil.
func (r *Renderer) Eval(expression string, vars map[string]any) (any, error) {
	e, err := r.compileExpr(expression)
	if err != nil {
		return nil, err
	}
	v, err := e.eval(&env{root: vars})
	if err != nil {
		return nil, err
	}
	return exportValue(v), nil
}

// EvalCondition decides a `when` condition. Text without template syntax is a bare
// expression (`status == 'ok'`), as if wrapped in {{ }}. A whole {{ expression }} is
// evaluated to its value; other templates are rendered to text. The result is judged
// by Truthy. An empty condition is true (an arc without `when`).
func (r *Renderer) EvalCondition(text string, vars map[string]any) (bool, error) {
	if strings.TrimSpace(text) == "" {
		return true, nil
	}
	if !HasTemplate(text) {
		v, err := r.Eval(text, vars)
		if err != nil {
			return false, err
		}
		return Truthy(v), nil
	}
	t, err := r.Template(text)
	if err != nil {
		return false, err
	}
	if t.whole != nil {
		v, err := t.whole.eval(&env{root: vars})
		if err != nil {
			return false, err
		}
		return Truthy(exportValue(v)), nil
	}
	s, _, err := t.render(vars)
	if err != nil {
		return false, err
	}
	return Truthy(s), nil
}

// Package-level shorthands on the Default renderer.

// RenderString renders text with the Default renderer.
func RenderString(text string, vars map[string]any) (string, error) {
	return defaultRenderer.RenderString(text, vars)
}

// RenderValue renders a structure with the Default renderer.
func RenderValue(v any, vars map[string]any) (any, error) {
	return defaultRenderer.RenderValue(v, vars)
}

// ConditionRefs reports what a condition can read, with the Default renderer.
func ConditionRefs(text string) (Refs, error) {
	return defaultRenderer.ConditionRefs(text)
}

// ValueRefs adds what rendering v can read to rs, with the Default renderer.
func ValueRefs(v any, rs Refs) error {
	return defaultRenderer.ValueRefs(v, rs)
}

// Eval evaluates a bare expression with the Default renderer.
func Eval(expression string, vars map[string]any) (any, error) {
	return defaultRenderer.Eval(expression, vars)
}

// EvalCondition decides a condition with the Default renderer.
func EvalCondition(text string, vars map[string]any) (bool, error) {
	return defaultRenderer.EvalCondition(text, vars)
}
