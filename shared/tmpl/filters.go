package tmpl

import (
	"encoding/base64"
	"fmt"
	"html"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/noetl/controlplane/shared/jsonx"
)

var (
	filters map[string]filterFunc
	tests   map[string]testFunc
	globals map[string]any
)

func init() {
	filters = map[string]filterFunc{
		"default":    fDefault,
		"d":          fDefault,
		"tojson":     fToJSON,
		"fromjson":   fFromJSON,
		"int":        fInt,
		"float":      fFloat,
		"string":     fString,
		"bool":       fBool,
		"lower":      strFilter(strings.ToLower),
		"upper":      strFilter(strings.ToUpper),
		"capitalize": strFilter(capitalize),
		"title":      strFilter(title),
		"trim":       fTrim,
		"split":      fSplit,
		"join":       fJoin,
		"first":      fFirst,
		"last":       fLast,
		"length":     fLength,
		"count":      fLength,
		"keys":       fKeys,
		"values":     fValues,
		"items":      fItems,
		"get":        fGet,
		"attr":       fAttr,
		"safe":       func(_ *env, v any, _ []any, _ map[string]any) (any, error) { return v, nil },
		"escape":     strFilter(html.EscapeString),
		"e":          strFilter(html.EscapeString),
		"b64encode":  fB64Encode,
		"b64decode":  fB64Decode,
		"replace":    fReplace,
		"round":      fRound,
		"abs":        fAbs,
		"list":       fList,
		"sort":       fSort,
		"unique":     fUnique,
		"reverse":    fReverse,
		"min":        fMinMax(-1),
		"max":        fMinMax(1),
		"sum":        fSum,
		"map":        fMap,
		"select":     fSelect(true),
		"reject":     fSelect(false),
		"selectattr": fSelectAttr(true),
		"rejectattr": fSelectAttr(false),
		"dictsort":   fDictsort,
		"batch":      fBatch,
		"indent":     fIndent,
		"wordcount": func(_ *env, v any, _ []any, _ map[string]any) (any, error) {
			return int64(len(strings.Fields(toText(v)))), nil
		},
		"urlencode": fURLEncode,
		"format":    fFormat,
		"truncate":  fTruncate,
		"center":    fCenter,
		"pprint":    func(_ *env, v any, _ []any, _ map[string]any) (any, error) { return toText(v), nil },
	}
	tests = map[string]testFunc{
		"defined":     func(v any, _ []any) (bool, error) { return !isNullish(v), nil },
		"undefined":   func(v any, _ []any) (bool, error) { return isNullish(v), nil },
		"none":        func(v any, _ []any) (bool, error) { return v == nil, nil },
		"string":      func(v any, _ []any) (bool, error) { _, ok := v.(string); return ok, nil },
		"number":      func(v any, _ []any) (bool, error) { _, i := v.(int64); _, f := v.(float64); return i || f, nil },
		"integer":     func(v any, _ []any) (bool, error) { _, ok := v.(int64); return ok, nil },
		"float":       func(v any, _ []any) (bool, error) { _, ok := v.(float64); return ok, nil },
		"boolean":     func(v any, _ []any) (bool, error) { _, ok := v.(bool); return ok, nil },
		"true":        func(v any, _ []any) (bool, error) { b, ok := v.(bool); return ok && b, nil },
		"false":       func(v any, _ []any) (bool, error) { b, ok := v.(bool); return ok && !b, nil },
		"sequence":    func(v any, _ []any) (bool, error) { _, ok := v.([]any); return ok, nil },
		"mapping":     tMapping,
		"iterable":    tIterable,
		"callable":    func(v any, _ []any) (bool, error) { _, ok := v.(callable); return ok, nil },
		"odd":         tParity(1),
		"even":        tParity(0),
		"divisibleby": tDivisible,
		"eq":          tCmp("=="),
		"equalto":     tCmp("=="),
		"==":          tCmp("=="),
		"ne":          tCmp("!="),
		"!=":          tCmp("!="),
		"lt":          tCmp("<"),
		"lessthan":    tCmp("<"),
		"<":           tCmp("<"),
		"le":          tCmp("<="),
		"<=":          tCmp("<="),
		"gt":          tCmp(">"),
		"greaterthan": tCmp(">"),
		">":           tCmp(">"),
		"ge":          tCmp(">="),
		">=":          tCmp(">="),
		"in":          tIn,
		"sameas":      tSameAs,
		"lower":       tCase(unicode.IsLower, unicode.IsUpper),
		"upper":       tCase(unicode.IsUpper, unicode.IsLower),
		"startingwith": func(v any, args []any) (bool, error) {
			if len(args) != 1 {
				return false, fmt.Errorf("expects one argument")
			}
			s, ok := v.(string)
			return ok && strings.HasPrefix(s, toText(args[0])), nil
		},
		"endingwith": func(v any, args []any) (bool, error) {
			if len(args) != 1 {
				return false, fmt.Errorf("expects one argument")
			}
			s, ok := v.(string)
			return ok && strings.HasSuffix(s, toText(args[0])), nil
		},
		"containing": func(v any, args []any) (bool, error) {
			if len(args) != 1 {
				return false, fmt.Errorf("expects one argument")
			}
			return contains(v, args[0])
		},
	}
	globals = map[string]any{
		"range":     callable(gRange),
		"dict":      callable(gDict),
		"namespace": callable(gNamespace),
	}
}

