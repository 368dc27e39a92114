// Package app wires the api service: configuration → stores → services → routes, and
// the background loops. It is the only place that knows every package.
package app

import "context"
import "fmt"
import "log/slog"
import "net/http"
import "sync"
import "time"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"
import "github.com/nats-io/nats.go"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/clock"
import "github.com/noetl/controlplane/services/api/internal/commands"
import "github.com/noetl/controlplane/services/api/internal/dashboard"
import "github.com/noetl/controlplane/services/api/internal/database"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/events"
import "github.com/noetl/controlplane/services/api/internal/executions"
import "github.com/noetl/controlplane/services/api/internal/orchestrator"
import "github.com/noetl/controlplane/services/api/internal/outbox"
import "github.com/noetl/controlplane/services/api/internal/pools"
import "github.com/noetl/controlplane/services/api/internal/reconcile"
import "github.com/noetl/controlplane/services/api/internal/retention"
import "github.com/noetl/controlplane/services/api/internal/runtimes"
import "github.com/noetl/controlplane/services/api/internal/vars"
import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/natsx"
import "github.com/noetl/controlplane/shared/periodic"
import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/promx"
import "github.com/noetl/controlplane/shared/service"
import "github.com/noetl/controlplane/shared/tmpl"
import "github.com/noetl/controlplane/shared/version"

// Run serves the api until ctx is cancelled.
func Run(ctx context.Context, cfg Config) error {
	base := service.New("api", cfg.Common, cfg.Hooks)
	log := base.Logger
	// The one clock every component reads (nil: the wall clock); tests fix theirs.
	var clk clock.Clock
	started := clk.Now()

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
		go pg.MigrateWithRetry(ctx, pool, cfg.DB.Schema, migrations.Set, log)
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
	}
	playbooks := catalog.NewCache(512)
	eng := engine.New(tmpl.New(4096), gen)
	eng.MaxLoopIterations = cfg.MaxLoopIterations
	orch := orchestrator.New(orchestrator.Config{
		Pool: pool, Engine: eng, IDs: gen, Playbooks: playbooks,
		Publisher: enqueuer, ServerURL: cfg.ServerURL(), Commands: cfg.Commands, Registry: base.Registry, Logger: log,
		Clock: clk, Leases: cfg.Leases(),
	})
	if publisher != nil {
		// A stream newer than commands still waiting for a worker does not hold their
		// notifications (NATS lost its storage): they are published again.
		publisher.OnStreamEnsured(func(ctx context.Context, created time.Time) {
			n, err := orch.RepublishWaiting(ctx, created)
			if err != nil {
				log.Warn("could not republish the commands issued before the command stream", slog.Any("error", err))
				return
			}
			if n > 0 {
				log.Warn("republished commands issued before the command stream existed (NATS lost them)",
					slog.Int("commands", n), slog.Time("stream_created", created))
				publisher.Kick(true)
			}
		})
		wg.Add(1)
		go func() { defer wg.Done(); publisher.Run(loops) }()
		if cfg.Commands.MaxAge > 0 {
			wg.Add(1)
			go func() { defer wg.Done(); reannounce(loops, orch, publisher, clk, cfg.Commands.MaxAge, log) }()
		}
	}
	writer := events.NewWriter(pool, cfg.EventWriters, events.DefaultWriteTimeout)
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
	rtHandlers.Leases = eventlog.NewLeases(pool)
	rtHandlers.Register(api)
	internal := e.Group("/internal")
	rtHandlers.RegisterInternal(internal)
	catalogHandlers := catalog.NewHandlers(pool, gen, playbooks)
	catalogHandlers.OnWrite = writes
	catalogHandlers.Register(api)
	events.NewHandlers(orch, writer, gen, clk, base.Registry).Register(api)
	commands.NewHandlers(orch).Register(api)
	executions.NewControl(pool, orch, playbooks).Register(api)
	executions.NewReads(pool).Register(api)
	executions.NewKeychain(pool, playbooks).RegisterInternal(internal)
	catalogHandlers.RegisterInternal(internal)
	vars.NewHandlers(vars.NewStore(pool), gen).Register(api)
	database.NewHandlers(pool, sqlPool, cfg.DB.Schema, cfg.SQL).Register(api)
	dashboard.NewHandlers(pool).Register(api)
	apiInternal := api.Group("/internal")
	outbox.NewHandlers(pool).Register(apiInternal)
	events.NewProjector(pool, clk, orch).Register(apiInternal)
	api.GET("/health", apiHealth(pool, nc, clk, started, tokens.Mode()))
	api.GET("/pool/status", pools.Handler(pool))

	// Background loops.
	lifecycle := runtimes.NewLifecycle(rtStore, gen, runtimes.SelfConfig{
		Name:         runtimes.InstanceName(cfg.InstanceName, cfg.ServerName),
		LogicalName:  cfg.ServerName,
		URI:          cfg.ServerURL(),
		AutoRecreate: bool(cfg.AutoRecreateRuntime),
		Sweep:        cfg.SweepInterval(),
		OfflineAfter: cfg.OfflineAfter(),
		Clock:        clk,
	}, log, orch.RecoverLostCommands, orch.RecoverLapsedClaims)
	wg.Add(1)
	go func() { defer wg.Done(); lifecycle.Run(loops) }()
	sweeper := retention.New(pool, retention.Config{MaxAge: cfg.RetentionMaxAge}, base.Registry, log)
	wg.Add(1)
	go func() { defer wg.Done(); sweeper.Run(loops) }()
	reconciler := reconcile.New(pool, orch, reconcile.Config{Interval: cfg.ReconcileInterval}, base.Registry, log)
	wg.Add(1)
	go func() { defer wg.Done(); reconciler.Run(loops) }()

	return base.Serve(ctx,
		httpx.Check{Name: "postgres", Fn: func(ctx context.Context) error { return pg.SchemaReady(ctx, pool, cfg.DB.Schema, migrations.Set) }},
		httpx.Check{Name: "nats", Fn: natsReady(nc, cfg.NATS.ServerURL() != "")},
	)
}

