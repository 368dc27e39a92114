package events

import (
	"regexp"
	"strings"
	"unicode"
)

// Redaction of worker-posted events before insert (decisions §5). Keys are matched on
// whole name segments, so `api_key`, `client-secret`, `accessToken` and `authorization`
// are redacted while `author`, `tokens_used`, `credential_id` and a bare `auth` (which
// holds a credential alias) are not. Values are redacted by shape: bearer/basic
// credentials, JWTs and PEM private keys. Upstream's "any 40+ character base64-looking
// string" rule is not copied: it destroyed hashes and ids.

// Redacted replaces a secret value.
const Redacted = "[REDACTED]"

// sensitiveSegments are single name segments that mark a secret.
var sensitiveSegments = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "secret": true, "token": true, "bearer": true,
	"authorization": true, "passphrase": true, "apikey": true, "privatekey": true, "secretkey": true,
	"connectionstring": true, "cookie": true, "dsn": true,
}

// sensitivePairs are two consecutive segments that mark a secret.
var sensitivePairs = map[[2]string]bool{
	{"api", "key"}: true, {"private", "key"}: true, {"secret", "key"}: true, {"access", "key"}: true,
	{"connection", "string"}: true, {"session", "key"}: true, {"signing", "key"}: true,
	{"encryption", "key"}: true, {"master", "key"}: true, {"ssh", "key"}: true, {"client", "key"}: true,
}

// segments splits a key into lower-case name segments at '_', '-', '.', ' ' and
// camelCase boundaries: "accessToken" → [access token], "X-API-Key" → [x api key].
func segments(key string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, strings.ToLower(cur.String()))
			cur.Reset()
		}
	}
	runes := []rune(key)
	for i, r := range runes {
		switch {
		case r == '_' || r == '-' || r == '.' || r == ' ' || r == '/':
			flush()
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(runes[i-1]) ||
			(i+1 < len(runes) && unicode.IsLower(runes[i+1]) && unicode.IsUpper(runes[i-1]))):
			flush()
			cur.WriteRune(r)
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

// SensitiveKey reports whether a key names a secret.
func SensitiveKey(key string) bool {
	segs := segments(key)
	for i, s := range segs {
		if sensitiveSegments[s] {
			return true
		}
		if i+1 < len(segs) && sensitivePairs[[2]string{s, segs[i+1]}] {
			return true
		}
	}
	return false
}

var jwtShape = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// SensitiveValue reports whether a string looks like a credential by its shape.
func SensitiveValue(s string) bool {
	t := strings.TrimSpace(s)
	lower := strings.ToLower(t)
	if strings.HasPrefix(lower, "bearer ") || strings.HasPrefix(lower, "basic ") {
		return len(t) > 7
	}
	if len(t) > 50 && jwtShape.MatchString(t) {
		return true
	}
	return strings.Contains(t, "-----BEGIN") && strings.Contains(t, "PRIVATE KEY-----")
}

// Redact returns a copy of v with secret-looking keys and values replaced.
func Redact(v any) any { return redact(v, 0) }

func redact(v any, depth int) any {
	if depth > 64 {
		return Redacted // deeper than any real event; refuse to keep what was not inspected
	}
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if SensitiveKey(k) && e != nil {
				out[k] = Redacted
				continue
			}
			out[k] = redact(e, depth+1)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redact(e, depth+1)
		}
		return out
	case string:
		if SensitiveValue(t) {
			return Redacted
		}
	}
	return v
}
