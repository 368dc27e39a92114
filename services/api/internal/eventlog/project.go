package eventlog

import "context"
import "fmt"

// The projector (POST /api/internal/events/project) writes already-formed events from
// outside the engine. Its statements live here with the other writers of event rows.

// LockExecutions locks the known executions among ids in id order (the order the event
// writer uses, so sequence numbers follow commit order and two writers cannot deadlock)
// and returns the catalog id of each.
func LockExecutions(ctx context.Context, q Querier, ids []int64) (map[int64]int64, error) {
	rows, err := q.Query(ctx, `SELECT execution_id, catalog_id FROM execution WHERE execution_id = ANY($1)
			ORDER BY execution_id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock executions: %w", err)
	}
	defer rows.Close()
	execs := map[int64]int64{}
	for rows.Next() {
		var e, c int64
		if err := rows.Scan(&e, &c); err != nil {
			return nil, fmt.Errorf("lock executions: %w", err)
		}
		execs[e] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock executions: %w", err)
	}
	return execs, nil
}

// StoredEvents returns which of the (execution id, event id) pairs execIDs[i],
// eventIDs[i] are already stored.
func StoredEvents(ctx context.Context, q Querier, execIDs, eventIDs []int64) (map[[2]int64]bool, error) {
	rows, err := q.Query(ctx, `SELECT e.execution_id, e.event_id FROM event e
		JOIN unnest($1::bigint[], $2::bigint[]) AS k(execution_id, event_id)
		  ON e.execution_id = k.execution_id AND e.event_id = k.event_id`, execIDs, eventIDs)
	if err != nil {
		return nil, fmt.Errorf("find stored events: %w", err)
	}
	defer rows.Close()
	seen := map[[2]int64]bool{}
	for rows.Next() {
		var k [2]int64
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return nil, fmt.Errorf("find stored events: %w", err)
		}
		seen[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find stored events: %w", err)
	}
	return seen, nil
}

// InsertRecords inserts events given as a JSON array of objects keyed by column name, in
// one statement, as upstream does; absent keys become NULL (or the column default) and
// rows already stored are skipped. It returns how many were inserted.
func InsertRecords(ctx context.Context, q Querier, records string) (int, error) {
	rows, err := q.Query(ctx, `INSERT INTO event (execution_id, catalog_id, event_id, seq, parent_event_id, parent_execution_id,
			created_at, event_type, node_id, node_name, node_type, status, duration, context, result, meta, error,
			stack_trace, worker_id, tenant_id, organization_id)
		SELECT execution_id, catalog_id, event_id, seq, parent_event_id, parent_execution_id,
			created_at AT TIME ZONE 'UTC', event_type, node_id, node_name, node_type, status, duration, context, result, meta, error,
			stack_trace, worker_id, tenant_id, organization_id
		FROM jsonb_to_recordset($1::jsonb) AS x(execution_id bigint, catalog_id bigint, event_id bigint, seq bigint,
			parent_event_id bigint, parent_execution_id bigint, created_at timestamptz, event_type text, node_id text,
			node_name text, node_type text, status text, duration double precision, context jsonb, result jsonb, meta jsonb,
			error text, stack_trace text, worker_id text, tenant_id text, organization_id text)
		ON CONFLICT (execution_id, event_id) DO NOTHING
		RETURNING event_id`, records)
	if err != nil {
		return 0, fmt.Errorf("insert projected events: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("insert projected events: %w", err)
	}
	return n, nil
}
