package azure

import "context"
import "encoding/json"
import "errors"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/providertest"

// fakeAzure is IMDS's token endpoint and Key Vault's GetSecret
// (GET /secrets/<name>[/<version>]?api-version=7.4, bearer token, SecretBundle JSON).
type fakeAzure struct {
	mu     sync.Mutex
	tokens *providertest.Tokens
	seen   providertest.Requests
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
		_, _ = w.Write([]byte(`{"access_token":"` + f.tokens.Issue() + `","expires_in":"3599","token_type":"Bearer"}`))
		return
	}
	f.seen.Add(r.URL.RequestURI())
	if r.URL.Query().Get("api-version") != "7.4" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":"BadParameter","message":"api-version missing"}}`))
		return
	}
	if !f.tokens.Valid(r.Header.Get("Authorization")) {
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
	case "disabled":
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}`))
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
	f := &fakeAzure{tokens: providertest.NewTokens("aad.kv-token"), exp: 1_900_000_000}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := New(Config{Vault: srv.URL, IMDSTokenURL: srv.URL + "/metadata/identity/oauth2/token"}, "")
	if err != nil {
		t.Fatal(err)
	}
	providertest.Run(t, p, []providertest.Case{
		{Ref: "db-password", Value: "AZ-VALUE-0a1b2c3d", Version: "0a1b2c3d", Request: "/secrets/db-password?api-version=7.4"},
		{Ref: "db-password#f00d", Value: "AZ-VALUE-f00d", Version: "f00d", Request: "/secrets/db-password/f00d?api-version=7.4"},
		{Ref: "absent", Kind: providers.ErrNotFound},
		{Ref: "forbidden", Kind: providers.ErrDenied},
		// A disabled secret is no missing grant: not found, not a denial.
		{Ref: "disabled", Kind: providers.ErrNotFound},
		{Ref: "db_password", Kind: providers.ErrInvalidRef},
		{Ref: "db-password#", Kind: providers.ErrInvalidRef},
		{Ref: "/db-password", Kind: providers.ErrInvalidRef},
		{Ref: "evil.com?x/db", Kind: providers.ErrInvalidRef},
	}, f.seen.Last, "AZ-VALUE", "aad.")
	// The exp attribute is the issuer expiry.
	s, err := p.Fetch(context.Background(), "short-lived")
	if err != nil || s.ExpiresAt == nil || !s.ExpiresAt.Equal(time.Unix(1_900_000_000, 0)) {
		t.Errorf("short-lived = %+v, %v", s, err)
	}
	providertest.CheckTokenRefresh(t, p, "db-password", f.tokens)

	// A pre-fetched token replaces IMDS.
	static, _ := New(Config{Vault: srv.URL, Token: "rotated-token", IMDSTokenURL: "http://127.0.0.1:1/never"}, "")
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
