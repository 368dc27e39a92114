package eventlog

import "context"
import "errors"
import "fmt"
import "strconv"
import "time"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/runtimes"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/pg"

// Command statuses in the command table.
const (
	CmdPending   = "PENDING"
	CmdClaimed   = "CLAIMED"
	CmdCompleted = "COMPLETED"
	CmdFailed    = "FAILED"
	// CmdCancelled is a command that was still pending or claimed when its execution
	// ended: it can no longer be claimed, recovered or finished.
	CmdCancelled = "CANCELLED"
)

// CommandRow is a row of the command table: one per command.issued event. The string
// command id of the wire (meta.command_id) is command_key; command_id stays the
// snowflake BIGINT upstream's schema has.
type CommandRow struct {
	CommandID         int64
	EventID           int64
	ExecutionID       int64
	CatalogID         int64
	ParentExecutionID *int64
	Step              string
	ToolKind          string
	Key               string
	Status            string
	WorkerID          string
	Attempt           int
	MaxAttempts       int
	IterIndex         *int64
	// LoopEventID is the step.enter event id of the loop entry an iteration belongs to.
	LoopEventID   *string
	Meta          map[string]any
	ParentEventID int64
	// UpdatedAt is the last sign of life of a claimed command (claim, worker event,
	// lease renewal); LockCommand reads it.
	UpdatedAt time.Time
}

// QueueInsertCommands queues the insert of the command rows of command.issued events
// (one statement for any number of rows).
func QueueInsertCommands(b *pgx.Batch, rows []CommandRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	cmdIDs, eventIDs, execs, cats, latest := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]*int64, n)
	parents, iters, loops := make([]*int64, n), make([]*int64, n), make([]*string, n)
	steps, kinds, keys, metas := make([]string, n), make([]string, n), make([]string, n), make([]*string, n)
	maxes := make([]int32, n)
	statuses, workers := make([]string, n), make([]*string, n)
	for i, r := range rows {
		statuses[i] = r.Status
		if statuses[i] == "" {
			statuses[i] = CmdPending
		}
		if r.WorkerID != "" {
			w := r.WorkerID
			workers[i] = &w
		}
		meta, err := jsonArg(r.Meta)
		if err != nil {
			return fmt.Errorf("encode command meta: %w", err)
		}
		if meta != nil {
			m := meta.(string)
			metas[i] = &m
		}
		cmdIDs[i], eventIDs[i], execs[i], cats[i] = r.CommandID, r.EventID, r.ExecutionID, r.CatalogID
		parents[i], iters[i], loops[i] = r.ParentExecutionID, r.IterIndex, r.LoopEventID
		steps[i], kinds[i], keys[i], maxes[i] = r.Step, r.ToolKind, r.Key, int32(r.MaxAttempts)
		if r.ParentEventID != 0 {
			p := r.ParentEventID
			latest[i] = &p
		}
	}
	// A row inserted CLAIMED (eager dispatch) carries its worker and claim time.
	b.Queue(`INSERT INTO command (command_id, event_id, execution_id, catalog_id, parent_execution_id, step_name,
			tool_kind, status, attempt, max_attempts, command_key, iter_index, meta, latest_event_id, loop_event_id,
			worker_id, claimed_at)
		SELECT c.command_id, c.event_id, c.execution_id, c.catalog_id, c.parent_execution_id, c.step_name, c.tool_kind,
			c.status, 1, c.max_attempts, c.command_key, c.iter_index, c.meta::jsonb, c.latest_event_id, c.loop_event_id,
			c.worker_id, CASE WHEN c.worker_id IS NOT NULL THEN now() END
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[],
			$8::int[], $9::text[], $10::bigint[], $11::text[], $12::bigint[], $13::text[], $14::text[], $15::text[])
			AS c(command_id, event_id, execution_id, catalog_id, parent_execution_id, step_name, tool_kind,
			max_attempts, command_key, iter_index, meta, latest_event_id, loop_event_id, status, worker_id)`,
		cmdIDs, eventIDs, execs, cats, parents, steps, kinds, maxes, keys, iters, metas, latest, loops, statuses, workers)
	return nil
}

// QueueFinishCommands queues FinishCommands on a batch.
func QueueFinishCommands(b *pgx.Batch, executionID int64, keys []string, status string, latestEvent int64) {
	if len(keys) == 0 {
		return
	}
	b.Queue(finishCommandsSQL, executionID, keys, status, latestEvent)
}

