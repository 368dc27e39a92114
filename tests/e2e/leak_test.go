package e2e

import "context"
import "encoding/base64"
import "encoding/json"
import "fmt"
import "io"
import "maps"
import "net/http"
import "net/http/httptest"
import "net/url"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/testkit"

// The secrets the leak test stores. Each holds characters that URL encoding changes, so a
// secret that reaches output percent-encoded is told apart from one that reaches it as
// written.
const (
	leakPGPassword = "PgPw+leak/9=x"
	leakBearer     = "BearTok+leak/7=y"
	leakBasicPw    = "BasicPw+leak/5=z"
	leakAPIKey     = "ApiKey+leak/3=w"
	leakPlain      = "PlainSec+leak/1=v"
	leakIssued     = "Issued+leak/6=q" // a token a server hands out, which no credential holds
)

// The suite's own secrets: its public tokens (the internal one is the suite's) and its
// encryption key.
const (
	leakAPIToken    = "ApiTok+leak/2=u"
	leakWorkerToken = "WorkerTok+leak/4=t"
)

var leakSecrets = []string{"Probe+leak/8=s", leakIssued, leakPGPassword, leakBearer, leakBasicPw, leakAPIKey, leakPlain,
	leakAPIToken, leakWorkerToken, "e2e-internal-token", "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkq"}

// leakEcho answers every request with what it received: headers, query and URL, the way
// a debugging endpoint or a misbehaving API reflects a credential back.
func leakEcho() *httptest.Server {
	mux := http.NewServeMux()
	echo := func(w http.ResponseWriter, r *http.Request, status int) {
		user, pass, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Authorization", r.Header.Get("Authorization"))
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"headers": r.Header, "query": r.URL.RawQuery, "url": r.URL.String(),
			"basic_user": user, "basic_pass": pass, "note": "auth was " + r.Header.Get("Authorization"),
		})
	}
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { echo(w, r, http.StatusOK) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { echo(w, r, http.StatusInternalServerError) })
	mux.HandleFunc("/issued", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(`upstream answered {"access_token": "` + leakIssued + `", "scope": "read"} and then failed`))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		// To a closed port, with the caller's query: the failure names the URL.
		http.Redirect(w, r, "http://127.0.0.1:1/gone?"+r.URL.RawQuery, http.StatusFound)
	})
	return httptest.NewServer(mux)
}

// leakCase is a step that handles a credential the way a careless step or server does.
type leakCase struct {
	name, tool string
	status     string // the step's outcome, call.done or call.error
}

func leakPlaybook(name, tool string) string {
	return fmt.Sprintf(`apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: %[1]s
  path: e2e/leak/%[1]s
workflow:
  - step: start
    tool:
%[2]s
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
`, name, indent(tool, "      "))
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pre + l
	}
	return strings.Join(lines, "\n")
}

// TestSecretsStayOutOfEverything stores a credential of each type, has real worker
// steps echo, print, raise, encode and return them (http, postgres, python, shell), and
// then reads everything the control plane keeps or shows: each execution's event log and
// detail, every row of the api's tables, every process's output and every service's
// /metrics. No secret may appear in any of them, as written or percent-encoded.
// The worker fetches credentials in the clear (over the router's TLS) or sealed to its
// own key; both must keep them out.
func TestSecretsStayOutOfEverything(t *testing.T) {
	for _, sealed := range []string{"false", "true"} {
		t.Run("sealed="+sealed, func(t *testing.T) {
			secretsStayOut(t, map[string]string{"NOETL_WORKER_TOKEN": leakWorkerToken, "NOETL_SEALED_CREDENTIALS": sealed})
		})
	}
}

