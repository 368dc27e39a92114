package app

import "context"
import "encoding/json"
import "net"
import "net/http"
import "net/http/httptest"
import "strconv"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"
import "github.com/noetl/controlplane/shared/wire"

const (
	testToken = "internal-test-token-4f1c"
	// key1 is bytes 00..1f (the stored_envelope vector key, docs/wallet.md section 7); key2 is bytes 40..5f.
	key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	key2 = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
)

// testConfig is a wallet configuration for one test: loopback, port 0 (Run does not
// validate, and Hooks.Ready reports the bound address), debug logging so that the log
// hygiene checks see every line, and the local key manager on key1.
func testConfig(t *testing.T, schema *testkit.Schema, apiURL string) Config {
	t.Helper()
	return Config{
		Common: config.Common{
			Host: "127.0.0.1", Port: 0, ServerName: "wallet-test", MaxBodyBytes: 2 << 20,
			ShutdownGrace: 5 * time.Second, InternalToken: testToken, LogLevel: "debug",
		},
		DB:  schema.Config,
		IDs: ids.Config{MachineID: config.OptionalUint{Value: 7, Set: true}},
		Keys: Keys{
			EncryptionKey: key1, EncryptionKeyVer: "v1", KMSProvider: "local",
			GCPKMSEndpoint: "https://cloudkms.googleapis.com/v1",
		},
		APIURL:    apiURL,
		Residency: ResidencyConfig{ServerRegion: "test-region-1", BrokerTimeoutSecs: 10},
	}
}

// wallet is one in-process wallet. Every response body it answers with a status >= 400,
// every log line and a final /metrics scrape are kept for the secret-leak checks.
type wallet struct {
	t       *testing.T
	url     string
	logs    *testkit.LogBuffer
	stop    func()
	mu      sync.Mutex
	errs    []string
	metrics string
}

func startWallet(t *testing.T, cfg Config) *wallet {
	t.Helper()
	logs := &testkit.LogBuffer{}
	ready := make(chan net.Addr, 1)
	cfg.Hooks.LogOutput = logs
	cfg.Hooks.Ready = ready
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	w := &wallet{t: t, logs: logs}
	select {
	case addr := <-ready:
		w.url = "http://" + addr.String()
	case err := <-done:
		cancel()
		t.Fatalf("wallet did not start: %v\nlogs:\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("wallet did not start within 10s")
	}
	var once sync.Once
	w.stop = func() {
		once.Do(func() {
			if _, body := w.doRaw("GET", "/metrics", "", nil); body != "" {
				w.mu.Lock()
				w.metrics += body
				w.mu.Unlock()
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("wallet Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("wallet did not stop within 15s")
			}
		})
	}
	t.Cleanup(w.stop)
	return w
}

// doRaw sends a request; token "" sends no Authorization header.
func (w *wallet) doRaw(method, path, token string, body any) (int, string) {
	w.t.Helper()
	r := httpkit.Send(w.t, method, w.url+path, token, body)
	if r.Status >= 400 {
		w.mu.Lock()
		w.errs = append(w.errs, string(r.Body))
		w.mu.Unlock()
	}
	return r.Status, string(r.Body)
}

// do sends a request with the internal token.
func (w *wallet) do(method, path string, body any) (int, string) {
	w.t.Helper()
	return w.doRaw(method, path, testToken, body)
}

// must sends a request and fails the test unless the status is want.
func (w *wallet) must(want int, method, path string, body any) string {
	w.t.Helper()
	code, out := w.do(method, path, body)
	if code != want {
		w.t.Fatalf("%s %s = %d %s, want %d", method, path, code, out, want)
	}
	return out
}

// mustJSON is must decoding a JSON object answer.
func (w *wallet) mustJSON(want int, method, path string, body any) map[string]any {
	w.t.Helper()
	out := w.must(want, method, path, body)
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		w.t.Fatalf("%s %s: answer %q is not a JSON object: %v", method, path, out, err)
	}
	return m
}

// assertNoSecrets stops the wallet and checks that none of secrets appears in its logs, in
// its final metrics scrape or in any error body it answered.
func (w *wallet) assertNoSecrets(secrets ...string) {
	w.t.Helper()
	w.stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	sources := map[string]string{
		"logs":         w.logs.String(),
		"metrics":      w.metrics,
		"error bodies": strings.Join(w.errs, "\n"),
	}
	if w.metrics == "" {
		w.t.Error("no /metrics scrape was collected")
	}
	for name, text := range sources {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				w.t.Errorf("secret %q appears in the wallet's %s", s, name)
			}
		}
	}
}

// fakeAPI is the api's GET /internal/runtime/worker-key and GET /internal/executions/
// {id}/keychain/{alias}, speaking their JSON.
type fakeAPI struct {
	*httptest.Server
	mu   sync.Mutex
	keys map[string]*string                        // worker -> key (nil: row without a key)
	defs map[string]internalapi.KeychainDefinition // "<execution_id>/<alias>" -> definition
	fail bool
}

// missingCatalogID is the one catalog entry the fake api does not hold.
const missingCatalogID = 999

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{keys: map[string]*string{}, defs: map[string]internalapi.KeychainDefinition{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid token","status":401}`))
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.fail {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":"database unavailable","status":500}`))
			return
		}
		if id, ok := strings.CutPrefix(r.URL.Path, "/internal/catalog/"); ok {
			// Every catalog entry exists except missingCatalogID.
			if id == strconv.FormatInt(missingCatalogID, 10) {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"error":"catalog entry not found","status":404}`))
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"catalog_id": id, "path": "tests/wallet", "version": 1, "kind": "playbook"})
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/internal/executions/"); ok {
			exec, alias, _ := strings.Cut(rest, "/keychain/")
			def, found := f.defs[exec+"/"+alias]
			if !found {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"error":"keychain entry not found","status":404}`))
				return
			}
			_ = json.NewEncoder(w).Encode(def)
			return
		}
		name := r.URL.Query().Get("name")
		key, ok := f.keys[name]
		if r.URL.Path != "/internal/runtime/worker-key" || !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"worker has no worker_pool runtime row","status":404}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": name, "worker_public_key": key})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) register(worker string, key *string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[worker] = key
}

// define makes alias a keychain entry of executionID's playbook (catalog catalogID).
func (f *fakeAPI) define(executionID, catalogID int64, e internalapi.KeychainEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.defs[strconv.FormatInt(executionID, 10)+"/"+e.Name] = internalapi.KeychainDefinition{
		ExecutionID: wire.StringID(executionID), CatalogID: wire.StringID(catalogID), Entry: e}
}

func (f *fakeAPI) setFail(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = v
}

// errText returns the "error" field of an error body, checking the envelope's shape.
func errText(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error  *string `json:"error"`
		Status *int    `json:"status"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil || e.Status == nil {
		t.Errorf("error body %q is not {\"error\",\"status\"}", body)
		return ""
	}
	return *e.Error
}

// metric scrapes /metrics and returns the value of one series, e.g.
// metric(`noetl_credentials_sealed_total{status="ok"}`); -1 when it is absent.
func (w *wallet) metric(series string) float64 {
	w.t.Helper()
	code, out := w.doRaw("GET", "/metrics", "", nil)
	if code != 200 {
		w.t.Fatalf("GET /metrics = %d", code)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				w.t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	return -1
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
