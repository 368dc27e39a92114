package keychain

import "context"
import "errors"
import "fmt"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/wallet/internal/sealedrows"
import "github.com/noetl/controlplane/shared/pg"

// ErrNotFound is a missing cache entry.
var ErrNotFound = errors.New("keychain entry not found")

// Entry is one keychain row (the columns the wallet reads).
type Entry struct {
	CacheKey      string
	Name          string
	CatalogID     int64
	ScopeType     string
	ExecutionID   *int64
	DataEncrypted string
	ExpiresAt     *time.Time // nil: never expires
	Expired       bool       // expires_at < now() at read time (database clock)
	CreatedAt     time.Time
	AccessedAt    *time.Time
	AccessCount   int64
	AutoRenew     bool
}

// Store is the SQL of the keychain table.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Read returns the entry with its encrypted data, or ErrNotFound. It does not count an
// access: Touch does, once the value is actually released.
func (s *Store) Read(ctx context.Context, cacheKey string) (Entry, error) {
	e := Entry{CacheKey: cacheKey}
	err := s.pool.QueryRow(ctx, `
		SELECT data_encrypted, expires_at, COALESCE(expires_at < now(), false),
			COALESCE(auto_renew, false), COALESCE(access_count, 0)
		FROM keychain WHERE cache_key = $1`, cacheKey).
		Scan(&e.DataEncrypted, &e.ExpiresAt, &e.Expired, &e.AutoRenew, &e.AccessCount)
	if err = pg.RowError(err, ErrNotFound, "read keychain entry"); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Touch counts one access and returns the new access count (ErrNotFound when the entry
// was deleted meanwhile).
func (s *Store) Touch(ctx context.Context, cacheKey string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
		UPDATE keychain SET access_count = COALESCE(access_count, 0) + 1, accessed_at = now()
		WHERE cache_key = $1 RETURNING access_count`, cacheKey).Scan(&n)
	if err = pg.RowError(err, ErrNotFound, "count keychain access"); err != nil {
		return 0, err
	}
	return n, nil
}

// Upsert writes an entry; on a cache-key conflict the data, expiry, auto_renew and
// renew_config are replaced (upstream's rule), and so is execution_id: the cache key
// decides it (NULL for a global entry), and a row written before that rule is corrected
// by its next write.
func (s *Store) Upsert(ctx context.Context, e Entry, renewConfig *string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO keychain (cache_key, catalog_id, keychain_name, credential_type, cache_type, scope_type,
			execution_id, data_encrypted, expires_at, auto_renew, renew_config)
		VALUES ($1, $2, $3, 'secret', 'secret', $4, $5, $6, $7, $8, $9::jsonb)
		ON CONFLICT (cache_key) DO UPDATE SET data_encrypted = EXCLUDED.data_encrypted, execution_id = EXCLUDED.execution_id,
			expires_at = EXCLUDED.expires_at, auto_renew = EXCLUDED.auto_renew, renew_config = EXCLUDED.renew_config`,
		e.CacheKey, e.CatalogID, e.Name, e.ScopeType, e.ExecutionID, e.DataEncrypted, e.ExpiresAt, e.AutoRenew, renewConfig)
	if err != nil {
		return fmt.Errorf("write keychain entry: %w", err)
	}
	return nil
}

// Sealed is the keychain table as a table of sealed values keyed by its primary key
// cache_key (there is no id to scan by), for the key rotation and the key checks. Its
// Swap is, beside Upsert, the other statement that writes data_encrypted.
func (s *Store) Sealed() *sealedrows.Table[string] {
	return sealedrows.New[string](s.pool, "keychain", sealedrows.Queries{
		Rows: `SELECT cache_key, data_encrypted FROM keychain`,
		Swap: `UPDATE keychain SET data_encrypted = $2 WHERE cache_key = $1 AND data_encrypted = $3`,
	})
}

// Delete removes an entry and reports whether it existed.
func (s *Store) Delete(ctx context.Context, cacheKey string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM keychain WHERE cache_key = $1`, cacheKey)
	if err != nil {
		return false, fmt.Errorf("delete keychain entry: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// DeleteExpired deletes at most limit entries that expired more than grace ago (by the
// database clock, as Read judges expiry) and reports how many it deleted. An entry
// without expires_at never expires and stays.
func (s *Store) DeleteExpired(ctx context.Context, grace time.Duration, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM keychain WHERE cache_key = ANY (ARRAY(
		SELECT cache_key FROM keychain WHERE expires_at < now() - make_interval(secs => $1) LIMIT $2))`,
		grace.Seconds(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete expired keychain entries: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ListCatalog returns a catalog's entries newest first, without data.
func (s *Store) ListCatalog(ctx context.Context, catalogID int64) ([]Entry, error) {
	return pg.Select(ctx, s.pool, "list keychain entries", func(r pgx.CollectableRow) (Entry, error) {
		e := Entry{CatalogID: catalogID}
		err := r.Scan(&e.CacheKey, &e.Name, &e.ScopeType, &e.ExecutionID, &e.ExpiresAt, &e.Expired,
			&e.AccessCount, &e.AccessedAt, &e.CreatedAt)
		return e, err
	}, `
		SELECT cache_key, keychain_name, scope_type, execution_id, expires_at, COALESCE(expires_at < now(), false),
			COALESCE(access_count, 0), accessed_at, created_at
		FROM keychain WHERE catalog_id = $1 ORDER BY created_at DESC, cache_key`, catalogID)
}
