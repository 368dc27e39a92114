// Package testkit gives tests real dependencies: a PostgreSQL schema of their own, an
// embedded or shared NATS server, generated certificates and a cuttable TCP proxy.
package testkit

import "context"
import "crypto/rand"
import "encoding/hex"
import "net/url"
import "os"
import "testing"
import "time"

import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/pg"

// DatabaseURL is the server tests use: NOETL_TEST_DATABASE_URL, else the machine's
// trust-auth PostgreSQL on 127.0.0.1:5432.
func DatabaseURL() string {
	return envOr("NOETL_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

// envOr is the environment variable name when it is set and not empty, else def: tests
// run against the machine's servers unless CI points them elsewhere.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// UniqueName returns prefix plus random hex, usable as a schema or stream name.
func UniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// DBConfig returns a pg.Config for schema on the test server.
func DBConfig(schema string) pg.Config {
	return pg.Config{
		DatabaseURL:    "",
		Host:           "127.0.0.1",
		Port:           5432,
		User:           "postgres",
		Database:       "postgres",
		MaxConns:       10,
		MinConns:       0,
		AcquireTimeout: 5,
		Schema:         schema,
	}.WithURL(DatabaseURL())
}

// Schema is a migrated schema of one test.
type Schema struct {
	Name   string
	Config pg.Config
	Pool   *pgxpool.Pool
}

// NewSchema creates a fresh schema, applies the given services' migrations (each service
// passes its own set, services/<svc>/migrations) and drops the schema when the test ends.
// Tests in parallel each get their own and never see each other's rows.
func NewSchema(t testing.TB, sets ...pg.MigrationSet) *Schema {
	t.Helper()
	name := UniqueName("t_")
	cfg := DBConfig(name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pg.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pg.QuoteIdent(name)); err != nil {
		pool.Close()
		t.Fatalf("create schema %s: %v (is PostgreSQL running on %s?)", name, err, redact(DatabaseURL()))
	}
	for _, set := range sets {
		if _, err := pg.Migrate(ctx, pool, name, set); err != nil {
			pool.Close()
			t.Fatalf("migrate %s (%s): %v (is PostgreSQL running on %s?)", name, set.Service, err, redact(DatabaseURL()))
		}
	}
	t.Cleanup(func() {
		pool.Close()
		DropSchema(t, name)
	})
	return &Schema{Name: name, Config: cfg, Pool: pool}
}

// DropSchema removes a schema created by a test.
func DropSchema(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, DatabaseURL())
	if err != nil {
		t.Logf("drop schema %s: %v", name, err)
		return
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pg.QuoteIdent(name)+" CASCADE"); err != nil {
		t.Logf("drop schema %s: %v", name, err)
	}
}

func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return pu.Redacted()
}

// OpenURL opens a pool on a URL for assertions, closed at cleanup.
func OpenURL(t testing.TB, u string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatalf("open %s: %v", redact(u), err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Context returns a context for one test's database calls: cancelled when the test ends
// and, so that a stuck query fails the test instead of hanging it, after timeout.
func Context(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}
