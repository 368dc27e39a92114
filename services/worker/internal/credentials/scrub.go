package credentials

import "bytes"
import "encoding/base64"
import "encoding/json"
import "fmt"
import "net/url"
import "slices"
import "sort"
import "strconv"
import "strings"
import "sync"
import "unicode/utf16"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"

// Redacted replaces a secret value.
const Redacted = "[REDACTED]"

// minSecretLen: shorter values are not scrubbed (replacing "1" everywhere helps no one).
const minSecretLen = 4

// Scrubber replaces the secret values a command's credentials carried in anything the
// worker sends or logs. A tool may echo a value it was given (a python step printing a
// token, an http body reflecting a header); this keeps it out of events all the same.
type Scrubber struct {
	mu      sync.Mutex
	secrets []string // longest first, so a secret that contains another goes first
}

// NewScrubber returns an empty scrubber.
func NewScrubber() *Scrubber { return &Scrubber{} }

// secretKey reports whether a credential field holds a secret by its name: passwords,
// tokens, keys, secrets, cookies, sessions. Hosts, users and database names do not, and
// scrubbing them would mangle ordinary results.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"pass", "pwd", "secret", "token", "key", "private", "cred", "cookie", "session", "auth", "signature"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// publicKeychainField names the fields of a keychain entry that are not secrets: where a
// service is and who connects to it. A keychain entry has no type to say which of its
// fields are secret, so every other field is one (an unknown name may hold anything);
// these are left out because scrubbing them would mangle ordinary results: an entry
// holding {host, port, user, password} made every "localhost", "5432" and "postgres" in
// a step's output "[REDACTED]", current_user included.
func publicKeychainField(k string) bool {
	switch strings.ToLower(k) {
	case "host", "hostname", "port", "user", "username", "user_name", "database", "dbname", "db",
		"db_host", "db_port", "db_user", "db_username", "db_name", "schema", "region", "sslmode",
		"header", "token_type", "expires_in", "expires_at", "scope":
		return true
	}
	return false
}

// AddCredential records the secret fields of a credential: for a typed credential the
// secret-named ones (secretKey), for a keychain entry all of it but its public fields
// (AddTemplateValue).
func (s *Scrubber) AddCredential(c controlplane.Credential) {
	if strings.EqualFold(c.Type, "keychain") {
		s.AddTemplateValue(c.Content())
		return
	}
	s.addSecretFields(c.Data)
}

// AddTemplateValue records what a template can read of a credential (`keychain.<alias>`):
// a value without a map is a secret; in a map, every field but the public ones
// (publicKeychainField), since a template may put any field anywhere and an unknown name
// ("value", "bearer") may hold the secret.
func (s *Scrubber) AddTemplateValue(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		s.addValue(v)
		return
	}
	for k, fv := range m {
		if publicKeychainField(k) {
			s.addSecretFieldsIn(fv) // a DSN or a nested secret-named field is still one
			continue
		}
		s.addValue(fv)
	}
}

// addSecretFields records what secret-named fields hold, at any depth.
func (s *Scrubber) addSecretFields(m map[string]any) {
	for k, v := range m {
		switch {
		case secretKey(k):
			s.addValue(v)
		default:
			s.addSecretFieldsIn(v)
		}
	}
}

// addSecretFieldsIn looks for secret-named fields inside a value that is not itself
// under one: objects nested in lists ({"accounts": [{"password": …}]}) at any depth, and
// connection strings.
func (s *Scrubber) addSecretFieldsIn(v any) {
	switch t := v.(type) {
	case map[string]any:
		s.addSecretFields(t)
	case []any:
		for _, e := range t {
			s.addSecretFieldsIn(e)
		}
	case string:
		// connection_string, dsn, url: not secret by name, yet a password inside.
		s.addDSN(t)
	}
}

// AddData records every string in data as a secret.
func (s *Scrubber) AddData(data map[string]any) {
	for _, v := range data {
		s.addValue(v)
	}
}

func (s *Scrubber) addValue(v any) {
	switch t := v.(type) {
	case string:
		s.Add(t)
		s.addDSN(t)
	case map[string]any:
		s.AddData(t)
	case []any:
		for _, e := range t {
			s.addValue(e)
		}
	default:
		// A numeric secret (a PIN, an account number) reaches output as its digits.
		if text, ok := numberText(v); ok {
			s.Add(text)
		}
	}
}

