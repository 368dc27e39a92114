package e2e

import "crypto/tls"
import "encoding/json"
import "fmt"
import "net/http"

import "strings"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/testkit"

type envelope struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func mustEnvelope(t *testing.T, resp *http.Response, body string, want int) envelope {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, want, body)
	}
	var e envelope
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" || e.Status != want {
		t.Fatalf("body is not the JSON error envelope with status %d: %s", want, body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("response has no X-Request-Id")
	}
	return e
}

// TestSurface boots the whole suite once and checks the public surface through the router.
func TestSurface(t *testing.T) {
	s := StartSuite(t, SuiteOptions{APIExtra: map[string]string{
		"NOETL_RUNTIME_SWEEP_INTERVAL":  "1",
		"NOETL_RUNTIME_OFFLINE_SECONDS": "2",
	}})

	t.Run("health", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/health", "/api/health"} {
			resp, body := s.Get(t, p)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s = %d %s", p, resp.StatusCode, body)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Errorf("%s: no request id", p)
			}
		}
		_, body := s.Get(t, "/api/health")
		var h map[string]any
		_ = json.Unmarshal([]byte(body), &h)
		if h["status"] != "ok" || h["database"] != "connected" || h["nats"] != "connected" {
			t.Errorf("/api/health = %s", body)
		}
		// No public tokens in this suite: the surface is open, says so, and each service
		// that serves public routes warns once per open class.
		if h["auth"] != "open" {
			t.Errorf("/api/health auth = %v, want open", h["auth"])
		}
		for _, p := range []*Proc{s.API, s.Wallet} {
			for _, v := range []string{"NOETL_API_TOKEN", "NOETL_WORKER_TOKEN"} {
				if n := strings.Count(p.Output(), v+" is not set"); n != 1 {
					t.Errorf("%s logged %d warnings about %s, want 1", p.Name, n, v)
				}
			}
		}
		for _, p := range []*Proc{s.Router, s.Broker} {
			if strings.Contains(p.Output(), "is not set: the ") {
				t.Errorf("%s serves no public class but warns about one", p.Name)
			}
		}
	})

	t.Run("error envelope", func(t *testing.T) {
		resp, body := s.Get(t, "/nope")
		mustEnvelope(t, resp, body, http.StatusNotFound)
		resp, body = s.Do(t, http.MethodPost, "/api/worker/pool/register", "application/json", `{"name": "w1",`, nil)
		mustEnvelope(t, resp, body, http.StatusBadRequest)
		resp, body = s.Do(t, http.MethodPost, "/api/worker/pool/register", "text/plain", `{"name":"w1"}`, nil)
		mustEnvelope(t, resp, body, http.StatusUnsupportedMediaType)
		resp, body = s.Do(t, http.MethodPost, "/api/worker/pool/register", "application/json", `{"name": 5}`, nil)
		mustEnvelope(t, resp, body, http.StatusUnprocessableEntity)
		resp, body = s.Do(t, http.MethodGet, "/api/worker/pool/register", "", "", nil)
		mustEnvelope(t, resp, body, http.StatusMethodNotAllowed)
		big := `{"name":"` + strings.Repeat("x", 3<<20) + `"}`
		resp, body = s.Do(t, http.MethodPost, "/api/worker/pool/register", "application/json", big, nil)
		mustEnvelope(t, resp, body, http.StatusRequestEntityTooLarge)
	})

	t.Run("internal token gate", func(t *testing.T) {
		for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + s.Token}} {
			resp, body := s.Do(t, http.MethodGet, "/api/internal/anything", "", "", h)
			mustEnvelope(t, resp, body, http.StatusUnauthorized)
		}
		// Straight to the api, bypassing the router: the service gates on its own too.
		resp, err := s.Client.Get(s.APIURL + "/api/internal/anything")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("api direct = %d, want 401", resp.StatusCode)
		}
		resp2, body := s.Do(t, http.MethodGet, "/api/internal/anything", "", "", map[string]string{"Authorization": "Bearer " + s.Token})
		mustEnvelope(t, resp2, body, http.StatusNotFound)
	})

	t.Run("shard-info", func(t *testing.T) {
		cases := []struct {
			id    string
			n     int
			shard int
		}{
			{"320816801799737344", 4, 2}, {"1", 2, 1}, {"1", 16, 5}, {"1", 1024, 405}, {"42", 1, 0},
			{"325", 8, 4}, {"320816801799737344", 16, 14}, {"0", 1024, 955}, {"-1", 64, 9},
			{"9223372036854775807", 3, 2}, {"-9223372036854775808", 1024, 224},
		}
		for _, c := range cases {
			resp, body := s.Get(t, fmt.Sprintf("/api/runtime/shard-info?execution_id=%s&shard_count=%d", c.id, c.n))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s/%d: %d %s", c.id, c.n, resp.StatusCode, body)
			}
			var got map[string]json.RawMessage
			_ = json.Unmarshal([]byte(body), &got)
			if string(got["execution_id"]) != c.id || string(got["shard_index"]) != fmt.Sprint(c.shard) {
				t.Errorf("(%s, %d): %s, want shard %d", c.id, c.n, body, c.shard)
			}
		}
		_, body := s.Get(t, "/api/runtime/shard-info?execution_id=320816801799737344&shard_count=4")
		want := `{"execution_id":320816801799737344,"shard_count":4,"shard_index":2,"source":"noetl-server","hash_function":"twox_hash::XxHash64","seed":0,"server_config":{"shard_index":0,"shard_count":1}}`
		if body != want {
			t.Errorf("seed example body =\n%s\nwant\n%s", body, want)
		}
		for _, q := range []string{"execution_id=abc&shard_count=4", "execution_id=1&shard_count=0", "execution_id=1&shard_count=1025", "execution_id=1", "shard_count=4"} {
			resp, body := s.Get(t, "/api/runtime/shard-info?"+q)
			mustEnvelope(t, resp, body, http.StatusBadRequest)
		}
	})

	t.Run("worker goes offline", func(t *testing.T) {
		resp, body := s.Do(t, http.MethodPost, "/api/worker/pool/register", "application/json",
			`{"name":"e2e-worker","component_type":"worker_pool","status":"ready","runtime":{"kind":"rust"}}`, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("register: %d %s", resp.StatusCode, body)
		}
		status := func() string {
			_, body := s.Get(t, "/api/worker/pools?name=e2e-worker")
			var rows []struct{ Status string }
			_ = json.Unmarshal([]byte(body), &rows)
			if len(rows) != 1 {
				return ""
			}
			return rows[0].Status
		}
		if got := status(); got != "ready" {
			t.Fatalf("status right after register = %q", got)
		}
		if !eventually(8*time.Second, func() bool { return status() == "offline" }) {
			t.Fatalf("worker not offline after the threshold; status %q", status())
		}
		// A heartbeat brings it back.
		resp, body = s.Do(t, http.MethodPost, "/api/worker/pool/heartbeat", "application/json", `{"name":"e2e-worker"}`, nil)
		if resp.StatusCode != http.StatusOK || status() != "ready" {
			t.Fatalf("heartbeat: %d %s, status %q", resp.StatusCode, body, status())
		}
	})

	t.Run("metrics aggregated", func(t *testing.T) {
		_, body := s.Get(t, "/metrics")
		for _, svc := range []string{"router", "api", "wallet", "broker"} {
			if !strings.Contains(body, `noetl_service="`+svc+`"`) {
				t.Errorf("/metrics has no samples labelled noetl_service=%q", svc)
			}
		}
	})

	t.Run("probes stay out of info logs", func(t *testing.T) {
		before := map[string]int{}
		procs := []*Proc{s.Router, s.API, s.Wallet, s.Broker}
		for _, p := range procs {
			before[p.Name] = len(p.Output())
		}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 250; i++ {
					for _, path := range []string{"/healthz", "/metrics"} {
						resp, err := s.Client.Get(s.URL + path)
						if err == nil {
							resp.Body.Close()
						}
					}
				}
			}()
		}
		wg.Wait()
		for _, p := range procs {
			for _, line := range strings.Split(p.Output()[before[p.Name]:], "\n") {
				if strings.Contains(line, `"level":"INFO"`) && (strings.Contains(line, "/healthz") || strings.Contains(line, "/metrics")) {
					t.Fatalf("%s logged a probe at info: %s", p.Name, line)
				}
			}
		}
		// And an ordinary request does log at info, so the check above can fail.
		s.Get(t, "/api/worker/pools")
		if !eventually(2*time.Second, func() bool { return strings.Contains(s.API.Output(), `"path":"/api/worker/pools"`) }) {
			t.Fatalf("ordinary request not logged at info")
		}
	})
}

