package runtimes

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "net/http/httptest"
import "regexp"
import "strings"
import "sync"
import "testing"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/shard"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

type apiServer struct {
	engine *gin.Engine
	store  *Store
	h      *Handlers

	mu     sync.Mutex
	writes []string
}

func newAPI(t *testing.T, sc shard.Config) *apiServer {
	t.Helper()
	st, _ := newStore(t)
	gen, err := ids.NewGenerator(5)
	if err != nil {
		t.Fatal(err)
	}
	e := httpkit.Engine(t, "")
	a := &apiServer{engine: e, store: st}
	a.h = NewHandlers(st, gen, sc)
	a.h.OnWrite = func(endpoint string, err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.writes = append(a.writes, fmt.Sprintf("%s:%v", endpoint, err == nil))
	}
	a.h.Register(e.Group("/api"))
	return a
}

func (a *apiServer) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	return httpkit.Request(t, a.engine, method, path, body, "")
}

func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
}

var (
	rfc3339Z     = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$`)
	runtimeOrder = []string{"runtime_id", "name", "kind", "uri", "status", "labels", "capabilities", "capacity", "runtime", "heartbeat", "created_at", "updated_at"}
)

func TestRegisterResponseShape(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shard.Config{Count: 1})
	rec := a.do(t, "POST", "/api/worker/pool/register", `{"name":"pool-1","hostname":"h1"}`)
	if rec.Code != 200 {
		t.Fatalf("register = %d %s", rec.Code, rec.Body)
	}
	if got := httpkit.KeysInOrder(t, rec.Body.Bytes()); strings.Join(got, ",") != strings.Join(runtimeOrder, ",") {
		t.Errorf("keys = %v, want %v (struct order, nulls present)", got, runtimeOrder)
	}
	var m map[string]any
	decode(t, rec, &m)
	id, ok := m["runtime_id"].(json.Number)
	if !ok {
		t.Fatalf("runtime_id is %T, want a JSON number", m["runtime_id"])
	}
	if n, err := id.Int64(); err != nil || n <= 0 {
		t.Errorf("runtime_id = %s", id)
	} else if _, machine, _ := ids.Parts(n); machine != 5 {
		t.Errorf("runtime_id %d was not minted by the generator (machine %d)", n, machine)
	}
	if m["name"] != "pool-1" || m["kind"] != "worker_pool" || m["status"] != "active" {
		t.Errorf("defaults: %v", m)
	}
	for _, k := range []string{"uri", "labels", "capabilities", "capacity", "runtime"} {
		if v, present := m[k]; !present || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, present)
		}
	}
	for _, k := range []string{"heartbeat", "created_at", "updated_at"} {
		if s, _ := m[k].(string); !rfc3339Z.MatchString(s) {
			t.Errorf("%s = %q, not RFC 3339 with Z", k, m[k])
		}
	}
	if _, present := m["hostname"]; present {
		t.Error("hostname is echoed; upstream does not store it")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.writes) != 1 || a.writes[0] != "runtime_register:true" {
		t.Errorf("OnWrite calls = %v", a.writes)
	}
}

func TestRegisterFullAndUpsert(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shard.Config{Count: 1})
	body := `{"name":"p","component_type":"worker_pool","uri":"http://w:1","status":"ready","labels":["a","b"],
		"capabilities":{"python":true},"capacity":16,"runtime":{"worker_public_key":"k","big":9007199254740993}}`
	rec := a.do(t, "POST", "/api/worker/pool/register", body)
	if rec.Code != 200 {
		t.Fatalf("register = %d %s", rec.Code, rec.Body)
	}
	var first map[string]any
	decode(t, rec, &first)
	for _, want := range []string{`"uri":"http://w:1"`, `"labels":["a","b"]`, `"capabilities":{"python":true}`, `"capacity":16`, `"big":9007199254740993`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("register body lacks %s: %s", want, rec.Body)
		}
	}
	rec = a.do(t, "POST", "/api/worker/pool/register", `{"name":"p","runtime_id":1,"status":"busy","capacity":"4"}`)
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "capacity") {
		t.Errorf("capacity as a string = %d %s, want 422 naming capacity", rec.Code, rec.Body)
	}
	rec = a.do(t, "POST", "/api/worker/pool/register", `{"name":"p","status":"busy"}`)
	var second map[string]any
	decode(t, rec, &second)
	if second["runtime_id"] != first["runtime_id"] || second["status"] != "busy" || second["created_at"] != first["created_at"] {
		t.Errorf("re-register: %v vs %v", second, first)
	}
	// Aliases: component_type names the kind.
	rec = a.do(t, "POST", "/api/worker/pool/register", `{"name":"b1","component_type":"broker"}`)
	var b map[string]any
	decode(t, rec, &b)
	if rec.Code != 200 || b["kind"] != "broker" {
		t.Errorf("component_type alias: %d %v", rec.Code, b)
	}
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shard.Config{Count: 1})
	tests := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"invalid kind", `{"name":"p","kind":"x"}`, 422, "Invalid runtime kind: x"},
		{"invalid component_type", `{"name":"p","component_type":"lambda"}`, 422, "Invalid runtime kind: lambda"},
		{"missing name", `{"kind":"worker_pool"}`, 422, `field "name" is required`},
		{"empty name", `{"name":""}`, 422, `field "name" is required`},
		{"null name", `{"name":null}`, 422, `field "name" is required`},
		{"name not a string", `{"name":5}`, 422, ""},
		{"malformed", `{"name":`, 400, ""},
		{"status too long for its index", `{"name":"p","status":"` + unrepeated(6000) + `"}`, 422, `field "status" must be at most 1024 bytes (got 6000)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := a.do(t, "POST", "/api/worker/pool/register", tc.body)
			if tc.msg != "" {
				httpkit.WantError(t, rec, tc.status, tc.msg)
				return
			}
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
		})
	}
	req := httptest.NewRequest("POST", "/api/worker/pool/register", strings.NewReader(`{"name":"p"}`))
	rec := httptest.NewRecorder()
	a.engine.ServeHTTP(rec, req)
	if rec.Code != 415 {
		t.Errorf("no content type: %d", rec.Code)
	}
	if rows, _ := a.store.List(ctxT(t), Filter{}); len(rows) != 0 {
		t.Errorf("invalid registrations stored %d rows", len(rows))
	}
}

