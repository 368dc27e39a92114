package pg

import "context"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "time"

import "github.com/jackc/pgx/v5/pgxpool"

// The helpers below are what a service's `migrate [up|status]` command, its
// NOETL_AUTO_MIGRATE start-up and its readiness probe do with its own MigrationSet; every
// service that owns tables runs them the same way.

// MigrateCommand applies the set's pending migrations and reports to out
// (`noetl-<service> migrate`).
func MigrateCommand(ctx context.Context, cfg Config, set MigrationSet, out io.Writer) error {
	pool, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.AcquireTimeoutDuration()+time.Minute)
	defer cancel()
	res, err := Migrate(ctx, pool, cfg.Schema, set)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", cfg.Describe(), err)
	}
	fmt.Fprintf(out, "schema %s at %s version %d; applied %d migration(s) %v\n", cfg.Schema, set.Service, res.Current, len(res.Applied), res.Applied)
	return nil
}

// StatusCommand reports which of the set's migrations are applied and which are pending,
// changing nothing (`noetl-<service> migrate status`).
func StatusCommand(ctx context.Context, cfg Config, set MigrationSet, out io.Writer) error {
	pool, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.AcquireTimeoutDuration()+10*time.Second)
	defer cancel()
	st, err := Status(ctx, pool, cfg.Schema, set)
	if err != nil {
		return fmt.Errorf("migrate status %s: %w", cfg.Describe(), err)
	}
	fmt.Fprintf(out, "schema %s at %s version %d; %d applied, %d pending\n", cfg.Schema, set.Service, st.Current, len(st.Applied), len(st.Pending))
	for _, n := range st.Pending {
		fmt.Fprintf(out, "pending: %s\n", n)
	}
	if len(st.Pending) > 0 {
		fmt.Fprintf(out, "run `noetl-%s migrate` to apply them\n", set.Service)
	}
	return nil
}

// MigrateWithRetry applies the set at start-up (NOETL_AUTO_MIGRATE), retrying every two
// seconds while the database cannot be reached, until ctx ends.
func MigrateWithRetry(ctx context.Context, pool *pgxpool.Pool, schema string, set MigrationSet, log *slog.Logger) {
	for {
		res, err := Migrate(ctx, pool, schema, set)
		if err == nil {
			log.Info("schema migrated", slog.String("service", set.Service), slog.Int("version", res.Current), slog.Any("applied", res.Applied))
			return
		}
		log.Warn("auto-migrate failed; retrying", slog.String("service", set.Service), slog.Any("error", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// SchemaReady is a readiness check: PostgreSQL answers and the schema carries every
// migration of the set, so a replica on an un-migrated database is not put in rotation.
// The message says what to do.
func SchemaReady(ctx context.Context, pool *pgxpool.Pool, schema string, set MigrationSet) error {
	err := CheckMigrated(ctx, pool, schema, set)
	var notMigrated *ErrNotMigrated
	if err == nil || errors.As(err, &notMigrated) {
		return err
	}
	return fmt.Errorf("%w: check DATABASE_URL or POSTGRES_HOST/POSTGRES_PORT/POSTGRES_USER and that PostgreSQL answers", err)
}
