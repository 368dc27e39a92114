package reconcile

import "context"
import "io"
import "log/slog"
import "os"
import "path/filepath"
import "strconv"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/orchestrator"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/tmpl"

// fixture is an orchestrator and a sweeper on a fresh schema, with one registered
// playbook (a chain of noop steps: a started execution has `start` running and its
// command PENDING).
type fixture struct {
	t     *testing.T
	s     *testkit.Schema
	gen   *ids.Generator
	o     *orchestrator.Orchestrator
	reg   *prometheus.Registry
	sw    *Sweeper
	entry *catalog.Entry
	pb    *playbook.Playbook
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	s := testkit.NewSchema(t, migrations.Set)
	gen, _ := ids.NewGenerator(11)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fixture{t: t, s: s, gen: gen, reg: prometheus.NewRegistry()}
	f.o = orchestrator.New(orchestrator.Config{
		Pool: s.Pool, Engine: engine.New(tmpl.New(0), gen), IDs: gen, Playbooks: catalog.NewCache(16),
		ServerURL: "http://localhost:8082", Logger: log,
	})
	f.sw = New(s.Pool, f.o, cfg, f.reg, log)
	src, err := os.ReadFile(filepath.Join("../../../../testdata/conformance/engine/01_linear.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.pb, err = playbook.Parse(src); err != nil {
		t.Fatal(err)
	}
	id, _ := gen.Next()
	testkit.InsertCatalog(t, s, id, f.pb.Metadata.Path, string(src))
	if f.entry, err = catalog.ByID(context.Background(), s.Pool, id); err != nil {
		t.Fatal(err)
	}
	return f
}

// start starts an execution (under parent when not 0).
func (f *fixture) start(parent int64) int64 {
	f.t.Helper()
	req := orchestrator.StartRequest{Entry: f.entry, Playbook: f.pb}
	if parent != 0 {
		req.ParentExecutionID = &parent
	}
	res, err := f.o.Start(context.Background(), req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res.ExecutionID
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.s.Pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

// endedAt is when the older version's end happened in endAsOlderVersion.
var endedAt = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// endAsOlderVersion ends a running execution the way versions before the close-out rule
// did (apitest.EndAsOlderVersion), at endedAt.
func (f *fixture) endAsOlderVersion(id int64, status, eventType string) (terminalID int64) {
	f.t.Helper()
	return apitest.EndAsOlderVersion(f.t, f.s, f.gen, id, status, eventType, endedAt)
}

// endFolded leaves a running execution as versions before a pass closed the command
// rows for a folded end left it: a terminal event written outside a pass (the projector)
// that a later pass folded, so the snapshot is closed and the status set, but the command
// rows stayed open. The pass is run for real, then the rows it now closes are reopened.
func (f *fixture) endFolded(id int64) {
	f.t.Helper()
	apitest.EndFromElsewhere(f.t, f.s, f.gen, id, "playbook.completed", "COMPLETED")
	started, _ := f.gen.Next()
	if _, err := f.o.Ingest(context.Background(), id, []eventlog.Event{{Event: engine.Event{
		EventID: started, Type: engine.TypeCommandStarted, Step: "start", Status: "STARTED", WorkerID: "w1",
		Result: map[string]any{"status": "STARTED"},
	}}}); err != nil {
		f.t.Fatal(err)
	}
	if got := f.status(id); got != engine.StatusCompleted {
		f.t.Fatalf("folded end: status %s", got)
	}
	f.exec(`UPDATE command SET status = 'PENDING', completed_at = NULL
		WHERE execution_id = $1 AND status = 'CANCELLED'`, id)
	if f.open(id) == 0 {
		f.t.Fatal("folded end: no command row to reopen; the case sets up nothing")
	}
}

func (f *fixture) status(id int64) string {
	f.t.Helper()
	return testkit.QueryOne[string](f.t, f.s, `SELECT status FROM execution WHERE execution_id = $1`, id)
}

// open counts an execution's PENDING or CLAIMED command rows.
func (f *fixture) open(id int64) int64 {
	f.t.Helper()
	return testkit.QueryOne[int64](f.t, f.s, `SELECT count(*) FROM command WHERE execution_id = $1 AND status IN ('PENDING', 'CLAIMED')`, id)
}

func (f *fixture) events() int64 {
	f.t.Helper()
	return testkit.QueryOne[int64](f.t, f.s, `SELECT count(*) FROM event`)
}

func (f *fixture) progress(id int64) engine.StepView {
	f.t.Helper()
	v, err := eventlog.NewExecutionReads(f.s.Pool).Status(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return v.Progress
}

func (f *fixture) counted(reason string) float64 {
	return testutil.ToFloat64(f.sw.done.WithLabelValues(reason))
}

func (f *fixture) pass(want Result) {
	f.t.Helper()
	got, err := f.sw.Pass(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	if got != want {
		f.t.Fatalf("pass = %+v, want %+v", got, want)
	}
}

// TestPassFixesWhatWasLeftOpen sets up each state a crash or an older version leaves,
// directly, and checks that one pass fixes each and leaves the rest alone, and that a
// second pass finds nothing.
func TestPassFixesWhatWasLeftOpen(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Interval: time.Minute})
	ctx := context.Background()

	// A cancel whose cascade never ran (a crash after the parent's commit). A start
	// under a cancelled execution is refused, so the children are started under a
	// stand-in and moved below the parent once it is cancelled: the state the crash
	// leaves.
	cancelled := f.start(0)
	standIn := f.start(0)
	child := f.start(standIn)
	grandchild := f.start(child) // under a running child
	finishedChild := f.start(standIn)
	if err := f.o.Finalize(ctx, finishedChild, engine.StatusCompleted, ""); err != nil {
		t.Fatal(err)
	}
	underFinished := f.start(finishedChild) // under a finished child: the cascade walks through it
	if err := f.o.Cancel(ctx, cancelled); err != nil {
		t.Fatal(err)
	}
	f.exec(`UPDATE execution SET parent_execution_id = $1 WHERE parent_execution_id = $2`, cancelled, standIn)
	// Finalize does not cascade: a running child of a finalized parent keeps running.
	finalized := f.start(0)
	if err := f.o.Finalize(ctx, finalized, engine.StatusFailed, "operator"); err != nil {
		t.Fatal(err)
	}
	finalizedChild := f.start(finalized)
	running := f.start(0)
	// Ended by an older version: a step running, its command claimed.
	older := f.start(0)
	ev := testkit.QueryOne[int64](t, f.s, `SELECT event_id FROM command WHERE execution_id = $1`, older)
	if _, err := f.o.Claim(ctx, ev, "w1"); err != nil {
		t.Fatal(err)
	}
	olderTerminal := f.endAsOlderVersion(older, engine.StatusFailed, "playbook_failed")
	// Ended by a terminal event folded from elsewhere: snapshot closed, command PENDING.
	folded := f.start(0)
	f.endFolded(folded)
	// Ended by a terminal event stored outside a pass that nothing folded (the
	// projector's own fold interrupted): the row still RUNNING, its command claimable.
	unfolded := f.start(0)
	apitest.EndFromElsewhere(t, f.s, f.gen, unfolded, "playbook.cancelled", engine.StatusCancelled)

	f.pass(Result{ParentCancelled: 3, EndNotFolded: 1, EndedInFlight: 2})

	want := map[string]struct {
		id     int64
		status string
	}{
		"cancelled parent":                  {cancelled, engine.StatusCancelled},
		"child":                             {child, engine.StatusCancelled},
		"grandchild under a running child":  {grandchild, engine.StatusCancelled},
		"finished child":                    {finishedChild, engine.StatusCompleted},
		"grandchild under a finished child": {underFinished, engine.StatusCancelled},
		"finalized parent":                  {finalized, engine.StatusFailed},
		"child of a finalized parent":       {finalizedChild, engine.StatusRunning},
		"unrelated running execution":       {running, engine.StatusRunning},
		"ended by an older version":         {older, engine.StatusFailed},
		"ended by a folded terminal event":  {folded, engine.StatusCompleted},
		"ended by a stored terminal event":  {unfolded, engine.StatusCancelled},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			if got := f.status(w.id); got != w.status {
				t.Fatalf("status = %s, want %s", got, w.status)
			}
			p := f.progress(w.id)
			open := f.open(w.id)
			if w.status == engine.StatusRunning {
				if p.Running != 1 || open != 1 {
					t.Fatalf("a running execution was touched: %d steps running, %d commands open", p.Running, open)
				}
				return
			}
			if p.Running != 0 || open != 0 {
				t.Fatalf("ended with %d steps running and %d commands open", p.Running, open)
			}
		})
	}
	for _, id := range []int64{child, grandchild, underFinished} {
		reason := testkit.QueryOne[string](t, f.s, `SELECT meta->>'reason' FROM event
			WHERE execution_id = $1 AND event_type = 'playbook.cancelled'`, id)
		if want := "parent execution " + strconv.FormatInt(cancelled, 10) + " was cancelled"; reason != want {
			t.Errorf("execution %d cancel reason = %q, want %q", id, reason, want)
		}
	}
	// The older version's execution: the closed step is recorded as the end records it
	// now, at the time the execution ended, below its terminal event.
	var step string
	var parent int64
	var created time.Time
	if err := f.s.Pool.QueryRow(ctx, `SELECT node_name, parent_event_id, created_at FROM event
		WHERE execution_id = $1 AND event_type = 'step.cancelled'`, older).Scan(&step, &parent, &created); err != nil {
		t.Fatal(err)
	}
	if step != "start" || parent != olderTerminal || !created.Equal(endedAt) {
		t.Errorf("step.cancelled: step %s, parent %d, at %v; want start, %d, %v", step, parent, created.UTC(), olderTerminal, endedAt)
	}
	if p := f.progress(older); p.Cancelled != 1 {
		t.Errorf("older: %d steps cancelled, want 1", p.Cancelled)
	}
	if got := testkit.QueryOne[string](t, f.s, `SELECT status FROM command WHERE execution_id = $1`, older); got != "CANCELLED" {
		t.Errorf("older: command %s, want CANCELLED", got)
	}
	if f.counted(ReasonParentCancelled) != 3 || f.counted(ReasonEndNotFolded) != 1 || f.counted(ReasonEndedInFlight) != 2 {
		t.Errorf("metric: parent_cancelled %v, end_not_folded %v, ended_in_flight %v", f.counted(ReasonParentCancelled),
			f.counted(ReasonEndNotFolded), f.counted(ReasonEndedInFlight))
	}

	// A second pass finds nothing: no fix, no event, no count.
	before := f.events()
	f.pass(Result{})
	if after := f.events(); after != before {
		t.Fatalf("the second pass wrote %d events", after-before)
	}
	if f.counted(ReasonParentCancelled) != 3 || f.counted(ReasonEndNotFolded) != 1 || f.counted(ReasonEndedInFlight) != 2 {
		t.Errorf("metric moved on the second pass: parent_cancelled %v, end_not_folded %v, ended_in_flight %v",
			f.counted(ReasonParentCancelled), f.counted(ReasonEndNotFolded), f.counted(ReasonEndedInFlight))
	}
}

// lockKeySQL is the sweep lock's key, to play another replica that holds it.
var lockKeySQL = pg.LockKeySQL(lockName)

// TestPassSkipsWhileAnotherReplicaSweeps: the lock another api replica holds makes a pass
// do nothing; once released, the next pass sweeps.
func TestPassSkipsWhileAnotherReplicaSweeps(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Interval: time.Minute})
	ctx := context.Background()
	older := f.start(0)
	f.endAsOlderVersion(older, engine.StatusCompleted, "playbook.completed")

	other, err := f.s.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var locked bool
	if err := other.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lockKeySQL+`)`).Scan(&locked); err != nil || !locked {
		t.Fatalf("take the lock as another replica: %v %v", locked, err)
	}
	f.pass(Result{Skipped: true})
	if f.open(older) != 1 {
		t.Fatal("a skipped pass changed something")
	}
	if _, err := other.Exec(ctx, `SELECT pg_advisory_unlock(`+lockKeySQL+`)`); err != nil {
		t.Fatal(err)
	}
	other.Release()
	f.pass(Result{EndedInFlight: 1})
	// The pass released its lock: another replica can take it now.
	if !testkit.QueryOne[bool](t, f.s, `SELECT pg_try_advisory_lock(`+lockKeySQL+`)`) {
		t.Fatal("the pass kept its lock")
	}
}

