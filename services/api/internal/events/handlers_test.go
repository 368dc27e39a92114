package events

import "context"
import "fmt"
import "io"
import "log/slog"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/orchestrator"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"
import "github.com/noetl/controlplane/shared/tmpl"

// newOrchestrator is an orchestrator over a's schema.
func newOrchestrator(a *apitest.Env) *orchestrator.Orchestrator {
	return orchestrator.New(orchestrator.Config{Pool: a.Pool, Engine: engine.New(tmpl.New(0), a.Gen), IDs: a.Gen,
		Playbooks: catalog.NewCache(8), ServerURL: "http://localhost:8082", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// startPlaybook registers the playbook src in a's catalog and starts an execution of it.
func startPlaybook(t *testing.T, a *apitest.Env, orch *orchestrator.Orchestrator, src string) orchestrator.StartResult {
	t.Helper()
	pb, err := playbook.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	catID, _ := a.Gen.Next()
	testkit.InsertCatalog(t, a.Schema, catID, pb.Metadata.Path, src)
	entry, err := catalog.ByID(context.Background(), a.Pool, catID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := orch.Start(context.Background(), orchestrator.StartRequest{Entry: entry, Playbook: pb})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// newEventsAPI serves POST /api/events and /api/events/batch over a schema of its own.
func newEventsAPI(t *testing.T) *apitest.Env {
	t.Helper()
	a := apitest.NewEnv(t, "")
	orch := newOrchestrator(a)
	w := NewWriter(a.Pool, 2, 0)
	t.Cleanup(w.Close)
	NewHandlers(orch, w, a.Gen, nil, nil).Register(a.Engine.Group("/api"))
	return a
}

// TestPostedEventsAreRedacted: what a worker posts through /api/events and
// /api/events/batch is stored with every secret shape of the security review replaced,
// and with what is not a secret kept.
func TestPostedEventsAreRedacted(t *testing.T) {
	t.Parallel()
	a := newEventsAPI(t)
	execID, _ := apitest.Execution(t, a.Schema, a.Gen, 0)
	payload := `{"PGPASSWORD":"pw01","secrets":{"x":"pw02"},"passwords":["pw03"],"apiKeys":["pw04"],"cookies":"pw05",
		"sessionid":"pw06","credentials":{"u":"pw07"},"env":[{"name":"DB_PASSWORD","value":"pw08"}],
		"log":"GET / Authorization: Bearer pw09pw09pw09pw09","jwt":"token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwdzEwIn0.c2lnbmF0dXJlcHcxMA",
		"cb":"https://x.io/cb?access_token=pw11&client_secret=pw12&page=2","dsn":"postgresql://app:pw13@db/app",
		"gh":"ghp_pw14pw14pw14pw14pw14pw14pw14pw14pw14",
		"author":"ann","tokens_used":12,"auth":"pg_local","sha":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","credential_id":7}`
	bodies := map[string]string{
		"/api/events": fmt.Sprintf(`{"execution_id":%d,"step":"s","event_type":"command.started","payload":%s,"meta":{"cookies":"pw15","attempt":1}}`, execID, payload),
		"/api/events/batch": fmt.Sprintf(`{"execution_id":"%d","worker_id":"w1","events":[{"step":"s","event_type":"call.done","status":"RUNNING","actionable":false,
			"payload":%s,"meta":{"cookies":"pw15","attempt":1}}]}`, execID, payload),
	}
	for path, body := range bodies {
		httpkit.WantJSON(t, a.Do("POST", path, body, ""), 200)
	}
	rows, err := a.Pool.Query(context.Background(), `SELECT result::text || meta::text FROM event WHERE execution_id = $1`, execID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		var stored string
		if err := rows.Scan(&stored); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 15; i++ {
			if secret := fmt.Sprintf("pw%02d", i); strings.Contains(stored, secret) {
				t.Errorf("secret %s stored: %s", secret, stored)
			}
		}
		for _, kept := range []string{`"author": "ann"`, `"tokens_used": 12`, `"auth": "pg_local"`, `"credential_id": 7`,
			"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "page=2", `"attempt": 1`} {
			if !strings.Contains(stored, kept) {
				t.Errorf("%s lost: %s", kept, stored)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
}

// TestServerOnlyEventTypesAreRefused: a worker cannot post an event only the control
// plane writes (a step.cancelled would show a running step cancelled, a terminal event
// would end the run). Both routes answer 422 naming the type and store nothing, the
// batch not even its valid events; what workers do post is still stored.
func TestServerOnlyEventTypesAreRefused(t *testing.T) {
	t.Parallel()
	a := newEventsAPI(t)
	execID, _ := apitest.Execution(t, a.Schema, a.Gen, 0)
	refused := []string{"step.cancelled", "step.skipped", "step.enter", "step_enter", "ctx.updated",
		"command.issued", "command.claimed", "command.requeued", "playbook_started", "playbook.started",
		"playbook.initialized", "playbook.completed", "playbook_failed", "playbook.cancelled", "execution.cancelled"}
	for _, typ := range refused {
		t.Run(typ, func(t *testing.T) {
			want := fmt.Sprintf("event_type %q is written by the control plane only and cannot be posted by a worker "+
				"(a worker posts command.started, call.done, call.error, command.completed and command.failed)", typ)
			single := fmt.Sprintf(`{"execution_id":%d,"step":"s","event_type":%q,"worker_id":"w1"}`, execID, typ)
			httpkit.WantError(t, a.Do("POST", "/api/events", single, ""), 422, want)
			// The alias "name" is checked too.
			alias := fmt.Sprintf(`{"execution_id":%d,"step":"s","name":%q}`, execID, typ)
			httpkit.WantError(t, a.Do("POST", "/api/events", alias, ""), 422, want)
			batch := fmt.Sprintf(`{"execution_id":"%d","worker_id":"w1","events":[{"step":"s","event_type":"command.started"},{"step":"s","event_type":%q}]}`, execID, typ)
			httpkit.WantError(t, a.Do("POST", "/api/events/batch", batch, ""), 422, "events[1]: "+want)
		})
	}
	var stored int
	if err := a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM event WHERE execution_id = $1`, execID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Fatalf("%d refused events stored", stored)
	}
	for _, typ := range []string{"command.started", "action_started", "step_started"} {
		body := fmt.Sprintf(`{"execution_id":%d,"step":"s","event_type":%q,"worker_id":"w1"}`, execID, typ)
		httpkit.WantJSON(t, a.Do("POST", "/api/events", body, ""), 200)
	}
}

// TestExecutionIDMissingOrMalformed: an event without execution_id and one whose
// execution_id is not an id are refused with different messages (422, nothing stored),
// so a worker's author learns which it was; a well-formed id of no execution is a 404.
func TestExecutionIDMissingOrMalformed(t *testing.T) {
	t.Parallel()
	a := newEventsAPI(t)
	const missing = `field "execution_id" is required`
	cases := []struct {
		name, id string // id: the JSON of execution_id, "" leaves it out
		status   int
		msg      string
	}{
		{"missing", "", 422, missing},
		{"null", "null", 422, missing},
		{"letters", `"abc"`, 422, `Invalid execution_id: "abc" is not an integer or a decimal string`},
		{"a fraction", `1.5`, 422, `Invalid execution_id: 1.5 is not an integer or a decimal string`},
		{"an object", `{"id": 1}`, 422, `Invalid execution_id: {"id": 1} is not an integer or a decimal string`},
		{"no such execution", `"987654321"`, 404, "Execution not found: 987654321"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			field := ""
			if tc.id != "" {
				field = `"execution_id":` + tc.id + `,`
			}
			single := `{` + field + `"step":"s","event_type":"command.started","worker_id":"w1"}`
			httpkit.WantError(t, a.Do("POST", "/api/events", single, ""), tc.status, tc.msg)
			batch := `{` + field + `"worker_id":"w1","events":[{"step":"s","event_type":"command.started"}]}`
			httpkit.WantError(t, a.Do("POST", "/api/events/batch", batch, ""), tc.status, tc.msg)
		})
	}
	var stored int
	if err := a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM event`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Fatalf("%d refused events stored", stored)
	}
}
