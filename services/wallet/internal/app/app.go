// Package app wires the wallet service: credentials, keychain, sealing, KEK rotation and
// the secret audit.
package app

import "context"
import "errors"
import "log/slog"
import "sync"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/wallet/internal/apiclient"
import "github.com/noetl/controlplane/services/wallet/internal/audit"
import "github.com/noetl/controlplane/services/wallet/internal/credentials"
import "github.com/noetl/controlplane/services/wallet/internal/crossregion"
import "github.com/noetl/controlplane/services/wallet/internal/expiry"
import "github.com/noetl/controlplane/services/wallet/internal/keychain"
import "github.com/noetl/controlplane/services/wallet/internal/keyring"
import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/build"
import "github.com/noetl/controlplane/services/wallet/internal/residency"
import "github.com/noetl/controlplane/services/wallet/internal/resolve"
import "github.com/noetl/controlplane/services/wallet/internal/rotation"
import "github.com/noetl/controlplane/services/wallet/internal/sealing"
import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/service"

// auditDrainTimeout bounds how long shutdown waits for queued audit rows.
const auditDrainTimeout = 10 * time.Second

// refreshStopTimeout bounds how long shutdown waits for cancelled keychain refreshes.
const refreshStopTimeout = 5 * time.Second

// keyVerifyRetry is how often the key check is retried while the database does not
// answer at startup.
const keyVerifyRetry = 2 * time.Second

// Run serves the wallet until ctx is cancelled.
//
// Run does not validate cfg (LoadConfig does), so in-process tests can build a Config
// directly and listen on port 0, learning the address from Hooks.Ready.
func Run(ctx context.Context, cfg Config) error {
	base := service.New("wallet", cfg.Common, cfg.Hooks)
	log := base.Logger
	gen, src, err := ids.NewFromConfig(cfg.IDs)
	if err != nil {
		return err
	}
	log.Info("snowflake generator ready", slog.Int("machine_id", int(gen.MachineID())), slog.String("source", string(src)))

	ring, err := buildKeyring(cfg.Keys, log)
	if err != nil {
		return err
	}
	api, err := apiclient.New(internalapi.Config{BaseURL: cfg.APIURL, Token: cfg.InternalToken, TLS: cfg.InternalTLS})
	if err != nil {
		return err
	}
	pool, err := pg.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer pool.Close()
	log.Info("postgres pool created", slog.String("target", cfg.DB.Describe()))
	if cfg.DB.AutoMigrate {
		go pg.MigrateWithRetry(ctx, pool, cfg.DB.Schema, migrations.Set, log)
	}

	// Each key must be the one its version label was first used with: a mismatch stops
	// the wallet here, or later (through stop) when the database only answers later.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	credStore, keychainStore := credentials.NewStore(pool), keychain.NewStore(pool)
	keyChecks := keyring.NewStore(pool, credStore.Sealed(), keychainStore.Sealed())
	if err := ring.Bind(ctx, keyChecks, log, keyVerifyRetry, stop); err != nil {
		return err
	}

	recorder := audit.NewRecorder(audit.Options{
		Writer:       audit.NewStore(pool),
		IDs:          gen,
		Strict:       bool(cfg.Audit.Required),
		ServerRegion: cfg.Residency.ServerRegion,
		Metrics:      audit.NewMetrics(base.Registry),
		Logger:       log,
	})
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), auditDrainTimeout)
		defer cancel()
		if err := recorder.Close(dctx); err != nil {
			log.Warn("secret audit queue not drained at shutdown", slog.Any("error", err))
		}
	}()
	mode := "async"
	if recorder.Strict() {
		mode = "strict"
	}
	log.Info("secret audit ready", slog.String("mode", mode))

	// Secret providers: the registry of (provider, region) backends, the residency gate
	// in front of it, and the brokers of the other regions behind a strict denial.
	kc := keychain.NewService(keychainStore, ring, recorder, api)
	registry := providers.NewRegistry(build.Func(cfg.Backends()), time.Duration(cfg.Residency.ProviderTTLSeconds)*time.Second,
		providers.NewRegistryMetrics(base.Registry))
	resolver := resolve.New(resolve.Options{
		Definitions: api, Cache: kc, Registry: registry, Logger: log,
		Gate:          residency.NewGate(cfg.Residency.ServerRegion, residency.NewMetrics(base.Registry)),
		Metrics:       resolve.NewMetrics(base.Registry),
		SafetyMargin:  time.Duration(cfg.Residency.DynamicSafetyMarg) * time.Second,
		RefreshWindow: time.Duration(cfg.Residency.RefreshWindowSecs) * time.Second,
	})
	// Before the pool closes (deferred above): a refresh still running writes to it.
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), refreshStopTimeout)
		defer cancel()
		if err := resolver.Close(rctx); err != nil {
			log.Warn("keychain refreshes still running at shutdown", slog.Any("error", err))
		}
	}()
	brokers, err := crossRegion(cfg, base.Registry)
	if err != nil {
		return err
	}
	if regions := brokers.Regions(); len(regions) > 0 {
		log.Info("cross-region brokers registered", slog.Any("regions", regions))
	}
	creds := credentials.NewService(credStore, ring, recorder, gen, resolver)
	seals := sealing.NewHandlers(sealing.NewService(api, creds, recorder, sealing.NewMetrics(base.Registry), brokers))
	// Before the pool closes (deferred above): a pass in progress ends with its context.
	sweeper := expiry.New(pool, keychainStore, expiry.Config{Interval: cfg.KeychainCleanupInterval}, base.Registry, log)
	sweepCtx, stopSweep := context.WithCancel(ctx)
	var sweeps sync.WaitGroup
	sweeps.Go(func() { sweeper.Run(sweepCtx) })
	defer func() { stopSweep(); sweeps.Wait() }()
	rot := rotation.NewService(rotation.NewStore(credStore.Sealed(), keychainStore.Sealed()), ring, rotation.NewMetrics(base.Registry), log)

	// Routes. The gate comes first so that it covers every /api/internal/* and /internal/*
	// path, matched or not. Groups that encrypt or decrypt answer 500 without a key.
	e := base.Engine
	base.Authenticate(access.Tokens{Internal: cfg.InternalToken, PublicTokens: cfg.Tokens})
	credGroup := e.Group("/api/credentials", ring.Require())
	credentials.NewHandlers(creds).Register(credGroup)
	seals.Register(credGroup)
	keychain.NewHandlers(kc).Register(e.Group("/api/keychain", ring.Require()))
	rotation.NewHandlers(rot).Register(e.Group("/api/internal/wallet"))
	audit.NewHandlers(audit.NewStore(pool)).Register(e)
	seals.RegisterInternal(e.Group("/internal", ring.Require()))

	err = base.Serve(ctx,
		httpx.Check{Name: "postgres", Fn: func(ctx context.Context) error { return pg.SchemaReady(ctx, pool, cfg.DB.Schema, migrations.Set) }},
		httpx.Check{Name: "key", Fn: newKeyCheck(ring, keyChecks).Check},
	)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause // a key mismatch found after startup
	}
	return err
}

