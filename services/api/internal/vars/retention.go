package vars

// Statements retention (NOETL_RETENTION_MAX_AGE) runs on the stored results and
// variables of the executions $1 once they are past the maximum age: a batch deletes at
// most $2 rows by ctid; the full delete runs in the transaction that holds the
// executions' row locks.
const (
	DeleteResultsBatchSQL   = `DELETE FROM result_store WHERE ctid = ANY (ARRAY(SELECT ctid FROM result_store WHERE execution_id = ANY ($1) LIMIT $2))`
	DeleteResultsSQL        = `DELETE FROM result_store WHERE execution_id = ANY ($1)`
	DeleteVariablesBatchSQL = `DELETE FROM transient WHERE ctid = ANY (ARRAY(SELECT ctid FROM transient WHERE execution_id = ANY ($1) LIMIT $2))`
	DeleteVariablesSQL      = `DELETE FROM transient WHERE execution_id = ANY ($1)`
)
