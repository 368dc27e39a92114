package tmpl

import "strings"

import "github.com/noetl/controlplane/shared/jsonx"

// Ref is how a template reads one top-level name of its context.
type Ref struct {
	// Whole is set when the value itself is used: printed, iterated, passed to a filter,
	// indexed by a computed key, or asked for a method (`ctx.items()`).
	Whole bool
	// Attrs are the attributes read as `name.attr` or `name['attr']`.
	Attrs map[string]bool
}

// Refs maps every top-level name a template can read to how it reads it. A caller that
// binds only these names (and, for a name not used whole, only these attributes of it)
// renders the template exactly as against the full context.
type Refs map[string]*Ref

func (rs Refs) use(name, attr string) {
	r := rs[name]
	if r == nil {
		r = &Ref{}
		rs[name] = r
	}
	if attr == "" {
		r.Whole = true
		return
	}
	if r.Attrs == nil {
		r.Attrs = map[string]bool{}
	}
	r.Attrs[attr] = true
}

// Merge adds other's references to rs.
func (rs Refs) Merge(other Refs) {
	for name, r := range other {
		if r.Whole {
			rs.use(name, "")
		}
		for a := range r.Attrs {
			rs.use(name, a)
		}
	}
}

// TextRefs reports what rendering text (RenderText, RenderValue leaves) can read. Text
// without template syntax reads nothing.
func (r *Renderer) TextRefs(text string) (Refs, error) {
	if !HasTemplate(text) {
		return nil, nil
	}
	t, err := r.Template(text)
	if err != nil {
		return nil, err
	}
	return t.refs, nil
}

// ConditionRefs reports what EvalCondition(text) can read: a template, or a bare
// expression when text has no template syntax.
func (r *Renderer) ConditionRefs(text string) (Refs, error) {
	if HasTemplate(text) {
		return r.TextRefs(text)
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	if _, err := r.compileExpr(text); err != nil {
		return nil, err
	}
	ent, _ := r.get(exprKey + text)
	if ent == nil { // evicted in between: compile again, uncached
		_, refs, err := compileBareExpr(text)
		return refs, err
	}
	return ent.refs, nil
}

// ValueRefs adds to rs what rendering v (RenderValue) can read: the references of every
// string leaf and of every templated map key.
func (r *Renderer) ValueRefs(v any, rs Refs) error {
	for text := range jsonx.Strings(v) {
		refs, err := r.TextRefs(text)
		if err != nil {
			return err
		}
		rs.Merge(refs)
	}
	return nil
}
