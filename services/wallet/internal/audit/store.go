package audit

import "context"
import "fmt"
import "strings"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/wire"

// Store reads and writes secret_audit.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Insert writes one event; a replayed audit_id is ignored (upstream's ON CONFLICT).
func (s *Store) Insert(ctx context.Context, e Event) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO secret_audit (audit_id, occurred_at, credential, operation, outcome, worker_id,
			execution_id, parent_execution_id, server_region, broker_region, kek_version, notes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (audit_id) DO NOTHING`,
		e.AuditID, e.Time(), e.Credential, string(e.Operation), string(e.Outcome), e.WorkerID,
		e.ExecutionID, e.ParentExecutionID, e.ServerRegion, e.BrokerRegion, e.KEKVersion, e.Notes)
	if err != nil {
		return fmt.Errorf("insert secret_audit row: %w", err)
	}
	return nil
}

// Filter selects audit rows; zero fields do not filter. Before is the keyset cursor: rows
// strictly older than (BeforeTime, BeforeID) in (occurred_at, audit_id) order.
type Filter struct {
	Credential  string
	ExecutionID *int64
	Operation   string
	Outcome     string
	WorkerID    string
	From, To    *time.Time
	Limit       int
	Before      *Cursor
}

// Cursor is a position in newest-first order.
type Cursor struct {
	OccurredAt time.Time
	AuditID    int64
}

// Query returns matching rows newest first.
func (s *Store) Query(ctx context.Context, f Filter) ([]Event, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Credential != "" {
		add("credential = $%d", f.Credential)
	}
	if f.ExecutionID != nil {
		add("execution_id = $%d", *f.ExecutionID)
	}
	if f.Operation != "" {
		add("operation = $%d", f.Operation)
	}
	if f.Outcome != "" {
		add("outcome = $%d", f.Outcome)
	}
	if f.WorkerID != "" {
		add("worker_id = $%d", f.WorkerID)
	}
	if f.From != nil {
		add("occurred_at >= $%d", *f.From)
	}
	if f.To != nil {
		add("occurred_at < $%d", *f.To)
	}
	if f.Before != nil {
		args = append(args, f.Before.OccurredAt, f.Before.AuditID)
		where = append(where, fmt.Sprintf("(occurred_at, audit_id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	q := `SELECT audit_id, occurred_at, credential, operation, outcome, worker_id, execution_id,
		parent_execution_id, server_region, broker_region, kek_version, notes FROM secret_audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(" ORDER BY occurred_at DESC, audit_id DESC LIMIT $%d", len(args))
	return pg.Select(ctx, s.pool, "read secret_audit", func(r pgx.CollectableRow) (Event, error) {
		var e Event
		var at time.Time
		var op, oc string
		err := r.Scan(&e.AuditID, &at, &e.Credential, &op, &oc, &e.WorkerID, &e.ExecutionID,
			&e.ParentExecutionID, &e.ServerRegion, &e.BrokerRegion, &e.KEKVersion, &e.Notes)
		e.OccurredAt, e.Operation, e.Outcome = wire.Time(at.UTC()), Operation(op), Outcome(oc)
		return e, err
	}, q, args...)
}
