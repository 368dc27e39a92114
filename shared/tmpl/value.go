package tmpl

import "fmt"
import "math"
import "sort"
import "strconv"
import "strings"
import "unicode/utf8"

import "github.com/noetl/controlplane/shared/jsonx"

// undefinedType is Jinja's undefined: the value of a missing variable, attribute or
// item. It is chainable (any attribute or item of it is undefined again) and prints as
// the empty string.
type undefinedType struct{}

var undefined any = undefinedType{}

func isUndef(v any) bool {
	_, ok := v.(undefinedType)
	return ok
}

// isNullish is true for undefined and for JSON null. Upstream converts null in the
// context to undefined, so the two behave alike everywhere except the `none` test.
func isNullish(v any) bool {
	if v == nil {
		return true
	}
	_, ok := v.(undefinedType)
	return ok
}

// callable is a function value: a global (range, dict, namespace) or a bound method
// (s.upper, d.get, loop.cycle).
type callable func(args []any, kw map[string]any) (any, error)

// namespace is the mutable object made by namespace(); `{% set ns.x = ... %}` writes it.
type namespace struct{ m map[string]any }

// norm brings a value from the caller's context into the model. Model values pass
// through without allocation; other Go types (int, map[string]string, structs) are
// converted once at the point of use.
func norm(v any) any {
	switch t := v.(type) {
	case nil, bool, int64, float64, string, []any, map[string]any, undefinedType, callable, *namespace:
		return v
	case selfAlias:
		return map[string]any(t)
	}
	return jsonx.Normalize(v)
}

// truthy is Jinja truthiness of a value inside an expression (`if`, `and`, `not`, ...).
func truthy(v any) bool {
	switch t := v.(type) {
	case nil, undefinedType:
		return false
	case bool:
		return t
	case int64:
		return t != 0
	case float64:
		return t != 0
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		// A step result with only its synthetic .data alias (a tool that returned {}) stays
		// true, as upstream judges it: `when: "{{ step }}"` means the step has a result.
		return len(t) > 0
	case *namespace:
		return true
	case callable:
		return true
	}
	return v != nil
}

// Truthy decides a rendered condition the way the engine routes on it: undefined, null,
// false, 0, empty lists and maps are false, and so is a string that is empty or reads
// (trimmed, case-insensitively) false, 0, no, none, null, off, {} or [].
// Everything else is true.
func Truthy(v any) bool {
	v = norm(v)
	if s, ok := v.(string); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "", "false", "0", "no", "none", "null", "off", "{}", "[]":
			return false
		}
		return true
	}
	return truthy(v)
}

// toText is how a value prints inside a text template: strings as they are, numbers
// in Python-compatible form, booleans as true/false, undefined and null as nothing,
// lists and maps as JSON.
func toText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil, undefinedType:
		return ""
	case bool:
		if t {
			return "true"
		}
		return "false"
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return formatFloat(t)
	case []any, map[string]any, *namespace:
		var b strings.Builder
		writeJSON(&b, v, ", ", ": ", "", 0)
		return b.String()
	case callable:
		return "<function>"
	}
	return toText(norm(v))
}

// formatFloat prints a float as Python's repr does: always with a fraction or an
// exponent, so 2.0 stays distinguishable from 2.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	abs := math.Abs(f)
	if abs != 0 && (abs >= 1e16 || abs < 1e-4) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go writes 1e+16 and 1e-05; Python writes 1e+16 and 1e-05 too.
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// writeJSON encodes a model value as JSON with the given separators. Keys are sorted.
// Non-finite floats and undefined become null.
func writeJSON(b *strings.Builder, v any, itemSep, keySep, indent string, depth int) {
	if depth > 512 {
		b.WriteString("null")
		return
	}
	nl := func(d int) {
		if indent != "" {
			b.WriteByte('\n')
			for i := 0; i < d; i++ {
				b.WriteString(indent)
			}
		}
	}
	// items writes a list or an object: n items between open and close, each on a line
	// of its own when indenting.
	items := func(open, close byte, n int, item func(i int)) {
		b.WriteByte(open)
		if n == 0 {
			b.WriteByte(close)
			return
		}
		for i := range n {
			if b.Len() > maxOutput {
				return // the caller reports the size; shared sublists can expand exponentially
			}
			if i > 0 {
				b.WriteString(itemSep)
			}
			nl(depth + 1)
			item(i)
		}
		nl(depth)
		b.WriteByte(close)
	}
	switch t := v.(type) {
	case nil, undefinedType, callable:
		b.WriteString("null")
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			b.WriteString("null")
			return
		}
		b.WriteString(formatFloat(t))
	case string:
		writeJSONString(b, t)
	case []any:
		items('[', ']', len(t), func(i int) { writeJSON(b, t[i], itemSep, keySep, indent, depth+1) })
	case map[string]any:
		keys := sortedKeys(t)
		items('{', '}', len(keys), func(i int) {
			writeJSONString(b, keys[i])
			b.WriteString(keySep)
			writeJSON(b, t[keys[i]], itemSep, keySep, indent, depth+1)
		})
	case *namespace:
		writeJSON(b, t.m, itemSep, keySep, indent, depth)
	default:
		writeJSON(b, norm(v), itemSep, keySep, indent, depth)
	}
}

