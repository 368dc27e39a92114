package tmpl

// Decoders for the tables gen_pyunicode.py writes to pyunicode_tables.go. A table is one
// string of space-separated items, code points in hex; a run of consecutive code points is
// one "lo-hi" item, which keeps the generated file small. They run once, at package init,
// and yield the same structures lookups used before: a unicode.RangeTable and a map.

import "strconv"
import "strings"
import "unicode"

// parseRangeTable decodes "lo-hi" and single "cp" items into a range table.
func parseRangeTable(s string) *unicode.RangeTable {
	t := &unicode.RangeTable{}
	for item := range strings.FieldsSeq(s) {
		lo, hi := parseSpan(item)
		if hi <= unicode.MaxLatin1 {
			t.LatinOffset++
		}
		if hi <= 0xFFFF {
			t.R16 = append(t.R16, unicode.Range16{Lo: uint16(lo), Hi: uint16(hi), Stride: 1})
		} else {
			t.R32 = append(t.R32, unicode.Range32{Lo: uint32(lo), Hi: uint32(hi), Stride: 1})
		}
	}
	return t
}

// parseCaseMap decodes "k=v1,v2,..." items (k maps to the string of those code points)
// and "lo-hi=v" items (lo..hi map in order to the single code points v, v+1, ...).
func parseCaseMap(s string) map[rune]string {
	m := map[rune]string{}
	for item := range strings.FieldsSeq(s) {
		keys, vals, _ := strings.Cut(item, "=")
		lo, hi := parseSpan(keys)
		var to []rune
		for v := range strings.SplitSeq(vals, ",") {
			to = append(to, parseCodePoint(v))
		}
		if lo == hi {
			m[lo] = string(to)
			continue
		}
		for k := lo; k <= hi; k++ {
			m[k] = string(to[0] + k - lo)
		}
	}
	return m
}

// parseSpan decodes "lo-hi" or a single code point "cp" (lo = hi).
func parseSpan(s string) (lo, hi rune) {
	a, b, isRange := strings.Cut(s, "-")
	lo = parseCodePoint(a)
	if !isRange {
		return lo, lo
	}
	return lo, parseCodePoint(b)
}

// parseCodePoint decodes a hex code point; the tables are generated, so a bad one is a bug.
func parseCodePoint(s string) rune {
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil || n > unicode.MaxRune {
		panic("tmpl: bad code point " + strconv.Quote(s) + " in pyunicode_tables.go")
	}
	return rune(n)
}
