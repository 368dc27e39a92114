// Package reconcile is the sweep that closes what a crash or an older version left
// open (docs/engine.md, "Reconciliation"):
//
//   - running executions below a cancelled one: a cancel commits the parent first and
//     cancels its children afterwards, each in its own transaction, so a crash in between
//     leaves them running; the sweep runs the same cascade again;
//   - running executions whose log holds a terminal event no pass folded (stored by the
//     projector, which folds it right after its commit, when a crash came in between);
//     the sweep folds it, which ends them;
//   - ended executions that still show steps running or commands PENDING or CLAIMED
//     (older versions did not close them at the end, nor the command rows of a terminal
//     event folded from elsewhere); the sweep closes them the way the end closes them
//     now.
//
// Every fix goes through the orchestrator's own operations, under the execution's row
// lock, and re-checks there, so a fix is idempotent and two sweeps (or a sweep and the
// cancel route) never do the same fix twice. A pass runs under a session advisory lock
// so that of several api replicas one sweeps at a time; the others skip the pass.
package reconcile

import "context"
import "fmt"
import "log/slog"
import "time"

import "github.com/jackc/pgx/v5/pgxpool"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/periodic"
import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/promx"

// Reasons are the label values of noetl_reconciled_executions_total.
const (
	// ReasonParentCancelled: a running execution below a cancelled one was cancelled.
	ReasonParentCancelled = "parent_cancelled"
	// ReasonEndedInFlight: an ended execution's running steps and open commands were closed.
	ReasonEndedInFlight = "ended_in_flight"
	// ReasonEndNotFolded: a running execution's terminal event, stored outside a pass,
	// was folded (the execution ended).
	ReasonEndNotFolded = "end_not_folded"
)

// Defaults of a Sweeper.
const (
	DefaultInterval = 30 * time.Second
	// DefaultAncestors bounds the cancelled executions one query hands the cascade.
	DefaultAncestors = 100
	// DefaultScanBatch is how many executions one scan statement examines.
	DefaultScanBatch = 500
	// DefaultScanBudget bounds the executions one pass examines: a large history is
	// covered over several passes, each short.
	DefaultScanBudget = 20000
	// maxAncestorBatches bounds the cascade queries of one pass.
	maxAncestorBatches = 10
)

// Fixer is what the sweep needs from the orchestrator: the cascade of a cancel and the
// close-out of an ended execution, each under the execution's row lock.
type Fixer interface {
	CancelChildren(ctx context.Context, executionID int64) (int, error)
	CloseEnded(ctx context.Context, executionID int64) (bool, error)
}

// Config tunes a Sweeper.
type Config struct {
	// Interval between passes; 0 turns the sweep off (NOETL_RECONCILE_INTERVAL).
	Interval time.Duration
	// Ancestors, ScanBatch and ScanBudget bound a pass (defaults above).
	Ancestors, ScanBatch, ScanBudget int
}

// Sweeper runs reconciliation passes.
type Sweeper struct {
	pool *pgxpool.Pool
	fix  Fixer
	cfg  Config
	done *prometheus.CounterVec
	log  *slog.Logger
	// The scan of ended executions goes round the execution table in id order, a budget
	// per pass. cursor is where it resumes (an execution id; 0 starts a round), round is
	// when the current round started and since what the round examines: the first round
	// of a process everything, later rounds the executions changed since the previous
	// round started (with a margin), since an ended execution found closed stays closed
	// until a pass writes its row again. Only one goroutine runs passes.
	cursor       int64
	round, since time.Time
}

// roundMargin widens "changed since the previous round": a transaction that began
// before the round started stamps updated_at with its start, and may commit after the
// scan went past its row.
const roundMargin = time.Minute

// New returns a sweeper; its metric is registered on reg.
func New(pool *pgxpool.Pool, fix Fixer, cfg Config, reg prometheus.Registerer, log *slog.Logger) *Sweeper {
	cfg.Ancestors = config.PositiveOr(cfg.Ancestors, DefaultAncestors)
	cfg.ScanBatch = config.PositiveOr(cfg.ScanBatch, DefaultScanBatch)
	cfg.ScanBudget = config.PositiveOr(cfg.ScanBudget, DefaultScanBudget)
	done := promx.CounterVec(reg, "noetl_reconciled_executions_total",
		"Executions the reconciliation sweep fixed, by reason (parent_cancelled, end_not_folded, ended_in_flight).", "reason")
	promx.Zero(done, []string{ReasonParentCancelled, ReasonEndNotFolded, ReasonEndedInFlight})
	return &Sweeper{pool: pool, fix: fix, cfg: cfg, done: done, log: log}
}

// Run passes once at once and then every Interval until ctx ends. It does nothing when
// Interval is 0.
func (s *Sweeper) Run(ctx context.Context) {
	if s.cfg.Interval <= 0 {
		s.log.Info("reconciliation sweep off (NOETL_RECONCILE_INTERVAL=0)")
		return
	}
	periodic.Passes(ctx, s.cfg.Interval, periodic.AtOnce, s.log, "reconciliation", s.loggedPass)
}

