package app

import "context"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/testkit"

func TestKeychainRoutes(t *testing.T) {
	t.Parallel()
	const secret = "kc-S3CRET-token-5510"
	s := testkit.NewSchema(t, migrations.Set)
	w := startWallet(t, testConfig(t, s, newFakeAPI(t).URL))

	// Cache-key rules (upstream build_cache_key).
	keys := []struct {
		body map[string]any
		key  string
	}{
		{map[string]any{"data": "g"}, "tok:501:global"},
		{map[string]any{"data": "g2", "scope_type": "global", "execution_id": 9}, "tok:501:global"},
		{map[string]any{"data": "l", "scope_type": "local"}, "tok:501:local"},
		{map[string]any{"data": "l9", "scope_type": "local", "execution_id": "9"}, "tok:501:9"},
		{map[string]any{"data": "s", "scope_type": "shared"}, "tok:501:shared"},
		{map[string]any{"data": "s9", "scope_type": "shared", "execution_id": 9}, "tok:501:shared:9"},
	}
	for _, k := range keys {
		got := w.mustJSON(200, "POST", "/api/keychain/501/tok", k.body)
		if got["status"] != "success" || got["cache_key"] != k.key {
			t.Errorf("POST %v = %v, want cache_key %s", k.body, got, k.key)
		}
		if _, ok := got["expires_at"]; ok {
			t.Errorf("no expiry was given, yet expires_at = %v", got["expires_at"])
		}
	}

	// An entry without an expiry is valid: found, no expires_at, counted.
	for i, want := range []string{"1", "2"} {
		got := w.mustJSON(200, "GET", "/api/keychain/501/tok?scope_type=local&execution_id=9", nil)
		if got["status"] != "found" || got["data"] != "l9" || got["access_count"].(interface{ String() string }).String() != want {
			t.Errorf("GET #%d = %v", i, got)
		}
		if _, ok := got["expires_at"]; ok {
			t.Errorf("expires_at present for an entry without expiry: %v", got)
		}
	}
	if got := w.mustJSON(200, "GET", "/api/keychain/501/tok", nil); got["data"] != "g2" {
		t.Errorf("global GET = %v (the later global write must win)", got)
	}

	// expires_in and expires_at; an expired entry is reported, not decrypted or deleted.
	set := w.mustJSON(200, "POST", "/api/keychain/501/secret", map[string]any{"data": map[string]any{"token": secret}, "expires_in": 3600, "auto_renew": true})
	exp, err := time.Parse(time.RFC3339Nano, set["expires_at"].(string))
	if err != nil || time.Until(exp) < 59*time.Minute || time.Until(exp) > 61*time.Minute {
		t.Errorf("expires_in 3600 gave expires_at %v", set["expires_at"])
	}
	found := w.must(200, "GET", "/api/keychain/501/secret", nil)
	if !strings.HasPrefix(found, `{"status":"found","data":{"token":"`+secret+`"},"expires_at":"`) || !strings.HasSuffix(found, `"auto_renew":true,"access_count":1}`) {
		t.Errorf("found = %s", found)
	}
	w.must(200, "POST", "/api/keychain/501/old", map[string]any{"data": secret, "expires_at": "2020-01-02T03:04:05+02:00"})
	expired := w.must(200, "GET", "/api/keychain/501/old", nil)
	if expired != `{"status":"expired","expires_at":"2020-01-02T01:04:05Z","auto_renew":false,"access_count":0}` {
		t.Errorf("expired = %s", expired)
	}
	if got := w.must(200, "GET", "/api/keychain/501/nothing", nil); got != `{"status":"not_found"}` {
		t.Errorf("missing = %s", got)
	}

	// At rest the data is an envelope.
	var stored string
	if err := s.Pool.QueryRow(context.Background(), `SELECT data_encrypted FROM keychain WHERE cache_key = 'secret:501:global'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, secret) || !strings.HasPrefix(stored, `{"v":1,"alg":"AES-256-GCM"`) {
		t.Errorf("keychain data_encrypted = %q", stored)
	}

	// Catalog listing: static segment wins, no data, expired flag, ids as strings.
	list := w.mustJSON(200, "GET", "/api/keychain/catalog/501", nil)
	if list["catalog_id"] != "501" {
		t.Errorf("catalog_id = %v", list["catalog_id"])
	}
	entries := list["entries"].([]any)
	if len(entries) != 7 {
		t.Fatalf("entries = %d, want 7: %v", len(entries), list)
	}
	var sawExpired, sawExec bool
	for _, e := range entries {
		m := e.(map[string]any)
		if _, ok := m["data"]; ok {
			t.Errorf("listing carries data: %v", m)
		}
		if m["keychain_name"] == "old" {
			sawExpired = m["expired"] == true
		}
		if m["scope_type"] == "shared" && m["execution_id"] == "9" {
			sawExec = true
		}
	}
	if !sawExpired || !sawExec {
		t.Errorf("listing flags: expired=%v exec-as-string=%v: %v", sawExpired, sawExec, entries)
	}

	// Delete.
	if got := w.must(200, "DELETE", "/api/keychain/501/tok?scope_type=shared&execution_id=9", nil); got != `{"status":"deleted","cache_key":"tok:501:shared:9"}` {
		t.Errorf("DELETE = %s", got)
	}
	if got := w.must(200, "DELETE", "/api/keychain/501/tok?scope_type=shared&execution_id=9", nil); got != `{"status":"not_found"}` {
		t.Errorf("DELETE again = %s", got)
	}

	// Errors.
	errs := []struct {
		method, path string
		body         any
		status       int
		msg          string
	}{
		{"GET", "/api/keychain/abc/tok", nil, 400, "catalog_id must be a 64-bit integer"},
		// A query value outside its set is a 400, as every query filter; a body's is a 422.
		{"GET", "/api/keychain/501/tok?scope_type=team", nil, 400, `query parameter scope_type: "team" is not one of local, global, shared`},
		{"DELETE", "/api/keychain/501/tok?scope_type=team", nil, 400, `query parameter scope_type: "team" is not one of local, global, shared`},
		{"POST", "/api/keychain/501/tok", map[string]any{"data": 1, "scope_type": "team"}, 422, "scope_type"},
		{"POST", "/api/keychain/501/tok", map[string]any{"scope_type": "global"}, 422, `field "data" is required`},
		{"POST", "/api/keychain/999/tok", map[string]any{"data": secret}, 404, "catalog entry 999 not found"},
		{"POST", "/api/keychain/501/tok", map[string]any{"data": 1, "expires_at": "tomorrow"}, 422, "RFC 3339"},
		{"GET", "/api/keychain/catalog/x", nil, 400, "catalog_id"},
	}
	for _, e := range errs {
		code, out := w.do(e.method, e.path, e.body)
		if code != e.status || !strings.Contains(errText(t, out), e.msg) {
			t.Errorf("%s %s = %d %s, want %d with %q", e.method, e.path, code, out, e.status, e.msg)
		}
	}
	w.assertNoSecrets(secret)
}

// TestKeychainWriteWhenAPIDown: the wallet cannot tell whether the catalog entry exists,
// so it stores nothing and says the api is unavailable (503), not that the entry is
// missing.
func TestKeychainWriteWhenAPIDown(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t)
	w := startWallet(t, testConfig(t, s, api.URL))
	api.setFail(true)
	code, out := w.do("POST", "/api/keychain/501/tok", map[string]any{"data": map[string]any{"token": "kc-down-secret"}})
	if code != 503 || !strings.Contains(errText(t, out), "catalog entry 501") {
		t.Fatalf("POST with the api down = %d %s, want 503 naming the catalog entry", code, out)
	}
	var n int
	if err := s.Pool.QueryRow(t.Context(), `SELECT count(*) FROM keychain`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("keychain rows after a refused write = %d (%v), want 0", n, err)
	}
	w.assertNoSecrets("kc-down-secret")
}
