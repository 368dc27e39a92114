package keychain

import "context"
import "errors"
import "time"

// Values resolved from a secret provider on a credential miss are cached here too, as
// upstream does: scope local to the execution, so the cache key is
// <alias>:<catalog_id>:<execution_id>. These two methods are that cache for package
// resolve; they record no audit row of their own, because the credential read that
// triggered them records one.

// Cached returns the live cached value of alias for the execution, if any, with the
// row's expiry (nil: never expires), from which the resolver decides on a refresh.
// Reading it counts an access, as a keychain GET does.
func (s *Service) Cached(ctx context.Context, catalogID int64, alias string, executionID int64) ([]byte, *time.Time, bool, error) {
	key := CacheKey(alias, catalogID, ScopeLocal, &executionID)
	e, err := s.store.Read(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if e.Expired {
		return nil, nil, false, nil
	}
	data, err := s.env.Open(ctx, e.DataEncrypted)
	if err != nil {
		return nil, nil, false, err
	}
	if _, err := s.store.Touch(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
		clear(data)
		return nil, nil, false, err
	}
	return data, e.ExpiresAt, true, nil
}

// Remember caches a resolved value until expiresAt.
func (s *Service) Remember(ctx context.Context, catalogID int64, alias string, executionID int64, data []byte, expiresAt time.Time) error {
	stored, err := s.env.Seal(ctx, data)
	if err != nil {
		return err
	}
	exp := expiresAt.UTC().Truncate(time.Microsecond)
	return s.store.Upsert(ctx, Entry{
		CacheKey: CacheKey(alias, catalogID, ScopeLocal, &executionID), Name: alias, CatalogID: catalogID,
		ScopeType: ScopeLocal, ExecutionID: &executionID, DataEncrypted: stored, ExpiresAt: &exp,
	}, nil)
}