func TestHeartbeatHandler(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shard.Config{Count: 1})
	httpkit.WantError(t, a.do(t, "POST", "/api/worker/pool/heartbeat", `{"name":"x"}`), 404, "Runtime not found: worker_pool x")
	httpkit.WantError(t, a.do(t, "POST", "/api/worker/pool/heartbeat", `{"name":"x","kind":"broker"}`), 404, "Runtime not found: broker x")
	httpkit.WantError(t, a.do(t, "POST", "/api/worker/pool/heartbeat", `{}`), 422, `field "name" is required`)

	a.do(t, "POST", "/api/worker/pool/register", `{"name":"x"}`)
	if err := a.store.SetStatus(ctxT(t), "worker_pool", "x", "offline"); err != nil {
		t.Fatal(err)
	}
	rec := a.do(t, "POST", "/api/worker/pool/heartbeat", `{"name":"x","component_type":"worker_pool"}`)
	if rec.Code != 200 || rec.Body.String() != `{"message":"Heartbeat recorded","status":"ok"}` {
		t.Errorf("heartbeat = %d %s", rec.Code, rec.Body)
	}
	if rt, _ := a.store.Get(ctxT(t), "worker_pool", "x"); rt.Status != "ready" {
		t.Errorf("status after heartbeat = %q, want ready", rt.Status)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	found := false
	for _, w := range a.writes {
		if w == "runtime_heartbeat:true" {
			found = true
		}
	}
	if !found {
		t.Errorf("OnWrite not told about the heartbeat: %v", a.writes)
	}
}

