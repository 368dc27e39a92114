package app

import "bufio"
import "context"
import "io"
import "net"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync/atomic"
import "testing"
import "time"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/service"
import "github.com/noetl/controlplane/shared/testkit"

// upstream serves /readyz and a tiny /metrics like a suite service.
func upstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = io.WriteString(w, "# HELP noetl_upstream_test 1\n# TYPE noetl_upstream_test gauge\nnoetl_upstream_test 1\n")
		case "/readyz":
			w.WriteHeader(200)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestFirstScrapeReportsUpstreamsUp: noetl_router_upstream_up must describe the scrape
// that is being served, not the previous one, so the very first scrape of a healthy suite
// reports every upstream up.
func TestFirstScrapeReportsUpstreamsUp(t *testing.T) {
	t.Parallel()
	api, wallet, broker := upstream(t), upstream(t), upstream(t)
	ready := make(chan net.Addr, 1)
	cfg := Config{
		Common: config.Common{
			Host: "127.0.0.1", Port: 0, MaxBodyBytes: 1 << 20, ShutdownGrace: 5 * time.Second,
		},
		APIURL: api.URL, WalletURL: wallet.URL, BrokerURL: broker.URL, Timeout: 10 * time.Second,
		Hooks: service.Hooks{LogOutput: io.Discard, Ready: ready},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("router did not stop")
		}
	})
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("router did not start")
	}
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, up := range []string{"api", "wallet", "broker"} {
		want := `noetl_router_upstream_up{noetl_service="router",upstream="` + up + `"} 1`
		if !strings.Contains(body, want) {
			t.Errorf("first scrape lacks %s", want)
		}
		if !strings.Contains(body, `noetl_upstream_test{noetl_service="`+up+`"} 1`) {
			t.Errorf("first scrape lacks %s's own metric", up)
		}
	}
}

