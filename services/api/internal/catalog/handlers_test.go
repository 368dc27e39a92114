package catalog

import "context"
import "encoding/base64"
import "errors"
import "fmt"
import "net/http"
import "net/http/httptest"
import "strconv"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

// ---- fixtures ----

// playbookYAML is a valid playbook at path with a workload carrying ui directives.
func playbookYAML(path, greeting string) string {
	return `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: ` + path[strings.LastIndex(path, "/")+1:] + `
  path: ` + path + `
  description: Says hello.
  exposed_in_ui: true
  labels:
    team: data
workload:
  greeting: ` + greeting + `
  big: 9007199254740993
  api_key: "" # ui:secret ui:description="The vendor's key"
  region: eu # ui:enum=[eu, 'us', "ap"]
  pg: pg_local # ui:credential=pg_*
  ratio: 0.5
  enabled: false
  nothing:
  tags: [a, b]
  db: # ui:description=Connection settings
    host: localhost # ui:secret
    port: 5432
workflow:
  - step: start
    tool: {kind: noop}
    next: end
  - step: end
    tool: {kind: noop}
`
}

const agentYAML = `kind: Agent
metadata:
  name: helper
  path: agents/helper
spec:
  model: small
`

type server struct {
	url   string
	pool  testkitPool
	cache *Cache
	h     *Handlers
}

type testkitPool = *testkit.Schema

func newServer(t *testing.T) *server {
	t.Helper()
	s := testkit.NewSchema(t, migrations.Set)
	gen, err := ids.NewGenerator(7)
	if err != nil {
		t.Fatal(err)
	}
	cache := NewCache(16)
	h := NewHandlers(s.Pool, gen, cache)
	e := httpkit.EngineWith(t, httpx.Options{MaxBodyBytes: 2 << 20}, "")
	h.Register(e.Group("/api"))
	h.RegisterInternal(e.Group("/internal"))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &server{url: srv.URL, pool: s, cache: cache, h: h}
}

type reply struct {
	status int
	raw    string
	body   map[string]any // decoded in the shared model: int64 numbers
}

func (r reply) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func (r reply) errMsg() string { return r.str("error") }

// do sends a request (body as httpkit.Send takes it) and checks that the answer is JSON.
func do(t *testing.T, method, url string, body any) reply {
	t.Helper()
	resp := httpkit.Send(t, method, url, "", body)
	r := reply{status: resp.Status, raw: string(resp.Body)}
	if v, err := jsonx.Decode(resp.Body); err == nil {
		r.body, _ = v.(map[string]any)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: content type %q, want JSON; body %s", method, url, ct, resp.Body)
	}
	return r
}

func (s *server) post(t *testing.T, route string, body any) reply {
	t.Helper()
	return do(t, http.MethodPost, s.url+route, body)
}

func (s *server) get(t *testing.T, route string) reply {
	t.Helper()
	return do(t, http.MethodGet, s.url+route, nil)
}

func (s *server) register(t *testing.T, content string) reply {
	t.Helper()
	r := s.post(t, "/api/catalog/register", map[string]any{"content": content})
	if r.status != 200 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	return r
}

func ctxT(t *testing.T) context.Context { return testkit.Context(t, 30*time.Second) }

// idOf reads catalog_id, insisting that it is a JSON string of decimal digits
// (upstream sends catalog ids as strings).
func idOf(t *testing.T, m map[string]any) int64 {
	t.Helper()
	s, ok := m["catalog_id"].(string)
	if !ok {
		t.Fatalf("catalog_id is %T (%v), want a JSON string", m["catalog_id"], m["catalog_id"])
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("catalog_id %q is not decimal: %v", s, err)
	}
	return id
}

func wantError(t *testing.T, r reply, status int, parts ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if got, _ := r.body["status"].(int64); got != int64(status) {
		t.Errorf("envelope status = %v, want %d", r.body["status"], status)
	}
	for _, p := range parts {
		if !strings.Contains(r.errMsg(), p) {
			t.Errorf("error %q does not contain %q", r.errMsg(), p)
		}
	}
}

// ---- register ----

