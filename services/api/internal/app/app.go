// Package app wires the api service: configuration → stores → services → routes, and
// the background loops. It is the only place that knows every package.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/noetl/controlplane/services/api/internal/catalog"
	"github.com/noetl/controlplane/services/api/internal/commands"
	"github.com/noetl/controlplane/services/api/internal/dashboard"
	"github.com/noetl/controlplane/services/api/internal/database"
	"github.com/noetl/controlplane/services/api/internal/engine"
	"github.com/noetl/controlplane/services/api/internal/events"
	"github.com/noetl/controlplane/services/api/internal/executions"
	"github.com/noetl/controlplane/services/api/internal/orchestrator"
	"github.com/noetl/controlplane/services/api/internal/outbox"
	"github.com/noetl/controlplane/services/api/internal/retention"
	"github.com/noetl/controlplane/services/api/internal/runtimes"
	"github.com/noetl/controlplane/services/api/internal/vars"
	"github.com/noetl/controlplane/shared/access"
	"github.com/noetl/controlplane/shared/httpx"
	"github.com/noetl/controlplane/shared/ids"
	"github.com/noetl/controlplane/shared/natsx"
	"github.com/noetl/controlplane/shared/pg"
	"github.com/noetl/controlplane/shared/service"
	"github.com/noetl/controlplane/shared/tmpl"
	"github.com/noetl/controlplane/shared/version"
)

// Migrate applies the schema migrations and reports to out (`noetl-api migrate`).
func Migrate(ctx context.Context, cfg Config, out io.Writer) error {
	pool, err := pg.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer pool.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.DB.AcquireTimeoutDuration()+time.Minute)
	defer cancel()
	res, err := pg.Migrate(ctx, pool, cfg.DB.Schema)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", cfg.DB.Describe(), err)
	}
	fmt.Fprintf(out, "schema %s at version %d; applied %d migration(s) %v\n", cfg.DB.Schema, res.Current, len(res.Applied), res.Applied)
	return nil
}

// MigrateStatus reports which migrations are applied and which are pending, changing
// nothing (`noetl-api migrate status`).
func MigrateStatus(ctx context.Context, cfg Config, out io.Writer) error {
	pool, err := pg.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer pool.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.DB.AcquireTimeoutDuration()+10*time.Second)
	defer cancel()
	st, err := pg.Status(ctx, pool, cfg.DB.Schema)
	if err != nil {
		return fmt.Errorf("migrate status %s: %w", cfg.DB.Describe(), err)
	}
	fmt.Fprintf(out, "schema %s at version %d; %d applied, %d pending\n", cfg.DB.Schema, st.Current, len(st.Applied), len(st.Pending))
	for _, n := range st.Pending {
		fmt.Fprintf(out, "pending: %s\n", n)
	}
	if len(st.Pending) > 0 {
		fmt.Fprintln(out, "run `noetl-api migrate` to apply them")
	}
	return nil
}