const finishCommandsSQL = `UPDATE command SET status = $3, completed_at = now(), updated_at = now(), latest_event_id = $4
	WHERE execution_id = $1 AND command_key = ANY($2) AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')`

const cancelCommandsSQL = `UPDATE command SET status = 'CANCELLED', completed_at = now(), updated_at = now(), latest_event_id = $2
	WHERE execution_id = $1 AND status IN ('PENDING', 'CLAIMED')`

// QueueCancelCommands queues the close-out of an ended execution's commands: every one
// still pending or claimed becomes CANCELLED (latest_event_id is the terminal event).
func QueueCancelCommands(b *pgx.Batch, executionID, terminalEvent int64) {
	b.Queue(cancelCommandsSQL, executionID, terminalEvent)
}

// CancelCommands is QueueCancelCommands run at once; it returns how many it closed.
func CancelCommands(ctx context.Context, q Querier, executionID, terminalEvent int64) (int64, error) {
	tag, err := q.Exec(ctx, cancelCommandsSQL, executionID, terminalEvent)
	if err != nil {
		return 0, fmt.Errorf("cancel the open commands of %d: %w", executionID, err)
	}
	return tag.RowsAffected(), nil
}

// FinishCommands marks commands terminal (status COMPLETED or FAILED) by key.
func FinishCommands(ctx context.Context, q Querier, executionID int64, keys []string, status string, latestEvent int64) error {
	if len(keys) == 0 {
		return nil
	}
	if _, err := q.Exec(ctx, finishCommandsSQL, executionID, keys, status, latestEvent); err != nil {
		return fmt.Errorf("finish commands: %w", err)
	}
	return nil
}

// ErrNoCommand means no command.issued has that event id.
var ErrNoCommand = errors.New("command not found")

// LockCommand reads a command row for update.
func LockCommand(ctx context.Context, q Querier, eventID int64) (*CommandRow, error) {
	var r CommandRow
	var worker *string
	err := q.QueryRow(ctx, `SELECT command_id, event_id, execution_id, catalog_id, step_name, coalesce(tool_kind, ''),
			coalesce(command_key, ''), status, worker_id, attempt, max_attempts, updated_at
		FROM command WHERE event_id = $1 FOR UPDATE`, eventID).
		Scan(&r.CommandID, &r.EventID, &r.ExecutionID, &r.CatalogID, &r.Step, &r.ToolKind, &r.Key, &r.Status,
			&worker, &r.Attempt, &r.MaxAttempts, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoCommand
	}
	if err != nil {
		return nil, fmt.Errorf("lock command %d: %w", eventID, err)
	}
	if worker != nil {
		r.WorkerID = *worker
	}
	return &r, nil
}

// ClaimCommandSQL marks a command claimed by a worker ($1 event id, $2 worker).
const ClaimCommandSQL = `UPDATE command SET status = 'CLAIMED', worker_id = $2, claimed_at = now(), updated_at = now()
	WHERE event_id = $1`

// RequeueCommand makes a claimed command claimable again with the next attempt number.
func RequeueCommand(ctx context.Context, q Querier, eventID int64) (attempt int, err error) {
	err = q.QueryRow(ctx, `UPDATE command SET status = 'PENDING', worker_id = NULL, claimed_at = NULL,
			attempt = attempt + 1, updated_at = now()
		WHERE event_id = $1 RETURNING attempt`, eventID).Scan(&attempt)
	if err != nil {
		return 0, fmt.Errorf("requeue command %d: %w", eventID, err)
	}
	return attempt, nil
}

// WaitingCommand is a command issued and not yet claimed, with what its notification
// names.
type WaitingCommand struct {
	ExecutionID int64
	EventID     int64
	Key         string
	Step        string
	Path        string // the execution's playbook path (it picks the pool's subject)
}

// WaitingCommands lists the PENDING commands of running executions that were issued
// before `before`, after event id `after` in ascending order, at most limit. It starts
// from the running executions, so a large history of ended ones is not read.
func WaitingCommands(ctx context.Context, q Querier, before time.Time, after int64, limit int) ([]WaitingCommand, error) {
	return pg.Select(ctx, q, "find waiting commands", func(row pgx.CollectableRow) (WaitingCommand, error) {
		var w WaitingCommand
		err := row.Scan(&w.ExecutionID, &w.EventID, &w.Key, &w.Step, &w.Path)
		return w, err
	}, `SELECT c.execution_id, c.event_id, coalesce(c.command_key, ''), c.step_name, coalesce(e.path, '')
		FROM execution e JOIN command c ON c.execution_id = e.execution_id
		WHERE e.status = 'RUNNING' AND c.status = 'PENDING' AND c.created_at < $1 AND c.event_id > $2
		ORDER BY c.event_id LIMIT $3`, before, after, limit)
}

