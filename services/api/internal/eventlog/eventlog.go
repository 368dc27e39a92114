// Package eventlog is the SQL of the execution runtime: the execution row (lock,
// sequence counter, snapshot, status), event rows, command rows and outbox rows. Every
// writer of events goes through Append so that sequence numbers are assigned under the
// execution's row lock, in commit order.
package eventlog

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "reflect"
import "time"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/services/api/internal/clock"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/pg"

// Querier is what the store needs from a transaction: statements, and batches that
// send several in one round trip.
type Querier interface {
	pg.Querier
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// ErrNoExecution means the execution does not exist.
var ErrNoExecution = errors.New("execution not found")

// Execution is the execution row.
type Execution struct {
	ExecutionID       int64
	CatalogID         int64
	Path              string
	Version           int64
	ParentExecutionID *int64
	Status            string
	LastSeq           int64
	StateSeq          int64
	State             *engine.State // nil when no snapshot was stored
	Error             string
	StartedAt         time.Time
	CompletedAt       *time.Time
	// IdempotencyKey, when set, is unique among the executions of the same parent (or
	// among those without one): see CreateExecution.
	IdempotencyKey string
	// IdempotencyInput is the hash of the input a keyed start asked for (stored with the
	// key, so a repeat can tell whether it asks for the same thing).
	IdempotencyInput string
}

// Existing is the execution an idempotency key already names.
type Existing struct {
	ExecutionID int64
	CatalogID   int64
	Path        string
	Version     int64
	// Input is the hash of the input the first start asked for ("" when none was
	// recorded).
	Input string
}

// CreateExecution inserts the row of a new execution. With an idempotency key that an
// execution of the same parent already holds, it inserts nothing and returns that
// execution instead (nil when the row was inserted). A concurrent start with the same
// key waits for the other transaction and then finds its row.
func CreateExecution(ctx context.Context, q Querier, e Execution) (*Existing, error) {
	if e.IdempotencyKey == "" {
		_, err := q.Exec(ctx, `INSERT INTO execution (execution_id, catalog_id, path, version, parent_execution_id, status)
		VALUES ($1, $2, $3, $4, $5, 'RUNNING')`, e.ExecutionID, e.CatalogID, e.Path, e.Version, e.ParentExecutionID)
		if err != nil {
			return nil, fmt.Errorf("create execution %d: %w", e.ExecutionID, err)
		}
		return nil, nil
	}
	tag, err := q.Exec(ctx, `INSERT INTO execution (execution_id, catalog_id, path, version, parent_execution_id, status,
			idempotency_key, idempotency_input)
		VALUES ($1, $2, $3, $4, $5, 'RUNNING', $6, nullif($7, ''))
		ON CONFLICT ((coalesce(parent_execution_id, 0)), idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
		e.ExecutionID, e.CatalogID, e.Path, e.Version, e.ParentExecutionID, e.IdempotencyKey, e.IdempotencyInput)
	if err != nil {
		return nil, fmt.Errorf("create execution %d: %w", e.ExecutionID, err)
	}
	if tag.RowsAffected() == 1 {
		return nil, nil
	}
	var x Existing
	err = q.QueryRow(ctx, `SELECT execution_id, catalog_id, coalesce(path, ''), coalesce(version, 0),
			coalesce(idempotency_input, '') FROM execution
		WHERE coalesce(parent_execution_id, 0) = coalesce($1::bigint, 0) AND idempotency_key = $2`,
		e.ParentExecutionID, e.IdempotencyKey).Scan(&x.ExecutionID, &x.CatalogID, &x.Path, &x.Version, &x.Input)
	if err != nil {
		return nil, fmt.Errorf("find the execution of idempotency key %q: %w", e.IdempotencyKey, err)
	}
	return &x, nil
}

const lockSQL = `SELECT execution_id, catalog_id, coalesce(path, ''), coalesce(version, 0), parent_execution_id,
	status, last_seq, state_seq, state, coalesce(error, ''), started_at, completed_at
FROM execution WHERE execution_id = $1 FOR UPDATE`

func scanLocked(row pgx.Row, executionID int64) (*Execution, error) {
	var e Execution
	var state []byte
	err := row.Scan(&e.ExecutionID, &e.CatalogID, &e.Path, &e.Version, &e.ParentExecutionID, &e.Status, &e.LastSeq,
		&e.StateSeq, &state, &e.Error, &e.StartedAt, &e.CompletedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoExecution
	}
	if err != nil {
		return nil, fmt.Errorf("lock execution %d: %w", executionID, err)
	}
	if len(state) > 0 {
		st, err := engine.DecodeState(state)
		if err != nil {
			return nil, fmt.Errorf("execution %d: %w", executionID, err)
		}
		e.State = st
	}
	return &e, nil
}

// Lock takes the execution's row lock for the rest of the transaction and returns the
// row with its snapshot. Every pass, claim and cancel of one execution serialises here.
func Lock(ctx context.Context, q Querier, executionID int64) (*Execution, error) {
	return scanLocked(q.QueryRow(ctx, lockSQL, executionID), executionID)
}

// LockAndLoad is Lock plus the events stored after the snapshot (worker events written
// since the last pass, claims), in one round trip: the second statement of the
// pipeline runs once the lock is held and reads the locked row's state_seq.
func LockAndLoad(ctx context.Context, q Querier, executionID int64) (*Execution, []engine.Event, error) {
	b := &pgx.Batch{}
	b.Queue(lockSQL, executionID)
	b.Queue(sinceSQL+` AND seq > (SELECT state_seq FROM execution WHERE execution_id = $1) ORDER BY seq`, executionID)
	br := q.SendBatch(ctx, b)
	defer br.Close()
	e, err := scanLocked(br.QueryRow(), executionID)
	if err != nil {
		return nil, nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("load events of %d: %w", executionID, err)
	}
	evs, err := scanEvents(rows, executionID)
	return e, evs, err
}

// Event is a row to insert: the engine's view plus the columns only storage knows.
type Event struct {
	engine.Event
	CatalogID         int64
	ParentExecutionID *int64
	CreatedAt         time.Time
	// Minted is true when this server minted the event id (the poster sent none): such
	// an event cannot repeat a stored one, so no duplicate check is needed.
	Minted bool
}

// insertEventsSQL inserts complete event rows from parallel arrays. One fixed statement
// text for any number of rows, so it is prepared once per connection.
const insertEventsSQL = `INSERT INTO event (execution_id, catalog_id, event_id, seq, parent_event_id,
	parent_execution_id, created_at, event_type, node_id, node_name, node_type, status, context, result, meta,
	error, worker_id)
SELECT e.execution_id, e.catalog_id, e.event_id, e.seq, e.parent_event_id, e.parent_execution_id, e.created_at,
	e.event_type, e.node_id, e.node_name, e.node_type, e.status, e.context::jsonb, e.result::jsonb, e.meta::jsonb,
	e.error, e.worker_id
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::timestamptz[],
	$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
	$17::text[])
	AS e(execution_id, catalog_id, event_id, seq, parent_event_id, parent_execution_id, created_at, event_type,
	node_id, node_name, node_type, status, context, result, meta, error, worker_id)
ON CONFLICT (execution_id, event_id) DO NOTHING`

// ResultShapeError checks an event result before it is stored: an object with a string
// "status" and no keys but "status", "reference" and "context", those two objects. The
// api checks it here, on every insert path, rather than as a table CHECK evaluated by
// PostgreSQL for every row. It returns "" for a good result, else what is wrong.
func ResultShapeError(r any) string {
	const msg = `result must be an object with a string "status" and no keys other than "status", "reference" and "context" (both objects)`
	m, ok := r.(map[string]any)
	if !ok {
		return msg
	}
	if _, ok := m["status"].(string); !ok {
		return msg
	}
	for k, v := range m {
		switch k {
		case "status":
		case "reference", "context":
			if !isObject(v) {
				return msg
			}
		default:
			return msg
		}
	}
	return ""
}

// isObject: v encodes as a JSON object (a non-nil map, or a struct).
func isObject(v any) bool {
	if m, ok := v.(map[string]any); ok {
		return m != nil
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map:
		return !rv.IsNil()
	case reflect.Struct:
		return true
	}
	return false
}

// eventArgs turns rows into the arrays of insertEventsSQL.
func eventArgs(events []Event) ([]any, error) {
	n := len(events)
	execs, cats, ids, seqs := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	parents, parentExecs := make([]*int64, n), make([]*int64, n)
	created := make([]time.Time, n)
	cols := make([][]*string, 10)
	for c := range cols {
		cols[c] = make([]*string, n)
	}
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	js := func(v any) (*string, error) {
		a, err := jsonArg(v)
		if err != nil || a == nil {
			return nil, err
		}
		s := a.(string)
		return &s, nil
	}
	for i, ev := range events {
		if ev.Result != nil {
			if msg := ResultShapeError(ev.Result); msg != "" {
				return nil, fmt.Errorf("event %d (%s): %s", ev.EventID, ev.Type, msg)
			}
		}
		execs[i], cats[i], ids[i], seqs[i] = ev.ExecutionID, ev.CatalogID, ev.EventID, ev.Seq
		if ev.ParentEventID != 0 {
			p := ev.ParentEventID
			parents[i] = &p
		}
		parentExecs[i] = ev.ParentExecutionID
		t := ev.CreatedAt
		if t.IsZero() {
			// Writers stamp rows from their clock; an unstamped row gets the wall clock.
			t = clock.Clock(nil).Now()
		}
		created[i] = t.UTC()
		ctx, err := js(ev.Context)
		if err != nil {
			return nil, fmt.Errorf("encode context of %s: %w", ev.Type, err)
		}
		res, err := js(ev.Result)
		if err != nil {
			return nil, fmt.Errorf("encode result of %s: %w", ev.Type, err)
		}
		var meta *string
		if ev.Meta != nil {
			if meta, err = js(ev.Meta); err != nil {
				return nil, fmt.Errorf("encode meta of %s: %w", ev.Type, err)
			}
		}
		for c, v := range []*string{str(ev.Type), str(ev.NodeID), str(ev.Step), str(ev.NodeType), str(ev.Status),
			ctx, res, meta, str(ev.Error), str(ev.WorkerID)} {
			cols[c][i] = v
		}
	}
	return []any{execs, cats, ids, seqs, parents, parentExecs, created,
		cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9]}, nil
}

// Append inserts events whose sequence numbers the caller assigned under the execution
// lock. Duplicates of an (execution_id, event_id) already stored are skipped and
// reported, so a retried worker post changes nothing.
func Append(ctx context.Context, q Querier, events []Event) (inserted []bool, err error) {
	inserted = make([]bool, len(events))
	if len(events) == 0 {
		return inserted, nil
	}
	args, err := eventArgs(events)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, insertEventsSQL+" RETURNING event_id", args...)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	defer rows.Close()
	got := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("insert events: %w", err)
		}
		got[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	for i, ev := range events {
		inserted[i] = got[ev.EventID]
	}
	return inserted, nil
}

// QueueInsertEvents queues the insert of events the engine wrote (fresh ids, no repeats
// possible) on a batch.
func QueueInsertEvents(b *pgx.Batch, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	args, err := eventArgs(events)
	if err != nil {
		return err
	}
	b.Queue(insertEventsSQL, args...)
	return nil
}

// CountIssuedBy counts the command.issued events a trigger event caused (the
// commands_generated of an idempotent repeat of that event).
func CountIssuedBy(ctx context.Context, q Querier, executionID, triggerID int64) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM event WHERE execution_id = $1 AND parent_event_id = $2
		AND event_type = 'command.issued'`, executionID, triggerID).Scan(&n)
	return n, err
}

