package tmpl

// Jinja2 built-ins that regroup a sequence or a text: groupby, slice, lines,
// filesizeformat, striptags.

import "fmt"
import "html"
import "math"
import "regexp"
import "strconv"
import "strings"

// fGroupby is Jinja2's groupby(attribute, default=None, case_sensitive=False): the
// items sorted by the attribute (a dotted path or an index) and grouped by equal
// values, as a list of (grouper, list) pairs. A pair is a two-item list (groupPair), so
// it unpacks in `{% for key, items in ... %}`, indexes as [0] and [1], and prints and
// converts to JSON as Jinja2's tuple does; its .grouper and .list read the same two
// items (getAttr). Without case_sensitive, strings group case-insensitively and the
// grouper is the value of the group's first item, as in Jinja2.
func fGroupby(_ *env, v any, args []any, kw map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	attr := arg(args, kw, 0, "attribute", nil)
	if isNullish(attr) {
		return nil, fmt.Errorf("groupby needs an attribute")
	}
	def, hasDef := kw["default"]
	if len(args) > 1 {
		def, hasDef = args[1], true
	}
	cs := truthy(arg(args, kw, 2, "case_sensitive", false))
	key := func(it any) any {
		k := getPath(it, attr)
		if hasDef && isUndef(k) {
			k = def
		}
		return k
	}
	// An item without the attribute would sort and group as an empty grouper, which
	// hides a typo in the attribute or a gap in the data; Jinja2 fails there too.
	if !hasDef {
		for i, it := range items {
			if isUndef(getPath(it, attr)) {
				name := fmt.Sprint(attr)
				if _, ok := attr.(string); ok {
					name = "'" + name + "'"
				}
				return nil, fmt.Errorf("item %d (from 0) has no attribute %s; groupby(%s, default=...) groups such items", i, name, name)
			}
		}
	}
	sorted := append([]any{}, items...)
	sortItems(sorted, false, func(a, b any) int { return sortCompare(key(a), key(b), cs) })
	out := []any{}
	for i := 0; i < len(sorted); {
		k := key(sorted[i])
		j := i + 1
		for j < len(sorted) && sortCompare(key(sorted[j]), k, cs) == 0 {
			j++
		}
		out = append(out, groupPair(k, append([]any{}, sorted[i:j]...)))
		i = j
	}
	return out, nil
}

// groupTag marks the lists groupby made (groupPair), so that only they answer
// .grouper and .list: any other two-item list is a plain list, as in Jinja2.
type groupTagType struct{}

var groupTag any = groupTagType{}

// groupPair is a groupby result item: a two-item list like every other, so no code
// that walks, prints, compares or exports lists needs to know about it. The tag sits
// in a third slot of its backing array, past the list's length, where only isGroupPair
// looks: copying, slicing, `list`, `+` and the caller's own copies make lists without
// it. Nothing appends to a list in place, so the slot is never overwritten.
func groupPair(grouper any, items []any) []any {
	p := make([]any, 3)
	p[0], p[1], p[2] = grouper, items, groupTag
	return p[:2]
}

func isGroupPair(l []any) bool {
	return len(l) == 2 && cap(l) == 3 && l[:3][2] == groupTag
}

// groupAttr reads .grouper and .list of a groupby pair.
func groupAttr(pair []any, name string) (any, bool) {
	if !isGroupPair(pair) {
		return nil, false
	}
	switch name {
	case "grouper":
		return norm(pair[0]), true
	case "list":
		return norm(pair[1]), true
	}
	return nil, false
}

// fSlice is Jinja2's slice(slices, fill_with=None): the items cut into that many
// columns, the first len % slices of them one item longer; with fill_with the shorter
// ones are padded to the same length.
func fSlice(_ *env, v any, args []any, kw map[string]any) (any, error) {
	items, err := seqOf(v)
	if err != nil {
		return nil, err
	}
	n, ok := arg(args, kw, 0, "slices", nil).(int64)
	if !ok || n <= 0 {
		return nil, fmt.Errorf("slice needs a positive integer number of slices")
	}
	if n > maxItems {
		return nil, fmt.Errorf("slice: %d slices exceed the limit of %d items", n, maxItems)
	}
	fill := arg(args, kw, 1, "fill_with", nil)
	hasFill := fill != nil
	per, extra := len(items)/int(n), len(items)%int(n)
	out := make([]any, 0, n)
	offset := 0
	for s := 0; s < int(n); s++ {
		start := offset + s*per
		if s < extra {
			offset++
		}
		end := offset + (s+1)*per
		col := append([]any{}, items[start:end]...)
		if hasFill && s >= extra {
			col = append(col, fill)
		}
		out = append(out, col)
	}
	return out, nil
}

// fLines is minijinja's lines: a string's lines, split at "\n" or "\r\n", without the
// empty line after a final newline.
func fLines(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	var s string
	switch t := v.(type) {
	case nil, undefinedType:
		return []any{}, nil
	case string:
		s = t
	default:
		return nil, fmt.Errorf("lines needs a string, got %s", typeName(v))
	}
	if s == "" {
		return []any{}, nil
	}
	s = strings.TrimSuffix(s, "\n")
	out := []any{}
	for _, l := range strings.Split(s, "\n") {
		out = append(out, strings.TrimSuffix(l, "\r"))
	}
	return out, nil
}

// fFilesizeformat is Jinja2's filesizeformat(binary=False): "1 Byte", "12 Bytes",
// "1.5 kB" (powers of 1000) or, binary, "1.5 KiB" (powers of 1024).
func fFilesizeformat(_ *env, v any, args []any, kw map[string]any) (any, error) {
	var size float64
	switch t := v.(type) {
	case int64:
		size = float64(t)
	case float64:
		size = t
	case bool:
		size = float64(b2i(t))
	case string:
		// Jinja2 takes float(value): text that is not a number is an error, not 0.
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil {
			return nil, fmt.Errorf("filesizeformat: %q is not a number", t)
		}
		size = f
	default:
		return nil, fmt.Errorf("filesizeformat needs a number, got %s", typeName(v))
	}
	binary := truthy(arg(args, kw, 0, "binary", false))
	base, prefixes := 1000.0, []string{"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	if binary {
		base, prefixes = 1024.0, []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
	}
	switch {
	case size == 1:
		return "1 Byte", nil
	case size < base:
		return fmt.Sprintf("%d Bytes", int64(size)), nil
	}
	var unit float64
	for i, p := range prefixes {
		unit = math.Pow(base, float64(i+2))
		if size < unit || i == len(prefixes)-1 {
			return fmt.Sprintf("%.1f %s", base*size/unit, p), nil
		}
	}
	return nil, nil // not reached
}

var (
	htmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)
	htmlTag     = regexp.MustCompile(`(?s)<[^>]*>`)
)

// fStriptags is Jinja2's striptags: comments and tags removed, runs of whitespace
// collapsed to one space, entities unescaped.
func fStriptags(_ *env, v any, _ []any, _ map[string]any) (any, error) {
	s := htmlTag.ReplaceAllString(htmlComment.ReplaceAllString(toText(v), ""), "")
	return html.UnescapeString(strings.Join(strings.Fields(s), " ")), nil
}
