package events

import "context"
import "fmt"
import "net/http/httptest"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

const projectToken = "project-test-token"

type projectAPI struct{ *apitest.Env }

func newProjectAPI(t *testing.T) *projectAPI {
	t.Helper()
	a := &projectAPI{apitest.NewEnv(t, projectToken)}
	NewProjector(a.Pool, nil, nil).Register(a.Engine.Group("/api/internal"))
	return a
}

// post sends a batch to the projection route with the Bearer token tok ("" sends none).
func (a *projectAPI) post(body, tok string) *httptest.ResponseRecorder {
	return a.Do("POST", "/api/internal/events/project", body, tok)
}

// execution creates a catalog row and an execution row with last_seq events already
// counted; it returns both ids.
func (a *projectAPI) execution(lastSeq int64) (execID, catalogID int64) {
	a.T.Helper()
	return apitest.Execution(a.T, a.Schema, a.Gen, lastSeq)
}

func (a *projectAPI) lastSeq(execID int64) int64 {
	a.T.Helper()
	return testkit.QueryOne[int64](a.T, a.Schema, `SELECT last_seq FROM execution WHERE execution_id = $1`, execID)
}

func TestProjectIntoAKnownExecution(t *testing.T) {
	t.Parallel()
	a := newProjectAPI(t)
	execID, catalogID := a.execution(5)
	body := fmt.Sprintf(`{"events":[
		{"event_id":1001,"execution_id":%[1]d,"event_type":"command.started","node_name":"s1","status":"RUNNING",
		 "timestamp":"2026-06-06T12:00:01.5+02:00","duration":1.25,"context":null,
		 "result":{"status":"RUNNING","context":{"api_key":"sk-123","rows":7}},"meta":{"password":"p","big":1234567890123456789},
		 "worker_id":"w9","parent_execution_id":"77","trace_component":{"x":1}},
		{"event_id":"1002","execution_id":"%[1]d","event_type":"call.done","tenant_id":"t1"},
		{"event_id":1003,"execution_id":%[1]d,"event_type":"call.done","created_at":"2026-06-06T10:00:00Z"},
		{"event_id":1002,"execution_id":%[1]d,"event_type":"repeat within the request"}
	]}`, execID)
	m := httpkit.WantJSON(t, a.post(body, projectToken), 200)
	if m["projected"] != int64(3) || m["duplicates"] != int64(1) {
		t.Fatalf("answer = %v", m)
	}
	if got := a.lastSeq(execID); got != 8 {
		t.Fatalf("last_seq = %d, want 8", got)
	}
	type row struct {
		seq          int64
		catalog      int64
		created      time.Time
		tenant, org  string
		ctxNull      bool
		result, meta string
		worker       *string
		parentExec   *int64
		duration     *float64
		eventType    string
	}
	read := func(eventID int64) row {
		var r row
		err := a.Pool.QueryRow(context.Background(), `SELECT seq, catalog_id, created_at, tenant_id, organization_id, context IS NULL,
				coalesce(result::text, ''), coalesce(meta::text, ''), worker_id, parent_execution_id, duration, event_type
			FROM event WHERE execution_id = $1 AND event_id = $2`, execID, eventID).
			Scan(&r.seq, &r.catalog, &r.created, &r.tenant, &r.org, &r.ctxNull, &r.result, &r.meta, &r.worker, &r.parentExec, &r.duration, &r.eventType)
		if err != nil {
			t.Fatalf("event %d: %v", eventID, err)
		}
		return r
	}
	r1, r2, r3 := read(1001), read(1002), read(1003)
	if r1.seq != 6 || r2.seq != 7 || r3.seq != 8 {
		t.Fatalf("seqs = %d %d %d", r1.seq, r2.seq, r3.seq)
	}
	if r1.catalog != catalogID || r2.catalog != catalogID {
		t.Fatalf("catalog ids = %d %d, want %d", r1.catalog, r2.catalog, catalogID)
	}
	if !r1.created.Equal(time.Date(2026, 6, 6, 10, 0, 1, 500_000_000, time.UTC)) || !r3.created.Equal(time.Date(2026, 6, 6, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("created_at = %v / %v", r1.created, r3.created)
	}
	if r1.tenant != "default" || r1.org != "default" || r2.tenant != "t1" || !r1.ctxNull {
		t.Fatalf("defaults: %+v %+v", r1, r2)
	}
	if !strings.Contains(r1.result, `"api_key": "[REDACTED]"`) || !strings.Contains(r1.result, `"rows": 7`) ||
		!strings.Contains(r1.meta, `"password": "[REDACTED]"`) || !strings.Contains(r1.meta, "1234567890123456789") {
		t.Fatalf("result %s meta %s", r1.result, r1.meta)
	}
	if r1.worker == nil || *r1.worker != "w9" || r1.parentExec == nil || *r1.parentExec != 77 || r1.duration == nil || *r1.duration != 1.25 {
		t.Fatalf("columns: %+v", r1)
	}
	if r2.eventType != "call.done" {
		t.Fatalf("the first of two repeats wins: %q", r2.eventType)
	}

	// The same events again change nothing and reserve no sequence numbers.
	m = httpkit.WantJSON(t, a.post(body, projectToken), 200)
	if m["projected"] != int64(0) || m["duplicates"] != int64(4) || a.lastSeq(execID) != 8 {
		t.Fatalf("repeat: %v, last_seq %d", m, a.lastSeq(execID))
	}
}

func TestProjectCatalogRules(t *testing.T) {
	t.Parallel()
	a := newProjectAPI(t)
	execID, catalogID := a.execution(0)
	count := func() int {
		var n int
		_ = a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM event`).Scan(&n)
		return n
	}
	cases := []struct {
		name   string
		body   string
		status int
		msg    string
	}{
		{"unknown execution without catalog_id", fmt.Sprintf(`{"events":[{"event_id":1,"execution_id":%d},{"event_id":2,"execution_id":999}]}`, execID),
			422, "events[1]: catalog_id is required: execution 999 is unknown"},
		{"no execution_id and no catalog_id", `{"events":[{"event_id":1}]}`, 422, "events[0]: catalog_id is required: execution 0 is unknown"},
		{"unknown catalog", `{"events":[{"event_id":1,"execution_id":5,"catalog_id":424242}]}`, 422, "events[0]: catalog_id 424242 does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := httpkit.WantJSON(t, a.post(tc.body, projectToken), tc.status)
			if m["error"] != tc.msg {
				t.Fatalf("error = %v", m["error"])
			}
		})
	}
	if n := count(); n != 0 {
		t.Fatalf("a rejected request wrote %d events", n)
	}
	if a.lastSeq(execID) != 0 {
		t.Fatal("a rejected request reserved sequence numbers")
	}

	// An execution this api does not know, with a catalog: stored without a seq.
	m := httpkit.WantJSON(t, a.post(fmt.Sprintf(`{"events":[{"event_id":7,"execution_id":31337,"catalog_id":%d,"event_type":"x"}]}`, catalogID), projectToken), 200)
	if m["projected"] != int64(1) {
		t.Fatalf("answer = %v", m)
	}
	var seq *int64
	_ = a.Pool.QueryRow(context.Background(), `SELECT seq FROM event WHERE execution_id = 31337 AND event_id = 7`).Scan(&seq)
	if seq != nil {
		t.Fatalf("seq = %d, want NULL", *seq)
	}
}

func TestProjectRejectsBadBodies(t *testing.T) {
	t.Parallel()
	a := newProjectAPI(t)
	cases := []struct {
		name, body, msg string
		status          int
	}{
		{"empty events", `{"events":[]}`, "events must not be empty", 400},
		{"missing events", `{}`, "events must not be empty", 400},
		{"events not an array", `{"events":{}}`, `field "events" must be an array`, 422},
		{"no event_id", `{"events":[{"execution_id":1}]}`, "events[0]: event_id is required", 422},
		{"float event_id", `{"events":[{"event_id":1.5}]}`, "events[0]: event_id must be a 64-bit integer or a decimal string", 422},
		{"bad result shape", `{"events":[{"event_id":1,"result":{"status":"OK","data":1}}]}`,
			`events[0]: result must be an object with a string "status" and no keys other than "status", "reference" and "context" (both objects)`, 422},
		{"bad timestamp", `{"events":[{"event_id":1,"timestamp":"yesterday"}]}`, "events[0]: timestamp must be RFC 3339 with an offset", 422},
		{"string field of the wrong type", `{"events":[{"event_id":1,"status":3}]}`, "events[0]: status must be a string", 422},
		{"item not an object", `{"events":[3]}`, "events[0]: expected an object, got number", 422},
		{"body not an object", `[]`, "request body must be a JSON object", 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := httpkit.WantJSON(t, a.post(tc.body, projectToken), tc.status)
			if m["error"] != tc.msg {
				t.Fatalf("error = %q", m["error"])
			}
		})
	}
	t.Run("without the token", func(t *testing.T) {
		if rec := a.post(`{"events":[{"event_id":1}]}`, ""); rec.Code != 401 {
			t.Fatalf("status = %d", rec.Code)
		}
	})
}

// TestProjectRedactsEveryWorkerField: the projector stores context, error and stack_trace
// redacted, like result and meta (the security review found them stored as sent).
func TestProjectRedactsEveryWorkerField(t *testing.T) {
	t.Parallel()
	a := newProjectAPI(t)
	execID, _ := a.execution(0)
	body := fmt.Sprintf(`{"events":[{"event_id":2001,"execution_id":%d,"event_type":"call.error",
		"context":{"env":[{"name":"DB_PASSWORD","value":"hunter2"}],"PGPASSWORD":"pw","rows":3},
		"error":"connect postgresql://app:s3cr3t@db:5432/app failed",
		"stack_trace":"at login(Authorization: Bearer abcdef123456)\n at main",
		"result":{"status":"FAILED","context":{"url":"https://x.io/cb?access_token=tok123&page=2"}},
		"meta":{"secrets":{"a":"b"},"author":"ann"}}]}`, execID)
	httpkit.WantJSON(t, a.post(body, projectToken), 200)
	var ctxText, errText, stack, result, meta string
	if err := a.Pool.QueryRow(context.Background(), `SELECT context::text, error, stack_trace, result::text, meta::text
		FROM event WHERE execution_id = $1 AND event_id = 2001`, execID).Scan(&ctxText, &errText, &stack, &result, &meta); err != nil {
		t.Fatal(err)
	}
	all := ctxText + errText + stack + result + meta
	for _, secret := range []string{"hunter2", `"pw"`, "s3cr3t", "abcdef123456", "tok123", `"b"`} {
		if strings.Contains(all, secret) {
			t.Errorf("stored %s unredacted: %s", secret, all)
		}
	}
	for _, kept := range []string{`"rows": 3`, "postgresql://app:[REDACTED]@db:5432/app", "Bearer [REDACTED]", "page=2", `"author": "ann"`, "DB_PASSWORD"} {
		if !strings.Contains(all, kept) {
			t.Errorf("%s missing after redaction: %s", kept, all)
		}
	}
}

// The relay forwards worker events and an execution's terminal event; the types only
// this control plane writes for its own executions (the engine's decisions, the claim,
// the sweeps' requeue) are refused with a 422 naming the type, and the batch stores
// nothing, as POST /api/events refuses them.
func TestProjectRefusesControlPlaneOnlyTypes(t *testing.T) {
	t.Parallel()
	a := newProjectAPI(t)
	execID, _ := a.execution(0)
	for _, typ := range []string{"playbook.started", "playbook_started", "playbook.initialized", "step.enter", "step_enter",
		"step.skipped", "step.cancelled", "ctx.updated", "command.issued", "command.claimed", "command.requeued"} {
		t.Run(typ, func(t *testing.T) {
			body := fmt.Sprintf(`{"events":[{"event_id":1,"execution_id":%[1]d,"event_type":"call.done"},
				{"event_id":2,"execution_id":%[1]d,"event_type":%[2]q}]}`, execID, typ)
			httpkit.WantError(t, a.post(body, projectToken), 422,
				fmt.Sprintf(`events[1]: event_type %q is written by the control plane only and is not relayed `+
					`(the projector takes worker events and an execution's terminal event)`, typ))
		})
	}
	if n := testkit.QueryOne[int64](t, a.Schema, `SELECT count(*) FROM event`); n != 0 {
		t.Fatalf("refused batches stored %d events", n)
	}
	body := fmt.Sprintf(`{"events":[{"event_id":1,"execution_id":%[1]d,"event_type":"command.started"},
		{"event_id":2,"execution_id":%[1]d,"event_type":"call.done"},
		{"event_id":3,"execution_id":%[1]d,"event_type":"step.exit"},
		{"event_id":4,"execution_id":%[1]d,"event_type":"command.completed"}]}`, execID)
	if m := httpkit.WantJSON(t, a.post(body, projectToken), 200); m["projected"] != int64(4) {
		t.Fatalf("worker events: %v", m)
	}
}
