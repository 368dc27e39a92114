package crossregion

import "encoding/json"
import "io"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync"
import "testing"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

const (
	token   = "broker-test-token"
	bobPub  = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
	envJSON = `{"alg":"x25519-hkdf-sha256-chacha20-poly1305","v":1,"eph_pub":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=","ciphertext":"1bomrwHtQsXiIqMcWNMCSQTPP6g2kmEN9bAOrQ=="}`
)

// fakeWallet is the wallet's POST /internal/wallet/seal.
type fakeWallet struct {
	mu   sync.Mutex
	got  []internalapi.CrossRegionRequest
	auth []string
}

func (f *fakeWallet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req internalapi.CrossRegionRequest
	_ = json.Unmarshal(body, &req)
	f.mu.Lock()
	f.got = append(f.got, req)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path != SealPath:
		w.WriteHeader(404)
	case req.Alias == "missing":
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"error":"Credential 'missing' not found","status":404}`))
	case req.Alias == "refused":
		w.WriteHeader(502)
		_, _ = w.Write([]byte(`{"error":"keychain 'refused': vault: read 'app/data/x': HTTP 403","status":502,"retryable":false}`))
	case req.Alias == "broken":
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"error":"Internal Server Error","status":500}`))
	default:
		_, _ = w.Write([]byte(envJSON))
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	wallet := &fakeWallet{}
	srv := httptest.NewServer(wallet)
	t.Cleanup(srv.Close)
	api, err := internalapi.New(internalapi.Config{BaseURL: srv.URL, Service: "wallet", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := internalapi.NewBrokerMetrics(reg, false, "eu-central-1")
	e := httpkit.Engine(t, token)
	NewHandler("eu-central-1", api, m).Register(e)

	body := func(alias, region, pub string, entryRegion string) string {
		req := map[string]any{"alias": alias, "worker_public_key_b64": pub, "worker_id": "worker-bob",
			"execution_id": "9007199254740993", "expected_entry_region": region, "requesting_region": "us-east-1"}
		if entryRegion != "" {
			req["keychain_entry"] = map[string]any{"name": alias, "provider": "vault", "region": entryRegion, "residency": "strict"}
		}
		b, _ := json.Marshal(req)
		return string(b)
	}
	tests := []struct {
		name, body, tok string
		status          int
		outcome, label  string
		errPart         string
	}{
		{"sealed by the wallet", body("eu-db", "eu-central-1", bobPub, "eu-central-1"), token, 200, "ok", "eu-central-1", ""},
		{"another region", body("eu-db", "ap-south-1", bobPub, ""), token, 403, "wrong_region", "ap-south-1",
			"this server is in region 'eu-central-1', not 'ap-south-1'"},
		{"an entry of another region", body("eu-db", "eu-central-1", bobPub, "ap-south-1"), token, 422, "denied_by_broker", "eu-central-1", "homed in region 'ap-south-1'"},
		{"bad key", body("eu-db", "eu-central-1", "***", ""), token, 400, "bad_pubkey", "eu-central-1", "invalid worker_public_key_b64: base64 decode"},
		{"short key", body("eu-db", "eu-central-1", "AAAA", ""), token, 400, "bad_pubkey", "eu-central-1", "expected 32 bytes, got 3"},
		{"missing field", `{"alias":"x","worker_id":"w","expected_entry_region":"eu-central-1"}`, token, 422, "denied_by_broker", "eu-central-1", "worker_public_key_b64"},
		{"not found here", body("missing", "eu-central-1", bobPub, ""), token, 404, "resolve_error", "eu-central-1", "Credential 'missing' not found"},
		{"wallet failure", body("broken", "eu-central-1", bobPub, ""), token, 502, "resolve_error", "eu-central-1", "wallet could not seal"},
		{"secret manager refused", body("refused", "eu-central-1", bobPub, ""), token, 502, "resolve_error", "eu-central-1", `keychain 'refused': vault: read 'app/data/x': HTTP 403`},
		{"no token", body("eu-db", "eu-central-1", bobPub, ""), "", 401, "", "", ""},
	}
	for _, tc := range tests {
		w := httpkit.Request(t, e, "POST", internalapi.CrossRegionPath, tc.body, tc.tok)
		if w.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.status)
			continue
		}
		if got := w.Header().Get(internalapi.BrokerOutcomeHeader); got != tc.outcome {
			t.Errorf("%s: outcome header %q, want %q", tc.name, got, tc.outcome)
		}
		if tc.status == 200 && w.Body.String() != envJSON {
			t.Errorf("%s: envelope changed: %s", tc.name, w.Body)
		}
		// Only the wallet's permanent failure stays permanent through the broker.
		if strings.Contains(w.Body.String(), `"retryable"`) != (tc.name == "secret manager refused") {
			t.Errorf("%s: retryable in %s", tc.name, w.Body)
		}
		if tc.errPart != "" && !strings.Contains(w.Body.String(), tc.errPart) {
			t.Errorf("%s: body %s lacks %q", tc.name, w.Body, tc.errPart)
		}
		if tc.outcome != "" && testutil.ToFloat64(m.Calls.WithLabelValues(tc.label, tc.outcome)) < 1 {
			t.Errorf("%s: noetl_secret_broker_call_total{%s,%s} not counted", tc.name, tc.label, tc.outcome)
		}
	}
	// A broker without NOETL_SERVER_REGION refuses every well-formed request with a 403
	// that names the setting; malformed JSON is still a 400.
	noRegion := internalapi.NewBrokerMetrics(prometheus.NewRegistry(), false, "")
	e2 := httpkit.Engine(t, token)
	NewHandler("", api, noRegion).Register(e2)
	for _, tc := range []struct{ name, body string }{
		{"a request", body("eu-db", "eu-central-1", bobPub, "")},
		{"an entry without a region", `{"alias":"a","worker_public_key_b64":"` + bobPub + `","worker_id":"w","expected_entry_region":"eu-central-1","keychain_entry":{"name":"a","region":""}}`},
		{"no expected region", `{"alias":"a","worker_public_key_b64":"` + bobPub + `","worker_id":"w"}`},
	} {
		t.Run("no region: "+tc.name, func(t *testing.T) {
			w := httpkit.Request(t, e2, "POST", internalapi.CrossRegionPath, tc.body, token)
			if w.Code != 403 || !strings.Contains(w.Body.String(), "NOETL_SERVER_REGION is not set on this broker") ||
				w.Header().Get(internalapi.BrokerOutcomeHeader) != internalapi.BrokerWrongRegion {
				t.Errorf("%d %s (outcome %q), want a 403 wrong_region naming NOETL_SERVER_REGION", w.Code, w.Body, w.Header().Get(internalapi.BrokerOutcomeHeader))
			}
		})
	}
	if w := httpkit.Request(t, e2, "POST", internalapi.CrossRegionPath, `{bad`, token); w.Code != 400 {
		t.Errorf("malformed JSON without a region: %d %s, want 400", w.Code, w.Body)
	}
	// The wallet got the request with this region stamped on it, the id intact, and the
	// internal token; refused requests never reached it.
	wallet.mu.Lock()
	defer wallet.mu.Unlock()
	if len(wallet.got) != 4 {
		t.Fatalf("wallet called %d times, want 4", len(wallet.got))
	}
	first := wallet.got[0]
	if first.BrokerRegion != "eu-central-1" || first.ExecutionID == nil || int64(*first.ExecutionID) != 9007199254740993 ||
		first.KeychainEntry == nil || first.KeychainEntry.Provider != "vault" || wallet.auth[0] != "Bearer "+token {
		t.Errorf("wallet request = %+v (auth %q)", first, wallet.auth[0])
	}
}