// TestRouterRoutesHaveAccessClasses: the routes the router serves itself (probes,
// metrics, the OpenAPI document) and shared/access.Table agree in both directions.
func TestRouterRoutesHaveAccessClasses(t *testing.T) {
	t.Parallel()
	api := upstream(t)
	ready := make(chan net.Addr, 1)
	routes := make(chan gin.RoutesInfo, 1)
	cfg := Config{
		Common: config.Common{Host: "127.0.0.1", Port: 0, MaxBodyBytes: 1 << 20, ShutdownGrace: 5 * time.Second},
		APIURL: api.URL, WalletURL: api.URL, BrokerURL: api.URL, Timeout: 10 * time.Second,
		Hooks: service.Hooks{LogOutput: io.Discard, Ready: ready, Routes: func(r gin.RoutesInfo) { routes <- r }},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case r := <-routes:
		if err := access.CheckCoverage("router", r); err != nil {
			t.Error(err)
		}
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("router did not start")
	}
	addr := <-ready
	resp, err := http.Get("http://" + addr.String() + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"openapi": "3.1.0"`) {
		t.Fatalf("GET /api/openapi.json: %d %.200s", resp.StatusCode, b)
	}
}

// TestEncodedInternalPathsNeedTheInternalToken: the router gates the internal prefixes
// on the decoded path, so no spelling of one (an escaped slash or letter, a dot segment
// after it) reaches a service without the internal token; with it, each is forwarded as
// sent.
func TestEncodedInternalPathsNeedTheInternalToken(t *testing.T) {
	t.Parallel()
	var reached atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" && r.URL.Path != "/metrics" {
			reached.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(up.Close)
	ready := make(chan net.Addr, 1)
	cfg := Config{
		Common: config.Common{Host: "127.0.0.1", Port: 0, MaxBodyBytes: 1 << 20, ShutdownGrace: 5 * time.Second, InternalToken: "internal-tok"},
		APIURL: up.URL, WalletURL: up.URL, BrokerURL: up.URL, Timeout: 10 * time.Second,
		Hooks: service.Hooks{LogOutput: io.Discard, Ready: ready},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("router did not start")
	}
	paths := []string{
		"/api/internal/outbox/pending-count",
		"/api/internal%2Foutbox/pending-count",
		"/api%2Finternal/outbox/pending-count",
		"/api/%69nternal/outbox/pending-count",
		"/api/internal/./wallet/key-status",
		"/api/internal/wallet/../outbox/pending-count",
		"/internal/wallet/seal",
		"/%69nternal/wallet/seal",
	}
	for _, tok := range []string{"", "Bearer wrong"} {
		for _, p := range paths {
			// A raw request line: a client library would clean or re-escape these paths.
			conn, err := net.Dial("tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			auth := ""
			if tok != "" {
				auth = "Authorization: " + tok + "\r\n"
			}
			_, _ = io.WriteString(conn, "GET "+p+" HTTP/1.1\r\nHost: x\r\n"+auth+"Connection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			resp.Body.Close()
			conn.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s with %q: %d, want 401", p, tok, resp.StatusCode)
			}
		}
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("%d requests reached a service without the internal token", n)
	}
	req, _ := http.NewRequest("GET", "http://"+addr.String()+"/api/internal%2Foutbox/pending-count", nil)
	req.Header.Set("Authorization", "Bearer internal-tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || reached.Load() != 1 {
		t.Errorf("with the internal token: %d, reached %d", resp.StatusCode, reached.Load())
	}
}

// TestUnforwardedPathsNeedAToken: with a public token set, a path the router forwards
// nowhere answers 401 before 404, as every service answers an unknown path (a 404 to
// anyone would tell which paths exist); any token the suite takes lifts it to the 404.
// The open routes stay open, and forwarded paths go to their service unauthenticated
// (its gate knows their class).
func TestUnforwardedPathsNeedAToken(t *testing.T) {
	t.Parallel()
	var reached atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" && r.URL.Path != "/metrics" {
			reached.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(up.Close)
	start := func(tokens config.PublicTokens) string {
		ready := make(chan net.Addr, 1)
		cfg := Config{
			Common: config.Common{Host: "127.0.0.1", Port: 0, MaxBodyBytes: 1 << 20, ShutdownGrace: 5 * time.Second, InternalToken: "internal-tok"},
			Tokens: tokens,
			APIURL: up.URL, WalletURL: up.URL, BrokerURL: up.URL, Timeout: 10 * time.Second,
			Hooks: service.Hooks{LogOutput: io.Discard, Ready: ready},
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, cfg) }()
		t.Cleanup(func() { cancel(); <-done })
		select {
		case addr := <-ready:
			return addr.String()
		case err := <-done:
			t.Fatalf("Run: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("router did not start")
		}
		return ""
	}
	// raw sends a request line as written: a client library would clean "//api/x".
	raw := func(addr, method, path, auth string) int {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if auth != "" {
			auth = "Authorization: " + auth + "\r\n"
		}
		_, _ = io.WriteString(conn, method+" "+path+" HTTP/1.1\r\nHost: x\r\n"+auth+"Connection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(path, "/internal/") && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s: 401 without a challenge", method, path)
		}
		return resp.StatusCode
	}
	unforwarded := []string{"/", "/API/x", "//api/x", "/nonexistent", "/api", "/internal/x"}
	for _, tc := range []struct {
		name   string
		tokens config.PublicTokens
		goods  []string // tokens that lift the 401
	}{
		{"both tokens", config.PublicTokens{API: "api-tok", Worker: "worker-tok"}, []string{"api-tok", "worker-tok", "internal-tok"}},
		{"api token only", config.PublicTokens{API: "api-tok"}, []string{"api-tok", "internal-tok"}},
		{"worker token only", config.PublicTokens{Worker: "worker-tok"}, []string{"worker-tok", "internal-tok"}},
	} {
		addr := start(tc.tokens)
		for _, p := range unforwarded {
			for _, m := range []string{"GET", "POST", "OPTIONS"} {
				for _, auth := range []string{"", "Bearer wrong"} {
					if got := raw(addr, m, p, auth); got != http.StatusUnauthorized {
						t.Errorf("%s: %s %s with %q: %d, want 401", tc.name, m, p, auth, got)
					}
				}
			}
			want := http.StatusNotFound
			for _, good := range tc.goods {
				if p == "/internal/x" && good != "internal-tok" {
					continue // the internal prefix takes only the internal token
				}
				if got := raw(addr, "GET", p, "Bearer "+good); got != want {
					t.Errorf("%s: GET %s with %s: %d, want %d", tc.name, p, good, got, want)
				}
			}
		}
		for _, p := range []string{"/healthz", "/readyz", "/health", "/metrics", "/api/openapi.json"} {
			if got := raw(addr, "GET", p, ""); got != http.StatusOK {
				t.Errorf("%s: GET %s without a token: %d, want 200", tc.name, p, got)
			}
		}
		if got := raw(addr, "POST", "/healthz", ""); got != http.StatusMethodNotAllowed {
			t.Errorf("%s: POST /healthz without a token: %d, want 405", tc.name, got)
		}
		before := reached.Load()
		if got := raw(addr, "GET", "/api/health", ""); got != http.StatusOK || reached.Load() != before+1 {
			t.Errorf("%s: GET /api/health was not forwarded without a token: %d", tc.name, got)
		}
	}
	// No public token: nothing is closed, and an unknown path answers 404 as upstream.
	addr := start(config.PublicTokens{})
	for _, p := range []string{"/", "/API/x", "//api/x", "/nonexistent"} {
		if got := raw(addr, "GET", p, ""); got != http.StatusNotFound {
			t.Errorf("no token: GET %s: %d, want 404", p, got)
		}
	}
}

// TestReadyzNamesUpstreamsOnly: the router's /readyz is open, so an upstream that is not
// ready shows there by name only; its URL and the error detail go to the log.
func TestReadyzNamesUpstreamsOnly(t *testing.T) {
	t.Parallel()
	api := upstream(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	ready := make(chan net.Addr, 1)
	var logs testkit.LogBuffer
	cfg := Config{
		Common: config.Common{Host: "127.0.0.1", Port: 0, MaxBodyBytes: 1 << 20, ShutdownGrace: 5 * time.Second},
		APIURL: deadURL, WalletURL: deadURL, BrokerURL: api.URL, Timeout: 10 * time.Second,
		Hooks: service.Hooks{LogOutput: &logs, Ready: ready},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("router did not start")
	}
	resp, err := http.Get("http://" + addr.String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"api"`) || !strings.Contains(body, `"wallet"`) {
		t.Fatalf("GET /readyz: %d %s, want 503 naming api and wallet", resp.StatusCode, body)
	}
	host := strings.TrimPrefix(deadURL, "http://")
	for _, leak := range []string{host, "NOETL_API_URL", "NOETL_WALLET_URL", "unreachable", "connection refused"} {
		if strings.Contains(body, leak) {
			t.Errorf("/readyz quotes %q: %s", leak, body)
		}
	}
	if l := logs.String(); !strings.Contains(l, host) || !strings.Contains(l, "NOETL_WALLET_URL") {
		t.Errorf("the log lacks the detail of the failed upstreams:\n%s", l)
	}
}