// loggedPass is a pass as Run's loop logs it: what it fixed, by reason, as log
// attributes; none when it fixed nothing.
func (s *Sweeper) loggedPass(ctx context.Context) ([]any, error) {
	res, err := s.Pass(ctx)
	if res.ParentCancelled == 0 && res.EndNotFolded == 0 && res.EndedInFlight == 0 {
		return nil, err
	}
	return []any{slog.Int("parent_cancelled", res.ParentCancelled),
		slog.Int("end_not_folded", res.EndNotFolded), slog.Int("ended_in_flight", res.EndedInFlight)}, err
}

// Result says what one pass did.
type Result struct {
	// Skipped: another api replica holds the sweep's lock; this pass did nothing.
	Skipped bool
	// ParentCancelled counts the executions cancelled because an ancestor was.
	ParentCancelled int
	// EndNotFolded counts the running executions whose stored end was folded.
	EndNotFolded int
	// EndedInFlight counts the ended executions whose open work was closed.
	EndedInFlight int
}

// Pass runs one reconciliation pass: the interrupted cascades first (a cancel closes its
// executions' steps itself), then the ends stored but not folded (folding one closes
// what it leaves open), then the scan of ended executions.
func (s *Sweeper) Pass(ctx context.Context) (Result, error) {
	var res Result
	ran, err := pg.Exclusive(ctx, s.pool, lockName, func() error {
		if err := s.cascades(ctx, &res); err != nil {
			return err
		}
		if err := s.foldEnds(ctx, &res); err != nil {
			return err
		}
		return s.closeEnded(ctx, &res)
	})
	res.Skipped = !ran && err == nil
	return res, err
}

// foldEnds folds the terminal events stored outside a pass that no pass folded, up to
// maxAncestorBatches batches of Ancestors executions. One that cannot be folded (its
// playbook no longer parses) is logged and passed over, so it does not hold up the
// others or the rest of the pass.
func (s *Sweeper) foldEnds(ctx context.Context, res *Result) error {
	var after int64
	for range maxAncestorBatches {
		ids, err := eventlog.RunningWithEnd(ctx, s.pool, after, s.cfg.Ancestors)
		if err != nil {
			return err
		}
		for _, id := range ids {
			after = id
			changed, err := s.fix.CloseEnded(ctx, id)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.log.Warn("could not fold the stored end of a running execution", slog.Int64("execution_id", id), slog.Any("error", err))
				continue
			}
			if changed {
				res.EndNotFolded++
				s.done.WithLabelValues(ReasonEndNotFolded).Inc()
			}
		}
		if len(ids) < s.cfg.Ancestors {
			return nil
		}
	}
	return nil
}

// cascades finishes the cascades of cancels a crash interrupted.
func (s *Sweeper) cascades(ctx context.Context, res *Result) error {
	for range maxAncestorBatches {
		ancestors, err := eventlog.CancelledAncestors(ctx, s.pool, s.cfg.Ancestors)
		if err != nil {
			return err
		}
		fixed := 0
		for _, id := range ancestors {
			n, err := s.fix.CancelChildren(ctx, id)
			if err != nil {
				return fmt.Errorf("cancel the running executions below %d: %w", id, err)
			}
			fixed += n
		}
		res.ParentCancelled += fixed
		s.done.WithLabelValues(ReasonParentCancelled).Add(float64(fixed))
		// A full batch may hide more; a batch that fixed nothing would only repeat
		// itself (children another replica is cancelling, or that fail to cancel).
		if len(ancestors) < s.cfg.Ancestors || fixed == 0 {
			return nil
		}
	}
	return nil
}

// closeEnded examines executions from the cursor on, up to the pass's budget, and
// closes the ended ones with work still open.
func (s *Sweeper) closeEnded(ctx context.Context, res *Result) error {
	if s.cursor == 0 {
		now, err := eventlog.Now(ctx, s.pool)
		if err != nil {
			return err
		}
		s.round = now
	}
	for budget := s.cfg.ScanBudget; budget > 0; budget -= s.cfg.ScanBatch {
		open, last, examined, err := eventlog.EndedWithOpenWork(ctx, s.pool, s.cursor, s.cfg.ScanBatch, s.since)
		if err != nil {
			return err
		}
		for _, id := range open {
			changed, err := s.fix.CloseEnded(ctx, id)
			if err != nil {
				return fmt.Errorf("close the open work of ended execution %d: %w", id, err)
			}
			if changed {
				res.EndedInFlight++
				s.done.WithLabelValues(ReasonEndedInFlight).Inc()
			}
		}
		s.cursor = last
		if examined < s.cfg.ScanBatch {
			// The end of a round: the next pass starts the next one.
			s.cursor, s.since = 0, s.round.Add(-roundMargin)
			return nil
		}
	}
	return nil
}

// lockName names the sweep's advisory lock (pg.Exclusive), keyed on the schema:
// deployments that share a database in different schemas sweep independently.
const lockName = "reconcile"
