package rotation

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Table names a table whose data_encrypted the rotation re-wraps.
type Table string

const (
	TableCredential Table = "credential"
	TableKeychain   Table = "keychain"
)

// Tables lists them in pass order.
var Tables = []Table{TableCredential, TableKeychain}

// row is one stored value and its key: ID for credential, CacheKey for keychain.
type row struct {
	ID       int64
	CacheKey string
	Data     string
}

// update is a re-wrapped value to write if the row still holds Old.
type update struct {
	row
	New string
}

// Store is the SQL of the rotation: keyset-paginated scans (credential by id, keychain by
// its primary key cache_key, which upstream's id-based scan could not handle) and
// compare-and-set writes.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Batch returns up to limit rows after the cursor (nil: from the start) in key order.
func (s *Store) Batch(ctx context.Context, t Table, afterID *int64, afterKey *string, limit int) ([]row, error) {
	var rows pgx.Rows
	var err error
	switch t {
	case TableCredential:
		rows, err = s.pool.Query(ctx, `SELECT id, data_encrypted FROM credential
			WHERE ($1::bigint IS NULL OR id > $1) ORDER BY id LIMIT $2`, afterID, limit)
	case TableKeychain:
		rows, err = s.pool.Query(ctx, `SELECT cache_key, data_encrypted FROM keychain
			WHERE ($1::text IS NULL OR cache_key > $1) ORDER BY cache_key LIMIT $2`, afterKey, limit)
	default:
		return nil, fmt.Errorf("unknown table %q", t)
	}
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", t, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		if t == TableCredential {
			return x, r.Scan(&x.ID, &x.Data)
		}
		return x, r.Scan(&x.CacheKey, &x.Data)
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", t, err)
	}
	return out, nil
}

// Apply writes a batch's re-wrapped values in one transaction. Each write happens only if
// the row still holds the value that was re-wrapped: a row rewritten meanwhile (a new
// POST) already carries a fresh envelope under the current key and must not be reverted.
// It returns how many rows were written.
func (s *Store) Apply(ctx context.Context, t Table, ups []update) (int, error) {
	if len(ups) == 0 {
		return 0, nil
	}
	written := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, u := range ups {
			var q string
			var key any
			if t == TableCredential {
				q, key = `UPDATE credential SET data_encrypted = $2 WHERE id = $1 AND data_encrypted = $3`, u.ID
			} else {
				q, key = `UPDATE keychain SET data_encrypted = $2 WHERE cache_key = $1 AND data_encrypted = $3`, u.CacheKey
			}
			tag, err := tx.Exec(ctx, q, key, u.New, u.Data)
			if err != nil {
				return err
			}
			written += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("write re-wrapped %s rows: %w", t, err)
	}
	return written, nil
}

// EachValue streams every data_encrypted of a table.
func (s *Store) EachValue(ctx context.Context, t Table, fn func(stored string)) error {
	var q string
	switch t {
	case TableCredential:
		q = `SELECT data_encrypted FROM credential`
	case TableKeychain:
		q = `SELECT data_encrypted FROM keychain`
	default:
		return fmt.Errorf("unknown table %q", t)
	}
	rows, err := s.pool.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("read %s: %w", t, err)
	}
	defer rows.Close()
	var v string
	_, err = pgx.ForEachRow(rows, []any{&v}, func() error { fn(v); return nil })
	if err != nil {
		return fmt.Errorf("read %s: %w", t, err)
	}
	return nil
}
