package e2e

import "encoding/hex"
import "encoding/json"
import "fmt"
import "net/http"
import "net/http/httptest"
import "regexp"
import "strings"
import "sync"
import "testing"

import "github.com/noetl/controlplane/shared/crypto/sealed"

// regionVault is one region's Vault (KV v2 over HTTP): it records every path it is asked
// for, so a test can prove which region's wallet fetched a secret.
type regionVault struct {
	*httptest.Server
	mu   sync.Mutex
	hits []string
}

func newRegionVault(t *testing.T, token string, secrets map[string]map[string]any) *regionVault {
	v := &regionVault{}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.mu.Lock()
		v.hits = append(v.hits, r.URL.Path)
		v.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Vault-Token") != token {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":["permission denied"]}`))
			return
		}
		mount, path, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/"), "/data/")
		data, ok := secrets[mount+"/"+path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[]}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"data": data, "metadata": map[string]any{"version": 1}}})
	}))
	t.Cleanup(v.Close)
	return v
}

func (v *regionVault) calls() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.hits...)
}

const crossRegionPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: cross_region
  path: e2e/cross_region
workload:
  db_path: app/db
keychain:
  - name: eu_db
    provider: vault
    region: eu-central-1
    residency: strict
    map:
      password: "{{ db_path }}#password"
  - name: eu_locked
    provider: vault
    region: eu-central-1
    residency: strict
    no_broker_fallback: true
    map:
      password: "{{ db_path }}#password"
  - name: ap_db
    provider: vault
    region: ap-south-1
    residency: strict
    map:
      password: app/db#password
workflow:
  - step: start
    tool: {kind: noop}
`

