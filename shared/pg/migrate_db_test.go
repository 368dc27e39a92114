// These tests use shared/testkit, which imports pg, so they live in the external test
// package to avoid an import cycle.
package pg_test

import "context"
import "errors"
import "fmt"
import "os"
import "slices"
import "strings"
import "sync"
import "testing"
import "testing/fstest"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/testkit"

// testSet is a small history of the migrator's own (testdata/migrations); the services'
// real histories are tested in their migrations packages and end to end.
var testSet = pg.MigrationSet{Service: "test", Files: os.DirFS("testdata/migrations")}

func ctxT(t *testing.T) context.Context { return testkit.Context(t, 60*time.Second) }

// freshSchema reserves a schema name that does not exist yet and drops it at the end.
func freshSchema(t *testing.T, prefix string) string {
	t.Helper()
	name := testkit.UniqueName(prefix)
	t.Cleanup(func() { testkit.DropSchema(t, name) })
	return name
}

func openPool(t *testing.T, schema string) *pgxpool.Pool {
	t.Helper()
	pool, err := pg.Open(ctxT(t), testkit.DBConfig(schema))
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func migrationNames(t *testing.T) ([]string, int) {
	t.Helper()
	migs, err := testSet.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(migs))
	for i, m := range migs {
		names[i] = m.Name
	}
	return names, migs[len(migs)-1].Version
}

// tablesIn lists the ordinary tables of a schema.
func tablesIn(t *testing.T, pool *pgxpool.Pool, schema string) []string {
	t.Helper()
	rows, err := pool.Query(ctxT(t), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

type migrationRow struct {
	Version int
	Name    string
}

func recorded(t *testing.T, pool *pgxpool.Pool, schema string) []migrationRow {
	t.Helper()
	rows, err := pool.Query(ctxT(t), `SELECT version, name FROM `+pg.QuoteIdent(schema)+`.schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var r migrationRow
		if err := rows.Scan(&r.Version, &r.Name); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func checkRecorded(t *testing.T, pool *pgxpool.Pool, schema string) {
	t.Helper()
	names, _ := migrationNames(t)
	got := recorded(t, pool, schema)
	if len(got) != len(names) {
		t.Fatalf("schema_migrations has %d rows, want %d: %v", len(got), len(names), got)
	}
	for i, r := range got {
		if r.Name != names[i] {
			t.Errorf("schema_migrations row %d = %+v, want %s", i, r, names[i])
		}
	}
}

func TestMigrateTwiceIsIdempotent(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t, "t_mig_")
	pool := openPool(t, schema)
	names, last := migrationNames(t)

	res, err := pg.Migrate(ctxT(t), pool, schema, testSet)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if !slices.Equal(res.Applied, names) || res.Current != last {
		t.Errorf("first Migrate = %+v, want applied %v current %d", res, names, last)
	}
	tables := tablesIn(t, pool, schema)
	for _, want := range []string{"schema_migrations", "runtime", "event", "catalog", "credential"} {
		if !slices.Contains(tables, want) {
			t.Errorf("table %s missing from %s: %v", want, schema, tables)
		}
	}

	res, err = pg.Migrate(ctxT(t), pool, schema, testSet)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(res.Applied) != 0 || res.Current != last {
		t.Errorf("second Migrate = %+v, want nothing applied, current %d", res, last)
	}
	if again := tablesIn(t, pool, schema); !slices.Equal(again, tables) {
		t.Errorf("tables changed on the second run: %v -> %v", tables, again)
	}
	checkRecorded(t, pool, schema)
}

// TestMigrateConcurrently: replicas starting at the same moment, each with its own pool,
// all succeed; the migrations are applied exactly once.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 5} {
		t.Run(fmt.Sprintf("pools=%d", n), func(t *testing.T) {
			schema := freshSchema(t, "t_migc_")
			names, last := migrationNames(t)
			pools := make([]*pgxpool.Pool, n)
			for i := range pools {
				pools[i] = openPool(t, schema)
				// Open a connection ahead so the calls really start together.
				if err := pg.Ping(ctxT(t), pools[i], 10*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			start := make(chan struct{})
			results := make([]pg.MigrateResult, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range pools {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					results[i], errs[i] = pg.Migrate(ctxT(t), pools[i], schema, testSet)
				}()
			}
			close(start)
			wg.Wait()
			applied := 0
			for i := range n {
				if errs[i] != nil {
					t.Errorf("Migrate %d: %v", i, errs[i])
					continue
				}
				if results[i].Current != last {
					t.Errorf("Migrate %d: current = %d, want %d", i, results[i].Current, last)
				}
				if len(results[i].Applied) > 0 {
					applied++
					if !slices.Equal(results[i].Applied, names) {
						t.Errorf("Migrate %d applied %v, want all of %v", i, results[i].Applied, names)
					}
				}
			}
			if applied != 1 {
				t.Errorf("%d runs applied migrations, want exactly 1", applied)
			}
			checkRecorded(t, pools[0], schema)

			// One set of tables: the same list as a schema migrated once, each exactly once.
			ref := testkit.NewSchema(t, testSet)
			want := tablesIn(t, ref.Pool, ref.Name)
			if got := tablesIn(t, pools[0], schema); !slices.Equal(got, want) {
				t.Errorf("tables = %v, want %v", got, want)
			}
		})
	}
}

// TestSchemaIsHonoured: tables land in NOETL_SCHEMA, pool connections have search_path
// set to it (so unqualified names work) and run in UTC.
func TestSchemaIsHonoured(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"t_schema_", "T_Mixed_"} {
		t.Run(prefix, func(t *testing.T) {
			t.Parallel()
			schema := freshSchema(t, prefix)
			pool := openPool(t, schema)
			if _, err := pg.Migrate(ctxT(t), pool, schema, testSet); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			ctx := ctxT(t)
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'runtime'`, schema).Scan(&n); err != nil || n != 1 {
				t.Errorf("runtime table in %s: %d, %v", schema, n, err)
			}
			var current, searchPath, tz string
			if err := pool.QueryRow(ctx, `SELECT current_schema(), current_setting('search_path'), current_setting('TimeZone')`).Scan(&current, &searchPath, &tz); err != nil {
				t.Fatal(err)
			}
			if current != schema {
				t.Errorf("current_schema() = %q, want %q", current, schema)
			}
			if searchPath != pg.QuoteIdent(schema) {
				t.Errorf("search_path = %q, want %q", searchPath, pg.QuoteIdent(schema))
			}
			if tz != "UTC" {
				t.Errorf("TimeZone = %q, want UTC", tz)
			}
			// Unqualified names resolve to the schema, and a column default that calls the
			// schema's own function works.
			if _, err := pool.Exec(ctx, `INSERT INTO catalog (path, version, kind, content) VALUES ('p', 1, 'playbook', 'x')`); err != nil {
				t.Fatalf("insert into unqualified catalog: %v", err)
			}
			var id int64
			if err := pool.QueryRow(ctx, `SELECT catalog_id FROM `+pg.QuoteIdent(schema)+`.catalog WHERE path = 'p'`).Scan(&id); err != nil || id <= 0 {
				t.Errorf("catalog row in %s: id %d, %v", schema, id, err)
			}
			// TIMESTAMP columns written with now() hold UTC wall time.
			var skew float64
			if err := pool.QueryRow(ctx, `SELECT abs(extract(epoch FROM (now() AT TIME ZONE 'UTC') - created_at)) FROM catalog WHERE path = 'p'`).Scan(&skew); err != nil || skew > 60 {
				t.Errorf("catalog.created_at is %v s away from UTC now (%v)", skew, err)
			}
			// Every pooled connection, not just the first, has the settings.
			conns := make([]*pgxpool.Conn, 0, 3)
			for range 3 {
				c, err := pool.Acquire(ctx)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			for i, c := range conns {
				var sp, z string
				if err := c.QueryRow(ctx, `SELECT current_setting('search_path'), current_setting('TimeZone')`).Scan(&sp, &z); err != nil {
					t.Fatal(err)
				}
				if sp != pg.QuoteIdent(schema) || z != "UTC" {
					t.Errorf("connection %d: search_path %q TimeZone %q", i, sp, z)
				}
				c.Release()
			}
		})
	}
}

