package executions

import "context"
import "encoding/json"
import "fmt"
import "io"
import "log/slog"
import "net/http/httptest"
import "regexp"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/orchestrator"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"
import "github.com/noetl/controlplane/shared/tmpl"

// twoSteps is start -> finish, both noop.
const twoSteps = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: %[1]s
  path: %[2]s
workload:
  greeting: hello
  big: 1234567890123456789
workflow:
  - step: start
    tool: {kind: noop, result: {x: 1}}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: finish
  - step: finish
    tool: {kind: noop, result: {y: 2}}
`

// brokenTemplate is twoSteps with a filter that does not exist in finish's tool: its
// template fails on the server when finish is entered.
const brokenTemplate = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: %[1]s
  path: %[2]s
workload:
  greeting: hello
workflow:
  - step: start
    tool: {kind: noop, result: {x: 1}}
    next: [finish]
  - step: finish
    tool: {kind: noop, result: {y: "{{ workload.greeting | nosuchfilter }}"}}
`

type fixture struct {
	*apitest.Env
	o *orchestrator.Orchestrator
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{Env: apitest.NewEnv(t, "")}
	playbooks := catalog.NewCache(16)
	f.o = orchestrator.New(orchestrator.Config{
		Pool: f.Pool, Engine: engine.New(tmpl.New(0), f.Gen), IDs: f.Gen, Playbooks: playbooks,
		ServerURL: "http://localhost:8082", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	api := f.Engine.Group("/api")
	NewReads(f.Pool).Register(api)
	NewControl(f.Pool, f.o, playbooks).Register(api)
	return f
}

// start registers the twoSteps playbook under path (once per path) and starts an
// execution of it.
func (f *fixture) start(path string) int64 {
	f.T.Helper()
	return f.startSrc(path, twoSteps, map[string]any{"extra": int64(7)})
}

// startSrc registers src (a template of the playbook's name and path) under path (once
// per path) and starts an execution of it with payload.
func (f *fixture) startSrc(path, tmpl string, payload map[string]any) int64 {
	f.T.Helper()
	ctx := context.Background()
	src := []byte(fmt.Sprintf(tmpl, strings.ReplaceAll(path, "/", "_"), path))
	pb, err := playbook.Parse(src)
	if err != nil {
		f.T.Fatal(err)
	}
	var id int64
	err = f.Pool.QueryRow(ctx, `SELECT catalog_id FROM catalog WHERE path = $1`, path).Scan(&id)
	if err != nil {
		id, _ = f.Gen.Next()
		testkit.InsertCatalog(f.T, f.Schema, id, path, string(src))
	}
	entry, err := catalog.ByID(ctx, f.Pool, id)
	if err != nil {
		f.T.Fatal(err)
	}
	res, err := f.o.Start(ctx, orchestrator.StartRequest{Entry: entry, Playbook: pb, Payload: payload})
	if err != nil {
		f.T.Fatal(err)
	}
	return res.ExecutionID
}

func (f *fixture) catalogID(execID int64) int64 {
	f.T.Helper()
	return testkit.QueryOne[int64](f.T, f.Schema, `SELECT catalog_id FROM execution WHERE execution_id = $1`, execID)
}

func (f *fixture) pending(execID int64) []int64 {
	f.T.Helper()
	return apitest.PendingCommands(f.T, f.Schema, execID)
}

// work claims one command and posts what a worker posts; fail != "" fails it.
func (f *fixture) work(execID, eventID int64, fail string) {
	f.T.Helper()
	ctx := context.Background()
	cl, err := f.o.Claim(ctx, eventID, "w1")
	if err != nil {
		f.T.Fatal(err)
	}
	key := cl.Issued.Meta["command_id"].(string)
	mk := func(typ, status string, c map[string]any) eventlog.Event {
		id, _ := f.Gen.Next()
		return eventlog.Event{Event: engine.Event{EventID: id, Type: typ, Step: cl.Issued.Step, Status: status, WorkerID: "w1",
			Result: map[string]any{"status": status, "context": c}}}
	}
	evs := []eventlog.Event{mk("command.started", "STARTED", map[string]any{"command_id": key})}
	if fail != "" {
		evs = append(evs, mk("command.failed", "FAILED", map[string]any{"command_id": key, "error": fail}))
	} else {
		evs = append(evs, mk("call.done", "COMPLETED", map[string]any{"command_id": key, "call_index": int64(0),
			"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": map[string]any{}}}}),
			mk("command.completed", "success", map[string]any{"command_id": key, "status": "success"}))
	}
	if _, err := f.o.Ingest(ctx, execID, evs); err != nil {
		f.T.Fatal(err)
	}
}