// arg returns positional argument i, else keyword name, else def.
func arg(args []any, kw map[string]any, i int, name string, def any) any {
	if i < len(args) {
		return args[i]
	}
	if v, ok := kw[name]; ok {
		return v
	}
	return def
}

func strFilter(f func(string) string) filterFunc {
	return func(_ *env, v any, _ []any, _ map[string]any) (any, error) {
		return f(toText(v)), nil
	}
}

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

// default(d="", boolean=false) replaces undefined and null (and, with boolean=true,
// every falsy value).
func fDefault(_ *env, v any, args []any, kw map[string]any) (any, error) {
	d := arg(args, kw, 0, "default_value", "")
	if isNullish(v) {
		return d, nil
	}
	if truthy(arg(args, kw, 1, "boolean", false)) && !truthy(v) {
		return d, nil
	}
	return v, nil
}

func fToJSON(_ *env, v any, args []any, kw map[string]any) (any, error) {
	var b strings.Builder
	switch ind := arg(args, kw, 0, "indent", nil).(type) {
	case int64:
		if ind > 0 {
			if ind > 64 {
				ind = 64
			}
			writeJSON(&b, v, ",", ": ", strings.Repeat(" ", int(ind)), 0)
			return checkSize(b.String())
		}
	}
	writeJSON(&b, v, ",", ":", "", 0)
	return checkSize(b.String())
}

func fFromJSON(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	if isNullish(v) {
		return undefined, nil
	}
	out, err := jsonx.Decode([]byte(toText(v)))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// int converts like Jinja2: strings are parsed exactly as integers first (so 64-bit
// ids survive), then as floats and truncated; unparsable input gives the default (0).
func fInt(_ *env, v any, args []any, kw map[string]any) (any, error) {
	def := arg(args, kw, 0, "default", int64(0))
	base := int64(10)
	if b, ok := arg(args, kw, 1, "base", int64(10)).(int64); ok && b >= 2 && b <= 36 {
		base = b
	}
	switch t := v.(type) {
	case int64:
		return t, nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) || math.Abs(t) >= 9.3e18 {
			return def, nil
		}
		return int64(t), nil
	case bool:
		return b2i(t), nil
	case string:
		s := strings.TrimSpace(strings.ReplaceAll(t, "_", ""))
		if i, err := strconv.ParseInt(s, int(base), 64); err == nil {
			return i, nil
		}
		if base == 16 {
			if i, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), 16, 64); err == nil {
				return i, nil
			}
		}
		if f, ok := parseDecimalFloat(s); ok && math.Abs(f) < 9.3e18 {
			return int64(f), nil
		}
	}
	return def, nil
}

