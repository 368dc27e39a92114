package tmpl

import "strings"

// Template is a compiled template. It is immutable and safe for concurrent use.
type Template struct {
	src   string
	nodes []stmt
	// whole is set when the template is exactly one {{ expression }} (surrounding
	// whitespace allowed): such a string evaluates to the expression's value.
	whole expr
	// refs are the free variable names the template reads (and how), used to defer
	// templates that reference values only the worker has (_prev, keychain, ...) and to
	// build a context that holds only what the template can read.
	refs Refs
}

// Source returns the text the template was compiled from.
func (t *Template) Source() string { return t.src }

// References reports whether the template reads the variable name at top level
// (for example "keychain" for {{ keychain.db.password }}).
func (t *Template) References(name string) bool { return t.refs[name] != nil }

// Refs reports every top-level name the template can read and how it reads it. The
// result is shared: do not modify it.
func (t *Template) Refs() Refs { return t.refs }

type parser struct {
	src   string
	lx    *lexer
	tok   token
	peekd *token
	refs  Refs
	bound []map[string]bool // names bound by for/set inside the template
	// stripNext: the previous tag asked to strip whitespace at the start of the next text
	stripNext bool
	// loopRefs counts references to the name `loop`, so a for loop that never reads
	// loop.* skips building it per iteration
	loopRefs int
	// freeName is the free name parsePrimary just read, for parsePostfix to record how it
	// is used ("" when the primary was something else).
	freeName string
}

func (p *parser) advance() error {
	if p.peekd != nil {
		p.tok = *p.peekd
		p.peekd = nil
		return nil
	}
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) peek() (token, error) {
	if p.peekd == nil {
		t, err := p.lx.next()
		if err != nil {
			return token{}, err
		}
		p.peekd = &t
	}
	return *p.peekd, nil
}

func (p *parser) isOp(s string) bool { return p.tok.kind == tkOp && p.tok.s == s }

func (p *parser) isName(s string) bool { return p.tok.kind == tkName && p.tok.s == s }

func (p *parser) expectOp(s string) error {
	if !p.isOp(s) {
		return p.unexpected("expected %q", s)
	}
	return p.advance()
}

func (p *parser) unexpected(format string, args ...any) error {
	what := describe(p.tok)
	e := errorf(p.src, p.tok.pos, format, args...)
	e.Msg += ", got " + what
	return e
}

func describe(t token) string {
	switch t.kind {
	case tkEOF:
		return "end of expression"
	case tkEnd:
		return "end of tag"
	case tkName:
		return "name " + t.s
	case tkString:
		return "string"
	case tkInt, tkFloat:
		return "number"
	}
	return "'" + t.s + "'"
}

// Compile parses a template. Plain text (no tag) compiles to a template that renders
// to itself.
func Compile(src string) (*Template, error) {
	p := &parser{src: src, refs: Refs{}}
	t := &Template{src: src, refs: p.refs}
	if !strings.Contains(src, "{{") && !strings.Contains(src, "{%") && !strings.Contains(src, "{#") {
		if src != "" {
			t.nodes = []stmt{&textNode{s: src}}
		}
		return t, nil
	}
	body := src
	// Like Jinja2 and minijinja, a single trailing newline is not part of the output.
	if strings.HasSuffix(body, "\r\n") {
		body = body[:len(body)-2]
	} else if strings.HasSuffix(body, "\n") {
		body = body[:len(body)-1]
	}
	pos := 0
	nodes, endTag, err := p.parseBody(body, &pos, nil)
	if err != nil {
		return nil, err
	}
	if endTag != "" {
		return nil, errorf(src, pos, "unexpected tag %q", endTag)
	}
	t.nodes = nodes
	t.whole = wholeExpr(nodes)
	return t, nil
}

// compileBareExpr parses a bare expression such as `a.b > 3 and c | length`.
func compileBareExpr(src string) (expr, Refs, error) {
	p := &parser{src: src, refs: Refs{}}
	p.lx = &lexer{src: src}
	if err := p.advance(); err != nil {
		return nil, nil, err
	}
	e, err := p.parseExpr()
	if err != nil {
		return nil, nil, err
	}
	if p.tok.kind != tkEOF {
		return nil, nil, p.unexpected("expected end of expression")
	}
	return e, p.refs, nil
}

func wholeExpr(nodes []stmt) expr {
	var out expr
	for _, n := range nodes {
		switch t := n.(type) {
		case *textNode:
			if strings.TrimSpace(t.s) != "" {
				return nil
			}
		case *outputNode:
			if out != nil {
				return nil
			}
			out = t.e
		default:
			return nil
		}
	}
	return out
}