// TestReadyzFollowsPostgres cuts the database connection with a TCP proxy and restores it.
func TestReadyzFollowsPostgres(t *testing.T) {
	proxy := testkit.NewProxy(t, "127.0.0.1:5432")
	dbURL := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", proxy.Addr())
	s := StartSuite(t, SuiteOptions{DatabaseURL: dbURL})
	proxy.Cut()
	start := time.Now()
	if !eventually(10*time.Second, func() bool { return s.status(t, "/readyz") == http.StatusServiceUnavailable }) {
		t.Fatalf("readyz still %d 10s after losing PostgreSQL", s.status(t, "/readyz"))
	}
	t.Logf("readyz went 503 %s after the cut", time.Since(start).Round(time.Millisecond))
	resp, body := s.Get(t, "/readyz")
	mustEnvelope(t, resp, body, http.StatusServiceUnavailable)
	proxy.Restore()
	start = time.Now()
	if !eventually(15*time.Second, func() bool { return s.status(t, "/readyz") == http.StatusOK }) {
		t.Fatalf("readyz not back to 200 15s after PostgreSQL returned")
	}
	t.Logf("readyz back to 200 %s after the restore", time.Since(start).Round(time.Millisecond))
	for _, p := range []*Proc{s.API, s.Wallet, s.Broker, s.Router} {
		if p.Exited() {
			t.Errorf("%s exited; nothing should restart", p.Name)
		}
	}
}

