// Package outbox is the transactional outbox: command notifications are written in the
// same transaction as the command, then published to NATS JetStream by the in-process
// publisher (or an external one through /api/internal/outbox/*). Nothing is published
// for a transaction that rolled back; nothing written is lost while NATS is down.
package outbox

import "context"
import "encoding/json"
import "fmt"
import "sort"
import "time"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/shared/natsx"
import "github.com/noetl/controlplane/shared/pg"

// Notification is the NATS payload of a command (upstream's exact five keys; the struct
// keeps them in alphabetical order, as upstream serialises them).
type Notification struct {
	CommandID   string `json:"command_id"`
	EventID     int64  `json:"event_id"`
	ExecutionID int64  `json:"execution_id"`
	ServerURL   string `json:"server_url"`
	Step        string `json:"step"`
}

// Message is one outbox row.
type Message struct {
	OutboxID    int64
	ExecutionID int64
	EventID     int64
	Subject     string
	Payload     []byte
	Attempts    int
	CreatedAt   time.Time
}

// insertSQL writes outbox rows from parallel arrays. A requeued command (lost worker)
// writes its row again: the conflict resets it for another publish.
const insertSQL = `INSERT INTO outbox (execution_id, event_id, subject, payload, payload_codec, status, attempts, locked_at)
SELECT m.execution_id, m.event_id, m.subject, m.payload::jsonb, 'json', $1,
	CASE WHEN $1 = 'IN_FLIGHT' THEN 1 ELSE 0 END, CASE WHEN $1 = 'IN_FLIGHT' THEN now() END
FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[]) AS m(execution_id, event_id, subject, payload)
ON CONFLICT (execution_id, event_id) DO UPDATE SET status = EXCLUDED.status,
	attempts = outbox.attempts + EXCLUDED.attempts, locked_at = EXCLUDED.locked_at, available_at = now(), updated_at = now()
RETURNING event_id, outbox_id, attempts, created_at`

func insertArgs(msgs []Message, inFlight bool) []any {
	status := "PENDING"
	if inFlight {
		status = "IN_FLIGHT"
	}
	execs, events := make([]int64, len(msgs)), make([]int64, len(msgs))
	subjects, payloads := make([]string, len(msgs)), make([]string, len(msgs))
	for i, m := range msgs {
		execs[i], events[i], subjects[i], payloads[i] = m.ExecutionID, m.EventID, m.Subject, string(m.Payload)
	}
	return []any{status, execs, events, subjects, payloads}
}

func readInserted(rows pgx.Rows, msgs []Message) ([]Message, error) {
	defer rows.Close()
	byEvent := make(map[int64]int, len(msgs))
	for i, m := range msgs {
		byEvent[m.EventID] = i
	}
	out := make([]Message, 0, len(msgs))
	for rows.Next() {
		var eventID int64
		var m Message
		if err := rows.Scan(&eventID, &m.OutboxID, &m.Attempts, &m.CreatedAt); err != nil {
			return nil, fmt.Errorf("insert outbox: %w", err)
		}
		src := msgs[byEvent[eventID]]
		m.ExecutionID, m.EventID, m.Subject, m.Payload = src.ExecutionID, src.EventID, src.Subject, src.Payload
		out = append(out, m)
	}
	return out, rows.Err()
}

// Insert writes messages in the caller's transaction. inFlight marks them as taken by
// the in-process publisher (it publishes them right after commit); otherwise they wait
// PENDING for a poller or an external publisher.
func Insert(ctx context.Context, q pg.Querier, msgs []Message, inFlight bool) ([]Message, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, insertSQL, insertArgs(msgs, inFlight)...)
	if err != nil {
		return nil, fmt.Errorf("insert outbox: %w", err)
	}
	return readInserted(rows, msgs)
}

// QueueInsert queues Insert on a batch; read, called in queue order after SendBatch,
// returns the stored rows.
func QueueInsert(b *pgx.Batch, msgs []Message, inFlight bool) (read func(pgx.BatchResults) ([]Message, error)) {
	if len(msgs) == 0 {
		return func(pgx.BatchResults) ([]Message, error) { return nil, nil }
	}
	b.Queue(insertSQL, insertArgs(msgs, inFlight)...)
	return func(br pgx.BatchResults) ([]Message, error) {
		rows, err := br.Query()
		if err != nil {
			return nil, fmt.Errorf("insert outbox: %w", err)
		}
		return readInserted(rows, msgs)
	}
}

// BuildMessage makes the outbox message of a command: published to the system pool for
// playbooks under system/, else the shared pool.
func BuildMessage(cmds natsx.Commands, playbookPath string, n Notification) (Message, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return Message{}, err
	}
	return Message{ExecutionID: n.ExecutionID, EventID: n.EventID, Subject: cmds.Subject(natsx.PoolFor(playbookPath), n.ExecutionID), Payload: b}, nil
}

