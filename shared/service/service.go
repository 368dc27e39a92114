// Package service holds the start-up steps every binary shares: logger, metrics
// registry, gin engine with the shared middleware, health routes, and the listener.
package service

import "context"
import "fmt"
import "io"
import "log/slog"
import "net"
import "net/http"
import "net/http/pprof"
import "runtime"

import "github.com/gin-gonic/gin"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/logx"

// Hooks are the test seams of a binary's Run: where logs go and where the bound address
// is reported. Zero values mean stderr and nothing.
type Hooks struct {
	LogOutput io.Writer
	Ready     chan<- net.Addr
	// Routes, when set, is given every route the binary serves before it listens (the
	// tests that compare them with the access table).
	Routes func(gin.RoutesInfo)
}

// Base is what every service builds first.
type Base struct {
	Name     string
	Common   config.Common
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Gatherer is what /metrics serves; the registry unless a binary replaces it (the
	// router adds its upstreams' metrics).
	Gatherer prometheus.Gatherer
	Engine   *gin.Engine
	hooks    Hooks
	// tokens are what Authenticate installed the gate with; nil until it is called.
	tokens *access.Tokens
}

// New builds the logger, registry and engine for a service.
func New(name string, c config.Common, hooks Hooks) *Base {
	if c.Workers > 0 {
		// NOETL_WORKERS caps the threads running Go code, as it capped Tokio workers.
		runtime.GOMAXPROCS(c.Workers)
	}
	logger := logx.New(hooks.LogOutput, c.Level(), name)
	reg := httpx.NewRegistry()
	e := httpx.NewEngine(httpx.Options{
		Service:      name,
		Logger:       logger,
		Debug:        bool(c.Debug),
		MaxBodyBytes: c.MaxBodyBytes,
		BodyLimits:   map[string]int64{"/api/result/": c.MaxResultBytes},
		Registerer:   reg,
	})
	return &Base{Name: name, Common: c, Logger: logger, Registry: reg, Gatherer: reg, Engine: e, hooks: hooks}
}

// Authenticate installs the access gate (shared/access) with the binary's tokens. Call
// it before registering routes: gin adds a middleware only to routes registered after
// it. Serve refuses to run a binary that did not call it.
func (b *Base) Authenticate(t access.Tokens) {
	b.AuthenticateForwarding(t, nil)
}

// AuthenticateForwarding is Authenticate for a binary that forwards the paths forwarded
// reports to the services that own them (access.ForwardingGate).
func (b *Base) AuthenticateForwarding(t access.Tokens, forwarded func(path string) bool) {
	b.tokens = &t
	b.Engine.Use(access.ForwardingGate(t, forwarded))
}

// servePprof serves the profiler on its own listener until ctx ends.
func (b *Base) servePprof(ctx context.Context) {
	if b.Common.PprofAddr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	srv := &http.Server{Addr: b.Common.PprofAddr, Handler: mux}
	// Profiles stream for their duration (30 s by default), within the read limits.
	httpx.DefaultTimeouts.Apply(srv)
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		b.Logger.Info("pprof listening", slog.String("addr", b.Common.PprofAddr))
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			b.Logger.Warn("pprof listener failed", slog.Any("error", err))
		}
	}()
}

// Serve registers /healthz, /readyz (with checks), /health and /metrics, then serves
// until ctx is cancelled and drains in-flight requests.
func (b *Base) Serve(ctx context.Context, checks ...httpx.Check) error {
	httpx.RegisterHealth(b.Engine, b.Name, checks...)
	httpx.RegisterMetrics(b.Engine, b.Gatherer, bool(b.Common.DisableMetrics))
	if b.tokens == nil {
		return fmt.Errorf("%s: routes registered without the access gate (call Authenticate first)", b.Name)
	}
	routes := b.Engine.Routes()
	if err := access.Verify(b.Name, routes); err != nil {
		return err
	}
	access.WarnOpen(b.Logger, routes, *b.tokens)
	if b.hooks.Routes != nil {
		b.hooks.Routes(routes)
	}
	b.servePprof(ctx)
	return httpx.Server{
		Addr:    b.Common.Addr(),
		Handler: b.Engine,
		TLS:     b.Common.TLS,
		Grace:   b.Common.ShutdownGrace,
		Logger:  b.Logger,
		Ready:   b.hooks.Ready,
	}.Run(ctx)
}
