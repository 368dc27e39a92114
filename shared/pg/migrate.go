package pg

import "context"
import "fmt"
import "io/fs"
import "regexp"
import "sort"
import "strconv"
import "strings"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

// MigrationSet is one service's schema history. Each service owns the tables it reads and
// writes, ships their migrations in its own module (services/<svc>/migrations) and
// applies them with its own `migrate` command; the rows of schema_migrations are tracked
// per service, so one service's upgrade never waits for another's.
type MigrationSet struct {
	// Service names the history in schema_migrations ("api", "wallet").
	Service string
	// Files holds the numbered SQL files (0001_name.sql, ...) at its root.
	Files fs.FS
	// Legacy maps a version of the single history every service shared before histories
	// were split (rows recorded with service "legacy") to the version of this set that
	// carries the same statements. A schema migrated under the old history is upgraded
	// without running anything twice: the legacy rows are recorded as this set's rows.
	Legacy map[int]int
}

// legacyService marks the rows of the single, shared history that preceded per-service
// histories.
const legacyService = "legacy"

var serviceName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the set's migrations in version order.
func (s MigrationSet) Migrations() ([]Migration, error) {
	if !serviceName.MatchString(s.Service) || s.Service == legacyService {
		return nil, fmt.Errorf("migration set: invalid service name %q", s.Service)
	}
	if s.Files == nil {
		return nil, fmt.Errorf("migration set %s: no files", s.Service)
	}
	entries, err := fs.ReadDir(s.Files, ".")
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", s.Service, err)
	}
	out := make([]Migration, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("%s migration %q: name must start with a positive number and an underscore", s.Service, name)
		}
		body, err := fs.ReadFile(s.Files, name)
		if err != nil {
			return nil, fmt.Errorf("read %s migration %q: %w", s.Service, name, err)
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(body)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("migration set %s: no migrations", s.Service)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("%s migrations %q and %q share version %d", s.Service, out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// Latest is the highest version the set ships.
func (s MigrationSet) Latest() (int, error) {
	migs, err := s.Migrations()
	if err != nil {
		return 0, err
	}
	return migs[len(migs)-1].Version, nil
}

// migrationsFor checks the schema name (it is spliced into SQL as an identifier) and
// returns the set's migrations.
func migrationsFor(op, schema string, set MigrationSet) ([]Migration, error) {
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("%s: invalid schema name %q", op, schema)
	}
	return set.Migrations()
}

// MigrateResult says what a migrate run did.
type MigrateResult struct {
	Applied []string
	Current int
}

// Migrate creates the schema if needed and applies every migration of the set not yet
// recorded for its service in schema_migrations, all in one transaction. A
// transaction-scoped advisory lock keyed on the schema name serialises concurrent runs
// (of any service): when two replicas start at once, the second waits, then finds nothing
// left to do. Either every pending migration lands or none does.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, set MigrationSet) (MigrateResult, error) {
	var res MigrateResult
	migs, err := migrationsFor("migrate", schema, set)
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
		if err := ensureHistoryTable(ctx, tx); err != nil {
			return err
		}
		if err := adoptLegacyRows(ctx, tx, set, migs); err != nil {
			return err
		}
		applied, current, err := appliedVersions(ctx, tx, set.Service)
		if err != nil {
			return err
		}
		res.Current = current
		for _, m := range migs {
			if applied[m.Version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %s migration %s: %w", set.Service, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (service, version, name) VALUES ($1, $2, $3)`, set.Service, m.Version, m.Name); err != nil {
				return fmt.Errorf("record %s migration %s: %w", set.Service, m.Name, err)
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

// ensureHistoryTable creates schema_migrations keyed by (service, version), and upgrades
// the table of the single shared history (keyed by version alone) in place: its rows
// become the "legacy" service's.
func ensureHistoryTable(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		service TEXT NOT NULL,
		version INTEGER NOT NULL,
		name TEXT NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
		PRIMARY KEY (service, version))`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var hasService bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'schema_migrations' AND column_name = 'service')`).Scan(&hasService); err != nil {
		return fmt.Errorf("inspect schema_migrations: %w", err)
	}
	if hasService {
		return nil
	}
	for _, stmt := range []string{
		`ALTER TABLE schema_migrations ADD COLUMN service TEXT NOT NULL DEFAULT '` + legacyService + `'`,
		`ALTER TABLE schema_migrations ALTER COLUMN service DROP DEFAULT`,
		`ALTER TABLE schema_migrations DROP CONSTRAINT IF EXISTS schema_migrations_pkey`,
		`ALTER TABLE schema_migrations ADD PRIMARY KEY (service, version)`,
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("upgrade schema_migrations to per-service histories: %w", err)
		}
	}
	return nil
}

