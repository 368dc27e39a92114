// Package redact removes secrets from what a worker supplies before the api stores it:
// events (POST /api/events, /batch, the projector) and the results workers offload to
// the result store (PUT /api/result/{execution_id}). One set of rules for both, so a
// result is redacted alike whether it came inline in an event or through the store.
package redact

import "regexp"
import "strings"
import "unicode"

// Redaction of worker-supplied content before insert (docs/security.md, "Redaction of
// worker content").
//
// Keys are matched on whole name segments, so `api_key`, `client-secret`, `accessToken`
// and `authorization` are redacted while `author`, `tokens_used`, `credential_id` and a
// bare `auth` (which holds a credential alias) are not. A segment also matches when a
// secret word ends it (`PGPASSWORD`, `csrftoken`) or is its plural (`secrets`,
// `db_passwords`, `apiKeys`, `cookies`), and `{name: "DB_PASSWORD", value: ...}` pairs
// have their value redacted.
//
// Values are redacted by shape: a whole value that is a bearer/basic credential, a JWT or
// a PEM private key becomes [REDACTED]; inside longer text, an `Authorization: Bearer`
// credential, a JWT anywhere, the password of a URL's userinfo, the value of a
// secret-named parameter (`access_token=`, `client_secret=`, `password=`) and tokens with
// well-known prefixes (`ghp_`, `xox?-`, `AKIA`, `sk-`) are replaced in place, so the rest
// of the text stays readable. Upstream's "any 40+ character base64-looking string" rule
// is not copied: it destroyed hashes and ids.

// Redacted replaces a secret value.
const Redacted = "[REDACTED]"

// sensitiveSegments are single name segments that mark a secret.
var sensitiveSegments = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "secret": true, "token": true, "bearer": true,
	"authorization": true, "passphrase": true, "apikey": true, "privatekey": true, "secretkey": true,
	"connectionstring": true, "cookie": true, "dsn": true, "credentials": true, "sessionid": true,
}

// secretSuffixes mark a segment that ends in a secret word: PGPASSWORD, csrftoken,
// dbsecret. Short or ambiguous words (pwd, dsn, key) are left out.
var secretSuffixes = []string{"password", "passwd", "secret", "token", "cookie", "passphrase", "apikey", "privatekey", "secretkey", "credentials", "sessionid"}

// pluralSecrets may carry a plural s. "tokens" may not: tokens_used, max_tokens and
// total_tokens count tokens, they do not hold one.
var pluralSecrets = map[string]bool{
	"passwords": true, "passwds": true, "secrets": true, "cookies": true, "passphrases": true,
	"apikeys": true, "privatekeys": true, "secretkeys": true, "sessionids": true,
}

// sensitivePairs are two consecutive segments that mark a secret; the second may be
// plural (apiKeys, private_keys).
var sensitivePairs = map[[2]string]bool{
	{"api", "key"}: true, {"private", "key"}: true, {"secret", "key"}: true, {"access", "key"}: true,
	{"connection", "string"}: true, {"session", "key"}: true, {"signing", "key"}: true,
	{"encryption", "key"}: true, {"master", "key"}: true, {"ssh", "key"}: true, {"client", "key"}: true,
	{"session", "id"}: true,
}

// segments splits a key into lower-case name segments at '_', '-', '.', ' ', '/' and
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
		if sensitiveSegments[s] || pluralSecrets[s] {
			return true
		}
		for _, suf := range secretSuffixes {
			if len(s) > len(suf) && strings.HasSuffix(s, suf) {
				return true
			}
		}
		if i+1 < len(segs) {
			next := segs[i+1]
			if sensitivePairs[[2]string{s, next}] || (len(next) > 1 && strings.HasSuffix(next, "s") && sensitivePairs[[2]string{s, next[:len(next)-1]}]) {
				return true
			}
		}
	}
	return false
}

var jwtShape = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// SensitiveValue reports whether a whole string is a credential by its shape.
func SensitiveValue(s string) bool {
	t := strings.TrimSpace(s)
	lower := strings.ToLower(t)
	for _, scheme := range []string{"bearer ", "basic "} {
		if strings.HasPrefix(lower, scheme) {
			// One credential after the scheme; "Basic auth failed" is prose.
			rest := strings.TrimSpace(t[len(scheme):])
			return rest != "" && !strings.ContainsAny(rest, " \t\r\n")
		}
	}
	if len(t) > 50 && jwtShape.MatchString(t) {
		return true
	}
	return strings.Contains(t, "-----BEGIN") && strings.Contains(t, "PRIVATE KEY-----")
}

