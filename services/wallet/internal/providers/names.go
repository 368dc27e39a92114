package providers

import "strings"

// NameRule is a backend's rule for one segment of a reference (a secret name, a vault, a
// namespace): a length in bytes and the characters allowed besides ASCII letters and
// digits. A segment is checked before it goes into a request URL, which keeps a reference
// from steering the request, and the token it carries, to another host or path.
type NameRule struct {
	MinLen, MaxLen int    // MaxLen 0: no upper bound
	LowerOnly      bool   // letters must be lower case
	Extra          string // characters allowed besides letters and digits
	NoDotNames     bool   // "." and ".." are refused: as path segments they move up the URL
}

// Match reports whether s follows the rule.
func (r NameRule) Match(s string) bool {
	if len(s) < r.MinLen || r.MaxLen > 0 && len(s) > r.MaxLen || r.NoDotNames && (s == "." || s == "..") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || !r.LowerOnly && c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(r.Extra, c)) {
			return false
		}
	}
	return true
}
