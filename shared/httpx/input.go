package httpx

import "bytes"
import "fmt"
import "net/http"
import "net/url"
import "strings"
import "unicode/utf8"

// Input rules applied at the edge, before a handler sees a request (docs/security.md):
// text that PostgreSQL cannot store or compare fails there, as a 4xx, instead of as a 500
// from the database after part of the work is done. PostgreSQL text and jsonb hold
// neither invalid UTF-8 nor NUL, and jsonb refuses \u0000 and unpaired UTF-16 surrogate
// escapes.

// MaxPathBytes bounds a decoded request path. Path segments become names the services
// look up and store (credential aliases, keychain and variable names, in audit rows and
// cache keys too), and PostgreSQL refuses index entries above about 2.7 KB.
const MaxPathBytes = 2048

// CheckURL rejects a request path or query string that is not valid UTF-8 once
// percent-decoded, or that holds NUL (400), and a path longer than MaxPathBytes (414).
func CheckURL(u *url.URL) error {
	if !cleanText(u.Path) {
		return BadRequest("the request path must be valid UTF-8 without NUL characters")
	}
	if len(u.Path) > MaxPathBytes {
		return WithStatus(http.StatusRequestURITooLong, fmt.Sprintf("the request path is longer than %d bytes", MaxPathBytes), nil)
	}
	if u.RawQuery == "" {
		return nil
	}
	// Only what parses is checked: gin skips a malformed pair as well, so nothing that
	// fails to parse reaches a handler.
	q, _ := url.ParseQuery(u.RawQuery)
	for k, vs := range q {
		if !cleanText(k) {
			return BadRequest("query parameter names must be valid UTF-8 without NUL characters")
		}
		for _, v := range vs {
			if !cleanText(v) {
				return BadRequest("query parameter %q must be valid UTF-8 without NUL characters", k)
			}
		}
	}
	return nil
}

func cleanText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// CheckJSONText rejects a JSON body that is not UTF-8 (400: RFC 8259 requires it, and
// raw bytes would otherwise reach storage and come back as invalid JSON), or whose
// strings escape NUL (\u0000) or an unpaired surrogate (422: well-formed JSON, but not
// text PostgreSQL stores; Go would silently turn a lone surrogate into U+FFFD).
func CheckJSONText(body []byte) error {
	if !utf8.Valid(body) {
		return BadRequest("request body is not valid UTF-8")
	}
	for i := bytes.IndexByte(body, '\\'); i >= 0 && i+1 < len(body); {
		next := 2 // a two-character escape, \" \\ \n ...
		if body[i+1] == 'u' {
			r, ok := hex4(body, i+2)
			switch {
			case !ok: // malformed; the decoder reports it
			case r == 0:
				return Validation(`JSON strings must not contain \u0000 (NUL): it cannot be stored`)
			case r >= 0xD800 && r <= 0xDBFF:
				low, ok := rune(0), false
				if i+11 < len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
					low, ok = hex4(body, i+8)
				}
				if !ok || low < 0xDC00 || low > 0xDFFF {
					return Validation(`JSON strings must not contain an unpaired UTF-16 surrogate escape (\u%04x)`, r)
				}
				next = 12
			case r >= 0xDC00 && r <= 0xDFFF:
				return Validation(`JSON strings must not contain an unpaired UTF-16 surrogate escape (\u%04x)`, r)
			default:
				next = 6
			}
		}
		j := bytes.IndexByte(body[min(i+next, len(body)):], '\\')
		if j < 0 {
			break
		}
		i = min(i+next, len(body)) + j
	}
	return nil
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
