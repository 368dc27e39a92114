package access

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/noetl/controlplane/shared/config"
	"github.com/noetl/controlplane/shared/httpx"
	"github.com/noetl/controlplane/shared/testkit/httpkit"
)

const (
	internalTok = "internal-tok-1"
	apiTok      = "api-tok-2"
	workerTok   = "worker-tok-3"
)

var allTokens = Tokens{Internal: internalTok, PublicTokens: config.PublicTokens{API: apiTok, Worker: workerTok}}

// engine serves one route of each class behind the gate, each answering 204.
func engine(t *testing.T, tok Tokens) *gin.Engine {
	t.Helper()
	e := httpx.NewEngine(httpx.Options{Service: "test", Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20})
	e.Use(Gate(tok))
	ok := func(c *gin.Context) { c.Status(http.StatusNoContent) }
	e.GET("/healthz", ok)
	e.POST("/api/catalog/list", ok)                 // client
	e.POST("/api/events", ok)                       // worker
	e.GET("/api/vars/:execution_id", ok)            // either
	e.POST("/api/postgres/execute", ok)             // internal, outside /api/internal/
	e.GET("/api/internal/outbox/pending-count", ok) // internal
	e.GET("/api/credentials/:identifier", ok)       // client, worker with include_data
	e.GET("/api/not-in-the-table", ok)              // served only because Verify is not run here
	return e
}

func TestGate(t *testing.T) {
	t.Parallel()
	e := engine(t, allTokens)
	cases := []struct {
		method, path string
		allowed      []string // tokens that pass; every other one (and none) is 401
	}{
		{"GET", "/healthz", []string{"", "bogus", apiTok, workerTok, internalTok}},
		{"POST", "/api/catalog/list", []string{apiTok, internalTok}},
		{"POST", "/api/events", []string{workerTok, internalTok}},
		{"GET", "/api/vars/1", []string{apiTok, workerTok, internalTok}},
		{"POST", "/api/postgres/execute", []string{internalTok}},
		{"GET", "/api/internal/outbox/pending-count", []string{internalTok}},
		{"GET", "/api/internal/no-such-route", nil}, // probing internal paths is 401 too
		{"GET", "/api/credentials/x", []string{apiTok, internalTok}},
		{"GET", "/api/credentials/x?include_data=false", []string{apiTok, internalTok}},
		{"GET", "/api/credentials/x?include_data=true", []string{workerTok, internalTok}},
		{"GET", "/api/credentials/x?include_data=yes", []string{workerTok, internalTok}},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			for _, tok := range []string{"", "bogus", apiTok, workerTok, internalTok} {
				want := http.StatusUnauthorized
				for _, a := range tc.allowed {
					if a == tok {
						want = http.StatusNoContent
					}
				}
				if tc.path == "/api/internal/no-such-route" && tok == internalTok {
					want = http.StatusNotFound
				}
				rec := httpkit.Request(t, e, tc.method, tc.path, "", tok)
				if rec.Code != want {
					t.Errorf("token %q: status %d, want %d: %s", tok, rec.Code, want, rec.Body)
					continue
				}
				if want == http.StatusUnauthorized {
					httpkit.WantError(t, rec, 401, "")
				}
			}
		})
	}
}

func TestGateSchemes(t *testing.T) {
	t.Parallel()
	e := engine(t, allTokens)
	for _, tc := range []struct {
		header string
		status int
	}{
		{"Bearer " + apiTok, 204},
		{"bearer " + apiTok, 204},
		{"Bearer  " + apiTok + " ", 204},
		{"Basic " + apiTok, 401},
		{apiTok, 401},
		{"Bearer", 401},
		{"Bearer ", 401},
		{"Bearer " + apiTok + "x", 401},
		{"Bearer " + apiTok[:len(apiTok)-1], 401},
	} {
		req := httptest.NewRequest("POST", "/api/catalog/list", nil)
		req.Header.Set("Authorization", tc.header)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("Authorization %q: %d, want %d", tc.header, rec.Code, tc.status)
		}
		if tc.status == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: no WWW-Authenticate challenge", tc.header)
		}
	}
}

