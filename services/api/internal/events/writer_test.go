package events

import "context"
import "fmt"
import "net/http"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/testkit"

// TestWriterForSpreadsSnowflakes: snowflake ids whose sequence bits are zero (most ids:
// one per millisecond per machine) spread evenly over the writers; id % writers put them
// all on writer 0.
func TestWriterForSpreadsSnowflakes(t *testing.T) {
	t.Parallel()
	const n, writers = 10000, 4
	counts := make([]int, writers)
	base := int64(1_700_000_000_000)
	for ms := int64(0); ms < n; ms++ {
		id := (base+ms)<<22 | 5<<12 // machine 5, sequence 0
		counts[writerFor(id, writers)]++
	}
	for w, c := range counts {
		if c < n/writers*8/10 || c > n/writers*12/10 {
			t.Errorf("writer %d got %d of %d executions, want about %d: %v", w, c, n, n/writers, counts)
		}
	}
}

// informative returns a command.started event of step s whose payload holds text.
func informative(gen *ids.Generator, text string) eventlog.Event {
	id, _ := gen.Next()
	return eventlog.Event{Event: engine.Event{
		EventID: id, Type: engine.TypeCommandStarted, Step: "s", NodeID: "s", Status: "RUNNING",
		Result: map[string]any{"status": "RUNNING", "context": map[string]any{"text": text}},
		Meta:   map[string]any{"actionable": false, "informative": true},
	}, CreatedAt: time.Now()}
}

func storedEvents(t *testing.T, s *testkit.Schema, execID int64) int {
	t.Helper()
	var n int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM event WHERE execution_id = $1`, execID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPoisonedBatchFailsOnlyItsMember: a batch holding one event PostgreSQL refuses (a
// NUL in a string, which jsonb cannot hold) stores every other member and fails only that
// one, with a 422.
func TestPoisonedBatchFailsOnlyItsMember(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	gen, _ := ids.NewGenerator(4)
	w := &Writer{pool: s.Pool} // no loops: the batch is formed by hand
	var execs []int64
	var batch []*job
	for i := 0; i < 5; i++ {
		execID, _ := apitest.Execution(t, s, gen, 0)
		execs = append(execs, execID)
		text := fmt.Sprint("fine ", i)
		if i == 2 {
			text = "poison \x00 here"
		}
		batch = append(batch, &job{executionID: execID, events: []eventlog.Event{informative(gen, text)}, done: make(chan jobResult, 1)})
	}
	w.write(batch)
	for i, j := range batch {
		r := <-j.done
		if i == 2 {
			if httpx.StatusOf(r.err) != http.StatusUnprocessableEntity {
				t.Errorf("poisoned member: %v (status %d), want 422", r.err, httpx.StatusOf(r.err))
			}
			if n := storedEvents(t, s, execs[i]); n != 0 {
				t.Errorf("poisoned member stored %d events", n)
			}
			continue
		}
		if r.err != nil || len(r.dup) != 1 || r.dup[0] {
			t.Errorf("member %d: err %v dup %v, want stored", i, r.err, r.dup)
		}
		if n := storedEvents(t, s, execs[i]); n != 1 {
			t.Errorf("member %d: %d events stored, want 1", i, n)
		}
	}
}

// TestGoodEventsSurviveABadStream: while one client keeps posting events PostgreSQL
// refuses, the events of other executions, written concurrently through the same writers,
// are all stored; every bad one fails with a 422.
func TestGoodEventsSurviveABadStream(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	gen, _ := ids.NewGenerator(5)
	w := NewWriter(s.Pool, 2, 0)
	defer w.Close()
	badExec, _ := apitest.Execution(t, s, gen, 0)
	const goodExecs, perExec = 8, 25
	var good []int64
	for i := 0; i < goodExecs; i++ {
		id, _ := apitest.Execution(t, s, gen, 0)
		good = append(good, id)
	}
	ctx := testkit.Context(t, 60*time.Second)
	stop := make(chan struct{})
	var badWG sync.WaitGroup
	badWG.Add(1)
	var badErrs []error
	go func() {
		defer badWG.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := w.Write(ctx, badExec, []eventlog.Event{informative(gen, "bad \x00")})
			badErrs = append(badErrs, err)
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, goodExecs*perExec)
	for _, id := range good {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < perExec; k++ {
				if _, err := w.Write(ctx, id, []eventlog.Event{informative(gen, fmt.Sprint("ok ", k))}); err != nil {
					errs <- fmt.Errorf("execution %d event %d: %w", id, k, err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	badWG.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, id := range good {
		if n := storedEvents(t, s, id); n != perExec {
			t.Errorf("execution %d: %d events stored, want %d", id, n, perExec)
		}
	}
	if len(badErrs) == 0 {
		t.Fatal("the bad stream never wrote")
	}
	for _, err := range badErrs {
		if httpx.StatusOf(err) != http.StatusUnprocessableEntity {
			t.Errorf("bad event: %v, want a 422", err)
			break
		}
	}
	if n := storedEvents(t, s, badExec); n != 0 {
		t.Errorf("%d bad events stored", n)
	}
}

// TestWriterBoundsAStuckCommit: a group commit that cannot finish (here: the execution
// row is locked by another transaction) is cut off at the writer's deadline and answered
// 503. Whether the cut-off commit still lands once the lock is gone is not known to the
// writer (the cancel races the lock); either way the client's retry succeeds and the
// event is stored exactly once.
func TestWriterBoundsAStuckCommit(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	gen, _ := ids.NewGenerator(5)
	execID, _ := apitest.Execution(t, s, gen, 0)
	w := NewWriter(s.Pool, 1, 300*time.Millisecond)
	t.Cleanup(w.Close)

	ctx := context.Background()
	lock, err := s.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `SELECT 1 FROM execution WHERE execution_id = $1 FOR UPDATE`, execID); err != nil {
		t.Fatal(err)
	}
	ev := informative(gen, "stuck")
	_, err = w.Write(ctx, execID, []eventlog.Event{ev})
	if httpx.StatusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("write under a held lock = %v (status %d), want 503", err, httpx.StatusOf(err))
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	dup, err := w.Write(ctx, execID, []eventlog.Event{ev})
	if err != nil || len(dup) != 1 {
		t.Fatalf("retry = %v %v, want it stored (or found stored)", dup, err)
	}
	if n := storedEvents(t, s, execID); n != 1 {
		t.Fatalf("%d events stored after the retry, want 1", n)
	}
}
