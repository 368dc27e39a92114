package pg_test

import (
	"errors"
	"testing"

	"github.com/noetl/controlplane/shared/pg"
)

// TestExclusive: fn runs under the lock and its error comes back; while another session
// holds the lock fn is not called; the lock is free again once Exclusive returns.
func TestExclusive(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t, "t_lock_")
	pool := openPool(t, schema)
	if _, err := pool.Exec(ctxT(t), `CREATE SCHEMA `+pg.QuoteIdent(schema)); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	ran, err := pg.Exclusive(ctxT(t), pool, "test-job", func() error { return boom })
	if !ran || !errors.Is(err, boom) {
		t.Fatalf("Exclusive = %v, %v; want ran and fn's error", ran, err)
	}

	unlock, ok, err := pg.TryLock(ctxT(t), pool, "test-job")
	if err != nil || !ok {
		t.Fatalf("TryLock after Exclusive = %v, %v; want the lock free", ok, err)
	}
	called := false
	ran, err = pg.Exclusive(ctxT(t), pool, "test-job", func() error { called = true; return nil })
	if ran || err != nil || called {
		t.Fatalf("Exclusive while held = ran %v, err %v, fn called %v; want skipped", ran, err, called)
	}
	unlock()
	ran, err = pg.Exclusive(ctxT(t), pool, "test-job", func() error { called = true; return nil })
	if !ran || err != nil || !called {
		t.Fatalf("Exclusive after unlock = ran %v, err %v, fn called %v; want it run", ran, err, called)
	}
}