// TestGateMessagesNameTheToken: a 401 says which variable's token the route takes, and
// never echoes what was presented.
func TestGateMessagesNameTheToken(t *testing.T) {
	t.Parallel()
	e := engine(t, allTokens)
	rec := httpkit.Request(t, e, "POST", "/api/events", "", "")
	if m := httpkit.JSONBody(t, rec); !strings.Contains(m["error"].(string), EnvWorkerToken) {
		t.Errorf("missing-token message %q does not name %s", m["error"], EnvWorkerToken)
	}
	rec = httpkit.Request(t, e, "POST", "/api/events", "", "presented-secret-value")
	if strings.Contains(rec.Body.String(), "presented-secret-value") {
		t.Errorf("401 body echoes the presented token: %s", rec.Body)
	}
}

// TestUnsetTokenOpensItsClass: a class whose token is unset is open (as upstream); the
// internal class never is.
func TestUnsetTokenOpensItsClass(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tok    Tokens
		open   []string // paths that answer 204 without a token
		closed []string
	}{
		{"no public tokens", Tokens{Internal: internalTok},
			[]string{"/api/catalog/list", "/api/events", "/api/vars/1", "/api/credentials/x?include_data=true"},
			[]string{"/api/postgres/execute"}},
		{"only the worker token", Tokens{Internal: internalTok, PublicTokens: config.PublicTokens{Worker: workerTok}},
			[]string{"/api/catalog/list", "/api/vars/1", "/api/credentials/x"},
			[]string{"/api/events", "/api/credentials/x?include_data=true", "/api/postgres/execute"}},
		{"only the api token", Tokens{Internal: internalTok, PublicTokens: config.PublicTokens{API: apiTok}},
			[]string{"/api/events", "/api/vars/1", "/api/credentials/x?include_data=true"},
			[]string{"/api/catalog/list", "/api/credentials/x"}},
		{"nothing set", Tokens{}, []string{"/api/catalog/list"}, []string{"/api/postgres/execute", "/api/internal/outbox/pending-count"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := engine(t, tc.tok)
			method := func(p string) string {
				if strings.HasPrefix(p, "/api/vars") || strings.HasPrefix(p, "/api/credentials") || strings.HasPrefix(p, "/api/internal") {
					return "GET"
				}
				return "POST"
			}
			for _, p := range tc.open {
				if rec := httpkit.Request(t, e, method(p), p, "", ""); rec.Code != 204 {
					t.Errorf("%s: %d, want open (204)", p, rec.Code)
				}
			}
			for _, p := range tc.closed {
				if rec := httpkit.Request(t, e, method(p), p, "", ""); rec.Code != 401 {
					t.Errorf("%s: %d, want 401", p, rec.Code)
				}
			}
		})
	}
}

func TestModeAndOpenClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tok  Tokens
		mode string
		open []Class
	}{
		{allTokens, "token", nil},
		{Tokens{Internal: internalTok}, "open", []Class{Client, Worker}},
		{Tokens{PublicTokens: config.PublicTokens{API: apiTok, Worker: "  "}}, "open", []Class{Worker}},
	} {
		if got := tc.tok.Mode(); got != tc.mode {
			t.Errorf("%+v: Mode = %q, want %q", tc.tok.OpenClasses(), got, tc.mode)
		}
		if got := tc.tok.OpenClasses(); len(got) != len(tc.open) || (len(got) > 0 && got[0] != tc.open[0]) {
			t.Errorf("OpenClasses = %v, want %v", got, tc.open)
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	routes := gin.RoutesInfo{{Method: "GET", Path: "/healthz"}, {Method: "POST", Path: "/api/events"}}
	if err := Verify("api", routes); err != nil {
		t.Errorf("classed routes: %v", err)
	}
	if err := Verify("wallet", routes); err == nil || !strings.Contains(err.Error(), "POST /api/events") {
		t.Errorf("an api route served by the wallet: %v, want an error naming it", err)
	}
	if err := CheckCoverage("api", routes); err == nil || !strings.Contains(err.Error(), "does not serve") {
		t.Errorf("CheckCoverage of two api routes = %v, want the unserved ones named", err)
	}
	routes = append(routes, gin.RouteInfo{Method: "PATCH", Path: "/api/events"})
	if err := Verify("api", routes); err == nil || !strings.Contains(err.Error(), "PATCH /api/events") {
		t.Errorf("an unclassed route: %v, want an error naming it", err)
	}
}

// TestWarnOpen: one warning per open class the binary serves, none for classes it does
// not serve (the router and broker serve no public class).
func TestWarnOpen(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	api := gin.RoutesInfo{{Method: "POST", Path: "/api/events"}, {Method: "POST", Path: "/api/events/batch"},
		{Method: "POST", Path: "/api/catalog/list"}, {Method: "GET", Path: "/healthz"}}
	WarnOpen(log, api, Tokens{Internal: internalTok})
	if n := strings.Count(buf.String(), EnvAPIToken+" is not set"); n != 1 {
		t.Errorf("%d warnings for the client class, want 1: %s", n, buf.String())
	}
	if n := strings.Count(buf.String(), EnvWorkerToken+" is not set"); n != 1 {
		t.Errorf("%d warnings for the worker class, want 1: %s", n, buf.String())
	}
	buf.Reset()
	WarnOpen(log, gin.RoutesInfo{{Method: "GET", Path: "/healthz"}}, Tokens{})
	if buf.Len() != 0 {
		t.Errorf("a binary without public routes warned: %s", buf.String())
	}
	buf.Reset()
	WarnOpen(log, api, allTokens)
	if buf.Len() != 0 {
		t.Errorf("warned with every token set: %s", buf.String())
	}
}

// TestTableIsWellFormed: keys are "METHOD /path", every rule names a service and a
// known class, and the probe routes are the only ones every binary serves.
func TestTableIsWellFormed(t *testing.T) {
	t.Parallel()
	known := map[Class]bool{Open: true, Client: true, Worker: true, ClientOrWorker: true, Internal: true}
	for key, r := range Table {
		method, path, ok := strings.Cut(key, " ")
		if !ok || method != strings.ToUpper(method) || !strings.HasPrefix(path, "/") {
			t.Errorf("key %q is not \"METHOD /path\"", key)
		}
		if !known[r.Class] {
			t.Errorf("%s: unknown class %q", key, r.Class)
		}
		switch r.Service {
		case "api", "wallet", "broker", "router", AnyService:
		default:
			t.Errorf("%s: unknown service %q", key, r.Service)
		}
		if (strings.HasPrefix(path, "/api/internal/") || strings.HasPrefix(path, "/internal/")) && r.Class != Internal {
			t.Errorf("%s is under an internal prefix but classed %s", key, r.Class)
		}
	}
	for key := range ReleasesValue {
		if _, ok := Table[key]; !ok || !strings.HasPrefix(key, "GET ") {
			t.Errorf("ReleasesValue lists %q, which is not a GET route of Table", key)
		}
	}
}

// The worker's playbook tool starts a child, polls its status, reads its event log for
// the returned step's data and cancels it when the parent is cancelled, all with the
// worker token: every route it calls must take that token (under `make run`, with both
// tokens set, a child's event log answered 401 and every sub-playbook with a
// return_step failed).
func TestPlaybookToolRoutesTakeTheWorkerToken(t *testing.T) {
	t.Parallel()
	for _, route := range []string{
		"POST /api/execute",
		"GET /api/executions/:execution_id/status",
		"GET /api/executions/:execution_id",
		"GET /api/executions/:execution_id/events",
		"POST /api/executions/:execution_id/cancel",
		"GET /api/result/resolve",
	} {
		t.Run(route, func(t *testing.T) {
			t.Parallel()
			r, ok := Table[route]
			if !ok {
				t.Fatalf("%s has no class", route)
			}
			if r.Class != Worker && r.Class != ClientOrWorker {
				t.Errorf("%s is %s: the worker token is refused", route, r.Class)
			}
		})
	}
}

// TestGateBeforeWrongMethod: a request no route takes learns neither 405 (and the path's
// methods) nor 404 before it authenticates, with every token set: wrong method, unknown
// path and existing route all answer 401 alike, without Allow. A token a route of the
// path takes (or any token, for an unknown path) gets the 405 with Allow, or the 404. An
// open route's path keeps its 405, and HEAD is served with the GET route's class.
func TestGateBeforeWrongMethod(t *testing.T) {
	t.Parallel()
	e := engine(t, allTokens)
	all := []string{"", "bogus", apiTok, workerTok, internalTok}
	cases := []struct {
		name, method, path string
		status             int      // for the tokens in passing; 401 for the others
		passing            []string // nil: every token
		allow              string
	}{
		{"wrong method, client route", "DELETE", "/api/catalog/list", 405, []string{apiTok, internalTok}, "POST"},
		{"wrong method, worker route", "GET", "/api/events", 405, []string{workerTok, internalTok}, "POST"},
		{"wrong method, route with a parameter", "PUT", "/api/vars/1", 405, []string{apiTok, workerTok, internalTok}, "GET, HEAD"},
		{"OPTIONS is a wrong method", "OPTIONS", "/api/catalog/list", 405, []string{apiTok, internalTok}, "POST"},
		{"HEAD without a GET route", "HEAD", "/api/events", 405, []string{workerTok, internalTok}, "POST"},
		{"unknown path", "GET", "/api/no-such-route", 404, []string{apiTok, workerTok, internalTok}, ""},
		{"wrong method, open route", "POST", "/healthz", 405, nil, "GET, HEAD"},
		{"HEAD on an open route", "HEAD", "/healthz", 204, nil, ""},
		{"HEAD on a client route", "HEAD", "/api/credentials/x", 204, []string{apiTok, internalTok}, ""},
		{"HEAD on an internal route", "HEAD", "/api/internal/outbox/pending-count", 204, []string{internalTok}, ""},
	}
	var unauthorized []string // the 401 messages without a token: one for all
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, tok := range all {
				want := tc.status
				if tc.passing != nil && !slices.Contains(tc.passing, tok) {
					want = http.StatusUnauthorized
				}
				rec := httpkit.Request(t, e, tc.method, tc.path, "", tok)
				if rec.Code != want {
					t.Errorf("token %q: %d, want %d: %s", tok, rec.Code, want, rec.Body)
					continue
				}
				allow := rec.Header().Get("Allow")
				switch {
				case want == http.StatusMethodNotAllowed && allow != tc.allow:
					t.Errorf("token %q: Allow %q, want %q", tok, allow, tc.allow)
				case want != http.StatusMethodNotAllowed && allow != "":
					t.Errorf("token %q: %d carries Allow %q", tok, want, allow)
				}
				if tc.method == "HEAD" && tc.allow == "" && rec.Body.Len() != 0 { // served as GET
					t.Errorf("token %q: HEAD has a body %q", tok, rec.Body)
				}
				if want == http.StatusUnauthorized && tok == "" && tc.method != "HEAD" && !strings.HasPrefix(tc.path, "/api/internal/") {
					unauthorized = append(unauthorized, httpkit.JSONBody(t, rec)["error"].(string))
				}
			}
		})
	}
	for _, m := range unauthorized[1:] {
		if m != unauthorized[0] {
			t.Errorf("401 messages differ between a wrong method and an unknown path: %q, %q", unauthorized[0], m)
		}
	}
}

