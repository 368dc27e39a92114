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
// commits: concurrent requests are gathered into one transaction, so one fsync serves
// many events. A request is answered only after its transaction committed, so every
// event that got a 2xx is durable.
type Writer struct {
	pool *pgxpool.Pool
	in   chan *job
	wg   sync.WaitGroup
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

// NewWriter starts workers group-committing events.
func NewWriter(pool *pgxpool.Pool, workers int) *Writer {
	if workers < 1 {
		workers = 1
	}
	w := &Writer{pool: pool, in: make(chan *job, 4*maxBatch)}
	for i := 0; i < workers; i++ {
		w.wg.Add(1)
		go w.loop()
	}
	return w
}

// Close stops the workers after the queued jobs are written.
func (w *Writer) Close() {
	close(w.in)
	w.wg.Wait()
}

// Write stores events of one execution and reports which were repeats.
func (w *Writer) Write(ctx context.Context, executionID int64, events []eventlog.Event) ([]bool, error) {
	j := &job{executionID: executionID, events: events, done: make(chan jobResult, 1)}
	select {
	case w.in <- j:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once queued the write happens whatever the client does; wait for its outcome.
	r := <-j.done
	return r.dup, r.err
}

func (w *Writer) loop() {
	defer w.wg.Done()
	for first := range w.in {
		batch := []*job{first}
		n := len(first.events)
	gather:
		for n < maxBatch {
			select {
			case j, ok := <-w.in:
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
	results := make([]jobResult, len(batch))
	err := pgx.BeginFunc(context.Background(), w.pool, func(tx pgx.Tx) error {
		// Reserve sequence numbers per execution in id order: two batches touching the
		// same executions lock their rows in the same order and cannot deadlock.
		byExec := map[int64][]int{}
		for i, j := range batch {
			byExec[j.executionID] = append(byExec[j.executionID], i)
		}
		execs := make([]int64, 0, len(byExec))
		for id := range byExec {
			execs = append(execs, id)
		}
		sort.Slice(execs, func(a, b int) bool { return execs[a] < execs[b] })
		var rows []eventlog.Event
		var owner []int // rows[k] belongs to batch[owner[k]]
		touched := map[int64][]string{}
		for _, id := range execs {
			total := 0
			for _, i := range byExec[id] {
				total += len(batch[i].events)
			}
			first, catalogID, err := eventlog.BumpSeq(context.Background(), tx, id, total)
			if errors.Is(err, eventlog.ErrNoExecution) {
				for _, i := range byExec[id] {
					results[i].err = ErrUnknownExecution
				}
				continue
			}
			if err != nil {
				return err
			}
			seq := first
			for _, i := range byExec[id] {
				for _, ev := range batch[i].events {
					ev.ExecutionID, ev.CatalogID, ev.Seq = id, catalogID, seq
					seq++
					rows = append(rows, ev)
					owner = append(owner, i)
					if ev.Type == engine.TypeCommandStarted || ev.Type == engine.TypeCallDone {
						touched[id] = append(touched[id], engine.CommandKeyOf(ev.Event))
					}
				}
			}
		}
		inserted, err := eventlog.Append(context.Background(), tx, rows)
		if err != nil {
			return err
		}
		for k, i := range owner {
			results[i].dup = append(results[i].dup, !inserted[k])
		}
		for id, keys := range touched {
			if err := eventlog.TouchCommands(context.Background(), tx, id, keys); err != nil {
				return err
			}
		}
		return nil
	})
	for i, j := range batch {
		if err != nil {
			j.done <- jobResult{err: err}
			continue
		}
		j.done <- results[i]
	}
}