// LostCommand is a claimed command whose worker went silent.
type LostCommand struct {
	ExecutionID int64
	EventID     int64
	Key         string
	WorkerID    string
}

// LostCommands lists claimed commands whose worker is gone: its runtime row is missing,
// offline or stale, and the command saw no worker activity for `after` either. The
// runtime table belongs to runtimes, which names the live worker pools; a command held
// by any other worker is lost. Nothing is judged over a silence longer than watched,
// how long the api has been able to receive heartbeats (runtimes.Lifecycle.Watched).
func LostCommands(ctx context.Context, q Querier, after, watched time.Duration, limit int) ([]LostCommand, error) {
	if watched <= after {
		return nil, nil
	}
	live, err := runtimes.NewStore(q).LiveWorkerPools(ctx, after, watched)
	if err != nil {
		return nil, fmt.Errorf("find lost commands: %w", err)
	}
	return pg.Select(ctx, q, "find lost commands", func(row pgx.CollectableRow) (LostCommand, error) {
		var l LostCommand
		err := row.Scan(&l.ExecutionID, &l.EventID, &l.Key, &l.WorkerID)
		return l, err
	}, `SELECT c.execution_id, c.event_id, coalesce(c.command_key, ''), coalesce(c.worker_id, '')
		FROM command c
		WHERE c.status = 'CLAIMED' AND c.updated_at < now() - make_interval(secs => $1)
		  AND (c.worker_id = ANY ($3)) IS NOT TRUE
		ORDER BY c.updated_at LIMIT $2`, after.Seconds(), limit, live)
}

// RenewLeases renews, as of the database's now(), the claims worker holds on the
// commands it lists (command.issued event ids): updated_at is the last sign of life of a
// claimed command, which the lease and lost-worker checks read, and started_at, set by
// the first sign, acknowledges an eager claim (as a command.started does). Commands the
// worker does not hold (finished, requeued, cancelled, claimed by another, unknown) are
// left alone, and a renewal never moves a sign of life back. It changes no indexed
// column, so the update is HOT, as an activity mark is.
//
// It returns the listed ids the worker does not hold, ascending and once each: the
// worker is told, so it stops running what is no longer its own. A command of its own
// that its execution's end cancelled is not named: the worker's cancellation check stops
// that one and reports the cancel, which a silent release would swallow. Renewal and
// answer are one statement, so a claim held when renewed is never reported lost.
func RenewLeases(ctx context.Context, q Querier, worker string, eventIDs []int64) ([]int64, error) {
	if len(eventIDs) == 0 {
		return []int64{}, nil
	}
	rows, err := q.Query(ctx, `WITH renewed AS (
			UPDATE command SET updated_at = greatest(updated_at, now()), started_at = coalesce(started_at, now())
			WHERE worker_id = $1 AND status = 'CLAIMED' AND event_id = ANY($2)
			RETURNING event_id)
		SELECT DISTINCT l.id FROM unnest($2::bigint[]) AS l(id)
		WHERE l.id NOT IN (SELECT event_id FROM renewed)
		  AND NOT EXISTS (SELECT 1 FROM command c WHERE c.event_id = l.id AND c.worker_id = $1 AND c.status = 'CANCELLED')
		ORDER BY l.id`, worker, eventIDs)
	if err != nil {
		return nil, fmt.Errorf("renew the claims of %s: %w", worker, err)
	}
	released, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("renew the claims of %s: %w", worker, err)
	}
	if released == nil {
		released = []int64{}
	}
	return released, nil
}

// Leases renews claims for the registry's heartbeat route.
type Leases struct{ q Querier }

// NewLeases returns Leases over q.
func NewLeases(q Querier) *Leases { return &Leases{q: q} }

// RenewLeases is the package's RenewLeases.
func (l *Leases) RenewLeases(ctx context.Context, worker string, eventIDs []int64) ([]int64, error) {
	return RenewLeases(ctx, l.q, worker, eventIDs)
}

