package tmpl

// The Python str methods templates call ("a,b".split(","), s.rsplit("/", 1)[1],
// s.isdigit()), with Python 3's semantics: indices count characters (code points, not
// bytes), start/end are slice indices, whitespace and the case and digit properties
// are Python's (pyunicode_tables.go), and a wrong argument is an error naming the
// method rather than a guess.

//go:generate sh -c "python3 gen_pyunicode.py > pyunicode_tables.go"

import "strings"
import "unicode"
import "unicode/utf8"

// strMethods maps each supported method name to its implementation.
var strMethods map[string]func(s string, a *margs) (any, error)

func init() {
	pred := func(f func(string) bool) func(string, *margs) (any, error) {
		return func(s string, a *margs) (any, error) {
			if err := a.bind(0); err != nil {
				return nil, err
			}
			return f(s), nil
		}
	}
	conv := func(f func(string) string) func(string, *margs) (any, error) {
		return func(s string, a *margs) (any, error) {
			if err := a.bind(0); err != nil {
				return nil, err
			}
			return f(s), nil
		}
	}
	strMethods = map[string]func(string, *margs) (any, error){
		"upper":        conv(pyUpper),
		"lower":        conv(pyLower),
		"casefold":     conv(pyCasefold),
		"swapcase":     conv(pySwapcase),
		"title":        conv(pyTitle),
		"capitalize":   conv(pyCapitalize),
		"isdigit":      pred(allRunes(func(r rune) bool { return unicode.Is(pyDigit, r) })),
		"isnumeric":    pred(allRunes(func(r rune) bool { return unicode.Is(pyNumeric, r) })),
		"isdecimal":    pred(allRunes(func(r rune) bool { return unicode.Is(unicode.Nd, r) })),
		"isalpha":      pred(allRunes(unicode.IsLetter)),
		"isalnum":      pred(allRunes(func(r rune) bool { return unicode.IsLetter(r) || unicode.Is(pyNumeric, r) })),
		"isspace":      pred(allRunes(pyIsSpace)),
		"isascii":      pred(func(s string) bool { return strings.IndexFunc(s, func(r rune) bool { return r >= utf8.RuneSelf }) < 0 }),
		"isprintable":  pred(pyIsPrintable),
		"islower":      pred(func(s string) bool { return casedOnly(s, pyIsLowerRune, pyIsUpperRune) }),
		"isupper":      pred(func(s string) bool { return casedOnly(s, pyIsUpperRune, pyIsLowerRune) }),
		"istitle":      pred(pyIsTitle),
		"strip":        mStrip(strings.TrimFunc, strings.Trim),
		"lstrip":       mStrip(strings.TrimLeftFunc, strings.TrimLeft),
		"rstrip":       mStrip(strings.TrimRightFunc, strings.TrimRight),
		"split":        mSplit(false),
		"rsplit":       mSplit(true),
		"splitlines":   mSplitlines,
		"partition":    mPartition(false),
		"rpartition":   mPartition(true),
		"find":         mFind(false, false),
		"rfind":        mFind(true, false),
		"index":        mFind(false, true),
		"rindex":       mFind(true, true),
		"count":        mCount,
		"startswith":   mAffix(strings.HasPrefix),
		"endswith":     mAffix(strings.HasSuffix),
		"replace":      mReplace,
		"removeprefix": mRemove(strings.TrimPrefix),
		"removesuffix": mRemove(strings.TrimSuffix),
		"zfill":        mZfill,
		"ljust":        mJustify(func(s, pad string) string { return s + pad }),
		"rjust":        mJustify(func(s, pad string) string { return pad + s }),
		"center":       mCenter,
		"expandtabs":   mExpandtabs,
		"format": func(s string, a *margs) (any, error) {
			return braceFormat(s, a.args, a.kw)
		},
		"format_map": func(s string, a *margs) (any, error) {
			if err := a.bind(1, "mapping"); err != nil {
				return nil, err
			}
			m, ok := norm(a.vals[0]).(map[string]any)
			if !ok {
				return nil, a.errf("argument must be a mapping, not %s", typeName(a.vals[0]))
			}
			return braceFormat(s, nil, m)
		},
		"join": func(s string, a *margs) (any, error) {
			if err := a.bind(1, "iterable"); err != nil {
				return nil, err
			}
			items, err := seqOf(a.vals[0]) // a list, a string's characters or a map's keys
			if err != nil || isNullish(a.vals[0]) {
				return nil, a.errf("can only join an iterable, not %s", typeName(a.vals[0]))
			}
			for i, it := range items {
				if _, ok := it.(string); !ok {
					return nil, a.errf("sequence item %d: expected str instance, %s found", i, typeName(it))
				}
			}
			return fJoin(nil, items, []any{s}, nil)
		},
	}
}

