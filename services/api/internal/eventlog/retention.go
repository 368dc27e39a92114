package eventlog

import "context"
import "time"

import "github.com/jackc/pgx/v5"

// The statements retention (NOETL_RETENTION_MAX_AGE) runs against the execution, event
// and command tables. Retention decides the order and the batching; these only say how.

// needed is SQL that is true for an execution e that a running relative still needs: its
// parent runs (and may read its results), or an execution below it (a child, a
// grandchild, ...) runs. Deleting the latter would orphan the running one: its
// parent_execution_id would name nothing, and a cancel's cascade (or the reconciliation
// sweep finishing one) walks down from a parent. The walk goes up from the running
// executions, through ancestors of any status, as far as the cancel's cascade goes down;
// depth is the placeholder the caller binds to maxTreeDepth.
func needed(depth string) string {
	return `(EXISTS (SELECT 1 FROM execution p WHERE p.execution_id = e.parent_execution_id AND p.status = 'RUNNING')
	OR e.execution_id IN (WITH RECURSIVE up AS (
			SELECT r.parent_execution_id AS id, 1 AS depth FROM execution r
			WHERE r.status = 'RUNNING' AND r.parent_execution_id IS NOT NULL
			UNION
			SELECT a.parent_execution_id, up.depth + 1 FROM up JOIN execution a ON a.execution_id = up.id
			WHERE a.parent_execution_id IS NOT NULL AND up.depth < ` + depth + `)
		SELECT id FROM up))`
}

// ExpiredExecutions picks the oldest limit executions that finished before cutoff and
// that no running relative needs (needed).
func ExpiredExecutions(ctx context.Context, q Querier, cutoff time.Time, limit int) ([]int64, error) {
	rows, err := q.Query(ctx, `
		SELECT e.execution_id FROM execution e
		WHERE e.status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND e.completed_at < $1
		  AND NOT `+needed("$3")+`
		ORDER BY e.completed_at
		LIMIT $2`, cutoff, limit, maxTreeDepth)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// LockFinishedExecutions locks the rows of ids that are not running and that no running
// relative needs (checked again: a child may have started since they were picked), and
// returns their ids. Event inserts take the same row lock, so nothing is added to a
// locked execution until the caller's transaction ends.
func LockFinishedExecutions(ctx context.Context, q Querier, ids []int64) ([]int64, error) {
	rows, err := q.Query(ctx, `SELECT e.execution_id FROM execution e
			WHERE e.execution_id = ANY ($1) AND e.status <> 'RUNNING' AND NOT `+needed("$2")+` FOR UPDATE OF e`, ids, maxTreeDepth)
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
