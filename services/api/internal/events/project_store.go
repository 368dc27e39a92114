package events

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/noetl/controlplane/services/api/internal/eventlog"
	"github.com/noetl/controlplane/shared/httpx"
	"github.com/noetl/controlplane/shared/jsonx"
	"github.com/noetl/controlplane/shared/wire"
)

// ProjectStore is the SQL of the projector.
type ProjectStore struct{ pool *pgxpool.Pool }

// NewProjectStore returns the store.
func NewProjectStore(pool *pgxpool.Pool) *ProjectStore { return &ProjectStore{pool: pool} }

type eventKey struct{ exec, event int64 }

// Project inserts events in one transaction and returns how many were new. Every
// envelope is checked before anything is written: a catalog_id is taken from the
// execution row when the envelope has none, and an event whose catalog is unknown is a
// 422, never a foreign-key 500.
func (s *ProjectStore) Project(ctx context.Context, evs []ProjectedEvent) (int, error) {
	projected := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		execs := map[int64]int64{} // execution_id -> catalog_id of the known executions
		ids := distinctExecutions(evs)
		// Lock the known executions in id order (the order the event writer uses), so
		// sequence numbers follow commit order and two writers cannot deadlock.
		rows, err := tx.Query(ctx, `SELECT execution_id, catalog_id FROM execution WHERE execution_id = ANY($1)
			ORDER BY execution_id FOR UPDATE`, ids)
		if err != nil {
			return fmt.Errorf("lock executions: %w", err)
		}
		for rows.Next() {
			var e, c int64
			if err := rows.Scan(&e, &c); err != nil {
				rows.Close()
				return fmt.Errorf("lock executions: %w", err)
			}
			execs[e] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("lock executions: %w", err)
		}
		catalogs := map[int64]bool{}
		for i := range evs {
			ev := &evs[i]
			if ev.CatalogID == nil {
				c, ok := execs[ev.ExecutionID]
				if !ok {
					return httpx.Validation("events[%d]: catalog_id is required: execution %d is unknown", ev.Index, ev.ExecutionID)
				}
				ev.CatalogID = &c
			}
			catalogs[*ev.CatalogID] = false
		}
		if err := s.checkCatalogs(ctx, tx, evs, catalogs); err != nil {
			return err
		}
		fresh, err := s.withoutDuplicates(ctx, tx, evs)
		if err != nil {
			return err
		}
		seqs, err := assignSeqs(ctx, tx, fresh, execs)
		if err != nil {
			return err
		}
		projected, err = insertProjected(ctx, tx, fresh, seqs)
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" {
		// A catalog row deleted between the check and the insert.
		return 0, httpx.Validation("an event refers to a catalog entry that does not exist")
	}
	if err != nil {
		return 0, err
	}
	return projected, nil
}