// TestScanIsBounded: a pass examines at most its budget of ended executions and the next
// pass resumes where it stopped, so a long history is covered over several short passes.
func TestScanIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Interval: time.Minute, ScanBatch: 2, ScanBudget: 2})
	for range 3 {
		f.endAsOlderVersion(f.start(0), engine.StatusCompleted, "playbook.completed")
	}
	f.pass(Result{EndedInFlight: 2})
	f.pass(Result{EndedInFlight: 1})
	f.pass(Result{})
}

// TestRunSweepsAtStart: Run passes once right away (not one interval later), and an
// interval of 0 turns the sweep off.
func TestRunSweepsAtStart(t *testing.T) {
	t.Parallel()
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{Interval: time.Hour})
		older := f.start(0)
		f.endAsOlderVersion(older, engine.StatusCompleted, "playbook.completed")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); f.sw.Run(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for f.open(older) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("Run did not sweep at start")
			}
			time.Sleep(20 * time.Millisecond) // polling a condition, not synchronising on time
		}
		cancel()
		<-done
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{})
		older := f.start(0)
		f.endAsOlderVersion(older, engine.StatusCompleted, "playbook.completed")
		f.sw.Run(context.Background()) // returns at once
		if f.open(older) != 1 {
			t.Fatal("an interval of 0 swept")
		}
	})
}

