package pg_test

import "errors"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/testkit"

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

// TestOpenKeepsMinConnections: POSTGRES_MIN_CONNECTIONS warm connections open without a
// query asking for them (Open used to force the minimum to 0), and Open does not wait
// for them: against a database that does not answer it returns at once.
func TestOpenKeepsMinConnections(t *testing.T) {
	t.Parallel()
	cfg := testkit.DBConfig(freshSchema(t, "t_min_"))
	cfg.MinConns = 3
	pool, err := pg.Open(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if got := pool.Config().MinConns; got != 3 {
		t.Errorf("pool MinConns = %d, want 3", got)
	}
	deadline := time.Now().Add(30 * time.Second)
	for pool.Stat().TotalConns() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections after 30s, want the 3 warm ones", pool.Stat().TotalConns())
		}
		time.Sleep(20 * time.Millisecond) // polling the pool's own count, not a fixed wait
	}

	down := cfg.WithURL("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=1")
	start := time.Now()
	dead, err := pg.Open(ctxT(t), down)
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Open waited %v for a database that does not answer", took)
	}
}
