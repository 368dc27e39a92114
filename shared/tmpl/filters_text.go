package tmpl

// Text filters: trimming, splitting and joining, replacing, encoding (base64, URL),
// layout (indent, truncate, center) and Python's % formatting.

import "encoding/base64"
import "fmt"
import "net/url"
import "strings"
import "unicode"
import "unicode/utf8"

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
}

func title(s string) string {
	var b strings.Builder
	prevLetter := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' {
			if prevLetter {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToUpper(r))
			}
			prevLetter = true
		} else {
			b.WriteRune(r)
			prevLetter = false
		}
	}
	return b.String()
}

func fTrim(_ *env, v any, args []any, kw map[string]any) (any, error) {
	s := toText(v)
	if c := arg(args, kw, 0, "chars", nil); !isNullish(c) {
		return strings.Trim(s, toText(c)), nil
	}
	return strings.TrimSpace(s), nil
}

// split(sep=None, maxsplit=-1) with Python semantics: no separator splits on runs of
// whitespace.
func fSplit(_ *env, v any, args []any, kw map[string]any) (any, error) {
	s := toText(v)
	max := int64(-1)
	if m, ok := arg(args, kw, 1, "maxsplit", int64(-1)).(int64); ok {
		max = m
	}
	sep := ""
	if sepV := arg(args, kw, 0, "sep", nil); !isNullish(sepV) {
		if sep = toText(sepV); sep == "" {
			return nil, fmt.Errorf("empty separator")
		}
	}
	return strList(pySplit(s, sep, max, false)), nil
}

func fJoin(_ *env, v any, args []any, kw map[string]any) (any, error) {
	if isNullish(v) {
		return "", nil
	}
	if s, ok := v.(string); ok {
		v = strIter(s)
	}
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("cannot join %s", typeName(v))
	}
	sep := toText(arg(args, kw, 0, "d", ""))
	attr := arg(args, kw, 1, "attribute", nil)
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString(sep)
		}
		if !isNullish(attr) {
			it = getPath(it, attr)
		}
		b.WriteString(toText(it))
		if b.Len() > maxOutput {
			return nil, fmt.Errorf("output too large")
		}
	}
	return b.String(), nil
}

func fB64Encode(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	return base64.StdEncoding.EncodeToString([]byte(toText(v))), nil
}

func fB64Decode(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	s := strings.TrimSpace(toText(v))
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// accept unpadded and URL-safe input too
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
				return nil, fmt.Errorf("invalid base64: %v", err)
			}
		}
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("decoded bytes are not valid UTF-8")
	}
	return string(b), nil
}

func fReplace(_ *env, v any, args []any, kw map[string]any) (any, error) {
	oldV, newV := arg(args, kw, 0, "old", nil), arg(args, kw, 1, "new", nil)
	if oldV == nil || newV == nil {
		return nil, fmt.Errorf("replace needs old and new")
	}
	n := -1
	if c, ok := arg(args, kw, 2, "count", int64(-1)).(int64); ok && c >= 0 {
		n = int(c)
	}
	s, old, nw := toText(v), toText(oldV), toText(newV)
	if old == "" && len(s)*len(nw) > maxOutput {
		return nil, fmt.Errorf("output too large")
	}
	out := strings.Replace(s, old, nw, n)
	if len(out) > maxOutput {
		return nil, fmt.Errorf("output too large")
	}
	return out, nil
}

func fIndent(_ *env, v any, args []any, kw map[string]any) (any, error) {
	pad := "    "
	switch w := arg(args, kw, 0, "width", int64(4)).(type) {
	case int64:
		if w < 0 || w > 256 {
			w = 4
		}
		pad = strings.Repeat(" ", int(w))
	case string:
		pad = w
	}
	first := truthy(arg(args, kw, 1, "first", false))
	blank := truthy(arg(args, kw, 2, "blank", false))
	text := toText(v)
	lines := strings.Split(text, "\n")
	if len(text)+len(lines)*len(pad) > maxOutput {
		return nil, fmt.Errorf("output too large")
	}
	for i, l := range lines {
		if i == 0 && !first {
			continue
		}
		if l == "" && !blank {
			continue
		}
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n"), nil
}

func fURLEncode(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		parts := make([]string, 0, len(t))
		for _, k := range sortedKeys(t) {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(toText(t[k])))
		}
		return strings.Join(parts, "&"), nil
	case []any:
		parts := make([]string, 0, len(t))
		for _, it := range t {
			if kv, ok := it.([]any); ok && len(kv) == 2 {
				parts = append(parts, url.QueryEscape(toText(kv[0]))+"="+url.QueryEscape(toText(kv[1])))
			}
		}
		return strings.Join(parts, "&"), nil
	}
	return quoteURL(toText(v)), nil
}

