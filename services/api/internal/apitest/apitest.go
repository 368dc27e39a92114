// Package apitest is the common ground of the api packages' tests: the environment a
// handler test works against, and seeding of the api's tables, so that a test of one
// route does not have to go through the routes that create its rows.
//
// It imports none of the api's packages, so that every one of them can use it.
package apitest

import "context"
import "fmt"
import "net/http/httptest"
import "testing"
import "time"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

// Env is what an api handler test works against: a migrated schema of its own (Pool
// and Name promoted), an id generator and an engine to register the routes under test on.
type Env struct {
	*testkit.Schema
	T      *testing.T
	Gen    *ids.Generator
	Engine *gin.Engine
}

// NewEnv builds an Env whose engine is httpkit.Engine(t, token).
func NewEnv(t *testing.T, token string) *Env {
	t.Helper()
	return NewEnvWith(t, httpx.Options{}, token)
}

// NewEnvWith builds an Env whose engine is httpkit.EngineWith(t, o, token).
func NewEnvWith(t *testing.T, o httpx.Options, token string) *Env {
	t.Helper()
	gen, err := ids.NewGenerator(1)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Schema: testkit.NewSchema(t, migrations.Set), T: t, Gen: gen, Engine: httpkit.EngineWith(t, o, token)}
}

// Do serves one request on the engine with the Bearer token tok ("" sends none).
func (e *Env) Do(method, path, body, tok string) *httptest.ResponseRecorder {
	e.T.Helper()
	return httpkit.Request(e.T, e.Engine, method, path, body, tok)
}

// Execution inserts a catalog row and an execution of it whose event sequence already
// stands at lastSeq, with ids from gen; it returns both ids.
func Execution(t testing.TB, s *testkit.Schema, gen *ids.Generator, lastSeq int64) (execID, catalogID int64) {
	t.Helper()
	catalogID, _ = gen.Next()
	execID, _ = gen.Next()
	testkit.InsertCatalog(t, s, catalogID, fmt.Sprint("p", catalogID), "x")
	if _, err := s.Pool.Exec(context.Background(), `INSERT INTO execution (execution_id, catalog_id, path, last_seq) VALUES ($1, $2, 'p', $3)`,
		execID, catalogID, lastSeq); err != nil {
		t.Fatalf("insert execution: %v", err)
	}
	return execID, catalogID
}

// PendingCommands lists the event ids of an execution's unclaimed commands, oldest first.
func PendingCommands(t testing.TB, s *testkit.Schema, execID int64) []int64 {
	t.Helper()
	rows, err := s.Pool.Query(context.Background(), `SELECT event_id FROM command WHERE execution_id = $1 AND status = 'PENDING' ORDER BY event_id`, execID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// EndFromElsewhere stores a terminal event of eventType (status its status) after an
// execution's last event without running a pass, as the projector does, and returns its
// id: the execution's row, snapshot and command rows are left as they were, for the next
// pass to fold.
func EndFromElsewhere(t testing.TB, s *testkit.Schema, gen *ids.Generator, execID int64, eventType, status string) int64 {
	t.Helper()
	id, _ := gen.Next()
	exec(t, s, `INSERT INTO event (execution_id, catalog_id, event_id, seq, event_type, node_name, status)
		SELECT execution_id, catalog_id, $2, last_seq + 1, $3, 'playbook', $4 FROM execution WHERE execution_id = $1`,
		execID, id, eventType, status)
	exec(t, s, `UPDATE execution SET last_seq = last_seq + 1 WHERE execution_id = $1`, execID)
	return id
}

// EndAsOlderVersion ends a running execution the way versions before the close-out rule
// did (docs/engine.md, "Failure and the end of a run"): the terminal event is stored at
// `at` and the status set, but the snapshot keeps its steps running and its commands
// outstanding, and the command rows stay as they were. It returns the event's id.
func EndAsOlderVersion(t testing.TB, s *testkit.Schema, gen *ids.Generator, execID int64, status, eventType string, at time.Time) int64 {
	t.Helper()
	id, _ := gen.Next()
	exec(t, s, `INSERT INTO event (execution_id, catalog_id, event_id, seq, event_type, node_name, status, created_at)
		SELECT execution_id, catalog_id, $2, last_seq + 1, $3, 'playbook', $4, $5 FROM execution WHERE execution_id = $1`,
		execID, id, eventType, status, at)
	exec(t, s, `UPDATE execution SET last_seq = last_seq + 1, state_seq = last_seq + 1, status = $2, completed_at = $3,
		state = jsonb_set(state, '{status}', to_jsonb($2::text), false) || jsonb_build_object('seq', last_seq + 1)
		WHERE execution_id = $1`, execID, status, at)
	return id
}

func exec(t testing.TB, s *testkit.Schema, sql string, args ...any) {
	t.Helper()
	if _, err := s.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
