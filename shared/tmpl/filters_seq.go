package tmpl

// Sequence and mapping filters: first/last/length, keys/values/items, sorting and
// de-duplicating, min/max/sum, map/select/selectattr, dictsort and batch.

import "fmt"
import "math/rand/v2"
import "sort"
import "strconv"
import "strings"

func strIter(s string) []any {
	out := make([]any, 0, len(s))
	for _, r := range s {
		out = append(out, string(r))
	}
	return out
}

func seqOf(v any) ([]any, error) {
	switch t := v.(type) {
	case []any:
		return t, nil
	case string:
		return strIter(t), nil
	case nil, undefinedType:
		return nil, nil
	case map[string]any, *namespace:
		return iterate(t)
	}
	return nil, fmt.Errorf("%s is not a sequence", typeName(v))
}

// fFirst and fLast are a sequence's first and last items, fRandom (Jinja2's random) one
// picked by randomIndex.
var (
	fFirst  = seqItem(func(items, _ []any, _ map[string]any) any { return items[0] })
	fLast   = seqItem(func(items, _ []any, _ map[string]any) any { return items[len(items)-1] })
	fRandom = seqItem(func(items, _ []any, _ map[string]any) any { return items[randomIndex(len(items))] })
)

// randomIndex picks an index below n for the random filter. It is a variable so that
// tests can make the choice predictable; math/rand/v2's top-level source is seeded
// randomly per process and safe for concurrent renders.
var randomIndex = rand.IntN

// seqItem is a filter that picks one item of a non-empty sequence (given the filter's
// arguments); an empty sequence gives undefined.
func seqItem(pick func(items, args []any, kw map[string]any) any) filterFunc {
	return func(_ *env, v any, args []any, kw map[string]any) (any, error) {
		items, err := seqOf(v)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return undefined, nil
		}
		return pick(items, args, kw), nil
	}
}

// length counts characters of a string (like Python len), items of a list or map.
func fLength(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	switch t := v.(type) {
	case string:
		return int64(runeLen(t)), nil
	case []any:
		return int64(len(t)), nil
	case map[string]any:
		return int64(mapLen(t)), nil
	case *namespace:
		return int64(len(t.m)), nil
	case nil, undefinedType:
		return int64(0), nil
	}
	return nil, fmt.Errorf("%s has no length", typeName(v))
}

func asMap(v any) (map[string]any, error) {
	switch t := v.(type) {
	case map[string]any:
		return t, nil
	case *namespace:
		return t.m, nil
	case nil, undefinedType:
		return nil, nil
	}
	return nil, fmt.Errorf("expected a map, got %s", typeName(v))
}

// fKeys, fValues and fItems list a map's keys, values or [key, value] pairs in key order.
var (
	fKeys   = mapEntries(func(k string, _ any) any { return k })
	fValues = mapEntries(func(_ string, v any) any { return norm(v) })
	fItems  = mapEntries(func(k string, v any) any { return []any{k, norm(v)} })
)

// mapEntries is a filter that lists a map's entries in key order, each as entry makes it.
func mapEntries(entry func(k string, v any) any) filterFunc {
	return func(_ *env, v any, _ []any, _ map[string]any) (any, error) {
		m, err := asMap(v)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, len(m))
		for _, k := range sortedKeys(m) {
			out = append(out, entry(k, m[k]))
		}
		return out, nil
	}
}

func fGet(_ *env, v any, args []any, kw map[string]any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("get needs a key")
	}
	r := getItem(v, args[0])
	if isUndef(r) {
		return arg(args, kw, 1, "default", undefined), nil
	}
	return r, nil
}

func fAttr(_ *env, v any, args []any, kw map[string]any) (any, error) {
	name := arg(args, kw, 0, "name", nil)
	if isNullish(name) {
		return nil, fmt.Errorf("attr needs a name")
	}
	return getAttr(v, toText(name)), nil
}

func fList(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	return append([]any{}, items...), nil
}

// getPath reads a dotted attribute path ("a.b" or "0.name") from v.
func getPath(v any, path any) any {
	p, ok := path.(string)
	if !ok {
		return getItem(v, path)
	}
	for _, part := range strings.Split(p, ".") {
		if i, err := strconv.ParseInt(part, 10, 64); err == nil {
			if _, isList := v.([]any); isList {
				v = getItem(v, i)
				continue
			}
		}
		v = getAttr(v, part)
	}
	return v
}

func fSort(_ *env, v any, args []any, kw map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	out := append([]any{}, items...)
	rev := truthy(arg(args, kw, 0, "reverse", false))
	cs := truthy(arg(args, kw, 1, "case_sensitive", false))
	attr := arg(args, kw, 2, "attribute", nil)
	sortItems(out, rev, func(a, b any) int {
		return sortCompare(byAttribute(a, attr), byAttribute(b, attr), cs)
	})
	return out, nil
}

// byAttribute is the value a filter's attribute= argument selects from x: the dotted
// path attr, or x itself when no attribute was given.
func byAttribute(x, attr any) any {
	if isNullish(attr) {
		return x
	}
	return getPath(x, attr)
}