func fFloat(_ *env, v any, args []any, kw map[string]any) (any, error) {
	def := arg(args, kw, 0, "default", 0.0)
	switch t := v.(type) {
	case int64:
		return float64(t), nil
	case float64:
		return t, nil
	case bool:
		return float64(b2i(t)), nil
	case string:
		s := strings.TrimSpace(t)
		if f, ok := parseDecimalFloat(s); ok {
			return f, nil
		}
		switch strings.ToLower(s) {
		case "inf", "+inf", "infinity":
			return math.Inf(1), nil
		case "-inf", "-infinity":
			return math.Inf(-1), nil
		case "nan":
			return math.NaN(), nil
		}
	}
	return def, nil
}

// parseDecimalFloat accepts only decimal notation (no hex, no inf/nan, no underscores).
func parseDecimalFloat(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			digits = true
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return 0, false
		}
	}
	if !digits {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func fString(_ *env, v any, _ []any, _ map[string]any) (any, error) { return checkSize(toText(v)) }

func fBool(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	if s, ok := v.(string); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "on", "1", "y":
			return true, nil
		case "false", "no", "off", "0", "n", "":
			return false, nil
		}
	}
	return truthy(v), nil
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
	sepV := arg(args, kw, 0, "sep", nil)
	var parts []string
	if isNullish(sepV) {
		if max < 0 {
			parts = strings.Fields(s)
		} else {
			parts = fieldsN(s, int(max))
		}
	} else {
		sep := toText(sepV)
		if sep == "" {
			return nil, fmt.Errorf("empty separator")
		}
		n := -1
		if max >= 0 {
			n = int(max) + 1
		}
		parts = strings.SplitN(s, sep, n)
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func fieldsN(s string, max int) []string {
	var out []string
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	for len(s) > 0 {
		if len(out) == max {
			out = append(out, s)
			return out
		}
		i := strings.IndexFunc(s, unicode.IsSpace)
		if i < 0 {
			out = append(out, s)
			return out
		}
		out = append(out, s[:i])
		s = strings.TrimLeftFunc(s[i:], unicode.IsSpace)
	}
	return out
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

func fFirst(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undefined, nil
	}
	return items[0], nil
}

func fLast(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undefined, nil
	}
	return items[len(items)-1], nil
}

// length counts characters of a string (like Python len), items of a list or map.
func fLength(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	switch t := v.(type) {
	case string:
		return int64(runeLen(t)), nil
	case []any:
		return int64(len(t)), nil
	case map[string]any:
		return int64(len(t)), nil
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

func fKeys(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	m, err := asMap(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, k)
	}
	return out, nil
}

func fValues(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	m, err := asMap(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, norm(m[k]))
	}
	return out, nil
}

func fItems(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	m, err := asMap(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, []any{k, norm(m[k])})
	}
	return out, nil
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

func fAttr(_ *env, v any, args []any, _ map[string]any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("attr needs a name")
	}
	return getAttr(v, toText(args[0])), nil
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
	if len(args) < 2 {
		return nil, fmt.Errorf("replace needs old and new")
	}
	n := -1
	if c, ok := arg(args, kw, 2, "count", int64(-1)).(int64); ok && c >= 0 {
		n = int(c)
	}
	s, old, nw := toText(v), toText(args[0]), toText(args[1])
	if old == "" && len(s)*len(nw) > maxOutput {
		return nil, fmt.Errorf("output too large")
	}
	out := strings.Replace(s, old, nw, n)
	if len(out) > maxOutput {
		return nil, fmt.Errorf("output too large")
	}
	return out, nil
}