const sinceSQL = `SELECT seq, event_id, event_type, coalesce(node_name, ''), coalesce(node_type, ''),
	coalesce(status, ''), context, result, meta, coalesce(error, ''), coalesce(parent_event_id, 0), coalesce(worker_id, '')
FROM event WHERE execution_id = $1`

func scanEvents(rows pgx.Rows, executionID int64) ([]engine.Event, error) {
	defer rows.Close()
	var out []engine.Event
	for rows.Next() {
		var ev engine.Event
		var c, r, m []byte
		if err := rows.Scan(&ev.Seq, &ev.EventID, &ev.Type, &ev.Step, &ev.NodeType, &ev.Status, &c, &r, &m,
			&ev.Error, &ev.ParentEventID, &ev.WorkerID); err != nil {
			return nil, fmt.Errorf("load events of %d: %w", executionID, err)
		}
		ev.ExecutionID = executionID
		var err error
		if ev.Context, err = decodeNullable(c); err != nil {
			return nil, err
		}
		if ev.Result, err = decodeNullable(r); err != nil {
			return nil, err
		}
		if ev.Meta, err = decodeMeta(m); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

func decodeNullable(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	v, err := jsonx.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("decode stored JSON: %w", err)
	}
	return v, nil
}

// decodeMeta decodes a stored meta column; anything but a JSON object (NULL included)
// gives a nil map.
func decodeMeta(b []byte) (map[string]any, error) {
	v, err := decodeNullable(b)
	m, _ := v.(map[string]any) // v is nil when err is set
	return m, err
}

// saveExecutionSQL writes the snapshot, counters and status after a pass; completed_at
// is set once, with the terminal event.
const saveExecutionSQL = `UPDATE execution SET state = $2::jsonb, state_seq = $3, last_seq = $4, status = $5,
	error = nullif($6, ''),
	completed_at = CASE WHEN $5 <> 'RUNNING' AND completed_at IS NULL THEN now() ELSE completed_at END,
	updated_at = now()
WHERE execution_id = $1`

// QueueSaveExecution queues the write of the execution row after a pass.
func QueueSaveExecution(b *pgx.Batch, e *Execution, st *engine.State) error {
	state, err := engine.EncodeState(st)
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	errText := ""
	if st.Status == engine.StatusFailed && len(st.Failures) > 0 {
		errText = st.Failures[0].Error
	}
	b.Queue(saveExecutionSQL, e.ExecutionID, json.RawMessage(state), st.Seq, st.Seq, st.Status, errText)
	return nil
}

// BumpSeq reserves n sequence numbers for events appended outside a pass (claims,
// worker events) and returns the first one with the execution's catalog id. The row
// lock it takes is held until the transaction ends, so numbers follow commit order.
func BumpSeq(ctx context.Context, q Querier, executionID int64, n int) (first, catalogID int64, err error) {
	var last int64
	err = q.QueryRow(ctx, `UPDATE execution SET last_seq = last_seq + $2, updated_at = now()
		WHERE execution_id = $1 RETURNING last_seq, catalog_id`, executionID, n).Scan(&last, &catalogID)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, ErrNoExecution
	}
	if err != nil {
		return 0, 0, fmt.Errorf("reserve sequence numbers of %d: %w", executionID, err)
	}
	return last - int64(n) + 1, catalogID, nil
}