// numberText is the decimal text of a JSON number as the worker's value model holds it
// (int64 or float64, or json.Number before normalisation).
func numberText(v any) (string, bool) {
	switch t := v.(type) {
	case int64:
		return strconv.FormatInt(t, 10), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case json.Number:
		return t.String(), true
	}
	return "", false
}

// addDSN records a PostgreSQL connection string's secrets (see DSNSecrets).
func (s *Scrubber) addDSN(v string) {
	for _, x := range DSNSecrets(v) {
		s.Add(x)
	}
}

// isDSN reports whether v is a PostgreSQL connection string: a postgres:// or
// postgresql:// URL, or key=value settings naming a password.
func isDSN(v string) bool {
	v = strings.TrimSpace(v)
	lower := strings.ToLower(v)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return true
	}
	_, ok := kvPassword(v)
	return ok
}

// DSNSecrets is what a PostgreSQL connection string hides: the string itself and its
// password, as written and decoded (a URL's percent-escapes, a key=value quoted value's
// backslashes), since an error may quote either. Nil when v is not a connection string.
func DSNSecrets(v string) []string {
	if !isDSN(v) {
		return nil
	}
	out := []string{v}
	add := func(written, decoded string) {
		if written != "" {
			out = append(out, written)
		}
		if decoded != written && decoded != "" {
			out = append(out, decoded)
		}
	}
	if pw, ok := kvPassword(v); ok {
		add(pw, strings.NewReplacer(`\\`, `\`, `\'`, "'").Replace(pw))
		return out
	}
	rest := v[strings.Index(v, "://")+3:]
	if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
			decoded, err := url.PathUnescape(pw)
			if err != nil {
				decoded = pw
			}
			add(pw, decoded)
		}
	}
	// A password may also ride in the query (?password=...).
	if _, q, ok := strings.Cut(v, "?"); ok {
		if vals, err := url.ParseQuery(q); err == nil {
			for _, pw := range vals["password"] {
				add(pw, pw)
			}
		}
		for _, kv := range strings.Split(q, "&") {
			if k, pw, ok := strings.Cut(kv, "="); ok && k == "password" {
				add(pw, pw)
			}
		}
	}
	return out
}

// kvPassword finds password=<value> in key=value settings, the value bare or in single
// quotes (with backslash escapes), as libpq reads it. The value is returned as written
// (without its quotes).
func kvPassword(v string) (string, bool) {
	for i := 0; i < len(v); {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n') {
			i++
		}
		j := i
		for j < len(v) && v[j] != '=' && v[j] != ' ' {
			j++
		}
		if j >= len(v) || v[j] != '=' {
			return "", false // not key=value settings
		}
		key := v[i:j]
		j++
		start := j
		var val string
		if j < len(v) && v[j] == '\'' {
			j++
			start = j
			for j < len(v) && v[j] != '\'' {
				if v[j] == '\\' {
					j++
				}
				j++
			}
			val = v[start:min(j, len(v))]
			j++
		} else {
			for j < len(v) && v[j] != ' ' {
				j++
			}
			val = v[start:j]
		}
		if key == "password" {
			return val, true
		}
		i = j
	}
	return "", false
}

