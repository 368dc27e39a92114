package proxy

import "bufio"
import "context"
import "encoding/json"
import "io"
import "log/slog"
import "net"
import "net/http"
import "net/http/httptest"
import "net/url"
import "strings"
import "sync/atomic"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/testkit"

// TestMatch is the prefix table of the README ("The services").
func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want string
	}{
		{"/api/credentials", "wallet"},
		{"/api/credentials/", "wallet"},
		{"/api/credentials/my-alias", "wallet"},
		{"/api/credentials/my-alias/resolve", "wallet"},
		{"/api/keychain", "wallet"},
		{"/api/keychain/123/token", "wallet"},
		{"/api/internal/wallet/rotate", "wallet"},
		{"/api/internal/wallet/key-status", "wallet"},
		{"/api/internal/secret-audit", "wallet"},
		{"/api/internal/secret-audit/", "wallet"},
		{"/api/internal/secret-audit/events", "wallet"},
		{"/api/internal/cross-region/resolve", "broker"},
		{"/api/internal/cross-region/", "broker"},
		{"/api/credentialsX", "api"},
		{"/api/credentials-old", "api"},
		{"/api/keychainX", "api"},
		{"/api/catalog/list", "api"},
		{"/api/execute", "api"},
		{"/api/health", "api"},
		{"/api/worker/pool/register", "api"},
		{"/api/internal/outbox/drain", "api"},
		{"/api/internal/walletX", "api"},
		{"/api/internal/cross-regionX", "api"},
		{"/api/", "api"},
		{"/internal/x", ""},
		{"/internal/runtime/worker-key", ""},
		{"/", ""},
		{"/api", ""},
		{"/apix/credentials", ""},
		{"/metrics", ""},
		{"/healthz", ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			if got := Match(DefaultRoutes, tc.path); got != tc.want {
				t.Errorf("Match(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestNewRejectsUnknownUpstream(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("http://127.0.0.1:1")
	_, err := New([]Upstream{{Name: "api", URL: u}}, DefaultRoutes, http.DefaultTransport, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "wallet") {
		t.Errorf("New without a wallet upstream = %v, want an error naming it", err)
	}
}

// seen is what an upstream observed.
type seen struct {
	Upstream  string      `json:"upstream"`
	Method    string      `json:"method"`
	Path      string      `json:"path"`
	RawQuery  string      `json:"raw_query"`
	Body      string      `json:"body"`
	RequestID string      `json:"request_id"`
	Header    http.Header `json:"header"`
}

// echoUpstream answers with what it received, and sets headers a client should see (or,
// for the request id, should not see twice).
func echoUpstream(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", name)
		w.Header().Set(httpx.RequestIDHeader, "upstream-own-id")
		status := http.StatusOK
		if r.Method == http.MethodPost {
			status = http.StatusCreated
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(seen{
			Upstream: name, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Body: string(b), RequestID: r.Header.Get(httpx.RequestIDHeader), Header: r.Header,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// router builds the router's engine the way app.Run does and serves it.
func router(t *testing.T, ups map[string]string, maxBody int64) (*httptest.Server, *testkit.LogBuffer) {
	t.Helper()
	logs := &testkit.LogBuffer{}
	srv := serveProxy(t, upstreamList(t, ups), DefaultRoutes, http.DefaultTransport.(*http.Transport).Clone(), maxBody, logs)
	return srv, logs
}

// upstreamList is the api, wallet and broker at the URLs of ups.
func upstreamList(t *testing.T, ups map[string]string) []Upstream {
	t.Helper()
	var list []Upstream
	for _, name := range []string{"api", "wallet", "broker"} {
		list = append(list, Upstream{Name: name, URL: mustURL(t, ups[name])})
	}
	return list
}

// serveProxy serves a proxy over list and routes on the router's engine, logging to logs.
func serveProxy(t *testing.T, list []Upstream, routes []Route, tr *http.Transport, maxBody int64, logs io.Writer) *httptest.Server {
	t.Helper()
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	px, err := New(list, routes, tr, logger)
	if err != nil {
		t.Fatal(err)
	}
	e := httpx.NewEngine(httpx.Options{Service: "router", Logger: logger, MaxBodyBytes: maxBody})
	e.NoRoute(px.Handler)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	t.Cleanup(tr.CloseIdleConnections)
	return srv
}

func threeUpstreams(t *testing.T) map[string]string {
	return map[string]string{
		"api":    echoUpstream(t, "api").URL,
		"wallet": echoUpstream(t, "wallet").URL,
		"broker": echoUpstream(t, "broker").URL,
	}
}

func TestProxyForwards(t *testing.T) {
	t.Parallel()
	srv, _ := router(t, threeUpstreams(t), 1<<20)
	tests := []struct {
		method, path, query, body string
		upstream                  string
		status                    int
	}{
		{"GET", "/api/catalog/list", "limit=5&q=a%20b", "", "api", 200},
		{"POST", "/api/execute", "", `{"path":"x","payload":{"id":9007199254740993}}`, "api", 201},
		{"DELETE", "/api/worker/pool/deregister", "", `{"name":"w"}`, "api", 200},
		{"PUT", "/api/credentials/alias-1", "x=1", `{"data":{}}`, "wallet", 200},
		{"GET", "/api/keychain/42/token", "", "", "wallet", 200},
		{"POST", "/api/internal/wallet/rotate", "", `{}`, "wallet", 201},
		{"GET", "/api/internal/secret-audit", "since=1", "", "wallet", 200},
		{"POST", "/api/internal/cross-region/resolve", "", `{"alias":"a"}`, "broker", 201},
		{"GET", "/api/credentialsX", "", "", "api", 200},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			target := srv.URL + tc.path
			if tc.query != "" {
				target += "?" + tc.query
			}
			req, err := http.NewRequest(tc.method, target, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(httpx.RequestIDHeader, "client-rid-1")
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			var s seen
			if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
				t.Fatal(err)
			}
			if s.Upstream != tc.upstream || s.Method != tc.method || s.Path != tc.path || s.RawQuery != tc.query || s.Body != tc.body {
				t.Errorf("upstream saw %+v; want %s %s %s ?%s body %q", s, tc.upstream, tc.method, tc.path, tc.query, tc.body)
			}
			if s.RequestID != "client-rid-1" {
				t.Errorf("upstream saw request id %q, want client-rid-1", s.RequestID)
			}
			if s.Header.Get("Authorization") != "Bearer tok" {
				t.Errorf("Authorization not forwarded: %v", s.Header)
			}
			if s.Header.Get("X-Forwarded-For") == "" {
				t.Error("X-Forwarded-For not set")
			}
			if resp.Header.Get("X-Upstream") != tc.upstream {
				t.Errorf("upstream response header lost: %v", resp.Header)
			}
			if ids := resp.Header.Values(httpx.RequestIDHeader); len(ids) != 1 || ids[0] != "client-rid-1" {
				t.Errorf("response request id headers = %v, want only the router's", ids)
			}
		})
	}
}

func TestProxyAssignsRequestID(t *testing.T) {
	t.Parallel()
	srv, _ := router(t, threeUpstreams(t), 1<<20)
	resp, err := srv.Client().Get(srv.URL + "/api/catalog/list")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s seen
	_ = json.NewDecoder(resp.Body).Decode(&s)
	rid := resp.Header.Get(httpx.RequestIDHeader)
	if rid == "" || s.RequestID != rid {
		t.Errorf("router id %q, upstream saw %q: one id must follow the call", rid, s.RequestID)
	}
}

func TestProxyUnknownPathIs404(t *testing.T) {
	t.Parallel()
	srv, _ := router(t, threeUpstreams(t), 1<<20)
	for _, p := range []string{"/internal/runtime/worker-key", "/nope", "/api"} {
		resp, err := srv.Client().Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || resp.Header.Get("X-Upstream") != "" {
			t.Errorf("GET %s = %d (upstream %q) %s, want the router's 404", p, resp.StatusCode, resp.Header.Get("X-Upstream"), b)
		}
		checkEnvelope(t, b, 404)
	}
}

func checkEnvelope(t *testing.T, b []byte, status int) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", b, err)
	}
	if m["status"] != float64(status) || m["error"] == "" || m["error"] == nil {
		t.Errorf("envelope = %s, want status %d", b, status)
	}
	return m
}

func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

func TestProxyUnreachableUpstreamIs503(t *testing.T) {
	t.Parallel()
	ups := threeUpstreams(t)
	ups["wallet"] = deadURL(t)
	srv, logs := router(t, ups, 1<<20)
	resp, err := srv.Client().Post(srv.URL+"/api/credentials/x", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("status = %d, want 503: %s", resp.StatusCode, b)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
	}
	m := checkEnvelope(t, b, 503)
	if !strings.Contains(m["error"].(string), "wallet") {
		t.Errorf("message %q does not name the upstream", m["error"])
	}
	if resp.Header.Get(httpx.RequestIDHeader) == "" {
		t.Error("503 has no request id header")
	}
	if !strings.Contains(logs.String(), "proxy error") {
		t.Errorf("proxy failure not logged: %s", logs)
	}
	// Other upstreams keep working.
	resp, err = srv.Client().Get(srv.URL + "/api/catalog/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("api through the router = %d", resp.StatusCode)
	}
}

func TestProxyBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 1024
	srv, _ := router(t, threeUpstreams(t), limit)
	big := strings.Repeat("x", 4*limit)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(strings.NewReader(big))
		}
		resp, err := srv.Client().Post(srv.URL+"/api/execute", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: status = %d, want 413: %s", chunked, resp.StatusCode, b)
			continue
		}
		checkEnvelope(t, b, 413)
	}
}

