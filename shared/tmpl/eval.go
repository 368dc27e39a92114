package tmpl

import "math"
import "strings"
import "unicode/utf8"

import "github.com/noetl/controlplane/shared/jsonx"

// Limits that keep a hostile or buggy template from exhausting memory or time.
const (
	maxItems    = 1 << 20  // largest list a template may build (range, repeat)
	maxOutput   = 16 << 20 // largest text a template may produce
	maxSteps    = 1 << 20  // loop iterations per render
	maxDepthRec = 256      // nesting of evaluation
)

type env struct {
	root   map[string]any
	frames []map[string]any
	// missed is set when a variable or attribute lookup yields undefined; used to defer
	// templates whose inputs are not known yet.
	missed bool
	steps  int
	depth  int
}

func (e *env) lookup(name string) any {
	for i := len(e.frames) - 1; i >= 0; i-- {
		if v, ok := e.frames[i][name]; ok {
			return v
		}
	}
	if v, ok := e.root[name]; ok {
		return norm(v)
	}
	if g, ok := globals[name]; ok {
		return g
	}
	e.missed = true
	return undefined
}

// noteUndefined returns the result of a lookup, first marking the render as having
// missed one when it is undefined.
func (e *env) noteUndefined(v any) any {
	if isUndef(v) {
		e.missed = true
	}
	return v
}

func (e *env) set(name string, v any) {
	if len(e.frames) == 0 {
		e.frames = append(e.frames, map[string]any{})
	}
	e.frames[len(e.frames)-1][name] = v
}

type expr interface {
	eval(e *env) (any, error)
}

type stmt interface {
	exec(e *env, w *strings.Builder) error
}

// ---- statements ----

type textNode struct{ s string }

func (n *textNode) exec(e *env, w *strings.Builder) error {
	if w.Len()+len(n.s) > maxOutput {
		return renderErr("output too large")
	}
	w.WriteString(n.s)
	return nil
}

type outputNode struct{ e expr }

func (n *outputNode) exec(e *env, w *strings.Builder) error {
	v, err := n.e.eval(e)
	if err != nil {
		return err
	}
	s := toText(v)
	if w.Len()+len(s) > maxOutput {
		return renderErr("output too large")
	}
	w.WriteString(s)
	return nil
}

// checkSize rejects a string result that exceeds the output limit.
func checkSize(s string) (any, error) {
	if len(s) > maxOutput {
		return nil, renderErr("string too large")
	}
	return s, nil
}

type ifNode struct {
	conds  []expr
	bodies [][]stmt
	els    []stmt
}

func (n *ifNode) exec(e *env, w *strings.Builder) error {
	for i, c := range n.conds {
		v, err := c.eval(e)
		if err != nil {
			return err
		}
		if truthy(v) {
			return execAll(n.bodies[i], e, w)
		}
	}
	return execAll(n.els, e, w)
}

type forNode struct {
	usesLoop bool
	targets  []string
	iter     expr
	filter   expr
	body     []stmt
	els      []stmt
}

