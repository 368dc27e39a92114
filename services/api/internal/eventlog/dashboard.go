package eventlog

import "context"
import "fmt"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/shared/pg"

// The dashboard's figures about executions (GET /api/dashboard/*), computed from the
// execution row's status column and start time.

// ExecutionCounts counts executions by status.
type ExecutionCounts struct {
	Total, Completed, Failed, Cancelled, Running int64
}

// CountExecutions counts all executions and those of each status, in one statement.
func CountExecutions(ctx context.Context, q Querier) (ExecutionCounts, error) {
	var c ExecutionCounts
	err := q.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM execution),
			(SELECT count(*) FROM execution WHERE status = 'COMPLETED'),
			(SELECT count(*) FROM execution WHERE status = 'FAILED'),
			(SELECT count(*) FROM execution WHERE status = 'CANCELLED'),
			(SELECT count(*) FROM execution WHERE status = 'RUNNING')`).
		Scan(&c.Total, &c.Completed, &c.Failed, &c.Cancelled, &c.Running)
	if err != nil {
		return ExecutionCounts{}, fmt.Errorf("count executions: %w", err)
	}
	return c, nil
}

// DayCount is the number of executions started on one UTC day (YYYY-MM-DD).
type DayCount struct {
	Date  string
	Count int64
}

// StartedPerDay counts executions started on each of the last days UTC days, today
// included, oldest first; days without executions count 0.
func StartedPerDay(ctx context.Context, q Querier, days int) ([]DayCount, error) {
	return pg.Select(ctx, q, "count executions per day", pgx.RowToStructByPos[DayCount], `SELECT to_char(d0, 'YYYY-MM-DD'),
			(SELECT count(*) FROM execution WHERE started_at >= d AND started_at < d + interval '1 day')
		FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($1::int - 1), (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS g(d0),
			LATERAL (SELECT d0 AT TIME ZONE 'UTC' AS d) x
		ORDER BY d`, days)
}

// RecentExecution is one of the newest executions.
type RecentExecution struct {
	ExecutionID int64
	Path        *string
	Status      string
}

// RecentExecutions returns the newest limit executions, newest first.
func RecentExecutions(ctx context.Context, q Querier, limit int) ([]RecentExecution, error) {
	return pg.Select(ctx, q, "recent executions", pgx.RowToStructByPos[RecentExecution], `SELECT execution_id, path, status FROM execution
		ORDER BY started_at DESC, execution_id DESC LIMIT $1`, limit)
}