// TestCrossRegionBroker runs two regions on one machine: two complete suites (api,
// wallet, broker, router), each on its own schema, with NOETL_SERVER_REGION us-east-1
// and eu-central-1 and a Vault of its own. A worker of region A fetches, sealed, a
// credential whose keychain entry is strict to region B: only region B's wallet fetches
// it, the envelope opens with the worker's key, and region A's Vault is never asked.
func TestCrossRegionBroker(t *testing.T) {
	const secret = "eu-only-S3CRET-4410"
	const vaultToken = "hvs.e2e-region"
	vaultA := newRegionVault(t, vaultToken, map[string]map[string]any{"app/db": {"password": "us-copy-must-not-be-used"}})
	vaultB := newRegionVault(t, vaultToken, map[string]map[string]any{"app/db": {"password": secret}})

	b := StartSuite(t, SuiteOptions{Extra: map[string]string{
		"NOETL_SERVER_REGION": "eu-central-1", "VAULT_ADDR": vaultB.URL, "VAULT_TOKEN": vaultToken,
	}})
	// Region A's registry also maps ap-south-1 to B's broker: a stale entry. A's wallet
	// calls B's broker directly, over mTLS: the two regions share one internal CA.
	registry := fmt.Sprintf(`{"eu-central-1": %q, "ap-south-1": %q}`, b.BrokerURL, b.BrokerURL)
	a := StartSuite(t, SuiteOptions{Certs: b.Certs, Extra: map[string]string{
		"NOETL_SERVER_REGION": "us-east-1", "VAULT_ADDR": vaultA.URL, "VAULT_TOKEN": vaultToken,
		"NOETL_SECRET_BROKER_REGISTRY": registry, "NOETL_SECRET_BROKER_TIMEOUT_SECS": "20",
	}})

	// Region A: the playbook, an execution of it, and a worker with its sealing key
	// (RFC 7748's Bob).
	mustOK := func(resp *http.Response, body string) string {
		t.Helper()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body)
		}
		return body
	}
	reg, _ := json.Marshal(map[string]any{"content": crossRegionPlaybook})
	mustOK(a.Do(t, http.MethodPost, "/api/catalog/register", "application/json", string(reg), nil))
	var started struct {
		ExecutionID json.Number `json:"execution_id"`
	}
	body := mustOK(a.Do(t, http.MethodPost, "/api/execute", "application/json", `{"path":"e2e/cross_region","payload":{}}`, nil))
	if err := json.Unmarshal([]byte(body), &started); err != nil || started.ExecutionID == "" {
		t.Fatalf("execute answered %s", body)
	}
	mustOK(a.Do(t, http.MethodPost, "/api/worker/pool/register", "application/json",
		`{"name":"worker-bob","component_type":"worker_pool","status":"ready","runtime":{"kind":"rust","worker_public_key":"3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="}}`, nil))
	bobRaw, _ := hex.DecodeString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
	bob, err := sealed.NewSecretKey(bobRaw)
	if err != nil {
		t.Fatal(err)
	}
	sealedPath := func(alias string) string {
		return fmt.Sprintf("/api/credentials/%s/sealed?worker_id=worker-bob&execution_id=%s", alias, started.ExecutionID)
	}

	t.Run("sealed by the home region", func(t *testing.T) {
		resp, body := a.Get(t, sealedPath("eu_db"))
		if resp.StatusCode != http.StatusOK || strings.Contains(body, secret) {
			t.Fatalf("sealed fetch = %d %s", resp.StatusCode, body)
		}
		var env sealed.Envelope
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatal(err)
		}
		plain, err := sealed.Open(bob, env)
		if err != nil {
			t.Fatalf("the worker cannot open the envelope: %v", err)
		}
		want := regexp.MustCompile(`^\{"id":"0","name":"eu_db","type":"keychain","description":"resolved from keychain provider","data":\{"password":"` + secret + `"\},"created_at":"[^"]+","updated_at":"[^"]+"\}$`)
		if !want.Match(plain) {
			t.Fatalf("plaintext = %s", plain)
		}
		// Only region B's Vault was asked, at the path rendered from A's workload.
		if got := vaultB.calls(); len(got) != 1 || got[0] != "/v1/app/data/db" {
			t.Errorf("region B's vault requests = %q", got)
		}
		if got := vaultA.calls(); len(got) != 0 {
			t.Errorf("region A's vault was asked %q: the cleartext would have entered region A", got)
		}
		for _, m := range []struct {
			base, series string
			want         float64
		}{
			{a.WalletURL, `noetl_credentials_sealed_total{status="ok_via_broker"}`, 1},
			{a.WalletURL, `noetl_secret_broker_call_total{broker_region="eu-central-1",outcome="ok"}`, 1},
			{a.WalletURL, `noetl_secret_broker_call_duration_seconds_count{broker_region="eu-central-1"}`, 1},
			{a.WalletURL, `noetl_secret_residency_check_total{decision="violation_blocked",policy="strict"}`, 1},
			{a.WalletURL, `noetl_secret_resolve_total{provider="vault",region="eu-central-1",status="ok"}`, -1},
			{b.BrokerURL, `noetl_secret_broker_call_total{broker_region="eu-central-1",outcome="ok"}`, 1},
			{b.WalletURL, `noetl_secret_residency_check_total{decision="allowed_same_region",policy="strict"}`, 1},
			{b.WalletURL, `noetl_secret_resolve_total{provider="vault",region="eu-central-1",status="ok"}`, 1},
		} {
			if got := chaosMetric(a.Client, m.base, m.series); got != m.want {
				t.Errorf("%s %s = %v, want %v", m.base, m.series, got, m.want)
			}
		}
	})

	t.Run("no_broker_fallback", func(t *testing.T) {
		before := len(vaultB.calls())
		resp, body := a.Get(t, sealedPath("eu_locked"))
		e := mustEnvelope(t, resp, body, http.StatusForbidden)
		if !strings.Contains(e.Error, "region-locked to 'eu-central-1'; this server is in 'us-east-1'") {
			t.Errorf("error = %q", e.Error)
		}
		if len(vaultB.calls()) != before || len(vaultA.calls()) != 0 {
			t.Errorf("a secret manager was asked: A %q, B %q", vaultA.calls(), vaultB.calls())
		}
	})

	t.Run("stale registry", func(t *testing.T) {
		before := len(vaultB.calls())
		resp, body := a.Get(t, sealedPath("ap_db"))
		e := mustEnvelope(t, resp, body, http.StatusForbidden)
		if !strings.Contains(e.Error, "this server is in region 'eu-central-1', not 'ap-south-1'") {
			t.Errorf("error = %q", e.Error)
		}
		if len(vaultB.calls()) != before || len(vaultA.calls()) != 0 {
			t.Errorf("a secret manager was asked: A %q, B %q", vaultA.calls(), vaultB.calls())
		}
		for _, m := range []struct{ base, series string }{
			{b.BrokerURL, `noetl_secret_broker_call_total{broker_region="ap-south-1",outcome="wrong_region"}`},
			{a.WalletURL, `noetl_secret_broker_call_total{broker_region="ap-south-1",outcome="wrong_region"}`},
		} {
			if got := chaosMetric(a.Client, m.base, m.series); got != 1 {
				t.Errorf("%s %s = %v, want 1", m.base, m.series, got)
			}
		}
	})

	t.Run("the plain GET is never forwarded", func(t *testing.T) {
		resp, body := a.Get(t, fmt.Sprintf("/api/credentials/eu_db?include_data=true&execution_id=%s", started.ExecutionID))
		mustEnvelope(t, resp, body, http.StatusForbidden)
	})

	// Nothing of the secret in region A's logs; region B's wallet audited the serve.
	for _, p := range []*Proc{a.API, a.Wallet, a.Broker, a.Router} {
		if strings.Contains(p.Output(), secret) {
			t.Errorf("region A's %s logged the secret", p.Name)
		}
	}
}