// Run serves the api until ctx is cancelled.
func Run(ctx context.Context, cfg Config) error {
	base := service.New("api", cfg.Common, cfg.Hooks)
	log := base.Logger
	started := time.Now()

	gen, src, err := ids.NewFromConfig(cfg.IDs)
	if err != nil {
		return err
	}
	log.Info("snowflake generator ready", slog.Int("machine_id", int(gen.MachineID())), slog.String("source", string(src)))

	pool, err := pg.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer pool.Close()
	log.Info("postgres pool created", slog.String("target", cfg.DB.Describe()))
	sqlPool, err := database.OpenSQLPool(ctx, cfg.DB, cfg.SQL, log)
	if err != nil {
		return err
	}
	defer sqlPool.Close()
	if cfg.DB.AutoMigrate {
		go migrateWithRetry(ctx, pool, cfg.DB.Schema, log)
	}

	var nc *nats.Conn
	if url := cfg.NATS.ServerURL(); url != "" {
		nc, err = natsx.Connect(cfg.NATS, "noetl-api", log)
		if err != nil {
			return fmt.Errorf("NATS_URL: %w", err)
		}
		defer nc.Close()
	} else {
		log.Warn("NATS_URL is not set: running degraded, no command notifications are published")
	}

	loops, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { stopLoops(); wg.Wait() }()

	// The runtime: engine, orchestrator, outbox publisher, event writer.
	var publisher *outbox.Publisher
	var enqueuer orchestrator.Enqueuer
	if nc != nil && cfg.OutboxPublish {
		publisher = outbox.NewPublisher(pool, nc, cfg.Commands, base.Registry, log)
		enqueuer = publisher
		wg.Add(1)
		go func() { defer wg.Done(); publisher.Run(loops) }()
	}
	playbooks := catalog.NewCache(512)
	eng := engine.New(tmpl.New(4096), gen)
	eng.MaxLoopIterations = cfg.MaxLoopIterations
	orch := orchestrator.New(orchestrator.Config{
		Pool: pool, Engine: eng, IDs: gen, Playbooks: playbooks,
		Publisher: enqueuer, ServerURL: cfg.ServerURL(), Commands: cfg.Commands, Registry: base.Registry, Logger: log,
	})
	writer := events.NewWriter(pool, cfg.EventWriters)
	defer writer.Close()

	// Routes.
	e := base.Engine
	tokens := access.Tokens{Internal: cfg.InternalToken, PublicTokens: cfg.Tokens}
	base.Authenticate(tokens)
	api := e.Group("/api")

	rtStore := runtimes.NewStore(pool)
	writes := newWriteMetrics(base.Registry)
	rtHandlers := runtimes.NewHandlers(rtStore, gen, cfg.Shard)
	rtHandlers.OnWrite = writes
	rtHandlers.Register(api)
	internal := e.Group("/internal")
	rtHandlers.RegisterInternal(internal)
	catalogHandlers := catalog.NewHandlers(pool, gen, playbooks)
	catalogHandlers.OnWrite = writes
	catalogHandlers.Register(api)
	events.NewHandlers(orch, writer, gen, base.Registry).Register(api)
	commands.NewHandlers(orch).Register(api)
	executions.NewControl(pool, orch).Register(api)
	executions.NewReads(pool).Register(api)
	executions.NewKeychain(pool, playbooks).RegisterInternal(internal)
	vars.NewHandlers(vars.NewStore(pool), gen).Register(api)
	database.NewHandlers(pool, sqlPool, cfg.DB.Schema, cfg.SQL).Register(api)
	dashboard.NewHandlers(pool).Register(api)
	apiInternal := api.Group("/internal")
	outbox.NewHandlers(pool).Register(apiInternal)
	events.NewProjector(pool).Register(apiInternal)
	api.GET("/health", apiHealth(pool, nc, started, tokens.Mode()))
	api.GET("/pool/status", poolStatus(pool))

	// Background loops.
	lifecycle := runtimes.NewLifecycle(rtStore, gen, runtimes.SelfConfig{
		Name:         runtimes.InstanceName(cfg.InstanceName, cfg.ServerName),
		LogicalName:  cfg.ServerName,
		URI:          cfg.ServerURL(),
		AutoRecreate: bool(cfg.AutoRecreateRuntime),
		Sweep:        cfg.SweepInterval(),
		OfflineAfter: cfg.OfflineAfter(),
	}, log, orch.RecoverLostCommands)
	wg.Add(1)
	go func() { defer wg.Done(); lifecycle.Run(loops) }()
	sweeper := retention.New(pool, retention.Config{MaxAge: cfg.RetentionMaxAge}, base.Registry, log)
	wg.Add(1)
	go func() { defer wg.Done(); sweeper.Run(loops) }()

	return base.Serve(ctx,
		httpx.Check{Name: "postgres", Fn: func(ctx context.Context) error { return schemaReady(ctx, pool, cfg.DB.Schema) }},
		httpx.Check{Name: "nats", Fn: natsReady(nc, cfg.NATS.ServerURL() != "")},
	)
}

