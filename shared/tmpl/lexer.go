package tmpl

import "strconv"
import "strings"
import "unicode"
import "unicode/utf8"

type tokKind uint8

const (
	tkEOF tokKind = iota
	tkName
	tkString
	tkInt
	tkFloat
	tkOp
	tkEnd // the closing delimiter of a tag: }} or %}
)

type token struct {
	kind tokKind
	s    string // name, operator, or the decoded string literal
	i    int64
	f    float64
	pos  int
}

// lexer turns the inside of one tag (or a bare expression) into tokens. It tracks
// bracket depth so that "}}" inside a dict literal does not end a {{ }} tag.
type lexer struct {
	src   string
	pos   int
	end   string // "}}", "%}" or "" for a bare expression
	depth int
	// set when the tag ended with "-}}"/"-%}": strip whitespace after the tag
	stripAfter bool
}

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameChar(c byte) bool {
	return isNameStart(c) || (c >= '0' && c <= '9')
}

// nameLen is the length in bytes of the name at the start of s, 0 when none starts
// there. Names are Python 3's identifiers, as Jinja2's are: a letter of any script (or a
// letter-like number, Nl) or `_`, then those, digits, combining marks and connector
// punctuation. So a key or a step named in another language (`données`, `étape`) is read
// like an ASCII one. ASCII takes the byte path.
func nameLen(s string) int {
	n := 0
	for n < len(s) {
		if c := s[n]; c < utf8.RuneSelf {
			if !isNameChar(c) || (n == 0 && isDigit(c)) {
				break
			}
			n++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		if !isNameRune(r, n == 0) {
			break
		}
		n += size
	}
	return n
}

// isNameRune reports whether a non-ASCII rune may start (first) or continue a name.
func isNameRune(r rune, first bool) bool {
	if unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) {
		return true
	}
	return !first && unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// atEnd reports whether the closing delimiter (optionally preceded by '-' or '+')
// starts at l.pos, and returns its total length.
func (l *lexer) atEnd() (int, bool) {
	if l.end == "" || l.depth > 0 {
		return 0, false
	}
	s := l.src[l.pos:]
	if strings.HasPrefix(s, l.end) {
		return len(l.end), true
	}
	if len(s) > 2 && (s[0] == '-' || s[0] == '+') && strings.HasPrefix(s[1:], l.end) {
		if s[0] == '-' {
			l.stripAfter = true
		}
		return len(l.end) + 1, true
	}
	return 0, false
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		if l.end != "" {
			return token{}, errorf(l.src, start, "unexpected end of template, expected %q", l.end)
		}
		return token{kind: tkEOF, pos: start}, nil
	}
	if n, ok := l.atEnd(); ok {
		l.pos += n
		return token{kind: tkEnd, pos: start}, nil
	}
	if n := nameLen(l.src[l.pos:]); n > 0 {
		l.pos += n
		return token{kind: tkName, s: l.src[start:l.pos], pos: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case isDigit(c):
		return l.number()
	case c == '"' || c == '\'':
		return l.str(c)
	}
	// operators, longest first
	for _, op := range [...]string{"//", "**", "==", "!=", "<=", ">="} {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += 2
			return token{kind: tkOp, s: op, pos: start}, nil
		}
	}
	switch c {
	case '(', '[', '{':
		l.depth++
	case ')', ']', '}':
		if l.depth == 0 {
			return token{}, errorf(l.src, start, "unexpected %q", string(c))
		}
		l.depth--
	case '+', '-', '*', '/', '%', '~', '<', '>', '=', '.', ',', ':', '|':
	default:
		r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
		return token{}, errorf(l.src, start, "unexpected character %q", r)
	}
	l.pos++
	return token{kind: tkOp, s: string(c), pos: start}, nil
}

func (l *lexer) number() (token, error) {
	start := l.pos
	isFloat := false
	digits := func() {
		for l.pos < len(l.src) && (isDigit(l.src[l.pos]) || (l.src[l.pos] == '_' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]))) {
			l.pos++
		}
	}
	digits()
	if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
		isFloat = true
		l.pos++
		digits()
	}
	if l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
		p := l.pos + 1
		if p < len(l.src) && (l.src[p] == '+' || l.src[p] == '-') {
			p++
		}
		if p < len(l.src) && isDigit(l.src[p]) {
			isFloat = true
			l.pos = p
			digits()
		}
	}
	text := strings.ReplaceAll(l.src[start:l.pos], "_", "")
	if !isFloat {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return token{kind: tkInt, i: i, pos: start}, nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !isRangeErr(err) {
		return token{}, errorf(l.src, start, "invalid number %q", text)
	}
	return token{kind: tkFloat, f: f, pos: start}, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func (l *lexer) str(q byte) (token, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == q:
			l.pos++
			return token{kind: tkString, s: b.String(), pos: start}, nil
		case c == '\\' && l.pos+1 < len(l.src):
			l.pos++
			e := l.src[l.pos]
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'u', 'U', 'x':
				n := map[byte]int{'u': 4, 'U': 8, 'x': 2}[e]
				if l.pos+n < len(l.src) {
					if v, err := strconv.ParseUint(l.src[l.pos+1:l.pos+1+n], 16, 32); err == nil && utf8.ValidRune(rune(v)) {
						b.WriteRune(rune(v))
						l.pos += n
						break
					}
				}
				b.WriteByte('\\')
				b.WriteByte(e)
			default:
				// Python keeps unknown escapes as written.
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			l.pos++
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return token{}, errorf(l.src, start, "unterminated string literal")
}
