package app

import "encoding/json"
import "fmt"
import "net/http"
import "net/http/httptest"
import "regexp"
import "strings"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/testkit"

// kvServer is a Vault KV v2 server for the wallet's provider: it answers
// GET /v1/<mount>/data/<path> from its secrets and counts every request.
type kvServer struct {
	*httptest.Server
	calls   atomic.Int64
	mu      sync.Mutex
	secrets map[string]map[string]any // "<mount>/<path>" -> data
}

func newKVServer(t *testing.T, token string, secrets map[string]map[string]any) *kvServer {
	k := &kvServer{secrets: secrets}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Vault-Token") != token {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":["permission denied"]}`))
			return
		}
		mount, path, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/"), "/data/")
		k.mu.Lock()
		data, ok := k.secrets[mount+"/"+path]
		k.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[]}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"lease_duration": 0,
			"data": map[string]any{"data": data, "metadata": map[string]any{"version": 3}}})
	}))
	t.Cleanup(k.Close)
	return k
}

var synthetic = regexp.MustCompile(`^\{"id":"0","name":"([^"]+)","type":"keychain","description":"resolved from keychain provider","data":(.+),"created_at":"[0-9T:.Z-]+","updated_at":"[0-9T:.Z-]+"\}$`)

// TestKeychainProviderResolution: a credential missing from the store, read with an
// execution id, is resolved through the execution's keychain entry and its provider,
// answered in the synthetic credential shape, cached, sealed like any credential, and a
// strict residency denial never reaches the provider.
func TestKeychainProviderResolution(t *testing.T) {
	t.Parallel()
	const (
		secretPW  = "kc-VAULT-pw-5512"
		secretTok = "kc-VAULT-token-0931"
		exec      = int64(4242)
		catalog   = int64(811)
	)
	s := testkit.NewSchema(t, migrations.Set)
	vault := newKVServer(t, "hvs.wallet", map[string]map[string]any{
		"app/db":        {"password": secretPW, "user": "app"},
		"secret/deploy": {"token": secretTok},
	})
	api := newFakeAPI(t)
	api.register("worker-bob", strp(bobPublicB64))
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "db", Provider: "vault",
		Map: map[string]string{"password": "app/db#password", "user": "app/db#user"}})
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "deploy", Provider: "vault"})
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "eu_db", Provider: "vault", Region: "eu-central-1",
		Residency: "strict", Map: map[string]string{"password": "app/db#password"}})
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "gone", Provider: "vault", Map: map[string]string{"p": "app/absent#p"}})
	cfg := testConfig(t, s, api.URL)
	cfg.Providers.Vault.Addr, cfg.Providers.Vault.Token = vault.URL, "hvs.wallet"
	w := startWallet(t, cfg)

	// The synthetic credential: a map entry answers an object of strings.
	path := fmt.Sprintf("/api/credentials/db?include_data=true&execution_id=%d", exec)
	body := w.must(200, "GET", path, nil)
	m := synthetic.FindStringSubmatch(body)
	if m == nil || m[1] != "db" || m[2] != `{"password":"`+secretPW+`","user":"app"}` {
		t.Fatalf("answer = %s", body)
	}
	if vault.calls.Load() != 2 {
		t.Fatalf("vault called %d times, want 2 (one per map reference)", vault.calls.Load())
	}
	// A second fetch within the TTL comes from the execution's keychain cache.
	if again := w.must(200, "GET", path, nil); synthetic.FindStringSubmatch(again)[2] != m[2] || vault.calls.Load() != 2 {
		t.Fatalf("second fetch: %s; vault calls %d", again, vault.calls.Load())
	}
	list := w.must(200, "GET", fmt.Sprintf("/api/keychain/catalog/%d", catalog), nil)
	if !strings.Contains(list, `"keychain_name":"db","scope_type":"local","execution_id":"4242"`) {
		t.Errorf("cache entry not listed: %s", list)
	}

	// A map-less entry's name is the reference; its data is a JSON string. Sealed, it
	// opens to the same synthetic credential.
	env := decodeEnvelope(t, w.must(200, "GET", fmt.Sprintf("/api/credentials/deploy/sealed?worker_id=worker-bob&execution_id=%d", exec), nil))
	plain, err := sealed.Open(bobKey(t), env)
	if err != nil {
		t.Fatal(err)
	}
	if m := synthetic.FindStringSubmatch(string(plain)); m == nil || m[2] != `"`+secretTok+`"` {
		t.Fatalf("sealed plaintext = %s", plain)
	}

	// No execution id, an alias the playbook does not have, a missing secret: 404.
	for _, p := range []string{"/api/credentials/db?include_data=true", fmt.Sprintf("/api/credentials/nope?include_data=true&execution_id=%d", exec)} {
		code, out := w.do("GET", p, nil)
		if code != 404 || !strings.Contains(errText(t, out), "not found") {
			t.Errorf("GET %s = %d %s", p, code, out)
		}
	}
	code, out := w.do("GET", fmt.Sprintf("/api/credentials/gone?include_data=true&execution_id=%d", exec), nil)
	if code != 404 || !strings.Contains(errText(t, out), "keychain 'gone': vault: read 'app/data/absent'") {
		t.Errorf("missing secret = %d %s", code, out)
	}

	// Strict residency: the entry's home is eu-central-1, this wallet is in
	// test-region-1. 403 on both routes, and the provider is never called or built.
	calls := vault.calls.Load()
	code, out = w.do("GET", fmt.Sprintf("/api/credentials/eu_db?include_data=true&execution_id=%d", exec), nil)
	if code != 403 || errText(t, out) != "Residency violation: credential 'eu_db' is region-locked to 'eu-central-1'; this server is in 'test-region-1'" {
		t.Errorf("strict denial = %d %s", code, out)
	}
	code, _ = w.do("GET", fmt.Sprintf("/api/credentials/eu_db/sealed?worker_id=worker-bob&execution_id=%d", exec), nil)
	if code != 403 || vault.calls.Load() != calls {
		t.Errorf("sealed strict denial = %d; vault calls %d -> %d", code, calls, vault.calls.Load())
	}
	for series, want := range map[string]float64{
		`noetl_secret_residency_check_total{decision="violation_blocked",policy="strict"}`:                  2,
		`noetl_secret_residency_check_total{decision="allowed_no_policy",policy="none"}`:                    4, // db twice (a cache hit is gated too), deploy, gone
		`noetl_credentials_sealed_total{status="residency_violation"}`:                                      1,
		`noetl_credentials_sealed_total{status="ok"}`:                                                       1,
		`noetl_secret_provider_build_total{provider="vault",region="test-region-1",status="ok"}`:            1,
		`noetl_secret_provider_build_total{provider="vault",region="eu-central-1",status="ok"}`:             -1,
		`noetl_secret_resolve_total{provider="vault",region="test-region-1",status="ok"}`:                   2,
		`noetl_secret_resolve_total{provider="vault",region="test-region-1",status="provider_fetch_error"}`: 1,
		`noetl_secret_resolve_duration_seconds_count{provider="vault",region="test-region-1"}`:              3,
		`noetl_secret_resolve_total{provider="vault",region="eu-central-1",status="ok"}`:                    -1,
		`noetl_secret_cache_skip_total{reason="already_expired"}`:                                           0,
	} {
		if got := w.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	eventually(t, "audit rows", func() bool {
		return auditRows(t, s, `credential = 'eu_db' AND outcome = 'residency_violation'`) == 2 &&
			auditRows(t, s, `credential = 'db' AND outcome = 'ok' AND notes LIKE 'keychain provider vault%'`) == 2 &&
			auditRows(t, s, `credential = 'gone' AND outcome = 'provider_fetch_error'`) == 1
	})
	w.assertNoSecrets(secretPW, secretTok, "hvs.wallet")
}

