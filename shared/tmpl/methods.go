package tmpl

// Globals (range, dict, namespace), the Python methods templates call on mappings and
// lists (d.get(...), l.index(...)) with their argument binding, and str.format. The str
// methods are in strmethods.go.

import "maps"
import "slices"
import "strconv"
import "strings"

func gRange(args []any, _ map[string]any) (any, error) {
	ints := make([]int64, len(args))
	for i, a := range args {
		n, ok := a.(int64)
		if !ok {
			return nil, renderErr("range() arguments must be integers")
		}
		ints[i] = n
	}
	var start, stop, step int64 = 0, 0, 1
	switch len(ints) {
	case 1:
		stop = ints[0]
	case 2:
		start, stop = ints[0], ints[1]
	case 3:
		start, stop, step = ints[0], ints[1], ints[2]
	default:
		return nil, renderErr("range() takes 1 to 3 arguments")
	}
	if step == 0 {
		return nil, renderErr("range() step must not be zero")
	}
	n := int64(0)
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		n = (start - stop - step - 1) / -step
	}
	if n > maxItems || n < 0 {
		return nil, renderErr("range() too large")
	}
	out := make([]any, n)
	for i := int64(0); i < n; i++ {
		out[i] = start + i*step
	}
	return out, nil
}

func gDict(args []any, kw map[string]any) (any, error) {
	out := map[string]any{}
	for _, a := range args {
		if m, ok := a.(map[string]any); ok {
			for k, v := range m {
				out[k] = v
			}
		}
	}
	for k, v := range kw {
		out[k] = v
	}
	return out, nil
}

func gNamespace(args []any, kw map[string]any) (any, error) {
	m, _ := gDict(args, kw)
	return &namespace{m: m.(map[string]any)}, nil
}

// margs is one call of a Python method: its arguments, bound by bind to the method's
// parameters, with conversions that fail as Python does, naming the method.
type margs struct {
	method   string // "str.rsplit", for messages
	args     []any
	kw       map[string]any
	keywords bool  // the method takes keyword arguments (Python's str methods mostly do not)
	vals     []any // one per parameter after bind; absent when not given
}

// absentArg marks a parameter the call did not give (None is nil, a given value).
type absentArg struct{}

func (a *margs) errf(format string, args ...any) error {
	return renderErr("%s(): "+format, append([]any{a.method}, args...)...)
}

// bind assigns the positional and keyword arguments to params, the first required of
// them mandatory.
func (a *margs) bind(required int, params ...string) error {
	if len(a.args) > len(params) {
		return a.errf("takes at most %d arguments (%d given)", len(params), len(a.args))
	}
	if len(a.kw) > 0 && !a.keywords {
		return a.errf("takes no keyword arguments")
	}
	a.vals = make([]any, len(params))
	for i := range params {
		a.vals[i] = absentArg{}
		if i < len(a.args) {
			a.vals[i] = a.args[i]
		}
	}
	for k, v := range a.kw {
		i := slices.Index(params, k)
		if i < 0 {
			return a.errf("got an unexpected keyword argument %q", k)
		}
		if i < len(a.args) {
			return a.errf("got multiple values for argument %q", k)
		}
		a.vals[i] = v
	}
	for i := 0; i < required; i++ {
		if a.absent(i) {
			return a.errf("missing required argument %q", params[i])
		}
	}
	return nil
}

func (a *margs) absent(i int) bool {
	_, ok := a.vals[i].(absentArg)
	return ok
}

// absentOrNone is true for a parameter not given or given None (or undefined).
func (a *margs) absentOrNone(i int) bool { return a.absent(i) || isNullish(a.vals[i]) }

func (a *margs) str(i int) (string, error) {
	s, ok := a.vals[i].(string)
	if !ok {
		return "", a.errf("argument %d must be str, not %s", i+1, typeName(a.vals[i]))
	}
	return s, nil
}

// intOr is an integer parameter (a bool counts, as in Python), def when absent.
func (a *margs) intOr(i int, def int64) (int64, error) {
	switch v := a.vals[i].(type) {
	case absentArg:
		return def, nil
	case int64:
		return v, nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	}
	return 0, a.errf("argument %d must be an integer, not %s", i+1, typeName(a.vals[i]))
}

// onlyInt binds the one parameter of a method whose sole parameter is an integer that
// may also be passed by keyword (splitlines(keepends=True), expandtabs(tabsize=4)), and
// returns its value, def when absent.
func (a *margs) onlyInt(name string, def int64) (int64, error) {
	a.keywords = true
	if err := a.bind(0, name); err != nil {
		return 0, err
	}
	return a.intOr(0, def)
}

// onlyStr binds the one parameter of a method whose sole parameter is a required string,
// passed by position (partition(sep), removeprefix(affix)), and returns it.
func (a *margs) onlyStr(name string) (string, error) {
	if err := a.bind(1, name); err != nil {
		return "", err
	}
	return a.str(0)
}

// indexOr is a start/end slice index: an integer, or None for def.
func (a *margs) indexOr(i int, def int64) (int64, error) {
	if a.absentOrNone(i) {
		return def, nil
	}
	if _, ok := a.vals[i].(string); ok {
		return 0, a.errf("slice indices must be integers or None")
	}
	n, err := a.intOr(i, def)
	if err != nil {
		return 0, a.errf("slice indices must be integers or None")
	}
	return n, nil
}

// boundMethod binds the receiver's method f as the template's callable.
func boundMethod[T any](recv T, name string, f func(T, *margs) (any, error)) callable {
	return func(args []any, kw map[string]any) (any, error) {
		return f(recv, &margs{method: name, args: args, kw: kw})
	}
}

