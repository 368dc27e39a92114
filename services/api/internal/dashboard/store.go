// Package dashboard serves GET /api/dashboard/stats and /api/dashboard/widgets with
// upstream's shapes, computed from the execution table (upstream queried a column the
// event table does not have and always answered zeros).
package dashboard

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Store reads the dashboard figures.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

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
	var st Stats
	err := s.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM execution),
			(SELECT count(*) FROM execution WHERE status = 'COMPLETED'),
			(SELECT count(*) FROM execution WHERE status = 'FAILED'),
			(SELECT count(*) FROM execution WHERE status = 'CANCELLED'),
			(SELECT count(*) FROM execution WHERE status = 'RUNNING'),
			(SELECT count(DISTINCT path) FROM catalog WHERE lower(kind) = 'playbook'),
			(SELECT count(*) FROM runtime WHERE kind = 'worker_pool' AND status <> 'offline')`).
		Scan(&st.TotalExecutions, &st.SuccessfulExecutions, &st.FailedExecutions, &st.CancelledExecutions,
			&st.RunningExecutions, &st.TotalPlaybooks, &st.TotalWorkers)
	if err != nil {
		return Stats{}, fmt.Errorf("dashboard stats: %w", err)
	}
	return st, nil
}

// DayCount is executions started on one UTC day.
type DayCount struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}

// Trend counts executions started on each of the last days UTC days, today included,
// oldest first; days without executions count 0.
func (s *Store) Trend(ctx context.Context, days int) ([]DayCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT to_char(d0, 'YYYY-MM-DD'),
			(SELECT count(*) FROM execution WHERE started_at >= d AND started_at < d + interval '1 day')
		FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($1::int - 1), (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS g(d0),
			LATERAL (SELECT d0 AT TIME ZONE 'UTC' AS d) x
		ORDER BY d`, days)
	if err != nil {
		return nil, fmt.Errorf("dashboard trend: %w", err)
	}
	defer rows.Close()
	out := []DayCount{}
	for rows.Next() {
		var d DayCount
		if err := rows.Scan(&d.Date, &d.Count); err != nil {
			return nil, fmt.Errorf("dashboard trend: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
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
	rows, err := s.pool.Query(ctx, `SELECT execution_id, path, status FROM execution
		ORDER BY started_at DESC, execution_id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("dashboard recent: %w", err)
	}
	defer rows.Close()
	out := []Recent{}
	for rows.Next() {
		var r Recent
		if err := rows.Scan(&r.ExecutionID, &r.Path, &r.Status); err != nil {
			return nil, fmt.Errorf("dashboard recent: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
