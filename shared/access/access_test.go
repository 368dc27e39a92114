package access

import "bytes"
import "io"
import "log/slog"
import "net/http"
import "net/http/httptest"
import "slices"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

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

// TestGateRefusesTwoAuthorizationHeaders: a request with two Authorization headers is
// refused whichever of them holds a token the route takes (the gate read the first; a
// proxy in front may read the last), on a public route and under the internal prefix.
func TestGateRefusesTwoAuthorizationHeaders(t *testing.T) {
	t.Parallel()
	e := engine(t, allTokens)
	for _, tc := range []struct{ path, tok string }{
		{"/api/catalog/list", apiTok},
		{"/api/internal/outbox/pending-count", internalTok},
	} {
		method := "POST"
		if strings.HasPrefix(tc.path, "/api/internal/") {
			method = "GET"
		}
		for _, pair := range [][2]string{{"Bearer " + tc.tok, "Bearer bogus"}, {"Bearer bogus", "Bearer " + tc.tok}, {"Bearer " + tc.tok, "Bearer " + tc.tok}} {
			req := httptest.NewRequest(method, tc.path, nil)
			req.Header.Add("Authorization", pair[0])
			req.Header.Add("Authorization", pair[1])
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s %s with %q: %d, want 401", method, tc.path, pair, rec.Code)
			}
		}
		req := httptest.NewRequest(method, tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+tc.tok)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code == http.StatusUnauthorized {
			t.Errorf("%s %s with one header: 401", method, tc.path)
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

// TestOneTokenClosesEveryClass: with one public token set, a class whose own token is
// unset takes the one that is set, and its 401 names that one (never the unset variable):
// an unauthenticated caller reads no credential value because NOETL_WORKER_TOKEN was left
// unset, nor manages the catalog because NOETL_API_TOKEN was.
func TestOneTokenClosesEveryClass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		tok        Tokens
		set, unset string // the token that is set, and the variable left unset
	}{
		{"only the api token", Tokens{Internal: internalTok, PublicTokens: config.PublicTokens{API: apiTok}}, apiTok, EnvWorkerToken},
		{"only the worker token", Tokens{Internal: internalTok, PublicTokens: config.PublicTokens{Worker: workerTok}}, workerTok, EnvAPIToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := engine(t, tc.tok)
			for _, r := range []struct {
				method, path string
				allowed      []string
			}{
				{"GET", "/healthz", []string{"", "bogus", apiTok, workerTok, internalTok}},
				{"POST", "/api/catalog/list", []string{tc.set, internalTok}},
				{"POST", "/api/events", []string{tc.set, internalTok}},
				{"GET", "/api/vars/1", []string{tc.set, internalTok}},
				{"GET", "/api/credentials/x", []string{tc.set, internalTok}},
				{"GET", "/api/credentials/x?include_data=true", []string{tc.set, internalTok}},
				{"POST", "/api/postgres/execute", []string{internalTok}},
			} {
				for _, presented := range []string{"", "bogus", apiTok, workerTok, internalTok} {
					want := http.StatusUnauthorized
					if slices.Contains(r.allowed, presented) {
						want = http.StatusNoContent
					}
					rec := httpkit.Request(t, e, r.method, r.path, "", presented)
					if rec.Code != want {
						t.Errorf("%s %s, token %q: %d, want %d: %s", r.method, r.path, presented, rec.Code, want, rec.Body)
						continue
					}
					if want == http.StatusUnauthorized && r.path != "/api/postgres/execute" &&
						strings.Contains(httpkit.JSONBody(t, rec)["error"].(string), tc.unset) {
						t.Errorf("%s %s: the 401 names %s, which is not set: %s", r.method, r.path, tc.unset, rec.Body)
					}
				}
			}
		})
	}
}

// TestNoPublicTokenOpensThePublicClasses: with neither public token set the public
// classes are open (as upstream); the internal class never is.
func TestNoPublicTokenOpensThePublicClasses(t *testing.T) {
	t.Parallel()
	for _, tok := range []Tokens{{Internal: internalTok}, {}} {
		e := engine(t, tok)
		for _, r := range []struct {
			method, path string
			status       int
		}{
			{"POST", "/api/catalog/list", 204},
			{"POST", "/api/events", 204},
			{"GET", "/api/vars/1", 204},
			{"GET", "/api/credentials/x?include_data=true", 204},
			{"POST", "/api/postgres/execute", 401},
			{"GET", "/api/internal/outbox/pending-count", 401},
		} {
			if rec := httpkit.Request(t, e, r.method, r.path, "", ""); rec.Code != r.status {
				t.Errorf("internal token set %v: %s %s without a token: %d, want %d", tok.Internal.IsSet(), r.method, r.path, rec.Code, r.status)
			}
		}
	}
}

func TestModeAndOpenClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		tok  Tokens
		mode string
		open []Class
	}{
		{"both set", allTokens, "token", nil},
		{"neither set", Tokens{Internal: internalTok}, "open", []Class{Client, Worker}},
		{"only the api token (a blank one is unset)", Tokens{PublicTokens: config.PublicTokens{API: apiTok, Worker: "  "}}, "token", nil},
		{"only the worker token", Tokens{PublicTokens: config.PublicTokens{Worker: workerTok}}, "token", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.tok.Mode(); got != tc.mode {
				t.Errorf("Mode = %q, want %q", got, tc.mode)
			}
			if got := tc.tok.OpenClasses(); !slices.Equal(got, tc.open) {
				t.Errorf("OpenClasses = %v, want %v", got, tc.open)
			}
		})
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

