package tmpl

// Expression parsing, one function per precedence level from the lowest (the inline
// if) down to the operands; filters and tests bind to the operand before them.

// parseExpr parses an expression, the inline `a if cond else b` included.
func (p *parser) parseExpr() (expr, error) {
	a, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if !p.isName("if") {
		return a, nil
	}
	cond, err := p.parseAfter(p.parseOr)
	if err != nil {
		return nil, err
	}
	var b expr
	if p.isName("else") {
		if b, err = p.parseAfter(p.parseExpr); err != nil {
			return nil, err
		}
	}
	return &condExpr{cond: cond, a: a, b: b}, nil
}

// parseAfter consumes the current token (a keyword or operator the caller has
// recognised) and parses what follows it with parse.
func (p *parser) parseAfter(parse func() (expr, error)) (expr, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	return parse()
}

func (p *parser) parseOr() (expr, error) {
	return p.leftAssoc(p.parseAnd, p.nameOp("or"), func(_ string, l, r expr) expr { return &logicExpr{and: false, l: l, r: r} })
}

func (p *parser) parseAnd() (expr, error) {
	return p.leftAssoc(p.parseNot, p.nameOp("and"), func(_ string, l, r expr) expr { return &logicExpr{and: true, l: l, r: r} })
}

func (p *parser) parseNot() (expr, error) {
	if p.isName("not") {
		x, err := p.parseAfter(p.parseNot)
		if err != nil {
			return nil, err
		}
		return &unaryExpr{x: x, op: unaryNot}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (expr, error) {
	first, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	var c *compareExpr
	for {
		var op string
		switch {
		case p.tok.kind == tkOp && (p.tok.s == "==" || p.tok.s == "!=" || p.tok.s == "<" || p.tok.s == "<=" || p.tok.s == ">" || p.tok.s == ">="):
			op = p.tok.s
		case p.isName("in"):
			op = "in"
		case p.isName("not"):
			nx, err := p.peek()
			if err != nil {
				return nil, err
			}
			if nx.kind != tkName || nx.s != "in" {
				goto done
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			op = "not in"
		default:
			goto done
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		if c == nil {
			c = &compareExpr{first: first}
		}
		c.ops = append(c.ops, op)
		c.rest = append(c.rest, r)
	}
done:
	if c == nil {
		return first, nil
	}
	return c, nil
}

func (p *parser) parseConcat() (expr, error) {
	return p.leftAssoc(p.parseAdd, p.symbolOp("~"), newBinExpr)
}

func (p *parser) parseAdd() (expr, error) {
	return p.leftAssoc(p.parseMul, p.symbolOp("+", "-"), newBinExpr)
}

func (p *parser) parseMul() (expr, error) {
	return p.leftAssoc(p.parsePow, p.symbolOp("*", "/", "//", "%"), newBinExpr)
}

func (p *parser) parsePow() (expr, error) {
	return p.leftAssoc(p.parseUnary, p.symbolOp("**"), newBinExpr)
}

// leftAssoc parses one left-associative precedence level: operands from next, joined
// while match reports an operator, each pair combined by build.
func (p *parser) leftAssoc(next func() (expr, error), match func() (string, bool), build func(op string, l, r expr) expr) (expr, error) {
	l, err := next()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := match()
		if !ok {
			return l, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := next()
		if err != nil {
			return nil, err
		}
		l = build(op, l, r)
	}
}

// nameOp matches the keyword operator name (or, and).
func (p *parser) nameOp(name string) func() (string, bool) {
	return func() (string, bool) { return name, p.isName(name) }
}

// symbolOp matches any of the symbol operators ops.
func (p *parser) symbolOp(ops ...string) func() (string, bool) {
	return func() (string, bool) {
		for _, op := range ops {
			if p.isOp(op) {
				return op, true
			}
		}
		return "", false
	}
}

func newBinExpr(op string, l, r expr) expr { return &binExpr{op: op, l: l, r: r} }

func (p *parser) parseUnary() (expr, error) {
	return p.parseUnaryF(true)
}

// parseUnaryF: like Jinja2, `-x | abs` applies the filter to -x, so the operand of a
// unary minus is parsed without its filters.
func (p *parser) parseUnaryF(withFilters bool) (expr, error) {
	var x expr
	if p.isOp("-") || p.isOp("+") {
		op := unaryMinus
		if p.isOp("+") {
			op = unaryPlus
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		inner, err := p.parseUnaryF(false)
		if err != nil {
			return nil, err
		}
		x = &unaryExpr{x: inner, op: op}
	} else {
		var err error
		if x, err = p.parsePostfix(); err != nil {
			return nil, err
		}
	}
	if !withFilters {
		return x, nil
	}
	return p.parseFilters(x)
}

// parseFilters handles `| filter(args)` and `is [not] test args` after an operand.
func (p *parser) parseFilters(x expr) (expr, error) {
	for {
		switch {
		case p.isOp("|"):
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tkName {
				return nil, p.unexpected("expected a filter name")
			}
			name, at := p.tok.s, p.tok.pos
			fn, ok := filters[name]
			if !ok {
				return nil, errorf(p.src, at, "unknown filter %q", name)
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			f := &filterExpr{x: x, name: name, fn: fn}
			if p.isOp("(") {
				var err error
				if f.args, f.kwNames, f.kwVals, err = p.parseArgs(); err != nil {
					return nil, err
				}
			}
			x = f
		case p.isName("is"):
			if err := p.advance(); err != nil {
				return nil, err
			}
			t := &testExpr{x: x}
			if p.isName("not") {
				t.negate = true
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			var name string
			switch {
			case p.tok.kind == tkName:
				name = p.tok.s
			case p.tok.kind == tkOp && (p.tok.s == "==" || p.tok.s == "!=" || p.tok.s == "<" || p.tok.s == "<=" || p.tok.s == ">" || p.tok.s == ">="):
				name = p.tok.s
			default:
				return nil, p.unexpected("expected a test name")
			}
			fn, ok := tests[name]
			if !ok {
				return nil, errorf(p.src, p.tok.pos, "unknown test %q", name)
			}
			t.name, t.fn = name, fn
			if err := p.advance(); err != nil {
				return nil, err
			}
			switch {
			case p.isOp("("):
				args, _, _, err := p.parseArgs()
				if err != nil {
					return nil, err
				}
				t.args = args
			case p.startsOperand():
				arg, err := p.parsePostfix()
				if err != nil {
					return nil, err
				}
				t.args = []expr{arg}
			}
			x = t
		default:
			return x, nil
		}
	}
}

// startsOperand: a test takes one argument without parentheses (`is divisibleby 3`)
// when the next token can start an operand and is not a keyword.
func (p *parser) startsOperand() bool {
	switch p.tok.kind {
	case tkString, tkInt, tkFloat:
		return true
	case tkName:
		switch p.tok.s {
		case "and", "or", "not", "in", "is", "if", "else":
			return false
		}
		return true
	case tkOp:
		return p.tok.s == "[" || p.tok.s == "{"
	}
	return false
}

func (p *parser) parseArgs() (args []expr, kwNames []string, kwVals []expr, err error) {
	if err = p.expectOp("("); err != nil {
		return
	}
	for !p.isOp(")") {
		if p.tok.kind == tkName {
			nx, perr := p.peek()
			if perr != nil {
				return nil, nil, nil, perr
			}
			if nx.kind == tkOp && nx.s == "=" {
				name := p.tok.s
				if err = p.advance(); err != nil {
					return
				}
				if err = p.advance(); err != nil {
					return
				}
				var v expr
				if v, err = p.parseExpr(); err != nil {
					return
				}
				kwNames = append(kwNames, name)
				kwVals = append(kwVals, v)
				goto sep
			}
		}
		{
			var v expr
			if v, err = p.parseExpr(); err != nil {
				return
			}
			if len(kwNames) > 0 {
				err = p.unexpected("positional argument after keyword argument")
				return
			}
			args = append(args, v)
		}
	sep:
		if p.isOp(",") {
			if err = p.advance(); err != nil {
				return
			}
			continue
		}
		if !p.isOp(")") {
			err = p.unexpected("expected ',' or ')'")
			return
		}
	}
	err = p.advance()
	return
}

func (p *parser) parsePostfix() (expr, error) {
	p.freeName = ""
	x, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	// root is a free name whose first postfix decides what of it is read: `name.attr`
	// and `name['attr']` read one attribute, anything else the whole value.
	root := p.freeName
	p.freeName = ""
	noteRoot := func(attr string) {
		if root != "" {
			p.refs.use(root, attr)
			root = ""
		}
	}
	for {
		switch {
		case p.isOp("."):
			if err := p.advance(); err != nil {
				return nil, err
			}
			attr := ""
			switch p.tok.kind {
			case tkName:
				x = &attrExpr{obj: x, name: p.tok.s}
				attr = p.tok.s
			case tkInt:
				x = &itemExpr{obj: x, key: &constExpr{v: p.tok.i}}
			default:
				return nil, p.unexpected("expected an attribute name")
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.isOp("(") {
				attr = "" // a method (items, get, keys...) works on the whole value
			}
			noteRoot(attr)
		case p.isOp("["):
			if err := p.advance(); err != nil {
				return nil, err
			}
			x, err = p.parseSubscript(x)
			if err != nil {
				return nil, err
			}
			attr := ""
			if it, ok := x.(*itemExpr); ok {
				if c, ok := it.key.(*constExpr); ok {
					attr, _ = c.v.(string)
				}
			}
			noteRoot(attr)
		case p.isOp("("):
			noteRoot("")
			args, kn, kv, err := p.parseArgs()
			if err != nil {
				return nil, err
			}
			x = &callExpr{fn: x, args: args, kwNames: kn, kwVals: kv}
		default:
			noteRoot("")
			return x, nil
		}
	}
}

func (p *parser) parseSubscript(obj expr) (expr, error) {
	var parts [3]expr
	colons := 0
	for {
		if p.isOp("]") {
			break
		}
		if p.isOp(":") {
			colons++
			if colons > 2 {
				return nil, p.unexpected("too many ':' in slice")
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		}
		if parts[colons] != nil {
			return nil, p.unexpected("expected ']'")
		}
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		parts[colons] = e
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if colons == 0 {
		if parts[0] == nil {
			return nil, errorf(p.src, p.tok.pos, "empty subscript")
		}
		return &itemExpr{obj: obj, key: parts[0]}, nil
	}
	return &sliceExpr{obj: obj, start: parts[0], stop: parts[1], step: parts[2]}, nil
}

// parsePrimary parses an operand: a literal, a name, a parenthesised expression or
// tuple, a list or a dict.
func (p *parser) parsePrimary() (expr, error) {
	t := p.tok
	switch {
	case t.kind == tkString:
		return p.parseStrings()
	case t.kind == tkInt:
		return &constExpr{v: t.i}, p.advance()
	case t.kind == tkFloat:
		return &constExpr{v: t.f}, p.advance()
	case t.kind == tkName:
		return p.parseName()
	case p.isOp("("):
		return p.parseParen()
	case p.isOp("["):
		return p.parseList()
	case p.isOp("{"):
		return p.parseDict()
	}
	return nil, p.unexpected("expected an expression")
}

// parseStrings parses one string literal and the ones adjacent to it, which
// concatenate, as in Python.
func (p *parser) parseStrings() (expr, error) {
	s := p.tok.s
	if err := p.advance(); err != nil {
		return nil, err
	}
	for p.tok.kind == tkString {
		s += p.tok.s
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	return &constExpr{v: s}, nil
}

// parseName parses a constant name (true, none, ...) or a variable reference; a keyword
// where an operand belongs is an error.
func (p *parser) parseName() (expr, error) {
	t := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch t.s {
	case "true", "True":
		return &constExpr{v: true}, nil
	case "false", "False":
		return &constExpr{v: false}, nil
	case "none", "None":
		return &constExpr{v: nil}, nil
	case "and", "or", "not", "in", "is", "if", "else":
		return nil, errorf(p.src, t.pos, "unexpected keyword %q", t.s)
	}
	if t.s == "loop" {
		p.loopRefs++
	}
	if p.isFree(t.s) {
		p.freeName = t.s // parsePostfix records how it is used
	}
	return &nameExpr{name: t.s}, nil
}

// parseParen parses "(" expr ")", the empty tuple "()" and a tuple "(a, b,)"; tuples are
// lists.
func (p *parser) parseParen() (expr, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.isOp(")") {
		return &listExpr{}, p.advance()
	}
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if p.isOp(",") { // tuple
		items := []expr{e}
		for p.isOp(",") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.isOp(")") {
				break
			}
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			items = append(items, e)
		}
		e = &listExpr{items: items}
	}
	return e, p.expectOp(")")
}

// parseList parses "[a, b]" (a trailing comma allowed).
func (p *parser) parseList() (expr, error) {
	items, err := parseBracketed(p, "]", p.parseExpr)
	return &listExpr{items: items}, err
}

// parseDict parses "{k: v, ...}" (a trailing comma allowed).
func (p *parser) parseDict() (expr, error) {
	entries, err := parseBracketed(p, "}", p.parseDictEntry)
	return &dictExpr{entries: entries}, err
}

func (p *parser) parseDictEntry() (dictEntry, error) {
	k, err := p.parseExpr()
	if err != nil {
		return dictEntry{}, err
	}
	if err := p.expectOp(":"); err != nil {
		return dictEntry{}, err
	}
	v, err := p.parseExpr()
	return dictEntry{key: k, val: v}, err
}

// parseBracketed consumes an opening bracket, the items item parses, separated by
// commas (a trailing one allowed), and the closing bracket.
func parseBracketed[T any](p *parser, closing string, item func() (T, error)) ([]T, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	var items []T
	for !p.isOp(closing) {
		x, err := item()
		if err != nil {
			return nil, err
		}
		items = append(items, x)
		if err := p.listSep(closing); err != nil {
			return nil, err
		}
	}
	return items, p.advance()
}

// listSep consumes the "," after an item of a list or dict, or accepts the closing
// bracket without consuming it.
func (p *parser) listSep(closing string) error {
	if p.isOp(",") {
		return p.advance()
	}
	if !p.isOp(closing) {
		return p.unexpected("expected ',' or '%s'", closing)
	}
	return nil
}