// mapMethods are the non-mutating Python dict methods.
var mapMethods = map[string]func(map[string]any, *margs) (any, error){
	"get": func(m map[string]any, a *margs) (any, error) {
		if err := a.bind(1, "key", "default"); err != nil {
			return nil, err
		}
		if r := getItem(m, a.vals[0]); !isUndef(r) {
			return r, nil
		}
		if a.absent(1) {
			return nil, nil
		}
		return a.vals[1], nil
	},
	"items":  mapView(fItems),
	"keys":   mapView(fKeys),
	"values": mapView(fValues),
	"copy": func(m map[string]any, a *margs) (any, error) {
		if err := a.bind(0); err != nil {
			return nil, err
		}
		if plain, had := WithoutAlias(m); had {
			return plain, nil // already a fresh map, without the synthetic .data alias
		}
		return maps.Clone(m), nil
	},
}

func mapView(f filterFunc) func(map[string]any, *margs) (any, error) {
	return func(m map[string]any, a *margs) (any, error) {
		if err := a.bind(0); err != nil {
			return nil, err
		}
		return f(nil, m, nil, nil)
	}
}

// mapMethod gives the bound Python dict method name of m, or nil when there is none.
func mapMethod(m map[string]any, name string) any {
	if f, ok := mapMethods[name]; ok {
		return boundMethod(m, "dict."+name, f)
	}
	return nil
}

// listMethods are the non-mutating Python list methods (a template cannot append).
var listMethods = map[string]func([]any, *margs) (any, error){
	"index": func(l []any, a *margs) (any, error) {
		if err := a.bind(1, "value", "start", "stop"); err != nil {
			return nil, err
		}
		n := int64(len(l))
		start, err := a.indexOr(1, 0)
		if err != nil {
			return nil, err
		}
		stop, err := a.indexOr(2, n)
		if err != nil {
			return nil, err
		}
		// list.index clamps both bounds into [0, len] after counting negatives from the end
		clamp := func(i int64) int64 {
			if i < 0 {
				i += n
			}
			return min(max(i, 0), n)
		}
		for i := clamp(start); i < clamp(stop); i++ {
			if equal(l[i], a.vals[0]) {
				return i, nil
			}
		}
		return nil, a.errf("%s is not in list", pyRepr(a.vals[0]))
	},
	"count": func(l []any, a *margs) (any, error) {
		if err := a.bind(1, "value"); err != nil {
			return nil, err
		}
		n := int64(0)
		for _, v := range l {
			if equal(v, a.vals[0]) {
				n++
			}
		}
		return n, nil
	},
}

// listMethod gives the bound Python list method name of l, or nil when there is none.
func listMethod(l []any, name string) any {
	if f, ok := listMethods[name]; ok {
		return boundMethod(l, "list."+name, f)
	}
	return nil
}

// braceFormat implements str.format: {} / {0} / {name} fields, with attribute and
// item lookups ({0.x}, {row[id]}), the !s and !r conversions and a format spec after
// ':' (formatspec.go).
func braceFormat(s string, args []any, kw map[string]any) (any, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '{' && i+1 < len(s) && s[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		if c == '}' && i+1 < len(s) && s[i+1] == '}' {
			b.WriteByte('}')
			i++
			continue
		}
		if c == '}' {
			return nil, renderErr("single '}' encountered in format string")
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, renderErr("unmatched '{' in format string")
		}
		field, spec, hasSpec := strings.Cut(s[i+1:i+end], ":")
		if strings.ContainsRune(field, '{') || (hasSpec && strings.ContainsRune(spec, '{')) {
			return nil, renderErr("nested replacement fields in format strings are not supported")
		}
		field, conv, hasConv := strings.Cut(field, "!")
		name, path := field, ""
		if j := strings.IndexAny(field, ".["); j >= 0 {
			name, path = field[:j], field[j:]
		}
		var v any
		if name == "" {
			if auto >= len(args) {
				return nil, renderErr("not enough arguments for format string")
			}
			v = args[auto]
			auto++
		} else if n, err := strconv.Atoi(name); err == nil {
			if n < 0 || n >= len(args) {
				return nil, renderErr("format index out of range")
			}
			v = args[n]
		} else {
			v = kw[name]
		}
		v, err := formatFieldPath(v, path)
		if err != nil {
			return nil, err
		}
		if hasConv {
			switch conv {
			case "s":
				v = toText(v)
			case "r":
				v = pyRepr(v)
			default:
				return nil, renderErr("unknown conversion specifier %q in format string", conv)
			}
		}
		out, err := formatValue(v, spec)
		if err != nil {
			return nil, renderErr("%v", err)
		}
		b.WriteString(out)
		i += end
	}
	return b.String(), nil
}

// formatFieldPath follows a format field's .attr and [key] parts ("{0.name}",
// "{row[id]}": a key of digits is an index, any other key a string, as in Python).
func formatFieldPath(v any, path string) (any, error) {
	for path != "" {
		switch path[0] {
		case '.':
			j := strings.IndexAny(path[1:], ".[") + 1
			if j == 0 {
				j = len(path)
			}
			if j == 1 {
				return nil, renderErr("empty attribute in format string")
			}
			v, path = getAttr(v, path[1:j]), path[j:]
		case '[':
			j := strings.IndexByte(path, ']')
			if j < 0 {
				return nil, renderErr("missing ']' in format string")
			}
			var key any = path[1:j]
			if n, err := strconv.ParseInt(path[1:j], 10, 64); err == nil {
				key = n
			}
			v, path = getItem(v, key), path[j+1:]
		default:
			return nil, renderErr("only '.' or '[' may follow ']' in format field specifier")
		}
	}
	return v, nil
}

// pyRepr is the !r conversion: strings quoted as Python's repr quotes them, other
// values as they print.
func pyRepr(v any) string {
	s, ok := v.(string)
	if !ok {
		return toText(v)
	}
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
