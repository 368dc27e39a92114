package events

import "context"
import "errors"
import "fmt"
import "sort"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgconn"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/wire"

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
		// Lock the known executions in id order (the order the event writer uses), so
		// sequence numbers follow commit order and two writers cannot deadlock.
		execs, err := eventlog.LockExecutions(ctx, tx, distinctExecutions(evs))
		if err != nil {
			return err
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
	found, err := catalog.ExistingIDs(ctx, tx, want)
	if err != nil {
		return err
	}
	for id := range found {
		catalogs[id] = true
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
	stored, err := eventlog.StoredEvents(ctx, tx, execIDs, eventIDs)
	if err != nil {
		return nil, err
	}
	seen := map[eventKey]bool{}
	for k := range stored {
		seen[eventKey{k[0], k[1]}] = true
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
	return eventlog.InsertRecords(ctx, tx, string(payload))
}

func setIf[T any](m map[string]any, key string, v *T) {
	if v != nil {
		m[key] = *v
	}
}
