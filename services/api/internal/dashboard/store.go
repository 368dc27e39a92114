// Package dashboard serves GET /api/dashboard/stats and /api/dashboard/widgets with
// upstream's shapes, computed from the execution table (upstream queried a column the
// event table does not have and always answered zeros). It owns no table: each figure
// comes from the package that owns its table (eventlog, catalog, runtimes).
package dashboard

import "context"
import "fmt"

import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/runtimes"

// workerCounter counts the worker pools that are not offline.
type workerCounter interface {
	CountLiveWorkerPools(ctx context.Context) (int64, error)
}

// Store reads the dashboard figures.
type Store struct {
	pool    *pgxpool.Pool
	workers workerCounter
}

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, workers: runtimes.NewStore(pool)}
}

// Stats are the counters of /stats.
type Stats struct {
	TotalExecutions      int64 `json:"total_executions"`
	SuccessfulExecutions int64 `json:"successful_executions"`
	FailedExecutions     int64 `json:"failed_executions"`
	CancelledExecutions  int64 `json:"cancelled_executions"`
	RunningExecutions    int64 `json:"running_executions"`
	TotalPlaybooks       int64 `json:"total_playbooks"`
	TotalWorkers         int64 `json:"total_workers"`
}

// Stats counts executions by status (the status column), playbooks (distinct catalog
// paths of kind playbook, any case: register stores "Playbook") and worker pools that
// are not offline.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	execs, err := eventlog.CountExecutions(ctx, s.pool)
	if err != nil {
		return Stats{}, fmt.Errorf("dashboard stats: %w", err)
	}
	playbooks, err := catalog.CountPlaybooks(ctx, s.pool)
	if err != nil {
		return Stats{}, fmt.Errorf("dashboard stats: %w", err)
	}
	workers, err := s.workers.CountLiveWorkerPools(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("dashboard stats: %w", err)
	}
	return Stats{
		TotalExecutions:      execs.Total,
		SuccessfulExecutions: execs.Completed,
		FailedExecutions:     execs.Failed,
		CancelledExecutions:  execs.Cancelled,
		RunningExecutions:    execs.Running,
		TotalPlaybooks:       playbooks,
		TotalWorkers:         workers,
	}, nil
}

// DayCount is executions started on one UTC day.
type DayCount struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}

// Trend counts executions started on each of the last days UTC days, today included,
// oldest first; days without executions count 0.
func (s *Store) Trend(ctx context.Context, days int) ([]DayCount, error) {
	counts, err := eventlog.StartedPerDay(ctx, s.pool, days)
	if err != nil {
		return nil, fmt.Errorf("dashboard trend: %w", err)
	}
	return convertAll(counts, func(c eventlog.DayCount) DayCount { return DayCount(c) }), nil
}

// Recent is a row of the recent-executions widget.
type Recent struct {
	ExecutionID int64   `json:"execution_id"`
	Path        *string `json:"path"`
	Status      string  `json:"status"`
}

// Widgets reads the trend of the last days and the newest limit executions.
func (s *Store) Widgets(ctx context.Context, days, limit int) ([]DayCount, []Recent, error) {
	trend, err := s.Trend(ctx, days)
	if err != nil {
		return nil, nil, err
	}
	recent, err := s.Recent(ctx, limit)
	if err != nil {
		return nil, nil, err
	}
	return trend, recent, nil
}

// Recent returns the newest executions.
func (s *Store) Recent(ctx context.Context, limit int) ([]Recent, error) {
	rows, err := eventlog.RecentExecutions(ctx, s.pool, limit)
	if err != nil {
		return nil, fmt.Errorf("dashboard recent: %w", err)
	}
	return convertAll(rows, func(r eventlog.RecentExecution) Recent { return Recent(r) }), nil
}

// convertAll converts eventlog's rows into the route's types. Each route type has the
// fields of its eventlog row plus JSON tags, so a struct conversion copies a row, and a
// field added on one side only stops the build instead of going missing from the JSON.
func convertAll[From, To any](rows []From, convert func(From) To) []To {
	out := make([]To, 0, len(rows))
	for _, r := range rows {
		out = append(out, convert(r))
	}
	return out
}