func TestRegister(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	wrapped := func(s string) string { // as `base64` prints it: 76 columns
		enc := b64(s)
		var b strings.Builder
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\n")
			enc = enc[76:]
		}
		return b.String() + enc + "\n"
	}
	tests := []struct {
		name     string
		body     any
		status   int
		path     string // on success
		kind     string
		errParts []string
	}{
		{"raw YAML", map[string]any{"content": playbookYAML("reg/raw", "hi")}, 200, "reg/raw", "playbook", nil},
		{"base64", map[string]any{"content": b64(playbookYAML("reg/b64", "hi"))}, 200, "reg/b64", "playbook", nil},
		{"base64 with line breaks", map[string]any{"content": wrapped(playbookYAML("reg/wrapped", "hi"))}, 200, "reg/wrapped", "playbook", nil},
		{"resource_type Playbook", map[string]any{"content": playbookYAML("reg/rt", "hi"), "resource_type": "Playbook"}, 200, "reg/rt", "playbook", nil},
		{"path falls back to name", map[string]any{"content": strings.Replace(playbookYAML("x/byname", "hi"), "  path: x/byname\n", "", 1)}, 200, "byname", "playbook", nil},
		{"another kind is stored without playbook validation", map[string]any{"content": agentYAML}, 200, "agents/helper", "agent", nil},
		{"kind from resource_type", map[string]any{"content": "metadata:\n  path: mem/one\nnotes: [a]\n", "resource_type": "Memory"}, 200, "mem/one", "memory", nil},

		{"invalid YAML names the line", map[string]any{"content": "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: [unclosed\n  path: x\n"}, 400, "", "", []string{"line "}},
		{"tab indentation names the line", map[string]any{"content": "metadata:\n\tname: x\n"}, 400, "", "", []string{"line 2"}},
		{"an indentation error names its own line, not its block's", map[string]any{"content": "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: x\n  path: x\nworkflow:\n  - step: start\n    tool:\n      kind: noop\n     next: end\n"},
			400, "", "", []string{"Invalid YAML at line 10: did not find expected key"}},
		{"duplicate key", map[string]any{"content": playbookYAML("reg/dup", "hi") + "workload: {}\n"}, 400, "", "", []string{"already defined"}},
		{"wrong shape is a parse error", map[string]any{"content": strings.Replace(playbookYAML("reg/shape", "hi"), "tool: {kind: noop}\n    next: end", "tool: python\n    next: end", 1)}, 400, "", "", []string{"line 25", "'tool' must be a mapping"}},
		{"invalid playbook: no start", map[string]any{"content": strings.Replace(playbookYAML("reg/nostart", "hi"), "step: start", "step: begin", 1)}, 422, "", "", []string{"Workflow must have a step named 'start'"}},
		{"invalid playbook: unknown next", map[string]any{"content": strings.Replace(playbookYAML("reg/next", "hi"), "next: end", "next: nowhere", 1)}, 422, "", "", []string{"nowhere"}},
		{"on_error outside a step's spec", map[string]any{"content": strings.Replace(playbookYAML("reg/onerror", "hi"), "    next: end", "    next:\n      spec: {on_error: continue}\n      arcs: [{step: end}]", 1)},
			422, "", "", []string{"'workflow[0].next.spec.on_error'", "only a step's 'spec.on_error' is read (continue or fail)"}},
		{"on_error misspelled", map[string]any{"content": strings.Replace(playbookYAML("reg/onerror2", "hi"), "    next: end", "    spec: {on_error: contine}\n    next: end", 1)},
			422, "", "", []string{"spec.on_error must be 'continue' or 'fail' (got 'contine')"}},
		{"a reserved name", map[string]any{"content": strings.Replace(playbookYAML("reg/reserved", "hi"), "    next: end", "    set: {ctx.workload: 1}\n    next: end", 1)},
			422, "", "", []string{"Step 'start': set key 'ctx.workload' is reserved by the template context (ctx, steps, workload, event)"}},
		{"kind spelled lower-case in the YAML", map[string]any{"content": strings.Replace(playbookYAML("reg/lower", "hi"), "kind: Playbook", "kind: playbook", 1)}, 422, "", "", []string{"Invalid kind: playbook. Expected Playbook"}},
		{"playbook without kind", map[string]any{"content": strings.Replace(playbookYAML("reg/nokind", "hi"), "kind: Playbook\n", "", 1)}, 422, "", "", []string{"Invalid kind"}},
		{"unknown kind", map[string]any{"content": "kind: Widget\nmetadata:\n  path: w/1\n"}, 422, "", "", []string{"Unknown resource kind 'widget'"}},
		{"no metadata", map[string]any{"content": "kind: Agent\nspec: {}\n"}, 422, "", "", []string{"Missing 'metadata' section"}},
		{"no path or name", map[string]any{"content": "kind: Agent\nmetadata:\n  labels: {a: b}\n"}, 422, "", "", []string{"Missing 'path' or 'name' in metadata"}},
		{"not a mapping", map[string]any{"content": "just some text"}, 422, "", "", []string{"YAML mapping"}},
		{"content missing", map[string]any{"resource_type": "Playbook"}, 422, "", "", []string{`"content"`}},
		{"content empty", map[string]any{"content": "  \n"}, 422, "", "", []string{"empty"}},
		{"content not a string", map[string]any{"content": 5}, 422, "", "", []string{"content"}},
		{"body not JSON", "content: x", 400, "", "", []string{"malformed JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := s.post(t, "/api/catalog/register", tc.body)
			if tc.status != 200 {
				wantError(t, r, tc.status, tc.errParts...)
				return
			}
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			id := idOf(t, r.body)
			if r.str("status") != "success" || r.str("path") != tc.path || r.str("kind") != tc.kind || r.body["version"] != int64(1) {
				t.Errorf("response = %s", r.raw)
			}
			if want := fmt.Sprintf("Resource '%s' version '1' registered.", tc.path); r.str("message") != want {
				t.Errorf("message = %q, want %q", r.str("message"), want)
			}
			if !strings.HasPrefix(r.raw, `{"status":"success","message":`) || !strings.Contains(r.raw, `"catalog_id":"`+strconv.FormatInt(id, 10)+`","kind"`) {
				t.Errorf("field order or id type differs from upstream: %s", r.raw)
			}
			var kind, content string
			if err := s.pool.Pool.QueryRow(ctxT(t), `SELECT kind, content FROM catalog WHERE catalog_id = $1`, id).Scan(&kind, &content); err != nil {
				t.Fatalf("row %d: %v", id, err)
			}
			if kind != tc.kind {
				t.Errorf("stored kind %q, want %q", kind, tc.kind)
			}
			if strings.Contains(content, "c3RlcDo") || !strings.Contains(content, "metadata:") {
				t.Errorf("stored content is not the decoded YAML: %.60q", content)
			}
		})
	}
}

