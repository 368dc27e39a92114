package keyring

import "context"
import "errors"
import "fmt"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/wallet/internal/sealedrows"

// Store is what the key checks read and write: wallet_key_check, which this package owns,
// and samples of the stored envelopes by their dek.kv, which the tables' owners take.
type Store struct {
	pool   *pgxpool.Pool
	tables []Sampled
}

// NewStore returns a store on pool that samples tables in the order given.
func NewStore(pool *pgxpool.Pool, tables ...Sampled) *Store {
	return &Store{pool: pool, tables: tables}
}

// CheckValue implements CheckStore.
func (s *Store) CheckValue(ctx context.Context, provider, version string) (string, bool, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT check_value FROM wallet_key_check WHERE provider = $1 AND key_version = $2`, provider, version).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read key check value: %w", err)
	}
	return v, true, nil
}

// PutCheckValue implements CheckStore. Replicas starting together race here; the first
// value stays, and every replica compares against it.
func (s *Store) PutCheckValue(ctx context.Context, provider, version, value string) (string, error) {
	var stored string
	err := s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO wallet_key_check (provider, key_version, check_value) VALUES ($1, $2, $3)
			ON CONFLICT (provider, key_version) DO NOTHING RETURNING check_value)
		SELECT check_value FROM ins
		UNION ALL SELECT check_value FROM wallet_key_check WHERE provider = $1 AND key_version = $2
		LIMIT 1`, provider, version, value).Scan(&stored)
	if err != nil {
		return "", fmt.Errorf("store key check value: %w", err)
	}
	return stored, nil
}

// Sampled is a table of sealed values sampled by key version label, as the package that
// owns it exposes it (credentials.Store.Sealed, keychain.Store.Sealed, both
// sealedrows.Table).
type Sampled interface {
	Name() string
	Samples(ctx context.Context, version string, limit int) ([]string, error)
	VersionSamples(ctx context.Context, limit int) ([]sealedrows.Label, error)
}

// Samples implements CheckStore: up to limit values of each table.
func (s *Store) Samples(ctx context.Context, version string, limit int) ([]string, error) {
	var out []string
	for _, t := range s.tables {
		vs, err := t.Samples(ctx, version, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

// LabelSamples are stored values of one table under one key version label.
type LabelSamples struct {
	Table, Version string
	Values         []string
}

// VersionSamples returns, per table and dek.kv present in it, up to limit stored values
// (the wallet's readiness tries them: every label present must have a row the
// configured keys unwrap).
func (s *Store) VersionSamples(ctx context.Context, limit int) ([]LabelSamples, error) {
	var out []LabelSamples
	for _, t := range s.tables {
		labels, err := t.VersionSamples(ctx, limit)
		if err != nil {
			return nil, err
		}
		for _, l := range labels {
			out = append(out, LabelSamples{Table: t.Name(), Version: l.Version, Values: l.Values})
		}
	}
	return out, nil
}
