package expiry

import "context"
import "fmt"
import "io"
import "log/slog"
import "slices"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/noetl/controlplane/services/wallet/internal/keychain"
import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/testkit"

type fixture struct {
	t  *testing.T
	s  *testkit.Schema
	sw *Sweeper
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	s := testkit.NewSchema(t, migrations.Set)
	sw := New(s.Pool, keychain.NewStore(s.Pool), cfg, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &fixture{t: t, s: s, sw: sw}
}

// entry inserts a keychain row whose expires_at is the database's now() plus offset
// (no expiry when offset is nil).
func (f *fixture) entry(key string, offset *time.Duration) {
	f.t.Helper()
	var secs *float64
	if offset != nil {
		v := offset.Seconds()
		secs = &v
	}
	if _, err := f.s.Pool.Exec(context.Background(), `
		INSERT INTO keychain (cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type,
			execution_id, data_encrypted, expires_at)
		VALUES ($1, $1, 1, 'secret', 'secret', 'local', 7, 'sealed',
			CASE WHEN $2::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $2::float8) END)`, key, secs); err != nil {
		f.t.Fatalf("insert %s: %v", key, err)
	}
}

func (f *fixture) keys() []string {
	f.t.Helper()
	rows, err := f.s.Pool.Query(context.Background(), `SELECT cache_key FROM keychain ORDER BY cache_key`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

func (f *fixture) pass(want Result) {
	f.t.Helper()
	got, err := f.sw.Pass(context.Background())
	if err != nil || got != want {
		f.t.Fatalf("pass = %+v %v, want %+v", got, err, want)
	}
}

func dur(d time.Duration) *time.Duration { return &d }

// TestPassDeletesEntriesPastTheGrace: an entry that expired more than the grace ago
// goes, in batches; one still valid, expired within the grace, or without an expiry
// stays; the metric counts what went.
func TestPassDeletesEntriesPastTheGrace(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Interval: time.Minute, Grace: time.Hour, BatchRows: 2})
	for i := range 5 {
		f.entry(fmt.Sprintf("old-%d", i), dur(-2*time.Hour))
	}
	f.entry("valid", dur(time.Hour))
	f.entry("within-grace", dur(-time.Minute))
	f.entry("no-expiry", nil)

	f.pass(Result{Deleted: 5})
	if got, want := f.keys(), []string{"no-expiry", "valid", "within-grace"}; !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	if got := testutil.ToFloat64(f.sw.deleted); got != 5 {
		t.Fatalf("noetl_keychain_expired_rows_deleted_total = %v, want 5", got)
	}
	f.pass(Result{})
	if got := testutil.ToFloat64(f.sw.deleted); got != 5 {
		t.Fatalf("metric moved on an empty pass: %v", got)
	}
}

// TestPassIsBounded: one pass deletes at most MaxBatches*BatchRows rows; the rest go on
// the next pass.
func TestPassIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Interval: time.Minute, BatchRows: 2, MaxBatches: 2})
	for i := range 5 {
		f.entry(fmt.Sprintf("old-%d", i), dur(-2*time.Hour))
	}
	f.pass(Result{Deleted: 4})
	f.pass(Result{Deleted: 1})
}

// TestPassSkipsWhileAnotherReplicaCleans: the lock another wallet replica holds makes a
// pass do nothing; once released, the next pass deletes.
func TestPassSkipsWhileAnotherReplicaCleans(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Interval: time.Minute})
	f.entry("old", dur(-2*time.Hour))
	unlock, ok, err := pg.TryLock(context.Background(), f.s.Pool, lockName)
	if err != nil || !ok {
		t.Fatalf("take the lock as another replica: %v %v", ok, err)
	}
	f.pass(Result{Skipped: true})
	unlock()
	f.pass(Result{Deleted: 1})
	// The pass released its lock: another replica can take it now.
	unlock, ok, err = pg.TryLock(context.Background(), f.s.Pool, lockName)
	if err != nil || !ok {
		t.Fatalf("the pass kept its lock: %v %v", ok, err)
	}
	unlock()
}
