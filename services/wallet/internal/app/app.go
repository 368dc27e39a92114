// Package app wires the wallet service: credentials, keychain, sealing, KEK rotation and
// the secret audit.
package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/noetl/controlplane/shared/httpx"
	"github.com/noetl/controlplane/shared/ids"
	"github.com/noetl/controlplane/shared/pg"
	"github.com/noetl/controlplane/shared/service"
)

// Run serves the wallet until ctx is cancelled.
func Run(ctx context.Context, cfg Config) error {
	base := service.New("wallet", cfg.Common, cfg.Hooks)
	log := base.Logger
	gen, src, err := ids.NewFromConfig(cfg.IDs)
	if err != nil {
		return err
	}
	log.Info("snowflake generator ready", slog.Int("machine_id", int(gen.MachineID())), slog.String("source", string(src)))
	if !cfg.EncryptionKey.IsSet() {
		log.Warn("NOETL_ENCRYPTION_KEY is not set: every credential and keychain route will answer 500 until it is")
	}
	pool, err := pg.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer pool.Close()

	base.Engine.Use(httpx.GateInternalPrefix(cfg.InternalToken))
	return base.Serve(ctx, httpx.Check{Name: "postgres", Fn: func(ctx context.Context) error { return ping(ctx, pool) }})
}

func ping(ctx context.Context, pool *pgxpool.Pool) error {
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}