// errNATSDown is the readiness failure while the NATS connection is down.
var errNATSDown = fmt.Errorf("%w: check NATS_URL and that the NATS server runs with JetStream; commands wait in the outbox until it is back", natsx.ErrDisconnected)

// reannounce publishes again, every third of the command stream's retention, each
// command that has waited for a worker longer than that third. JetStream drops a
// notification once it is older than the retention (NOETL_NATS_STREAM_MAX_AGE), so a
// command no worker claimed by then (its pool had no worker for a day) would wait for
// ever. A waiting command so has up to three notifications in the stream; a claim
// absorbs the repeats.
func reannounce(ctx context.Context, orch *orchestrator.Orchestrator, pub *outbox.Publisher, clk clock.Clock, retention time.Duration, log *slog.Logger) {
	every := retention / 3
	periodic.Passes(ctx, every, periodic.AfterInterval, log, "waiting commands announcement", func(ctx context.Context) ([]any, error) {
		n, err := orch.RepublishWaiting(ctx, clk.Now().Add(-every))
		if n > 0 {
			pub.Kick(true)
			return []any{slog.Int("commands", n), slog.Duration("waiting_longer_than", every)}, err
		}
		return nil, err
	})
}

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
func apiHealth(pool *pgxpool.Pool, nc *nats.Conn, clk clock.Clock, started time.Time, auth string) gin.HandlerFunc {
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
			"uptime_seconds": int64(clk.Since(started).Seconds()), "version": version.Version,
			"auth": auth,
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
	promx.Zero(c, []string{"catalog_register", "runtime_register", "runtime_heartbeat"}, []string{"ok", "error"})
	return func(endpoint string, err error) {
		status := "ok"
		if err != nil {
			status = "error"
		}
		c.WithLabelValues(endpoint, status).Inc()
	}
}