// TestKeychainIssuerExpiry: a value whose issuer expiry falls inside the safety margin is
// never cached; one that expires later is cached until the margin.
func TestKeychainIssuerExpiry(t *testing.T) {
	t.Parallel()
	const exec, catalog = int64(5151), int64(812)
	s := testkit.NewSchema(t, migrations.Set)
	var calls sync.Map // secret name -> *atomic.Int64
	kv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Azure Key Vault's GetSecret; exp is the issuer expiry.
		name := strings.TrimPrefix(r.URL.Path, "/secrets/")
		n, _ := calls.LoadOrStore(name, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if r.Header.Get("Authorization") != "Bearer aad-test" || r.URL.Query().Get("api-version") != "7.4" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		left := time.Hour
		if name == "short-lived" {
			left = 30 * time.Second // inside the 60 s margin
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"value": "AZ-" + name + "-value", "id": "https://v/secrets/" + name + "/abc",
			"attributes": map[string]any{"enabled": true, "exp": time.Now().Add(left).Unix()}})
	}))
	t.Cleanup(kv.Close)
	api := newFakeAPI(t)
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "short-lived", Provider: "azure_kv"})
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "long-lived", Provider: "azure"})
	cfg := testConfig(t, s, api.URL)
	cfg.Providers.Azure.Vault, cfg.Providers.Azure.Token = kv.URL, "aad-test"
	cfg.Residency.DynamicSafetyMarg = 60
	w := startWallet(t, cfg)

	for range 2 {
		for _, alias := range []string{"short-lived", "long-lived"} {
			body := w.must(200, "GET", fmt.Sprintf("/api/credentials/%s?include_data=true&execution_id=%d", alias, exec), nil)
			if m := synthetic.FindStringSubmatch(body); m == nil || m[2] != `"AZ-`+alias+`-value"` {
				t.Fatalf("%s = %s", alias, body)
			}
		}
	}
	count := func(name string) int64 {
		n, _ := calls.Load(name)
		if n == nil {
			return 0
		}
		return n.(*atomic.Int64).Load()
	}
	if count("short-lived") != 2 || count("long-lived") != 1 {
		t.Errorf("provider calls: short-lived %d (want 2: never cached), long-lived %d (want 1: cached)", count("short-lived"), count("long-lived"))
	}
	var expires time.Time
	if err := s.Pool.QueryRow(t.Context(), `SELECT expires_at FROM keychain WHERE keychain_name = 'long-lived'`).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	// min(default 600 s, 1 h - 60 s): cached for the default.
	if left := time.Until(expires); left < 590*time.Second || left > 600*time.Second {
		t.Errorf("long-lived cached for %v, want about 600 s", left)
	}
	if n := testkit.QueryOne[int64](t, s, `SELECT count(*) FROM keychain WHERE keychain_name = 'short-lived'`); n != 0 {
		t.Errorf("short-lived has %d cache rows", n)
	}
	for series, want := range map[string]float64{
		`noetl_secret_cache_skip_total{reason="already_expired"}`:                         2,
		`noetl_secret_dynamic_ttl_seconds_count`:                                          3,
		`noetl_secret_resolve_total{provider="azure",region="test-region-1",status="ok"}`: 3,
	} {
		if got := w.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// TestSealToKeyWithPeerEntry: the broker passes on the keychain entry the requesting
// region read from its own api; this wallet, whose database does not know the
// execution, resolves it as given (under its own residency gate), seals it, and caches
// nothing.
func TestSealToKeyWithPeerEntry(t *testing.T) {
	t.Parallel()
	const secret = "peer-entry-S3CRET-7781"
	s := testkit.NewSchema(t, migrations.Set)
	vault := newKVServer(t, "hvs.eu", map[string]map[string]any{"app/db": {"password": secret}})
	api := newFakeAPI(t) // knows no execution
	cfg := testConfig(t, s, api.URL)
	cfg.Residency.ServerRegion = "eu-central-1"
	cfg.Providers.Vault.Addr, cfg.Providers.Vault.Token = vault.URL, "hvs.eu"
	w := startWallet(t, cfg)

	entry := map[string]any{"name": "eu_db", "provider": "vault", "region": "eu-central-1", "residency": "strict",
		"map": map[string]any{"password": "app/db#password"}}
	req := map[string]any{"alias": "eu_db", "worker_public_key_b64": bobPublicB64, "worker_id": "us-worker",
		"execution_id": "9007199254740993", "expected_entry_region": "eu-central-1", "requesting_region": "us-east-1",
		"broker_region": "eu-central-1", "keychain_entry": entry}
	for range 2 {
		plain, err := sealed.Open(bobKey(t), decodeEnvelope(t, w.must(200, "POST", "/internal/wallet/seal", req)))
		if err != nil {
			t.Fatal(err)
		}
		if m := synthetic.FindStringSubmatch(string(plain)); m == nil || m[2] != `{"password":"`+secret+`"}` {
			t.Fatalf("plaintext = %s", plain)
		}
	}
	if vault.calls.Load() != 2 || testkit.QueryOne[int64](t, s, `SELECT count(*) FROM keychain`) != 0 {
		t.Errorf("vault calls %d, keychain rows %d: a peer's entry must not be cached", vault.calls.Load(),
			testkit.QueryOne[int64](t, s, `SELECT count(*) FROM keychain`))
	}
	// This wallet's own gate still applies: an entry homed elsewhere is refused.
	entry["region"] = "us-east-1"
	if code, out := w.do("POST", "/internal/wallet/seal", req); code != 403 || !strings.Contains(errText(t, out), "region-locked to 'us-east-1'") {
		t.Errorf("entry of another region = %d %s", code, out)
	}
	eventually(t, "the audit rows", func() bool {
		return auditRows(t, s, `operation = 'cross_region_broker_serve' AND outcome = 'ok' AND credential = 'eu_db'
			AND broker_region = 'eu-central-1' AND execution_id = 9007199254740993`) == 2 &&
			auditRows(t, s, `operation = 'cross_region_broker_serve' AND outcome = 'residency_violation'`) == 1
	})
	w.assertNoSecrets(secret, "hvs.eu")
}

// TestBrokerUnreachable: a strict denial forwarded to a broker that does not answer is a
// 502 naming the broker, counted and audited as such; the value was never here.
func TestBrokerUnreachable(t *testing.T) {
	t.Parallel()
	const exec, catalog = int64(6161), int64(813)
	s := testkit.NewSchema(t, migrations.Set)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	api := newFakeAPI(t)
	api.register("worker-bob", strp(bobPublicB64))
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "eu_db", Provider: "vault", Region: "eu-central-1", Residency: "strict"})
	cfg := testConfig(t, s, api.URL)
	cfg.Residency.BrokerRegistry = `{"eu-central-1": "` + gone.URL + `"}`
	cfg.Residency.BrokerTimeoutSecs = 5
	w := startWallet(t, cfg)

	code, out := w.do("GET", fmt.Sprintf("/api/credentials/eu_db/sealed?worker_id=worker-bob&execution_id=%d", exec), nil)
	if code != 502 || !strings.Contains(errText(t, out), "Cross-region broker "+gone.URL+" unreachable") {
		t.Fatalf("= %d %s", code, out)
	}
	for series, want := range map[string]float64{
		`noetl_credentials_sealed_total{status="residency_violation"}`:                          1,
		`noetl_secret_broker_call_total{broker_region="eu-central-1",outcome="unreachable"}`:    1,
		`noetl_secret_broker_call_duration_seconds_count{broker_region="eu-central-1"}`:         1,
		`noetl_secret_broker_call_total{broker_region="eu-central-1",outcome="ok"}`:             0,
		`noetl_secret_provider_build_total{provider="vault",region="eu-central-1",status="ok"}`: -1,
	} {
		if got := w.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	eventually(t, "the audit row", func() bool {
		return auditRows(t, s, `operation = 'get_sealed' AND outcome = 'broker_unreachable' AND broker_region = 'eu-central-1'`) == 1
	})
}
