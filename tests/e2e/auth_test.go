package e2e

import "encoding/json"
import "maps"
import "net/http"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/access"

const (
	e2eAPIToken    = "e2e-api-token"
	e2eWorkerToken = "e2e-worker-token"
)

// samplePath fills a route template with values of the right shape; the routes answer
// 404 or 422 for them, which is all an authentication check needs (not 401).
func samplePath(template string) string {
	repl := strings.NewReplacer(
		":execution_id", "1", ":event_id", "1", ":catalog_id", "1", ":identifier", "x",
		":keychain_name", "k", ":var_name", "v", "*tail", "p/ui_schema", "*alias", "a")
	return repl.Replace(template)
}

// TestPublicSurfaceAuthentication runs the suite with every token set and sends each
// route of shared/access.Table through the router: without a token, with a wrong one and
// with a token of another class it answers 401 with the envelope; with a token its class
// accepts (and always with the internal token) it answers something else.
func TestPublicSurfaceAuthentication(t *testing.T) {
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{
		"NOETL_API_TOKEN": e2eAPIToken, "NOETL_WORKER_TOKEN": e2eWorkerToken,
	}})
	tokens := map[string]string{"client": e2eAPIToken, "worker": e2eWorkerToken, "internal": s.Token, "wrong": "not-a-token", "none": ""}
	accepts := map[access.Class][]string{
		access.Open:           {"none", "wrong", "client", "worker", "internal"},
		access.Client:         {"client", "internal"},
		access.Worker:         {"worker", "internal"},
		access.ClientOrWorker: {"client", "worker", "internal"},
		access.Internal:       {"internal"},
	}
	keys := slices.Sorted(maps.Keys(access.Table))
	type probe struct {
		method, path string
		class        access.Class
		// refused: a HEAD on a route whose every answer is a secret value, which a caller
		// the route accepts gets as 405 (a HEAD never releases a value).
		refused bool
	}
	var probes []probe
	for _, k := range keys {
		method, tmpl, _ := strings.Cut(k, " ")
		rule := access.Table[k]
		if method == http.MethodHead {
			continue // the probes' HEAD routes: the HEAD probe of their GET entry covers them
		}
		probes = append(probes, probe{method: method, path: samplePath(tmpl), class: rule.Class})
		if method == http.MethodGet {
			// Every GET route serves HEAD, through the same gate.
			probes = append(probes, probe{method: http.MethodHead, path: samplePath(tmpl), class: rule.Class, refused: access.ReleasesValue[k]})
		}
		if rule.ValuesParam != "" {
			probes = append(probes, probe{method: method, path: samplePath(tmpl) + "?" + rule.ValuesParam + "=true", class: access.Worker})
		}
	}
	for _, p := range probes {
		t.Run(p.method+" "+p.path, func(t *testing.T) {
			allowed := map[string]bool{}
			for _, name := range accepts[p.class] {
				allowed[name] = true
			}
			for _, name := range []string{"none", "wrong", "client", "worker", "internal"} {
				hdr := map[string]string{}
				if tokens[name] != "" {
					hdr["Authorization"] = "Bearer " + tokens[name]
				}
				body, ct := "", ""
				if p.method == http.MethodPost || p.method == http.MethodPut {
					body, ct = "{}", "application/json"
				}
				resp, out := s.Do(t, p.method, p.path, ct, body, hdr)
				switch {
				case allowed[name] && p.refused:
					if resp.StatusCode != http.StatusMethodNotAllowed || out != "" {
						t.Errorf("token %s: %d with body %q, want 405 without a body (a HEAD releases no value)", name, resp.StatusCode, out)
					}
				case allowed[name]:
					if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusMethodNotAllowed {
						t.Errorf("token %s: %d, want it accepted: %s", name, resp.StatusCode, out)
					}
				case p.method == http.MethodHead: // no body to hold the envelope
					if resp.StatusCode != http.StatusUnauthorized || out != "" {
						t.Errorf("token %s: %d with body %q, want 401 without a body", name, resp.StatusCode, out)
					}
				default:
					mustEnvelope(t, resp, out, http.StatusUnauthorized)
				}
			}
		})
	}

	// The gate classes a request by its route; a keychain write into an execution's own
	// entry is raised to the worker class by the wallet once it has read the body, and
	// answers the same envelope through the router. (Catalog entry 1 does not exist: a
	// write that passes authentication answers 404.)
	t.Run("keychain write into an execution takes the worker token", func(t *testing.T) {
		for _, tc := range []struct {
			name, body string
			status     map[string]int // by token name; every other token answers 401
		}{
			{"local with an execution", `{"data":{"password":"planted"},"scope_type":"local","execution_id":7}`,
				map[string]int{"worker": http.StatusNotFound, "internal": http.StatusNotFound}},
			{"shared with an execution", `{"data":"planted","scope_type":"shared","execution_id":"7"}`,
				map[string]int{"worker": http.StatusNotFound, "internal": http.StatusNotFound}},
			{"global", `{"data":"seeded"}`,
				map[string]int{"client": http.StatusNotFound, "worker": http.StatusNotFound, "internal": http.StatusNotFound}},
		} {
			for _, name := range []string{"none", "wrong", "client", "worker", "internal"} {
				hdr := map[string]string{}
				if tokens[name] != "" {
					hdr["Authorization"] = "Bearer " + tokens[name]
				}
				resp, out := s.Do(t, http.MethodPost, "/api/keychain/1/k", "application/json", tc.body, hdr)
				want, ok := tc.status[name]
				if !ok {
					want = http.StatusUnauthorized
				}
				if resp.StatusCode != want {
					t.Errorf("%s, token %s: %d %s, want %d", tc.name, name, resp.StatusCode, out, want)
				}
				if want == http.StatusUnauthorized {
					mustEnvelope(t, resp, out, http.StatusUnauthorized)
				}
			}
		}
	})

	t.Run("wrong method and unknown path answer 401 before 404 or 405", func(t *testing.T) {
		bearer := func(tok string) map[string]string {
			if tok == "" {
				return nil
			}
			return map[string]string{"Authorization": "Bearer " + tok}
		}
		for _, tc := range []struct {
			method, path string
			passing      string // a token that learns the answer
			status       int
			allow        string
		}{
			{http.MethodDelete, "/api/executions", e2eAPIToken, http.StatusMethodNotAllowed, "GET, HEAD"},
			{http.MethodGet, "/api/events", e2eWorkerToken, http.StatusMethodNotAllowed, "POST"},
			{http.MethodOptions, "/api/credentials", e2eAPIToken, http.StatusMethodNotAllowed, "POST, GET, HEAD"},
			{http.MethodGet, "/api/no-such-route", e2eWorkerToken, http.StatusNotFound, ""},
			// Paths the router forwards nowhere: the router itself answers 401 first.
			{http.MethodGet, "/", e2eAPIToken, http.StatusNotFound, ""},
			{http.MethodGet, "/nonexistent", e2eWorkerToken, http.StatusNotFound, ""},
			{http.MethodPost, "/API/executions", e2eAPIToken, http.StatusNotFound, ""},
		} {
			for _, tok := range []string{"", "not-a-token", tc.passing} {
				resp, out := s.Do(t, tc.method, tc.path, "", "", bearer(tok))
				want := http.StatusUnauthorized
				if tok == tc.passing {
					want = tc.status
				}
				mustEnvelope(t, resp, out, want)
				allow := resp.Header.Get("Allow")
				if (want == http.StatusMethodNotAllowed && allow != tc.allow) || (want != http.StatusMethodNotAllowed && allow != "") {
					t.Errorf("%s %s with token %q: %d, Allow %q (want %q on the 405 only)", tc.method, tc.path, tok, want, allow, tc.allow)
				}
			}
		}
	})
	t.Run("HEAD answers like GET without a body", func(t *testing.T) {
		for _, tc := range []struct {
			path, token string
		}{
			{"/api/health", ""},              // open, the api's
			{"/healthz", ""},                 // open, the router's own
			{"/api/openapi.json", ""},        // open, the router's own
			{"/api/executions", e2eAPIToken}, // client class
		} {
			hdr := map[string]string{}
			if tc.token != "" {
				hdr["Authorization"] = "Bearer " + tc.token
			}
			resp, out := s.Do(t, http.MethodHead, tc.path, "", "", hdr)
			if resp.StatusCode != http.StatusOK || out != "" {
				t.Errorf("HEAD %s: %d with body %q, want 200 without a body", tc.path, resp.StatusCode, out)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("HEAD %s: Content-Type %q, want the GET's", tc.path, ct)
			}
		}
	})
	t.Run("api health reports token auth", func(t *testing.T) {
		_, body := s.Get(t, "/api/health")
		var h map[string]any
		_ = json.Unmarshal([]byte(body), &h)
		if h["auth"] != "token" {
			t.Errorf("/api/health auth = %v, want token: %s", h["auth"], body)
		}
	})
	t.Run("no open-class warnings", func(t *testing.T) {
		for _, p := range []*Proc{s.API, s.Wallet} {
			if strings.Contains(p.Output(), "is not set: the ") {
				t.Errorf("%s warns about an open class with every token set:\n%s", p.Name, tail(p.Output(), 20))
			}
		}
	})
}

