// Package providertest runs the table tests every secret backend shares: fetch each
// reference from the backend pointed at a fake server, and check the value, the version,
// the request the server saw, or the kind of the failure, whose message must not quote a
// value or a token.
package providertest

import "context"
import "errors"
import "net/http"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"

// Case is one fetch.
type Case struct {
	Ref string
	// Kind is the wanted failure; nil wants a value.
	Kind error
	// Value and Version are the wanted secret ("" Version: not checked).
	Value, Version string
	// ExpiresAt is the wanted issuer expiry (nil: none).
	ExpiresAt *time.Time
	// Request is what the fake server must have seen last ("": not checked).
	Request string
}

// Run fetches every case from p. last reports the fake's last request; leaks are strings
// (values, tokens) no error message may contain.
func Run(t *testing.T, p providers.Provider, cases []Case, last func() string, leaks ...string) {
	t.Helper()
	for _, tc := range cases {
		s, err := p.Fetch(context.Background(), tc.Ref)
		if tc.Kind != nil {
			if !errors.Is(err, tc.Kind) {
				t.Errorf("%q: err = %v, want %v", tc.Ref, err, tc.Kind)
				continue
			}
			for _, l := range leaks {
				if strings.Contains(err.Error(), l) {
					t.Errorf("%q: error %q quotes %q", tc.Ref, err, l)
				}
			}
			continue
		}
		switch {
		case err != nil:
			t.Errorf("%q: %v", tc.Ref, err)
		case s.Value != tc.Value || (tc.Version != "" && s.Version != tc.Version):
			t.Errorf("%q = %q version %q; want %q version %q", tc.Ref, s.Value, s.Version, tc.Value, tc.Version)
		case (s.ExpiresAt == nil) != (tc.ExpiresAt == nil) || (s.ExpiresAt != nil && !s.ExpiresAt.Equal(*tc.ExpiresAt)):
			t.Errorf("%q: expires %v, want %v", tc.Ref, s.ExpiresAt, tc.ExpiresAt)
		case tc.Request != "" && last() != tc.Request:
			t.Errorf("%q: the server saw %q, want %q", tc.Ref, last(), tc.Request)
		}
	}
}

// Requests records what a fake server saw, for Case.Request.
type Requests struct {
	mu   sync.Mutex
	seen []string
}

// Add records one request.
func (r *Requests) Add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, s)
}

// Last is the latest request ("" before any).
func (r *Requests) Last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		return ""
	}
	return r.seen[len(r.seen)-1]
}

// All is every request so far.
func (r *Requests) All() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// Tokens is a fake metadata endpoint's token: the one it hands out, and how often.
type Tokens struct {
	mu     sync.Mutex
	token  string
	issued int
	refuse bool // every token is refused (Refuse)
}

// NewTokens starts with token.
func NewTokens(token string) *Tokens { return &Tokens{token: token} }

// Issue hands out the current token (a metadata request).
func (k *Tokens) Issue() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.issued++
	return k.token
}

// Valid reports whether a Bearer header carries the current token.
func (k *Tokens) Valid(authorization string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.refuse && authorization == "Bearer "+k.token
}

// Issued counts the metadata requests.
func (k *Tokens) Issued() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.issued
}

// ServeGCPMetadata answers a GCP metadata server token request (header
// Metadata-Flavor: Google, else 403) with the current token.
func (k *Tokens) ServeGCPMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata-Flavor") != "Google" {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"access_token":"` + k.Issue() + `","expires_in":3599,"token_type":"Bearer"}`))
}

// Rotate replaces the token: the old one is refused from now on.
func (k *Tokens) Rotate(token string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.token = token
}

// Refuse makes the service refuse every token, fresh ones too (an identity that lost
// its grant to call the service at all).
func (k *Tokens) Refuse() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refuse = true
}

// CheckTokenRefresh checks a backend that fetches a bearer token from a metadata
// endpoint: the token was fetched once for every fetch so far; once the server rotates
// it, the next fetch is refused with the cached token, drops it and reads again once with
// a fresh one, which succeeds. When the service refuses fresh tokens too, a fetch is a
// denial after at most one fresh token: no loop.
func CheckTokenRefresh(t *testing.T, p providers.Provider, ref string, tokens *Tokens) {
	t.Helper()
	fetched := tokens.Issued
	if n := fetched(); n != 1 {
		t.Errorf("token fetched %d times, want 1 (cached)", n)
	}
	tokens.Rotate("rotated-token")
	if _, err := p.Fetch(context.Background(), ref); err != nil {
		t.Errorf("a cached token refused (401) is replaced and the read asked again: %v", err)
	}
	if n := fetched(); n != 2 {
		t.Errorf("token fetched %d times, want 2", n)
	}
	if _, err := p.Fetch(context.Background(), ref); err != nil {
		t.Errorf("with the fresh token cached: %v", err)
	}
	tokens.Refuse()
	for i, want := range []int{3, 4} {
		// First the cached token is refused and one fresh one fetched; that one was dropped
		// too, so the next fetch starts with a fresh token, which is not asked again.
		if _, err := p.Fetch(context.Background(), ref); !errors.Is(err, providers.ErrDenied) {
			t.Errorf("refused fetch %d: err = %v, want ErrDenied", i+1, err)
		}
		if n := fetched(); n != want {
			t.Errorf("refused fetch %d: token fetched %d times in all, want %d", i+1, n, want)
		}
	}
	// The grant is back for the checks that follow; the token is still "rotated-token".
	tokens.mu.Lock()
	tokens.refuse = false
	tokens.mu.Unlock()
}
