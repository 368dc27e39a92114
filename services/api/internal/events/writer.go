package events

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/noetl/controlplane/services/api/internal/engine"
	"github.com/noetl/controlplane/services/api/internal/eventlog"
)

// Writer stores informative events (those that need no orchestration pass) in group
// commits: concurrent requests are gathered into one implicit transaction — one
// round trip and one fsync for many events. A request is answered only after its
// transaction committed, so every event that got a 2xx is durable.
//
// Writers are partitioned by execution id, so two writers never wait on each other's
// execution row locks; within a partition, batches form naturally under load (a
// writer takes whatever queued while it was busy).
type Writer struct {
	pool  *pgxpool.Pool
	parts []chan *job
	wg    sync.WaitGroup
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

// ErrUnknownExecution is returned for events of an execution that does not exist.
var ErrUnknownExecution = errors.New("unknown execution")

// maxBatch bounds one group commit.
const maxBatch = 512

// NewWriter starts writers.
func NewWriter(pool *pgxpool.Pool, writers int) *Writer {
	if writers < 1 {
		writers = 1
	}
	w := &Writer{pool: pool}
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
	part := w.parts[uint64(executionID)%uint64(len(w.parts))]
	select {
	case part <- j:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once queued the write happens whatever the client does; wait for its outcome.
	r := <-j.done
	return r.dup, r.err
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

func (w *Writer) write(batch []*job) {
	ctx := context.Background()
	fail := func(err error) {
		for _, j := range batch {
			j.done <- jobResult{err: err}
		}
	}
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
		fail(err)
		return
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
		fail(err)
		return
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
			fail(err)
			return
		}
		unknown[id] = !ok
	}
	for _, j := range batch {
		if unknown[j.executionID] {
			j.done <- jobResult{err: ErrUnknownExecution}
			continue
		}
		dup := make([]bool, len(j.events))
		for i, ev := range j.events {
			dup[i] = !inserted[[2]int64{j.executionID, ev.EventID}]
		}
		j.done <- jobResult{dup: dup}
	}
}