// Why a claim of a live worker lapsed.
const (
	// LapseAck: an eagerly dispatched command saw no sign of life from its worker
	// (no event, no heartbeat listing it) within the ack deadline: most likely the
	// worker never received it.
	LapseAck = "ack"
	// LapseLease: a worker that lists what it holds stopped listing the command and
	// posted nothing for it for the lease.
	LapseLease = "lease"
)

// LapsedClaim is a claimed command whose lease ran out while its worker may still be
// heart-beating.
type LapsedClaim struct {
	LostCommand
	Reason string // LapseAck or LapseLease
	// Bound is the bound that ran out: the configured one, or a longer one for a worker
	// that heart-beats less often (LeaseIntervals, AckIntervals).
	Bound time.Duration
	// UpdatedAt is the last sign of life the scan saw: recovery re-checks it under the
	// row lock, so a renewal that lands in between keeps the claim.
	UpdatedAt time.Time
}

// A worker that reported its heartbeat interval at registration has its bounds
// stretched to a number of those intervals when that is longer than the configured one.
// A received command still queued behind another is acknowledged only by the next
// heartbeat, and a held command is renewed only by heartbeats, so a bound shorter than
// an interval would take back what the worker holds. Two intervals for the ack leave
// room for one heartbeat that is late or fails; three for the lease, as it must survive
// every heartbeat of a long-running command.
const (
	AckIntervals   = 2
	LeaseIntervals = 3
)

// LapsedClaims lists the claimed commands whose lease ran out: an eager claim (the row
// was inserted CLAIMED, so its claimed_at is its created_at, the one transaction time;
// a later claim of a requeued command is later) that was never acknowledged (started_at
// is set by the first worker event or heartbeat listing it) older than ack, and a claim
// of a worker that reports what it holds (the runtime registry names them) untouched
// for lease. For a worker that reported its heartbeat interval, each bound is the longer
// of the configured one and AckIntervals (LeaseIntervals) of its interval. A zero
// duration turns its check off. A bound longer than watched, how long the api has been
// able to receive the heartbeats and events that renew and acknowledge claims
// (runtimes.Lifecycle.Watched), is not judged yet.
//
// Every time it compares is the database's: the claim, the worker events' mark and the
// renewal all write now(), and the check reads now(), so a skew between an api
// replica's clock and the database's neither shortens nor stretches a lease.
func LapsedClaims(ctx context.Context, q Querier, lease, ack, watched time.Duration, limit int) ([]LapsedClaim, error) {
	if lease <= 0 && ack <= 0 {
		return nil, nil
	}
	workers, err := runtimes.NewStore(q).LeaseWorkers(ctx)
	if err != nil {
		return nil, fmt.Errorf("find lapsed claims: %w", err)
	}
	names, reports, every := make([]string, len(workers)), make([]bool, len(workers)), make([]float64, len(workers))
	for i, w := range workers {
		names[i], reports[i], every[i] = w.Name, w.ReportsHeld, w.Interval
	}
	return pg.Select(ctx, q, "find lapsed claims", func(row pgx.CollectableRow) (LapsedClaim, error) {
		var l LapsedClaim
		var bound float64
		err := row.Scan(&l.ExecutionID, &l.EventID, &l.Key, &l.WorkerID, &l.UpdatedAt, &l.Reason, &bound)
		l.Bound = time.Duration(bound * float64(time.Second))
		return l, err
	}, `SELECT c.execution_id, c.event_id, coalesce(c.command_key, ''), c.worker_id, c.updated_at, x.reason,
			CASE x.reason WHEN 'lease' THEN b.lease ELSE b.ack END
		FROM command c
		LEFT JOIN unnest($3::text[], $4::bool[], $5::float8[]) AS w(name, reports, every) ON w.name = c.worker_id
		CROSS JOIN LATERAL (SELECT greatest($1::float8, $6 * coalesce(w.every, 0)) AS lease,
			greatest($2::float8, $7 * coalesce(w.every, 0)) AS ack) AS b
		CROSS JOIN LATERAL (SELECT CASE
			WHEN $1 > 0 AND w.reports AND c.updated_at < now() - make_interval(secs => b.lease)
				AND $9::float8 > b.lease THEN 'lease'
			WHEN $2 > 0 AND c.claimed_at = c.created_at AND c.started_at IS NULL
				AND c.claimed_at < now() - make_interval(secs => b.ack) AND $9::float8 > b.ack THEN 'ack'
			END AS reason) AS x
		WHERE c.status = 'CLAIMED' AND x.reason IS NOT NULL
		ORDER BY c.updated_at LIMIT $8`,
		lease.Seconds(), ack.Seconds(), names, reports, every, float64(LeaseIntervals), float64(AckIntervals), limit,
		watched.Seconds())
}