// stringMethod gives the bound Python str method name of s, or nil when there is none.
func stringMethod(s string, name string) any {
	if f, ok := strMethods[name]; ok {
		return boundMethod(s, "str."+name, f)
	}
	return nil
}

func mStrip(byFunc func(string, func(rune) bool) string, byChars func(string, string) string) func(string, *margs) (any, error) {
	return func(s string, a *margs) (any, error) {
		if err := a.bind(0, "chars"); err != nil {
			return nil, err
		}
		if a.absentOrNone(0) {
			return byFunc(s, pyIsSpace), nil
		}
		chars, err := a.str(0)
		if err != nil {
			return nil, err
		}
		return byChars(s, chars), nil
	}
}

func mSplit(fromRight bool) func(string, *margs) (any, error) {
	return func(s string, a *margs) (any, error) {
		a.keywords = true
		if err := a.bind(0, "sep", "maxsplit"); err != nil {
			return nil, err
		}
		maxsplit, err := a.intOr(1, -1)
		if err != nil {
			return nil, err
		}
		sep := ""
		if !a.absentOrNone(0) {
			if sep, err = a.str(0); err != nil {
				return nil, err
			}
			if sep == "" {
				return nil, a.errf("empty separator")
			}
		}
		return strList(pySplit(s, sep, maxsplit, fromRight)), nil
	}
}

