package e2e

import "encoding/json"
import "io"
import "net"
import "net/http"
import "net/http/httptest"
import "net/url"
import "strings"
import "testing"

// The tools as a new user meets them, on a real worker: a postgres credential that is one
// connection string (its password scrubbed from what a step returns), a script that
// fails half way and leaves nothing behind, PostgreSQL types read as psql shows them;
// http list params, a form body, a redirect not followed, a body that is not UTF-8;
// python helpers before a top-level return, wide integers and bytes, code that defines
// functions and runs none, a traceback in the step's error; and a policy verb the worker
// does not know refused at register.
func TestUserTools(t *testing.T) {
	api := toolAPI(t)
	_, c, ctx, scratch := startSuiteWithScratch(t, "tool_pg")
	dsn := url.URL{Scheme: "postgresql", User: url.UserPassword(scratch.User, "dsn@Secret-1"),
		Host: net.JoinHostPort(scratch.Host, scratch.Port), Path: "/" + scratch.Database, RawQuery: "sslmode=disable"}
	if err := c.createCredential(ctx, map[string]any{"name": "tool_dsn", "type": "postgres",
		"data": map[string]any{"connection_string": dsn.String()}}); err != nil {
		t.Fatal(err)
	}
	for _, pb := range []string{userToolsPostgres, userToolsHTTP, userToolsPython} {
		if err := c.register(ctx, pb); err != nil {
			t.Fatalf("register: %v\n%s", err, pb)
		}
	}

	t.Run("postgres through a connection-string credential", func(t *testing.T) {
		runEndData(ctx, t, c, "user/tools_postgres", nil,
			`{"echoed":"[REDACTED] [REDACTED]","grid":[[1,2],[3,4]],"half":"22012","kept":0,"label":"7","span":"[1,5)","wait":"1 day 02:00:00"}`)
	})

	t.Run("http params, form, redirect and a binary body", func(t *testing.T) {
		runEndData(ctx, t, c, "user/tools_http", map[string]any{"base_url": api.URL},
			`{"form":"name=ann+lee&role=admin&role=dev","latin":"base64 Y2Fm6Q==","moved":"302 /echo","query":"note=a%20b&q=fish+%26+chips&tag=x&tag=y"}`)
	})

	t.Run("python results and failures", func(t *testing.T) {
		runEndData(ctx, t, c, "user/tools_python", nil,
			`{"boom_frames":true,"boom_last":true,"defs":true,"result":{"big":"1180591620717411303424","doubled":8,"raw":{"base64":"/wA=","size":2},"text":"café"}}`)
	})

	t.Run("a policy verb the worker does not know is refused at register", func(t *testing.T) {
		err := c.register(ctx, strings.Replace(userToolsHTTP, "user/tools_http", "user/tools_typo", 1)+`  - step: typo
    tool:
      kind: noop
      spec:
        policy:
          rules:
            - when: "{{ output.status == 'error' }}"
              then: {do: retyr, attempts: 3}
`)
		if err == nil || !strings.Contains(err.Error(), "HTTP 422") || !strings.Contains(err.Error(), "unknown action 'retyr'") {
			t.Fatalf("register: %v", err)
		}
		if _, err := c.execute(ctx, "user/tools_typo", nil); err == nil {
			t.Fatal("the refused playbook was stored")
		}
	})
}

// toolAPI is the service the http playbook calls: /echo answers its raw query and body,
// /moved redirects to /echo, /latin1 answers Latin-1 text.
func toolAPI(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"query": r.URL.RawQuery, "body": string(b)})
		case "/moved":
			http.Redirect(w, r, "/echo", http.StatusFound)
		case "/latin1":
			w.Header().Set("Content-Type", "text/plain; charset=latin1")
			_, _ = w.Write([]byte{'c', 'a', 'f', 0xe9})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

const userToolsPostgres = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_tools_postgres
  path: user/tools_postgres
workflow:
  - step: start
    tool:
      kind: postgres
      auth: tool_dsn
      command: "CREATE TABLE IF NOT EXISTS tool_items (execution_id text, n int)"
    next: [half]
  - step: half
    spec: {on_error: continue}
    tool:
      kind: postgres
      auth: tool_dsn
      command: |
        INSERT INTO tool_items VALUES ('{{ execution_id }}', 1);
        INSERT INTO tool_items VALUES ('{{ execution_id }}', 1 / 0)
    next: [read]
  - step: read
    tool:
      kind: postgres
      auth: tool_dsn
      query: |
        SELECT count(*) AS kept, $2::text AS label, '1 day 02:00'::interval AS wait,
          ARRAY[[1, 2], [3, 4]] AS grid, int4range(1, 5) AS span, 'dsn@Secret-1 dsn%40Secret-1' AS echoed
        FROM tool_items WHERE execution_id = $1
      params: ["{{ execution_id }}", 7]
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        half: "{{ half.sqlstate }}"
        kept: "{{ read.rows[0].kept }}"
        label: "{{ read.rows[0].label }}"
        wait: "{{ read.rows[0].wait }}"
        grid: "{{ read.rows[0].grid }}"
        span: "{{ read.rows[0].span }}"
        echoed: "{{ read.rows[0].echoed }}"
`

const userToolsHTTP = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_tools_http
  path: user/tools_http
workload:
  base_url: ""
workflow:
  - step: start
    tool:
      kind: http
      url: "{{ workload.base_url }}/echo?note=a b"
      params:
        tag: [x, y]
        q: "fish & chips"
    next: [form]
  - step: form
    tool:
      kind: http
      method: POST
      url: "{{ workload.base_url }}/echo"
      headers: {Content-Type: application/x-www-form-urlencoded}
      body: {name: "ann lee", role: [admin, dev]}
    next: [moved]
  - step: moved
    tool:
      kind: http
      url: "{{ workload.base_url }}/moved"
      follow_redirects: false
    next: [latin]
  - step: latin
    tool:
      kind: http
      url: "{{ workload.base_url }}/latin1"
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        query: "{{ start.data.query }}"
        form: "{{ form.data.body }}"
        moved: "{{ moved.status_code }} {{ moved.headers.location }}"
        latin: "{{ latin.body_encoding }} {{ latin.data.base64 }}"
`

const userToolsPython = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_tools_python
  path: user/tools_python
workflow:
  - step: start
    tool:
      kind: python
      input: {n: 4}
      code: |
        def double(x):
            return 2 * x

        return {"doubled": double(n), "big": 2 ** 70, "raw": b"\xff\x00", "text": "café".encode()}
    next: [defs]
  - step: defs
    spec: {on_error: continue}
    tool:
      kind: python
      code: |
        def helper():
            return 1
    next: [boom]
  - step: boom
    spec: {on_error: continue}
    tool:
      kind: python
      code: |
        def check(x):
            raise ValueError("bad input %d" % x)

        check(42)
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        result: "{{ start }}"
        defs: "{{ 'the code defines helper but no main()' in defs.error }}"
        boom_last: "{{ 'exited with code 1: ValueError: bad input 42' in boom.error }}"
        boom_frames: "{{ 'in check' in boom.error and 'Traceback' in boom.error }}"
`