func jsonArg(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := jsonx.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// appendManySQL stores events of several executions and reserves their sequence
// numbers in one statement. The execution rows are locked in id order first (so
// concurrent writers cannot deadlock), the UPDATE hands out each execution's numbers,
// and the INSERT numbers each execution's events in order. It returns the (execution,
// event) ids it inserted; a repeat of a stored event id is skipped.
const appendManySQL = `WITH c AS (
	SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS c(execution_id, n)
), l AS (
	SELECT x.execution_id FROM execution x WHERE x.execution_id IN (SELECT execution_id FROM c)
	ORDER BY x.execution_id FOR UPDATE
), b AS (
	UPDATE execution x SET last_seq = x.last_seq + c.n, updated_at = now()
	FROM c WHERE x.execution_id = c.execution_id AND x.execution_id IN (SELECT execution_id FROM l)
	RETURNING x.execution_id, x.last_seq - c.n AS base, x.catalog_id
)
INSERT INTO event (execution_id, catalog_id, event_id, seq, parent_event_id, created_at, event_type,
	node_id, node_name, node_type, status, context, result, meta, error, worker_id)
SELECT e.execution_id, b.catalog_id, e.event_id, b.base + e.ord, e.parent_event_id, e.created_at, e.event_type,
	e.node_id, e.node_name, e.node_type, e.status, e.context::jsonb, e.result::jsonb, e.meta::jsonb, e.error, e.worker_id
FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::timestamptz[],
	$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
	$19::text[])
	AS e(execution_id, catalog_id, event_id, ord, parent_event_id, parent_execution_id, created_at, event_type,
	node_id, node_name, node_type, status, context, result, meta, error, worker_id)
JOIN b ON b.execution_id = e.execution_id
ON CONFLICT (execution_id, event_id) DO NOTHING
RETURNING execution_id, event_id`

// Inserted reports, for an AppendMany, which events were stored.
type Inserted map[[2]int64]bool

// QueueAppendMany queues the statement that appends events outside an orchestration
// pass (worker events, grouped by the batch writer). events maps execution ids to their
// events in order. read, called after SendBatch, returns the stored (execution, event)
// pairs.
func QueueAppendMany(b *pgx.Batch, execs []int64, events map[int64][]Event) (read func(pgx.BatchResults) (Inserted, error), err error) {
	// The rows take the arrays of insertEventsSQL; Seq carries each event's position
	// within its execution, which the statement adds to the reserved base.
	counts := make([]int64, len(execs))
	var flat []Event
	for i, id := range execs {
		counts[i] = int64(len(events[id]))
		for k, ev := range events[id] {
			ev.ExecutionID, ev.Seq = id, int64(k)+1
			flat = append(flat, ev)
		}
	}
	rows, err := eventArgs(flat)
	if err != nil {
		return nil, err
	}
	b.Queue(appendManySQL, append([]any{execs, counts}, rows...)...)
	return func(br pgx.BatchResults) (Inserted, error) {
		rows, err := br.Query()
		if err != nil {
			return nil, fmt.Errorf("append events: %w", err)
		}
		defer rows.Close()
		out := Inserted{}
		for rows.Next() {
			var e, id int64
			if err := rows.Scan(&e, &id); err != nil {
				return nil, fmt.Errorf("append events: %w", err)
			}
			out[[2]int64{e, id}] = true
		}
		return out, rows.Err()
	}, nil
}

// ExecutionExists reports whether an execution row exists.
func ExecutionExists(ctx context.Context, q Querier, executionID int64) (bool, error) {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM execution WHERE execution_id = $1`, executionID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// QueueSetLastSeq queues moving an execution's sequence counter to lastSeq, for events
// appended outside an orchestration pass under the row lock the caller holds.
func QueueSetLastSeq(b *pgx.Batch, executionID, lastSeq int64) {
	b.Queue(`UPDATE execution SET last_seq = $2, updated_at = now() WHERE execution_id = $1`, executionID, lastSeq)
}

// CancelledAbove locks an execution's row in share mode, so that a cancel of it (which
// locks the row for update) waits for the caller's transaction, and returns the nearest
// of it and its ancestors that was cancelled, 0 when none was (or the execution does not
// exist). A child started under the lock is then either seen by the cancel's cascade or
// refused here; the walk up passes through ancestors of any status, as the cascade and
// the reconciliation sweep do.
func CancelledAbove(ctx context.Context, q Querier, executionID int64) (int64, error) {
	var status string
	err := q.QueryRow(ctx, `SELECT status FROM execution WHERE execution_id = $1 FOR SHARE`, executionID).Scan(&status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("lock execution %d: %w", executionID, err)
	case status == engine.StatusCancelled:
		return executionID, nil
	}
	var cancelled int64
	err = q.QueryRow(ctx, `WITH RECURSIVE up AS (
			SELECT parent_execution_id AS id, 1 AS depth FROM execution WHERE execution_id = $1
			UNION ALL
			SELECT a.parent_execution_id, up.depth + 1 FROM up JOIN execution a ON a.execution_id = up.id
			WHERE a.status <> 'CANCELLED' AND up.depth < $2)
		SELECT a.execution_id FROM up JOIN execution a ON a.execution_id = up.id
		WHERE a.status = 'CANCELLED' ORDER BY up.depth LIMIT 1`, executionID, maxTreeDepth).Scan(&cancelled)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the ancestors of execution %d: %w", executionID, err)
	}
	return cancelled, nil
}

// maxTreeDepth bounds the walk down an execution's children (a playbook tool's child
// that starts its own child, and so on).
const maxTreeDepth = 64

// RunningDescendants lists the running executions below executionID (children by
// parent_execution_id, their children, …), nearest first; finished executions in
// between are walked through.
func RunningDescendants(ctx context.Context, q Querier, executionID int64) ([]int64, error) {
	return pg.Select(ctx, q, "find running child executions", pgx.RowTo[int64], `WITH RECURSIVE tree AS (
			SELECT execution_id, status, 1 AS depth FROM execution WHERE parent_execution_id = $1
			UNION ALL
			SELECT e.execution_id, e.status, t.depth + 1 FROM execution e
			JOIN tree t ON e.parent_execution_id = t.execution_id WHERE t.depth < $2)
		SELECT execution_id FROM tree WHERE status = 'RUNNING' GROUP BY execution_id ORDER BY min(depth), execution_id`,
		executionID, maxTreeDepth)
}