// TestFailFast starts each binary with a bad value and expects a non-zero exit naming the
// variable.
func TestFailFast(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	cases := []struct {
		bin  string
		env  map[string]string
		want string
	}{
		{"api", map[string]string{"NOETL_SHARD_COUNT": "4", "NOETL_SHARD_INDEX": "4"}, "NOETL_SHARD_INDEX"},
		{"api", map[string]string{"NOETL_SHARD_COUNT": "0"}, "NOETL_SHARD_COUNT"},
		{"api", map[string]string{"NOETL_SERVER_MACHINE_ID": "1024"}, "NOETL_SERVER_MACHINE_ID"},
		{"wallet", map[string]string{"NOETL_SERVER_MACHINE_ID": "4096"}, "NOETL_SERVER_MACHINE_ID"},
		{"router", map[string]string{"NOETL_TLS_CERT": certs.ServerCert}, "NOETL_TLS_KEY"},
		{"api", map[string]string{"NOETL_TLS_KEY": certs.ServerKey}, "NOETL_TLS_CERT"},
		{"wallet", map[string]string{"NOETL_ENCRYPTION_KEY": "dG9vLXNob3J0"}, "NOETL_ENCRYPTION_KEY"},
		{"wallet", map[string]string{"NOETL_ENCRYPTION_KEY": "not base64 at all!"}, "NOETL_ENCRYPTION_KEY"},
		{"router", map[string]string{"NOETL_PORT": "tcp://10.0.0.1:8082"}, "NOETL_PORT"},
		{"broker", map[string]string{"NOETL_PORT": "eighty"}, "NOETL_PORT"},
		{"api", map[string]string{"NOETL_DEBUG": "maybe"}, "NOETL_DEBUG"},
		{"api", map[string]string{"POSTGRES_MAX_CONNECTIONS": "many"}, "POSTGRES_MAX_CONNECTIONS"},
	}
	for _, c := range cases {
		t.Run(c.bin+" "+c.want, func(t *testing.T) {
			t.Parallel()
			code, out := runToExit(t, c.bin, c.env, 20*time.Second)
			if code == 0 {
				t.Fatalf("exit code 0, want non-zero; output:\n%s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Fatalf("message does not name %s:\n%s", c.want, out)
			}
			if v, ok := c.env["NOETL_ENCRYPTION_KEY"]; ok && strings.Contains(out, v) {
				t.Fatalf("message echoes the key value")
			}
		})
	}
}

// TestMigrateConcurrently runs two `noetl-api migrate` and two `noetl-wallet migrate` at
// the same moment on a new schema.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	schema := testkit.UniqueName("m_")
	t.Cleanup(func() { testkit.DropSchema(t, schema) })
	env := map[string]string{"DATABASE_URL": testkit.DatabaseURL(), "NOETL_SCHEMA": schema}
	var wg sync.WaitGroup
	services := []string{"api", "wallet", "api", "wallet"}
	codes := make([]int, len(services))
	outs := make([]string, len(services))
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], outs[i] = runToExit(t, services[i], env, 60*time.Second, "migrate")
		}()
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != 0 {
			t.Fatalf("migrate %d exited %d:\n%s", i, codes[i], outs[i])
		}
	}
	db := testkit.OpenURL(t, testkit.DatabaseURL())
	var schemas, migrations, tables int
	row := db.QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM pg_namespace WHERE nspname = $1),
		(SELECT count(*) FROM `+quote(schema)+`.schema_migrations),
		(SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('event', 'credential'))`, schema)
	if err := row.Scan(&schemas, &migrations, &tables); err != nil {
		t.Fatal(err)
	}
	if schemas != 1 || tables != 2 || migrations < 2 {
		t.Fatalf("schemas=%d event and credential tables=%d migrations=%d", schemas, tables, migrations)
	}
	// Every migration row appears once: a second run applied nothing twice.
	var dup int
	_ = db.QueryRow(t.Context(), `SELECT count(*) - count(DISTINCT (service, version)) FROM `+quote(schema)+`.schema_migrations`).Scan(&dup)
	if dup != 0 {
		t.Fatalf("%d duplicate migration rows", dup)
	}
}

func quote(s string) string { return `"` + s + `"` }

// TestTransportModes serves the router over HTTPS and mTLS with generated certificates.
func TestTransportModes(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	get := func(port int, cfg *tls.Config) (int, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/healthz", port))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	waitUp := func(port int, cfg *tls.Config) {
		if !eventually(10*time.Second, func() bool { code, _ := get(port, cfg); return code == 200 }) {
			t.Fatalf("router on %d never answered", port)
		}
	}
	t.Run("https", func(t *testing.T) {
		port := freePort(t)
		start(t, "router", map[string]string{
			"NOETL_HOST": "127.0.0.1", "NOETL_PORT": fmt.Sprint(port),
			"NOETL_TLS_CERT": certs.ServerCert, "NOETL_TLS_KEY": certs.ServerKey,
		})
		waitUp(port, certs.ClientTLS(t, false))
		if code, err := get(port, certs.ClientTLS(t, false)); err != nil || code != 200 {
			t.Fatalf("client without certificate under server-only TLS: %d %v", code, err)
		}
	})
	t.Run("mtls", func(t *testing.T) {
		port := freePort(t)
		start(t, "router", map[string]string{
			"NOETL_HOST": "127.0.0.1", "NOETL_PORT": fmt.Sprint(port),
			"NOETL_TLS_CERT": certs.ServerCert, "NOETL_TLS_KEY": certs.ServerKey, "NOETL_TLS_CLIENT_CA": certs.CAFile,
		})
		waitUp(port, certs.ClientTLS(t, true))
		if _, err := get(port, certs.ClientTLS(t, false)); err == nil {
			t.Fatalf("client without certificate was accepted under mTLS")
		}
		if code, err := get(port, certs.ClientTLS(t, true)); err != nil || code != 200 {
			t.Fatalf("client with certificate under mTLS: %d %v", code, err)
		}
	})
}