// TestLaterRoundsReadChangedExecutions: after a process's first full round, a round reads
// the snapshots only of executions whose row changed since the previous round began; a
// process's first round reads every one (what older versions left predates the process).
func TestLaterRoundsReadChangedExecutions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Interval: time.Minute})
	f.pass(Result{}) // the first round: nothing to fix
	stale := f.start(0)
	f.endAsOlderVersion(stale, engine.StatusCompleted, "playbook.completed")
	f.exec(`UPDATE execution SET updated_at = now() - interval '1 hour' WHERE execution_id = $1`, stale)
	fresh := f.start(0)
	f.endAsOlderVersion(fresh, engine.StatusCompleted, "playbook.completed")

	f.pass(Result{EndedInFlight: 1})
	if f.open(fresh) != 0 || f.open(stale) != 1 {
		t.Fatalf("second round: fresh has %d open commands, stale %d; want 0 and 1", f.open(fresh), f.open(stale))
	}
	restarted := New(f.s.Pool, f.o, Config{Interval: time.Minute}, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if res, err := restarted.Pass(context.Background()); err != nil || res != (Result{EndedInFlight: 1}) {
		t.Fatalf("a new process's first pass = %+v, %v; want the stale execution fixed", res, err)
	}
	if f.open(stale) != 0 {
		t.Fatal("stale execution still open")
	}
}