// TestWarnOpen: one warning per public class the binary serves whose own token is unset
// (open, or taking the other token), none for classes it does not serve (the router and
// broker serve no public class) nor with both tokens set.
func TestWarnOpen(t *testing.T) {
	t.Parallel()
	api := gin.RoutesInfo{{Method: "POST", Path: "/api/events"}, {Method: "POST", Path: "/api/events/batch"},
		{Method: "POST", Path: "/api/catalog/list"}, {Method: "GET", Path: "/healthz"}}
	probes := gin.RoutesInfo{{Method: "GET", Path: "/healthz"}}
	const (
		clientOpen   = EnvAPIToken + " is not set: the client routes are open to anyone"
		workerOpen   = EnvWorkerToken + " is not set: the worker routes are open to anyone"
		clientTakesW = EnvAPIToken + " is not set: the client routes take " + EnvWorkerToken
		workerTakesA = EnvWorkerToken + " is not set: the worker routes take " + EnvAPIToken
	)
	for _, tc := range []struct {
		name   string
		routes gin.RoutesInfo
		tok    Tokens
		want   []string // each logged exactly once, and nothing else
	}{
		{"neither set", api, Tokens{Internal: internalTok}, []string{clientOpen, workerOpen}},
		{"only the api token", api, Tokens{PublicTokens: config.PublicTokens{API: apiTok}}, []string{workerTakesA}},
		{"only the worker token", api, Tokens{PublicTokens: config.PublicTokens{Worker: workerTok}}, []string{clientTakesW}},
		{"both set", api, allTokens, nil},
		{"no public routes", probes, Tokens{}, nil},
		{"no public routes, one token", probes, Tokens{PublicTokens: config.PublicTokens{API: apiTok}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			WarnOpen(slog.New(slog.NewJSONHandler(&buf, nil)), tc.routes, tc.tok)
			for _, w := range tc.want {
				if n := strings.Count(buf.String(), w); n != 1 {
					t.Errorf("%d warnings %q, want 1: %s", n, w, buf.String())
				}
			}
			if n := strings.Count(buf.String(), "\n"); n != len(tc.want) {
				t.Errorf("%d warnings, want %d: %s", n, len(tc.want), buf.String())
			}
			for _, secret := range []string{apiTok, workerTok, internalTok} {
				if strings.Contains(buf.String(), secret) {
					t.Errorf("a warning carries a token: %s", buf.String())
				}
			}
		})
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

// TestGateUnmatchedOneToken: with one public token set, a wrong method or an unknown
// path answers 401 without a token on every public path (both classes take that token),
// and its 405 or 404 to that token; with neither set they answer as upstream.
func TestGateUnmatchedOneToken(t *testing.T) {
	t.Parallel()
	e := engine(t, Tokens{Internal: internalTok, PublicTokens: config.PublicTokens{API: apiTok}})
	for _, tc := range []struct {
		method, path string
		status       int // with the api token; 401 without
	}{
		{"GET", "/api/events", 405},          // worker class, takes the api token
		{"DELETE", "/api/catalog/list", 405}, // client class
		{"GET", "/api/no-such-route", 404},
	} {
		if rec := httpkit.Request(t, e, tc.method, tc.path, "", ""); rec.Code != 401 {
			t.Errorf("%s %s without a token: %d, want 401", tc.method, tc.path, rec.Code)
		}
		if rec := httpkit.Request(t, e, tc.method, tc.path, "", apiTok); rec.Code != tc.status {
			t.Errorf("%s %s with the api token: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
	}
	e = engine(t, Tokens{Internal: internalTok})
	if rec := httpkit.Request(t, e, "GET", "/api/events", "", ""); rec.Code != 405 {
		t.Errorf("wrong method with no public token set: %d, want 405 as upstream", rec.Code)
	}
	if rec := httpkit.Request(t, e, "GET", "/api/no-such-route", "", ""); rec.Code != 404 {
		t.Errorf("unknown path with no public token set: %d, want 404 as upstream", rec.Code)
	}
}

// TestForwardingGate: a request no route takes goes on without a token when the binary
// forwards its path (the service behind authenticates it), and is answered like Gate's
// unknown path otherwise; the internal prefixes stay gated whether forwarded or not.
func TestForwardingGate(t *testing.T) {
	t.Parallel()
	e := httpx.NewEngine(httpx.Options{Service: "test", Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20})
	e.Use(ForwardingGate(allTokens, func(path string) bool { return strings.HasPrefix(path, "/api/") }))
	e.GET("/healthz", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	e.NoRoute(func(c *gin.Context) { c.Status(http.StatusAccepted) }) // forwarded, or not
	for _, tc := range []struct {
		path          string
		none, withTok int
	}{
		{"/api/anything", 202, 202},
		{"/", 401, 202},
		{"/nonexistent", 401, 202},
		{"/api/internal/outbox/pending-count", 401, 401}, // the internal token only
		{"/healthz", 204, 204},
	} {
		if rec := httpkit.Request(t, e, "GET", tc.path, "", ""); rec.Code != tc.none {
			t.Errorf("GET %s without a token: %d, want %d", tc.path, rec.Code, tc.none)
		}
		if rec := httpkit.Request(t, e, "GET", tc.path, "", workerTok); rec.Code != tc.withTok {
			t.Errorf("GET %s with the worker token: %d, want %d", tc.path, rec.Code, tc.withTok)
		}
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
		{"worker token unset: the api token stands in", onlyAPI, true, apiTok, 200},
		{"no public token: open", Tokens{Internal: internalTok}, true, "", 200},
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