func TestDeregisterHandler(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shard.Config{Count: 1})
	for _, method := range []string{"DELETE", "POST"} {
		t.Run(method, func(t *testing.T) {
			name := "w-" + strings.ToLower(method)
			a.do(t, "POST", "/api/worker/pool/register", `{"name":"`+name+`"}`)
			rec := a.do(t, method, "/api/worker/pool/deregister", `{"name":"`+name+`"}`)
			if rec.Code != 200 {
				t.Fatalf("%s deregister = %d %s", method, rec.Code, rec.Body)
			}
			var m map[string]any
			decode(t, rec, &m)
			if m["status"] != "ok" || m["message"] != "Runtime worker_pool "+name+" deregistered" {
				t.Errorf("body = %v", m)
			}
			if _, err := a.store.Get(ctxT(t), "worker_pool", name); !errors.Is(err, ErrNotFound) {
				t.Errorf("row still present: %v", err)
			}
			httpkit.WantError(t, a.do(t, method, "/api/worker/pool/deregister", `{"name":"`+name+`"}`), 404, "Runtime not found: worker_pool "+name)
		})
	}
	httpkit.WantError(t, a.do(t, "DELETE", "/api/worker/pool/deregister", `{"kind":"broker"}`), 422, `field "name" is required`)
	if rec := a.do(t, "DELETE", "/api/worker/pool/deregister", ""); rec.Code != 415 {
		t.Errorf("deregister without a body = %d, want 415", rec.Code)
	}
}

func TestListHandler(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shard.Config{Count: 1})
	if rec := a.do(t, "GET", "/api/worker/pools", ""); rec.Code != 200 || rec.Body.String() != "[]" {
		t.Errorf("empty list = %d %s, want []", rec.Code, rec.Body)
	}
	for _, b := range []string{`{"name":"b-pool","status":"ready"}`, `{"name":"a-pool"}`, `{"name":"srv","kind":"server_api","status":"ready"}`} {
		if rec := a.do(t, "POST", "/api/worker/pool/register", b); rec.Code != 200 {
			t.Fatalf("register %s: %d", b, rec.Code)
		}
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"a-pool", "b-pool"}}, // kind defaults to worker_pool
		{"?kind=server_api", []string{"srv"}},
		{"?status=ready", []string{"b-pool"}},
		{"?kind=server_api&status=ready", []string{"srv"}},
		{"?name=b-", []string{"b-pool"}},
		{"?name=zzz", []string{}},
		{"?kind=Server_API", []string{"srv"}},
		{"?kind=", []string{"srv", "a-pool", "b-pool"}}, // present but empty: every kind, by kind
		{"?status=no-such-status", []string{}},          // status is free text
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			rec := a.do(t, "GET", "/api/worker/pools"+tc.query, "")
			if rec.Code != 200 {
				t.Fatalf("list = %d %s", rec.Code, rec.Body)
			}
			var rows []map[string]any
			decode(t, rec, &rows)
			got := []string{}
			for _, r := range rows {
				got = append(got, r["name"].(string))
				if _, ok := r["runtime_id"].(json.Number); !ok {
					t.Errorf("runtime_id is %T", r["runtime_id"])
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("names = %v, want %v", got, tc.want)
			}
		})
	}
	if len(kindNames) != len(Kinds) {
		t.Fatalf("kindNames %v and Kinds %v differ", kindNames, Kinds)
	}
	for _, k := range kindNames {
		if !Kinds[k] {
			t.Fatalf("kindNames has %q, Kinds does not", k)
		}
	}
	for _, q := range []string{"?kind=bogus", "?kind=worker-pool", "?kind=bogus&status=ready"} {
		t.Run("bad "+q, func(t *testing.T) {
			rec := a.do(t, "GET", "/api/worker/pools"+q, "")
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), `is not one of worker_pool, server_api, broker`) {
				t.Fatalf("list%s = %d %s, want 400 naming the kinds", q, rec.Code, rec.Body)
			}
		})
	}
}

