// Package retention deletes what finished executions leave behind once they are older
// than NOETL_RETENTION_MAX_AGE: their events, commands, stored results, variables, outbox
// rows and finally the execution row itself. Without it the event log only grows.
//
// Off by default. Deletes run in small batches (each its own statement and transaction),
// so a pass never holds long locks or a huge transaction on a busy database. Nothing of a
// running execution is touched, and neither is a finished child whose parent still runs
// (the parent may read its results) nor a finished execution with a running descendant
// (deleting it would orphan the descendant; docs/engine.md, "Retention keeps execution
// trees whole"). The execution row goes last, in one transaction that locks it, checks
// that again and sweeps any child row that arrived meanwhile, so an interrupted pass
// leaves the execution to be picked up again by the next one.
package retention

import "context"
import "errors"
import "fmt"
import "log/slog"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/outbox"
import "github.com/noetl/controlplane/services/api/internal/vars"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/periodic"
import "github.com/noetl/controlplane/shared/promx"

// Defaults of a Sweeper.
const (
	DefaultBatchRows       = 1000
	DefaultExecutions      = 100
	DefaultMinInterval     = time.Minute
	DefaultMaxInterval     = 10 * time.Minute
	maxExecutionBatches    = 1000 // per pass: a pass ends even when the backlog does not
	executionRowsTableName = "execution"
)

// childTable is a table whose rows are keyed by execution_id and deleted before the
// execution row, with its owner's two statements: batch ($1 execution ids, $2 at most
// that many rows) and all ($1 execution ids).
type childTable struct{ name, batch, all string }

// childTables in the order they are deleted.
var childTables = []childTable{
	{"event", eventlog.DeleteEventsBatchSQL, eventlog.DeleteEventsSQL},
	{"command", eventlog.DeleteCommandsBatchSQL, eventlog.DeleteCommandsSQL},
	{"result_store", vars.DeleteResultsBatchSQL, vars.DeleteResultsSQL},
	{"transient", vars.DeleteVariablesBatchSQL, vars.DeleteVariablesSQL},
	{"outbox", outbox.DeleteBatchSQL, outbox.DeleteExecutionsSQL},
}

// Tables are the label values of noetl_retention_rows_deleted_total.
var Tables = func() []string {
	out := make([]string, 0, len(childTables)+1)
	for _, t := range childTables {
		out = append(out, t.name)
	}
	return append(out, executionRowsTableName)
}()

// Config tunes a Sweeper.
type Config struct {
	// MaxAge: executions finished longer ago than this are deleted. 0 turns retention off.
	MaxAge time.Duration
	// Interval between passes; default MaxAge/10 within [1 min, 10 min].
	Interval time.Duration
	// BatchRows bounds each DELETE; default DefaultBatchRows.
	BatchRows int
	// Executions bounds how many executions one batch of a pass handles.
	Executions int
}

// Sweeper runs retention passes.
type Sweeper struct {
	pool    *pgxpool.Pool
	cfg     Config
	deleted *prometheus.CounterVec
	log     *slog.Logger
	now     func() time.Time
}

// New returns a sweeper; its metric is registered on reg.
func New(pool *pgxpool.Pool, cfg Config, reg prometheus.Registerer, log *slog.Logger) *Sweeper {
	cfg.BatchRows = config.PositiveOr(cfg.BatchRows, DefaultBatchRows)
	cfg.Executions = config.PositiveOr(cfg.Executions, DefaultExecutions)
	cfg.Interval = config.PositiveOr(cfg.Interval, min(max(cfg.MaxAge/10, DefaultMinInterval), DefaultMaxInterval))
	deleted := promx.CounterVec(reg, "noetl_retention_rows_deleted_total",
		"Rows of finished executions deleted by retention (NOETL_RETENTION_MAX_AGE), by table.", "table")
	promx.Zero(deleted, Tables)
	return &Sweeper{pool: pool, cfg: cfg, deleted: deleted, log: log, now: time.Now}
}

