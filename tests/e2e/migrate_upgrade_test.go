package e2e

import "os"
import "path/filepath"
import "slices"
import "sort"
import "strings"
import "testing"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/testkit"

// TestMigrateUpgradesTheSingleHistory: before each service owned its migrations, one
// history (testdata/legacy-migrations, as `noetl-api migrate` applied it) created every
// table. A schema at any point of that history is upgraded by the services' own
// `migrate` commands without running a statement twice, and ends identical to a schema
// migrated from scratch: same tables, columns, defaults, indexes and constraints.
func TestMigrateUpgradesTheSingleHistory(t *testing.T) {
	t.Parallel()
	needBinaries(t)
	fresh := testkit.UniqueName("up_fresh_")
	t.Cleanup(func() { testkit.DropSchema(t, fresh) })
	migrateServices(t, fresh)
	want := describeSchema(t, fresh)

	legacy := legacyMigrations(t)
	for _, upTo := range []int{len(legacy), 4, 1} {
		t.Run(legacy[upTo-1].name, func(t *testing.T) {
			t.Parallel()
			schema := testkit.UniqueName("up_legacy_")
			t.Cleanup(func() { testkit.DropSchema(t, schema) })
			db := testkit.OpenURL(t, testkit.DatabaseURL())
			applyLegacy(t, db, schema, legacy[:upTo])

			out := migrateServices(t, schema)
			if upTo == len(legacy) {
				// Nothing of the old history runs again; only what came after it.
				for _, o := range out {
					if strings.Contains(o, "0001_base") || strings.Contains(o, "0002_") || strings.Contains(o, "0003_") {
						t.Errorf("a legacy migration ran again:\n%s", o)
					}
				}
			}
			got := describeSchema(t, schema)
			if !slices.Equal(got, want) {
				t.Fatalf("upgraded schema differs from a fresh one:\n%s", diffLines(want, got))
			}
			rows := serviceRows(t, db, schema)
			if wantRows := serviceRows(t, db, fresh); !slices.Equal(rows, wantRows) {
				t.Fatalf("per-service history = %v, want %v", rows, wantRows)
			}
		})
	}
}

type legacyMigration struct{ name, sql string }

func legacyMigrations(t *testing.T) []legacyMigration {
	t.Helper()
	files, err := filepath.Glob("testdata/legacy-migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("legacy migrations: %v (%d files)", err, len(files))
	}
	sort.Strings(files)
	var out []legacyMigration
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, legacyMigration{strings.TrimSuffix(filepath.Base(f), ".sql"), string(body)})
	}
	return out
}

// applyLegacy does what the single-history migrator did: one schema_migrations keyed by
// version, every file applied with search_path set to the schema.
func applyLegacy(t *testing.T, db *pgxpool.Pool, schema string, migs []legacyMigration) {
	t.Helper()
	ctx := t.Context()
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for _, stmt := range []string{
			"CREATE SCHEMA " + quote(schema),
			"SET LOCAL search_path TO " + quote(schema),
			`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		for i, m := range migs {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, i+1, m.name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("apply the legacy history: %v", err)
	}
}

// migrateServices runs `noetl-api migrate` and `noetl-wallet migrate` and returns their
// output.
func migrateServices(t *testing.T, schema string) []string {
	t.Helper()
	env := map[string]string{"DATABASE_URL": testkit.DatabaseURL(), "NOETL_SCHEMA": schema}
	var outs []string
	for _, svc := range []string{"api", "wallet"} {
		code, out := runToExit(t, svc, env, 60*time.Second, "migrate")
		if code != 0 {
			t.Fatalf("noetl-%s migrate exited %d:\n%s", svc, code, out)
		}
		outs = append(outs, out)
	}
	return outs
}

// describeSchema lists the schema's columns, indexes, constraints, views, functions and
// table options, one line each with the schema's name taken out, sorted.
func describeSchema(t *testing.T, schema string) []string {
	t.Helper()
	db := testkit.OpenURL(t, testkit.DatabaseURL())
	q := `
	SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable || ' default=' || coalesce(column_default, '')
	  FROM information_schema.columns WHERE table_schema = $1 AND table_name <> 'schema_migrations'
	UNION ALL
	SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename <> 'schema_migrations'
	UNION ALL
	SELECT 'constraint ' || c.relname || '.' || con.conname || ' ' || pg_get_constraintdef(con.oid)
	  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = $1 AND c.relname <> 'schema_migrations'
	UNION ALL
	SELECT 'options ' || c.relname || ' ' || coalesce(array_to_string(c.reloptions, ','), '')
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'S')
	UNION ALL
	SELECT 'function ' || p.proname || ' ' || md5(p.prosrc) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
	UNION ALL
	SELECT 'row resource ' || name FROM ` + quote(schema) + `.resource`
	rows, err := db.Query(t.Context(), q, schema)
	if err != nil {
		t.Fatalf("describe %s: %v", schema, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, schema, "<schema>")
	}
	sort.Strings(lines)
	if len(lines) < 50 {
		t.Fatalf("describe %s: only %d lines:\n%s", schema, len(lines), strings.Join(lines, "\n"))
	}
	return lines
}

// serviceRows lists the per-service history (service:version:name), legacy rows left out.
func serviceRows(t *testing.T, db *pgxpool.Pool, schema string) []string {
	t.Helper()
	rows, err := db.Query(t.Context(), `SELECT service || ':' || version || ':' || name FROM `+quote(schema)+`.schema_migrations
		WHERE service <> 'legacy' ORDER BY service, version`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffLines(want, got []string) string {
	var b strings.Builder
	for _, l := range want {
		if !slices.Contains(got, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