// TestGateUnmatchedHalfOpen: with one public token unset, a wrong method on a path of
// its open class answers 405 to anyone, and an unknown path still needs a token.
func TestGateUnmatchedHalfOpen(t *testing.T) {
	t.Parallel()
	e := engine(t, Tokens{Internal: internalTok, PublicTokens: config.PublicTokens{API: apiTok}})
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/events", 405},          // worker class, open
		{"DELETE", "/api/catalog/list", 401}, // client class, closed
		{"GET", "/api/no-such-route", 401},
	} {
		if rec := httpkit.Request(t, e, tc.method, tc.path, "", ""); rec.Code != tc.status {
			t.Errorf("%s %s without a token: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
	}
	e = engine(t, Tokens{Internal: internalTok})
	if rec := httpkit.Request(t, e, "GET", "/api/no-such-route", "", ""); rec.Code != 404 {
		t.Errorf("unknown path with no public token set: %d, want 404 as upstream", rec.Code)
	}
}

func TestMatchTemplate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tmpl, path string
		want       bool
	}{
		{"/api/events", "/api/events", true},
		{"/api/events", "/api/events/batch", false},
		{"/api/vars/:execution_id", "/api/vars/1", true},
		{"/api/vars/:execution_id", "/api/vars/", false},
		{"/api/vars/:execution_id", "/api/vars/1/x", false},
		{"/api/catalog/*tail", "/api/catalog/a/b/ui_schema", true},
		{"/api/catalog/*tail", "/api/catalog/", true},
		{"/api/catalog/*tail", "/api/catalo", false},
	} {
		if got := matchTemplate(tc.tmpl, tc.path); got != tc.want {
			t.Errorf("matchTemplate(%q, %q) = %v, want %v", tc.tmpl, tc.path, got, tc.want)
		}
	}
}