func (n *forNode) exec(e *env, w *strings.Builder) error {
	v, err := n.iter.eval(e)
	if err != nil {
		return err
	}
	items, err := iterate(v)
	if err != nil {
		return renderErr("cannot loop: %v", err)
	}
	frame := map[string]any{}
	e.frames = append(e.frames, frame)
	defer func() { e.frames = e.frames[:len(e.frames)-1] }()
	bind := func(item any) error {
		if len(n.targets) == 1 {
			frame[n.targets[0]] = item
			return nil
		}
		parts, ok := norm(item).([]any)
		if !ok || len(parts) != len(n.targets) {
			return renderErr("cannot unpack %s into %d loop variables", typeName(item), len(n.targets))
		}
		for i, t := range n.targets {
			frame[t] = parts[i]
		}
		return nil
	}
	if n.filter != nil {
		kept := make([]any, 0, len(items))
		for _, it := range items {
			if err := bind(it); err != nil {
				return err
			}
			ok, err := n.filter.eval(e)
			if err != nil {
				return err
			}
			if truthy(ok) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	if len(items) == 0 {
		clear(frame)
		return execAll(n.els, e, w)
	}
	total := int64(len(items))
	for i, it := range items {
		e.steps++
		if e.steps > maxSteps {
			return renderErr("too many loop iterations")
		}
		if err := bind(it); err != nil {
			return err
		}
		if !n.usesLoop {
			if err := execAll(n.body, e, w); err != nil {
				return err
			}
			continue
		}
		idx := int64(i)
		loop := map[string]any{
			"index": idx + 1, "index0": idx, "revindex": total - idx, "revindex0": total - idx - 1,
			"first": i == 0, "last": idx == total-1, "length": total, "depth": int64(1), "depth0": int64(0),
			"previtem": undefined, "nextitem": undefined,
		}
		if i > 0 {
			loop["previtem"] = items[i-1]
		}
		if idx < total-1 {
			loop["nextitem"] = items[i+1]
		}
		loop["cycle"] = callable(func(args []any, _ map[string]any) (any, error) {
			if len(args) == 0 {
				return undefined, nil
			}
			return args[i%len(args)], nil
		})
		loop["changed"] = callable(func(args []any, _ map[string]any) (any, error) { return true, nil })
		frame["loop"] = loop
		if err := execAll(n.body, e, w); err != nil {
			return err
		}
	}
	return nil
}

type setNode struct {
	target string
	attr   string
	e      expr
	body   []stmt
}

func (n *setNode) exec(e *env, w *strings.Builder) error {
	var v any
	if n.body != nil {
		var b strings.Builder
		if err := execAll(n.body, e, &b); err != nil {
			return err
		}
		v = b.String()
	} else {
		var err error
		if v, err = n.e.eval(e); err != nil {
			return err
		}
	}
	if n.attr != "" {
		ns, ok := e.lookup(n.target).(*namespace)
		if !ok {
			return renderErr("cannot set attribute %q on %s: only namespace() objects are mutable", n.attr, n.target)
		}
		ns.m[n.attr] = v
		return nil
	}
	e.set(n.target, v)
	return nil
}

func execAll(nodes []stmt, e *env, w *strings.Builder) error {
	for _, n := range nodes {
		if err := n.exec(e, w); err != nil {
			return err
		}
	}
	return nil
}

// ---- expressions ----

type constExpr struct{ v any }

func (x *constExpr) eval(*env) (any, error) { return x.v, nil }

type nameExpr struct{ name string }

func (x *nameExpr) eval(e *env) (any, error) { return e.lookup(x.name), nil }

type attrExpr struct {
	obj  expr
	name string
}

func (x *attrExpr) eval(e *env) (any, error) {
	o, err := x.obj.eval(e)
	if err != nil {
		return nil, err
	}
	return e.noteUndefined(getAttr(o, x.name)), nil
}

type itemExpr struct {
	obj, key expr
}

func (x *itemExpr) eval(e *env) (any, error) {
	o, k, err := evalBoth(e, x.obj, x.key)
	if err != nil {
		return nil, err
	}
	return e.noteUndefined(getItem(o, k)), nil
}

// getAttr is `obj.name`: a map key, then a method of the value; undefined otherwise.
func getAttr(o any, name string) any {
	switch t := norm(o).(type) {
	case map[string]any:
		if v, ok := t[name]; ok {
			return norm(v)
		}
		if m := mapMethod(t, name); m != nil {
			return m
		}
	case *namespace:
		if v, ok := t.m[name]; ok {
			return v
		}
	case string:
		if m := stringMethod(t, name); m != nil {
			return m
		}
	case []any:
		if v, ok := groupAttr(t, name); ok {
			return v
		}
		if m := listMethod(t, name); m != nil {
			return m
		}
	}
	return undefined
}

// getItem is `obj[key]`: map key, list index (negative counts from the end), or string
// character; undefined when missing.
func getItem(o, k any) any {
	switch t := norm(o).(type) {
	case map[string]any:
		ks, ok := k.(string)
		if !ok {
			ks = toText(k)
		}
		if v, ok := t[ks]; ok {
			return norm(v)
		}
	case *namespace:
		if ks, ok := k.(string); ok {
			if v, ok := t.m[ks]; ok {
				return v
			}
		}
	case []any:
		if i, ok := indexOf(k, len(t)); ok {
			return norm(t[i])
		}
	case string:
		if _, isInt := k.(int64); isInt {
			rs := []rune(t)
			if i, ok := indexOf(k, len(rs)); ok {
				return string(rs[i])
			}
		}
	}
	return undefined
}

func indexOf(k any, n int) (int, bool) {
	var i int64
	switch t := k.(type) {
	case int64:
		i = t
	case bool:
		i = b2i(t)
	case float64:
		if t != math.Trunc(t) {
			return 0, false
		}
		i = int64(t)
	default:
		return 0, false
	}
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

type sliceExpr struct {
	obj, start, stop, step expr
}

func (x *sliceExpr) eval(e *env) (any, error) {
	o, err := x.obj.eval(e)
	if err != nil {
		return nil, err
	}
	bound := func(b expr) (*int64, error) {
		if b == nil {
			return nil, nil
		}
		v, err := b.eval(e)
		if err != nil {
			return nil, err
		}
		if isNullish(v) {
			return nil, nil
		}
		i, ok := v.(int64)
		if !ok {
			return nil, renderErr("slice indices must be integers, got %s", typeName(v))
		}
		return &i, nil
	}
	start, err := bound(x.start)
	if err != nil {
		return nil, err
	}
	stop, err := bound(x.stop)
	if err != nil {
		return nil, err
	}
	step, err := bound(x.step)
	if err != nil {
		return nil, err
	}
	switch t := norm(o).(type) {
	case []any:
		out, err := sliceOf(t, start, stop, step)
		if err != nil {
			return nil, err
		}
		return out, nil
	case string:
		out, err := sliceOf([]rune(t), start, stop, step)
		if err != nil {
			return nil, err
		}
		return string(out), nil
	case nil, undefinedType:
		return undefined, nil
	}
	return nil, renderErr("cannot slice %s", typeName(o))
}

// sliceOf is s[start:stop:step] in Python's semantics: a list's items or a string's
// characters.
func sliceOf[T any](s []T, start, stop, step *int64) ([]T, error) {
	idx, err := sliceIndices(len(s), start, stop, step)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = s[j]
	}
	return out, nil
}

// sliceIndices follows Python's slice semantics.
func sliceIndices(n int, start, stop, step *int64) ([]int, error) {
	st := int64(1)
	if step != nil {
		st = *step
	}
	if st == 0 {
		return nil, renderErr("slice step cannot be zero")
	}
	ln := int64(n)
	clampIdx := func(p *int64, def int64, lo, hi int64) int64 {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += ln
			if v < lo {
				v = lo
			}
		} else if v > hi {
			v = hi
		}
		return v
	}
	var out []int
	if st > 0 {
		a := clampIdx(start, 0, 0, ln)
		b := clampIdx(stop, ln, 0, ln)
		for i := a; i < b; i += st {
			out = append(out, int(i))
		}
	} else {
		a := clampIdx(start, ln-1, -1, ln-1)
		b := clampIdx(stop, -1, -1, ln-1)
		if stop != nil && *stop < 0 && *stop+ln < 0 {
			b = -1
		}
		for i := a; i > b; i += st {
			out = append(out, int(i))
		}
	}
	return out, nil
}

// unaryExpr is `not x`, `-x` or `+x`: op, one of the unary functions below, applied to
// the operand's value.
type unaryExpr struct {
	x  expr
	op func(v any) (any, error)
}

func (x *unaryExpr) eval(e *env) (any, error) {
	v, err := x.x.eval(e)
	if err != nil {
		return nil, err
	}
	return x.op(v)
}

func unaryNot(v any) (any, error) { return !truthy(v), nil }

// unaryMinus is Python's -x: a bool counts as 0 or 1, and the negative of MinInt64,
// which an int64 cannot hold, is a float.
func unaryMinus(v any) (any, error) {
	switch t := v.(type) {
	case int64:
		if t == math.MinInt64 {
			return -float64(t), nil
		}
		return -t, nil
	case float64:
		return -t, nil
	case bool:
		return -b2i(t), nil
	}
	return nil, renderErr("bad operand type for unary -: %s", typeName(v))
}

// unaryPlus is Python's +x: a number as it is, a bool as 0 or 1.
func unaryPlus(v any) (any, error) {
	switch t := v.(type) {
	case int64, float64:
		return t, nil
	case bool:
		return b2i(t), nil
	}
	return nil, renderErr("bad operand type for unary +: %s", typeName(v))
}

type logicExpr struct {
	and  bool
	l, r expr
}

// and/or return one of their operands, as in Python.
func (x *logicExpr) eval(e *env) (any, error) {
	l, err := x.l.eval(e)
	if err != nil {
		return nil, err
	}
	if truthy(l) != x.and {
		return l, nil
	}
	return x.r.eval(e)
}

type condExpr struct {
	cond, a, b expr
}

func (x *condExpr) eval(e *env) (any, error) {
	c, err := x.cond.eval(e)
	if err != nil {
		return nil, err
	}
	if truthy(c) {
		return x.a.eval(e)
	}
	if x.b == nil {
		return undefined, nil
	}
	return x.b.eval(e)
}

type compareExpr struct {
	first expr
	ops   []string
	rest  []expr
}

func (x *compareExpr) eval(e *env) (any, error) {
	l, err := x.first.eval(e)
	if err != nil {
		return nil, err
	}
	for i, op := range x.ops {
		r, err := x.rest[i].eval(e)
		if err != nil {
			return nil, err
		}
		ok, err := compareOp(op, l, r)
		if err != nil {
			return nil, err
		}
		if !ok {
			return false, nil
		}
		l = r
	}
	return true, nil
}

func compareOp(op string, l, r any) (bool, error) {
	switch op {
	case "==":
		return equal(l, r), nil
	case "!=":
		return !equal(l, r), nil
	case "in":
		return contains(r, l)
	case "not in":
		ok, err := contains(r, l)
		return !ok, err
	}
	c, ok := compare(l, r)
	if !ok {
		// Mismatched kinds have no order; like minijinja this is not an error, the
		// comparison is simply false (undefined > 3 is false).
		return false, nil
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, renderErr("unknown operator %s", op)
}

// contains is `item in container`.
func contains(container, item any) (bool, error) {
	switch t := norm(container).(type) {
	case nil, undefinedType:
		return false, nil
	case string:
		s, ok := item.(string)
		if !ok {
			s = toText(item)
		}
		return strings.Contains(t, s), nil
	case []any:
		for _, v := range t {
			if equal(v, item) {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		s, ok := item.(string)
		if !ok {
			return false, nil
		}
		_, found := t[s]
		return found, nil
	case *namespace:
		return contains(t.m, item)
	}
	return false, renderErr("argument of type %s is not iterable", typeName(container))
}

type binExpr struct {
	op   string
	l, r expr
}

func (x *binExpr) eval(e *env) (any, error) {
	l, r, err := evalBoth(e, x.l, x.r)
	if err != nil {
		return nil, err
	}
	return arith(x.op, l, r)
}

// evalBoth evaluates a, then b.
func evalBoth(e *env, a, b expr) (av, bv any, err error) {
	if av, err = a.eval(e); err != nil {
		return nil, nil, err
	}
	if bv, err = b.eval(e); err != nil {
		return nil, nil, err
	}
	return av, bv, nil
}

func arith(op string, l, r any) (any, error) {
	l, r = norm(l), norm(r)
	if op == "~" {
		ls, rs := toText(l), toText(r)
		if len(ls)+len(rs) > maxOutput {
			return nil, renderErr("string too large")
		}
		return ls + rs, nil
	}
	// bool takes part in arithmetic as 0/1, as in Python
	if b, ok := l.(bool); ok {
		l = b2i(b)
	}
	if b, ok := r.(bool); ok {
		r = b2i(b)
	}
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if lInt && rInt {
		return intArith(op, li, ri)
	}
	lf, lNum := jsonx.AsFloat(l)
	rf, rNum := jsonx.AsFloat(r)
	if lNum && rNum {
		return floatArith(op, lf, rf)
	}
	switch op {
	case "+":
		if ls, ok := l.(string); ok {
			if rs, ok := r.(string); ok {
				if len(ls)+len(rs) > maxOutput {
					return nil, renderErr("string too large")
				}
				return ls + rs, nil
			}
		}
		if ll, ok := l.([]any); ok {
			if rl, ok := r.([]any); ok {
				if len(ll)+len(rl) > maxItems {
					return nil, renderErr("list too large")
				}
				out := make([]any, 0, len(ll)+len(rl))
				return append(append(out, ll...), rl...), nil
			}
		}
	case "*":
		if s, ok := l.(string); ok && rInt {
			return repeatString(s, ri)
		}
		if s, ok := r.(string); ok && lInt {
			return repeatString(s, li)
		}
		if lst, ok := l.([]any); ok && rInt {
			return repeatList(lst, ri)
		}
		if lst, ok := r.([]any); ok && lInt {
			return repeatList(lst, li)
		}
	case "%":
		if s, ok := l.(string); ok {
			return pyFormat(s, r)
		}
	}
	return nil, renderErr("unsupported operand types for %s: %s and %s", op, typeName(l), typeName(r))
}

func repeatString(s string, n int64) (any, error) {
	if n <= 0 {
		return "", nil
	}
	if int64(len(s))*n > maxOutput || n > maxOutput {
		return nil, renderErr("string too large")
	}
	return strings.Repeat(s, int(n)), nil
}

func repeatList(l []any, n int64) (any, error) {
	if n <= 0 {
		return []any{}, nil
	}
	if int64(len(l))*n > maxItems || n > maxItems {
		return nil, renderErr("list too large")
	}
	out := make([]any, 0, len(l)*int(n))
	for i := int64(0); i < n; i++ {
		out = append(out, l...)
	}
	return out, nil
}

// intArith keeps integer results exact; on overflow it falls back to float64 rather
// than wrapping around.
func intArith(op string, a, b int64) (any, error) {
	switch op {
	case "+":
		s := a + b
		if (s > a) == (b > 0) {
			return s, nil
		}
		return float64(a) + float64(b), nil
	case "-":
		s := a - b
		if (s < a) == (b > 0) {
			return s, nil
		}
		return float64(a) - float64(b), nil
	case "*":
		if a == 0 || b == 0 {
			return int64(0), nil
		}
		p := a * b
		if p/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64) {
			return p, nil
		}
		return float64(a) * float64(b), nil
	case "/":
		if b == 0 {
			return nil, renderErr("division by zero")
		}
		return float64(a) / float64(b), nil
	case "//":
		if b == 0 {
			return nil, renderErr("division by zero")
		}
		if a == math.MinInt64 && b == -1 {
			return -float64(a), nil
		}
		q := a / b
		if (a%b != 0) && ((a < 0) != (b < 0)) {
			q--
		}
		return q, nil
	case "%":
		if b == 0 {
			return nil, renderErr("modulo by zero")
		}
		if b == -1 {
			return int64(0), nil
		}
		m := a % b
		if m != 0 && ((m < 0) != (b < 0)) {
			m += b
		}
		return m, nil
	case "**":
		if b < 0 {
			return math.Pow(float64(a), float64(b)), nil
		}
		result := int64(1)
		base := a
		exp := b
		for exp > 0 {
			if exp&1 == 1 {
				r, ok := mulExact(result, base)
				if !ok {
					return math.Pow(float64(a), float64(b)), nil
				}
				result = r
			}
			exp >>= 1
			if exp > 0 {
				nb, ok := mulExact(base, base)
				if !ok {
					return math.Pow(float64(a), float64(b)), nil
				}
				base = nb
			}
		}
		return result, nil
	}
	return nil, renderErr("unknown operator %s", op)
}

func mulExact(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}

func floatArith(op string, a, b float64) (any, error) {
	switch op {
	case "+":
		return a + b, nil
	case "-":
		return a - b, nil
	case "*":
		return a * b, nil
	case "/":
		if b == 0 {
			return nil, renderErr("division by zero")
		}
		return a / b, nil
	case "//":
		if b == 0 {
			return nil, renderErr("division by zero")
		}
		return math.Floor(a / b), nil
	case "%":
		if b == 0 {
			return nil, renderErr("modulo by zero")
		}
		m := math.Mod(a, b)
		if m != 0 && ((m < 0) != (b < 0)) {
			m += b
		}
		return m, nil
	case "**":
		return math.Pow(a, b), nil
	}
	return nil, renderErr("unknown operator %s", op)
}

type listExpr struct{ items []expr }

func (x *listExpr) eval(e *env) (any, error) {
	return evalList(e, x.items)
}

// evalList evaluates each of items in order into a new list.
func evalList(e *env, items []expr) ([]any, error) {
	out := make([]any, len(items))
	for i, it := range items {
		v, err := it.eval(e)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

type dictExpr struct{ entries []dictEntry }

// dictEntry is one `key: value` of a dict literal.
type dictEntry struct{ key, val expr }

func (x *dictExpr) eval(e *env) (any, error) {
	out := make(map[string]any, len(x.entries))
	for _, en := range x.entries {
		k, v, err := evalBoth(e, en.key, en.val)
		if err != nil {
			return nil, err
		}
		ks, ok := k.(string)
		if !ok {
			ks = toText(k)
		}
		out[ks] = v
	}
	return out, nil
}

type callExpr struct {
	fn      expr
	args    []expr
	kwNames []string
	kwVals  []expr
}

func evalArgs(e *env, args []expr, kwNames []string, kwVals []expr) ([]any, map[string]any, error) {
	var av []any
	if len(args) > 0 {
		var err error
		if av, err = evalList(e, args); err != nil {
			return nil, nil, err
		}
	}
	var kw map[string]any
	if len(kwNames) > 0 {
		kw = make(map[string]any, len(kwNames))
		for i, n := range kwNames {
			v, err := kwVals[i].eval(e)
			if err != nil {
				return nil, nil, err
			}
			kw[n] = v
		}
	}
	return av, kw, nil
}

func (x *callExpr) eval(e *env) (any, error) {
	f, err := x.fn.eval(e)
	if err != nil {
		return nil, err
	}
	fn, ok := f.(callable)
	if !ok {
		// A variable named like a global function (a step called `range`) hides it from
		// a bare read, but a call can only mean the function: the step's result is never
		// callable.
		if n, isName := x.fn.(*nameExpr); isName {
			fn, ok = globals[n.name].(callable)
		}
	}
	if !ok {
		return nil, renderErr("%s is not callable", describeExpr(x.fn, f))
	}
	args, kw, err := evalArgs(e, x.args, x.kwNames, x.kwVals)
	if err != nil {
		return nil, err
	}
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > maxDepthRec {
		return nil, renderErr("recursion too deep")
	}
	return fn(args, kw)
}

func describeExpr(x expr, v any) string {
	switch t := x.(type) {
	case *nameExpr:
		if isUndef(v) {
			return "undefined name " + t.name
		}
		return t.name
	case *attrExpr:
		return "attribute " + t.name
	}
	return typeName(v)
}

type filterFunc func(e *env, v any, args []any, kw map[string]any) (any, error)

type filterExpr struct {
	x       expr
	name    string
	fn      filterFunc
	args    []expr
	kwNames []string
	kwVals  []expr
}

func (x *filterExpr) eval(e *env) (any, error) {
	before := e.missed
	v, err := x.x.eval(e)
	if err != nil {
		return nil, err
	}
	resolves := resolvesUndefined[x.name]
	if resolves && isNullish(v) {
		// `default` replaces the missing operand, so the operand's lookups are not what
		// keeps the template from resolving; its arguments (the value used) still count.
		e.missed = before
	}
	afterOperand := e.missed
	args, kw, err := evalArgs(e, x.args, x.kwNames, x.kwVals)
	if err != nil {
		return nil, err
	}
	if resolves && !isNullish(v) && len(args) < 2 && len(kw) == 0 {
		e.missed = afterOperand // a defined operand is kept: the default value is not used
	}
	out, err := x.fn(e, v, args, kw)
	if err != nil {
		if te, ok := err.(*Error); ok {
			return nil, te
		}
		return nil, renderErr("filter %s: %v", x.name, err)
	}
	return out, nil
}

// resolvesUndefined names the filters and tests that give a missing operand a value, so
// a template whose only missing lookups feed them still renders on the server (deferral
// is for references that stay unresolved).
var resolvesUndefined = map[string]bool{"default": true, "d": true, "defined": true, "undefined": true, "none": true}

type testFunc func(v any, args []any) (bool, error)

type testExpr struct {
	x      expr
	name   string
	fn     testFunc
	args   []expr
	negate bool
}

func (x *testExpr) eval(e *env) (any, error) {
	before := e.missed
	v, err := x.x.eval(e)
	if err != nil {
		return nil, err
	}
	if resolvesUndefined[x.name] && isNullish(v) {
		e.missed = before // `is defined` answers the question a missing value asks
	}
	args, _, err := evalArgs(e, x.args, nil, nil)
	if err != nil {
		return nil, err
	}
	ok, err := x.fn(v, args)
	if err != nil {
		return nil, renderErr("test %s: %v", x.name, err)
	}
	return ok != x.negate, nil
}

// runeLen counts characters, as Python's len() does for str.
func runeLen(s string) int { return utf8.RuneCountInString(s) }
