// Package executor runs commands. Work reaches it through one channel, whatever its
// source (a JetStream notification now; a command handed back in an event response
// later), and at most Concurrency commands run at once, not counting commands that
// gave their slot back to wait on another execution (tool.ReleaseSlot). Each command is claimed,
// reported as started, run by the runner (tool, pipeline, policy rules), and reported
// with its outcome; only then is its notification acknowledged. A command whose
// execution is cancelled is stopped; a command still running when the worker's grace
// period ends is handed back (left claimed, so the control plane requeues it once the
// worker is gone); a command a heartbeat's answer says the worker no longer holds is
// stopped the same way and let go (Release).
package executor

import "context"
import "errors"
import "log/slog"
import "slices"
import "sync"
import "sync/atomic"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/credentials"
import "github.com/noetl/controlplane/services/worker/internal/runner"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/periodic"

// Delivery acknowledges a unit of work to its source.
type Delivery interface {
	// Ack: the command's outcome is reported, or the command is not this worker's.
	Ack()
	// Nak: deliver again after delay.
	Nak(delay time.Duration)
	// InProgress: still working on it; do not redeliver yet.
	InProgress()
}

// Notification is a command notification (upstream's five keys).
type Notification struct {
	ExecutionID int64
	EventID     int64
	CommandID   string
	Step        string
	ServerURL   string
}

// Work is one command to run.
type Work struct {
	Note Notification
	// Claimed is set when the command arrives already claimed for this worker; nil
	// means claim it first.
	Claimed *controlplane.Command
	// Delivery is nil when there is nothing to acknowledge.
	Delivery Delivery
	// Deliveries counts how often the source delivered it (for the retry backoff).
	Deliveries int
}

// Plane is what the executor needs from the control plane.
type Plane interface {
	Claim(ctx context.Context, server string, eventID int64, workerID string) (*controlplane.Command, error)
	PostEvent(ctx context.Context, server string, ev controlplane.Event) error
	PostEvents(ctx context.Context, server string, executionID int64, workerID string, evs []controlplane.Event) error
	PostOutcome(ctx context.Context, server string, executionID int64, workerID string, evs []controlplane.Event, capacity int) ([]*controlplane.Command, error)
	PutResult(ctx context.Context, server string, executionID int64, step string, data any) (map[string]any, error)
	Cancelled(ctx context.Context, server string, executionID int64) (bool, error)
}

// IDSource mints event ids (the worker's snowflakes).
type IDSource interface {
	Next() (int64, error)
}

// Config tunes the executor.
type Config struct {
	WorkerID    string
	Concurrency int
	// InlineLimit is the largest ToolResult (JSON bytes) sent inside an event; larger
	// data goes to the result store.
	InlineLimit int
	// CancelCheck is how often a running command asks whether its execution was
	// cancelled (the first check comes after CancelCheck too).
	CancelCheck time.Duration
	// KeepAlive is how often a running command tells its source it is still working.
	KeepAlive time.Duration
	// ReportBudget bounds the retries of one event post.
	ReportBudget time.Duration
	// EagerCapacity, when positive, asks the control plane for eager dispatch with each
	// outcome: the next command(s) of the execution come back claimed in the answer and
	// run in the slot that just finished, with no notification and no claim.
	EagerCapacity int
	// StartedDelay is how long a command may run before its command.started is posted
	// on its own; a command that ends sooner sends command.started in its outcome batch
	// (one request instead of two). Default 50 ms.
	StartedDelay time.Duration
}

// Executor runs work.
type Executor struct {
	cfg   Config
	plane Plane
	run   *runner.Runner
	creds *credentials.Resolver
	ids   IDSource
	log   *slog.Logger
	m     *metrics
	work  chan Work
	busy  atomic.Int64 // commands holding a slot
	// waiting counts commands that gave their slot back to wait.
	waiting atomic.Int64
	closed  atomic.Bool // Close was called: take no new work, eager or not
	freed   chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	active  map[int64]*live // command.issued event ids running here (or being claimed)
	queued  map[int64]bool  // eagerly dispatched commands waiting for their slot
	// revoked: queued commands the control plane said this worker no longer holds;
	// their slot skips them.
	revoked map[int64]bool
}

// live is one command this worker runs. stop is set once its claim is confirmed and it
// runs; released once the control plane said the worker no longer holds it.
type live struct {
	stop     context.CancelCauseFunc
	released bool
}