// TestMigrateLeavesConnectionClean: the migrator's search_path change is transaction-local;
// a pool for another schema keeps its own search_path afterwards.
func TestMigrateLeavesConnectionClean(t *testing.T) {
	t.Parallel()
	home := freshSchema(t, "t_home_")
	other := freshSchema(t, "t_other_")
	cfg := testkit.DBConfig(home)
	cfg.MaxConns = 1
	pool, err := pg.Open(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pg.Migrate(ctxT(t), pool, other, testSet); err != nil {
		t.Fatalf("Migrate %s: %v", other, err)
	}
	var sp string
	if err := pool.QueryRow(ctxT(t), `SELECT current_setting('search_path')`).Scan(&sp); err != nil {
		t.Fatal(err)
	}
	if sp != pg.QuoteIdent(home) {
		t.Errorf("search_path after migrating another schema = %q, want %q", sp, pg.QuoteIdent(home))
	}
	if tables := tablesIn(t, pool, home); len(tables) != 0 {
		t.Errorf("migrating %s created tables in %s: %v", other, home, tables)
	}
}

func TestMigrateRejectsBadSchemaName(t *testing.T) {
	t.Parallel()
	pool := openPool(t, "unused")
	for _, s := range []string{"", "a-b", `x"; DROP SCHEMA public; --`, "1abc"} {
		if _, err := pg.Migrate(ctxT(t), pool, s, testSet); err == nil || !strings.Contains(err.Error(), "invalid schema name") {
			t.Errorf("Migrate(%q) = %v, want an invalid-name error", s, err)
		}
	}
}

func TestOpenDoesNotWaitAndPingFails(t *testing.T) {
	t.Parallel()
	cfg := testkit.DBConfig("noetl").WithURL("postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=1")
	start := time.Now()
	pool, err := pg.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open against a dead server: %v (it should not connect eagerly)", err)
	}
	defer pool.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Open took %v", d)
	}
	if err := pg.Ping(context.Background(), pool, 2*time.Second); err == nil || !strings.Contains(err.Error(), "postgres") {
		t.Errorf("Ping against a dead server = %v", err)
	}
	live := openPool(t, "noetl")
	if err := pg.Ping(context.Background(), live, 5*time.Second); err != nil {
		t.Errorf("Ping against the test server: %v", err)
	}
}

