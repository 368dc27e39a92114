// Package orchestrator owns every transaction that changes an execution: start, event
// ingestion with its orchestration pass, claims, cancel, finalize and lost-worker
// recovery. Each one takes the execution's row lock first, so one execution sees one
// change at a time, and writes its events, commands, outbox rows and snapshot in that
// same transaction.
package orchestrator

import "context"
import "crypto/sha256"
import "encoding/hex"
import "encoding/json"
import "errors"
import "fmt"
import "log/slog"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgconn"
import "github.com/jackc/pgx/v5/pgxpool"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/clock"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/outbox"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/natsx"
import "github.com/noetl/controlplane/shared/promx"

// IDSource mints ids.
type IDSource interface {
	Next() (int64, error)
}

// Enqueuer receives committed outbox rows for immediate publishing.
type Enqueuer interface {
	Enqueue([]outbox.Message)
}

// Orchestrator runs execution transactions.
type Orchestrator struct {
	pool      *pgxpool.Pool
	eng       *engine.Engine
	ids       IDSource
	playbooks *catalog.Cache
	publisher Enqueuer // nil: rows stay PENDING for an external publisher
	serverURL string
	commands  natsx.Commands
	clock     clock.Clock
	leases    Leases
	log       *slog.Logger
	m         *metrics
}

// Leases bounds how long a live worker keeps a claim it shows no sign of working on
// (RecoverLapsedClaims). A zero duration turns its check off.
type Leases struct {
	// Lease: a worker that lists what it holds in its heartbeats loses a claimed
	// command it neither listed nor posted an event for in this long
	// (NOETL_COMMAND_LEASE_SECONDS).
	Lease time.Duration
	// EagerAck: a command eagerly dispatched to a worker that shows no sign of having
	// received it (no event, no heartbeat listing it) in this long is handed back
	// (NOETL_EAGER_ACK_SECONDS).
	EagerAck time.Duration
}

// Config wires an orchestrator.
type Config struct {
	Pool      *pgxpool.Pool
	Engine    *engine.Engine
	IDs       IDSource
	Playbooks *catalog.Cache
	Publisher Enqueuer
	ServerURL string
	// Commands is where notifications are published (NOETL_NATS_SUBJECT_PREFIX).
	Commands natsx.Commands
	Registry prometheus.Registerer
	Logger   *slog.Logger
	// Clock stamps events and times passes; nil is the wall clock.
	Clock clock.Clock
	// Leases bounds the claims of live workers; the zero value never takes one back.
	Leases Leases
}

// New returns an orchestrator.
func New(c Config) *Orchestrator {
	return &Orchestrator{pool: c.Pool, eng: c.Engine, ids: c.IDs, playbooks: c.Playbooks, publisher: c.Publisher,
		serverURL: c.ServerURL, commands: c.Commands, clock: c.Clock, leases: c.Leases, log: c.Logger, m: newMetrics(c.Registry)}
}

// tx runs fn in a transaction, retrying a few times on deadlock or serialization
// failure (two writers of one execution never deadlock on its row, but multi-row
// statements of different executions can).
func (o *Orchestrator) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = pgx.BeginFunc(ctx, o.pool, fn)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") {
			// Back off before the retry, but not past the caller's deadline: a request
			// whose client is gone stops retrying at once.
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (retrying after: %w)", ctx.Err(), err)
			case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
			}
			continue
		}
		return err
	}
	return err
}

// loaded is an execution inside a transaction, with its state folded to the latest
// stored event.
type loaded struct {
	exec *eventlog.Execution
	st   *engine.State
	pb   *playbook.Playbook
	// eager maps the command.issued event ids a pass claimed for a worker (eager
	// dispatch) to that worker: their rows are inserted CLAIMED, without an outbox row.
	eager map[int64]string
	// stamp, when set, is the created_at of the events persist writes instead of now:
	// events that record something that happened earlier (a backfilled step end).
	stamp time.Time
	// ended is the terminal event that ended the execution in this transaction, 0 when
	// none did: one the pass emitted, or one another writer stored (the projector) that
	// this transaction folded. persist closes the command rows for it.
	ended int64
}

// apply folds one stored event into the state and notes the event that ends the
// execution, so persist closes its command rows whoever wrote that event.
func (l *loaded) apply(ev engine.Event) {
	running := !l.st.Terminal()
	l.st.Apply(ev, l.pb)
	if running && l.st.Terminal() {
		l.ended = ev.EventID
	}
}

