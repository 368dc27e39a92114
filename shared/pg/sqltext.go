package pg

import "strings"

// SkipBlockComment returns the index just past the block comment that opens at s[i]
// ("/*"). PostgreSQL nests block comments, so it counts their depth; an unclosed
// comment runs to the end of s.
func SkipBlockComment(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(s[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return len(s)
}