func distinctExecutions(evs []ProjectedEvent) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, ev := range evs {
		if !seen[ev.ExecutionID] {
			seen[ev.ExecutionID] = true
			out = append(out, ev.ExecutionID)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (s *ProjectStore) checkCatalogs(ctx context.Context, tx pgx.Tx, evs []ProjectedEvent, catalogs map[int64]bool) error {
	want := make([]int64, 0, len(catalogs))
	for id := range catalogs {
		want = append(want, id)
	}
	rows, err := tx.Query(ctx, `SELECT catalog_id FROM catalog WHERE catalog_id = ANY($1)`, want)
	if err != nil {
		return fmt.Errorf("check catalog ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("check catalog ids: %w", err)
		}
		catalogs[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check catalog ids: %w", err)
	}
	for _, ev := range evs {
		if !catalogs[*ev.CatalogID] {
			return httpx.Validation("events[%d]: catalog_id %d does not exist", ev.Index, *ev.CatalogID)
		}
	}
	return nil
}

// withoutDuplicates drops events already stored and repeats within the request (the
// first one wins), so sequence numbers are only reserved for rows that are inserted.
func (s *ProjectStore) withoutDuplicates(ctx context.Context, tx pgx.Tx, evs []ProjectedEvent) ([]ProjectedEvent, error) {
	execIDs := make([]int64, len(evs))
	eventIDs := make([]int64, len(evs))
	for i, ev := range evs {
		execIDs[i], eventIDs[i] = ev.ExecutionID, ev.EventID
	}
	rows, err := tx.Query(ctx, `SELECT e.execution_id, e.event_id FROM event e
		JOIN unnest($1::bigint[], $2::bigint[]) AS k(execution_id, event_id)
		  ON e.execution_id = k.execution_id AND e.event_id = k.event_id`, execIDs, eventIDs)
	if err != nil {
		return nil, fmt.Errorf("find stored events: %w", err)
	}
	defer rows.Close()
	seen := map[eventKey]bool{}
	for rows.Next() {
		var k eventKey
		if err := rows.Scan(&k.exec, &k.event); err != nil {
			return nil, fmt.Errorf("find stored events: %w", err)
		}
		seen[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find stored events: %w", err)
	}
	out := make([]ProjectedEvent, 0, len(evs))
	for _, ev := range evs {
		k := eventKey{ev.ExecutionID, ev.EventID}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, ev)
	}
	return out, nil
}

// assignSeqs reserves the next sequence numbers of each known execution for its new
// events, in request order; events of unknown executions get none.
func assignSeqs(ctx context.Context, tx pgx.Tx, evs []ProjectedEvent, known map[int64]int64) ([]*int64, error) {
	count := map[int64]int{}
	for _, ev := range evs {
		if _, ok := known[ev.ExecutionID]; ok {
			count[ev.ExecutionID]++
		}
	}
	next := map[int64]int64{}
	for _, id := range distinctExecutions(evs) {
		if count[id] == 0 {
			continue
		}
		first, _, err := eventlog.BumpSeq(ctx, tx, id, count[id])
		if err != nil {
			return nil, err
		}
		next[id] = first
	}
	seqs := make([]*int64, len(evs))
	for i, ev := range evs {
		if n, ok := next[ev.ExecutionID]; ok {
			seq := n
			seqs[i] = &seq
			next[ev.ExecutionID] = n + 1
		}
	}
	return seqs, nil
}

// insertProjected writes the rows as one statement over a JSON array, as upstream does;
// absent keys become NULL (or the column default).
func insertProjected(ctx context.Context, tx pgx.Tx, evs []ProjectedEvent, seqs []*int64) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	recs := make([]any, len(evs))
	for i, ev := range evs {
		r := map[string]any{
			"execution_id": ev.ExecutionID, "catalog_id": *ev.CatalogID, "event_id": ev.EventID,
			"created_at": wire.FormatTime(ev.CreatedAt), "tenant_id": ev.TenantID, "organization_id": ev.OrganizationID,
		}
		setIf(r, "seq", seqs[i])
		setIf(r, "parent_event_id", ev.ParentEventID)
		setIf(r, "parent_execution_id", ev.ParentExecutionID)
		setIf(r, "event_type", ev.EventType)
		setIf(r, "node_id", ev.NodeID)
		setIf(r, "node_name", ev.NodeName)
		setIf(r, "node_type", ev.NodeType)
		setIf(r, "status", ev.Status)
		setIf(r, "duration", ev.Duration)
		setIf(r, "error", ev.Error)
		setIf(r, "stack_trace", ev.StackTrace)
		setIf(r, "worker_id", ev.WorkerID)
		for k, v := range map[string]any{"context": ev.Context, "result": ev.Result, "meta": ev.Meta} {
			if v != nil {
				r[k] = v
			}
		}
		recs[i] = r
	}
	payload, err := jsonx.Marshal(recs)
	if err != nil {
		return 0, fmt.Errorf("encode projected events: %w", err)
	}
	rows, err := tx.Query(ctx, `INSERT INTO event (execution_id, catalog_id, event_id, seq, parent_event_id, parent_execution_id,
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
		RETURNING event_id`, string(payload))
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

func setIf[T any](m map[string]any, key string, v *T) {
	if v != nil {
		m[key] = *v
	}
}
