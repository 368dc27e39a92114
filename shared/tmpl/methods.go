package tmpl

// Globals (range, dict, namespace) and the Python methods templates call on mappings and
// strings (d.get(...), s.split(...), "{}".format(...)).

import (
	"strconv"
	"strings"
)

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

func method(f func(args []any) (any, error)) callable {
	return func(args []any, _ map[string]any) (any, error) { return f(args) }
}

// mapMethod gives the Python dict methods templates commonly call.
func mapMethod(m map[string]any, name string) any {
	switch name {
	case "get":
		return method(func(args []any) (any, error) {
			if len(args) == 0 {
				return nil, renderErr("get() needs a key")
			}
			r := getItem(m, args[0])
			if isUndef(r) {
				if len(args) > 1 {
					return args[1], nil
				}
				return nil, nil
			}
			return r, nil
		})
	case "items":
		return method(func([]any) (any, error) { return fItems(nil, m, nil, nil) })
	case "keys":
		return method(func([]any) (any, error) { return fKeys(nil, m, nil, nil) })
	case "values":
		return method(func([]any) (any, error) { return fValues(nil, m, nil, nil) })
	}
	return nil
}

// stringMethod gives the Python str methods templates commonly call.
func stringMethod(s string, name string) any {
	str1 := func(f func(string) string) any {
		return method(func([]any) (any, error) { return f(s), nil })
	}
	switch name {
	case "upper":
		return str1(strings.ToUpper)
	case "lower":
		return str1(strings.ToLower)
	case "title":
		return str1(title)
	case "capitalize":
		return str1(capitalize)
	case "strip", "lstrip", "rstrip":
		return method(func(args []any) (any, error) {
			trim := map[string]func(string, string) string{"strip": strings.Trim, "lstrip": strings.TrimLeft, "rstrip": strings.TrimRight}[name]
			if len(args) > 0 && !isNullish(args[0]) {
				return trim(s, toText(args[0])), nil
			}
			return trim(s, " \t\n\r\f\v"), nil
		})
	case "split":
		return callable(func(args []any, kw map[string]any) (any, error) { return fSplit(nil, s, args, kw) })
	case "startswith", "endswith":
		return method(func(args []any) (any, error) {
			if len(args) == 0 {
				return nil, renderErr("%s() needs an argument", name)
			}
			f := strings.HasPrefix
			if name == "endswith" {
				f = strings.HasSuffix
			}
			if l, ok := args[0].([]any); ok {
				for _, p := range l {
					if f(s, toText(p)) {
						return true, nil
					}
				}
				return false, nil
			}
			return f(s, toText(args[0])), nil
		})
	case "replace":
		return callable(func(args []any, kw map[string]any) (any, error) { return fReplace(nil, s, args, kw) })
	case "find":
		return method(func(args []any) (any, error) {
			if len(args) == 0 {
				return nil, renderErr("find() needs an argument")
			}
			i := strings.Index(s, toText(args[0]))
			if i < 0 {
				return int64(-1), nil
			}
			return int64(runeLen(s[:i])), nil
		})
	case "count":
		return method(func(args []any) (any, error) {
			if len(args) == 0 {
				return nil, renderErr("count() needs an argument")
			}
			return int64(strings.Count(s, toText(args[0]))), nil
		})
	case "format":
		return callable(func(args []any, kw map[string]any) (any, error) { return braceFormat(s, args, kw) })
	case "join":
		return method(func(args []any) (any, error) {
			if len(args) == 0 {
				return nil, renderErr("join() needs an argument")
			}
			return fJoin(nil, args[0], []any{s}, nil)
		})
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