// ClaimDue takes up to limit rows that are due: PENDING or FAILED past available_at (all
// FAILED rows when ignoreBackoff, after NATS came back), and IN_FLIGHT rows whose
// publisher died (locked for longer than stale).
func ClaimDue(ctx context.Context, q pg.Querier, limit int, stale time.Duration, ignoreBackoff bool) ([]Message, error) {
	rows, err := q.Query(ctx, `UPDATE outbox SET status = 'IN_FLIGHT', attempts = attempts + 1, locked_at = now(), updated_at = now()
		WHERE outbox_id IN (
			SELECT outbox_id FROM outbox
			WHERE (status IN ('PENDING', 'FAILED') AND (available_at <= now() OR $3))
			   OR (status = 'IN_FLIGHT' AND locked_at < now() - make_interval(secs => $2))
			ORDER BY outbox_id LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING outbox_id, coalesce(execution_id, 0), event_id, coalesce(subject, ''), payload, attempts, created_at`,
		limit, stale.Seconds(), ignoreBackoff)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return scanMessages(rows)
}

// ExternalRow is an outbox row as /api/internal/outbox/claim returns it, its fields in
// the order ClaimForExternal returns them (it scans by position).
type ExternalRow struct {
	OutboxID     int64
	EventID      int64
	ExecutionID  *int64
	Subject      *string
	Payload      []byte
	PayloadCodec string
	Attempts     int
}

// ClaimForExternal is the upstream /api/internal/outbox/claim: PENDING or FAILED rows
// past available_at, oldest first, taken IN_FLIGHT for an external publisher.
func ClaimForExternal(ctx context.Context, q pg.Querier, limit int) ([]ExternalRow, error) {
	out, err := pg.Select(ctx, q, "claim outbox", pgx.RowToStructByPos[ExternalRow], `UPDATE outbox SET status = 'IN_FLIGHT', attempts = attempts + 1, locked_at = now(), updated_at = now()
		WHERE outbox_id IN (
			SELECT outbox_id FROM outbox WHERE status IN ('PENDING', 'FAILED') AND available_at <= now()
			ORDER BY outbox_id LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING outbox_id, event_id, execution_id, subject, payload, payload_codec, attempts`, limit)
	if err != nil {
		return nil, err
	}
	// UPDATE ... RETURNING has no order; hand rows out oldest first, as selected.
	sort.Slice(out, func(i, j int) bool { return out[i].OutboxID < out[j].OutboxID })
	return out, nil
}

func scanMessages(rows pgx.Rows) ([]Message, error) {
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		if err := rows.Scan(&m.OutboxID, &m.ExecutionID, &m.EventID, &m.Subject, &m.Payload, &m.Attempts, &m.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan outbox: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MarkPublished records successful publishes.
func MarkPublished(ctx context.Context, q pg.Querier, ids []int64) (int64, error) {
	tag, err := q.Exec(ctx, `UPDATE outbox SET status = 'PUBLISHED', published_at = now(), last_error = NULL, updated_at = now()
		WHERE outbox_id = ANY($1)`, ids)
	if err != nil {
		return 0, fmt.Errorf("mark outbox published: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Backoff is upstream's retry delay: min(maxDelay, 2^clamp(attempts-1, 0, 8)) seconds.
func Backoff(attempts, maxDelay int) int {
	e := attempts - 1
	if e < 0 {
		e = 0
	}
	if e > 8 {
		e = 8
	}
	d := 1 << e
	if maxDelay >= 0 && d > maxDelay {
		d = maxDelay
	}
	return d
}

// MarkFailed schedules a retry after the backoff and records the error (first 2000
// characters).
func MarkFailed(ctx context.Context, q pg.Querier, ids []int64, errText string, attempts, maxDelay int) (int, error) {
	delay := Backoff(attempts, maxDelay)
	errText = truncateRunes(errText, 2000)
	_, err := q.Exec(ctx, `UPDATE outbox SET status = 'FAILED', available_at = now() + make_interval(secs => $2),
			last_error = $3, updated_at = now()
		WHERE outbox_id = ANY($1)`, ids, float64(delay), errText)
	if err != nil {
		return 0, fmt.Errorf("mark outbox failed: %w", err)
	}
	return delay, nil
}

// truncateRunes keeps the first n characters; cutting bytes could split a UTF-8
// sequence, which PostgreSQL rejects as text.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// PendingCount counts rows waiting to be published and due now (the KEDA scaler source).
func PendingCount(ctx context.Context, q pg.Querier) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE status IN ('PENDING', 'FAILED') AND available_at <= now()`).Scan(&n)
	return n, err
}

// Depth counts every row not yet published (the outbox depth metric).
func Depth(ctx context.Context, q pg.Querier) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE status <> 'PUBLISHED'`).Scan(&n)
	return n, err
}

// Prune deletes published rows older than keep.
func Prune(ctx context.Context, q pg.Querier, keep time.Duration) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM outbox WHERE status = 'PUBLISHED' AND published_at < now() - make_interval(secs => $1)`, keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune outbox: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Statements retention runs on the outbox rows of finished executions $1, published or
// not: a batch deletes at most $2 rows by ctid; the full delete runs in the transaction
// that holds the executions' row locks.
const (
	DeleteBatchSQL      = `DELETE FROM outbox WHERE ctid = ANY (ARRAY(SELECT ctid FROM outbox WHERE execution_id = ANY ($1) LIMIT $2))`
	DeleteExecutionsSQL = `DELETE FROM outbox WHERE execution_id = ANY ($1)`
)