// Shapes of secrets embedded in longer text. Each is only tried when a cheap test finds
// its marker in the string, so ordinary text costs a few substring searches.
var (
	// An HTTP authorization credential: "Bearer <token>", "Basic <base64>".
	embeddedScheme = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]{8,}=*`)
	// A JWT anywhere (three base64url parts, the first a JSON header).
	embeddedJWT = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)
	// The password of a URL's userinfo: scheme://user:<password>@host.
	userinfoPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)`)
	// name=value in a query string, a libpq DSN or a form body.
	namedValue = regexp.MustCompile(`(^|[\s?&;,"'])([A-Za-z][A-Za-z0-9_.\-]*)=([^&\s#;,"']+)`)
	// "name": "value" of a JSON document or a Python dict quoted in text (an error that
	// quotes a token endpoint's answer, a printed header dict), its quotes single or
	// double and escaped or not (JSON text inside a JSON string). The value ends at the
	// first quote or backslash.
	quotedPair = regexp.MustCompile(`(\\?["'])([A-Za-z][A-Za-z0-9_.\-]*)(\\?["']\s*:\s*\\?["'])([^"'\\]+)`)
	// Tokens whose prefix names their issuer: GitHub, Slack, AWS access keys, OpenAI-style.
	prefixedToken = regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,})`)
)

// redactText returns s with every secret it holds replaced.
func redactText(s string) string {
	if len(s) < 8 {
		return s
	}
	if SensitiveValue(s) {
		return Redacted
	}
	if containsFold(s, "bearer") || containsFold(s, "basic") {
		s = embeddedScheme.ReplaceAllString(s, "${1}${2}"+Redacted)
	}
	if strings.Contains(s, "eyJ") {
		s = embeddedJWT.ReplaceAllString(s, Redacted)
	}
	if strings.Contains(s, "://") {
		s = userinfoPassword.ReplaceAllString(s, "${1}"+Redacted+"${3}")
	}
	if strings.IndexByte(s, '=') > 0 {
		s = namedValue.ReplaceAllStringFunc(s, func(m string) string {
			sub := namedValue.FindStringSubmatch(m)
			if !SensitiveKey(sub[2]) || sub[3] == Redacted {
				return m
			}
			return sub[1] + sub[2] + "=" + Redacted
		})
	}
	if strings.IndexByte(s, ':') > 0 && strings.ContainsAny(s, `"'`) {
		s = quotedPair.ReplaceAllStringFunc(s, func(m string) string {
			sub := quotedPair.FindStringSubmatch(m)
			if !SensitiveKey(sub[2]) || sub[4] == Redacted {
				return m
			}
			return sub[1] + sub[2] + sub[3] + Redacted
		})
	}
	if hasTokenPrefix(s) {
		s = prefixedToken.ReplaceAllString(s, Redacted)
	}
	return s
}

var tokenPrefixes = []string{"gh", "xox", "AKIA", "ASIA", "sk-"}

// hasTokenPrefix is the cheap test before prefixedToken: "gh" only counts when followed
// by one of GitHub's prefix letters and an underscore, as in ghp_ (or github_pat_).
func hasTokenPrefix(s string) bool {
	for _, p := range tokenPrefixes {
		for i := strings.Index(s, p); i >= 0; {
			if p != "gh" || (i+3 < len(s) && (s[i+3] == '_' || strings.HasPrefix(s[i:], "github_pat_"))) {
				return true
			}
			j := strings.Index(s[i+1:], p)
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII word, in any case,
// without allocating.
func containsFold(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		j := 0
		for ; j < len(word); j++ {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != word[j] {
				break
			}
		}
		if j == len(word) {
			return true
		}
	}
	return false
}

// Value returns a copy of v with secret-looking keys and values replaced.
func Value(v any) any { return redact(v, 0) }

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
		if namedSecret(t) {
			out["value"] = Redacted
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redact(e, depth+1)
		}
		return out
	case string:
		return redactText(t)
	}
	return v
}

// namedSecret reports a {name: "DB_PASSWORD", value: ...} pair (Kubernetes env entries,
// tag lists, form fields): the secret's name is a value, not a key.
func namedSecret(m map[string]any) bool {
	if v, ok := m["value"]; !ok || v == nil {
		return false
	}
	for _, k := range []string{"name", "key", "Name", "Key"} {
		if n, ok := m[k].(string); ok && SensitiveKey(n) {
			return true
		}
	}
	return false
}

// String is s with every secret it holds replaced, by the value rules: what a log line
// quotes (a step's error) goes through the same rules as what an event stores.
func String(s string) string { return redactText(s) }

// Text redacts one string field (an error message, a stack trace) by the value
// rules; nil stays nil.
func Text(s *string) *string {
	if s == nil {
		return nil
	}
	r := redactText(*s)
	return &r
}