// TestComputeShardInfoVectors runs every upstream shard vector through the diagnostic.
func TestComputeShardInfoVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id    string
		count string
		want  uint32
	}{
		{"1", "2", 1}, {"1", "4", 1}, {"1", "16", 5}, {"1", "64", 21}, {"1", "1024", 405},
		{"42", "1", 0}, {"9999999999", "1", 0}, {"-1", "1", 0},
		{"320816801799737344", "4", 2}, {"325", "8", 4}, {"320816801799737344", "16", 14},
		{"0", "2", 1}, {"0", "3", 2}, {"0", "4", 3}, {"0", "8", 3}, {"0", "16", 11}, {"0", "64", 59}, {"0", "1024", 955},
		{"42", "3", 0}, {"42", "64", 19}, {"42", "1024", 851},
		{"-1", "16", 9}, {"-1", "1024", 713},
		{"320816801799737344", "3", 1}, {"320816801799737344", "8", 6}, {"320816801799737344", "64", 62}, {"320816801799737344", "1024", 702},
		{"9223372036854775807", "3", 2}, {"9223372036854775807", "8", 4}, {"9223372036854775807", "1024", 780},
		{"-9223372036854775808", "64", 32}, {"-9223372036854775808", "1024", 224},
		{"9999999999", "8", 7}, {"9999999999", "64", 55}, {"9999999999", "1024", 823},
		{"325", "2", 0}, {"325", "16", 4}, {"325", "1024", 868},
		{"100", "4", 2}, {"100", "16", 10}, {"100", "1024", 122},
		{"1000", "16", 9}, {"1000", "1024", 585},
		{"123456789", "8", 5}, {"123456789", "16", 13}, {"123456789", "1024", 77},
	}
	for _, tc := range tests {
		t.Run(tc.id+"_"+tc.count, func(t *testing.T) {
			t.Parallel()
			info, err := ComputeShardInfo(tc.id, tc.count, shard.Config{Index: 0, Count: 1})
			if err != nil {
				t.Fatalf("ComputeShardInfo: %v", err)
			}
			if info.ShardIndex != tc.want {
				t.Errorf("shard_index(%s, %s) = %d, want %d", tc.id, tc.count, info.ShardIndex, tc.want)
			}
			if fmt.Sprint(info.ExecutionID) != tc.id || fmt.Sprint(info.ShardCount) != tc.count {
				t.Errorf("echo = %d/%d", info.ExecutionID, info.ShardCount)
			}
		})
	}
}

func TestComputeShardInfoErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, id, count, msg string
	}{
		{"non-numeric id", "abc", "4", `execution_id "abc" is not a valid i64`},
		{"float id", "1.5", "4", `execution_id "1.5" is not a valid i64`},
		{"overflowing id", "9223372036854775808", "4", `execution_id "9223372036854775808" is not a valid i64`},
		{"missing id", "", "4", "execution_id is required"},
		{"count 0", "1", "0", "shard_count must be >= 1"},
		{"count 1025", "1", "1025", "shard_count 1025 exceeds practical maximum 1024"},
		{"count huge", "1", "4294967295", "shard_count 4294967295 exceeds practical maximum 1024"},
		{"count negative", "1", "-1", `shard_count "-1" is not a valid u32`},
		{"count not a number", "1", "four", `shard_count "four" is not a valid u32`},
		{"count above u32", "1", "4294967296", `shard_count "4294967296" is not a valid u32`},
		{"missing count", "1", "", "shard_count is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ComputeShardInfo(tc.id, tc.count, shard.Config{Count: 1})
			if err == nil {
				t.Fatal("want an error")
			}
			if httpx.StatusOf(err) != 400 {
				t.Errorf("status = %d, want 400", httpx.StatusOf(err))
			}
			var he *httpx.Error
			if !errors.As(err, &he) || he.Msg != tc.msg {
				t.Errorf("message = %q, want %q", err, tc.msg)
			}
		})
	}
	if info, err := ComputeShardInfo("7", "1024", shard.Config{Count: 1}); err != nil || info.ShardCount != 1024 {
		t.Errorf("count 1024 is the maximum and valid: %+v, %v", info, err)
	}
}