// crossRegion builds the client of NOETL_SECRET_BROKER_REGISTRY's brokers.
func crossRegion(cfg Config, reg prometheus.Registerer) (*crossregion.Client, error) {
	registry, err := crossregion.ParseRegistry(cfg.Residency.BrokerRegistry)
	if err != nil {
		return nil, err
	}
	regions := make([]string, 0, len(registry))
	for r := range registry {
		regions = append(regions, r)
	}
	return crossregion.New(crossregion.Options{
		Registry: registry, OwnRegion: cfg.Residency.ServerRegion, Token: cfg.InternalToken, TLS: cfg.InternalTLS,
		Timeout: time.Duration(cfg.Residency.BrokerTimeoutSecs) * time.Second,
		Metrics: internalapi.NewBrokerMetrics(reg, true, regions...),
	})
}

// buildKeyring builds the key manager NOETL_KMS_PROVIDER selects. Without
// NOETL_ENCRYPTION_KEY (local provider) the wallet still starts and the
// key-dependent routes answer 500 naming the variable; any other key problem stops
// startup.
func buildKeyring(k Keys, log *slog.Logger) (*keyring.Ring, error) {
	km, err := envelope.NewKeyManager(k.Envelope())
	switch {
	case errors.Is(err, envelope.ErrNoKey):
		log.Warn("NOETL_ENCRYPTION_KEY is not set: every credential and keychain route will answer 500 until it is")
		return keyring.Unconfigured(), nil
	case err != nil:
		return nil, err
	}
	attrs := []any{slog.String("kms_provider", km.Provider()), slog.String("key_version", km.CurrentKeyVersion())}
	if lk, ok := km.(*envelope.LocalKeyManager); ok {
		attrs = append(attrs, slog.Any("unwrap_versions", lk.KeyVersions()))
	}
	log.Info("Wallet KEK provider initialized", attrs...)
	return keyring.New(km), nil
}