// TestRequire: a handler that finds in the body that a request needs more than its
// route's class raises it with Require, which answers as the gate would (401 naming the
// tokens, with the challenge; open while the class's token is unset), and fails closed
// without the gate.
func TestRequire(t *testing.T) {
	t.Parallel()
	serve := func(tok Tokens, gated bool) *gin.Engine {
		e := httpx.NewEngine(httpx.Options{Service: "test", Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20})
		if gated {
			e.Use(Gate(tok))
		}
		// A ClientOrWorker route (vars) whose handler raises the request to Worker.
		e.GET("/api/vars/:execution_id", httpx.Handle(func(c *gin.Context) (map[string]string, error) {
			if err := Require(c, Worker, "writing this"); err != nil {
				return nil, err
			}
			return map[string]string{"ok": "yes"}, nil
		}))
		return e
	}
	onlyAPI := Tokens{Internal: internalTok, PublicTokens: config.PublicTokens{API: apiTok}}
	for _, tc := range []struct {
		name   string
		tok    Tokens
		gated  bool
		token  string
		status int
	}{
		{"worker token", allTokens, true, workerTok, 200},
		{"internal token", allTokens, true, internalTok, 200},
		{"client token", allTokens, true, apiTok, 401},
		{"worker token unset: open", onlyAPI, true, apiTok, 200},
		{"no gate", allTokens, false, workerTok, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httpkit.Request(t, serve(tc.tok, tc.gated), "GET", "/api/vars/1", "", tc.token)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 401 {
				return
			}
			msg := httpkit.JSONBody(t, rec)["error"].(string)
			if !strings.HasPrefix(msg, "invalid token for writing this") || !strings.Contains(msg, EnvWorkerToken) || strings.Contains(msg, apiTok) {
				t.Errorf("401 message %q: want what needs the token and %s, never the presented token", msg, EnvWorkerToken)
			}
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Error("401 without a WWW-Authenticate challenge")
			}
		})
	}
}