// quoteURL is Jinja2's urlencode of a single value (Python's quote(s, safe="/")): every
// byte but the unreserved characters and "/" is percent-encoded, so the value can be put
// into a query string or a path segment as one piece. url.PathEscape would leave "&",
// "=", "+", "?"... as they are, and "q={{ term | urlencode }}" with a term holding "&"
// would split the query.
func quoteURL(s string) string {
	q := url.QueryEscape(s) // a literal "+" is "%2B" here, so every "+" left is a space
	return strings.NewReplacer("+", "%20", "%2F", "/").Replace(q)
}

func fFormat(_ *env, v any, args []any, kw map[string]any) (any, error) {
	if len(kw) > 0 && len(args) == 0 {
		return pyFormat(toText(v), kw)
	}
	return pyFormat(toText(v), args)
}

// fTruncate is Jinja2's truncate(length=255, killwords=false, end="...", leeway=5): a
// string at most length+leeway characters long is kept whole; a longer one is cut to
// length-len(end) characters, back to the last space unless killwords, and end appended.
func fTruncate(_ *env, v any, args []any, kw map[string]any) (any, error) {
	s := []rune(toText(v))
	n, _ := arg(args, kw, 0, "length", int64(255)).(int64)
	killwords := Truthy(arg(args, kw, 1, "killwords", false))
	end := toText(arg(args, kw, 2, "end", "..."))
	leeway, ok := arg(args, kw, 3, "leeway", int64(5)).(int64)
	if !ok || leeway < 0 {
		leeway = 5
	}
	if n < 0 || int64(len(s)) <= n+leeway {
		return string(s), nil
	}
	cut := int(n) - runeLen(end)
	if cut < 0 {
		cut = 0
	}
	kept := string(s[:cut])
	if !killwords {
		if i := strings.LastIndex(kept, " "); i >= 0 {
			kept = kept[:i]
		}
	}
	return kept + end, nil
}

func fCenter(_ *env, v any, args []any, kw map[string]any) (any, error) {
	s := toText(v)
	w, _ := arg(args, kw, 0, "width", int64(80)).(int64)
	n := runeLen(s)
	if w > 4096 || int64(n) >= w {
		return s, nil
	}
	return pyCenter(s, int(w)-n, w, ' '), nil
}

// pyFormat implements the common subset of Python's `%` formatting:
// %s %r %d %i %f %.Nf %x %% and %(name)s with a map.
func pyFormat(format string, args any) (any, error) {
	var list []any
	named, _ := args.(map[string]any)
	if l, ok := args.([]any); ok {
		list = l
	} else if named == nil {
		list = []any{args}
	}
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return nil, fmt.Errorf("incomplete format")
		}
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		var val any
		if format[i] == '(' {
			end := strings.IndexByte(format[i:], ')')
			if end < 0 || named == nil {
				return nil, fmt.Errorf("format requires a mapping")
			}
			val = norm(named[format[i+1:i+end]])
			i += end + 1
		} else {
			if next >= len(list) {
				return nil, fmt.Errorf("not enough arguments for format string")
			}
			val = list[next]
			next++
		}
		spec := ""
		for i < len(format) && strings.IndexByte("0123456789.-+ #", format[i]) >= 0 {
			spec += string(format[i])
			i++
		}
		if i >= len(format) {
			return nil, fmt.Errorf("incomplete format")
		}
		if len(spec) > 8 || widthTooLarge(spec) {
			return nil, fmt.Errorf("format spec too long")
		}
		switch format[i] {
		case 's', 'r':
			b.WriteString(fmt.Sprintf("%"+spec+"s", toText(val)))
		case 'd', 'i':
			n, _ := fInt(nil, val, nil, nil)
			b.WriteString(fmt.Sprintf("%"+spec+"d", n))
		case 'f', 'F', 'e', 'g':
			f, _ := fFloat(nil, val, nil, nil)
			if !strings.Contains(spec, ".") && format[i] == 'f' {
				spec += ".6"
			}
			b.WriteString(fmt.Sprintf("%"+spec+string(format[i]), f))
		case 'x', 'X', 'o':
			n, _ := fInt(nil, val, nil, nil)
			b.WriteString(fmt.Sprintf("%"+spec+string(format[i]), n))
		default:
			return nil, fmt.Errorf("unsupported format character %q", format[i])
		}
	}
	return b.String(), nil
}

// widthTooLarge: a %-spec field width or precision above 1000 is refused (it would
// only pad).
func widthTooLarge(spec string) bool {
	n := 0
	for i := 0; i < len(spec); i++ {
		if isDigit(spec[i]) {
			n = n*10 + int(spec[i]-'0')
			if n > 1000 {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
}