func secretsStayOut(t *testing.T, workerEnv map[string]string) {
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{"NOETL_API_TOKEN": leakAPIToken, "NOETL_WORKER_TOKEN": leakWorkerToken}})
	w := s.StartWorker(t, workerEnv)
	echo := leakEcho()
	defer echo.Close()
	c := newRTClientWithToken(s, leakAPIToken)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for _, cred := range []map[string]any{
		{"name": "lk_pg", "type": "postgres", "data": map[string]any{"db_host": "127.0.0.1", "db_port": 5432, "db_user": "postgres", "db_password": leakPGPassword, "db_name": "postgres"}},
		{"name": "lk_pg_bad", "type": "postgres", "data": map[string]any{"db_host": "127.0.0.1", "db_port": 1, "db_user": "postgres", "db_password": leakPGPassword, "db_name": "postgres"}},
		{"name": "lk_pg_dsn", "type": "postgres", "data": map[string]any{"connection_string": "postgresql://postgres:" + leakPGPassword + "@127.0.0.1:5432/postgres"}},
		{"name": "lk_bear", "type": "bearer", "data": map[string]any{"token": leakBearer}},
		{"name": "lk_basic", "type": "basic", "data": map[string]any{"username": "alice", "password": leakBasicPw}},
		{"name": "lk_apik", "type": "api_key", "data": map[string]any{"api_key": leakAPIKey}},
		{"name": "lk_plain", "type": "generic", "data": map[string]any{"value": leakPlain}},
	} {
		if err := c.createCredential(ctx, cred); err != nil {
			t.Fatal(err)
		}
	}
	u := echo.URL
	const done, failed = "call.done", "call.error"
	cases := []leakCase{
		{"http_bearer_echo", "kind: http\nurl: " + u + "/echo\nauth: lk_bear", done},
		{"http_basic_echo", "kind: http\nurl: " + u + "/echo\nauth: lk_basic", done},
		{"http_apikey_echo", "kind: http\nurl: " + u + "/echo\nauth: lk_apik", done},
		{"http_bearer_fail", "kind: http\nurl: " + u + "/fail\nauth: lk_bear", failed},
		{"http_query_param", "kind: http\nurl: " + u + "/echo\nparams:\n  access_token: \"{{ keychain.lk_bear.token }}\"", done},
		{"http_query_in_url", "kind: http\nurl: \"" + u + "/echo?k={{ keychain.lk_plain.value }}\"", done},
		// The password's '/' makes the URL unparseable; the error must not quote it.
		{"http_userinfo", "kind: http\nurl: \"" + strings.Replace(u, "http://", "http://alice:{{ keychain.lk_basic.password }}@", 1) + "/echo\"", failed},
		// The redirect's target carries the token percent-encoded, and fails: Go's error quotes it.
		{"http_redirect_token", "kind: http\nurl: " + u + "/redirect\nparams:\n  t: \"{{ keychain.lk_plain.value }}\"", failed},
		{"http_header_template", "kind: http\nurl: " + u + "/fail\nheaders:\n  X-Custom: \"{{ keychain.lk_apik.api_key }}\"", failed},
		{"pg_sql_error", "kind: postgres\nauth: lk_pg\nquery: \"SELECT '{{ keychain.lk_pg.db_password }}'::int\"", failed},
		{"pg_raise", "kind: postgres\nauth: lk_pg\nquery: \"DO $$ BEGIN RAISE NOTICE 'n %', '{{ keychain.lk_pg.db_password }}'; RAISE EXCEPTION 'e %', '{{ keychain.lk_pg.db_password }}' USING DETAIL = 'd {{ keychain.lk_pg.db_password }}', HINT = 'h {{ keychain.lk_pg.db_password }}'; END $$\"", failed},
		{"pg_select", "kind: postgres\nauth: lk_pg\nquery: \"SELECT '{{ keychain.lk_pg.db_password }}' AS v\"", done},
		{"pg_bad_conn", "kind: postgres\nauth: lk_pg_bad\nquery: SELECT 1", failed},
		// The password's '/' makes the connection URL unparseable.
		{"pg_dsn_template", "kind: postgres\nconnection_string: \"postgresql://postgres:{{ keychain.lk_pg.db_password }}@127.0.0.1:5432/postgres\"\nquery: SELECT 1", failed},
		{"pg_dsn_credential", "kind: postgres\nauth: lk_pg_dsn\nquery: SELECT 1", failed},
		{"py_print", "kind: python\ninput:\n  tok: \"{{ keychain.lk_bear.token }}\"\ncode: |\n  import sys, base64, urllib.parse\n  print('out', tok)\n  print('err', tok, file=sys.stderr)\n  result = {'plain': tok, 'b64': base64.b64encode(tok.encode()).decode(), 'url': urllib.parse.quote(tok, safe='')}", done},
		// Over the inline limit: the result goes through PUT /api/result.
		{"py_large_result", "kind: python\ninput:\n  tok: \"{{ keychain.lk_apik.api_key }}\"\ncode: |\n  result = {'blob': 'x' * 200000, 'key': tok, 'note': 'key ' + tok}", done},
		{"py_raise", "kind: python\ninput:\n  tok: \"{{ keychain.lk_plain.value }}\"\ncode: |\n  raise ValueError('bad ' + tok)", failed},
		// A child's workload is stored as written: a credential value there is refused.
		{"playbook_child_args", "kind: playbook\npath: e2e/leak/child\nargs:\n  token: \"{{ keychain.lk_bear.token }}\"", failed},
		// A token no credential holds (the server issued it), in JSON quoted in a text body.
		{"http_issued_token", "kind: http\nurl: " + u + "/issued", failed},
		// The same token in a python step's error, which the worker also logs.
		{"py_issued_token", "kind: python\ncode: |\n  import urllib.request, urllib.error\n  try:\n    urllib.request.urlopen('" + u + "/issued')\n  except urllib.error.HTTPError as e:\n    raise RuntimeError('token endpoint answered: ' + e.read().decode())", failed},
		{"sh_echo", "kind: shell\ncommand: \"echo out {{ keychain.lk_apik.api_key }}; echo err {{ keychain.lk_apik.api_key }} >&2; exit 3\"", failed},
	}
	if err := c.register(ctx, leakPlaybook("child", "kind: noop")); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, tc := range cases {
		ids[tc.name] = startRun(ctx, t, c, leakPlaybook(tc.name, tc.tool), "e2e/leak/"+tc.name, nil)
	}
	found := func(t *testing.T, where, text string) {
		t.Helper()
		for _, sec := range leakSecrets {
			for _, form := range []string{sec, strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(sec), sec[:len(sec)-4]} {
				if i := strings.Index(text, form); i >= 0 {
					t.Errorf("%s holds %q: ...%s...", where, form, text[max(0, i-300):min(len(text), i+100)])
				}
			}
		}
	}
	// Each step ran to the outcome it should have (a leak test whose steps never reached
	// the credential would pass for nothing), and its log and detail hold no secret.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := waitTerminal(ctx, t, c, ids[tc.name])
			outcome := ""
			for _, ev := range log {
				if ev.NodeName == "start" && (ev.EventType == done || ev.EventType == failed) {
					outcome = ev.EventType
				}
			}
			if outcome != tc.status {
				t.Errorf("step start ended with %q, want %q\n%s", outcome, tc.status, describeLog(log))
			}
			b, _ := json.Marshal(log)
			found(t, "the event log", string(b))
			_, detail, err := c.do(ctx, http.MethodGet, "/api/executions/"+idOf(ids[tc.name]), nil)
			if err != nil {
				t.Fatal(err)
			}
			found(t, "the execution detail", string(detail))
		})
	}
	t.Run("rows", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, testkit.DatabaseURL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, tbl := range []string{"event", "result_store", "command", "execution", "transient", "outbox", "runtime"} {
			rows, err := conn.Query(ctx, fmt.Sprintf("SELECT t::text FROM %s.%s t", pgx.Identifier{s.Schema}.Sanitize(), tbl))
			if err != nil {
				t.Fatalf("table %s: %v", tbl, err)
			}
			n := 0
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				found(t, "table "+tbl, v)
				n++
			}
			rows.Close()
			if tbl == "result_store" && n == 0 {
				t.Error("no offloaded result was stored: py_large_result did not exercise PUT /api/result")
			}
		}
	})
	// Every closed route refuses a malformed or wrong Authorization header with a 401
	// whose body and headers hold nothing of what was presented.
	t.Run("refused tokens are not echoed", func(t *testing.T) {
		const probe = "Probe+leak/8=s"
		headers := []string{
			"Bearer " + probe,
			"Bearer " + leakAPIToken + probe,
			"bearer\t" + probe,
			"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+probe)),
			"Token " + probe,
			probe,
			"Bearer ",
			"Bearer " + probe + " " + leakAPIToken,
		}
		keys := slices.Sorted(maps.Keys(access.Table))
		for _, k := range keys {
			method, tmpl, _ := strings.Cut(k, " ")
			if access.Table[k].Class == access.Open {
				continue
			}
			for _, h := range headers {
				req, err := http.NewRequestWithContext(ctx, method, s.URL+samplePath(tmpl), strings.NewReader("{}"))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", h)
				resp, err := s.Client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s with Authorization %q: %d, want 401: %s", k, h, resp.StatusCode, body)
				}
				hdrs, _ := json.Marshal(resp.Header)
				for _, form := range []string{probe, url.QueryEscape(probe), leakAPIToken} {
					if strings.Contains(string(body), form) || strings.Contains(string(hdrs), form) {
						t.Errorf("%s with Authorization %q: the answer echoes it: %s %s", k, h, hdrs, body)
					}
				}
			}
		}
	})
	t.Run("metrics", func(t *testing.T) {
		for name, base := range map[string]string{"router": s.URL, "api": s.APIURL, "wallet": s.WalletURL, "broker": s.BrokerURL, "worker": fmt.Sprintf("http://127.0.0.1:%d", w.Port)} {
			resp, err := s.Client.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			found(t, "the metrics of "+name, string(b))
		}
	})
	// Last: the probes above must not have logged what they presented either.
	t.Run("process output", func(t *testing.T) {
		for _, p := range []*Proc{s.API, s.Wallet, s.Broker, s.Router, w.Proc} {
			found(t, "the output of "+p.Name, p.Output())
		}
	})
}