func (o *Orchestrator) load(ctx context.Context, tx pgx.Tx, executionID int64) (*loaded, error) {
	exec, fresh, err := eventlog.LockAndLoad(ctx, tx, executionID)
	if err != nil {
		return nil, err
	}
	pb, err := o.playbooks.Get(ctx, tx, exec.CatalogID)
	if err != nil {
		return nil, fmt.Errorf("playbook of execution %d: %w", executionID, err)
	}
	st := exec.State
	if st == nil {
		st = engine.NewState(exec.ExecutionID, exec.CatalogID, exec.Path)
		st.Version = exec.Version
		if exec.ParentExecutionID != nil {
			st.ParentExecutionID = *exec.ParentExecutionID
		}
	}
	l := &loaded{exec: exec, st: st, pb: pb}
	if exec.LastSeq > st.Seq {
		// Events written since the last pass (worker events from the batch writer,
		// claims, the projector's): fold them. This reads only what is new, never the
		// whole history. Without a snapshot state_seq is 0, so this is the whole log.
		evs := fresh
		if err := resolveRefs(ctx, tx, evs); err != nil {
			return nil, err
		}
		for _, ev := range evs {
			l.apply(ev)
		}
		if exec.LastSeq > st.Seq {
			st.Seq = exec.LastSeq
		}
	}
	return l, nil
}

// pipeline queues statements on one pgx batch and reads their results in order: a
// pass writes everything it produced in a single round trip.
type pipeline struct {
	b     pgx.Batch
	reads []func(pgx.BatchResults) error
}

func (p *pipeline) exec(sql string, args ...any) {
	p.b.Queue(sql, args...)
	p.reads = append(p.reads, func(br pgx.BatchResults) error { _, err := br.Exec(); return err })
}

// queued registers a statement some helper queued directly on p.b.
func (p *pipeline) queued(read func(pgx.BatchResults) error) { p.reads = append(p.reads, read) }

func execRead(br pgx.BatchResults) error { _, err := br.Exec(); return err }

func (p *pipeline) send(ctx context.Context, tx pgx.Tx) error {
	if p.b.Len() == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, &p.b)
	for _, read := range p.reads {
		if err := read(br); err != nil {
			_ = br.Close()
			return err
		}
	}
	return br.Close()
}

// persist writes what a pass produced — events, command rows, outbox rows, the
// commands it finished, and the snapshot — plus whatever the caller queued on p, in
// one round trip.
func (o *Orchestrator) persist(ctx context.Context, tx pgx.Tx, l *loaded, emitted []engine.Event, p *pipeline) ([]outbox.Message, int, error) {
	if p == nil {
		p = &pipeline{}
	}
	now := o.clock.Now()
	if !l.stamp.IsZero() {
		now = l.stamp
	}
	rows := make([]eventlog.Event, len(emitted))
	var msgs []outbox.Message
	var completed, failed []string
	issued := 0
	for i, ev := range emitted {
		rows[i] = eventlog.Event{Event: ev, CatalogID: l.exec.CatalogID, CreatedAt: now}
		if ev.Type == engine.TypePlaybookStarted {
			rows[i].ParentExecutionID = l.exec.ParentExecutionID
		}
		switch {
		case ev.Type == engine.TypeCommandIssued:
			issued++
			if l.eager[ev.EventID] != "" {
				continue // in the hands of the worker that asked for it: nothing to publish
			}
			key, _ := ev.Meta["command_id"].(string)
			m, err := outbox.BuildMessage(o.commands, l.pb.Metadata.Path, outbox.Notification{
				CommandID: key, EventID: ev.EventID, ExecutionID: ev.ExecutionID, ServerURL: o.serverURL, Step: ev.Step,
			})
			if err != nil {
				return nil, 0, err
			}
			msgs = append(msgs, m)
		case isTerminal(ev.Type):
			if l.ended == 0 {
				l.ended = ev.EventID
			}
		case engine.IsFailure(ev.Type):
			failed = append(failed, engine.CommandKeyOf(ev))
		case engine.IsCompletion(ev.Type):
			completed = append(completed, engine.CommandKeyOf(ev))
		}
	}
	if len(rows) > 0 {
		if err := eventlog.QueueInsertEvents(&p.b, rows); err != nil {
			return nil, 0, err
		}
		p.queued(execRead)
	}
	cmds, err := eventlog.CommandsFromEvents(rows, o.ids.Next)
	if err != nil {
		return nil, 0, err
	}
	for i := range cmds {
		if w := l.eager[cmds[i].EventID]; w != "" {
			cmds[i].Status, cmds[i].WorkerID = eventlog.CmdClaimed, w
		}
	}
	if len(cmds) > 0 {
		if err := eventlog.QueueInsertCommands(&p.b, cmds); err != nil {
			return nil, 0, err
		}
		p.queued(execRead)
	}
	if len(failed) > 0 {
		eventlog.QueueFinishCommands(&p.b, l.exec.ExecutionID, failed, eventlog.CmdFailed, 0)
		p.queued(execRead)
	}
	if len(completed) > 0 {
		eventlog.QueueFinishCommands(&p.b, l.exec.ExecutionID, completed, eventlog.CmdCompleted, 0)
		p.queued(execRead)
	}
	if l.ended != 0 {
		// The state forgot the commands of the steps the end closed; so does the
		// command table (after the finishes above, which this leaves alone). Every way
		// an execution ends reaches here: a pass's own terminal event, the cancel and
		// finalize routes', and one another writer stored that this transaction folded.
		eventlog.QueueCancelCommands(&p.b, l.exec.ExecutionID, l.ended)
		p.queued(execRead)
	}
	if iters := l.st.TakeIterations(); len(iters) > 0 {
		if err := eventlog.QueueStoreIterations(&p.b, l.exec.ExecutionID, iters); err != nil {
			return nil, 0, err
		}
		p.queued(execRead)
	}
	var stored []outbox.Message
	if len(msgs) > 0 {
		read := outbox.QueueInsert(&p.b, msgs, o.publisher != nil)
		p.queued(func(br pgx.BatchResults) error {
			var err error
			stored, err = read(br)
			return err
		})
	}
	if err := eventlog.QueueSaveExecution(&p.b, l.exec, l.st); err != nil {
		return nil, 0, err
	}
	p.queued(execRead)
	if err := p.send(ctx, tx); err != nil {
		return nil, 0, err
	}
	return stored, issued, nil
}

