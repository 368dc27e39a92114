package tmpl

// Python's format-specification mini-language, for str.format fields ("{:>5}",
// "{:,.2f}", "{0:08.3f}", "{:x}"). What it does not implement is an error naming the
// part, never an option quietly ignored.

import "fmt"
import "math"
import "strconv"
import "strings"
import "unicode/utf8"

// formatSpec is a parsed [[fill]align][sign][#][0][width][grouping][.precision][type].
type formatSpec struct {
	fill      rune
	align     byte // 0 when not given
	sign      byte // '-' (the default), '+' or ' '
	alt       bool // '#'
	zero      bool // '0' before the width
	width     int
	grouping  byte // 0, ',' or '_'
	precision int  // -1 when not given
	typ       byte // 0 when not given
}

// maxFormatWidth bounds a field's width and precision: a larger one would only pad.
const maxFormatWidth = 1000

func parseFormatSpec(s string) (formatSpec, error) {
	sp := formatSpec{fill: ' ', sign: '-', precision: -1}
	i := 0
	isAlign := func(c byte) bool { return c == '<' || c == '>' || c == '^' || c == '=' }
	if r, n := utf8.DecodeRuneInString(s); n > 0 && n < len(s) && isAlign(s[n]) {
		sp.fill, sp.align, i = r, s[n], n+1
	} else if len(s) > 0 && isAlign(s[0]) {
		sp.align, i = s[0], 1
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-' || s[i] == ' ') {
		sp.sign = s[i]
		i++
	}
	if i < len(s) && s[i] == 'z' {
		return sp, fmt.Errorf("format spec %q: the 'z' option is not supported", s)
	}
	if i < len(s) && s[i] == '#' {
		sp.alt = true
		i++
	}
	if i < len(s) && s[i] == '0' {
		sp.zero = true
		i++
	}
	var err error
	if sp.width, i, err = specNumber(s, i); err != nil {
		return sp, err
	}
	if i < len(s) && (s[i] == ',' || s[i] == '_') {
		sp.grouping = s[i]
		i++
	}
	if i < len(s) && s[i] == '.' {
		start := i + 1
		if sp.precision, i, err = specNumber(s, start); err != nil {
			return sp, err
		}
		if i == start {
			return sp, fmt.Errorf("format spec %q: missing precision after '.'", s)
		}
	}
	if i < len(s) {
		if i+1 < len(s) || !strings.ContainsRune("sdbcoxXneEfFgG%", rune(s[i])) {
			return sp, fmt.Errorf("format spec %q: unsupported or misplaced %q (supported: [[fill]align][sign][#][0][width][,|_][.precision][type], types s d b c o x X n e E f F g G %%)", s, s[i:])
		}
		sp.typ = s[i]
	}
	return sp, nil
}

// specNumber reads the decimal number at s[i:] (0 when there is none).
func specNumber(s string, i int) (int, int, error) {
	n := 0
	for i < len(s) && isDigit(s[i]) {
		n = n*10 + int(s[i]-'0')
		if n > maxFormatWidth {
			return 0, i, fmt.Errorf("format spec %q: width or precision above %d", s, maxFormatWidth)
		}
		i++
	}
	return n, i, nil
}

// formatValue formats v by a Python format spec. An empty spec is the value's text.
func formatValue(v any, spec string) (string, error) {
	v = norm(v)
	if spec == "" {
		return toText(v), nil
	}
	sp, err := parseFormatSpec(spec)
	if err != nil {
		return "", err
	}
	switch t := v.(type) {
	case string:
		return sp.formatString(t)
	case bool:
		if sp.typ == 0 || sp.typ == 's' {
			return sp.formatString(toText(t))
		}
		return sp.formatInt(b2i(t))
	case int64:
		return sp.formatInt(t)
	case float64:
		return sp.formatFloat(t)
	}
	return "", fmt.Errorf("format spec %q: cannot format %s (only strings, numbers and booleans take a format spec)", spec, typeName(v))
}