// TestProxyStreams: responses are passed on as they are written (event streams), not
// buffered until the upstream finishes.
func TestProxyStreams(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "data: second\n\n")
	}))
	t.Cleanup(up.Close)
	ups := threeUpstreams(t)
	ups["api"] = up.URL
	srv, _ := router(t, ups, 1<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events/stream", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	close(release)
	if err != nil || line != "data: first\n" {
		t.Errorf("first event = %q, %v; the proxy buffered the stream", line, err)
	}
}

func TestReadyCheck(t *testing.T) {
	t.Parallel()
	var status atomic.Int32
	status.Store(http.StatusOK)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(up.Close)
	client := &http.Client{Timeout: 2 * time.Second}
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	check := ReadyCheck(Upstream{Name: "api", URL: mustURL(t, up.URL)}, client, logger)
	if check.Name != "api" {
		t.Errorf("check name = %q", check.Name)
	}
	if err := check.Fn(context.Background()); err != nil {
		t.Errorf("ready upstream: %v", err)
	}
	// The router's /readyz is open: the error it shows holds no URL, variable or upstream
	// error text; the log does.
	status.Store(http.StatusServiceUnavailable)
	for range 3 {
		if err := check.Fn(context.Background()); err == nil || strings.Contains(err.Error(), "503") || strings.Contains(err.Error(), up.URL) {
			t.Errorf("not-ready upstream: %v, want no detail", err)
		}
	}
	if got := strings.Count(logs.String(), "upstream not ready"); got != 1 || !strings.Contains(logs.String(), "503") {
		t.Errorf("log after three failed probes (want one line with the status):\n%s", logs.String())
	}
	dead := ReadyCheck(Upstream{Name: "wallet", URL: mustURL(t, deadURL(t)), Variable: "NOETL_WALLET_URL"}, client, logger)
	err := dead.Fn(context.Background())
	if err == nil || strings.Contains(err.Error(), "NOETL_WALLET_URL") || strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("dead upstream: %v, want no detail", err)
	}
	if !strings.Contains(logs.String(), "unreachable at") || !strings.Contains(logs.String(), "NOETL_WALLET_URL") || !strings.Contains(logs.String(), "noetl-wallet") {
		t.Errorf("log lacks the detail of the dead upstream (variable, binary):\n%s", logs.String())
	}
}