func fRound(_ *env, v any, args []any, kw map[string]any) (any, error) {
	f, ok := toFloat(v)
	if !ok {
		return nil, fmt.Errorf("cannot round %s", typeName(v))
	}
	prec := int64(0)
	if p, ok := arg(args, kw, 0, "precision", int64(0)).(int64); ok {
		prec = p
	}
	if prec > 15 {
		prec = 15
	}
	if prec < -15 {
		prec = -15
	}
	m := math.Pow(10, float64(prec))
	switch toText(arg(args, kw, 1, "method", "common")) {
	case "floor":
		return math.Floor(f*m) / m, nil
	case "ceil":
		return math.Ceil(f*m) / m, nil
	}
	return math.Round(f*m) / m, nil
}

func fAbs(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	switch t := v.(type) {
	case int64:
		if t < 0 {
			if t == math.MinInt64 {
				return -float64(t), nil
			}
			return -t, nil
		}
		return t, nil
	case float64:
		return math.Abs(t), nil
	case bool:
		return b2i(t), nil
	}
	return nil, fmt.Errorf("bad operand type for abs: %s", typeName(v))
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
	key := func(x any) any {
		if isNullish(attr) {
			return x
		}
		return getPath(x, attr)
	}
	sort.SliceStable(out, func(i, j int) bool {
		c := sortCompare(key(out[i]), key(out[j]), cs)
		if rev {
			return c > 0
		}
		return c < 0
	})
	return out, nil
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
		k := it
		if !isNullish(attr) {
			k = getPath(it, attr)
		}
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
	return func(_ *env, v any, args []any, kw map[string]any) (any, error) {
		items, err := seqOf(v)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return undefined, nil
		}
		cs := truthy(arg(args, kw, 0, "case_sensitive", false))
		attr := arg(args, kw, 1, "attribute", nil)
		key := func(x any) any {
			if isNullish(attr) {
				return x
			}
			return getPath(x, attr)
		}
		best := items[0]
		for _, it := range items[1:] {
			if sortCompare(key(it), key(best), cs)*sign > 0 {
				best = it
			}
		}
		return best, nil
	}
}