func (sp formatSpec) formatString(s string) (string, error) {
	switch {
	case sp.typ != 0 && sp.typ != 's':
		return "", fmt.Errorf("unknown format code '%c' for a string", sp.typ)
	case sp.sign != '-':
		return "", fmt.Errorf("sign not allowed in a string format specifier")
	case sp.alt:
		return "", fmt.Errorf("alternate form (#) not allowed in a string format specifier")
	case sp.grouping != 0:
		return "", fmt.Errorf("cannot specify '%c' with a string", sp.grouping)
	case sp.align == '=':
		return "", fmt.Errorf("'=' alignment not allowed in a string format specifier")
	}
	if sp.precision >= 0 && runeLen(s) > sp.precision {
		s = string([]rune(s)[:sp.precision])
	}
	if sp.zero && sp.align == 0 {
		sp.fill = '0'
	}
	return sp.pad(s, '<'), nil
}

func (sp formatSpec) formatInt(n int64) (string, error) {
	switch sp.typ {
	case 'e', 'E', 'f', 'F', 'g', 'G', '%':
		return sp.formatFloat(float64(n))
	case 's':
		return "", fmt.Errorf("unknown format code 's' for an integer")
	}
	if sp.precision >= 0 {
		return "", fmt.Errorf("precision not allowed in an integer format specifier")
	}
	neg := n < 0
	u := uint64(n)
	if neg {
		u = -u
	}
	var digits, prefix string
	group := 3
	switch sp.typ {
	case 0, 'd', 'n':
		digits = strconv.FormatUint(u, 10)
	case 'c':
		if neg || u > utf8.MaxRune {
			return "", fmt.Errorf("%%c arg not in range(0x110000)")
		}
		if sp.sign != '-' || sp.alt || sp.grouping != 0 {
			return "", fmt.Errorf("sign, '#' and grouping are not allowed with integer format specifier 'c'")
		}
		return sp.pad(string(rune(u)), '>'), nil
	case 'b', 'o', 'x', 'X':
		base := map[byte]int{'b': 2, 'o': 8, 'x': 16, 'X': 16}[sp.typ]
		digits = strconv.FormatUint(u, base)
		if sp.typ == 'X' {
			digits = strings.ToUpper(digits)
		}
		if sp.alt {
			prefix = "0" + string(sp.typ)
		}
		if sp.grouping == ',' {
			return "", fmt.Errorf("cannot specify ',' with '%c'", sp.typ)
		}
		group = 4
	}
	if sp.alt && prefix == "" {
		return "", fmt.Errorf("alternate form (#) is supported only with the integer types b, o, x and X")
	}
	return sp.number(neg, prefix, digits, "", group), nil
}

func (sp formatSpec) formatFloat(f float64) (string, error) {
	if sp.alt {
		return "", fmt.Errorf("alternate form (#) is supported only with the integer types b, o, x and X")
	}
	if sp.grouping == '_' && sp.typ != 0 && !strings.ContainsRune("eEfFgG%", rune(sp.typ)) {
		return "", fmt.Errorf("cannot specify '_' with '%c'", sp.typ)
	}
	neg := math.Signbit(f) && !math.IsNaN(f)
	a := math.Abs(f)
	prec := sp.precision
	suffix := ""
	var body string
	switch sp.typ {
	case 'd', 'b', 'o', 'x', 'X', 'c', 's':
		return "", fmt.Errorf("unknown format code '%c' for a float", sp.typ)
	case 'f', 'F', '%':
		if prec < 0 {
			prec = 6
		}
		if sp.typ == '%' {
			a *= 100
			suffix = "%"
		}
		body = strconv.FormatFloat(a, 'f', prec, 64)
	case 'e', 'E':
		if prec < 0 {
			prec = 6
		}
		body = strconv.FormatFloat(a, 'e', prec, 64)
	case 'g', 'G', 'n':
		if prec < 0 {
			prec = 6
		}
		body = pyGeneral(a, max(prec, 1))
	default: // no type: str() of the float, or 'g' with at least one decimal
		if prec < 0 {
			body = formatFloat(a)
		} else {
			body = pyGeneral(a, max(prec, 1))
			if !strings.ContainsAny(body, ".en") {
				body += ".0"
			}
		}
	}
	switch {
	case math.IsInf(a, 0):
		body = "inf"
	case math.IsNaN(a):
		body = "nan"
	}
	if sp.typ == 'E' || sp.typ == 'G' || sp.typ == 'F' {
		body = strings.ToUpper(body)
	}
	intPart, rest := body, ""
	if i := strings.IndexFunc(body, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		intPart, rest = body[:i], body[i:]
	}
	return sp.number(neg, "", intPart, rest+suffix, 3), nil
}