func TestShardInfoHandler(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shard.Config{Index: 3, Count: 8})
	rec := a.do(t, "GET", "/api/runtime/shard-info?execution_id=320816801799737344&shard_count=4", "")
	want := `{"execution_id":320816801799737344,"shard_count":4,"shard_index":2,"source":"noetl-server",` +
		`"hash_function":"twox_hash::XxHash64","seed":0,"server_config":{"shard_index":3,"shard_count":8}}`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("shard-info = %d %s\nwant %s", rec.Code, rec.Body, want)
	}
	// The seed example with the default server config.
	d := newAPI(t, shard.Config{Index: 0, Count: 1})
	rec = d.do(t, "GET", "/api/runtime/shard-info?execution_id=320816801799737344&shard_count=4", "")
	want = `{"execution_id":320816801799737344,"shard_count":4,"shard_index":2,"source":"noetl-server",` +
		`"hash_function":"twox_hash::XxHash64","seed":0,"server_config":{"shard_index":0,"shard_count":1}}`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("shard-info = %d %s\nwant %s", rec.Code, rec.Body, want)
	}
	for q, msg := range map[string]string{
		"execution_id=abc&shard_count=4":  `execution_id "abc" is not a valid i64`,
		"execution_id=1&shard_count=0":    "shard_count must be >= 1",
		"execution_id=1&shard_count=1025": "shard_count 1025 exceeds practical maximum 1024",
		"shard_count=4":                   "execution_id is required",
		"execution_id=1":                  "shard_count is required",
	} {
		httpkit.WantError(t, d.do(t, "GET", "/api/runtime/shard-info?"+q, ""), 400, msg)
	}
}

// renewals records what the heartbeat route asks to renew.
type renewals struct {
	mu    sync.Mutex
	calls []string
}

func (r *renewals) RenewLeases(_ context.Context, worker string, eventIDs []int64) ([]int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%s:%v", worker, eventIDs))
	return []int64{}, nil
}

// A heartbeat that lists the commands the worker holds renews their claims (ids as
// numbers or strings, as everywhere) and marks the worker as one that reports what it
// holds; a heartbeat without the list renews nothing and clears the mark; a list that
// is not one of ids is a 422 naming the field.
func TestHeartbeatListsHeldCommands(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shard.Config{Count: 1})
	r := &renewals{}
	a.h.Leases = r
	a.do(t, "POST", "/api/worker/pool/register", `{"name":"w1"}`)
	reporting := func() []string {
		t.Helper()
		workers, err := a.store.LeaseWorkers(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, w := range workers {
			if w.ReportsHeld {
				names = append(names, w.Name)
			}
		}
		return names
	}
	for _, tc := range []struct {
		name, body string
		renewed    []string
		reports    bool
	}{
		{"list", `{"name":"w1","commands":[7,"9007199254740993"]}`, []string{"w1:[7 9007199254740993]"}, true},
		{"empty list", `{"name":"w1","commands":[]}`, []string{"w1:[]"}, true},
		{"no list", `{"name":"w1"}`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.mu.Lock()
			r.calls = nil
			r.mu.Unlock()
			if rec := a.do(t, "POST", "/api/worker/pool/heartbeat", tc.body); rec.Code != 200 {
				t.Fatalf("heartbeat = %d %s", rec.Code, rec.Body)
			}
			r.mu.Lock()
			got := fmt.Sprint(r.calls)
			r.mu.Unlock()
			if got != fmt.Sprint(tc.renewed) {
				t.Errorf("renewed %s, want %v", got, tc.renewed)
			}
			if got := len(reporting()) == 1; got != tc.reports {
				t.Errorf("reports what it holds = %v, want %v", got, tc.reports)
			}
		})
	}
	rec := a.do(t, "POST", "/api/worker/pool/heartbeat", `{"name":"w1","commands":[1,{"id":1}]}`)
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), `field \"commands\"[1]`) {
		t.Errorf("a list of objects = %d %s", rec.Code, rec.Body)
	}
}

