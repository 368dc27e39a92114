package eventlog

// The read side of executions (GET /api/executions and below, the keychain route): the
// execution row and its events as the routes show them.

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/wire"

// ExecutionReads reads executions. Every status it returns is the execution row's
// status column, which the orchestrator sets in the transaction that writes the terminal
// event (README, "How it works": one status, serialised passes).
type ExecutionReads struct{ pool *pgxpool.Pool }

// NewExecutionReads returns the reads on pool.
func NewExecutionReads(pool *pgxpool.Pool) *ExecutionReads { return &ExecutionReads{pool: pool} }

// ListFilter selects executions for GET /api/executions.
type ListFilter struct {
	CatalogID *int64
	Path      string // case-insensitive substring; "" = any
	Status    string // exact; "" = any
	// Before, when set, is a cursor: only executions after this one in the list's order
	// (started before it) are listed, so that a client paging from the newest sees no
	// row twice while new executions start (an offset shifts by each of them).
	Before *int64
	Limit  int
	Offset int
}

// Summary is one row of the execution list, its fields in the order List selects them
// (List scans by position).
type Summary struct {
	ExecutionID int64
	CatalogID   int64
	Path        *string
	Status      string
	StartedAt   time.Time
	CompletedAt *time.Time
	EventCount  int64
}

// List returns executions newest first. Filters run in SQL before LIMIT, so a page is
// never shorter than limit while more rows match (upstream filtered path after paging).
// A Before cursor that names no execution is ErrNoExecution.
func (s *ExecutionReads) List(ctx context.Context, f ListFilter) ([]Summary, error) {
	var beforeAt *time.Time
	if f.Before != nil {
		var at time.Time
		err := s.pool.QueryRow(ctx, `SELECT started_at FROM execution WHERE execution_id = $1`, *f.Before).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNoExecution
		}
		if err != nil {
			return nil, fmt.Errorf("read the list cursor %d: %w", *f.Before, err)
		}
		beforeAt = &at
	}
	return pg.Select(ctx, s.pool, "list executions", pgx.RowToStructByPos[Summary], `SELECT execution_id, catalog_id, path, status, started_at, completed_at, last_seq
		FROM execution
		WHERE ($1::bigint IS NULL OR catalog_id = $1)
		  AND ($2 = '' OR strpos(lower(coalesce(path, '')), lower($2)) > 0)
		  AND ($3 = '' OR status = $3)
		  AND ($6::timestamptz IS NULL OR (started_at, execution_id) < ($6, $7::bigint))
		ORDER BY started_at DESC, execution_id DESC
		LIMIT $4 OFFSET $5`, f.CatalogID, f.Path, f.Status, f.Limit, f.Offset, beforeAt, f.Before)
}

// Detail is an execution with its most recent events.
type Detail struct {
	Summary
	ParentExecutionID *int64
	Workload          json.RawMessage // nil when neither the snapshot nor a start event has one
	Events            []DetailEvent
}

// DetailEvent is an event as the detail route shows it.
type DetailEvent struct {
	Seq       *int64
	EventID   int64
	EventType *string
	NodeName  *string
	Status    *string
	CreatedAt time.Time
	Result    json.RawMessage
	Error     *string
}

// startTypes are the start event types in every upstream spelling.
var startTypes = []string{engine.TypePlaybookStarted, "playbook.started", "playbook.initialized"}

// rowQuerier is a pool or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// startWorkload reads the catalog id and merged workload from an execution's start event:
// the source when there is no snapshot yet, or no execution row at all (an execution an
// external tool wrote through the projector). ErrNoExecution when there is no start event.
func startWorkload(ctx context.Context, q rowQuerier, executionID int64) (catalogID int64, workload json.RawMessage, err error) {
	err = q.QueryRow(ctx, `SELECT catalog_id, context->'workload' FROM event
		WHERE execution_id = $1 AND event_type = ANY($2)
		ORDER BY seq NULLS LAST, event_id LIMIT 1`, executionID, startTypes).Scan(&catalogID, &workload)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, ErrNoExecution
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read workload of %d: %w", executionID, err)
	}
	if isNull(workload) {
		workload = nil
	}
	return catalogID, workload, nil
}