// Add records one secret value and the forms it takes on its way out (encodedForms).
func (s *Scrubber) Add(secret string) {
	if len(secret) < minSecretLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, form := range append([]string{secret}, encodedForms(secret)...) {
		if !slices.Contains(s.secrets, form) {
			s.secrets = append(s.secrets, form)
		}
	}
	sort.Slice(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
}

// encodedForms are the texts a secret becomes when a tool passes it on without the
// playbook asking for it: percent-encoded in a query or a path (an http step's params, a
// redirect to a URL carrying it, which Go's client quotes in its error, a server echoing
// the query back), base64 in either alphabet, padded or not (a header or a body carrying
// it encoded), and escaped inside a JSON or quoted string (a server echoing the JSON body
// it was sent, a Python dict or a Go %q in printed output or an error). The scrubber knew
// only the value as written, so a token holding a '+', '/' or '=', or a password holding
// '"' or '\', reached the event log in its encoded form.
func encodedForms(secret string) []string {
	b := []byte(secret)
	query := url.QueryEscape(secret)
	forms := []string{
		query,
		strings.ReplaceAll(query, "+", "%20"),
		url.PathEscape(secret),
		base64.StdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
	}
	forms = append(forms, quotedForms(secret)...)
	out := forms[:0]
	for _, f := range forms {
		if f != secret && len(f) >= minSecretLen && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// quotedForms are the secret inside a quoted string, without the quotes: JSON as most
// encoders write it (JSON.stringify, json.dumps(ensure_ascii=False)), as Go's encoder
// writes it (<, > and & as \u003c...), with every non-ASCII character as \uXXXX
// (Python's json.dumps), as Go's %q and strconv.Quote write it, and with only its
// backslashes doubled (Python's repr, which quotes with ' when the text holds ").
func quotedForms(secret string) []string {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(secret)
	plain := strings.TrimSuffix(buf.String(), "\n")
	html, _ := json.Marshal(secret)
	var ascii strings.Builder
	for _, r := range plain {
		switch {
		case r < 0x80:
			ascii.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&ascii, "\\u%04x\\u%04x", r1, r2)
		default:
			fmt.Fprintf(&ascii, "\\u%04x", r)
		}
	}
	out := []string{strings.ReplaceAll(secret, `\`, `\\`)}
	for _, q := range []string{plain, string(html), ascii.String(), strconv.Quote(secret)} {
		if len(q) >= 2 {
			out = append(out, q[1:len(q)-1])
		}
	}
	return out
}

// Empty reports whether nothing is to be scrubbed.
func (s *Scrubber) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.secrets) == 0
}

// String scrubs one string.
func (s *Scrubber) String(v string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.secrets {
		if strings.Contains(v, x) {
			v = strings.ReplaceAll(v, x, Redacted)
		}
	}
	return v
}

// Holds reports whether v holds a secret anywhere, in a string or a map key, as written
// or in one of its encoded forms.
func (s *Scrubber) Holds(v any) bool {
	switch t := v.(type) {
	case string:
		return s.String(t) != t
	case []any:
		return slices.ContainsFunc(t, s.Holds)
	case map[string]any:
		for k, e := range t {
			if s.Holds(k) || s.Holds(e) {
				return true
			}
		}
		return false
	}
	if text, ok := numberText(v); ok {
		return s.String(text) != text
	}
	return false
}

// Value returns v with every string (and map key) scrubbed. Values without a secret are
// returned as they are; the input is never modified.
func (s *Scrubber) Value(v any) any {
	if s.Empty() {
		return v
	}
	return s.value(v)
}

func (s *Scrubber) value(v any) any {
	switch t := v.(type) {
	case string:
		return s.String(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = s.value(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[s.String(k)] = s.value(e)
		}
		if raw, ok := base64Data(t); ok {
			s.scrubBytes(out, raw)
		}
		return out
	}
	// A number that holds a numeric secret becomes its scrubbed text.
	if text, ok := numberText(v); ok {
		if scrubbed := s.String(text); scrubbed != text {
			return scrubbed
		}
	}
	return v
}

// base64Data is the bytes of a {base64, size} value (tool.Base64: an http body, shell or
// python output that is not UTF-8), which scrubbing its text would never find a secret
// in.
func base64Data(m map[string]any) ([]byte, bool) {
	text, ok := m["base64"].(string)
	if _, sized := m["size"]; !ok || !sized {
		return nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(text)
	return raw, err == nil
}

// scrubBytes replaces the secrets in raw and, when there was one, sets out's base64 and
// size to the scrubbed bytes.
func (s *Scrubber) scrubBytes(out map[string]any, raw []byte) {
	s.mu.Lock()
	scrubbed := raw
	for _, x := range s.secrets {
		if bytes.Contains(scrubbed, []byte(x)) {
			scrubbed = bytes.ReplaceAll(scrubbed, []byte(x), []byte(Redacted))
		}
	}
	s.mu.Unlock()
	if len(scrubbed) != len(raw) || !bytes.Equal(scrubbed, raw) {
		out["base64"] = base64.StdEncoding.EncodeToString(scrubbed)
		out["size"] = int64(len(scrubbed))
	}
}
