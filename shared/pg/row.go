package pg

import "errors"
import "fmt"

import "github.com/jackc/pgx/v5"

// RowError is the error of a read or write that addresses one row by its key
// (QueryRow(...).Scan): notFound, unwrapped so callers may compare it, when there is no
// such row; "<what>: <cause>" for any other failure; nil when the row was read.
func RowError(err, notFound error, what string) error {
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return notFound
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