// IssuedCommand is the command.issued event a worker claims or looks up.
type IssuedCommand struct {
	ExecutionID int64
	EventID     int64
	Step        string
	Action      string
	Context     any
	Meta        map[string]any
}

// GetIssuedSQL reads a command.issued event by its event id ($1).
const GetIssuedSQL = `SELECT execution_id, event_id, coalesce(node_name, ''), coalesce(node_type, ''), context, meta
	FROM event WHERE event_id = $1 AND event_type = 'command.issued' LIMIT 1`

// GetIssued reads a command.issued event by its event id.
func GetIssued(ctx context.Context, q Querier, eventID int64) (*IssuedCommand, error) {
	return ScanIssued(q.QueryRow(ctx, GetIssuedSQL, eventID))
}

// ClaimedIssuedBy reads the command.issued events that trigger events caused and that
// are claimed by worker: what eager dispatch handed that worker when it first posted
// them (a repeat of the post gets the same commands again).
func ClaimedIssuedBy(ctx context.Context, q Querier, executionID int64, triggers []int64, worker string) ([]*IssuedCommand, error) {
	rows, err := q.Query(ctx, `SELECT e.execution_id, e.event_id, coalesce(e.node_name, ''), coalesce(e.node_type, ''),
			e.context, e.meta, c.attempt, c.max_attempts
		FROM event e JOIN command c ON c.event_id = e.event_id
		WHERE e.execution_id = $1 AND e.parent_event_id = ANY($2) AND e.event_type = 'command.issued'
		  AND c.status = 'CLAIMED' AND c.worker_id = $3
		ORDER BY e.seq`, executionID, triggers, worker)
	if err != nil {
		return nil, fmt.Errorf("read eagerly claimed commands: %w", err)
	}
	defer rows.Close()
	var out []*IssuedCommand
	for rows.Next() {
		var attempt, maxAttempts int64
		c, err := scanIssued(rows, &attempt, &maxAttempts)
		if err != nil {
			return nil, err
		}
		c.Meta["attempt"], c.Meta["max_attempts"] = attempt, maxAttempts
		out = append(out, c)
	}
	return out, rows.Err()
}

// ScanIssued scans a row of GetIssuedSQL.
func ScanIssued(row pgx.Row) (*IssuedCommand, error) { return scanIssued(row) }

