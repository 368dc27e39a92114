package eventlog

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// The statements retention (NOETL_RETENTION_MAX_AGE) runs against the execution, event
// and command tables. Retention decides the order and the batching; these only say how.

// ExpiredExecutions picks the oldest limit executions that finished before cutoff and
// whose parent (if any) is not running (the parent may still read their results).
func ExpiredExecutions(ctx context.Context, q Querier, cutoff time.Time, limit int) ([]int64, error) {
	rows, err := q.Query(ctx, `
		SELECT e.execution_id FROM execution e
		WHERE e.status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND e.completed_at < $1
		  AND NOT EXISTS (SELECT 1 FROM execution p
		                  WHERE p.execution_id = e.parent_execution_id AND p.status = 'RUNNING')
		ORDER BY e.completed_at
		LIMIT $2`, cutoff, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// LockFinishedExecutions locks the rows of ids that are not running and returns their
// ids. Event inserts take the same row lock, so nothing is added to a locked execution
// until the caller's transaction ends.
func LockFinishedExecutions(ctx context.Context, q Querier, ids []int64) ([]int64, error) {
	rows, err := q.Query(ctx, `SELECT execution_id FROM execution
			WHERE execution_id = ANY ($1) AND status <> 'RUNNING' FOR UPDATE`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// DeleteExecutions deletes the execution rows of ids.
func DeleteExecutions(ctx context.Context, q Querier, ids []int64) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM execution WHERE execution_id = ANY ($1)`, ids)
	return tag.RowsAffected(), err
}

// Statements retention runs on the event and command rows of the executions $1: a
// batch deletes at most $2 rows by ctid; the full delete runs in the transaction that
// holds the executions' row locks.
const (
	DeleteEventsBatchSQL   = `DELETE FROM event WHERE ctid = ANY (ARRAY(SELECT ctid FROM event WHERE execution_id = ANY ($1) LIMIT $2))`
	DeleteEventsSQL        = `DELETE FROM event WHERE execution_id = ANY ($1)`
	DeleteCommandsBatchSQL = `DELETE FROM command WHERE ctid = ANY (ARRAY(SELECT ctid FROM command WHERE execution_id = ANY ($1) LIMIT $2))`
	DeleteCommandsSQL      = `DELETE FROM command WHERE execution_id = ANY ($1)`
)
