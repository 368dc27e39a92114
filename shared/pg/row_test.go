package pg

import "errors"
import "fmt"
import "testing"

import "github.com/jackc/pgx/v5"

// TestRowError: no row is the caller's own error, unwrapped; another failure names what
// was being done and still wraps its cause; success is nil.
func TestRowError(t *testing.T) {
	t.Parallel()
	notFound := errors.New("thing not found")
	if err := RowError(fmt.Errorf("scan: %w", pgx.ErrNoRows), notFound, "read thing"); err != notFound {
		t.Errorf("no rows: got %v, want notFound itself", err)
	}
	cause := errors.New("connection reset")
	err := RowError(cause, notFound, "read thing")
	if !errors.Is(err, cause) || err.Error() != "read thing: connection reset" {
		t.Errorf("failure: got %v", err)
	}
	if err := RowError(nil, notFound, "read thing"); err != nil {
		t.Errorf("success: got %v", err)
	}
}
