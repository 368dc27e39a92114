package retention

import "context"
import "io"
import "log/slog"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/testkit"

// seeded is one execution and how many rows of each child table it gets.
type seeded struct {
	id, parent int64
	status     string
	finished   time.Duration // ago; 0 = not finished
	keep       bool          // what retention must do with it
}

var children = map[string]int{"event": 5, "command": 3, "result_store": 1, "transient": 2, "outbox": 3}

func seed(t *testing.T, s *testkit.Schema, now time.Time, execs []seeded) {
	t.Helper()
	ctx := context.Background()
	testkit.InsertCatalog(t, s, 1, "retention/test", "{}")
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := s.Pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, e := range execs {
		var completed any
		if e.finished > 0 {
			completed = now.Add(-e.finished)
		}
		var parent any
		if e.parent != 0 {
			parent = e.parent
		}
		exec(`INSERT INTO execution (execution_id, catalog_id, path, status, parent_execution_id, started_at, completed_at)
			VALUES ($1, 1, 'retention/test', $2, $3, $4, $5)`, e.id, e.status, parent, now.Add(-60*24*time.Hour), completed)
		for i := range int64(children["event"]) {
			exec(`INSERT INTO event (execution_id, catalog_id, event_id, seq, event_type) VALUES ($1, 1, $2, $3, 'step.exit')`, e.id, e.id*100+i, i+1)
		}
		for i := range int64(children["command"]) {
			exec(`INSERT INTO command (command_id, event_id, execution_id, catalog_id, step_name, command_key)
				VALUES ($1, $2, $3, 1, 's', $4)`, e.id*100+i, e.id*1000+i, e.id, "k"+string(rune('a'+i)))
		}
		exec(`INSERT INTO result_store (ref_id, execution_id, name, data, bytes, sha256) VALUES ($1, $2, 'r', '{}', 2, 'x')`, e.id, e.id)
		for i := range children["transient"] {
			exec(`INSERT INTO transient (execution_id, var_name, var_type, var_value) VALUES ($1, $2, 'user_defined', '1')`, e.id, "v"+string(rune('a'+i)))
		}
		for i := range int64(children["outbox"]) {
			exec(`INSERT INTO outbox (execution_id, event_id, payload, status) VALUES ($1, $2, '{}', 'PUBLISHED')`, e.id, e.id*1000+i)
		}
	}
	// An outbox row of no execution: never retention's business.
	exec(`INSERT INTO outbox (execution_id, event_id, payload) VALUES (NULL, 1, '{}')`)
}

func counted(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "noetl_retention_rows_deleted_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return out
}