// New returns an executor; Start runs it.
func New(cfg Config, plane Plane, run *runner.Runner, creds *credentials.Resolver, ids IDSource, reg prometheus.Registerer, log *slog.Logger) *Executor {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.CancelCheck <= 0 {
		cfg.CancelCheck = 2 * time.Second
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 10 * time.Second
	}
	if cfg.ReportBudget <= 0 {
		cfg.ReportBudget = 10 * time.Minute
	}
	if cfg.InlineLimit <= 0 {
		cfg.InlineLimit = 100 << 10
	}
	if cfg.StartedDelay <= 0 {
		cfg.StartedDelay = 50 * time.Millisecond
	}
	return &Executor{cfg: cfg, plane: plane, run: run, creds: creds, ids: ids, log: log, m: newMetrics(reg),
		work: make(chan Work, cfg.Concurrency), freed: make(chan struct{}, 1), active: map[int64]*live{},
		queued: map[int64]bool{}, revoked: map[int64]bool{}}
}

// Start launches the dispatcher: each piece of work runs in a goroutine of its own while
// it holds a slot (Submit counts it). Commands run under hard: cancelling it stops them
// and hands them back.
func (e *Executor) Start(hard context.Context) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for w := range e.work {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				s := &slot{e: e}
				e.handle(hard, w, s)
				s.finish()
				e.m.inFlight.Dec()
			}()
		}
	}()
}

// slot is the concurrency slot of one piece of work (its eager successors included).
type slot struct {
	e        *Executor
	mu       sync.Mutex
	released bool
}

// Release gives the slot back to the executor while the command waits; see tool.Slot.
// Every waiting command gives it back, however many wait: a bound on them (there was
// one, 16 per slot) lets the first waiter past it hold a slot, and once every slot is
// held so, the children the waiters wait for find none (one slot and a parallel loop of
// 17 playbook steps waited until the steps timed out). A waiter costs a goroutine and a
// status poll every poll_interval; the commands that wait are bounded by what the
// control plane issues (a loop's max_in_flight).
func (s *slot) Release() func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return func() {}
	}
	s.released = true
	s.e.waiting.Add(1)
	s.e.busy.Add(-1)
	s.e.signalFreed()
	return s.reacquire
}

func (s *slot) reacquire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.released {
		return
	}
	s.released = false
	s.e.waiting.Add(-1)
	s.e.busy.Add(1)
}

// finish frees the slot once its work is done (or stops counting the wait, when a
// command ended without taking its slot back).
func (s *slot) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		s.released = false
		s.e.waiting.Add(-1)
	} else {
		s.e.busy.Add(-1)
	}
	s.e.signalFreed()
}

func (e *Executor) signalFreed() {
	select {
	case e.freed <- struct{}{}:
	default:
	}
}

// Submit queues work. It does not block as long as callers only submit what Free
// allows (the queue holds Concurrency items).
func (e *Executor) Submit(w Work) {
	e.busy.Add(1)
	e.m.inFlight.Inc()
	e.work <- w
}

// Free is the number of commands that could start now.
func (e *Executor) Free() int { return e.cfg.Concurrency - int(e.busy.Load()) }

// WaitFree blocks until at least one slot is free and returns how many are.
func (e *Executor) WaitFree(ctx context.Context) (int, error) {
	for {
		if n := e.Free(); n > 0 {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-e.freed:
		}
	}
}

// Close ends submissions; call it once every source has stopped. Eager dispatch is a
// source too: outcomes posted from now on ask for no new command.
func (e *Executor) Close() {
	e.closed.Store(true)
	close(e.work)
}

// Wait blocks until every command has finished (or was handed back), Close called.
func (e *Executor) Wait() { e.wg.Wait() }

// Busy is the number of commands running or queued.
func (e *Executor) Busy() int { return int(e.busy.Load()) }

// claim marks an event id as running here; false when it already is (a redelivery of
// a command this worker is still running).
func (e *Executor) claimLocal(eventID int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active[eventID] != nil {
		return false
	}
	e.active[eventID] = &live{}
	return true
}

// running records how to stop a command whose claim is confirmed; from now on a
// heartbeat's answer may release it.
func (e *Executor) running(eventID int64, stop context.CancelCauseFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.active[eventID]; r != nil {
		r.stop = stop
	}
}

func (e *Executor) releaseLocal(eventID int64) {
	e.mu.Lock()
	delete(e.active, eventID)
	e.mu.Unlock()
}

// hold and unhold track the eagerly dispatched commands a slot has yet to run: they
// are claimed for this worker, so they are listed as held.
func (e *Executor) hold(cmds []*controlplane.Command, held bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range cmds {
		if held {
			e.queued[c.EventID] = true
		} else {
			delete(e.queued, c.EventID)
			delete(e.revoked, c.EventID)
		}
	}
}

// Held lists the command.issued event ids of every command this worker holds: running,
// being claimed, or handed over by eager dispatch and waiting for its slot. The
// heartbeat reports them, renewing their claims on the control plane.
func (e *Executor) Held() []int64 { return e.Holding().IDs }