// TestOnePublicTokenClosesTheSurface runs the suite with NOETL_API_TOKEN set and
// NOETL_WORKER_TOKEN unset: every client, worker and client-or-worker route (credential
// values included) answers 401 without a token and takes the api token, /api/health
// reports token auth, the api and the wallet say which token the worker routes take, and a
// worker given that token as its NOETL_WORKER_TOKEN, or as its NOETL_API_TOKEN alone,
// registers (a single shared token keeps working).
func TestOnePublicTokenClosesTheSurface(t *testing.T) {
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{"NOETL_API_TOKEN": e2eAPIToken}})
	bearer := map[string]string{"Authorization": "Bearer " + e2eAPIToken}
	keys := slices.Sorted(maps.Keys(access.Table))
	for _, k := range keys {
		method, tmpl, _ := strings.Cut(k, " ")
		rule := access.Table[k]
		if method == http.MethodHead || rule.Class == access.Open || rule.Class == access.Internal {
			continue
		}
		path := samplePath(tmpl)
		if rule.ValuesParam != "" {
			path += "?" + rule.ValuesParam + "=true"
		}
		t.Run(method+" "+path, func(t *testing.T) {
			body, ct := "", ""
			if method == http.MethodPost || method == http.MethodPut {
				body, ct = "{}", "application/json"
			}
			resp, out := s.Do(t, method, path, ct, body, nil)
			mustEnvelope(t, resp, out, http.StatusUnauthorized)
			if strings.Contains(out, access.EnvWorkerToken) {
				t.Errorf("the 401 names %s, which is not set: %s", access.EnvWorkerToken, out)
			}
			if resp, out := s.Do(t, method, path, ct, body, bearer); resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusMethodNotAllowed {
				t.Errorf("with the api token: %d, want it accepted: %s", resp.StatusCode, out)
			}
		})
	}
	t.Run("api health reports token auth", func(t *testing.T) {
		_, body := s.Get(t, "/api/health")
		var h map[string]any
		_ = json.Unmarshal([]byte(body), &h)
		if h["auth"] != "token" {
			t.Errorf("/api/health auth = %v, want token: %s", h["auth"], body)
		}
	})
	t.Run("the warning names the token the worker routes take", func(t *testing.T) {
		const takes = "NOETL_WORKER_TOKEN is not set: the worker routes take NOETL_API_TOKEN"
		for _, p := range []*Proc{s.API, s.Wallet} {
			if n := strings.Count(p.Output(), takes); n != 1 {
				t.Errorf("%s logged %q %d times, want 1:\n%s", p.Name, takes, n, tail(p.Output(), 20))
			}
			if strings.Contains(p.Output(), "open to anyone") || strings.Contains(p.Output(), e2eAPIToken) {
				t.Errorf("%s warns of an open class, or logs the token:\n%s", p.Name, tail(p.Output(), 20))
			}
		}
	})
	// The shared token reaches a worker as its NOETL_WORKER_TOKEN, or as its
	// NOETL_API_TOKEN alone (the one variable of a one-token deployment).
	for _, variable := range []string{access.EnvWorkerToken, access.EnvAPIToken} {
		t.Run("a worker with the shared token as "+variable+" registers", func(t *testing.T) {
			w := s.StartWorker(t, map[string]string{variable: e2eAPIToken})
			registered := eventually(30*time.Second, func() bool {
				resp, out := s.Do(t, http.MethodGet, "/api/worker/pools", "", "", bearer)
				return resp.StatusCode == http.StatusOK && strings.Contains(out, w.ID)
			})
			if !registered {
				t.Fatalf("worker %s did not register with the shared token\n%s", w.ID, tail(w.Output(), 30))
			}
		})
	}
}