// parseBody parses text and tags until one of the end tags (e.g. "endif", "elif",
// "else") is found; it returns that tag's name with the lexer positioned inside it.
func (p *parser) parseBody(src string, pos *int, ends []string) ([]stmt, string, error) {
	var nodes []stmt
	for {
		rest := src[*pos:]
		idx := indexTag(rest)
		text := rest
		if idx >= 0 {
			text = rest[:idx]
		}
		if p.stripNext {
			text = strings.TrimLeft(text, " \t\r\n")
			p.stripNext = false
		}
		if idx >= 0 && idx+2 < len(rest) && rest[idx+2] == '-' {
			text = strings.TrimRight(text, " \t\r\n")
		}
		if text != "" {
			nodes = append(nodes, &textNode{s: text})
		}
		if idx < 0 {
			*pos = len(src)
			return nodes, "", nil
		}
		tagPos := *pos + idx
		open := src[tagPos : tagPos+2]
		inner := tagPos + 2
		if inner < len(src) && (src[inner] == '-' || src[inner] == '+') {
			inner++
		}
		switch open {
		case "{#":
			end := strings.Index(src[inner:], "#}")
			if end < 0 {
				return nil, "", errorf(p.src, tagPos, "unterminated comment")
			}
			closeAt := inner + end
			if closeAt > inner && src[closeAt-1] == '-' {
				p.stripNext = true
			}
			*pos = closeAt + 2
		case "{{":
			p.lx = &lexer{src: src, pos: inner, end: "}}"}
			p.peekd = nil
			if err := p.advance(); err != nil {
				return nil, "", err
			}
			e, err := p.parseExpr()
			if err != nil {
				return nil, "", err
			}
			if p.tok.kind != tkEnd {
				return nil, "", p.unexpected("expected end of print tag")
			}
			p.stripNext = p.lx.stripAfter
			*pos = p.lx.pos
			nodes = append(nodes, &outputNode{e: e})
		case "{%":
			p.lx = &lexer{src: src, pos: inner, end: "%}"}
			p.peekd = nil
			if err := p.advance(); err != nil {
				return nil, "", err
			}
			if p.tok.kind != tkName {
				return nil, "", p.unexpected("expected a tag name")
			}
			name := p.tok.s
			for _, e := range ends {
				if e == name {
					return nodes, name, nil
				}
			}
			n, err := p.parseStmt(src, pos, name)
			if err != nil {
				return nil, "", err
			}
			if n != nil {
				nodes = append(nodes, n)
			}
		}
	}
}

func indexTag(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '{' && (s[i+1] == '{' || s[i+1] == '%' || s[i+1] == '#') {
			return i
		}
	}
	return -1
}

// endTag consumes the rest of the current block tag, which must be empty.
func (p *parser) endTag(pos *int) error {
	if p.tok.kind != tkEnd {
		return p.unexpected("expected end of tag")
	}
	p.stripNext = p.lx.stripAfter
	*pos = p.lx.pos
	return nil
}

func (p *parser) parseStmt(src string, pos *int, name string) (stmt, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch name {
	case "if":
		return p.parseIf(src, pos)
	case "for":
		return p.parseFor(src, pos)
	case "set":
		return p.parseSet(src, pos)
	case "raw":
		if err := p.endTag(pos); err != nil {
			return nil, err
		}
		return p.parseRaw(src, pos)
	}
	return nil, errorf(p.src, p.tok.pos, "unknown or unsupported tag %q", name)
}

func (p *parser) parseRaw(src string, pos *int) (stmt, error) {
	rest := src[*pos:]
	for off := 0; ; {
		i := strings.Index(rest[off:], "{%")
		if i < 0 {
			return nil, errorf(p.src, *pos, "missing endraw")
		}
		i += off
		j := i + 2
		strip := false
		if j < len(rest) && (rest[j] == '-' || rest[j] == '+') {
			strip = rest[j] == '-'
			j++
		}
		k := j
		for k < len(rest) && isSpace(rest[k]) {
			k++
		}
		if strings.HasPrefix(rest[k:], "endraw") {
			m := k + len("endraw")
			for m < len(rest) && isSpace(rest[m]) {
				m++
			}
			after := false
			if m < len(rest) && (rest[m] == '-' || rest[m] == '+') {
				after = rest[m] == '-'
				m++
			}
			if strings.HasPrefix(rest[m:], "%}") {
				text := rest[:i]
				if p.stripNext {
					text = strings.TrimLeft(text, " \t\r\n")
				}
				if strip {
					text = strings.TrimRight(text, " \t\r\n")
				}
				p.stripNext = after
				*pos += m + 2
				return &textNode{s: text}, nil
			}
		}
		off = i + 2
	}
}