// TestStatusChangesNothing: `migrate status` reports pending migrations on a schema that
// does not exist without creating it, and reports none once migrated.
func TestStatusChangesNothing(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t, "st_")
	pool := openPool(t, schema)
	names, last := migrationNames(t)

	st, err := pg.Status(ctxT(t), pool, schema, testSet)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != 0 || len(st.Applied) != 0 || !slices.Equal(st.Pending, names) {
		t.Fatalf("status of a missing schema = %+v, want every migration pending", st)
	}
	var exists bool
	if err := pool.QueryRow(ctxT(t), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil || exists {
		t.Fatalf("status created the schema (exists=%v, err=%v)", exists, err)
	}

	if _, err := pg.Migrate(ctxT(t), pool, schema, testSet); err != nil {
		t.Fatal(err)
	}
	st, err = pg.Status(ctxT(t), pool, schema, testSet)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != last || len(st.Pending) != 0 || !slices.Equal(st.Applied, names) {
		t.Fatalf("status after migrate = %+v", st)
	}
	if _, err := pg.Status(ctxT(t), pool, "bad-name", testSet); err == nil {
		t.Fatal("status accepted an invalid schema name")
	}
}

// TestMigrateAdoptsLegacyHistory: a schema migrated under the single history every
// service shared (schema_migrations keyed by version alone) is upgraded in place: each
// set records the legacy versions it maps as its own without running them again, reads
// them as applied before that (status changes nothing), and runs only what is new.
func TestMigrateAdoptsLegacyHistory(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t, "t_legacy_")
	pool := openPool(t, schema)
	ctx := ctxT(t)
	migs, err := testSet.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// The legacy history: versions 1 and 2 applied (the test set's two files), 3 not.
	setup := []string{
		"CREATE SCHEMA " + pg.QuoteIdent(schema),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
		migs[0].SQL, migs[1].SQL,
		`INSERT INTO schema_migrations (version, name) VALUES (1, '0001_base'), (2, '0002_old_name')`,
	}
	for _, stmt := range setup {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatalf("legacy setup %q: %v", stmt, err)
		}
	}
	owner := testSet
	owner.Legacy = map[int]int{1: 1, 2: 2}
	other := pg.MigrationSet{Service: "other", Files: fstest.MapFS{
		"0001_notes.sql": {Data: []byte("CREATE TABLE notes (id BIGINT PRIMARY KEY DEFAULT snowflake_id());")},
	}, Legacy: map[int]int{3: 1}}

	st, err := pg.Status(ctx, pool, schema, owner)
	if err != nil || st.Current != 2 || len(st.Pending) != 0 {
		t.Fatalf("status on the legacy table = %+v, %v; want both adopted versions applied", st, err)
	}
	if err := pg.CheckMigrated(ctx, pool, schema, owner); err != nil {
		t.Fatalf("CheckMigrated on the legacy table: %v", err)
	}
	var nerr *pg.ErrNotMigrated
	if err := pg.CheckMigrated(ctx, pool, schema, other); !errors.As(err, &nerr) || nerr.Have != 0 || !strings.Contains(err.Error(), "run `noetl-other migrate`") {
		t.Fatalf("CheckMigrated(other) = %v, want not migrated naming its command", err)
	}

	res, err := pg.Migrate(ctx, pool, schema, owner)
	if err != nil {
		t.Fatalf("Migrate(owner): %v", err)
	}
	if len(res.Applied) != 0 || res.Current != 2 {
		t.Fatalf("Migrate(owner) = %+v, want nothing run again, current 2", res)
	}
	res, err = pg.Migrate(ctx, pool, schema, other)
	if err != nil {
		t.Fatalf("Migrate(other): %v", err)
	}
	if !slices.Equal(res.Applied, []string{"0001_notes"}) {
		t.Fatalf("Migrate(other) = %+v, want its new migration applied", res)
	}
	rows, err := pool.Query(ctx, `SELECT service || ':' || version || ':' || name FROM schema_migrations ORDER BY service, version`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"legacy:1:0001_base", "legacy:2:0002_old_name", "other:1:0001_notes", "test:1:0001_base", "test:2:0002_event"}
	if !slices.Equal(got, want) {
		t.Fatalf("schema_migrations = %v, want %v", got, want)
	}
	if res, err := pg.Migrate(ctx, pool, schema, owner); err != nil || len(res.Applied) != 0 {
		t.Fatalf("second Migrate(owner) = %+v, %v", res, err)
	}
}
