// Package sealedrows runs the wallet-wide passes over a table of sealed values: the key
// rotation's keyset scans and compare-and-set re-wraps, key-status's full read, and the
// key checks' samples by key version label. The passes are the same for the credential
// and the keychain table, so they are written once here; the SQL that names a table is
// supplied by the package that owns it (credentials, keychain), so that every statement
// against a table stays in its owner.
package sealedrows

import "context"
import "fmt"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/pg"

// Queries is an owner's SQL for its table. The passes select from Rows as a subquery,
// which PostgreSQL flattens: a keyset scan still walks the key's index.
type Queries struct {
	// Rows selects (key, data_encrypted) of every row; the key orders the scans.
	Rows string
	// Swap sets data_encrypted to $2 on the row with key $1 if it still holds $3.
	Swap string
}

// kvExpr extracts dek.kv from a stored envelope's text, NULL for anything else (read from
// the text, so that a value that is not JSON at all cannot fail the query).
const kvExpr = `substring(v from '"kv":"([^"]*)"')`

// Row is one stored value and its key.
type Row[K any] struct {
	Key    K
	Stored string
}

// Update is a re-wrapped value to write if the row still holds Row.Stored.
type Update[K any] struct {
	Row[K]
	New string
}

// Label is up to a limit of stored values under one key version label.
type Label struct {
	Version string
	Values  []string
}

// Table runs the passes over one table with its owner's queries.
type Table[K any] struct {
	pool *pgxpool.Pool
	name string
	q    Queries
}

// New returns the table called name (in messages and metrics) on pool.
func New[K any](pool *pgxpool.Pool, name string, q Queries) *Table[K] {
	return &Table[K]{pool: pool, name: name, q: q}
}

// Name is the table's name.
func (t *Table[K]) Name() string { return t.name }

// Batch returns up to limit rows after the key after (nil: from the start) in key order.
func (t *Table[K]) Batch(ctx context.Context, after *K, limit int) ([]Row[K], error) {
	q, args := `SELECT k, v FROM (`+t.q.Rows+`) s(k, v) ORDER BY k LIMIT $1`, []any{limit}
	if after != nil {
		// Two statements rather than "$2 IS NULL OR k > $2": the key's type comes from the
		// comparison only, which PostgreSQL cannot infer for a parameter tested for NULL.
		q, args = `SELECT k, v FROM (`+t.q.Rows+`) s(k, v) WHERE k > $2 ORDER BY k LIMIT $1`, []any{limit, *after}
	}
	return pg.Select(ctx, t.pool, "scan "+t.name, func(r pgx.CollectableRow) (Row[K], error) {
		var x Row[K]
		return x, r.Scan(&x.Key, &x.Stored)
	}, q, args...)
}

// Swap writes re-wrapped values in one transaction. Each write happens only if the row
// still holds the value that was re-wrapped: a row rewritten meanwhile (a new POST)
// already carries a fresh envelope under the current key and must not be reverted. It
// returns how many rows were written.
func (t *Table[K]) Swap(ctx context.Context, ups []Update[K]) (int, error) {
	if len(ups) == 0 {
		return 0, nil
	}
	written := 0
	err := pgx.BeginFunc(ctx, t.pool, func(tx pgx.Tx) error {
		for _, u := range ups {
			tag, err := tx.Exec(ctx, t.q.Swap, u.Key, u.New, u.Stored)
			if err != nil {
				return err
			}
			written += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("write re-wrapped %s rows: %w", t.name, err)
	}
	return written, nil
}

// EachValue streams every stored value of the table.
func (t *Table[K]) EachValue(ctx context.Context, fn func(stored string)) error {
	rows, err := t.pool.Query(ctx, `SELECT v FROM (`+t.q.Rows+`) s(k, v)`)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.name, err)
	}
	defer rows.Close()
	var v string
	_, err = pgx.ForEachRow(rows, []any{&v}, func() error { fn(v); return nil })
	if err != nil {
		return fmt.Errorf("read %s: %w", t.name, err)
	}
	return nil
}

// Samples returns up to limit stored values whose dek.kv is version.
func (t *Table[K]) Samples(ctx context.Context, version string, limit int) ([]string, error) {
	return pg.Select(ctx, t.pool, fmt.Sprintf("sample %s rows of key version %q", t.name, version), pgx.RowTo[string],
		`SELECT v FROM (`+t.q.Rows+`) s(k, v) WHERE `+kvExpr+` = $1 LIMIT $2`, version, limit)
}

// VersionSamples returns, per dek.kv present in the table in label order, up to limit of
// its stored values.
func (t *Table[K]) VersionSamples(ctx context.Context, limit int) ([]Label, error) {
	rows, err := t.pool.Query(ctx, `SELECT kv, v FROM (
			SELECT `+kvExpr+` AS kv, v, row_number() OVER (PARTITION BY `+kvExpr+`) AS n FROM (`+t.q.Rows+`) s(k, v)
		) r WHERE kv IS NOT NULL AND n <= $1 ORDER BY kv`, limit)
	if err != nil {
		return nil, fmt.Errorf("sample stored %s rows by key version: %w", t.name, err)
	}
	defer rows.Close()
	var out []Label
	for rows.Next() {
		var kv, v string
		if err := rows.Scan(&kv, &v); err != nil {
			return nil, fmt.Errorf("sample stored %s rows by key version: %w", t.name, err)
		}
		if n := len(out); n == 0 || out[n-1].Version != kv {
			out = append(out, Label{Version: kv})
		}
		out[len(out)-1].Values = append(out[len(out)-1].Values, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sample stored %s rows by key version: %w", t.name, err)
	}
	return out, nil
}
