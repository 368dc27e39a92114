// Package app wires the broker: the peer-facing cross-region resolve endpoint, which asks
// the wallet of its own region to resolve a credential and seal it to the requesting
// worker's key.
package app

import "context"
import "errors"
import "time"

import "github.com/noetl/controlplane/services/broker/internal/crossregion"
import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/service"
import "github.com/noetl/controlplane/shared/tlsx"

// DefaultPort is the broker's listener when NOETL_PORT is unset.
const DefaultPort = 8085

// Config is everything the broker reads.
type Config struct {
	config.Common
	WalletURL    string `env:"NOETL_WALLET_URL" envDefault:"http://127.0.0.1:8084"`
	ServerRegion string `env:"NOETL_SERVER_REGION"`
	// WalletTimeout bounds the wallet's resolve-and-seal, which may call a secret
	// provider. The requesting wallet waits NOETL_SECRET_BROKER_TIMEOUT_SECS for the
	// broker, so a longer value here only matters when that one is raised too.
	WalletTimeout time.Duration `env:"NOETL_BROKER_WALLET_TIMEOUT" envDefault:"30s"`

	Hooks service.Hooks `env:"-"`
}

// LoadConfig reads the environment (nil = process environment) over the broker's defaults.
func LoadConfig(environ map[string]string) (Config, error) {
	return config.LoadConfig(environ, Config{Common: config.Common{Port: DefaultPort}})
}

// Validate checks the wallet URL and timeout.
func (c *Config) Validate() error {
	_, walletErr := config.HTTPURL("NOETL_WALLET_URL", c.WalletURL)
	errs := []error{c.Common.Validate(), walletErr} // errors.Join drops the nil ones
	if c.WalletTimeout <= 0 {
		errs = append(errs, errors.New("NOETL_BROKER_WALLET_TIMEOUT: must be positive"))
	}
	return errors.Join(errs...)
}

// Run serves the broker until ctx is cancelled.
func Run(ctx context.Context, cfg Config) error {
	base := service.New("broker", cfg.Common, cfg.Hooks)
	client, err := tlsx.HTTPClient(cfg.InternalTLS, httpx.CheckTimeout)
	if err != nil {
		return err
	}
	wallet, err := internalapi.New(internalapi.Config{BaseURL: cfg.WalletURL, Service: "wallet", Var: "NOETL_WALLET_URL",
		Token: cfg.InternalToken, TLS: cfg.InternalTLS, Timeout: cfg.WalletTimeout})
	if err != nil {
		return err
	}
	if cfg.ServerRegion == "" {
		base.Logger.Warn("NOETL_SERVER_REGION is not set: every cross-region request is refused as wrong_region")
	}
	base.Authenticate(access.Tokens{Internal: cfg.InternalToken})
	metrics := internalapi.NewBrokerMetrics(base.Registry, false, cfg.ServerRegion)
	crossregion.NewHandler(cfg.ServerRegion, wallet, metrics).Register(base.Engine)
	return base.Serve(ctx, httpx.PeerReady("wallet", cfg.WalletURL, "NOETL_WALLET_URL", client))
}
