package credentials

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/noetl/controlplane/services/worker/internal/controlplane"
)

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

// AddCredential records the secret fields of a credential.
func (s *Scrubber) AddCredential(c controlplane.Credential) {
	if strings.EqualFold(c.Type, "keychain") {
		s.addValue(c.Content())
		return
	}
	s.addSecretFields(c.Data)
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
// under one: objects nested in lists ({"accounts": [{"password": …}]}) at any depth.
func (s *Scrubber) addSecretFieldsIn(v any) {
	switch t := v.(type) {
	case map[string]any:
		s.addSecretFields(t)
	case []any:
		for _, e := range t {
			s.addSecretFieldsIn(e)
		}
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

// Add records one secret value.
func (s *Scrubber) Add(secret string) {
	if len(secret) < minSecretLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.secrets {
		if x == secret {
			return
		}
	}
	s.secrets = append(s.secrets, secret)
	sort.Slice(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
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
