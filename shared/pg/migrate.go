package pg

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	out := make([]Migration, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q: name must start with a number and an underscore", name)
		}
		body, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// migrationsFor checks the schema name (it is spliced into SQL as an identifier) and
// returns the migrations.
func migrationsFor(op, schema string) ([]Migration, error) {
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("%s: invalid schema name %q", op, schema)
	}
	return Migrations()
}

// MigrateResult says what a migrate run did.
type MigrateResult struct {
	Applied []string
	Current int
}

// Migrate creates the schema if needed and applies every migration not yet recorded in
// schema_migrations, all in one transaction. A transaction-scoped advisory lock keyed on
// the schema name serialises concurrent runs: when two replicas start at once, the second
// waits, then finds nothing left to do. Either every pending migration lands or none does.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) (MigrateResult, error) {
	var res MigrateResult
	migs, err := migrationsFor("migrate", schema)
	if err != nil {
		return res, err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('noetl-migrate:' || $1, 0))`, schema); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		q := QuoteIdent(schema)
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+q); err != nil {
			return fmt.Errorf("create schema %s: %w", schema, err)
		}
		// SET LOCAL keeps the search_path change inside this transaction, so the pooled
		// connection goes back clean.
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+q); err != nil {
			return fmt.Errorf("set search_path: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			name TEXT NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied := map[int]bool{}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			applied[v] = true
			res.Current = max(res.Current, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for _, m := range migs {
			if applied[m.Version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("record migration %s: %w", m.Name, err)
			}
			res.Applied = append(res.Applied, m.Name)
			res.Current = max(res.Current, m.Version)
		}
		return nil
	})
	if err != nil {
		return MigrateResult{}, err
	}
	return res, nil
}

// MigrateStatus is what `noetl-api migrate status` reports.
type MigrateStatus struct {
	Current int      // highest applied version (0: none)
	Applied []string // names of the applied migrations this binary knows
	Pending []string // names of the migrations this binary ships that are not applied
}

// Status reads which migrations are applied, changing nothing (no schema or table is
// created when missing).
func Status(ctx context.Context, pool *pgxpool.Pool, schema string) (MigrateStatus, error) {
	var st MigrateStatus
	migs, err := migrationsFor("migrate status", schema)
	if err != nil {
		return st, err
	}
	applied := map[int]bool{}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, QuoteIdent(schema)+".schema_migrations").Scan(&exists); err != nil {
		return st, fmt.Errorf("migrate status: %w", err)
	}
	if exists {
		rows, err := pool.Query(ctx, "SELECT version FROM "+QuoteIdent(schema)+".schema_migrations")
		if err != nil {
			return st, fmt.Errorf("read schema_migrations: %w", err)
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return st, fmt.Errorf("read schema_migrations: %w", err)
		}
		for _, v := range versions {
			applied[int(v)] = true
			st.Current = max(st.Current, int(v))
		}
	}
	for _, m := range migs {
		if applied[m.Version] {
			st.Applied = append(st.Applied, m.Name)
		} else {
			st.Pending = append(st.Pending, m.Name)
		}
	}
	return st, nil
}