// pyGeneral is Python's 'g' presentation: precision significant digits, exponent form
// when the exponent is below -4 or not below the precision, trailing zeros dropped.
func pyGeneral(a float64, prec int) string {
	if a == 0 || math.IsInf(a, 0) || math.IsNaN(a) {
		return strconv.FormatFloat(a, 'g', prec, 64)
	}
	e := strconv.FormatFloat(a, 'e', prec-1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= prec {
		mant, tail, _ := strings.Cut(e, "e")
		if strings.Contains(mant, ".") {
			mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
		}
		return mant + "e" + tail
	}
	s := strconv.FormatFloat(a, 'f', max(prec-1-exp, 0), 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// number lays out a formatted number: sign, prefix, grouped integer digits, the rest
// (fraction, exponent, '%'), padded by the spec ('=' pads between sign and digits).
func (sp formatSpec) number(neg bool, prefix, digits, rest string, group int) string {
	sign := ""
	switch {
	case neg:
		sign = "-"
	case sp.sign == '+':
		sign = "+"
	case sp.sign == ' ':
		sign = " "
	}
	if sp.zero && sp.align == 0 {
		sp.fill, sp.align = '0', '='
	}
	if sp.grouping != 0 && sp.fill == '0' && sp.align == '=' {
		// Zero padding is grouped too, as Python does: 0,000,012.
		width := sp.width - runeLen(sign+prefix+rest)
		for runeLen(groupDigits(digits, sp.grouping, group)) < width {
			digits = "0" + digits
		}
		return sign + prefix + groupDigits(digits, sp.grouping, group) + rest
	}
	if sp.grouping != 0 {
		digits = groupDigits(digits, sp.grouping, group)
	}
	if sp.align == '=' {
		return sign + prefix + sp.padTo(sign+prefix, digits+rest)
	}
	return sp.pad(sign+prefix+digits+rest, '>')
}

// padTo pads between head and body to the width ('=' alignment).
func (sp formatSpec) padTo(head, body string) string {
	n := sp.width - runeLen(head) - runeLen(body)
	if n <= 0 {
		return body
	}
	return strings.Repeat(string(sp.fill), n) + body
}

func groupDigits(digits string, sep byte, every int) string {
	if len(digits) <= every {
		return digits
	}
	var b strings.Builder
	first := len(digits) % every
	if first == 0 {
		first = every
	}
	b.WriteString(digits[:first])
	for i := first; i < len(digits); i += every {
		b.WriteByte(sep)
		b.WriteString(digits[i : i+every])
	}
	return b.String()
}

// pad fills s to the spec's width: the spec's alignment, else def.
func (sp formatSpec) pad(s string, def byte) string {
	n := sp.width - runeLen(s)
	if n <= 0 {
		return s
	}
	align := sp.align
	if align == 0 {
		align = def
	}
	fill := string(sp.fill)
	switch align {
	case '<':
		return s + strings.Repeat(fill, n)
	case '^':
		return strings.Repeat(fill, n/2) + s + strings.Repeat(fill, n-n/2)
	default:
		return strings.Repeat(fill, n) + s
	}
}
