package tmpl

import "fmt"
import "html"
import "math"
import "strconv"
import "strings"
import "unicode"

import "github.com/noetl/controlplane/shared/jsonx"

var (
	filters map[string]filterFunc
	tests   map[string]testFunc
	globals map[string]any
)

func init() {
	filters = map[string]filterFunc{
		"default":        fDefault,
		"d":              fDefault,
		"tojson":         fToJSON,
		"fromjson":       fFromJSON,
		"int":            fInt,
		"float":          fFloat,
		"string":         fString,
		"bool":           fBool,
		"lower":          strFilter(strings.ToLower),
		"upper":          strFilter(strings.ToUpper),
		"capitalize":     strFilter(capitalize),
		"title":          strFilter(title),
		"trim":           fTrim,
		"split":          fSplit,
		"join":           fJoin,
		"first":          fFirst,
		"last":           fLast,
		"length":         fLength,
		"count":          fLength,
		"keys":           fKeys,
		"values":         fValues,
		"items":          fItems,
		"get":            fGet,
		"attr":           fAttr,
		"safe":           func(_ *env, v any, _ []any, _ map[string]any) (any, error) { return v, nil },
		"escape":         strFilter(html.EscapeString),
		"e":              strFilter(html.EscapeString),
		"b64encode":      fB64Encode,
		"b64decode":      fB64Decode,
		"replace":        fReplace,
		"round":          fRound,
		"abs":            fAbs,
		"list":           fList,
		"sort":           fSort,
		"unique":         fUnique,
		"reverse":        fReverse,
		"min":            fMinMax(-1),
		"max":            fMinMax(1),
		"sum":            fSum,
		"map":            fMap,
		"select":         fSelect(true),
		"reject":         fSelect(false),
		"selectattr":     fSelectAttr(true),
		"rejectattr":     fSelectAttr(false),
		"dictsort":       fDictsort,
		"batch":          fBatch,
		"groupby":        fGroupby,
		"slice":          fSlice,
		"lines":          fLines,
		"striptags":      fStriptags,
		"forceescape":    strFilter(html.EscapeString),
		"filesizeformat": fFilesizeformat,
		"indent":         fIndent,
		"wordcount": func(_ *env, v any, _ []any, _ map[string]any) (any, error) {
			return int64(len(strings.Fields(toText(v)))), nil
		},
		"urlencode": fURLEncode,
		"format":    fFormat,
		"truncate":  fTruncate,
		"center":    fCenter,
		"pprint":    func(_ *env, v any, _ []any, _ map[string]any) (any, error) { return toText(v), nil },
		"random":    fRandom,
		"urlize":    fUrlize,
		"wordwrap":  fWordwrap,
		"xmlattr":   fXmlattr,
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
		// Jinja2's `'name' is filter` and `'name' is test`: whether one of that name exists.
		"filter": func(v any, _ []any) (bool, error) { s, ok := v.(string); return ok && filters[s] != nil, nil },
		"test":   func(v any, _ []any) (bool, error) { s, ok := v.(string); return ok && tests[s] != nil, nil },
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
	if f, ok := jsonx.AsFloat(v); ok {
		return f, nil
	}
	switch t := v.(type) {
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

func fRound(_ *env, v any, args []any, kw map[string]any) (any, error) {
	f, ok := jsonx.AsFloat(v)
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