func isTerminal(eventType string) bool {
	_, ok := engine.TerminalStatus(eventType)
	return ok
}

func (o *Orchestrator) afterCommit(msgs []outbox.Message, issued int) {
	o.m.issued.Add(float64(issued))
	if o.publisher != nil {
		o.publisher.Enqueue(msgs)
	}
}

// StartRequest starts an execution of a catalog entry.
type StartRequest struct {
	Entry             *catalog.Entry
	Playbook          *playbook.Playbook
	Payload           map[string]any
	ParentExecutionID *int64
	// IdempotencyKey, when set, makes the start happen once per parent and key: a repeat
	// answers the execution the first start created. Without a parent, a repeat that
	// asks for another Payload is refused (409): see Start.
	IdempotencyKey string
	// AnyVersion says the caller named the playbook by path alone (its latest version):
	// a repeat then answers the first start's execution of that path even when a newer
	// version was registered since, as a command run again after a hand-back must adopt
	// its child. A repeat that names a version or a catalog id must name the same one.
	AnyVersion bool
}

// StartResult is what /api/execute answers.
type StartResult struct {
	ExecutionID       int64
	CommandsGenerated int
	// Existing is true when the idempotency key named an execution already started:
	// nothing was started now.
	Existing bool
}

// errCancelledAbove rolls back a start whose parent, or an ancestor of it, was cancelled.
var errCancelledAbove = errors.New("an ancestor of the execution was cancelled")

// cancelledAboveConflict is the 409 for a child start under the cancelled execution
// cancelled (the parent itself, or one above it).
func cancelledAboveConflict(parent, cancelled int64) error {
	if cancelled == parent {
		return httpx.Conflict("Cannot start a child of execution %d: it was cancelled", parent)
	}
	return httpx.Conflict("Cannot start a child of execution %d: execution %d above it was cancelled", parent, cancelled)
}

