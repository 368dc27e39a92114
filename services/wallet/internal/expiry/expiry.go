// Package expiry deletes keychain cache entries that expired a while ago. The keychain
// caches resolved values per execution (and globally); an entry past its expires_at is
// never served again (a read answers "expired" and a resolve fetches anew), and the
// api's retention does not reach the wallet's tables, so without this job the rows of
// finished executions, their sealed values included, would stay for ever.
//
// A pass deletes in bounded batches (each its own statement) under a session advisory
// lock, so that of several wallet replicas one deletes at a time and the others skip.
package expiry

import "context"
import "fmt"
import "log/slog"
import "time"

import "github.com/jackc/pgx/v5/pgxpool"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/periodic"
import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/promx"

// Defaults of a Sweeper.
const (
	// DefaultGrace keeps an entry this long past its expiry: a read in that window still
	// answers "expired" (with expires_at) rather than "not_found", and an execution that
	// runs a little late finds its entry to refresh.
	DefaultGrace = time.Hour
	// DefaultBatchRows bounds each DELETE.
	DefaultBatchRows = 1000
	// DefaultMaxBatches bounds one pass: a large backlog is cleared over several passes.
	DefaultMaxBatches = 100
)

// lockName names the pass's advisory lock (pg.Exclusive).
const lockName = "keychain-expiry"

// Deleter is the keychain table's owner.
type Deleter interface {
	DeleteExpired(ctx context.Context, grace time.Duration, limit int) (int64, error)
}

// Config tunes a Sweeper.
type Config struct {
	// Interval between passes; 0 turns the job off (NOETL_KEYCHAIN_CLEANUP_INTERVAL).
	Interval time.Duration
	// Grace, BatchRows and MaxBatches: defaults above when not positive.
	Grace                 time.Duration
	BatchRows, MaxBatches int
}

// Sweeper runs expiry passes.
type Sweeper struct {
	pool    *pgxpool.Pool
	store   Deleter
	cfg     Config
	deleted prometheus.Counter
	log     *slog.Logger
}

// New returns a sweeper; its metric is registered on reg.
func New(pool *pgxpool.Pool, store Deleter, cfg Config, reg prometheus.Registerer, log *slog.Logger) *Sweeper {
	cfg.Grace = config.PositiveOr(cfg.Grace, DefaultGrace)
	cfg.BatchRows = config.PositiveOr(cfg.BatchRows, DefaultBatchRows)
	cfg.MaxBatches = config.PositiveOr(cfg.MaxBatches, DefaultMaxBatches)
	deleted := promx.Counter(reg, "noetl_keychain_expired_rows_deleted_total",
		"Keychain cache entries deleted after their expiry (NOETL_KEYCHAIN_CLEANUP_INTERVAL).")
	return &Sweeper{pool: pool, store: store, cfg: cfg, deleted: deleted, log: log}
}

// Run passes every Interval until ctx ends, the first one Interval after the start (a
// wallet migrating its schema at startup has it by then). It does nothing when Interval
// is 0.
func (s *Sweeper) Run(ctx context.Context) {
	if s.cfg.Interval <= 0 {
		s.log.Info("keychain expiry cleanup off (NOETL_KEYCHAIN_CLEANUP_INTERVAL=0)")
		return
	}
	periodic.Passes(ctx, s.cfg.Interval, periodic.AfterInterval, s.log, "keychain expiry", func(ctx context.Context) ([]any, error) {
		res, err := s.Pass(ctx)
		if res.Deleted == 0 {
			return nil, err
		}
		return []any{slog.Int64("deleted", res.Deleted)}, err
	})
}

// Result says what one pass did.
type Result struct {
	// Skipped: another wallet replica holds the lock; this pass did nothing.
	Skipped bool
	// Deleted counts the entries deleted.
	Deleted int64
}

// Pass deletes the entries that expired more than Grace ago, BatchRows at a time, up to
// MaxBatches batches.
func (s *Sweeper) Pass(ctx context.Context) (Result, error) {
	var res Result
	ran, err := pg.Exclusive(ctx, s.pool, lockName, func() error {
		for range s.cfg.MaxBatches {
			n, err := s.store.DeleteExpired(ctx, s.cfg.Grace, s.cfg.BatchRows)
			res.Deleted += n
			s.deleted.Add(float64(n))
			if err != nil {
				return fmt.Errorf("keychain expiry: %w", err)
			}
			if n < int64(s.cfg.BatchRows) {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	res.Skipped = !ran && err == nil
	return res, err
}