// pySplit is str.split (str.rsplit with fromRight): sep "" splits on runs of Python
// whitespace and drops empty strings; at most maxsplit splits when it is not negative.
func pySplit(s, sep string, maxsplit int64, fromRight bool) []string {
	if maxsplit < 0 || maxsplit > int64(len(s)) {
		maxsplit = int64(len(s)) + 1
	}
	var out []string
	if sep != "" {
		for ; maxsplit > 0; maxsplit-- {
			var i int
			if fromRight {
				i = strings.LastIndex(s, sep)
			} else {
				i = strings.Index(s, sep)
			}
			if i < 0 {
				break
			}
			if fromRight {
				out = append(out, s[i+len(sep):])
				s = s[:i]
			} else {
				out = append(out, s[:i])
				s = s[i+len(sep):]
			}
		}
		out = append(out, s)
	} else {
		trim, cut := strings.TrimLeftFunc, func(s string) int { return strings.IndexFunc(s, pyIsSpace) }
		if fromRight {
			trim = strings.TrimRightFunc
			cut = func(s string) int { return strings.LastIndexFunc(s, pyIsSpace) }
		}
		for s = trim(s, pyIsSpace); s != ""; s = trim(s, pyIsSpace) {
			i := -1
			if maxsplit > 0 {
				i = cut(s)
			}
			if i < 0 {
				out = append(out, s)
				break
			}
			maxsplit--
			if fromRight {
				_, n := utf8.DecodeRuneInString(s[i:])
				out = append(out, s[i+n:])
				s = s[:i]
			} else {
				out = append(out, s[:i])
				s = s[i:]
			}
		}
	}
	if fromRight {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func strList(parts []string) []any {
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out
}

// isLineBreak is what str.splitlines splits at (besides "\r\n", one break).
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

func mSplitlines(s string, a *margs) (any, error) {
	keep, err := a.onlyInt("keepends", 0)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for s != "" {
		i := strings.IndexFunc(s, isLineBreak)
		if i < 0 {
			out = append(out, s)
			break
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		if strings.HasPrefix(s[i:], "\r\n") {
			n = 2
		}
		if keep != 0 {
			out = append(out, s[:i+n])
		} else {
			out = append(out, s[:i])
		}
		s = s[i+n:]
	}
	return out, nil
}

func mPartition(fromRight bool) func(string, *margs) (any, error) {
	return func(s string, a *margs) (any, error) {
		sep, err := a.onlyStr("sep")
		if err != nil {
			return nil, err
		}
		if sep == "" {
			return nil, a.errf("empty separator")
		}
		if fromRight {
			if i := strings.LastIndex(s, sep); i >= 0 {
				return []any{s[:i], sep, s[i+len(sep):]}, nil
			}
			return []any{"", "", s}, nil
		}
		if before, after, ok := strings.Cut(s, sep); ok {
			return []any{before, sep, after}, nil
		}
		return []any{s, "", ""}, nil
	}
}

// window applies the optional start and end slice arguments at positions i and i+1:
// the runes of s and the adjusted bounds, as Python's ADJUST_INDICES (end clamped to
// the length, negatives counted from the end; start may stay past the end).
func (a *margs) window(s string, i int) (rs []rune, start, end int, err error) {
	rs = []rune(s)
	n := int64(len(rs))
	st, err := a.indexOr(i, 0)
	if err != nil {
		return nil, 0, 0, err
	}
	en, err := a.indexOr(i+1, n)
	if err != nil {
		return nil, 0, 0, err
	}
	if en > n {
		en = n
	} else if en < 0 {
		en = max(en+n, 0)
	}
	if st < 0 {
		st = max(st+n, 0)
	}
	if st > n+1 {
		st = n + 1 // keeps start-vs-end comparisons right without overflowing an int
	}
	return rs, int(st), int(en), nil
}

// subWindow binds (sub, start=None, end=None), the parameters of find, index and count.
func (a *margs) subWindow(s string) (sub string, rs []rune, start, end int, err error) {
	if err = a.bind(1, "sub", "start", "end"); err != nil {
		return "", nil, 0, 0, err
	}
	if sub, err = a.str(0); err != nil {
		return "", nil, 0, 0, err
	}
	rs, start, end, err = a.window(s, 1)
	return sub, rs, start, end, err
}

func mFind(fromRight, mustFind bool) func(string, *margs) (any, error) {
	return func(s string, a *margs) (any, error) {
		sub, rs, start, end, err := a.subWindow(s)
		if err != nil {
			return nil, err
		}
		at := -1
		if end >= start {
			in := string(rs[start:end])
			i := strings.Index(in, sub)
			if fromRight {
				i = strings.LastIndex(in, sub)
			}
			if i >= 0 {
				at = start + runeLen(in[:i])
			}
		}
		if at < 0 && mustFind {
			return nil, a.errf("substring not found")
		}
		return int64(at), nil
	}
}

func mCount(s string, a *margs) (any, error) {
	sub, rs, start, end, err := a.subWindow(s)
	if err != nil {
		return nil, err
	}
	if end < start {
		return int64(0), nil
	}
	if sub == "" {
		return int64(end - start + 1), nil
	}
	return int64(strings.Count(string(rs[start:end]), sub)), nil
}

// mAffix is startswith/endswith: a str or a tuple of str, within start/end.
func mAffix(has func(s, affix string) bool) func(string, *margs) (any, error) {
	return func(s string, a *margs) (any, error) {
		if err := a.bind(1, "prefix", "start", "end"); err != nil {
			return nil, err
		}
		affixes, ok := a.vals[0].([]any)
		if !ok {
			if _, isStr := a.vals[0].(string); !isStr {
				return nil, a.errf("first arg must be str or a tuple of str, not %s", typeName(a.vals[0]))
			}
			affixes = a.vals[:1]
		}
		rs, start, end, err := a.window(s, 1)
		if err != nil {
			return nil, err
		}
		for _, x := range affixes {
			affix, ok := x.(string)
			if !ok {
				return nil, a.errf("tuple must only contain str, not %s", typeName(x))
			}
			if end-runeLen(affix) >= start && has(string(rs[start:end]), affix) {
				return true, nil
			}
		}
		return false, nil
	}
}

func mReplace(s string, a *margs) (any, error) {
	if err := a.bind(2, "old", "new", "count"); err != nil {
		return nil, err
	}
	old, err := a.str(0)
	if err != nil {
		return nil, err
	}
	nw, err := a.str(1)
	if err != nil {
		return nil, err
	}
	count, err := a.intOr(2, -1)
	if err != nil {
		return nil, err
	}
	if count < 0 || count > int64(len(s))+1 {
		count = -1
	}
	out, err := fReplace(nil, s, []any{old, nw, count}, nil)
	if err != nil {
		return nil, a.errf("%v", err)
	}
	return out, nil
}

func mRemove(trim func(s, affix string) string) func(string, *margs) (any, error) {
	return func(s string, a *margs) (any, error) {
		affix, err := a.onlyStr("affix")
		if err != nil {
			return nil, err
		}
		return trim(s, affix), nil
	}
}

// padding is the fill a justification to width needs (nothing when s is as wide), for
// ljust/rjust/center and zfill.
func (a *margs) padding(s string, fill rune) (pad int, err error) {
	width, err := a.intOr(0, 0)
	if err != nil {
		return 0, err
	}
	n := int64(runeLen(s))
	if width <= n {
		return 0, nil
	}
	if (width-n)*int64(utf8.RuneLen(fill))+int64(len(s)) > maxOutput {
		return 0, a.errf("output too large")
	}
	return int(width - n), nil
}

// justify binds (width, fillchar=' ') of ljust, rjust and center: the fill character
// and how many of it s needs.
func (a *margs) justify(s string) (fill rune, pad int, err error) {
	if err = a.bind(1, "width", "fillchar"); err != nil {
		return 0, 0, err
	}
	if fill, err = a.fillchar(1); err != nil {
		return 0, 0, err
	}
	pad, err = a.padding(s, fill)
	return fill, pad, err
}

func (a *margs) fillchar(i int) (rune, error) {
	if a.absent(i) {
		return ' ', nil
	}
	f, err := a.str(i)
	if err != nil {
		return 0, err
	}
	if runeLen(f) != 1 {
		return 0, a.errf("the fill character must be exactly one character long")
	}
	r, _ := utf8.DecodeRuneInString(f)
	return r, nil
}

func mJustify(join func(s, pad string) string) func(string, *margs) (any, error) {
	return func(s string, a *margs) (any, error) {
		fill, pad, err := a.justify(s)
		if err != nil {
			return nil, err
		}
		return join(s, strings.Repeat(string(fill), pad)), nil
	}
}

func mCenter(s string, a *margs) (any, error) {
	fill, pad, err := a.justify(s)
	if err != nil {
		return nil, err
	}
	width, _ := a.intOr(0, 0)
	return pyCenter(s, pad, width, fill), nil
}

// pyCenter centres s in pad extra fill characters as str.center does: the odd one goes
// left when the width is odd, right otherwise.
func pyCenter(s string, pad int, width int64, fill rune) string {
	left := pad/2 + (pad & int(width) & 1)
	f := string(fill)
	return strings.Repeat(f, left) + s + strings.Repeat(f, pad-left)
}

func mZfill(s string, a *margs) (any, error) {
	if err := a.bind(1, "width"); err != nil {
		return nil, err
	}
	pad, err := a.padding(s, '0')
	if err != nil {
		return nil, err
	}
	if pad == 0 {
		return s, nil
	}
	zeros := strings.Repeat("0", pad)
	if s != "" && (s[0] == '+' || s[0] == '-') {
		return s[:1] + zeros + s[1:], nil
	}
	return zeros + s, nil
}

func mExpandtabs(s string, a *margs) (any, error) {
	size, err := a.onlyInt("tabsize", 8)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	col := int64(0)
	for _, r := range s {
		switch r {
		case '\t':
			if size > 0 {
				n := size - col%size
				if int64(b.Len())+n > maxOutput {
					return nil, a.errf("output too large")
				}
				b.WriteString(strings.Repeat(" ", int(n)))
				col += n
			}
		case '\n', '\r':
			b.WriteRune(r)
			col = 0
		default:
			b.WriteRune(r)
			col++
		}
	}
	return b.String(), nil
}

// Character properties as Python defines them.

// pyIsSpace is str.isspace for one character: Go's unicode.IsSpace plus the
// information separators U+001C..U+001F, which Python counts as whitespace.
func pyIsSpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// pyIsPrintable is str.isprintable: no character of the categories Other (control,
// format, surrogate, private use, unassigned) or Separator, except the ASCII space.
// The empty string is printable.
func pyIsPrintable(s string) bool {
	for _, r := range s {
		if r == ' ' {
			continue
		}
		if unicode.In(r, unicode.C, unicode.Z) || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S) {
			return false
		}
	}
	return true
}

func pyIsLowerRune(r rune) bool { return unicode.In(r, unicode.Ll, unicode.Other_Lowercase) }
func pyIsUpperRune(r rune) bool { return unicode.In(r, unicode.Lu, unicode.Other_Uppercase) }
func pyIsCased(r rune) bool     { return pyIsLowerRune(r) || pyIsUpperRune(r) || unicode.Is(unicode.Lt, r) }

// pyIsCaseIgnorable is Unicode's Case_Ignorable: marks, format characters, modifiers
// and the word-internal punctuation (apostrophes, periods, colons, middle dots).
func pyIsCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', '^', '`', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027, 0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

func allRunes(f func(rune) bool) func(string) bool {
	return func(s string) bool {
		if s == "" {
			return false
		}
		for _, r := range s {
			if !f(r) {
				return false
			}
		}
		return true
	}
}

// casedOnly is islower (want lower, none upper) and isupper: at least one cased
// character, and none of the other case or titlecase.
func casedOnly(s string, want, other func(rune) bool) bool {
	cased := false
	for _, r := range s {
		if other(r) || unicode.Is(unicode.Lt, r) {
			return false
		}
		cased = cased || want(r)
	}
	return cased
}

func pyIsTitle(s string) bool {
	cased, prevCased := false, false
	for _, r := range s {
		switch {
		case pyIsUpperRune(r) || unicode.Is(unicode.Lt, r):
			if prevCased {
				return false
			}
			prevCased, cased = true, true
		case pyIsLowerRune(r):
			if !prevCased {
				return false
			}
			prevCased, cased = true, true
		default:
			prevCased = false
		}
	}
	return cased
}

// Case mappings: Python's full mappings (ß upper is SS) and the final sigma rule.

func pyUpper(s string) string {
	var b strings.Builder
	for _, r := range s {
		writeUpper(&b, r)
	}
	return b.String()
}

func writeUpper(b *strings.Builder, r rune) {
	if m, ok := pyUpperFull[r]; ok {
		b.WriteString(m)
	} else {
		b.WriteRune(unicode.ToUpper(r))
	}
}

func writeTitle(b *strings.Builder, r rune) {
	if m, ok := pyTitleFull[r]; ok {
		b.WriteString(m)
	} else {
		b.WriteRune(unicode.ToTitle(r))
	}
}

// writeLower writes the lower case of rs[i]; a capital sigma becomes final sigma at
// the end of a word, as Python's lower does.
func writeLower(b *strings.Builder, rs []rune, i int) {
	r := rs[i]
	if r == 'Σ' {
		b.WriteRune(sigmaAt(rs, i))
	} else if m, ok := pyLowerFull[r]; ok {
		b.WriteString(m)
	} else {
		b.WriteRune(unicode.ToLower(r))
	}
}

// sigmaAt is Python's handle_capital_sigma: final ς after a cased letter (skipping
// case-ignorable ones) that no cased letter follows.
func sigmaAt(rs []rune, i int) rune {
	j := i - 1
	for j >= 0 && pyIsCaseIgnorable(rs[j]) {
		j--
	}
	final := j >= 0 && pyIsCased(rs[j])
	if final {
		j = i + 1
		for j < len(rs) && pyIsCaseIgnorable(rs[j]) {
			j++
		}
		final = j == len(rs) || !pyIsCased(rs[j])
	}
	if final {
		return 'ς'
	}
	return 'σ'
}

func pyLower(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i := range rs {
		writeLower(&b, rs, i)
	}
	return b.String()
}

func pyCasefold(s string) string {
	var b strings.Builder
	for _, r := range s {
		if m, ok := pyFold[r]; ok {
			b.WriteString(m)
		} else if m, ok := pyLowerFull[r]; ok {
			b.WriteString(m)
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func pySwapcase(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		switch {
		case pyIsUpperRune(r):
			writeLower(&b, rs, i)
		case pyIsLowerRune(r):
			writeUpper(&b, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// pyTitle is str.title: a character after a cased one is lowered, any other is
// title-cased ("they're" -> "They'Re", "2nd" -> "2Nd").
func pyTitle(s string) string {
	rs := []rune(s)
	var b strings.Builder
	prevCased := false
	for i, r := range rs {
		if prevCased {
			writeLower(&b, rs, i)
		} else {
			writeTitle(&b, r)
		}
		prevCased = pyIsCased(r)
	}
	return b.String()
}

func pyCapitalize(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if i == 0 {
			writeTitle(&b, r)
		} else {
			writeLower(&b, rs, i)
		}
	}
	return b.String()
}