// adoptLegacyRows records, for the set's service, the versions whose statements a legacy
// row already applied.
func adoptLegacyRows(ctx context.Context, tx pgx.Tx, set MigrationSet, migs []Migration) error {
	if len(set.Legacy) == 0 {
		return nil
	}
	names := make(map[int]string, len(migs))
	for _, m := range migs {
		names[m.Version] = m.Name
	}
	legacy, _, err := appliedVersions(ctx, tx, legacyService)
	if err != nil {
		return err
	}
	for old, v := range set.Legacy {
		if !legacy[old] {
			continue
		}
		name, ok := names[v]
		if !ok {
			return fmt.Errorf("%s migrations: legacy version %d maps to version %d, which the set does not ship", set.Service, old, v)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (service, version, name) VALUES ($1, $2, $3)
			ON CONFLICT (service, version) DO NOTHING`, set.Service, v, name); err != nil {
			return fmt.Errorf("adopt legacy migration %d as %s %s: %w", old, set.Service, name, err)
		}
	}
	return nil
}

// appliedVersions reads the versions recorded for one service and the highest of them.
func appliedVersions(ctx context.Context, tx pgx.Tx, service string) (map[int]bool, int, error) {
	versions, err := Select(ctx, tx, "read schema_migrations", pgx.RowTo[int32],
		`SELECT version FROM schema_migrations WHERE service = $1`, service)
	if err != nil {
		return nil, 0, err
	}
	applied := make(map[int]bool, len(versions))
	current := 0
	for _, v := range versions {
		applied[int(v)] = true
		current = max(current, int(v))
	}
	return applied, current, nil
}

// MigrateStatus is what a service's `migrate status` reports.
type MigrateStatus struct {
	Current int      // highest applied version (0: none)
	Applied []string // names of the applied migrations this binary knows
	Pending []string // names of the migrations this binary ships that are not applied
}

// Status reads which of the set's migrations are applied, changing nothing (no schema or
// table is created when missing). A schema still on the legacy history reports what the
// next Migrate would adopt as applied.
func Status(ctx context.Context, pool *pgxpool.Pool, schema string, set MigrationSet) (MigrateStatus, error) {
	var st MigrateStatus
	migs, err := migrationsFor("migrate status", schema, set)
	if err != nil {
		return st, err
	}
	applied, err := appliedInSchema(ctx, pool, schema, set)
	if err != nil {
		return st, fmt.Errorf("migrate status: %w", err)
	}
	for _, m := range migs {
		if applied[m.Version] {
			st.Applied = append(st.Applied, m.Name)
			st.Current = max(st.Current, m.Version)
		} else {
			st.Pending = append(st.Pending, m.Name)
		}
	}
	return st, nil
}

// ErrNotMigrated says the schema lacks migrations the running binary ships.
type ErrNotMigrated struct {
	Schema, Service string
	Have, Want      int
}

func (e *ErrNotMigrated) Error() string {
	if e.Have == 0 {
		return fmt.Sprintf("schema %s is not migrated: run `noetl-%s migrate`", e.Schema, e.Service)
	}
	return fmt.Sprintf("schema %s is at %s version %d, this binary needs %d: run `noetl-%s migrate`", e.Schema, e.Service, e.Have, e.Want, e.Service)
}

// CheckMigrated answers nil when every migration of the set is applied to the schema the
// pool uses, and an *ErrNotMigrated naming the command to run otherwise. Readiness probes
// call it, so that a replica on an un-migrated database is not put in rotation.
func CheckMigrated(ctx context.Context, pool *pgxpool.Pool, schema string, set MigrationSet) error {
	st, err := Status(ctx, pool, schema, set)
	if err != nil {
		return err
	}
	if len(st.Pending) > 0 {
		latest, err := set.Latest()
		if err != nil {
			return err
		}
		return &ErrNotMigrated{Schema: schema, Service: set.Service, Have: st.Current, Want: latest}
	}
	return nil
}

// appliedInSchema reads the set's applied versions without writing: the service's own
// rows plus the legacy rows it would adopt.
func appliedInSchema(ctx context.Context, pool *pgxpool.Pool, schema string, set MigrationSet) (map[int]bool, error) {
	table := QuoteIdent(schema) + ".schema_migrations"
	var exists, hasService bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL,
		EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = $2 AND table_name = 'schema_migrations' AND column_name = 'service')`,
		table, schema).Scan(&exists, &hasService); err != nil {
		return nil, err
	}
	applied := map[int]bool{}
	if !exists {
		return applied, nil
	}
	query := "SELECT '" + legacyService + "', version FROM " + table
	if hasService {
		query = "SELECT service, version FROM " + table + " WHERE service IN ($1, '" + legacyService + "')"
	}
	var args []any
	if hasService {
		args = append(args, set.Service)
	}
	rows, err := pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	type row struct {
		Service string
		Version int32
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, err
	}
	for _, r := range got {
		switch {
		case r.Service == set.Service:
			applied[int(r.Version)] = true
		case r.Service == legacyService:
			if v, ok := set.Legacy[int(r.Version)]; ok {
				applied[v] = true
			}
		}
	}
	return applied, nil
}

// Validate checks what a history must hold to be applied safely: versions start at 1
// and increase without gaps, each name carries its version, no statement names a schema
// (tables land in NOETL_SCHEMA through search_path; a qualified name would escape it) and
// every legacy version maps to a version the set ships. Each service's tests call it.
func (s MigrationSet) Validate() error {
	migs, err := s.Migrations()
	if err != nil {
		return err
	}
	shipped := map[int]bool{}
	for i, m := range migs {
		shipped[m.Version] = true
		if m.Version != i+1 {
			return fmt.Errorf("%s migration %s: version %d, want %d (no gaps)", s.Service, m.Name, m.Version, i+1)
		}
		if !strings.HasPrefix(m.Name, fmt.Sprintf("%04d_", m.Version)) {
			return fmt.Errorf("%s migration name %q does not carry its version as four digits", s.Service, m.Name)
		}
		if strings.TrimSpace(m.SQL) == "" {
			return fmt.Errorf("%s migration %s is empty", s.Service, m.Name)
		}
		for _, line := range strings.Split(m.SQL, "\n") {
			code, _, _ := strings.Cut(line, "--")
			if strings.Contains(code, "noetl.") || strings.Contains(strings.ToLower(code), "public.") {
				return fmt.Errorf("%s migration %s qualifies a name with a schema: %q", s.Service, m.Name, strings.TrimSpace(line))
			}
		}
	}
	for old, v := range s.Legacy {
		if !shipped[v] {
			return fmt.Errorf("%s migrations: legacy version %d maps to version %d, which the set does not ship", s.Service, old, v)
		}
	}
	return nil
}