// PlaybookSource returns the catalog entry an execution runs and its merged workload
// (nil when it has none), or ErrNoExecution.
func (s *ExecutionReads) PlaybookSource(ctx context.Context, executionID int64) (catalogID int64, workload json.RawMessage, err error) {
	err = s.pool.QueryRow(ctx, `SELECT catalog_id, state->'workload' FROM execution WHERE execution_id = $1`, executionID).
		Scan(&catalogID, &workload)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return startWorkload(ctx, s.pool, executionID)
	case err != nil:
		return 0, nil, fmt.Errorf("read execution %d: %w", executionID, err)
	case isNull(workload):
		if _, w, err := startWorkload(ctx, s.pool, executionID); err == nil {
			workload = w
		} else if !errors.Is(err, ErrNoExecution) {
			return 0, nil, err
		} else {
			workload = nil
		}
	}
	return catalogID, workload, nil
}

// Get returns an execution with its newest limit events in seq order. One read-only
// transaction, so the events and the row are one consistent view. (An event without a
// seq, which only the projector writes for an execution it did not know yet, sorts
// last, as PostgreSQL sorts NULL; the (execution_id, seq) index serves the order.)
func (s *ExecutionReads) Get(ctx context.Context, executionID int64, limit int) (*Detail, error) {
	var d Detail
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT execution_id, catalog_id, path, status, started_at, completed_at, last_seq,
				parent_execution_id, state->'workload'
			FROM execution WHERE execution_id = $1`, executionID).
			Scan(&d.ExecutionID, &d.CatalogID, &d.Path, &d.Status, &d.StartedAt, &d.CompletedAt, &d.EventCount,
				&d.ParentExecutionID, &d.Workload)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoExecution
		}
		if err != nil {
			return fmt.Errorf("read execution %d: %w", executionID, err)
		}
		if isNull(d.Workload) {
			if _, d.Workload, err = startWorkload(ctx, tx, executionID); err != nil && !errors.Is(err, ErrNoExecution) {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT seq, event_id, event_type, node_name, status, created_at, result, error FROM (
				SELECT seq, event_id, event_type, node_name, status, created_at, result, error
				FROM event WHERE execution_id = $1
				ORDER BY seq DESC LIMIT $2) recent
			ORDER BY seq`, executionID, limit)
		if err != nil {
			return fmt.Errorf("read events of %d: %w", executionID, err)
		}
		defer rows.Close()
		d.Events = []DetailEvent{}
		for rows.Next() {
			var ev DetailEvent
			if err := rows.Scan(&ev.Seq, &ev.EventID, &ev.EventType, &ev.NodeName, &ev.Status, &ev.CreatedAt, &ev.Result, &ev.Error); err != nil {
				return fmt.Errorf("read events of %d: %w", executionID, err)
			}
			d.Events = append(d.Events, ev)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// StatusView is what /status reports: the status column and the snapshot's progress.
type StatusView struct {
	ExecutionID int64
	Status      string
	CurrentStep *string
	Progress    engine.StepView
}

// currentStepTypes are the events that move an execution onto a step.
var currentStepTypes = []string{engine.TypeStepEnter, "step_enter", "step_started", engine.TypeCommandStarted}

// Status reads the status column and the progress of the snapshot. PostgreSQL counts
// the steps by phase inside the snapshot, so the api neither receives nor decodes the
// snapshot (which holds every finished step's result) to answer a poll.
func (s *ExecutionReads) Status(ctx context.Context, executionID int64) (*StatusView, error) {
	v := StatusView{ExecutionID: executionID}
	err := s.pool.QueryRow(ctx, `SELECT e.status,
			(SELECT node_name FROM event ev WHERE ev.execution_id = e.execution_id AND ev.event_type = ANY($2)
			 ORDER BY ev.seq DESC LIMIT 1),
			p.completed, p.running, p.failed, p.cancelled
		FROM execution e
		CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE st.value->>'phase' = $3) AS completed,
				count(*) FILTER (WHERE st.value->>'phase' = $4) AS running,
				count(*) FILTER (WHERE st.value->>'phase' = $5) AS failed,
				count(*) FILTER (WHERE st.value->>'phase' = $6) AS cancelled
			FROM jsonb_each(CASE WHEN jsonb_typeof(e.state->'steps') = 'object' THEN e.state->'steps' ELSE '{}'::jsonb END) st) p
		WHERE e.execution_id = $1`, executionID, currentStepTypes, engine.PhaseCompleted, engine.PhaseRunning, engine.PhaseFailed, engine.PhaseCancelled).
		Scan(&v.Status, &v.CurrentStep, &v.Progress.Completed, &v.Progress.Running, &v.Progress.Failed, &v.Progress.Cancelled)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoExecution
	}
	if err != nil {
		return nil, fmt.Errorf("read status of %d: %w", executionID, err)
	}
	v.Progress.Total = v.Progress.Completed + v.Progress.Running + v.Progress.Failed + v.Progress.Cancelled
	return &v, nil
}

