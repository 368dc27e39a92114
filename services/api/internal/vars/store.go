// Package vars serves execution variables (/api/vars, table transient) and the result
// store (/api/result, table result_store) that workers offload large results to.
package vars

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/shared/pg"

// ErrNotFound means the variable does not exist. A missing execution is
// eventlog.ErrNoExecution and a missing stored result ErrNoResult: one sentinel per
// concept.
var ErrNotFound = errors.New("variable not found")

// ErrNoResult means the stored result does not exist (or expired).
var ErrNoResult = errors.New("stored result not found")

// Store is the SQL of variables and stored results.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Variable is a row of transient, its fields in varColumns order (List scans by position).
type Variable struct {
	Name        string
	Type        string
	Value       json.RawMessage
	SourceStep  *string
	CreatedAt   time.Time
	AccessedAt  time.Time
	AccessCount int64
}

// VarInput is a variable to set; Value is JSON text.
type VarInput struct {
	Name       string
	Type       string
	Value      []byte
	SourceStep *string
}

const varColumns = `var_name, var_type, var_value, source_step, created_at, accessed_at, access_count`

func scanVar(row pgx.Row) (*Variable, error) {
	var v Variable
	err := row.Scan(&v.Name, &v.Type, &v.Value, &v.SourceStep, &v.CreatedAt, &v.AccessedAt, &v.AccessCount)
	return &v, err
}

// List returns the variables of an execution ordered by name, and
// eventlog.ErrNoExecution for an execution that does not exist: an empty list would say
// that one exists and has none, while setting its variables is refused (Set).
func (s *Store) List(ctx context.Context, executionID int64) ([]Variable, error) {
	vs, err := pg.Select(ctx, s.pool, fmt.Sprintf("list variables of %d", executionID), pgx.RowToStructByPos[Variable],
		`SELECT `+varColumns+` FROM transient WHERE execution_id = $1 ORDER BY var_name`, executionID)
	if err != nil || len(vs) > 0 {
		return vs, err
	}
	switch ok, err := eventlog.ExecutionExists(ctx, s.pool, executionID); {
	case err != nil:
		return nil, fmt.Errorf("list variables of %d: %w", executionID, err)
	case !ok:
		return nil, eventlog.ErrNoExecution
	}
	return vs, nil
}

// Set upserts variables in one transaction: all of them are written or none (upstream
// wrote them one by one and left the ones before a failure behind). The execution must
// exist (eventlog.ErrNoExecution otherwise): upstream stored variables under any id, rows
// no execution's retention would ever delete.
func (s *Store) Set(ctx context.Context, executionID int64, vars []VarInput) (int, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		switch ok, err := eventlog.ExecutionExists(ctx, tx, executionID); {
		case err != nil:
			return err
		case !ok:
			return eventlog.ErrNoExecution
		}
		b := &pgx.Batch{}
		for _, v := range vars {
			b.Queue(`INSERT INTO transient (execution_id, var_name, var_type, var_value, source_step, access_count)
				VALUES ($1, $2, $3, $4::jsonb, $5, 0)
				ON CONFLICT (execution_id, var_name) DO UPDATE SET var_value = EXCLUDED.var_value,
					var_type = EXCLUDED.var_type, source_step = EXCLUDED.source_step, accessed_at = now()`,
				executionID, v.Name, v.Type, string(v.Value), v.SourceStep)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("set variables of %d: %w", executionID, err)
	}
	return len(vars), nil
}

// Get reads a variable and counts the access.
func (s *Store) Get(ctx context.Context, executionID int64, name string) (*Variable, error) {
	v, err := scanVar(s.pool.QueryRow(ctx, `UPDATE transient SET accessed_at = now(), access_count = access_count + 1
		WHERE execution_id = $1 AND var_name = $2 RETURNING `+varColumns, executionID, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read variable %s of %d: %w", name, executionID, err)
	}
	return v, nil
}

// DeleteAll removes every variable of an execution.
func (s *Store) DeleteAll(ctx context.Context, executionID int64) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM transient WHERE execution_id = $1`, executionID)
	if err != nil {
		return 0, fmt.Errorf("delete variables of %d: %w", executionID, err)
	}
	return tag.RowsAffected(), nil
}

// Delete removes one variable.
func (s *Store) Delete(ctx context.Context, executionID int64, name string) error {
	return pg.ExecOne(ctx, s.pool, ErrNotFound, fmt.Sprintf("delete variable %s of %d", name, executionID),
		`DELETE FROM transient WHERE execution_id = $1 AND var_name = $2`, executionID, name)
}

// StoredResult is a row of result_store without its data.
type StoredResult struct {
	RefID       int64
	ExecutionID int64
	Name        string
	Scope       string
	SourceStep  *string
	Bytes       int64
	SHA256      string
	MediaType   string
}

// PutResult stores a result of an existing execution; data is its canonical JSON. The
// execution row belongs to eventlog, so its existence is asked there first.
func (s *Store) PutResult(ctx context.Context, r StoredResult, data []byte) error {
	ok, err := eventlog.ExecutionExists(ctx, s.pool, r.ExecutionID)
	if err != nil {
		return fmt.Errorf("store result %s of %d: %w", r.Name, r.ExecutionID, err)
	}
	if !ok {
		return eventlog.ErrNoExecution
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO result_store (ref_id, execution_id, name, scope, source_step, data, bytes, sha256, media_type)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)`,
		r.RefID, r.ExecutionID, r.Name, r.Scope, r.SourceStep, string(data), r.Bytes, r.SHA256, r.MediaType)
	if err != nil {
		return fmt.Errorf("store result %s of %d: %w", r.Name, r.ExecutionID, err)
	}
	return nil
}

// Result reads a stored result of an execution with its data as stored JSON.
func (s *Store) Result(ctx context.Context, executionID, refID int64) (*StoredResult, []byte, error) {
	r := StoredResult{RefID: refID, ExecutionID: executionID}
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT name, scope, source_step, bytes, sha256, media_type, data FROM result_store
		WHERE ref_id = $1 AND execution_id = $2 AND (expires_at IS NULL OR expires_at > now())`, refID, executionID).
		Scan(&r.Name, &r.Scope, &r.SourceStep, &r.Bytes, &r.SHA256, &r.MediaType, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, ErrNoResult
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read result %d of %d: %w", refID, executionID, err)
	}
	return &r, data, nil
}

// RowQuerier is a pool or a transaction.
type RowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ResultData reads a stored result's data as stored JSON, inside the caller's
// transaction (the orchestrator swaps it into a call.done before folding it), or
// ErrNotFound. Unlike Result it does not look at expires_at: a result an execution
// already referenced stays readable to that execution.
func ResultData(ctx context.Context, q RowQuerier, executionID, refID int64) ([]byte, error) {
	var raw []byte
	err := q.QueryRow(ctx, `SELECT data FROM result_store WHERE ref_id = $1 AND execution_id = $2`, refID, executionID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read result %d of %d: %w", refID, executionID, err)
	}
	return raw, nil
}
