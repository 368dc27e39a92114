package keyring

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the SQL of the key checks: wallet_key_check, and samples of the stored
// envelopes by their dek.kv (read from the text, so that a value that is not JSON at
// all cannot fail the query).
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

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

// kvExpr extracts dek.kv from a stored envelope's text (NULL for anything else).
const kvExpr = `substring(data_encrypted from '"kv":"([^"]*)"')`

// Samples implements CheckStore.
func (s *Store) Samples(ctx context.Context, version string, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `(SELECT data_encrypted FROM credential WHERE `+kvExpr+` = $1 LIMIT $2)
		UNION ALL (SELECT data_encrypted FROM keychain WHERE `+kvExpr+` = $1 LIMIT $2)`, version, limit)
	if err != nil {
		return nil, fmt.Errorf("sample rows of key version %q: %w", version, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("sample rows of key version %q: %w", version, err)
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
	rows, err := s.pool.Query(ctx, `SELECT t, kv, data_encrypted FROM (
			SELECT 'credential' AS t, `+kvExpr+` AS kv, data_encrypted, row_number() OVER (PARTITION BY `+kvExpr+`) AS n FROM credential
			UNION ALL
			SELECT 'keychain', `+kvExpr+`, data_encrypted, row_number() OVER (PARTITION BY `+kvExpr+`) FROM keychain
		) s WHERE kv IS NOT NULL AND n <= $1 ORDER BY t, kv`, limit)
	if err != nil {
		return nil, fmt.Errorf("sample stored rows by key version: %w", err)
	}
	defer rows.Close()
	var out []LabelSamples
	for rows.Next() {
		var table, kv, data string
		if err := rows.Scan(&table, &kv, &data); err != nil {
			return nil, fmt.Errorf("sample stored rows by key version: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].Table != table || out[n-1].Version != kv {
			out = append(out, LabelSamples{Table: table, Version: kv})
		}
		out[len(out)-1].Values = append(out[len(out)-1].Values, data)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sample stored rows by key version: %w", err)
	}
	return out, nil
}