// runToEnd works every pending command until the execution ends.
func (f *fixture) runToEnd(execID int64) {
	f.T.Helper()
	for i := 0; i < 10; i++ {
		p := f.pending(execID)
		if len(p) == 0 {
			return
		}
		for _, ev := range p {
			f.work(execID, ev, "")
		}
	}
}

func (f *fixture) do(method, path string) *httptest.ResponseRecorder {
	f.T.Helper()
	return f.Do(method, path, "", "")
}

var rfc3339Z = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$`)

// setStarted pins started_at so list order is deterministic.
func (f *fixture) setStarted(execID int64, at time.Time) {
	if _, err := f.Pool.Exec(context.Background(), `UPDATE execution SET started_at = $2 WHERE execution_id = $1`, execID, at); err != nil {
		f.T.Fatal(err)
	}
}

func TestListExecutions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base := time.Date(2026, 6, 6, 12, 0, 0, 0, time.UTC)
	done := f.start("team/Alpha/load")
	f.runToEnd(done)
	cancelled := f.start("team/alpha/load")
	if err := f.o.Cancel(context.Background(), cancelled); err != nil {
		t.Fatal(err)
	}
	running := f.start("team/beta/report")
	f.setStarted(done, base)
	f.setStarted(cancelled, base.Add(time.Minute))
	f.setStarted(running, base.Add(2*time.Minute))

	ids := func(rec *httptest.ResponseRecorder) []int64 {
		arr, ok := httpkit.JSON(t, rec).([]any)
		if !ok {
			t.Fatalf("not an array: %s", rec.Body)
		}
		out := make([]int64, len(arr))
		for i, e := range arr {
			out[i] = e.(map[string]any)["execution_id"].(int64)
		}
		return out
	}
	cases := []struct {
		name  string
		query string
		want  []int64
	}{
		{"all, newest first", "", []int64{running, cancelled, done}},
		{"catalog filter", fmt.Sprintf("?catalog_id=%d", f.catalogID(running)), []int64{running}},
		{"path is a case-insensitive substring", "?path=ALPHA", []int64{cancelled, done}},
		{"status exact", "?status=COMPLETED", []int64{done}},
		{"status any case", "?status=cancelled", []int64{cancelled}},
		{"status trimmed", "?status=%20Completed%20", []int64{done}},
		{"empty status is no filter", "?status=", []int64{running, cancelled, done}},
		{"status running", "?status=RUNNING", []int64{running}},
		{"path and status", "?path=alpha&status=RUNNING", []int64{}},
		{"limit and offset", "?limit=1&offset=1", []int64{cancelled}},
		{"limit above the cap is capped", "?limit=1000", []int64{running, cancelled, done}},
		{"offset past the end", "?offset=10", []int64{}},
		{"a limit beyond 64 bits is capped", "?limit=99999999999999999999", []int64{running, cancelled, done}},
		{"an offset beyond 32 bits is past the end", "?offset=99999999999", []int64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do("GET", "/api/executions"+tc.query)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if got := ids(rec); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
		})
	}

	bad := []struct{ query, msg string }{
		{"?limit=-1", "Invalid query parameter limit: must not be negative"},
		{"?offset=-5", "Invalid query parameter offset: must not be negative"},
		{"?limit=ten", `Invalid query parameter limit: "ten" is not an integer`},
		{"?limit=1.5", `Invalid query parameter limit: "1.5" is not an integer`},
		{"?offset=-99999999999999999999", "Invalid query parameter offset: must not be negative"},
		{"?catalog_id=abc", `Invalid query parameter catalog_id: "abc" is not a 64-bit integer`},
		{"?status=bogus", `Invalid query parameter status: "bogus" is not one of RUNNING, COMPLETED, FAILED, CANCELLED`},
		{"?status=CANCELED", `Invalid query parameter status: "CANCELED" is not one of RUNNING, COMPLETED, FAILED, CANCELLED`},
		{"?status=running,failed", `Invalid query parameter status: "running,failed" is not one of RUNNING, COMPLETED, FAILED, CANCELLED`},
	}
	for _, tc := range bad {
		t.Run("bad "+tc.query, func(t *testing.T) {
			httpkit.WantError(t, f.do("GET", "/api/executions"+tc.query), 400, tc.msg)
		})
	}

	t.Run("summary shape", func(t *testing.T) {
		rec := f.do("GET", "/api/executions")
		var raw []json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		want := []string{"execution_id", "catalog_id", "path", "status", "started_at", "completed_at", "event_count"}
		if got := httpkit.KeysInOrder(t, raw[0]); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("keys = %v", got)
		}
		arr := httpkit.JSON(t, rec).([]any)
		byID := map[int64]map[string]any{}
		for _, e := range arr {
			m := e.(map[string]any)
			byID[m["execution_id"].(int64)] = m
		}
		r, d, c := byID[running], byID[done], byID[cancelled]
		if r["completed_at"] != nil || r["status"] != "RUNNING" || r["path"] != "team/beta/report" {
			t.Errorf("running summary = %v", r)
		}
		if d["status"] != "COMPLETED" || !rfc3339Z.MatchString(d["completed_at"].(string)) {
			t.Errorf("completed summary = %v", d)
		}
		if c["status"] != "CANCELLED" || c["completed_at"] == nil {
			t.Errorf("cancelled summary = %v", c)
		}
		if d["started_at"] != "2026-06-06T12:00:00Z" {
			t.Errorf("started_at = %v", d["started_at"])
		}
		for id, m := range byID {
			var n int64
			_ = f.Pool.QueryRow(context.Background(), `SELECT count(*) FROM event WHERE execution_id = $1`, id).Scan(&n)
			if m["event_count"] != n || n == 0 {
				t.Errorf("execution %d: event_count = %v, events stored %d", id, m["event_count"], n)
			}
		}
	})
}

func TestExecutionDetail(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.start("detail/pb")
	f.runToEnd(id)

	t.Run("shape and events", func(t *testing.T) {
		rec := f.do("GET", fmt.Sprintf("/api/executions/%d", id))
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		want := []string{"execution_id", "catalog_id", "path", "status", "started_at", "completed_at", "parent_execution_id", "workload", "events"}
		if got := httpkit.KeysInOrder(t, rec.Body.Bytes()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("keys = %v", got)
		}
		m := httpkit.JSON(t, rec).(map[string]any)
		if m["execution_id"] != id || m["status"] != "COMPLETED" || m["parent_execution_id"] != nil || m["completed_at"] == nil {
			t.Fatalf("detail = %v", m)
		}
		w := m["workload"].(map[string]any)
		// The merged workload, integers at full precision.
		if w["greeting"] != "hello" || w["extra"] != int64(7) || w["big"] != int64(1234567890123456789) {
			t.Fatalf("workload = %v", w)
		}
		evs := m["events"].([]any)
		var n int
		_ = f.Pool.QueryRow(context.Background(), `SELECT count(*) FROM event WHERE execution_id = $1`, id).Scan(&n)
		if len(evs) != n {
			t.Fatalf("events = %d, stored %d", len(evs), n)
		}
		first := evs[0].(map[string]any)
		if first["event_type"] != "playbook_started" {
			t.Fatalf("first event = %v", first)
		}
		last := evs[len(evs)-1].(map[string]any)
		if last["event_type"] != "playbook.completed" {
			t.Fatalf("last event = %v", last)
		}
		evKeys := []string{"event_id", "event_type", "node_name", "status", "created_at", "result", "error"}
		var raw struct{ Events []json.RawMessage }
		_ = json.Unmarshal(rec.Body.Bytes(), &raw)
		if got := httpkit.KeysInOrder(t, raw.Events[0]); fmt.Sprint(got) != fmt.Sprint(evKeys) {
			t.Fatalf("event keys = %v", got)
		}
	})

	t.Run("unknown execution", func(t *testing.T) {
		httpkit.WantError(t, f.do("GET", "/api/executions/42"), 404, "Execution not found: 42")
	})
	t.Run("non-numeric id", func(t *testing.T) {
		httpkit.WantError(t, f.do("GET", "/api/executions/abc"), 400, "")
	})
}

func TestExecutionDetailKeepsTheNewest2000Events(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.start("detail/many")
	ctx := context.Background()
	// 2100 informative events appended after the start (seq after last_seq), one with no
	// status (reported as UNKNOWN).
	_, err := f.Pool.Exec(ctx, `WITH b AS (UPDATE execution SET last_seq = last_seq + 2100 WHERE execution_id = $1
			RETURNING last_seq - 2100 AS base, catalog_id)
		INSERT INTO event (execution_id, catalog_id, event_id, seq, event_type, node_name, status, created_at)
		SELECT $1, b.catalog_id, 9000000 + g, b.base + g, 'step.note', 'n' || g,
			CASE WHEN g = 2100 THEN NULL ELSE 'RUNNING' END, now() AT TIME ZONE 'UTC'
		FROM b, generate_series(1, 2100) g`, id)
	if err != nil {
		t.Fatal(err)
	}
	rec := f.do("GET", fmt.Sprintf("/api/executions/%d", id))
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	evs := httpkit.JSON(t, rec).(map[string]any)["events"].([]any)
	if len(evs) != 2000 {
		t.Fatalf("events = %d", len(evs))
	}
	first, last := evs[0].(map[string]any), evs[len(evs)-1].(map[string]any)
	if first["node_name"] != "n101" || last["node_name"] != "n2100" || last["status"] != "UNKNOWN" {
		t.Fatalf("first %v last %v", first, last)
	}
}

func TestStatusAndCancellation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	running := f.start("st/running")
	completed := f.start("st/completed")
	f.runToEnd(completed)
	failed := f.start("st/failed")
	f.work(failed, f.pending(failed)[0], "boom")
	broken := f.startSrc("st/broken", brokenTemplate, nil)
	f.runToEnd(broken)
	cancelled := f.start("st/cancelled")
	late := f.pending(cancelled)[0]
	cl, err := f.o.Claim(ctx, late, "w1")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.o.Cancel(ctx, cancelled); err != nil {
		t.Fatal(err)
	}
	// A late command.failed after the cancel: terminal is final.
	lateID, _ := f.Gen.Next()
	key := cl.Issued.Meta["command_id"].(string)
	if _, err := f.o.Ingest(ctx, cancelled, []eventlog.Event{{Event: engine.Event{EventID: lateID, Type: "command.failed",
		Step: "start", Status: "FAILED", Result: map[string]any{"status": "FAILED", "context": map[string]any{"command_id": key, "error": "late"}}}}}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name                          string
		id                            int64
		status                        string
		cancelled, completed, failedB bool
		progress                      map[string]any
		current                       any
	}{
		{"running", running, "RUNNING", false, false, false,
			map[string]any{"total_steps": int64(1), "completed_steps": int64(0), "running_steps": int64(1), "failed_steps": int64(0), "cancelled_steps": int64(0)}, nil},
		{"completed", completed, "COMPLETED", false, true, false,
			map[string]any{"total_steps": int64(2), "completed_steps": int64(2), "running_steps": int64(0), "failed_steps": int64(0), "cancelled_steps": int64(0)}, "finish"},
		{"failed", failed, "FAILED", false, false, true,
			map[string]any{"total_steps": int64(1), "completed_steps": int64(0), "running_steps": int64(0), "failed_steps": int64(1), "cancelled_steps": int64(0)}, "start"},
		// A template that does not render fails its step: counted failed, not cancelled.
		{"template error", broken, "FAILED", false, false, true,
			map[string]any{"total_steps": int64(2), "completed_steps": int64(1), "running_steps": int64(0), "failed_steps": int64(1), "cancelled_steps": int64(0)}, "finish"},
		// The claimed step was closed by the cancel; the late command.failed changes
		// nothing.
		{"cancelled", cancelled, "CANCELLED", true, false, true,
			map[string]any{"total_steps": int64(1), "completed_steps": int64(0), "running_steps": int64(0), "failed_steps": int64(0), "cancelled_steps": int64(1)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do("GET", fmt.Sprintf("/api/executions/%d/status", tc.id))
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			want := []string{"execution_id", "status", "current_step", "progress", "is_cancelled", "completed", "failed"}
			if got := httpkit.KeysInOrder(t, rec.Body.Bytes()); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("keys = %v", got)
			}
			m := httpkit.JSON(t, rec).(map[string]any)
			if m["execution_id"] != tc.id || m["status"] != tc.status || m["is_cancelled"] != tc.cancelled ||
				m["completed"] != tc.completed || m["failed"] != tc.failedB {
				t.Fatalf("status body = %v", m)
			}
			if tc.progress != nil && fmt.Sprint(m["progress"]) != fmt.Sprint(tc.progress) {
				t.Errorf("progress = %v, want %v", m["progress"], tc.progress)
			}
			if tc.name != "cancelled" && tc.name != "running" && m["current_step"] != tc.current {
				t.Errorf("current_step = %v, want %v", m["current_step"], tc.current)
			}
			// Every read route reports the same status.
			d := httpkit.JSON(t, f.do("GET", fmt.Sprintf("/api/executions/%d", tc.id))).(map[string]any)
			if d["status"] != tc.status {
				t.Errorf("detail status = %v", d["status"])
			}
			for _, e := range httpkit.JSON(t, f.do("GET", "/api/executions?limit=100")).([]any) {
				if s := e.(map[string]any); s["execution_id"] == tc.id && s["status"] != tc.status {
					t.Errorf("list status = %v", s["status"])
				}
			}
			cc := httpkit.JSON(t, f.do("GET", fmt.Sprintf("/api/executions/%d/cancellation-check", tc.id))).(map[string]any)
			if cc["execution_id"] != tc.id || cc["is_cancelled"] != tc.cancelled {
				t.Errorf("cancellation-check = %v", cc)
			}
		})
	}

	t.Run("unknown status", func(t *testing.T) {
		httpkit.WantError(t, f.do("GET", "/api/executions/77/status"), 404, "Execution not found: 77")
	})
	t.Run("unknown cancellation-check is false", func(t *testing.T) {
		rec := f.do("GET", "/api/executions/77/cancellation-check")
		if rec.Code != 200 || rec.Body.String() != `{"execution_id":77,"is_cancelled":false}` {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
}

func TestEventLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.start("log/pb")
	f.runToEnd(id)
	var total int64
	_ = f.Pool.QueryRow(context.Background(), `SELECT count(*) FROM event WHERE execution_id = $1`, id).Scan(&total)

	page := func(query string) map[string]any {
		t.Helper()
		rec := f.do("GET", fmt.Sprintf("/api/executions/%d/events%s", id, query))
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return httpkit.JSON(t, rec).(map[string]any)
	}

	t.Run("every column in seq order", func(t *testing.T) {
		rec := f.do("GET", fmt.Sprintf("/api/executions/%d/events", id))
		if got := httpkit.KeysInOrder(t, rec.Body.Bytes()); fmt.Sprint(got) != "[execution_id events next_after_seq has_more]" {
			t.Fatalf("keys = %v", got)
		}
		var raw struct{ Events []json.RawMessage }
		_ = json.Unmarshal(rec.Body.Bytes(), &raw)
		want := "[seq event_id event_type node_name node_id node_type status context result meta error parent_event_id parent_execution_id worker_id created_at]"
		if got := httpkit.KeysInOrder(t, raw.Events[0]); fmt.Sprint(got) != want {
			t.Fatalf("event keys = %v", got)
		}
		m := httpkit.JSON(t, rec).(map[string]any)
		evs := m["events"].([]any)
		if int64(len(evs)) != total || m["has_more"] != false || m["next_after_seq"] != total {
			t.Fatalf("events %d of %d, page %v", len(evs), total, m)
		}
		for i, e := range evs {
			ev := e.(map[string]any)
			if ev["seq"] != int64(i+1) {
				t.Fatalf("event %d seq = %v", i, ev["seq"])
			}
			if !rfc3339Z.MatchString(ev["created_at"].(string)) {
				t.Fatalf("created_at = %v", ev["created_at"])
			}
		}
		started := evs[0].(map[string]any)
		c := started["context"].(map[string]any)
		if started["event_type"] != "playbook_started" || c["workload"].(map[string]any)["big"] != int64(1234567890123456789) {
			t.Fatalf("start event = %v", started)
		}
		var claimed map[string]any
		for _, e := range evs {
			if e.(map[string]any)["event_type"] == "command.claimed" {
				claimed = e.(map[string]any)
				break
			}
		}
		if claimed == nil || claimed["worker_id"] != "w1" || claimed["meta"] == nil {
			t.Fatalf("claimed = %v", claimed)
		}
	})

	t.Run("pages", func(t *testing.T) {
		var seen []int64
		after := int64(0)
		for {
			m := page(fmt.Sprintf("?after_seq=%d&limit=3", after))
			evs := m["events"].([]any)
			for _, e := range evs {
				seen = append(seen, e.(map[string]any)["seq"].(int64))
			}
			if m["has_more"] == false {
				if len(evs) > 0 && m["next_after_seq"] != seen[len(seen)-1] {
					t.Fatalf("last page next_after_seq = %v", m["next_after_seq"])
				}
				break
			}
			if len(evs) != 3 || m["next_after_seq"] != seen[len(seen)-1] {
				t.Fatalf("page %v", m)
			}
			after = m["next_after_seq"].(int64)
		}
		if int64(len(seen)) != total || seen[0] != 1 || seen[len(seen)-1] != total {
			t.Fatalf("seen %v", seen)
		}
	})

	t.Run("after the end", func(t *testing.T) {
		m := page(fmt.Sprintf("?after_seq=%d", total))
		// An empty page keeps the reader where it is: a poller that passes
		// next_after_seq back does not read the log again from the start.
		if len(m["events"].([]any)) != 0 || m["next_after_seq"] != total || m["has_more"] != false {
			t.Fatalf("page %v", m)
		}
	})

	bad := []struct{ query, msg string }{
		{"?limit=0", "Invalid query parameter limit: must be at least 1"},
		{"?limit=-3", "Invalid query parameter limit: must not be negative"},
		{"?after_seq=-1", "Invalid query parameter after_seq: must not be negative"},
		{"?after_seq=x", `Invalid query parameter after_seq: "x" is not an integer`},
	}
	for _, tc := range bad {
		t.Run("bad "+tc.query, func(t *testing.T) {
			httpkit.WantError(t, f.do("GET", fmt.Sprintf("/api/executions/%d/events%s", id, tc.query)), 400, tc.msg)
		})
	}
	t.Run("unknown execution", func(t *testing.T) {
		httpkit.WantError(t, f.do("GET", "/api/executions/5/events"), 404, "Execution not found: 5")
	})
}

// TestListPagesWithACursor: a client that pages with before (the last id of the page it
// read) sees every execution once, in order, while new executions start between its
// pages (an offset would show the last rows of a page again); executions that started
// at the same instant are ordered by id on both sides of the cursor. A cursor that names
// no execution is a 404, one that is no id a 400.
func TestListPagesWithACursor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base := time.Date(2026, 6, 6, 12, 0, 0, 0, time.UTC)
	var want []int64 // newest first
	for i := range 5 {
		id := f.start("cursor/pb")
		f.setStarted(id, base.Add(time.Duration(i/2)*time.Minute)) // pairs start together
		want = append([]int64{id}, want...)
	}
	page := func(query string) []int64 {
		t.Helper()
		rec := f.do("GET", "/api/executions?path=cursor/&limit=2"+query)
		arr, ok := httpkit.JSON(t, rec).([]any)
		if rec.Code != 200 || !ok {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		out := make([]int64, len(arr))
		for i, e := range arr {
			out[i] = e.(map[string]any)["execution_id"].(int64)
		}
		return out
	}
	var got []int64
	next := ""
	for n := 0; n < 10; n++ {
		p := page(next)
		if len(p) == 0 {
			break
		}
		got = append(got, p...)
		next = fmt.Sprintf("&before=%d", p[len(p)-1])
		f.start("cursor/pb") // starts now, before every listed one in the list's order
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged ids = %v, want %v", got, want)
	}
	if p := page(fmt.Sprintf("&before=%d&status=COMPLETED", want[2])); len(p) != 0 {
		t.Errorf("before with a filter no row matches = %v", p)
	}
	httpkit.WantError(t, f.do("GET", "/api/executions?before=77"), 404, "Execution not found: 77 (the before cursor)")
	httpkit.WantError(t, f.do("GET", "/api/executions?before=x"), 400, `Invalid query parameter before: "x" is not a 64-bit integer`)
}
