package app

import "errors"
import "fmt"
import "net/url"
import "time"

import "github.com/noetl/controlplane/services/api/internal/database"
import "github.com/noetl/controlplane/services/api/internal/orchestrator"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/natsx"
import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/service"
import "github.com/noetl/controlplane/shared/shard"

// DefaultPort is the api's listener when NOETL_PORT is unset (the router owns 8082).
const DefaultPort = 8083

// Config is everything the api reads from the environment.
type Config struct {
	config.Common
	Tokens config.PublicTokens
	DB     pg.Config
	NATS   natsx.Config
	// Commands is the subject prefix and stream of command notifications.
	Commands natsx.Commands
	IDs      ids.Config
	Shard    shard.Config

	// PublicServerURL is embedded in every NATS command notification as the URL workers
	// call back on; unset falls back to http://localhost:<router port>.
	PublicServerURL string `env:"NOETL_PUBLIC_SERVER_URL"`
	// RouterPort only feeds the PublicServerURL fallback.
	RouterPort config.Port `env:"NOETL_ROUTER_PORT" envDefault:"8082"`

	AutoRecreateRuntime config.Bool `env:"NOETL_AUTO_RECREATE_RUNTIME" envDefault:"true"`
	SweepIntervalSec    int         `env:"NOETL_RUNTIME_SWEEP_INTERVAL" envDefault:"30"`
	OfflineSeconds      int         `env:"NOETL_RUNTIME_OFFLINE_SECONDS" envDefault:"60"`
	InstanceName        string      `env:"NOETL_SERVER_INSTANCE_NAME"`
	// CommandLeaseSeconds: a worker that lists the commands it holds in its heartbeats
	// loses a claim it neither listed nor posted an event for in this long, though it
	// heart-beats; 0 turns the lease off.
	CommandLeaseSeconds int `env:"NOETL_COMMAND_LEASE_SECONDS" envDefault:"60"`
	// EagerAckSeconds: a command eagerly dispatched to a worker that shows no sign of
	// having received it in this long is handed back; 0 turns the deadline off.
	EagerAckSeconds int `env:"NOETL_EAGER_ACK_SECONDS" envDefault:"30"`

	// OutboxPublish runs the in-process outbox publisher; turn it off when an external
	// publisher drains /api/internal/outbox/*.
	OutboxPublish config.Bool `env:"NOETL_OUTBOX_PUBLISH" envDefault:"true"`
	// EventWriters is the number of group-commit writers for informative events.
	EventWriters int `env:"NOETL_EVENT_WRITERS" envDefault:"4"`
	// SQL bounds POST /api/postgres/execute.
	SQL database.SQLConfig
	// MaxLoopIterations caps the iterations of one loop entry (the fan-out cap): a loop
	// over more fails its step with a message naming this variable.
	MaxLoopIterations int64 `env:"NOETL_MAX_LOOP_ITERATIONS" envDefault:"100000"`
	// RetentionMaxAge deletes finished executions (events, commands, results, variables,
	// outbox rows) once they are older than this; 0 keeps everything.
	RetentionMaxAge time.Duration `env:"NOETL_RETENTION_MAX_AGE"`
	// ReconcileInterval is the period of the reconciliation sweep (cascades a crash
	// interrupted, ended executions with work left open); 0 turns it off.
	ReconcileInterval time.Duration `env:"NOETL_RECONCILE_INTERVAL" envDefault:"30s"`

	Hooks service.Hooks `env:"-"`
}

// LoadConfig reads the environment (nil = process environment) over the api's defaults.
func LoadConfig(environ map[string]string) (Config, error) {
	return config.LoadConfig(environ, Config{Common: config.Common{Port: DefaultPort}})
}

// Validate applies every fail-fast rule of the api.
func (c *Config) Validate() error {
	errs := []error{c.Common.Validate(), c.DB.Validate(), c.NATS.Validate(), c.Commands.Validate(), c.IDs.Validate(), c.Shard.Validate(), c.SQL.Validate()}
	if c.SweepIntervalSec < 1 {
		errs = append(errs, errors.New("NOETL_RUNTIME_SWEEP_INTERVAL: must be >= 1 second"))
	}
	if c.EventWriters < 1 || c.EventWriters > 64 {
		errs = append(errs, errors.New("NOETL_EVENT_WRITERS: must be between 1 and 64"))
	}
	if c.MaxLoopIterations < 1 {
		errs = append(errs, errors.New("NOETL_MAX_LOOP_ITERATIONS: must be >= 1"))
	}
	if c.RetentionMaxAge < 0 || (c.RetentionMaxAge > 0 && c.RetentionMaxAge < time.Minute) {
		errs = append(errs, errors.New("NOETL_RETENTION_MAX_AGE: must be 0 (off) or at least 1m"))
	}
	if c.ReconcileInterval < 0 || (c.ReconcileInterval > 0 && c.ReconcileInterval < time.Second) {
		errs = append(errs, errors.New("NOETL_RECONCILE_INTERVAL: must be 0 (off) or at least 1s"))
	}
	if c.OfflineSeconds < 1 {
		errs = append(errs, errors.New("NOETL_RUNTIME_OFFLINE_SECONDS: must be >= 1 second"))
	}
	if c.CommandLeaseSeconds < 0 {
		errs = append(errs, errors.New("NOETL_COMMAND_LEASE_SECONDS: must be 0 (off) or a number of seconds"))
	}
	if c.EagerAckSeconds < 0 {
		errs = append(errs, errors.New("NOETL_EAGER_ACK_SECONDS: must be 0 (off) or a number of seconds"))
	}
	if c.PublicServerURL != "" {
		if u, err := url.Parse(c.PublicServerURL); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("NOETL_PUBLIC_SERVER_URL: %q is not an absolute URL", c.PublicServerURL))
		}
	}
	return errors.Join(errs...)
}

// ServerURL is the callback URL put into NATS notifications.
func (c *Config) ServerURL() string {
	if c.PublicServerURL != "" {
		return c.PublicServerURL
	}
	return fmt.Sprintf("http://localhost:%d", c.RouterPort)
}

// SweepInterval is NOETL_RUNTIME_SWEEP_INTERVAL as a duration.
func (c *Config) SweepInterval() time.Duration {
	return time.Duration(c.SweepIntervalSec) * time.Second
}

// OfflineAfter is NOETL_RUNTIME_OFFLINE_SECONDS as a duration.
func (c *Config) OfflineAfter() time.Duration { return time.Duration(c.OfflineSeconds) * time.Second }

// Leases is NOETL_COMMAND_LEASE_SECONDS and NOETL_EAGER_ACK_SECONDS for the orchestrator.
func (c *Config) Leases() orchestrator.Leases {
	return orchestrator.Leases{Lease: time.Duration(c.CommandLeaseSeconds) * time.Second,
		EagerAck: time.Duration(c.EagerAckSeconds) * time.Second}
}