// IsCancelled reports whether the execution ended cancelled; unknown executions are not.
func (s *ExecutionReads) IsCancelled(ctx context.Context, executionID int64) (bool, error) {
	var cancelled bool
	err := s.pool.QueryRow(ctx, `SELECT status = 'CANCELLED' FROM execution WHERE execution_id = $1`, executionID).Scan(&cancelled)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read status of %d: %w", executionID, err)
	}
	return cancelled, nil
}

// LogEvent is a stored event with every column, as the event log route
// (GET /api/executions/{id}/events) shows it: NULL columns are null.
type LogEvent struct {
	Seq       int64   `json:"seq"`
	EventID   int64   `json:"event_id"`
	EventType *string `json:"event_type"`
	// EventNode: the node (step) the event is about.
	EventNode
	Status            *string         `json:"status"`
	Context           json.RawMessage `json:"context"`
	Result            json.RawMessage `json:"result"`
	Meta              json.RawMessage `json:"meta"`
	Error             *string         `json:"error"`
	ParentEventID     *int64          `json:"parent_event_id"`
	ParentExecutionID *int64          `json:"parent_execution_id"`
	WorkerID          *string         `json:"worker_id"`
	CreatedAt         wire.Time       `json:"created_at"`
}

// EventNode is the node columns of an event: the step's name, the node id and its type
// as the worker or the engine wrote them.
type EventNode struct {
	NodeName *string `json:"node_name"`
	NodeID   *string `json:"node_id"`
	NodeType *string `json:"node_type"`
}

// Events returns up to limit events with seq > afterSeq in seq order, and whether more
// follow. ok is false when the execution does not exist.
func (s *ExecutionReads) Events(ctx context.Context, executionID, afterSeq int64, limit int) (evs []LogEvent, more, ok bool, err error) {
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM execution WHERE execution_id = $1`, executionID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoExecution
		}
		if err != nil {
			return fmt.Errorf("read execution %d: %w", executionID, err)
		}
		rows, err := tx.Query(ctx, `SELECT seq, event_id, event_type, node_name, node_id, node_type, status,
				context, result, meta, error, parent_event_id, parent_execution_id, worker_id, created_at
			FROM event WHERE execution_id = $1 AND seq > $2
			ORDER BY seq LIMIT $3`, executionID, afterSeq, limit+1)
		if err != nil {
			return fmt.Errorf("read events of %d: %w", executionID, err)
		}
		defer rows.Close()
		evs = make([]LogEvent, 0, min(limit+1, 256))
		for rows.Next() {
			var e LogEvent
			if err := rows.Scan(&e.Seq, &e.EventID, &e.EventType, &e.NodeName, &e.NodeID, &e.NodeType, &e.Status,
				&e.Context, &e.Result, &e.Meta, &e.Error, &e.ParentEventID, &e.ParentExecutionID, &e.WorkerID, (*time.Time)(&e.CreatedAt)); err != nil {
				return fmt.Errorf("read events of %d: %w", executionID, err)
			}
			evs = append(evs, e)
		}
		return rows.Err()
	})
	if errors.Is(err, ErrNoExecution) {
		return nil, false, false, nil
	}
	if err != nil {
		return nil, false, false, err
	}
	if len(evs) > limit {
		evs, more = evs[:limit], true
	}
	return evs, more, true, nil
}