// Holding is what one heartbeat lists: the ids, and what each stood for when listed,
// so that its answer acts only on what it spoke of.
type Holding struct {
	IDs []int64
	// runs: the commands listed with a confirmed claim. One still being claimed is not
	// here: the answer may have been computed before the claim was, and a claim that
	// succeeds after that is this worker's.
	runs   map[int64]*live
	queued map[int64]bool
}

// Holding lists what the worker holds (see Held). A command already released is no
// longer listed, even while its tool is still winding down.
func (e *Executor) Holding() Holding {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := Holding{IDs: make([]int64, 0, len(e.active)+len(e.queued)), runs: map[int64]*live{}, queued: map[int64]bool{}}
	for id, r := range e.active {
		if r.released {
			continue
		}
		h.IDs = append(h.IDs, id)
		if r.stop != nil {
			h.runs[id] = r
		}
	}
	for id := range e.queued {
		if e.active[id] == nil {
			h.IDs = append(h.IDs, id)
			h.queued[id] = true
		}
	}
	slices.Sort(h.IDs)
	return h
}

// Release stops the commands of h the control plane says this worker no longer holds
// (a heartbeat's answer to h): a running one has its tool's context cancelled and is
// handed back, posting nothing, since another worker may be running it; a queued one
// is never run. An id that is not one of h's, or whose run ended since, is left alone.
// It returns how many commands it stopped.
func (e *Executor) Release(h Holding, released []int64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, id := range released {
		if r := h.runs[id]; r != nil && e.active[id] == r && !r.released {
			r.released = true
			r.stop(errReleased)
			n++
		} else if h.queued[id] && e.queued[id] && !e.revoked[id] {
			e.revoked[id] = true
			delete(e.queued, id)
			n++
		}
	}
	return n
}

// skipRevoked reports whether a queued command was released before its turn, and
// forgets it.
func (e *Executor) skipRevoked(eventID int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.revoked[eventID] {
		return false
	}
	delete(e.revoked, eventID)
	return true
}

// handle takes one piece of work from notification to acknowledgement, then runs in
// the same slot the commands eager dispatch handed over with its outcome. When the
// worker is stopping, those are left claimed: the control plane requeues them once the
// worker is gone, as any handed-back command.
func (e *Executor) handle(hard context.Context, w Work, s tool.Slot) {
	queue := e.handleOne(hard, w, s)
	e.hold(queue, true)
	// Left over when the worker stops: handed back, no longer listed.
	defer func() { e.hold(queue, false) }()
	for len(queue) > 0 && hard.Err() == nil {
		cmd := queue[0]
		queue = queue[1:]
		if e.skipRevoked(cmd.EventID) {
			e.m.commands.WithLabelValues(metricKind(cmd.Action), "released").Inc()
			e.log.Warn("an eagerly dispatched command was released before its turn; not running it",
				slog.Int64("execution_id", cmd.ExecutionID), slog.String("command_id", cmd.CommandID))
			continue
		}
		e.m.eager.Inc()
		next := e.handleOne(hard, Work{Claimed: cmd, Note: Notification{ExecutionID: cmd.ExecutionID, EventID: cmd.EventID,
			CommandID: cmd.CommandID, Step: cmd.Step, ServerURL: w.Note.ServerURL}}, s)
		e.hold([]*controlplane.Command{cmd}, false)
		e.hold(next, true)
		queue = append(queue, next...)
	}
}

// handleOne handles one command and returns the commands eager dispatch handed over.
func (e *Executor) handleOne(hard context.Context, w Work, s tool.Slot) []*controlplane.Command {
	d := w.Delivery
	if d == nil {
		d = noDelivery{}
	}
	n := w.Note
	if !e.claimLocal(n.EventID) {
		// This worker runs it right now. Put back, not acknowledged: it may be a new
		// notification of the command, requeued because its claim here lapsed (the worker
		// was cut off from the control plane), and the next heartbeat's answer releases
		// the running copy, which posts nothing. Acknowledged, that notification was the
		// requeued command's only one, and nobody ran it. It comes back once the running
		// copy ended: its claim then answers 409 when the copy reported, and runs the
		// command when the copy was released.
		d.Nak(backoff(w.Deliveries))
		return nil
	}
	defer e.releaseLocal(n.EventID)
	stop := keepAlive(d, e.cfg.KeepAlive)
	defer stop()
	cmd := w.Claimed
	if cmd == nil {
		var err error
		cmd, err = e.claim(hard, n)
		switch {
		case errors.Is(err, controlplane.ErrClaimRefused):
			e.m.claimsLost.Inc()
			e.log.Debug("claim refused; dropping the notification", slog.Int64("execution_id", n.ExecutionID),
				slog.Int64("event_id", n.EventID), slog.Any("reason", err))
			d.Ack()
			return nil
		case errors.Is(err, controlplane.ErrUnreadableAnswer) && w.Deliveries >= MaxUnreadableClaims:
			next := e.failUnreadable(hard, n, err)
			d.Ack()
			return next
		case err != nil:
			delay := backoff(w.Deliveries)
			e.log.Warn("claim failed; the notification will come back", slog.Int64("execution_id", n.ExecutionID),
				slog.Int64("event_id", n.EventID), slog.Duration("retry_in", delay), slog.Any("error", err))
			d.Nak(delay)
			return nil
		}
	}
	end, next := e.execute(hard, n, cmd, s)
	switch end {
	case reported:
		d.Ack()
	case notReported:
		d.Nak(backoff(w.Deliveries))
	case handedBack:
		// Left unacknowledged and claimed: once this worker has deregistered, the
		// control plane makes the command claimable again and publishes it anew.
	case released:
		// Not this worker's any more: whoever holds it now, or a new notification of a
		// requeued command, takes it from here.
		d.Ack()
	case refused:
		// Run again, it would be refused again: the claim lease hands it back with its
		// next attempt, and its attempts run out.
		d.Ack()
	}
	return next
}