// inputHash is the hash a keyed start records of the input it was asked for: SHA-256,
// in hex, of the payload as canonical JSON (keys sorted, the value model's numbers), so
// a repeat that sends the same object in another key order or under another alias of
// the input hashes alike.
func inputHash(payload map[string]any) (string, error) {
	if payload == nil {
		payload = map[string]any{}
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Start creates the execution, writes playbook_started and dispatches `start`. A start
// under a parent that was cancelled, or below a cancelled execution, is a 409, unless its
// idempotency key names an execution started before.
//
// A start whose idempotency key names an execution started before answers it only when
// it asks for the same thing: the same playbook (see AnyVersion) and, without a parent,
// the same payload; another one is a 409 naming the conflict, as a client reusing a key
// for another request would otherwise never learn that its request did not run. Under a
// parent the key names the parent's tool call (the worker's playbook tool), whose input
// is rendered again when the call runs again after a hand-back and may differ (a
// template reading a re-run task's result); such a repeat adopts the child it started.
func (o *Orchestrator) Start(ctx context.Context, req StartRequest) (StartResult, error) {
	begin := o.clock.Now()
	execID, err := o.ids.Next()
	if err != nil {
		return StartResult{}, httpx.Internal("could not mint an execution id", err)
	}
	var asked string
	if req.IdempotencyKey != "" {
		if asked, err = inputHash(req.Payload); err != nil {
			return StartResult{}, httpx.Internal("could not hash the execution's input", err)
		}
	}
	workload := make(map[string]any, len(req.Payload)+8)
	for k, v := range req.Playbook.WorkloadMap() {
		workload[k] = v
	}
	for k, v := range req.Payload {
		workload[k] = v // payload keys replace workload keys at the top level
	}
	var msgs []outbox.Message
	var issued int
	var existing *eventlog.Existing
	var cancelledAbove int64
	err = o.tx(ctx, func(tx pgx.Tx) error {
		exec := &eventlog.Execution{ExecutionID: execID, CatalogID: req.Entry.CatalogID, Path: req.Entry.Path,
			Version: req.Entry.Version, ParentExecutionID: req.ParentExecutionID, IdempotencyKey: req.IdempotencyKey,
			IdempotencyInput: asked}
		var err error
		cancelledAbove = 0
		if req.ParentExecutionID != nil {
			if cancelledAbove, err = eventlog.CancelledAbove(ctx, tx, *req.ParentExecutionID); err != nil {
				return err
			}
		}
		if existing, err = eventlog.CreateExecution(ctx, tx, *exec); err != nil || existing != nil {
			return err
		}
		if cancelledAbove != 0 {
			// A child of a cancelled tree would run until the reconciliation sweep
			// cancelled it; a repeat of a start that happened before (above) still
			// answers its execution.
			return errCancelledAbove
		}
		st := engine.NewState(execID, req.Entry.CatalogID, req.Entry.Path)
		st.Version = req.Entry.Version
		if req.ParentExecutionID != nil {
			st.ParentExecutionID = *req.ParentExecutionID
		}
		emitted, err := o.eng.Start(st, req.Playbook, workload, map[string]any{
			"emitted_at": o.clock.Now().UTC().Format(time.RFC3339Nano), "emitter": "control_plane",
		})
		if err != nil {
			return err
		}
		msgs, issued, err = o.persist(ctx, tx, &loaded{exec: exec, st: st, pb: req.Playbook}, emitted, nil)
		return err
	})
	if errors.Is(err, errCancelledAbove) {
		return StartResult{}, cancelledAboveConflict(*req.ParentExecutionID, cancelledAbove)
	}
	if err != nil {
		return StartResult{}, fmt.Errorf("start execution of %s: %w", req.Entry.Path, err)
	}
	if existing != nil {
		switch {
		case existing.CatalogID == req.Entry.CatalogID, req.AnyVersion && existing.Path == req.Entry.Path:
		case existing.Path == req.Entry.Path:
			return StartResult{}, httpx.Conflict("idempotency_key %q already started execution %d of %s version %d, not version %d",
				req.IdempotencyKey, existing.ExecutionID, existing.Path, existing.Version, req.Entry.Version)
		default:
			return StartResult{}, httpx.Conflict("idempotency_key %q already started execution %d of %s, not of %s",
				req.IdempotencyKey, existing.ExecutionID, existing.Path, req.Entry.Path)
		}
		if req.ParentExecutionID == nil && existing.Input != "" && existing.Input != asked {
			return StartResult{}, httpx.Conflict("idempotency_key %q already started execution %d of %s with another payload: "+
				"send the same payload to get that execution, or use a new key", req.IdempotencyKey, existing.ExecutionID, existing.Path)
		}
		return StartResult{ExecutionID: existing.ExecutionID, Existing: true}, nil
	}
	o.afterCommit(msgs, issued)
	o.m.pass.Observe(o.clock.Since(begin).Seconds())
	return StartResult{ExecutionID: execID, CommandsGenerated: issued}, nil
}

// IngestResult reports what happened to posted events.
type IngestResult struct {
	// Duplicate[i] is true when events[i] was already stored (an idempotent repeat).
	Duplicate         []bool
	CommandsGenerated int
	// Claimed are the commands eager dispatch claimed for the posting worker.
	Claimed []*eventlog.IssuedCommand
}

// Ingest stores worker events of one execution and runs one orchestration pass over
// them, all in one transaction. Repeats of stored events (same event_id) change
// nothing and report the commands their first post generated.
func (o *Orchestrator) Ingest(ctx context.Context, executionID int64, events []eventlog.Event) (IngestResult, error) {
	return o.IngestEager(ctx, executionID, events, Eager{})
}

// IngestEager is Ingest with eager dispatch: the commands the pass issues, up to
// eager.Capacity, are claimed for eager.WorkerID in the same transaction and returned
// in IngestResult.Claimed. A repeat of the same post returns the commands its first
// post claimed for that worker (and still hold), so a worker that lost the answer
// gets them again.
func (o *Orchestrator) IngestEager(ctx context.Context, executionID int64, events []eventlog.Event, eager Eager) (IngestResult, error) {
	begin := o.clock.Now()
	res := IngestResult{Duplicate: make([]bool, len(events))}
	var msgs []outbox.Message
	err := o.tx(ctx, func(tx pgx.Tx) error {
		l, err := o.load(ctx, tx, executionID)
		if err != nil {
			return err
		}
		if err := refuseRevokedClaims(l.st, events); err != nil {
			return err
		}
		// The post's outcomes come after an end already in the log (folded just now or
		// by an earlier pass): they finish no command row, which the end cancelled.
		late := l.st.Terminal()
		numberEvents(l, executionID, events)
		p := &pipeline{}
		inserted, err := storeEvents(ctx, tx, p, events)
		if err != nil {
			return err
		}
		f, err := foldNew(ctx, tx, l, events, inserted, res.Duplicate)
		if err != nil {
			return err
		}
		if f.trigger == 0 && allTrue(res.Duplicate) {
			// Nothing new: answer like the first post did, and write nothing.
			if err := answerRepeat(ctx, tx, executionID, events, eager, &res); err != nil {
				return err
			}
			return errRollback
		}
		if !late {
			queueCommandMarks(p, executionID, f)
		}
		emitted, err := o.advance(ctx, tx, l, f.trigger, eager, &res)
		if err != nil {
			return err
		}
		msgs, res.CommandsGenerated, err = o.persist(ctx, tx, l, emitted, p)
		return err
	})
	return o.finishIngest(executionID, begin, res, msgs, err)
}

// refuseRevokedClaims refuses the outcome of a worker whose claim was revoked (it
// stopped heart-beating and the command went to another worker): its result must not
// decide anything. The state knows the holder from the folded command.claimed events.
func refuseRevokedClaims(st *engine.State, events []eventlog.Event) error {
	for _, ev := range events {
		if !engine.Actionable(ev.Type) || ev.WorkerID == "" {
			continue
		}
		key := engine.CommandKeyOf(ev.Event)
		if c := st.Commands[key]; c != nil && c.Worker != "" && c.Worker != ev.WorkerID {
			return httpx.Conflict("command %s is held by worker %s; the claim of %s was revoked", key, c.Worker, ev.WorkerID)
		}
	}
	return nil
}

// numberEvents gives the posted events the execution's ids and the sequence numbers
// after the state's, and reserves every number handed out, repeats included.
func numberEvents(l *loaded, executionID int64, events []eventlog.Event) {
	base := l.st.Seq
	for i := range events {
		events[i].ExecutionID = executionID
		events[i].CatalogID = l.exec.CatalogID
		events[i].Seq = base + int64(i) + 1
	}
	l.st.Seq = base + int64(len(events))
}

// storeEvents writes the posted events and reports which are new. Events whose id the
// poster chose may repeat stored ones: they are inserted at once to learn which are
// new. Events with server-minted ids are new by construction and are queued on p, to
// ride in the pass's final batch.
func storeEvents(ctx context.Context, tx pgx.Tx, p *pipeline, events []eventlog.Event) ([]bool, error) {
	inserted := make([]bool, len(events))
	var chosen, minted []eventlog.Event
	var chosenIdx []int
	for i, ev := range events {
		if ev.Minted {
			inserted[i] = true
			minted = append(minted, ev)
		} else {
			chosen = append(chosen, ev)
			chosenIdx = append(chosenIdx, i)
		}
	}
	if len(chosen) > 0 {
		got, err := eventlog.Append(ctx, tx, chosen)
		if err != nil {
			return nil, err
		}
		for k, i := range chosenIdx {
			inserted[i] = got[k]
		}
	}
	if len(minted) > 0 {
		if err := eventlog.QueueInsertEvents(&p.b, minted); err != nil {
			return nil, err
		}
		p.queued(execRead)
	}
	return inserted, nil
}

// folded is what folding a post's new events found: the first actionable event (the
// pass's trigger, 0 when none) and the commands the post finished, failed or touched.
type folded struct {
	trigger                   int64
	finished, failed, touched []string
}

// foldNew applies the new events (result references resolved) to the state, marks the
// repeats in duplicate, and sorts the commands they concern.
func foldNew(ctx context.Context, tx pgx.Tx, l *loaded, events []eventlog.Event, inserted, duplicate []bool) (folded, error) {
	var f folded
	evs := make([]engine.Event, len(events))
	for i := range events {
		evs[i] = events[i].Event
	}
	if err := resolveRefs(ctx, tx, evs); err != nil {
		return f, err
	}
	for i, ev := range events {
		if !inserted[i] {
			duplicate[i] = true
			continue
		}
		l.apply(evs[i])
		switch {
		case engine.Actionable(ev.Type):
			if f.trigger == 0 {
				f.trigger = ev.EventID
			}
			if engine.IsFailure(ev.Type) {
				f.failed = append(f.failed, engine.CommandKeyOf(ev.Event))
			} else {
				f.finished = append(f.finished, engine.CommandKeyOf(ev.Event))
			}
		case ev.Type == engine.TypeCommandStarted || ev.Type == engine.TypeCallDone:
			f.touched = append(f.touched, engine.CommandKeyOf(ev.Event))
		}
	}
	return f, nil
}

// answerRepeat fills res for a post whose events were all stored before: the commands
// its actionable events generated then and, for eager dispatch, those still claimed for
// the worker.
func answerRepeat(ctx context.Context, tx pgx.Tx, executionID int64, events []eventlog.Event, eager Eager, res *IngestResult) error {
	var triggers []int64
	for i, ev := range events {
		if res.Duplicate[i] && engine.Actionable(ev.Type) {
			n, err := eventlog.CountIssuedBy(ctx, tx, executionID, ev.EventID)
			if err != nil {
				return err
			}
			res.CommandsGenerated += n
			triggers = append(triggers, ev.EventID)
		}
	}
	if eager.wanted() && len(triggers) > 0 {
		var err error
		if res.Claimed, err = eventlog.ClaimedIssuedBy(ctx, tx, executionID, triggers, eager.WorkerID); err != nil {
			return err
		}
	}
	return nil
}

// queueCommandMarks queues the command-row updates the post implies: an activity mark
// for commands it touched, and the finish of those it completed or failed.
func queueCommandMarks(p *pipeline, executionID int64, f folded) {
	// A command finishing in this batch needs no activity mark.
	touched := without(f.touched, f.finished, f.failed)
	if len(touched) > 0 {
		execs := make([]int64, len(touched))
		for i := range execs {
			execs[i] = executionID
		}
		eventlog.QueueTouchCommands(&p.b, execs, touched)
		p.queued(execRead)
	}
	if len(f.finished) > 0 {
		eventlog.QueueFinishCommands(&p.b, executionID, f.finished, eventlog.CmdCompleted, f.trigger)
		p.queued(execRead)
	}
	if len(f.failed) > 0 {
		eventlog.QueueFinishCommands(&p.b, executionID, f.failed, eventlog.CmdFailed, f.trigger)
		p.queued(execRead)
	}
}

// advance runs the engine's pass for the trigger (nothing without one) and claims what
// it issued for the posting worker when eager dispatch asks for it.
func (o *Orchestrator) advance(ctx context.Context, tx pgx.Tx, l *loaded, trigger int64, eager Eager, res *IngestResult) ([]engine.Event, error) {
	if trigger == 0 {
		return nil, nil
	}
	emitted, err := o.eng.Advance(l.st, l.pb, trigger, iterations(ctx, tx, l.exec.ExecutionID))
	if err != nil {
		return nil, err
	}
	emitted, res.Claimed, err = o.claimEagerly(l, emitted, eager)
	return emitted, err
}

// finishIngest turns the transaction's outcome into Ingest's answer and, after a
// commit, publishes the new commands' notifications and records the pass.
func (o *Orchestrator) finishIngest(executionID int64, begin time.Time, res IngestResult, msgs []outbox.Message, err error) (IngestResult, error) {
	if errors.Is(err, errRollback) {
		return res, nil
	}
	if err != nil {
		res.Claimed = nil // a rolled-back pass claimed nothing
	}
	if errors.Is(err, eventlog.ErrNoExecution) {
		return res, err
	}
	if err != nil {
		o.log.Error("orchestration pass failed", slog.Int64("execution_id", executionID), slog.Any("error", err))
		return res, err
	}
	o.afterCommit(msgs, res.CommandsGenerated)
	o.m.eager.Add(float64(len(res.Claimed)))
	o.m.pass.Observe(o.clock.Since(begin).Seconds())
	return res, nil
}

var errRollback = errors.New("rollback: nothing to write")

// iterationSource reads an execution's stored loop iteration results inside the pass's
// transaction.
type iterationSource struct {
	ctx         context.Context
	q           eventlog.Querier
	executionID int64
}

func iterations(ctx context.Context, q eventlog.Querier, executionID int64) engine.IterationReader {
	return iterationSource{ctx: ctx, q: q, executionID: executionID}
}

func (s iterationSource) IterationResults(_ string, entryID int64) (map[int64]any, error) {
	return eventlog.IterationResults(s.ctx, s.q, s.executionID, entryID)
}

// without returns keys minus every key in the other lists.
func without(keys []string, others ...[]string) []string {
	if len(keys) == 0 {
		return keys
	}
	drop := map[string]bool{}
	for _, o := range others {
		for _, k := range o {
			drop[k] = true
		}
	}
	out := keys[:0]
	for _, k := range keys {
		if !drop[k] {
			out = append(out, k)
		}
	}
	return out
}

func allTrue(xs []bool) bool {
	for _, x := range xs {
		if !x {
			return false
		}
	}
	return true
}

// ErrTerminal carries the status of an execution that already ended.
type ErrTerminal struct{ Status string }

func (e *ErrTerminal) Error() string { return "execution is " + e.Status }

// Cancel writes playbook.cancelled: from then on nothing is dispatched and claims are
// refused. An execution that already ended cannot be cancelled. Its running child
// executions (and theirs) are cancelled after it, each in its own transaction, so the
// tree stops even when no worker is left to pass the cancel on (docs/engine.md,
// "Failure and the end of a run").
func (o *Orchestrator) Cancel(ctx context.Context, executionID int64) error {
	if err := o.terminate(ctx, executionID, func(st *engine.State) ([]engine.Event, error) {
		return o.eng.Cancel(st, "cancelled through the API")
	}); err != nil {
		return err
	}
	// The parent's cancel is committed: its cascade goes on when the caller leaves (a
	// client that gives up, a router that times out), rather than stop part way and
	// leave children running until the reconciliation sweep (never, with it off).
	if _, err := o.CancelChildren(context.WithoutCancel(ctx), executionID); err != nil {
		// The parent's cancel stands; the reconciliation sweep finishes the cascade.
		o.log.Warn("could not find the child executions of a cancelled execution",
			slog.Int64("execution_id", executionID), slog.Any("error", err))
	}
	return nil
}

// CancelChildren cancels the running executions below a cancelled one (children,
// theirs, ...) and returns how many it cancelled. It is the second half of Cancel, and
// what the reconciliation sweep runs when a crash came between the two halves. A child
// that ended meanwhile (another api replica's cascade, the worker's playbook tool) is
// left alone and not counted; any other failure of one child is logged and the others
// go on. The error is only a failure to find the children.
func (o *Orchestrator) CancelChildren(ctx context.Context, executionID int64) (int, error) {
	children, err := eventlog.RunningDescendants(ctx, o.pool, executionID)
	if err != nil {
		return 0, err
	}
	reason := fmt.Sprintf("parent execution %d was cancelled", executionID)
	n := 0
	for _, id := range children {
		err := o.terminate(ctx, id, func(st *engine.State) ([]engine.Event, error) {
			return o.eng.Cancel(st, reason)
		})
		var term *ErrTerminal
		switch {
		case err == nil:
			n++
		case errors.As(err, &term), errors.Is(err, eventlog.ErrNoExecution):
		default:
			o.log.Warn("could not cancel a child of a cancelled execution", slog.Int64("execution_id", executionID),
				slog.Int64("child_execution_id", id), slog.Any("error", err))
		}
	}
	return n, nil
}

// CloseEnded closes what an ended execution still shows in flight, as the end closes it
// now (docs/engine.md, "Failure and the end of a run"): a step.cancelled for each step
// still running (stamped with the execution's end, the terminal event as parent) and
// every command row still PENDING or CLAIMED becomes CANCELLED. Executions an older
// version ended need it, and so does one whose terminal event was stored outside a pass
// (the projector's): the load folds it, which ends the execution. It reports whether it
// changed anything; a running execution whose log has no end, or an unknown one, is left
// alone.
func (o *Orchestrator) CloseEnded(ctx context.Context, executionID int64) (bool, error) {
	changed := false
	err := o.tx(ctx, func(tx pgx.Tx) error {
		changed = false // a retried transaction starts over
		l, err := o.load(ctx, tx, executionID)
		if errors.Is(err, eventlog.ErrNoExecution) {
			return nil // deleted since it was found (retention)
		}
		if err != nil {
			return err
		}
		changed, err = o.closeEnded(ctx, tx, l, "closed by the reconciliation sweep")
		return err
	})
	return changed, err
}

// closeEnded is CloseEnded inside the caller's transaction, for a loaded execution; by
// says who closes (it ends the steps' reason). It reports whether it wrote anything.
func (o *Orchestrator) closeEnded(ctx context.Context, tx pgx.Tx, l *loaded, by string) (bool, error) {
	if !l.st.Terminal() {
		return false, nil
	}
	// What the snapshot still holds open: closing it changes the snapshot even when no
	// step is running (outstanding commands of an older version's state). An end folded
	// in this transaction changes it too (persist closes the command rows for it).
	open := len(l.st.RunningSteps()) > 0 || len(l.st.Commands) > 0 || len(l.st.Pending) > 0 || l.ended != 0
	terminal := l.ended
	if terminal == 0 {
		var err error
		if terminal, err = eventlog.TerminalEventID(ctx, tx, l.exec.ExecutionID); err != nil {
			return false, err
		}
	}
	emitted, err := o.eng.CloseEnded(l.st, terminal, "the execution had ended before the step finished ("+by+")")
	if err != nil {
		return false, err
	}
	cancelled, err := eventlog.CancelCommands(ctx, tx, l.exec.ExecutionID, terminal)
	if err != nil {
		return false, err
	}
	if !open && cancelled == 0 {
		return false, nil // nothing was open: write nothing
	}
	if l.exec.CompletedAt != nil {
		l.stamp = *l.exec.CompletedAt
	}
	_, _, err = o.persist(ctx, tx, l, emitted, nil)
	return err == nil, err
}

// Finalize writes the terminal event an operator asks for.
func (o *Orchestrator) Finalize(ctx context.Context, executionID int64, status, errText string) error {
	return o.terminate(ctx, executionID, func(st *engine.State) ([]engine.Event, error) {
		return o.eng.Finalize(st, status, errText)
	})
}

// terminate is the one path of the operations that end an execution from outside:
// under the row lock, an execution that already ended is refused (ErrTerminal), one
// that does not exist is eventlog.ErrNoExecution,
// otherwise decide's terminal events are persisted like a pass's.
//
// An execution found ended by a terminal event another writer stored (the projector),
// not yet folded by any pass, is refused too, but the fold is committed first: its
// snapshot, status and command rows are closed as any pass closes them.
func (o *Orchestrator) terminate(ctx context.Context, executionID int64, decide func(*engine.State) ([]engine.Event, error)) error {
	var ended *ErrTerminal
	err := o.tx(ctx, func(tx pgx.Tx) error {
		ended = nil // a retried transaction starts over
		l, err := o.load(ctx, tx, executionID)
		if err != nil {
			return err
		}
		if l.st.Terminal() {
			ended = &ErrTerminal{Status: l.st.Status}
			if l.ended == 0 {
				return ended // ended by an earlier pass: nothing to write
			}
			_, _, err = o.persist(ctx, tx, l, nil, nil)
			return err
		}
		emitted, err := decide(l.st)
		if err != nil {
			return err
		}
		_, _, err = o.persist(ctx, tx, l, emitted, nil)
		return err
	})
	if err == nil && ended != nil {
		return ended
	}
	return err
}

// queueLoose queues events appended outside an orchestration pass (claims, requeues):
// they take sequence numbers after the locked row's last_seq and are folded by the
// next pass.
func queueLoose(p *pipeline, exec *eventlog.Execution, evs []eventlog.Event, now time.Time) error {
	for i := range evs {
		evs[i].ExecutionID = exec.ExecutionID
		evs[i].CatalogID = exec.CatalogID
		evs[i].Seq = exec.LastSeq + int64(i) + 1
		if evs[i].CreatedAt.IsZero() {
			evs[i].CreatedAt = now
		}
	}
	exec.LastSeq += int64(len(evs))
	eventlog.QueueSetLastSeq(&p.b, exec.ExecutionID, exec.LastSeq)
	p.queued(execRead)
	if err := eventlog.QueueInsertEvents(&p.b, evs); err != nil {
		return err
	}
	p.queued(execRead)
	return nil
}

type metrics struct {
	pass   prometheus.Histogram
	issued prometheus.Counter
	eager  prometheus.Counter
	lapsed *prometheus.CounterVec
}

// lapsedCounter counts the claims of live workers taken back, by reason; both series
// exist from the start so a dashboard's rate reads 0, not "no data".
func lapsedCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	v := promx.CounterVec(reg, "noetl_command_claims_lapsed_total",
		"Claims of live workers taken back because they lapsed (reason: ack, an eager claim never acknowledged; lease, a claim the worker stopped renewing).",
		"reason")
	promx.Zero(v, []string{eventlog.LapseAck, eventlog.LapseLease})
	return v
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		pass: promx.Histogram(reg, "noetl_orchestrator_pass_duration_seconds", "Duration of one orchestration transaction (start or event pass), commit included.",
			[]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
		issued: promx.Counter(reg, "noetl_commands_issued_total", "Commands issued (command.issued events written)."),
		eager:  promx.Counter(reg, "noetl_commands_eager_total", "Commands claimed for the posting worker by eager dispatch (no notification published)."),
		lapsed: lapsedCounter(reg),
	}
}
