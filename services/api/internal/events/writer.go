package events

import "context"
import "errors"
import "fmt"
import "net/http"
import "sort"
import "strings"
import "sync"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgconn"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/shared/httpx"

// Writer stores informative events (those that need no orchestration pass) in group
// commits: concurrent requests are gathered into one implicit transaction — one
// round trip and one fsync for many events. A request is answered only after its
// transaction committed, so every event that got a 2xx is durable.
//
// Writers are partitioned by execution id, so two writers never wait on each other's
// execution row locks; within a partition, batches form naturally under load (a
// writer takes whatever queued while it was busy).
type Writer struct {
	pool    *pgxpool.Pool
	parts   []chan *job
	wg      sync.WaitGroup
	timeout time.Duration
}

type job struct {
	executionID int64
	events      []eventlog.Event
	done        chan jobResult
}

type jobResult struct {
	dup []bool
	err error
}

// maxBatch bounds one group commit.
const maxBatch = 512

// DefaultWriteTimeout bounds one group commit. A writer serves every execution of its
// partition in turn: without a deadline, one commit stuck on a lock or a stalled
// database would hold every later request of the partition for as long as it lasts.
const DefaultWriteTimeout = 30 * time.Second

// NewWriter starts writers. timeout bounds each group commit (DefaultWriteTimeout when
// zero or less).
func NewWriter(pool *pgxpool.Pool, writers int, timeout time.Duration) *Writer {
	if writers < 1 {
		writers = 1
	}
	if timeout <= 0 {
		timeout = DefaultWriteTimeout
	}
	w := &Writer{pool: pool, timeout: timeout}
	for i := 0; i < writers; i++ {
		ch := make(chan *job, 2*maxBatch)
		w.parts = append(w.parts, ch)
		w.wg.Add(1)
		go w.loop(ch)
	}
	return w
}

// Close stops the writers after the queued jobs are written.
func (w *Writer) Close() {
	for _, ch := range w.parts {
		close(ch)
	}
	w.wg.Wait()
}

// Write stores events of one execution and reports which were repeats.
func (w *Writer) Write(ctx context.Context, executionID int64, events []eventlog.Event) ([]bool, error) {
	j := &job{executionID: executionID, events: events, done: make(chan jobResult, 1)}
	part := w.parts[writerFor(executionID, len(w.parts))]
	select {
	case part <- j:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once queued the write happens whatever the client does; wait for its outcome.
	r := <-j.done
	return r.dup, r.err
}

// writerFor picks the writer of an execution by a hash of its id. The id itself will not
// do: a snowflake's low bits are a per-millisecond sequence, zero for most ids, so
// id % writers put about 85% of executions on writer 0. The mix is splitmix64's
// finalizer rather than the shard hash, so that a replica owning one shard still spreads
// its executions over every writer.
func writerFor(executionID int64, writers int) int {
	x := uint64(executionID)
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return int(x % uint64(writers))
}

func (w *Writer) loop(in chan *job) {
	defer w.wg.Done()
	for first := range in {
		batch := []*job{first}
		n := len(first.events)
	gather:
		for n < maxBatch {
			select {
			case j, ok := <-in:
				if !ok {
					break gather
				}
				batch = append(batch, j)
				n += len(j.events)
			default:
				break gather
			}
		}
		w.write(batch)
	}
}

// write stores a batch in one implicit transaction. When that fails, nothing of it was
// committed, and it is written again job by job, each in a transaction of its own: an
// event PostgreSQL refuses then fails its own request only, never the other requests
// (other executions' events) that happened to share its batch.
//
// A batch that ran out of time is not retried member by member (each would wait as long
// again): every member is answered 503, and since events are idempotent by event_id the
// client's retry stores each exactly once, whether or not the cut-off commit landed.
func (w *Writer) write(batch []*job) {
	err := w.writeBatch(batch)
	if err == nil {
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = httpx.WithStatus(http.StatusServiceUnavailable,
			fmt.Sprintf("storing events took longer than %s: PostgreSQL is slow or an execution row is locked; retry", w.timeout), err)
	}
	if len(batch) == 1 || httpx.StatusOf(err) == http.StatusServiceUnavailable {
		for _, j := range batch {
			j.done <- jobResult{err: err}
		}
		return
	}
	for _, j := range batch {
		if err := w.writeBatch([]*job{j}); err != nil {
			j.done <- jobResult{err: err}
		}
	}
}

// writeBatch stores a batch and answers its jobs; on an error it answers none of them
// and returns the error.
func (w *Writer) writeBatch(batch []*job) error {
	timeout := w.timeout
	if timeout <= 0 {
		timeout = DefaultWriteTimeout
	}
	// The batch is written whatever its requesters do meanwhile (a 2xx means durable), so
	// no request's context applies: only the writer's own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	byExec := map[int64][]eventlog.Event{}
	var execs, touchExecs []int64
	var touchKeys []string
	for _, j := range batch {
		if _, seen := byExec[j.executionID]; !seen {
			execs = append(execs, j.executionID)
		}
		byExec[j.executionID] = append(byExec[j.executionID], j.events...)
		for _, ev := range j.events {
			if ev.Type == engine.TypeCommandStarted || ev.Type == engine.TypeCallDone {
				touchExecs = append(touchExecs, j.executionID)
				touchKeys = append(touchKeys, engine.CommandKeyOf(ev.Event))
			}
		}
	}
	sort.Slice(execs, func(a, b int) bool { return execs[a] < execs[b] })
	b := &pgx.Batch{}
	read, err := eventlog.QueueAppendMany(b, execs, byExec)
	if err != nil {
		return err
	}
	if len(touchKeys) > 0 {
		// Worker activity on a command: it is not lost, even without a heartbeat.
		eventlog.QueueTouchCommands(b, touchExecs, touchKeys)
	}
	// A batch outside a transaction runs as one implicit transaction: all or nothing,
	// one round trip, one commit.
	br := w.pool.SendBatch(ctx, b)
	inserted, err := read(br)
	if err == nil && len(touchKeys) > 0 {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return storeError(err)
	}
	// An execution with nothing inserted: every event was a repeat, or the execution
	// does not exist. Tell them apart (rare, so one query each is fine).
	unknown := map[int64]bool{}
	for _, id := range execs {
		stored := false
		for _, ev := range byExec[id] {
			if inserted[[2]int64{id, ev.EventID}] {
				stored = true
				break
			}
		}
		if stored {
			continue
		}
		ok, err := eventlog.ExecutionExists(ctx, w.pool, id)
		if err != nil {
			return err
		}
		unknown[id] = !ok
	}
	for _, j := range batch {
		if unknown[j.executionID] {
			j.done <- jobResult{err: eventlog.ErrNoExecution}
			continue
		}
		dup := make([]bool, len(j.events))
		for i, ev := range j.events {
			dup[i] = !inserted[[2]int64{j.executionID, ev.EventID}]
		}
		j.done <- jobResult{dup: dup}
	}
	return nil
}

// storeError turns PostgreSQL refusing the data of an event (SQLSTATE class 22: a value
// it cannot store) into a 422. The edge checks what PostgreSQL cannot store before an
// event gets here; this keeps anything they miss a client error. The message carries the
// code only: the database's text may quote the value.
func storeError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22") {
		return httpx.WithStatus(http.StatusUnprocessableEntity,
			fmt.Sprintf("the event holds a value PostgreSQL cannot store (SQLSTATE %s)", pe.Code), err)
	}
	return err
}