// sortItems sorts items stably by cmp, descending when reverse is set.
func sortItems(items []any, reverse bool, cmp func(a, b any) int) {
	sort.SliceStable(items, func(i, j int) bool {
		c := cmp(items[i], items[j])
		if reverse {
			return c > 0
		}
		return c < 0
	})
}

func fUnique(_ *env, v any, args []any, kw map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	cs := truthy(arg(args, kw, 0, "case_sensitive", false))
	attr := arg(args, kw, 1, "attribute", nil)
	var out, seen []any
	for _, it := range items {
		k := byAttribute(it, attr)
		if s, ok := k.(string); ok && !cs {
			k = strings.ToLower(s)
		}
		dup := false
		for _, s := range seen {
			if equal(s, k) {
				dup = true
				break
			}
		}
		if !dup {
			seen = append(seen, k)
			out = append(out, it)
		}
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func fReverse(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	if s, ok := v.(string); ok {
		rs := []rune(s)
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return string(rs), nil
	}
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it
	}
	return out, nil
}

func fMinMax(sign int) filterFunc {
	return seqItem(func(items, args []any, kw map[string]any) any {
		cs := truthy(arg(args, kw, 0, "case_sensitive", false))
		attr := arg(args, kw, 1, "attribute", nil)
		best := items[0]
		for _, it := range items[1:] {
			if sortCompare(byAttribute(it, attr), byAttribute(best, attr), cs)*sign > 0 {
				best = it
			}
		}
		return best
	})
}

func fSum(_ *env, v any, args []any, kw map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	attr := arg(args, kw, 0, "attribute", nil)
	total := arg(args, kw, 1, "start", int64(0))
	for _, it := range items {
		if total, err = arith("+", total, byAttribute(it, attr)); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// map(attribute="x", default=...) or map("filter", args...).
func fMap(e *env, v any, args []any, kw map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	if a, ok := kw["attribute"]; ok {
		def, hasDef := kw["default"]
		for i, it := range items {
			r := getPath(it, a)
			if isUndef(r) && hasDef {
				r = def
			}
			out[i] = r
		}
		return out, nil
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("map needs a filter name or attribute=")
	}
	name := toText(args[0])
	f, ok := filters[name]
	if !ok {
		return nil, fmt.Errorf("unknown filter %q", name)
	}
	for i, it := range items {
		r, err := f(e, it, args[1:], nil)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

func runTest(name any, v any, args []any) (bool, error) {
	n := toText(name)
	t, ok := tests[n]
	if !ok {
		return false, fmt.Errorf("unknown test %q", n)
	}
	return t(v, args)
}

func fSelect(keep bool) filterFunc {
	return func(_ *env, v any, args []any, _ map[string]any) (any, error) {
		return selectItems(v, keep, args, func(it any) any { return it })
	}
}

func fSelectAttr(keep bool) filterFunc {
	return func(_ *env, v any, args []any, _ map[string]any) (any, error) {
		if len(args) == 0 {
			return nil, fmt.Errorf("needs an attribute name")
		}
		return selectItems(v, keep, args[1:], func(it any) any { return getPath(it, args[0]) })
	}
}

// selectItems keeps the items of v whose subject passes the test named by args[0]
// (with args[1:]), or is truthy when there is no test; keep false keeps the others.
func selectItems(v any, keep bool, args []any, subject func(item any) any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, it := range items {
		s := subject(it)
		var ok bool
		if len(args) == 0 {
			ok = truthy(s)
		} else if ok, err = runTest(args[0], s, args[1:]); err != nil {
			return nil, err
		}
		if ok == keep {
			out = append(out, it)
		}
	}
	return out, nil
}

func fDictsort(_ *env, v any, args []any, kw map[string]any) (any, error) {
	m, err := asMap(v)
	if err != nil {
		return nil, err
	}
	cs := truthy(arg(args, kw, 0, "case_sensitive", false))
	byValue := toText(arg(args, kw, 1, "by", "key")) == "value"
	rev := truthy(arg(args, kw, 2, "reverse", false))
	out := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, []any{k, norm(m[k])})
	}
	idx := 0
	if byValue {
		idx = 1
	}
	sortItems(out, rev, func(a, b any) int {
		if c := sortCompare(a.([]any)[idx], b.([]any)[idx], cs); c != 0 {
			return c
		}
		return strings.Compare(a.([]any)[0].(string), b.([]any)[0].(string))
	})
	return out, nil
}

func fBatch(_ *env, v any, args []any, kw map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	n, ok := arg(args, kw, 0, "linecount", int64(0)).(int64)
	if !ok || n <= 0 {
		return nil, fmt.Errorf("batch size must be a positive integer")
	}
	fill, hasFill := arg(args, kw, 1, "fill_with", nil), len(args) > 1 || kw["fill_with"] != nil
	out := []any{}
	for i := 0; i < len(items); i += int(n) {
		end := i + int(n)
		if end > len(items) {
			end = len(items)
		}
		row := append([]any{}, items[i:end]...)
		for hasFill && int64(len(row)) < n {
			row = append(row, fill)
		}
		out = append(out, row)
	}
	return out, nil
}
