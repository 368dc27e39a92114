package orchestrator

import "context"
import "errors"
import "testing"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgconn"

// TestTxRetriesConflictsWithinTheCallersDeadline: a deadlock or serialization failure is
// retried, a few times at most; a caller whose context has ended gets its error at once
// instead of the remaining back-offs.
func TestTxRetriesConflictsWithinTheCallersDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conflict := &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
	cases := []struct {
		name      string
		failFirst int // attempts that fail with the conflict
		cancel    bool
		wantCalls int
		wantErr   error
	}{
		{"one conflict then success", 1, false, 2, nil},
		{"always conflicting gives up", 100, false, 4, conflict},
		{"ended context stops retrying", 100, true, 1, context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			err := f.o.tx(ctx, func(pgx.Tx) error {
				calls++
				if tc.cancel {
					cancel()
				}
				if calls <= tc.failFirst {
					return conflict
				}
				return nil
			})
			if calls != tc.wantCalls {
				t.Errorf("fn ran %d times, want %d", calls, tc.wantCalls)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("tx = %v, want %v", err, tc.wantErr)
			}
		})
	}
}