// TestRegisterRefusesAliasBombs: the security review's bomb (a 100 KB anchored string,
// three levels of ten aliases: 111 MB once expanded) is a 422 naming the limit, with
// nothing stored, for a playbook and for any other kind.
func TestRegisterRefusesAliasBombs(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var b strings.Builder
	fmt.Fprintf(&b, "l0: &l0 %q\n", strings.Repeat("x", 100_000))
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [*l%d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d]\n", i, i, i-1)
	}
	bomb := b.String()
	for name, content := range map[string]string{
		"playbook": strings.Replace(playbookYAML("bomb/pb", "hi"), "workload:", "workload:\n  bomb: *l3\n", 1),
		"agent":    "kind: Agent\nmetadata: {name: bomb, path: bomb/agent}\n" + bomb + "spec: {x: *l3}\n",
		"workload": "kind: Agent\nmetadata: {name: bomb, path: bomb/w}\n" + bomb + "workload: *l3\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(content, "l0: &l0") {
				content = bomb + content
			}
			r := s.post(t, "/api/catalog/register", map[string]any{"content": content})
			wantError(t, r, http.StatusUnprocessableEntity, fmt.Sprint(playbook.MaxExpandedBytes), "aliases")
		})
	}
	var n int
	if err := s.pool.Pool.QueryRow(ctxT(t), `SELECT count(*) FROM catalog WHERE path LIKE 'bomb/%'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d bomb rows stored (%v)", n, err)
	}
}

func TestRegisterStoresColumnsAndCaches(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	r := s.register(t, playbookYAML("cols/one", "hi"))
	id := idOf(t, r.body)
	if id < 1<<53 {
		t.Errorf("catalog_id %d is not an application snowflake beyond 2^53", id)
	}
	var layout, payload, meta []byte
	if err := s.pool.Pool.QueryRow(ctxT(t), `SELECT layout, payload, meta FROM catalog WHERE catalog_id = $1`, id).
		Scan(&layout, &payload, &meta); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, got, want string
	}{
		{"meta", string(meta), `{"team": "data"}`},
		{"payload big int", string(payload), `"big": 9007199254740993`},
		{"layout", string(layout), `"step": "start"`},
	} {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("%s = %s, want it to contain %s", c.name, c.got, c.want)
		}
	}
	// The registered playbook is in the cache: Get answers without touching the DB.
	pb, err := s.cache.Get(ctxT(t), failingQuerier{}, id)
	if err != nil {
		t.Fatalf("cache miss after register: %v", err)
	}
	if pb.Metadata.Path != "cols/one" || len(pb.Workflow) != 2 {
		t.Errorf("cached playbook = %+v", pb.Metadata)
	}
	// Resources without labels/workload/workflow store NULLs.
	r = s.register(t, agentYAML)
	if err := s.pool.Pool.QueryRow(ctxT(t), `SELECT layout, payload, meta FROM catalog WHERE catalog_id = $1`, idOf(t, r.body)).
		Scan(&layout, &payload, &meta); err != nil {
		t.Fatal(err)
	}
	if layout != nil || payload != nil || meta != nil {
		t.Errorf("agent columns = %s %s %s, want NULLs", layout, payload, meta)
	}
}

type failingQuerier struct{}

func (failingQuerier) QueryRow(context.Context, string, ...any) pgx.Row { return errRow{} }
func (failingQuerier) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, errors.New("no database in this test")
}

type errRow struct{}

func (errRow) Scan(...any) error { return errors.New("no database in this test") }

// TestRegisterVersions: a changed content is the next version; identical content (raw or
// base64) returns the latest version; going back to an older content is a new version,
// so that "latest" follows what was registered last.
func TestRegisterVersions(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a, b := playbookYAML("ver/p", "hello"), playbookYAML("ver/p", "bonjour")
	steps := []struct {
		name     string
		content  string
		version  int64
		sameAs   int // index of the step whose catalog_id must be returned; -1 = new id
		existing bool
	}{
		{"first", a, 1, -1, false},
		{"identical", a, 1, 0, true},
		{"identical as base64", base64.StdEncoding.EncodeToString([]byte(a)), 1, 0, true},
		{"changed", b, 2, -1, false},
		{"changed again identical", b, 2, 3, true},
		{"back to the first content", a, 3, -1, false},
		{"one byte more", a + "\n", 4, -1, false},
	}
	seen := map[int64]bool{}
	var got []int64
	for i, st := range steps {
		r := s.register(t, st.content)
		id := idOf(t, r.body)
		got = append(got, id)
		if r.body["version"] != st.version {
			t.Errorf("%s: version %v, want %d", st.name, r.body["version"], st.version)
		}
		if st.sameAs >= 0 && id != got[st.sameAs] {
			t.Errorf("%s: catalog_id %d, want %d (step %d)", st.name, id, got[st.sameAs], st.sameAs)
		}
		if st.sameAs < 0 && seen[id] {
			t.Errorf("%s: catalog_id %d reused", st.name, id)
		}
		seen[id] = true
		if already := strings.Contains(r.str("message"), "already registered"); already != st.existing {
			t.Errorf("%s (step %d): message %q", st.name, i, r.str("message"))
		}
	}
	var n int
	if err := s.pool.Pool.QueryRow(ctxT(t), `SELECT count(*) FROM catalog WHERE path = 'ver/p'`).Scan(&n); err != nil || n != 4 {
		t.Errorf("rows = %d (%v), want 4", n, err)
	}
}

// TestRegisterConcurrent: registrations of one path at once get consecutive versions,
// and identical ones all get the same row; none fails with a unique violation.
func TestRegisterConcurrent(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	const n = 8
	run := func(content func(i int) string) []reply {
		var wg sync.WaitGroup
		out := make([]reply, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = s.post(t, "/api/catalog/register", map[string]any{"content": content(i)})
			}()
		}
		wg.Wait()
		return out
	}
	distinct := run(func(i int) string { return playbookYAML("conc/p", fmt.Sprintf("g%d", i)) })
	versions := map[int64]bool{}
	for _, r := range distinct {
		if r.status != 200 {
			t.Fatalf("concurrent register: %d %s", r.status, r.raw)
		}
		versions[r.body["version"].(int64)] = true
	}
	for v := int64(1); v <= n; v++ {
		if !versions[v] {
			t.Errorf("versions %v: %d missing", versions, v)
		}
	}
	same := run(func(int) string { return playbookYAML("conc/same", "x") })
	first := idOf(t, same[0].body)
	for _, r := range same {
		if r.status != 200 || idOf(t, r.body) != first || r.body["version"] != int64(1) {
			t.Errorf("identical concurrent register = %d %s, want catalog_id %d version 1", r.status, r.raw, first)
		}
	}
}

// ---- list ----

func TestList(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	pbID := idOf(t, s.register(t, playbookYAML("list/p", "hi")).body)
	agentID := idOf(t, s.register(t, agentYAML).body)

	tests := []struct {
		name   string
		body   any
		status int
		ids    []int64 // newest first
	}{
		{"empty object lists everything", `{}`, 200, []int64{agentID, pbID}},
		{"null filter lists everything", `{"resource_type":null}`, 200, []int64{agentID, pbID}},
		{"empty filter lists everything", `{"resource_type":""}`, 200, []int64{agentID, pbID}},
		{"Playbook", `{"resource_type":"Playbook"}`, 200, []int64{pbID}},
		{"playbook", `{"resource_type":"playbook"}`, 200, []int64{pbID}},
		{"agent", `{"resource_type":"Agent"}`, 200, []int64{agentID}},
		{"no rows is an empty list", `{"resource_type":"credential"}`, 200, []int64{}},
		{"unknown fields ignored", `{"limit":1}`, 200, []int64{agentID, pbID}},
		{"wrong type", `{"resource_type":5}`, 422, nil},
		{"unknown kind", `{"resource_type":"bogus"}`, 400, nil},
		{"a plural is not a kind", `{"resource_type":"playbooks"}`, 400, nil},
		{"body required", ``, 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := s.post(t, "/api/catalog/list", tc.body)
			if tc.status != 200 {
				wantError(t, r, tc.status)
				return
			}
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			entries, ok := r.body["entries"].([]any)
			if !ok {
				t.Fatalf("entries = %T in %s", r.body["entries"], r.raw)
			}
			var got []int64
			for _, e := range entries {
				got = append(got, idOf(t, e.(map[string]any)))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.ids) && !(len(got) == 0 && len(tc.ids) == 0) {
				t.Errorf("ids = %v, want %v", got, tc.ids)
			}
		})
	}

	t.Run("an unknown kind names the kinds", func(t *testing.T) {
		t.Parallel()
		r := s.post(t, "/api/catalog/list", `{"resource_type":" Bogus "}`)
		want := `Invalid field "resource_type": " Bogus " is not one of agent, credential, mcp, memory, playbook`
		if r.status != 400 || r.body["error"] != want {
			t.Fatalf("%d %s, want 400 %q", r.status, r.raw, want)
		}
	})

	t.Run("entry shape", func(t *testing.T) {
		t.Parallel()
		r := s.post(t, "/api/catalog/list", `{}`)
		entries := r.body["entries"].([]any)
		agent := entries[0].(map[string]any)
		checkEntry(t, agent, agentID, "agents/helper", "agent", 1)
		for _, k := range []string{"layout", "payload", "meta"} {
			if v, ok := agent[k]; !ok || v != nil {
				t.Errorf("agent %s = %v (present %v), want explicit null", k, v, ok)
			}
		}
		pb := entries[1].(map[string]any)
		checkEntry(t, pb, pbID, "list/p", "playbook", 1)
		if pb["payload"].(map[string]any)["big"] != int64(9007199254740993) {
			t.Errorf("payload.big = %v", pb["payload"].(map[string]any)["big"])
		}
		if pb["meta"].(map[string]any)["team"] != "data" {
			t.Errorf("meta = %v", pb["meta"])
		}
		if _, ok := pb["layout"].([]any); !ok {
			t.Errorf("layout = %T", pb["layout"])
		}
		if !strings.Contains(r.raw, `{"catalog_id":"`) || !strings.Contains(r.raw, `"meta":null,"created_at":"`) {
			t.Errorf("field order differs from upstream: %.300s", r.raw)
		}
	})

	t.Run("GET is a wrong method", func(t *testing.T) {
		t.Parallel()
		wantError(t, s.get(t, "/api/catalog/list"), 405)
	})
}

// checkEntry checks a CatalogEntryResponse.
func checkEntry(t *testing.T, e map[string]any, id int64, path, kind string, version int64) {
	t.Helper()
	if got := idOf(t, e); got != id {
		t.Errorf("catalog_id = %d, want %d", got, id)
	}
	if e["path"] != path || e["kind"] != kind || e["version"] != version {
		t.Errorf("entry = path %v kind %v version %v, want %s %s %d", e["path"], e["kind"], e["version"], path, kind, version)
	}
	if c, _ := e["content"].(string); !strings.Contains(c, "metadata:") {
		t.Errorf("content = %.60q", c)
	}
	ts, _ := e["created_at"].(string)
	created, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || !strings.HasSuffix(ts, "Z") {
		t.Errorf("created_at = %q (%v), want RFC 3339 UTC", ts, err)
	} else if d := time.Since(created); d < -time.Minute || d > time.Minute {
		t.Errorf("created_at %s is not now", ts)
	}
}

// ---- resource ----

func TestResource(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	v1 := idOf(t, s.register(t, playbookYAML("res/p", "one")).body)
	v2 := idOf(t, s.register(t, playbookYAML("res/p", "two")).body)
	id := func(v int64) string { return strconv.FormatInt(v, 10) }

	tests := []struct {
		name     string
		body     string
		status   int
		wantID   int64
		wantVer  int64
		errParts []string
	}{
		{"catalog_id as string", `{"catalog_id":"` + id(v1) + `"}`, 200, v1, 1, nil},
		{"catalog_id as number", `{"catalog_id":` + id(v1) + `}`, 200, v1, 1, nil},
		{"catalog_id wins over path", `{"catalog_id":"` + id(v1) + `","path":"res/p"}`, 200, v1, 1, nil},
		{"path latest by default", `{"path":"res/p"}`, 200, v2, 2, nil},
		{"path version latest", `{"path":"res/p","version":"latest"}`, 200, v2, 2, nil},
		{"path empty version", `{"path":"res/p","version":""}`, 200, v2, 2, nil},
		{"path version as string", `{"path":"res/p","version":"1"}`, 200, v1, 1, nil},
		{"path version as number", `{"path":"res/p","version":1}`, 200, v1, 1, nil},
		{"null catalog_id falls to path", `{"catalog_id":null,"path":"res/p"}`, 200, v2, 2, nil},

		{"unknown catalog_id", `{"catalog_id":"123"}`, 404, 0, 0, []string{"Catalog entry '123' not found"}},
		{"non-numeric catalog_id", `{"catalog_id":"abc"}`, 422, 0, 0, []string{"Invalid catalog_id"}},
		{"float catalog_id", `{"catalog_id":1.5}`, 422, 0, 0, []string{"Invalid catalog_id"}},
		{"unknown path", `{"path":"res/none"}`, 404, 0, 0, []string{"Catalog entry 'res/none' not found"}},
		{"unknown version", `{"path":"res/p","version":"9"}`, 404, 0, 0, []string{"Catalog entry 'res/p' version 9 not found"}},
		{"bad version", `{"path":"res/p","version":"v2"}`, 422, 0, 0, []string{"Invalid version number"}},
		{"version beyond smallint", `{"path":"res/p","version":"40000"}`, 422, 0, 0, []string{"Invalid version number"}},
		// -1 was the latest selector's own value: it answered version 2.
		{"negative version", `{"path":"res/p","version":-1}`, 422, 0, 0, []string{"Invalid version number \"-1\"", "from 1 to 32767"}},
		{"negative version string", `{"path":"res/p","version":"-1"}`, 422, 0, 0, []string{"Invalid version number \"-1\""}},
		{"version zero", `{"path":"res/p","version":0}`, 422, 0, 0, []string{"Invalid version number \"0\""}},
		{"version of the wrong type", `{"path":"res/p","version":true}`, 422, 0, 0, []string{"Invalid version number \"true\"", "or \"latest\""}},
		{"neither", `{}`, 422, 0, 0, []string{"Either 'catalog_id' or 'path' must be provided"}},
		{"empty path", `{"path":""}`, 422, 0, 0, []string{"Either 'catalog_id' or 'path' must be provided"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := s.post(t, "/api/catalog/resource", tc.body)
			if tc.status != 200 {
				wantError(t, r, tc.status, tc.errParts...)
				return
			}
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			checkEntry(t, r.body, tc.wantID, "res/p", "playbook", tc.wantVer)
		})
	}
}

// ---- ui_schema ----

func TestUISchemaRoute(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.register(t, playbookYAML("ui/nested/p", "one"))
	s.register(t, playbookYAML("ui/nested/p", "two"))
	now := time.Date(2026, 6, 6, 12, 0, 1, 123456000, time.UTC)
	s.h.now = func() time.Time { return now }

	r := s.get(t, "/api/catalog/ui/nested/p/ui_schema")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	wantPrefix := `{"path":"ui/nested/p","version":2,"kind":"playbook","title":"p","description_markdown":"Says hello.","exposed_in_ui":true,"fields":[`
	if !strings.HasPrefix(r.raw, wantPrefix) {
		t.Errorf("response starts %.200s, want %s", r.raw, wantPrefix)
	}
	if r.str("generated_at") != "2026-06-06T12:00:01.123456Z" {
		t.Errorf("generated_at = %v", r.body["generated_at"])
	}
	fields := r.body["fields"].([]any)
	byName := map[string]map[string]any{}
	var names []string
	for _, f := range fields {
		m := f.(map[string]any)
		byName[m["name"].(string)] = m
		names = append(names, m["name"].(string))
	}
	if got := strings.Join(names, ","); got != "greeting,big,api_key,region,pg,ratio,enabled,nothing,tags,db" {
		t.Errorf("field order = %s", got)
	}
	if g := byName["greeting"]; g["kind"] != "string" || g["default"] != "two" || g["secret"] != false {
		t.Errorf("greeting = %v", g)
	}
	if b := byName["big"]; b["kind"] != "integer" || b["default"] != int64(9007199254740993) {
		t.Errorf("big = %v", b)
	}
	if k := byName["api_key"]; k["secret"] != true || k["description"] != "The vendor's key" {
		t.Errorf("api_key = %v", k)
	}
	if re := byName["region"]; re["kind"] != "enum" || fmt.Sprint(re["options"]) != "[eu us ap]" || re["default"] != "eu" {
		t.Errorf("region = %v", re)
	}
	if p := byName["pg"]; p["credential_glob"] != "pg_*" || p["kind"] != "string" {
		t.Errorf("pg = %v", p)
	}
	db := byName["db"]
	if db["kind"] != "object" || db["description"] != "Connection settings" {
		t.Errorf("db = %v", db)
	}
	children := db["children"].([]any)
	host := children[0].(map[string]any)
	if len(children) != 2 || host["name"] != "host" || host["secret"] != false || host["description"] != nil {
		t.Errorf("db children = %v (directives apply to the workload's immediate children only)", children)
	}
	for _, key := range []string{"description", "credential_glob", "options", "children"} {
		if v, ok := byName["greeting"][key]; !ok || v != nil {
			t.Errorf("greeting.%s = %v (present %v), want explicit null", key, v, ok)
		}
	}

	tests := []struct {
		name     string
		route    string
		status   int
		version  int64
		errParts []string
	}{
		{"version 1", "/api/catalog/ui/nested/p/ui_schema?version=1", 200, 1, nil},
		{"version latest", "/api/catalog/ui/nested/p/ui_schema?version=latest", 200, 2, nil},
		{"version empty", "/api/catalog/ui/nested/p/ui_schema?version=", 200, 2, nil},
		{"bad version", "/api/catalog/ui/nested/p/ui_schema?version=x", 422, 0, []string{"Invalid version number"}},
		{"negative version", "/api/catalog/ui/nested/p/ui_schema?version=-1", 422, 0, []string{"Invalid version number \"-1\""}},
		{"unknown version", "/api/catalog/ui/nested/p/ui_schema?version=7", 404, 0, []string{"Catalog entry 'ui/nested/p' version 7 not found"}},
		{"unknown path", "/api/catalog/ui/none/ui_schema", 404, 0, []string{"Catalog entry 'ui/none' not found"}},
		{"empty path", "/api/catalog/ui_schema", 422, 0, []string{"ui_schema path must not be empty"}},
		{"other tail", "/api/catalog/ui/nested/p", 404, 0, []string{"no route matched GET /api/catalog/ui/nested/p"}},
		{"suffix without slash", "/api/catalog/ui/nested/pui_schema", 404, 0, []string{"no route matched"}},
		{"GET on a POST route", "/api/catalog/register", 405, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := s.get(t, tc.route)
			if tc.status != 200 {
				wantError(t, r, tc.status, tc.errParts...)
				return
			}
			if r.status != 200 || r.body["version"] != tc.version {
				t.Errorf("%d version %v, want %d: %.200s", r.status, r.body["version"], tc.version, r.raw)
			}
		})
	}
	t.Run("POST under the catch-all is a wrong method", func(t *testing.T) {
		t.Parallel()
		wantError(t, s.post(t, "/api/catalog/foo", `{}`), 405)
	})
}

// TestInternalEntry: the wallet's existence check names a registered entry without its
// content, and answers 404 and 400 with the error envelope otherwise.
func TestInternalEntry(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	id := idOf(t, s.register(t, playbookYAML("internal/p", "hi")).body)
	cases := []struct {
		name   string
		path   string
		status int
		want   string
	}{
		{"registered", "/internal/catalog/" + strconv.FormatInt(id, 10), 200, `"path":"internal/p"`},
		{"unknown", "/internal/catalog/424242", 404, "catalog entry 424242 not found"},
		{"not a number", "/internal/catalog/x", 400, "catalog_id must be a 64-bit integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "GET", s.url+tc.path, nil)
			if r.status != tc.status || !strings.Contains(r.raw, tc.want) || strings.Contains(r.raw, "content") {
				t.Fatalf("GET %s = %d %s, want %d with %q", tc.path, r.status, r.raw, tc.status, tc.want)
			}
		})
	}
}

// countingQuerier counts the statements sent through it.
type countingQuerier struct {
	Querier
	n int
}

func (q *countingQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	q.n++
	return q.Querier.QueryRow(ctx, sql, args...)
}

func (q *countingQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	q.n++
	return q.Querier.Query(ctx, sql, args...)
}

func TestResolve(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	v1 := idOf(t, s.register(t, playbookYAML("res/one", "first")).body)
	v2 := idOf(t, s.register(t, playbookYAML("res/one", "second")).body)
	empty := int64(77)
	if _, err := s.pool.Pool.Exec(ctxT(t), `INSERT INTO catalog (catalog_id, path, kind, version, content)
		VALUES ($1, 'res/empty', 'playbook', 1, '')`, empty); err != nil {
		t.Fatal(err)
	}
	one, missing := int64(1), int64(404)
	for _, c := range []struct {
		name    string
		ref     Ref
		wantID  int64
		wantErr error
	}{
		{"latest by path", Ref{Path: "res/one"}, v2, nil},
		{"path and version", Ref{Path: "res/one", Version: &one}, v1, nil},
		{"catalog id", Ref{CatalogID: &v1}, v1, nil},
		{"unknown path", Ref{Path: "res/none"}, 0, ErrNotFound},
		{"unknown version", Ref{Path: "res/one", Version: &missing}, 0, ErrNotFound},
		{"unknown id", Ref{CatalogID: &missing}, 0, ErrNotFound},
		{"empty content", Ref{CatalogID: &empty}, 0, ErrNoContent},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A fresh cache: every resolve is a miss, and still reads the row once.
			q := &countingQuerier{Querier: s.pool.Pool}
			e, pb, err := NewCache(4).Resolve(ctxT(t), q, c.ref)
			if q.n != 1 {
				t.Errorf("resolve sent %d statements, want 1", q.n)
			}
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.CatalogID != c.wantID || pb == nil || pb.Metadata.Path != "res/one" {
				t.Errorf("resolved %d (%v), want %d", e.CatalogID, pb, c.wantID)
			}
		})
	}
	// What Resolve parsed, Get answers without the database.
	cache := NewCache(4)
	if _, _, err := cache.Resolve(ctxT(t), s.pool.Pool, Ref{Path: "res/one"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Get(ctxT(t), failingQuerier{}, v2); err != nil {
		t.Errorf("Get after Resolve: %v", err)
	}
}
