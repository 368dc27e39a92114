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
	addr := startRouter(t, Config{APIURL: api.URL, WalletURL: wallet.URL, BrokerURL: broker.URL})
	_, body := get(t, "http://"+addr+"/metrics")
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
	routes := make(chan gin.RoutesInfo, 1)
	addr := startRouter(t, Config{
		APIURL: api.URL, WalletURL: api.URL, BrokerURL: api.URL,
		Hooks: service.Hooks{Routes: func(r gin.RoutesInfo) { routes <- r }},
	})
	if err := access.CheckCoverage("router", <-routes); err != nil {
		t.Error(err)
	}
	if status, body := get(t, "http://"+addr+"/api/openapi.json"); status != http.StatusOK || !strings.Contains(body, `"openapi": "3.1.0"`) {
		t.Fatalf("GET /api/openapi.json: %d %.200s", status, body)
	}
}

// TestEncodedInternalPathsNeedTheInternalToken: the router gates the internal prefixes
// on the decoded path, so no spelling of one (an escaped slash or letter, a dot segment
// after it) reaches a service without the internal token; with it, each is forwarded as
// sent.
func TestEncodedInternalPathsNeedTheInternalToken(t *testing.T) {
	t.Parallel()
	up, reached := countingUpstream(t)
	addr := startRouter(t, Config{
		Common: config.Common{InternalToken: "internal-tok"},
		APIURL: up.URL, WalletURL: up.URL, BrokerURL: up.URL,
	})
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
			resp := rawRequest(t, addr, "GET", p, tok)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s with %q: %d, want 401", p, tok, resp.StatusCode)
			}
		}
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("%d requests reached a service without the internal token", n)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/internal%2Foutbox/pending-count", nil)
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
	up, reached := countingUpstream(t)
	start := func(tokens config.PublicTokens) string {
		return startRouter(t, Config{
			Common: config.Common{InternalToken: "internal-tok"},
			Tokens: tokens,
			APIURL: up.URL, WalletURL: up.URL, BrokerURL: up.URL,
		})
	}
	// raw sends a request line as written: a client library would clean "//api/x".
	raw := func(addr, method, path, auth string) int {
		t.Helper()
		if auth != "" {
			auth = "Bearer " + auth
		}
		resp := rawRequest(t, addr, method, path, auth)
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
				for _, auth := range []string{"", "wrong"} {
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
				if got := raw(addr, "GET", p, good); got != want {
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
	var logs testkit.LogBuffer
	addr := startRouter(t, Config{
		APIURL: deadURL, WalletURL: deadURL, BrokerURL: api.URL,
		Hooks: service.Hooks{LogOutput: &logs},
	})
	status, body := get(t, "http://"+addr+"/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"api"`) || !strings.Contains(body, `"wallet"`) {
		t.Fatalf("GET /readyz: %d %s, want 503 naming api and wallet", status, body)
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

// startRouter runs the router on a free port of 127.0.0.1 with cfg (the listener, body,
// shutdown and timeout settings filled in, logs discarded unless cfg sends them
// somewhere) until the test ends, and returns its address.
func startRouter(t *testing.T, cfg Config) string {
	t.Helper()
	ready := make(chan net.Addr, 1)
	cfg.Host, cfg.Port, cfg.MaxBodyBytes, cfg.ShutdownGrace, cfg.Timeout = "127.0.0.1", 0, 1<<20, 5*time.Second, 10*time.Second
	cfg.Hooks.Ready = ready
	if cfg.Hooks.LogOutput == nil {
		cfg.Hooks.LogOutput = io.Discard
	}
	return testkit.StartRun(t, func(ctx context.Context) error { return Run(ctx, cfg) }, ready).String()
}

// countingUpstream answers every request 200 and counts those that are not probes or
// scrapes: the requests the router forwarded to it.
func countingUpstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	reached := new(atomic.Int64)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" && r.URL.Path != "/metrics" {
			reached.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(up.Close)
	return up, reached
}

// rawRequest sends method and path as written on a connection of its own (a client
// library would clean or re-escape the path), with the Authorization header auth unless
// it is empty, and returns the answer with its body closed.
func rawRequest(t *testing.T, addr, method, path, auth string) *http.Response {
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
	return resp
}

// get is a GET of url: its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}