// TestPassRemovesExactlyTheOldRows: finished executions older than the age lose every
// row; recent ones, running ones, finished children of a running parent and finished
// ancestors of a running execution keep all of theirs; the metric counts what went.
func TestPassRemovesExactlyTheOldRows(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	const day = 24 * time.Hour
	execs := []seeded{
		{id: 1, status: "COMPLETED", finished: 10 * day},
		{id: 2, status: "FAILED", finished: 8 * day},
		{id: 3, status: "CANCELLED", finished: 30 * day},
		{id: 4, status: "COMPLETED", finished: time.Hour, keep: true},
		{id: 5, status: "RUNNING", keep: true},
		{id: 6, parent: 5, status: "COMPLETED", finished: 20 * day, keep: true}, // parent still runs
		{id: 7, parent: 1, status: "COMPLETED", finished: 9 * day},
		{id: 8, status: "COMPLETED", finished: 7*day - time.Minute, keep: true}, // just inside the age
		// A cancelled parent whose child still runs (the cascade was interrupted and the
		// sweep is off): deleting it would orphan the child.
		{id: 9, status: "CANCELLED", finished: 30 * day, keep: true},
		{id: 10, parent: 9, status: "RUNNING", keep: true},
		// A running grandchild keeps the whole line above it, through a finished child.
		{id: 11, status: "COMPLETED", finished: 30 * day, keep: true},
		{id: 12, parent: 11, status: "FAILED", finished: 30 * day, keep: true},
		{id: 13, parent: 12, status: "RUNNING", keep: true},
	}
	seed(t, s, now, execs)

	reg := prometheus.NewRegistry()
	sw := New(s.Pool, Config{MaxAge: 7 * day, BatchRows: 2, Executions: 2}, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sw.now = func() time.Time { return now }
	removed, err := sw.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	gone := 0
	for _, e := range execs {
		if !e.keep {
			gone++
		}
	}
	if removed.Executions != int64(gone) {
		t.Errorf("removed %d executions, want %d", removed.Executions, gone)
	}
	metric := counted(t, reg)
	for table, per := range children {
		if removed.Rows[table] != int64(per*gone) || metric[table] != float64(per*gone) {
			t.Errorf("%s: removed %d, metric %v, want %d", table, removed.Rows[table], metric[table], per*gone)
		}
	}
	if metric["execution"] != float64(gone) {
		t.Errorf("metric execution = %v, want %d", metric["execution"], gone)
	}
	for _, e := range execs {
		want := 0
		if e.keep {
			want = 1
		}
		if n := testkit.QueryOne[int64](t, s, `SELECT count(*) FROM execution WHERE execution_id = $1`, e.id); n != int64(want) {
			t.Errorf("execution %d: %d rows, want %d", e.id, n, want)
		}
		for table, per := range children {
			want := 0
			if e.keep {
				want = per
			}
			if n := testkit.QueryOne[int64](t, s, `SELECT count(*) FROM `+table+` WHERE execution_id = $1`, e.id); n != int64(want) {
				t.Errorf("execution %d: %d %s rows, want %d", e.id, n, table, want)
			}
		}
	}
	if n := testkit.QueryOne[int64](t, s, `SELECT count(*) FROM outbox WHERE execution_id IS NULL`); n != 1 {
		t.Errorf("the outbox row of no execution was touched (%d left)", n)
	}

	// A second pass finds nothing more.
	again, err := sw.Pass(context.Background())
	if err != nil || again.Executions != 0 || len(again.Rows) != 0 {
		t.Errorf("second pass: %+v, %v", again, err)
	}
}

// TestLateChildKeepsItsParent: a child that started after its ended parent was picked
// (a pass picks first and deletes later) keeps the parent: the check is made again under
// the row lock that the deletion takes.
func TestLateChildKeepsItsParent(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	now := time.Now()
	seed(t, s, now, []seeded{
		{id: 1, status: "COMPLETED", finished: 30 * 24 * time.Hour},
		{id: 2, parent: 1, status: "RUNNING"},
	})
	sw := New(s.Pool, Config{MaxAge: time.Hour}, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	removed := Removed{Rows: map[string]int64{}}
	n, err := sw.deleteExecutions(context.Background(), []int64{1}, &removed) // as if picked before the child started
	if err != nil || n != 0 {
		t.Fatalf("deleted %d executions (%v), want none", n, err)
	}
	if n := testkit.QueryOne[int64](t, s, `SELECT count(*) FROM execution WHERE execution_id = 1`); n != 1 {
		t.Fatal("the parent of a running child was deleted")
	}
}

// TestRetentionOff: with no age nothing is deleted, whatever the rows' age.
func TestRetentionOff(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	now := time.Now()
	seed(t, s, now, []seeded{{id: 1, status: "COMPLETED", finished: 365 * 24 * time.Hour}})
	sw := New(s.Pool, Config{}, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	removed, err := sw.Pass(context.Background())
	if err != nil || removed.Executions != 0 {
		t.Fatalf("pass with retention off: %+v %v", removed, err)
	}
	if n := testkit.QueryOne[int64](t, s, `SELECT count(*) FROM event`); n != int64(children["event"]) {
		t.Fatalf("events deleted with retention off: %d left", n)
	}
}

func TestIntervalDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ age, want time.Duration }{
		{time.Hour, 6 * time.Minute},
		{2 * time.Minute, time.Minute},
		{30 * 24 * time.Hour, 10 * time.Minute},
	} {
		sw := New(nil, Config{MaxAge: tc.age}, prometheus.NewRegistry(), slog.Default())
		if sw.cfg.Interval != tc.want {
			t.Errorf("age %v: interval %v, want %v", tc.age, sw.cfg.Interval, tc.want)
		}
	}
}
