package eventlog

import "context"
import "errors"
import "fmt"
import "time"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/shared/pg"

// The statements of the reconciliation sweep (services/api/internal/reconcile): what a
// crash or an older version left open. The sweep decides what to do with them; these
// only find them.

// CancelledAncestors finds running executions below a cancelled one (the cascade of a
// cancel that a crash interrupted) and returns, for each, its nearest cancelled ancestor:
// at most limit distinct ancestors, in id order. The walk goes up through ancestors of
// any other status, as the cancel's own cascade goes down through them.
func CancelledAncestors(ctx context.Context, q Querier, limit int) ([]int64, error) {
	return pg.Select(ctx, q, "find running executions below a cancelled one", pgx.RowTo[int64], `WITH RECURSIVE up AS (
			SELECT e.parent_execution_id AS ancestor, 1 AS depth FROM execution e
			WHERE e.status = 'RUNNING' AND e.parent_execution_id IS NOT NULL
			UNION
			SELECT a.parent_execution_id, up.depth + 1 FROM up JOIN execution a ON a.execution_id = up.ancestor
			WHERE a.status <> 'CANCELLED' AND a.parent_execution_id IS NOT NULL AND up.depth < $2)
		SELECT DISTINCT a.execution_id FROM up JOIN execution a ON a.execution_id = up.ancestor
		WHERE a.status = 'CANCELLED' ORDER BY a.execution_id LIMIT $1`, limit, maxTreeDepth)
}

// RunningWithEnd finds executions whose row is still RUNNING while their log holds a
// terminal event no pass has folded (one stored outside a pass, by the projector, whose
// own fold a crash interrupted): at most limit, with ids above after, in id order.
func RunningWithEnd(ctx context.Context, q Querier, after int64, limit int) ([]int64, error) {
	return pg.Select(ctx, q, "find running executions whose log has ended", pgx.RowTo[int64], `SELECT x.execution_id
		FROM execution x WHERE x.status = 'RUNNING' AND x.execution_id > $1
		  AND EXISTS (SELECT 1 FROM event e WHERE e.execution_id = x.execution_id AND e.event_type = ANY ($3))
		ORDER BY x.execution_id LIMIT $2`, after, limit, engine.TerminalTypes())
}

// openWorkSQL is true for an ended execution that still shows work in flight: a step
// running or a command outstanding in its snapshot, or a command row still PENDING or
// CLAIMED.
const openWorkSQL = `(EXISTS (SELECT 1 FROM jsonb_each(CASE WHEN jsonb_typeof(e.state->'steps') = 'object'
			THEN e.state->'steps' ELSE '{}'::jsonb END) st WHERE st.value->>'phase' = 'running')
		OR (jsonb_typeof(e.state->'commands') = 'object' AND e.state->'commands' <> '{}'::jsonb)
		OR EXISTS (SELECT 1 FROM command c WHERE c.execution_id = e.execution_id AND c.status IN ('PENDING', 'CLAIMED')))`

// EndedWithOpenWork examines the next limit executions with ids above after, in id
// order, and returns the ended ones changed since changedSince (updated_at) that still
// show work in flight, the last id it examined and how many it examined (fewer than
// limit: the scan reached the end). Only those candidates have their snapshot read: the
// others cost a look at their row.
func EndedWithOpenWork(ctx context.Context, q Querier, after int64, limit int, changedSince time.Time) (open []int64, last int64, examined int, err error) {
	rows, err := q.Query(ctx, `SELECT e.execution_id,
			CASE WHEN e.status <> 'RUNNING' AND e.updated_at >= $3 THEN `+openWorkSQL+` ELSE false END
		FROM execution e WHERE e.execution_id > $1 ORDER BY e.execution_id LIMIT $2`, after, limit, changedSince)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("find ended executions with work in flight: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var isOpen bool
		if err := rows.Scan(&id, &isOpen); err != nil {
			return nil, 0, 0, fmt.Errorf("find ended executions with work in flight: %w", err)
		}
		last = id
		examined++
		if isOpen {
			open = append(open, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, fmt.Errorf("find ended executions with work in flight: %w", err)
	}
	return open, last, examined, nil
}

// Now is the database's clock, which stamps updated_at.
func Now(ctx context.Context, q Querier) (time.Time, error) {
	var now time.Time
	if err := q.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("read the database clock: %w", err)
	}
	return now, nil
}

// TerminalEventID returns the id of an execution's first terminal event (the one that
// decided its status), 0 when the log has none.
func TerminalEventID(ctx context.Context, q Querier, executionID int64) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT event_id FROM event WHERE execution_id = $1 AND event_type = ANY ($2)
		ORDER BY seq LIMIT 1`, executionID, engine.TerminalTypes()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find the terminal event of %d: %w", executionID, err)
	}
	return id, nil
}