// A worker pool may register with its heartbeat interval, which the lease checks read;
// registering again without one (an older worker on the same name) clears it, and an
// interval that is not a positive number of seconds, at most a day, is a 422 naming
// the field.
func TestRegisterHeartbeatInterval(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shard.Config{Count: 1})
	interval := func() map[string]float64 {
		t.Helper()
		workers, err := a.store.LeaseWorkers(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, w := range workers {
			out[w.Name] = w.Interval
		}
		return out
	}
	rec := a.do(t, "POST", "/api/worker/pool/register", `{"name":"w1","heartbeat_interval_seconds":60}`)
	if rec.Code != 200 {
		t.Fatalf("register = %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "heartbeat_interval") {
		t.Errorf("the answer keeps upstream's shape: %s", rec.Body)
	}
	a.do(t, "POST", "/api/worker/pool/register", `{"name":"w2","heartbeat_interval_seconds":2.5}`)
	a.do(t, "POST", "/api/worker/pool/register", `{"name":"w3"}`)
	if got := fmt.Sprint(interval()); got != "map[w1:60 w2:2.5]" {
		t.Errorf("reported intervals = %s", got)
	}
	// The list shows each pool's interval (null: none reported), after upstream's keys.
	list := a.do(t, "GET", "/api/worker/pools", "")
	var rows []map[string]any
	decode(t, list, &rows)
	listed := map[string]any{}
	for _, r := range rows {
		v, present := r["heartbeat_interval_seconds"]
		if !present {
			t.Errorf("%v lists no heartbeat_interval_seconds", r["name"])
		}
		listed[r["name"].(string)] = v
	}
	if got := fmt.Sprint(listed); got != "map[w1:60 w2:2.5 w3:<nil>]" {
		t.Errorf("listed intervals = %s", got)
	}
	var raw []json.RawMessage
	decode(t, list, &raw)
	if len(raw) > 0 {
		want := strings.Join(append(append([]string{}, runtimeOrder...), "heartbeat_interval_seconds"), ",")
		if got := strings.Join(httpkit.KeysInOrder(t, raw[0]), ","); got != want {
			t.Errorf("list keys = %s, want %s", got, want)
		}
	}
	a.do(t, "POST", "/api/worker/pool/register", `{"name":"w1"}`)
	if got := fmt.Sprint(interval()); got != "map[w2:2.5]" {
		t.Errorf("after w1 registered again without an interval: %s", got)
	}
	for _, tc := range []struct{ name, value string }{
		{"zero", "0"}, {"negative", "-15"}, {"more than a day", "86401"}, {"a string", `"15s"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := a.do(t, "POST", "/api/worker/pool/register", `{"name":"w4","heartbeat_interval_seconds":`+tc.value+`}`)
			if rec.Code != 422 || !strings.Contains(rec.Body.String(), "heartbeat_interval_seconds") {
				t.Errorf("interval %s = %d %s, want a 422 naming the field", tc.value, rec.Code, rec.Body)
			}
		})
	}
	if _, err := a.store.Get(ctxT(t), "worker_pool", "w4"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused registration stored a row: %v", err)
	}
}

// unrepeated is n letters that do not compress (a repeated letter would fit an index
// entry after compression).
func unrepeated(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = 'a' + byte(x%26)
	}
	return string(b)
}
