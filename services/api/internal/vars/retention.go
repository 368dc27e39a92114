package vars

import (
	"context"

	"github.com/jackc/pgx/v5/pgconn"
)

// Execer is a pool or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// The deletes retention (NOETL_RETENTION_MAX_AGE) runs on this package's tables once
// their executions are past the maximum age. A batch delete removes at most limit rows
// by ctid, so one statement never holds long locks.

// DeleteResultsBatch deletes at most limit stored results of the executions ids.
func DeleteResultsBatch(ctx context.Context, q Execer, ids []int64, limit int) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM result_store WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM result_store WHERE execution_id = ANY ($1) LIMIT $2))`, ids, limit)
	return tag.RowsAffected(), err
}

// DeleteResults deletes every stored result of the executions ids.
func DeleteResults(ctx context.Context, q Execer, ids []int64) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM result_store WHERE execution_id = ANY ($1)`, ids)
	return tag.RowsAffected(), err
}

// DeleteVariablesBatch deletes at most limit variables of the executions ids.
func DeleteVariablesBatch(ctx context.Context, q Execer, ids []int64, limit int) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM transient WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM transient WHERE execution_id = ANY ($1) LIMIT $2))`, ids, limit)
	return tag.RowsAffected(), err
}

// DeleteVariables deletes every variable of the executions ids.
func DeleteVariables(ctx context.Context, q Execer, ids []int64) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM transient WHERE execution_id = ANY ($1)`, ids)
	return tag.RowsAffected(), err
}