func scanIssued(row pgx.Row, extra ...any) (*IssuedCommand, error) {
	var c IssuedCommand
	var cx, m []byte
	err := row.Scan(append([]any{&c.ExecutionID, &c.EventID, &c.Step, &c.Action, &cx, &m}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoCommand
	}
	if err != nil {
		return nil, fmt.Errorf("read command.issued: %w", err)
	}
	if c.Context, err = decodeNullable(cx); err != nil {
		return nil, err
	}
	if c.Meta, err = decodeMeta(m); err != nil {
		return nil, err
	}
	if c.Meta == nil {
		c.Meta = map[string]any{}
	}
	return &c, nil
}

// CommandsFromEvents derives command rows from the command.issued events of a pass.
func CommandsFromEvents(events []Event, newID func() (int64, error)) ([]CommandRow, error) {
	var out []CommandRow
	for _, ev := range events {
		if ev.Type != engine.TypeCommandIssued {
			continue
		}
		id, err := newID()
		if err != nil {
			return nil, err
		}
		key, _ := ev.Meta["command_id"].(string)
		max := 3
		if v, ok := ev.Meta["max_attempts"].(int64); ok && v > 0 {
			max = int(v)
		}
		row := CommandRow{
			CommandID: id, EventID: ev.EventID, ExecutionID: ev.ExecutionID, CatalogID: ev.CatalogID,
			ParentExecutionID: ev.ParentExecutionID, Step: ev.Step, ToolKind: ev.NodeType, Key: key,
			MaxAttempts: max, Meta: ev.Meta, ParentEventID: ev.ParentEventID,
		}
		if v, ok := ev.Meta["iteration_index"].(int64); ok {
			row.IterIndex = &v
		}
		if v, ok := ev.Meta["loop_event_id"].(string); ok {
			row.LoopEventID = &v
		}
		out = append(out, row)
	}
	return out, nil
}

// QueueTouchCommands queues TouchCommands for several executions on a batch.
func QueueTouchCommands(b *pgx.Batch, execs []int64, keys []string) {
	b.Queue(`UPDATE command c SET updated_at = now(), started_at = coalesce(c.started_at, now())
		FROM unnest($1::bigint[], $2::text[]) AS t(execution_id, key)
		WHERE c.execution_id = t.execution_id AND c.command_key = t.key AND c.status = 'CLAIMED'`, execs, keys)
}

// LockForClaim takes the row lock of the execution a command belongs to and reads the
// command, in one round trip. The command is read after the lock is held (a pipelined
// second statement gets a fresh snapshot), and commands change only under their
// execution's lock, so what it reads cannot change before the transaction ends. The
// execution comes back without its snapshot, which a claim does not need.
func LockForClaim(ctx context.Context, q Querier, eventID int64) (*Execution, *CommandRow, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT execution_id, catalog_id, status, last_seq FROM execution
		WHERE execution_id = (SELECT execution_id FROM command WHERE event_id = $1) FOR UPDATE`, eventID)
	b.Queue(`SELECT command_id, event_id, execution_id, catalog_id, step_name, coalesce(tool_kind, ''),
			coalesce(command_key, ''), status, worker_id, attempt, max_attempts
		FROM command WHERE event_id = $1`, eventID)
	br := q.SendBatch(ctx, b)
	defer br.Close()
	var e Execution
	err := br.QueryRow().Scan(&e.ExecutionID, &e.CatalogID, &e.Status, &e.LastSeq)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, ErrNoCommand
	}
	if err != nil {
		return nil, nil, fmt.Errorf("lock execution of command %d: %w", eventID, err)
	}
	var r CommandRow
	var worker *string
	err = br.QueryRow().Scan(&r.CommandID, &r.EventID, &r.ExecutionID, &r.CatalogID, &r.Step, &r.ToolKind, &r.Key,
		&r.Status, &worker, &r.Attempt, &r.MaxAttempts)
	if err != nil {
		return nil, nil, fmt.Errorf("read command %d: %w", eventID, err)
	}
	if worker != nil {
		r.WorkerID = *worker
	}
	return &e, &r, nil
}

// QueueStoreIterations queues the results of finished loop iterations onto their
// command rows: they stay out of the execution snapshot until the loop completes.
func QueueStoreIterations(b *pgx.Batch, executionID int64, rs []engine.IterationResult) error {
	if len(rs) == 0 {
		return nil
	}
	keys, data := make([]string, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		enc, err := jsonx.Marshal(r.Data)
		if err != nil {
			return fmt.Errorf("encode the result of iteration %d of %s: %w", r.Index, r.Step, err)
		}
		keys[i], data[i] = r.Key, string(enc)
	}
	b.Queue(`UPDATE command c SET result = t.data::jsonb FROM unnest($2::text[], $3::text[]) AS t(key, data)
		WHERE c.execution_id = $1 AND c.command_key = t.key`, executionID, keys, data)
	return nil
}

// IterationResults reads the stored results of one loop entry's iterations by index.
func IterationResults(ctx context.Context, q Querier, executionID, entryID int64) (map[int64]any, error) {
	rows, err := q.Query(ctx, `SELECT iter_index, result FROM command
		WHERE execution_id = $1 AND loop_event_id = $2 AND iter_index IS NOT NULL AND result IS NOT NULL`,
		executionID, strconv.FormatInt(entryID, 10))
	if err != nil {
		return nil, fmt.Errorf("read iteration results of loop entry %d: %w", entryID, err)
	}
	defer rows.Close()
	out := map[int64]any{}
	for rows.Next() {
		var idx int64
		var raw []byte
		if err := rows.Scan(&idx, &raw); err != nil {
			return nil, fmt.Errorf("read iteration results of loop entry %d: %w", entryID, err)
		}
		v, err := jsonx.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("decode the result of iteration %d of loop entry %d: %w", idx, entryID, err)
		}
		out[idx] = v
	}
	return out, rows.Err()
}

// CommandAttempts reads a command's attempt counter and its limit.
func CommandAttempts(ctx context.Context, q Querier, eventID int64) (attempt, maxAttempts int64, err error) {
	err = q.QueryRow(ctx, `SELECT attempt, max_attempts FROM command WHERE event_id = $1`, eventID).Scan(&attempt, &maxAttempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, ErrNoCommand
	}
	return attempt, maxAttempts, err
}