const hexDigits = "0123456789abcdef"

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				b.WriteString(`\"`)
			case c == '\\':
				b.WriteString(`\\`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(`\ufffd`)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// mapLen is a map's length without a synthetic `data` alias (DataAlias).
func mapLen(m map[string]any) int {
	if isSelfAlias(m["data"]) {
		return len(m) - 1
	}
	return len(m)
}

// sortedKeys lists a map's keys in order, without a synthetic `data` alias (DataAlias):
// iterating, printing and exporting an object leave it out.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if !isSelfAlias(v) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// typeName names a value's kind for error messages.
func typeName(v any) string {
	switch v.(type) {
	case undefinedType:
		return "undefined"
	case *namespace:
		return "map"
	case callable:
		return "function"
	}
	return pythonKinds.Of(v)
}

var pythonKinds = jsonx.KindNames{Null: "none", Bool: "bool", Integer: "int", Float: "float", String: "string", Array: "list", Object: "map"}

// equal is Jinja ==: numbers compare by value across int and float, containers deeply,
// and undefined equals null.
func equal(a, b any) bool {
	a, b = norm(a), norm(b)
	if isNullish(a) || isNullish(b) {
		return isNullish(a) && isNullish(b)
	}
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y && int64(y) == x
		}
		return false
	case float64:
		switch y := b.(type) {
		case int64:
			return x == float64(y) && int64(x) == y
		case float64:
			return x == y
		}
		return false
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || mapLen(x) != mapLen(y) {
			return false
		}
		for k, xv := range x {
			if isSelfAlias(xv) {
				continue
			}
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	case *namespace:
		y, ok := b.(*namespace)
		return ok && x == y
	}
	return false
}

// compare orders two values: numbers numerically, strings bytewise, lists
// lexicographically. ok is false for values that have no order between them.
func compare(a, b any) (c int, ok bool) {
	a, b = norm(a), norm(b)
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return order(x, y), true
		case float64:
			return order(float64(x), y), true
		case bool:
			return order(x, b2i(y)), true
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return order(x, float64(y)), true
		case float64:
			return order(x, y), true
		case bool:
			return order(x, float64(b2i(y))), true
		}
	case bool:
		switch y := b.(type) {
		case bool:
			return order(b2i(x), b2i(y)), true
		case int64:
			return order(b2i(x), y), true
		case float64:
			return order(float64(b2i(x)), y), true
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case []any:
		if y, ok := b.([]any); ok {
			for i := 0; i < len(x) && i < len(y); i++ {
				c, ok := compare(x[i], y[i])
				if !ok {
					return 0, false
				}
				if c != 0 {
					return c, true
				}
			}
			return order(int64(len(x)), int64(len(y))), true
		}
	}
	return 0, false
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// order is -1, 0 or 1 as a is below, equal to or above b. Unlike cmp.Compare, a NaN is
// equal to everything (Python compares NaN false both ways, so sorting keeps its place).
func order[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sortCompare is a total order used by sort/min/max/unique: comparable values by
// compare, the rest by kind then text.
func sortCompare(a, b any, caseSensitive bool) int {
	if !caseSensitive {
		if s, ok := a.(string); ok {
			a = strings.ToLower(s)
		}
		if s, ok := b.(string); ok {
			b = strings.ToLower(s)
		}
	}
	if c, ok := compare(a, b); ok {
		return c
	}
	ka, kb := kindRank(a), kindRank(b)
	if ka != kb {
		return order(int64(ka), int64(kb))
	}
	return strings.Compare(toText(a), toText(b))
}

func kindRank(v any) int {
	switch v.(type) {
	case undefinedType:
		return 0
	case nil:
		return 1
	case bool, int64, float64:
		return 2
	case string:
		return 3
	case []any:
		return 4
	case map[string]any, *namespace:
		return 5
	}
	return 6
}

// iterate lists the items a `for` loop or a sequence filter walks: list items, map keys
// (sorted), string characters. Undefined and null iterate as empty.
func iterate(v any) ([]any, error) {
	switch t := norm(v).(type) {
	case nil, undefinedType:
		return nil, nil
	case []any:
		return t, nil
	case map[string]any:
		keys := sortedKeys(t)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	case *namespace:
		return iterate(t.m)
	case string:
		out := make([]any, 0, len(t))
		for _, r := range t {
			out = append(out, string(r))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s is not iterable", typeName(v))
}