func (p *parser) parseIf(src string, pos *int) (stmt, error) {
	n := &ifNode{}
	for {
		cond, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.endTag(pos); err != nil {
			return nil, err
		}
		body, end, err := p.parseBody(src, pos, []string{"elif", "else", "endif"})
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cond)
		n.bodies = append(n.bodies, body)
		switch end {
		case "":
			return nil, errorf(p.src, len(src), "missing endif")
		case "elif":
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		case "else":
			if err := p.advance(); err != nil {
				return nil, err
			}
			if n.els, err = p.parseClosedBody(src, pos, "endif"); err != nil {
				return nil, err
			}
			return n, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		return n, p.endTag(pos)
	}
}

// parseClosedBody parses the body that follows the current tag up to the closing tag
// end, and consumes the closing tag.
func (p *parser) parseClosedBody(src string, pos *int, end string) ([]stmt, error) {
	if err := p.endTag(pos); err != nil {
		return nil, err
	}
	body, found, err := p.parseBody(src, pos, []string{end})
	if err != nil {
		return nil, err
	}
	if found == "" {
		return nil, errorf(p.src, len(src), "missing %s", end)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return body, p.endTag(pos)
}

func (p *parser) parseFor(src string, pos *int) (stmt, error) {
	n := &forNode{}
	for {
		if p.tok.kind != tkName {
			return nil, p.unexpected("expected a loop variable")
		}
		n.targets = append(n.targets, p.tok.s)
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.isOp(",") {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if !p.isName("in") {
		return nil, p.unexpected("expected 'in'")
	}
	iter, err := p.parseAfter(p.parseOr)
	if err != nil {
		return nil, err
	}
	n.iter = iter
	refsBefore := p.loopRefs
	defer func() { n.usesLoop = p.loopRefs > refsBefore }()
	scope := map[string]bool{"loop": true}
	for _, t := range n.targets {
		scope[t] = true
	}
	p.bound = append(p.bound, scope)
	defer func() { p.bound = p.bound[:len(p.bound)-1] }()
	if p.isName("if") {
		if n.filter, err = p.parseAfter(p.parseOr); err != nil {
			return nil, err
		}
	}
	if err := p.endTag(pos); err != nil {
		return nil, err
	}
	body, end, err := p.parseBody(src, pos, []string{"else", "endfor"})
	if err != nil {
		return nil, err
	}
	n.body = body
	if end == "else" {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if n.els, err = p.parseClosedBody(src, pos, "endfor"); err != nil {
			return nil, err
		}
		return n, nil
	}
	if end == "" {
		return nil, errorf(p.src, len(src), "missing endfor")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return n, p.endTag(pos)
}

func (p *parser) parseSet(src string, pos *int) (stmt, error) {
	if p.tok.kind != tkName {
		return nil, p.unexpected("expected a variable name")
	}
	n := &setNode{target: p.tok.s}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.isOp(".") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tkName {
			return nil, p.unexpected("expected an attribute name")
		}
		n.attr = p.tok.s
		p.noteWhole(n.target)
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.isOp("=") {
		e, err := p.parseAfter(p.parseExpr)
		if err != nil {
			return nil, err
		}
		n.e = e
		p.bind(n)
		return n, p.endTag(pos)
	}
	if n.attr != "" {
		return nil, p.unexpected("expected '='")
	}
	// block set: {% set x %}...{% endset %}
	body, err := p.parseClosedBody(src, pos, "endset")
	if err != nil {
		return nil, err
	}
	n.body = body
	p.bind(n)
	return n, nil
}

func (p *parser) bind(n *setNode) {
	if n.attr != "" {
		return
	}
	if len(p.bound) == 0 {
		p.bound = append(p.bound, map[string]bool{})
	}
	p.bound[len(p.bound)-1][n.target] = true
}

// isFree reports whether name is read from the context (not bound by for or set inside
// the template).
func (p *parser) isFree(name string) bool {
	for _, b := range p.bound {
		if b[name] {
			return false
		}
	}
	return true
}

// noteWhole records that the template uses a free name's value as a whole.
func (p *parser) noteWhole(name string) {
	if p.isFree(name) {
		p.refs.use(name, "")
	}
}
