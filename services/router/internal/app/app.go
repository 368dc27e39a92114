// Package app wires the router: the public surface on port 8082 that forwards each path
// prefix to its service, gates /api/internal/*, aggregates metrics and reports the
// readiness of the whole suite.
package app

import "context"
import "errors"
import "log/slog"
import "net/url"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import dto "github.com/prometheus/client_model/go"

import "github.com/noetl/controlplane/services/router/internal/metricsfan"
import "github.com/noetl/controlplane/services/router/internal/openapi"
import "github.com/noetl/controlplane/services/router/internal/proxy"
import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/service"
import "github.com/noetl/controlplane/shared/tlsx"

// DefaultPort is the public surface.
const DefaultPort = 8082

// Config is everything the router reads.
type Config struct {
	config.Common
	// Tokens close the paths the router forwards nowhere: with one set, such a path
	// answers 401 before 404, as every service answers an unknown path.
	Tokens    config.PublicTokens
	APIURL    string        `env:"NOETL_API_URL" envDefault:"http://127.0.0.1:8083"`
	WalletURL string        `env:"NOETL_WALLET_URL" envDefault:"http://127.0.0.1:8084"`
	BrokerURL string        `env:"NOETL_BROKER_URL" envDefault:"http://127.0.0.1:8085"`
	Timeout   time.Duration `env:"NOETL_UPSTREAM_TIMEOUT" envDefault:"60s"`

	Hooks service.Hooks `env:"-"`
}

// LoadConfig reads the environment (nil = process environment) over the router's defaults.
func LoadConfig(environ map[string]string) (Config, error) {
	return config.LoadConfig(environ, Config{Common: config.Common{Port: DefaultPort}})
}

// Validate checks the upstream URLs.
func (c *Config) Validate() error {
	errs := []error{c.Common.Validate()}
	for _, u := range []struct{ name, val string }{
		{"NOETL_API_URL", c.APIURL}, {"NOETL_WALLET_URL", c.WalletURL}, {"NOETL_BROKER_URL", c.BrokerURL},
	} {
		if _, err := config.HTTPURL(u.name, u.val); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("NOETL_UPSTREAM_TIMEOUT: must be positive"))
	}
	return errors.Join(errs...)
}

func (c *Config) upstreams() []proxy.Upstream {
	parse := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	return []proxy.Upstream{
		{Name: "api", URL: parse(c.APIURL), Variable: "NOETL_API_URL"},
		{Name: "wallet", URL: parse(c.WalletURL), Variable: "NOETL_WALLET_URL"},
		{Name: "broker", URL: parse(c.BrokerURL), Variable: "NOETL_BROKER_URL"},
	}
}

// Run serves the public surface until ctx is cancelled.
func Run(ctx context.Context, cfg Config) error {
	base := service.New("router", cfg.Common, cfg.Hooks)
	client, err := tlsx.HTTPClient(cfg.InternalTLS, 0)
	if err != nil {
		return err
	}
	transport, err := proxy.Transport(client.Transport, cfg.Timeout)
	if err != nil {
		return err
	}
	ups := cfg.upstreams()
	px, err := proxy.New(ups, proxy.DefaultRoutes, transport, base.Logger)
	if err != nil {
		return err
	}
	probeClient, _ := tlsx.HTTPClient(cfg.InternalTLS, httpx.CheckTimeout)

	fan := make([]metricsfan.Upstream, 0, len(ups))
	checks := make([]httpx.Check, 0, len(ups))
	for _, u := range ups {
		fan = append(fan, metricsfan.Upstream{Name: u.Name, URL: u.URL})
		check := proxy.ReadyCheck(u, probeClient, base.Logger)
		// The router is ready when the api is: most of the surface is the api's, and a
		// wallet or broker outage must not pull it out of the load balancer (their state
		// is still listed in /readyz).
		check.Informational = u.Name != "api"
		checks = append(checks, check)
	}
	// Upstreams first: prometheus.Gatherers runs in order, and the upstream gatherers set
	// noetl_router_upstream_up in the router's registry, which must be read after them or
	// it reports the previous scrape.
	gatherers := prometheus.Gatherers(metricsfan.New(fan, probeClient, base.Registry))
	gatherers = append(gatherers, labelled{base.Registry, "router"})
	base.Gatherer = gatherers

	e := base.Engine
	// Defence in depth: the router checks the internal token itself, and the service
	// behind it checks again. Public routes are authenticated by the service that owns
	// them, which sees the Authorization header the router passes on; a path forwarded
	// nowhere takes any token once a public one is set (docs/security.md).
	base.AuthenticateForwarding(access.Tokens{Internal: cfg.InternalToken, PublicTokens: cfg.Tokens}, px.Forwards)
	// The router's one route of its own: the description of the surface it fronts.
	e.GET(openapi.Path, openapi.Handler)
	e.NoRoute(px.Handler)
	base.Logger.Info("routing", slog.String("api", cfg.APIURL), slog.String("wallet", cfg.WalletURL), slog.String("broker", cfg.BrokerURL))
	return base.Serve(ctx, checks...)
}

// labelled tags the router's own metrics with noetl_service="router", like the upstreams'.
type labelled struct {
	g       prometheus.Gatherer
	service string
}

func (l labelled) Gather() ([]*dto.MetricFamily, error) {
	fams, err := l.g.Gather()
	m := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		m[f.GetName()] = f
	}
	return metricsfan.Relabel(m, l.service), err
}