// TestProxyUpstreamTimeout: an upstream that never answers gives 504 with the envelope
// once the response-header timeout (NOETL_UPSTREAM_TIMEOUT) passes.
func TestProxyUpstreamTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })
	ups := threeUpstreams(t)
	ups["api"] = hung.URL
	tr, err := Transport(http.DefaultTransport.(*http.Transport).Clone(), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	srv := serveProxy(t, upstreamList(t, ups), DefaultRoutes, tr.(*http.Transport), 1<<20, io.Discard)
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(srv.URL + "/api/executions")
	if err != nil {
		t.Fatalf("the router did not answer for a hung upstream: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status = %d, want 504: %s", resp.StatusCode, b)
	}
	m := checkEnvelope(t, b, 504)
	if !strings.Contains(m["error"].(string), "api") {
		t.Errorf("message %q does not name the upstream", m["error"])
	}
}

// TestProxyErrorIsJSONEncoded: the error envelope is encoded as JSON, whatever characters
// the message holds (Go's %q quoting writes \x7f, which JSON does not know).
func TestProxyErrorIsJSONEncoded(t *testing.T) {
	t.Parallel()
	name := "odd\x7fname"
	srv := serveProxy(t, []Upstream{{Name: name, URL: mustURL(t, deadURL(t))}}, []Route{{"/api/", name}},
		http.DefaultTransport.(*http.Transport).Clone(), 1<<20, io.Discard)
	resp, err := srv.Client().Get(srv.URL + "/api/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := checkEnvelope(t, b, 503)
	if !strings.Contains(m["error"].(string), name) {
		t.Errorf("message %q does not carry the upstream name", m["error"])
	}
}