// migrateWithRetry applies migrations at startup (NOETL_AUTO_MIGRATE), retrying while the
// database is unreachable.
func migrateWithRetry(ctx context.Context, pool *pgxpool.Pool, schema string, log *slog.Logger) {
	for {
		res, err := pg.Migrate(ctx, pool, schema)
		if err == nil {
			log.Info("schema migrated", slog.Int("version", res.Current), slog.Any("applied", res.Applied))
			return
		}
		log.Warn("auto-migrate failed; retrying", slog.Any("error", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// schemaReady checks that PostgreSQL answers and the schema carries every migration this
// binary ships, so a replica with an un-migrated database is not put in rotation.
func schemaReady(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	var current *int32
	if err := pool.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&current); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: schema_migrations was never created
			return fmt.Errorf("schema %s is not migrated: run `noetl-api migrate`", schema)
		}
		return fmt.Errorf("%w: check DATABASE_URL or POSTGRES_HOST/POSTGRES_PORT/POSTGRES_USER and that PostgreSQL answers", err)
	}
	migs, err := pg.Migrations()
	if err != nil {
		return err
	}
	want := migs[len(migs)-1].Version
	if current == nil || int(*current) < want {
		have := 0
		if current != nil {
			have = int(*current)
		}
		return fmt.Errorf("schema %s is at version %d, this binary needs %d: run `noetl-api migrate`", schema, have, want)
	}
	return nil
}

// errNATSDown is the readiness failure while the NATS connection is down.
var errNATSDown = fmt.Errorf("%w: check NATS_URL and that the NATS server runs with JetStream; commands wait in the outbox until it is back", natsx.ErrDisconnected)

func natsReady(nc *nats.Conn, configured bool) func(context.Context) error {
	return func(context.Context) error {
		if !configured {
			return nil // degraded by configuration: read-only deployments stay in rotation
		}
		if nc == nil || !nc.IsConnected() {
			return errNATSDown
		}
		return nil
	}
}

// apiHealth is the upstream /api/health shape, kept for existing clients, plus auth:
// "open" while a public class of routes has no token (docs/security.md), else "token".
func apiHealth(pool *pgxpool.Pool, nc *nats.Conn, started time.Time, auth string) gin.HandlerFunc {
	return func(c *gin.Context) {
		status, db, code := "ok", "connected", http.StatusOK
		if err := pg.Ping(c.Request.Context(), pool, httpx.CheckTimeout); err != nil {
			status, db, code = "unhealthy", "disconnected", http.StatusServiceUnavailable
		}
		natsState := "not_configured"
		if nc != nil {
			natsState = "disconnected"
			if nc.IsConnected() {
				natsState = "connected"
			}
		}
		httpx.JSON(c, code, gin.H{
			"status": status, "database": db, "nats": natsState,
			"uptime_seconds": int64(time.Since(started).Seconds()), "version": version.Version,
			"auth": auth,
		})
	}
}

func poolStatus(pool *pgxpool.Pool) gin.HandlerFunc {
	return func(c *gin.Context) {
		st := pool.Stat()
		size, idle, max := st.TotalConns(), st.IdleConns(), st.MaxConns()
		util := 0.0
		if max > 0 {
			util = float64(size-idle) / float64(max)
		}
		httpx.JSON(c, http.StatusOK, gin.H{
			"pool_min": 0, "pool_max": max, "pool_size": size, "pool_available": idle,
			"requests_waiting": st.EmptyAcquireWaitTime().Milliseconds(), "utilization": util,
			"slots_available": max - (size - idle), "status": "ok",
		})
	}
}

// newWriteMetrics counts the upstream write endpoints (noetl_write_requests_total),
// with every label value registered at zero.
func newWriteMetrics(reg prometheus.Registerer) func(endpoint string, err error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "noetl_write_requests_total",
		Help: "Writes to the catalog and the runtime registry, by endpoint and outcome.",
	}, []string{"endpoint", "status"})
	reg.MustRegister(c)
	for _, e := range []string{"catalog_register", "runtime_register", "runtime_heartbeat"} {
		c.WithLabelValues(e, "ok")
		c.WithLabelValues(e, "error")
	}
	return func(endpoint string, err error) {
		status := "ok"
		if err != nil {
			status = "error"
		}
		c.WithLabelValues(endpoint, status).Inc()
	}
}