// Run passes every Interval until ctx ends. It does nothing when MaxAge is 0.
func (s *Sweeper) Run(ctx context.Context) {
	if s.cfg.MaxAge <= 0 {
		return
	}
	s.log.Info("retention on", slog.Duration("max_age", s.cfg.MaxAge), slog.Duration("interval", s.cfg.Interval))
	periodic.Passes(ctx, s.cfg.Interval, periodic.AtOnce, s.log, "retention", func(ctx context.Context) ([]any, error) {
		removed, err := s.Pass(ctx)
		if removed.Executions == 0 {
			return nil, err
		}
		return []any{slog.Int64("executions", removed.Executions), slog.Any("rows", removed.Rows)}, err
	})
}

// Removed counts what one pass deleted.
type Removed struct {
	Executions int64
	Rows       map[string]int64 // by table
}

// Pass deletes every execution that finished before now-MaxAge, in batches.
func (s *Sweeper) Pass(ctx context.Context) (Removed, error) {
	removed := Removed{Rows: map[string]int64{}}
	if s.cfg.MaxAge <= 0 {
		return removed, nil
	}
	cutoff := s.now().Add(-s.cfg.MaxAge)
	for range maxExecutionBatches {
		ids, err := s.expired(ctx, cutoff)
		if err != nil || len(ids) == 0 {
			return removed, err
		}
		for _, table := range childTables {
			if err := s.deleteChildren(ctx, table, ids, &removed); err != nil {
				return removed, err
			}
		}
		n, err := s.deleteExecutions(ctx, ids, &removed)
		if err != nil {
			return removed, err
		}
		removed.Executions += n
	}
	return removed, nil
}

// expired picks the oldest finished executions past the cutoff that no running parent or
// descendant needs.
func (s *Sweeper) expired(ctx context.Context, cutoff time.Time) ([]int64, error) {
	ids, err := eventlog.ExpiredExecutions(ctx, s.pool, cutoff, s.cfg.Executions)
	if err != nil {
		return nil, fmt.Errorf("retention: find expired executions: %w", err)
	}
	return ids, nil
}

// deleteChildren deletes a table's rows of ids, BatchRows at a time.
func (s *Sweeper) deleteChildren(ctx context.Context, table childTable, ids []int64, removed *Removed) error {
	for {
		tag, err := s.pool.Exec(ctx, table.batch, ids, s.cfg.BatchRows)
		if err != nil {
			return fmt.Errorf("retention: delete from %s: %w", table.name, err)
		}
		s.count(table.name, tag.RowsAffected(), removed)
		if tag.RowsAffected() < int64(s.cfg.BatchRows) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// deleteExecutions removes the execution rows last. It locks them first: event inserts
// take the same row lock, so nothing can be added to an execution while it goes, and the
// children that slipped in since deleteChildren are swept in the same transaction.
func (s *Sweeper) deleteExecutions(ctx context.Context, ids []int64, removed *Removed) (int64, error) {
	var n int64
	late := map[string]int64{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		locked, err := eventlog.LockFinishedExecutions(ctx, tx, ids)
		if err != nil {
			return err
		}
		if len(locked) == 0 {
			return nil
		}
		for _, table := range childTables {
			tag, err := tx.Exec(ctx, table.all, locked)
			if err != nil {
				return fmt.Errorf("delete late %s rows: %w", table.name, err)
			}
			late[table.name] = tag.RowsAffected()
		}
		n, err = eventlog.DeleteExecutions(ctx, tx, locked)
		return err
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 0, err
		}
		return 0, fmt.Errorf("retention: delete execution rows: %w", err)
	}
	for table, c := range late {
		s.count(table, c, removed)
	}
	s.count(executionRowsTableName, n, removed)
	return n, nil
}

func (s *Sweeper) count(table string, n int64, removed *Removed) {
	if n == 0 {
		return
	}
	s.deleted.WithLabelValues(table).Add(float64(n))
	removed.Rows[table] += n
}
