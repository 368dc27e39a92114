package postgres

import "strings"

import "github.com/noetl/controlplane/shared/pg"

// Split cuts a script into statements at top-level semicolons. A semicolon does not
// split inside '…' literals (a doubled quote is a quote; E'…' also has backslash escapes), "…"
// identifiers, $tag$…$tag$ blocks, -- line comments or /* */ block comments (which
// nest, as in PostgreSQL), nor inside the BEGIN ATOMIC ... END body of a CREATE
// FUNCTION or PROCEDURE (psql's rule). Pieces holding only whitespace and comments are
// dropped; each statement keeps its comments.
func Split(script string) []string {
	var out []string
	start := 0
	var body atomicBody
	emit := func(end int) {
		piece := strings.TrimSpace(script[start:end])
		if piece != "" && !onlyComments(piece) {
			out = append(out, piece)
		}
		body = atomicBody{}
	}
	s := script
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ';' && body.depth > 0:
			i++
		case c == ';':
			emit(i)
			i++
			start = i
		case c == '(' || c == ')':
			body.paren(c)
			i++
		case isIdent(c) && (c < '0' || c > '9') && (i == 0 || !isIdent(s[i-1]) && s[i-1] != '$'):
			j := i
			for j < len(s) && (isIdent(s[j]) || s[j] == '$') {
				j++
			}
			body.word(strings.ToLower(s[i:j]))
			i = j
		case c == '\'':
			escapes := i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isIdent(s[i-2]))
			i = skipQuoted(s, i, '\'', escapes)
		case c == '"':
			i = skipQuoted(s, i, '"', false)
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			i = pg.SkipBlockComment(s, i)
		case c == '$':
			if tag, ok := dollarTag(s, i); ok {
				end := strings.Index(s[i+len(tag):], tag)
				if end < 0 {
					i = len(s)
				} else {
					i += len(tag) + end + len(tag)
				}
			} else {
				i++
			}
		default:
			i++
		}
	}
	emit(len(s))
	return out
}

// atomicBody follows a statement's words as psql does, to tell a semicolon that ends it
// from one inside a SQL-standard function body (CREATE FUNCTION ... BEGIN ATOMIC
// SELECT 1; SELECT 2; END): cut there, the pieces ran as broken statements, and the
// body's END passed for a transaction's end.
type atomicBody struct {
	words  []string // the statement's first four words
	parens int
	depth  int // BEGIN (and, inside one, CASE) not yet closed by END
}

func (b *atomicBody) paren(c byte) {
	if c == '(' {
		b.parens++
	} else if b.parens > 0 {
		b.parens--
	}
}

func (b *atomicBody) word(w string) {
	if len(b.words) < 4 {
		b.words = append(b.words, w)
	}
	if b.parens > 0 || !b.definesRoutine() {
		return
	}
	switch {
	case w == "begin", w == "case" && b.depth > 0:
		b.depth++
	case w == "end" && b.depth > 0:
		b.depth--
	}
}

// definesRoutine: the statement is CREATE [OR REPLACE] FUNCTION|PROCEDURE.
func (b *atomicBody) definesRoutine() bool {
	w := b.words
	routine := func(s string) bool { return s == "function" || s == "procedure" }
	return len(w) >= 2 && w[0] == "create" &&
		(routine(w[1]) || len(w) >= 4 && w[1] == "or" && w[2] == "replace" && routine(w[3]))
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// skipQuoted returns the index after the closing quote; a doubled quote is an escaped
// quote, and with escapes a backslash escapes the next byte.
func skipQuoted(s string, i int, q byte, escapes bool) int {
	i++
	for i < len(s) {
		switch {
		case escapes && s[i] == '\\':
			i += 2
		case s[i] == q && i+1 < len(s) && s[i+1] == q:
			i += 2
		case s[i] == q:
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

// dollarTag reads a $tag$ opener at i. `$1` is a parameter, and a `$` inside an
// identifier (foo$bar) is not a tag.
func dollarTag(s string, i int) (string, bool) {
	if i > 0 && isIdent(s[i-1]) {
		return "", false
	}
	j := i + 1
	if j < len(s) && s[j] >= '0' && s[j] <= '9' {
		return "", false
	}
	for j < len(s) && isIdent(s[j]) {
		j++
	}
	if j < len(s) && s[j] == '$' {
		return s[i : j+1], true
	}
	return "", false
}

// stripLeadingComments is a statement without the comments and whitespace before its
// first word.
func stripLeadingComments(p string) string {
	for i := 0; i < len(p); {
		switch {
		case p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r':
			i++
		case strings.HasPrefix(p[i:], "--"):
			for i < len(p) && p[i] != '\n' {
				i++
			}
		case strings.HasPrefix(p[i:], "/*"):
			i = pg.SkipBlockComment(p, i)
		default:
			return p[i:]
		}
	}
	return ""
}

// onlyComments reports whether a piece is nothing but comments and whitespace.
func onlyComments(p string) bool { return stripLeadingComments(p) == "" }
