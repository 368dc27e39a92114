package azure

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noetl/controlplane/services/wallet/internal/providers"
)

// fakeAzure is IMDS's token endpoint and Key Vault's GetSecret
// (GET /secrets/<name>[/<version>]?api-version=7.4, bearer token, SecretBundle JSON).
type fakeAzure struct {
	mu     sync.Mutex
	token  string
	tokens int
	seen   []string
	exp    int64
}

func (f *fakeAzure) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/metadata/identity/oauth2/token" {
		if r.Header.Get("Metadata") != "true" || r.URL.Query().Get("resource") != "https://vault.azure.net" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.tokens++
		_, _ = w.Write([]byte(`{"access_token":"` + f.token + `","expires_in":"3599","token_type":"Bearer"}`))
		return
	}
	f.seen = append(f.seen, r.URL.RequestURI())
	if r.URL.Query().Get("api-version") != "7.4" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":"BadParameter","message":"api-version missing"}}`))
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"Unauthorized","message":"AKV10022: Invalid audience."}}`))
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/secrets/"), "/")
	name, version := parts[0], "0a1b2c3d"
	if len(parts) == 2 {
		version = parts[1]
	}
	bundle := map[string]any{"id": "https://prod-eu.vault.azure.net/secrets/" + name + "/" + version,
		"attributes": map[string]any{"enabled": true, "created": 1700000000, "updated": 1700000000}}
	switch name {
	case "db-password":
		bundle["value"] = "AZ-VALUE-" + version
	case "short-lived":
		bundle["value"] = "AZ-VALUE-short"
		bundle["attributes"].(map[string]any)["exp"] = f.exp
	case "forbidden":
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"Forbidden","message":"The user does not have secrets get permission on key vault","innererror":{"code":"AccessDenied"}}}`))
		return
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"SecretNotFound","message":"A secret with (name/id) ` + name + ` was not found in this key vault."}}`))
		return
	}
	_ = json.NewEncoder(w).Encode(bundle)
}

func TestFetch(t *testing.T) {
	t.Parallel()
	f := &fakeAzure{token: "aad.kv-token", exp: 1_900_000_000}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := New(Config{Vault: srv.URL, IMDSTokenURL: srv.URL + "/metadata/identity/oauth2/token"}, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref, value, version, uri string
		kind                     error
	}{
		{ref: "db-password", value: "AZ-VALUE-0a1b2c3d", version: "0a1b2c3d", uri: "/secrets/db-password?api-version=7.4"},
		{ref: "db-password#f00d", value: "AZ-VALUE-f00d", version: "f00d", uri: "/secrets/db-password/f00d?api-version=7.4"},
		{ref: "absent", kind: providers.ErrNotFound},
		{ref: "forbidden", kind: providers.ErrDenied},
		{ref: "db_password", kind: providers.ErrInvalidRef},
		{ref: "db-password#", kind: providers.ErrInvalidRef},
		{ref: "/db-password", kind: providers.ErrInvalidRef},
		{ref: "evil.com?x/db", kind: providers.ErrInvalidRef},
	}
	for _, tc := range tests {
		s, err := p.Fetch(context.Background(), tc.ref)
		if tc.kind != nil {
			if !errors.Is(err, tc.kind) || strings.Contains(err.Error(), "AZ-VALUE") || strings.Contains(err.Error(), "aad.") {
				t.Errorf("%q: err = %v, want %v", tc.ref, err, tc.kind)
			}
			continue
		}
		if err != nil || s.Value != tc.value || s.Version != tc.version || s.ExpiresAt != nil {
			t.Errorf("%q = %+v, %v; want %q version %s", tc.ref, s, err, tc.value, tc.version)
			continue
		}
		f.mu.Lock()
		last := f.seen[len(f.seen)-1]
		f.mu.Unlock()
		if last != tc.uri {
			t.Errorf("%q: requested %s, want %s", tc.ref, last, tc.uri)
		}
	}
	// The exp attribute is the issuer expiry.
	s, err := p.Fetch(context.Background(), "short-lived")
	if err != nil || s.ExpiresAt == nil || !s.ExpiresAt.Equal(time.Unix(1_900_000_000, 0)) {
		t.Errorf("short-lived = %+v, %v", s, err)
	}
	f.mu.Lock()
	if f.tokens != 1 {
		t.Errorf("IMDS asked %d times, want 1 (cached)", f.tokens)
	}
	f.token = "aad.rotated"
	f.mu.Unlock()
	if _, err := p.Fetch(context.Background(), "db-password"); !errors.Is(err, providers.ErrDenied) {
		t.Errorf("stale token: %v", err)
	}
	if _, err := p.Fetch(context.Background(), "db-password"); err != nil {
		t.Errorf("after the 401 the token is fetched again: %v", err)
	}

	// A pre-fetched token replaces IMDS.
	static, _ := New(Config{Vault: srv.URL, Token: "aad.rotated", IMDSTokenURL: "http://127.0.0.1:1/never"}, "")
	if s, err := static.Fetch(context.Background(), "db-password"); err != nil || s.Value != "AZ-VALUE-0a1b2c3d" {
		t.Errorf("static token: %+v, %v", s, err)
	}
}

func TestVaultURLs(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Vault: "prod-{region}"}, "eu")
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"db":                  "https://prod-eu.vault.azure.net/secrets/db?api-version=7.4",
		"other-vault/db#v1":   "https://other-vault.vault.azure.net/secrets/db/v1?api-version=7.4",
		"prod-eu/db-password": "https://prod-eu.vault.azure.net/secrets/db-password?api-version=7.4",
	} {
		r, err := ParseRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := p.URL(r); err != nil || got != want {
			t.Errorf("%q: URL = %s (%v), want %s", ref, got, err, want)
		}
	}
	cn, _ := New(Config{Vault: "kv1", DNSSuffix: ".vault.azure.cn.", APIVersion: "2016-10-01"}, "")
	if got, _ := cn.URL(Ref{Name: "db"}); got != "https://kv1.vault.azure.cn/secrets/db?api-version=2016-10-01" {
		t.Errorf("sovereign cloud URL = %s", got)
	}
	none, _ := New(Config{}, "")
	if _, err := none.URL(Ref{Name: "db"}); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("no vault: err = %v", err)
	}
	if _, err := New(Config{Vault: "prod-{region}"}, ""); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("{region} without a region: err = %v", err)
	}
}