// MaxUnreadableClaims bounds the deliveries of a notification whose claim keeps being
// answered with something the worker cannot read (ErrUnreadableAnswer): asking again
// mostly gets the same answer, and the stream redelivers without end. With the backoff
// the tries take about 15 s, inside the control plane's claim lease (60 s), so the
// command is reported failed before the lease would hand it back to fail the same way.
const MaxUnreadableClaims = 5

// failUnreadable reports the command of a notification whose claim answer could not be
// read MaxUnreadableClaims times as failed (kind protocol), so its step fails with an
// error that says why. The control plane granted the claim (it answered 2xx), so the
// report is this worker's to make. A notification that does not name its step and
// command cannot be reported; it, and a report the control plane refuses, is left to
// the claim lease, which hands the command back. It returns the commands eager dispatch
// handed over with the report.
func (e *Executor) failUnreadable(hard context.Context, n Notification, cause error) []*controlplane.Command {
	log := e.log.With(slog.Int64("execution_id", n.ExecutionID), slog.Int64("event_id", n.EventID), slog.Any("error", cause))
	if n.Step == "" || n.CommandID == "" {
		log.Error("the claim's answer could not be read; the notification names no command to report failed, dropping it",
			slog.Int("tries", MaxUnreadableClaims))
		return nil
	}
	cmd := &controlplane.Command{EventID: n.EventID, ExecutionID: n.ExecutionID, Step: n.Step, CommandID: n.CommandID,
		CommandIDValue: n.CommandID, Context: map[string]any{}, Meta: map[string]any{}}
	sess := e.creds.Session(tool.Exec{ExecutionID: n.ExecutionID, Step: n.Step, CommandID: n.CommandID, WorkerID: e.cfg.WorkerID, ServerURL: n.ServerURL})
	rep := &reporter{e: e, cmd: cmd, server: n.ServerURL, scrub: sess.Scrub, hard: hard}
	res := tool.Failed("protocol", false, "the worker could not read the control plane's answer to its claim (%d tries): %v", MaxUnreadableClaims, cause)
	started := rep.event("command.started", "STARTED", map[string]any{"command_id": cmd.CommandIDValue})
	next, err := rep.outcome(runner.Outcome{Result: res}, []controlplane.Event{started})
	if err != nil && !errors.Is(err, controlplane.ErrUnreadableAnswer) { // that one is a 2xx: stored
		log.Error("the claim's answer could not be read, nor the command reported failed; dropping the notification",
			slog.Any("report_error", err))
		return nil
	}
	e.m.commands.WithLabelValues(metricKind(cmd.Action), "error").Inc()
	log.Error("the claim's answer could not be read; the command was reported failed", slog.Int("tries", MaxUnreadableClaims))
	return next
}

func (e *Executor) claim(hard context.Context, n Notification) (*controlplane.Command, error) {
	ctx, cancel := context.WithTimeout(hard, 30*time.Second)
	defer cancel()
	return e.plane.Claim(ctx, n.ServerURL, n.EventID, e.cfg.WorkerID)
}

// backoff is the redelivery delay after the n-th delivery: 1 s doubling to 30 s.
func backoff(n int) time.Duration {
	d := time.Second
	for i := 1; i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// keepAlive tells the source every interval that the work is still going.
func keepAlive(d Delivery, every time.Duration) func() {
	return periodic.Go(context.Background(), every, func(context.Context) bool {
		d.InProgress()
		return true
	})
}

type noDelivery struct{}

func (noDelivery) Ack()              {}
func (noDelivery) Nak(time.Duration) {}
func (noDelivery) InProgress()       {}

var _ Delivery = noDelivery{}
