package pg

import "context"
import "fmt"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgconn"

// Execer runs a statement that returns no rows.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// RowsQuerier runs a statement that returns rows.
type RowsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Querier is the statement surface a pgx pool, connection and transaction share, so a
// store written against it runs the same on its own or inside a caller's transaction.
// Stores that need more (batches, transactions of their own) declare that themselves.
type Querier interface {
	Execer
	RowsQuerier
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Select runs a query and collects every row with scan (pgx.RowTo, pgx.RowToStructByPos
// or a store's own). A failed query, row or iteration comes back as "<what>: <cause>";
// no rows give an empty, non-nil slice, which a route encodes as [] rather than null.
func Select[T any](ctx context.Context, q RowsQuerier, what string, scan pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ExecOne runs a statement that addresses one row by its key (an UPDATE or DELETE) and
// returns notFound, unwrapped so callers may compare it, when it changed no row. Any
// other failure comes back as "<what>: <cause>".
func ExecOne(ctx context.Context, db Execer, notFound error, what string, sql string, args ...any) error {
	tag, err := db.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound
	}
	return nil
}