func fSum(_ *env, v any, args []any, kw map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	attr := arg(args, kw, 0, "attribute", nil)
	total := arg(args, kw, 1, "start", int64(0))
	for _, it := range items {
		if !isNullish(attr) {
			it = getPath(it, attr)
		}
		if total, err = arith("+", total, it); err != nil {
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
		items, err := seqOf(v)
		if err != nil {
			return nil, err
		}
		out := []any{}
		for _, it := range items {
			var ok bool
			if len(args) == 0 {
				ok = truthy(it)
			} else if ok, err = runTest(args[0], it, args[1:]); err != nil {
				return nil, err
			}
			if ok == keep {
				out = append(out, it)
			}
		}
		return out, nil
	}
}

func fSelectAttr(keep bool) filterFunc {
	return func(_ *env, v any, args []any, _ map[string]any) (any, error) {
		if len(args) == 0 {
			return nil, fmt.Errorf("needs an attribute name")
		}
		items, err := seqOf(v)
		if err != nil {
			return nil, err
		}
		out := []any{}
		for _, it := range items {
			a := getPath(it, args[0])
			var ok bool
			if len(args) == 1 {
				ok = truthy(a)
			} else if ok, err = runTest(args[1], a, args[2:]); err != nil {
				return nil, err
			}
			if ok == keep {
				out = append(out, it)
			}
		}
		return out, nil
	}
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
	for k, val := range m {
		out = append(out, []any{k, norm(val)})
	}
	idx := 0
	if byValue {
		idx = 1
	}
	sort.SliceStable(out, func(i, j int) bool {
		c := sortCompare(out[i].([]any)[idx], out[j].([]any)[idx], cs)
		if c == 0 {
			c = strings.Compare(out[i].([]any)[0].(string), out[j].([]any)[0].(string))
		}
		if rev {
			return c > 0
		}
		return c < 0
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
	return strings.ReplaceAll(url.PathEscape(toText(v)), "%2F", "/"), nil
}

func fFormat(_ *env, v any, args []any, kw map[string]any) (any, error) {
	if len(kw) > 0 && len(args) == 0 {
		return pyFormat(toText(v), kw)
	}
	return pyFormat(toText(v), args)
}

func fTruncate(_ *env, v any, args []any, kw map[string]any) (any, error) {
	s := []rune(toText(v))
	n, _ := arg(args, kw, 0, "length", int64(255)).(int64)
	end := toText(arg(args, kw, 2, "end", "..."))
	if n < 0 || int64(len(s)) <= n {
		return string(s), nil
	}
	cut := int(n) - runeLen(end)
	if cut < 0 {
		cut = 0
	}
	return string(s[:cut]) + end, nil
}

func fCenter(_ *env, v any, args []any, kw map[string]any) (any, error) {
	s := toText(v)
	w, _ := arg(args, kw, 0, "width", int64(80)).(int64)
	n := runeLen(s)
	if w > 4096 || int64(n) >= w {
		return s, nil
	}
	left := (int(w) - n) / 2
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", int(w)-n-left), nil
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

// ---- tests ----

func tMapping(v any, _ []any) (bool, error) {
	switch v.(type) {
	case map[string]any, *namespace:
		return true, nil
	}
	return false, nil
}

func tIterable(v any, _ []any) (bool, error) {
	switch v.(type) {
	case []any, map[string]any, string, *namespace:
		return true, nil
	}
	return false, nil
}

func tParity(want int64) testFunc {
	return func(v any, _ []any) (bool, error) {
		i, ok := v.(int64)
		if !ok {
			return false, nil
		}
		r := i % 2
		if r < 0 {
			r = -r
		}
		return r == want, nil
	}
}

func tDivisible(v any, args []any) (bool, error) {
	if len(args) != 1 {
		return false, fmt.Errorf("expects one argument")
	}
	m, err := arith("%", v, args[0])
	if err != nil {
		return false, err
	}
	return equal(m, int64(0)), nil
}

func tCmp(op string) testFunc {
	return func(v any, args []any) (bool, error) {
		if len(args) != 1 {
			return false, fmt.Errorf("expects one argument")
		}
		return compareOp(op, v, args[0])
	}
}

func tIn(v any, args []any) (bool, error) {
	if len(args) != 1 {
		return false, fmt.Errorf("expects one argument")
	}
	return contains(args[0], v)
}

func tSameAs(v any, args []any) (bool, error) {
	if len(args) != 1 {
		return false, fmt.Errorf("expects one argument")
	}
	switch a := args[0].(type) {
	case nil, bool, int64, float64, string:
		return v == a, nil
	case undefinedType:
		return isUndef(v), nil
	}
	return false, nil
}

func tCase(is, isNot func(rune) bool) testFunc {
	return func(v any, _ []any) (bool, error) {
		s, ok := v.(string)
		if !ok {
			return false, nil
		}
		cased := false
		for _, r := range s {
			if isNot(r) {
				return false, nil
			}
			if is(r) {
				cased = true
			}
		}
		return cased, nil
	}
}

// ---- globals and methods ----

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

// braceFormat implements str.format with {} / {0} / {name} fields (no format specs).
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
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, renderErr("unmatched '{' in format string")
		}
		field := s[i+1 : i+end]
		if j := strings.IndexByte(field, ':'); j >= 0 {
			field = field[:j]
		}
		var v any
		if field == "" {
			if auto >= len(args) {
				return nil, renderErr("not enough arguments for format string")
			}
			v = args[auto]
			auto++
		} else if n, err := strconv.Atoi(field); err == nil {
			if n < 0 || n >= len(args) {
				return nil, renderErr("format index out of range")
			}
			v = args[n]
		} else {
			v = kw[field]
		}
		b.WriteString(toText(v))
		i += end
	}
	return b.String(), nil
}
