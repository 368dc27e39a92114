package tmpl

// wordwrap: Jinja2's filter, which is Python's textwrap.wrap applied to each line.

import "fmt"
import "strings"
import "unicode"

// fWordwrap is Jinja2's wordwrap(width=79, break_long_words=True, wrapstring=None,
// break_on_hyphens=True): each line of the text (Python's str.splitlines) wrapped on
// its own by textwrap.wrap (tabs kept, whitespace inside a line kept, whitespace at a
// line break dropped), the lines joined by wrapstring, a newline by default.
func fWordwrap(_ *env, v any, args []any, kw map[string]any) (any, error) {
	width, ok := arg(args, kw, 0, "width", int64(79)).(int64)
	if !ok {
		return nil, fmt.Errorf("wordwrap width must be an integer")
	}
	breakLong := truthy(arg(args, kw, 1, "break_long_words", true))
	sep := "\n"
	if w := arg(args, kw, 2, "wrapstring", nil); !isNullish(w) {
		sep = toText(w)
	}
	onHyphens := truthy(arg(args, kw, 3, "break_on_hyphens", true))
	paras := splitLines(toText(v))
	if len(paras) > 0 && width <= 0 {
		return nil, fmt.Errorf("invalid width %d (must be > 0)", width)
	}
	out := make([]string, len(paras))
	size := 0
	for i, p := range paras {
		out[i] = strings.Join(wrapText([]rune(p), int(min(width, maxOutput)), breakLong, onHyphens), sep)
		if size += len(out[i]) + len(sep); size > maxOutput {
			return nil, fmt.Errorf("output too large")
		}
	}
	return strings.Join(out, sep), nil
}

// splitLines is Python's str.splitlines: lines end at \n, \r\n, \r, \v, \f, \x1c-\x1e,
// \x85, U+2028 or U+2029, and a final line break does not start another line.
func splitLines(s string) []string {
	var out []string
	start := 0
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			out = append(out, string(rs[start:i]))
			if rs[i] == '\r' && i+1 < len(rs) && rs[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(rs) {
		out = append(out, string(rs[start:]))
	}
	return out
}

// wrapText is textwrap.wrap(text, width, expand_tabs=False, replace_whitespace=False,
// break_long_words, break_on_hyphens): the text cut into chunks (wrapChunks), laid
// greedily into lines of at most width characters; whitespace chunks at the start of a
// line after the first and at the end of every line are dropped.
func wrapText(text []rune, width int, breakLong, onHyphens bool) []string {
	chunks := wrapChunks(text, onHyphens)
	var lines []string
	for len(chunks) > 0 {
		if len(lines) > 0 && isBlankChunk(chunks[0]) {
			chunks = chunks[1:]
		}
		var line [][]rune
		n := 0
		for len(chunks) > 0 && n+len(chunks[0]) <= width {
			line = append(line, chunks[0])
			n += len(chunks[0])
			chunks = chunks[1:]
		}
		if len(chunks) > 0 && len(chunks[0]) > width {
			// textwrap's _handle_long_word: cut the chunk to fill the line (at its last
			// hyphen that fits, when breaking on hyphens), or put it alone on a line.
			c := chunks[0]
			if breakLong {
				end := width - n
				if onHyphens && len(c) > end {
					if h := lastIndexRune(c[:end], '-'); h > 0 && strings.Trim(string(c[:h]), "-") != "" {
						end = h + 1
					}
				}
				line = append(line, c[:end])
				chunks[0] = c[end:]
			} else if len(line) == 0 {
				line = append(line, c)
				chunks = chunks[1:]
			}
		}
		if len(line) > 0 && isBlankChunk(line[len(line)-1]) {
			line = line[:len(line)-1]
		}
		if len(line) > 0 {
			var b strings.Builder
			for _, c := range line {
				b.WriteString(string(c))
			}
			lines = append(lines, b.String())
		}
	}
	return lines
}

// isBlankChunk is textwrap's chunk.strip() == "". It stops at the first other character:
// a long word is tested once per line it is cut into.
func isBlankChunk(c []rune) bool {
	for _, r := range c {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func lastIndexRune(rs []rune, r rune) int {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] == r {
			return i
		}
	}
	return -1
}

// textwrap splits only at ASCII whitespace.
func isWrapSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
}

// isWordRune is Python's \w, isLetterRune its [^\d\W].
func isWordRune(r rune) bool   { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }
func isLetterRune(r rune) bool { return isWordRune(r) && !unicode.IsDigit(r) }

// isWordPunct is textwrap's word_punct, [\w!"'&.,?].
func isWordPunct(r rune) bool { return isWordRune(r) || strings.ContainsRune(`!"'&.,?`, r) }

// wrapChunks is textwrap's _split_chunks: runs of whitespace and words. Breaking on
// hyphens, a word is cut after a hyphen between letters (its wordsep_re: "-" preceded
// by two letters, or by letter-hyphen-letter, and followed by a letter, an optional
// hyphen and a letter), and around an em-dash ("--" or longer) between words. Without
// it, words are whole runs of non-whitespace.
func wrapChunks(t []rune, onHyphens bool) [][]rune {
	var out [][]rune
	at := func(i int) rune {
		if i < 0 || i >= len(t) {
			return -1
		}
		return t[i]
	}
	// dashes reports whether t[i:] starts with two or more hyphens and a word character.
	dashes := func(i int) bool {
		j := i
		for j < len(t) && t[j] == '-' {
			j++
		}
		return j-i >= 2 && j < len(t) && isWordRune(t[j])
	}
	for p := 0; p < len(t); {
		if isWrapSpace(t[p]) {
			q := p
			for q < len(t) && isWrapSpace(t[q]) {
				q++
			}
			out = append(out, t[p:q])
			p = q
			continue
		}
		if !onHyphens {
			q := p
			for q < len(t) && !isWrapSpace(t[q]) {
				q++
			}
			out = append(out, t[p:q])
			p = q
			continue
		}
		if p > 0 && isWordPunct(t[p-1]) && dashes(p) {
			q := p
			for t[q] == '-' {
				q++
			}
			out = append(out, t[p:q])
			p = q
			continue
		}
		// The shortest run of non-whitespace followed by a hyphen to break after, the
		// end of the word, or an em-dash.
		end := len(t)
		for q := p + 1; q <= len(t); q++ {
			if q == len(t) || isWrapSpace(t[q]) {
				end = q
				break
			}
			if t[q] == '-' && isLetterRune(at(q+1)) &&
				(isLetterRune(at(q+2)) || at(q+2) == '-' && isLetterRune(at(q+3))) &&
				(isLetterRune(at(q-1)) && isLetterRune(at(q-2)) ||
					isLetterRune(at(q-1)) && at(q-2) == '-' && isLetterRune(at(q-3))) {
				end = q + 1
				break
			}
			if isWordPunct(t[q-1]) && dashes(q) {
				end = q
				break
			}
		}
		out = append(out, t[p:end])
		p = end
	}
	return out
}
