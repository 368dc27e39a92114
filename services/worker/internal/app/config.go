package app

import "crypto/rand"
import "encoding/hex"
import "errors"
import "fmt"
import "math"
import "os"
import "regexp"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/natsx"
import "github.com/noetl/controlplane/shared/service"

// DefaultPort is the worker's probe and metrics listener when NOETL_PORT is unset.
const DefaultPort = 8086

// DefaultNATSURL is where the worker finds NATS when NATS_URL is unset (upstream's
// default): unlike the api, a worker has nothing to do without it.
const DefaultNATSURL = "nats://localhost:4222"

// Config is everything the worker reads from the environment.
type Config struct {
	config.Common
	NATS     natsx.Config
	Commands natsx.Commands

	// ServerURL is the control plane (the router) for the registry, and for commands
	// whose notification names no server_url.
	ServerURL string `env:"NOETL_SERVER_URL" envDefault:"http://localhost:8082"`
	// WorkerToken is sent as the bearer token of every call; see Token for what is sent
	// when it is unset.
	WorkerToken config.Secret `env:"NOETL_WORKER_TOKEN"`
	// APIToken is sent when WorkerToken is unset: a deployment with one shared token sets
	// only NOETL_API_TOKEN, and the services then make the worker routes take it.
	APIToken config.Secret `env:"NOETL_API_TOKEN"`
	// WorkerID names the worker in the registry, claims and events; unset, every
	// process gets a unique one.
	WorkerID    string `env:"WORKER_ID"`
	PoolName    string `env:"WORKER_POOL_NAME" envDefault:"default"`
	PoolSegment string `env:"WORKER_POOL_SEGMENT" envDefault:"shared"`
	// Consumer is the pool's durable JetStream consumer (default noetl_worker_<segment>).
	Consumer          string              `env:"NATS_CONSUMER"`
	MaxConcurrent     int                 `env:"WORKER_MAX_CONCURRENT" envDefault:"4"`
	HeartbeatInterval Duration            `env:"WORKER_HEARTBEAT_INTERVAL" envDefault:"15s"`
	RequestTimeout    Duration            `env:"WORKER_HTTP_TIMEOUT" envDefault:"30s"`
	SealedCredentials config.Bool         `env:"NOETL_SEALED_CREDENTIALS" envDefault:"false"`
	PythonPath        string              `env:"PYTHON_PATH" envDefault:"python3"`
	InlineResultBytes int                 `env:"NOETL_EVENT_RESULT_CONTEXT_MAX_BYTES" envDefault:"102400"`
	SnowflakeNode     config.OptionalUint `env:"NOETL_SNOWFLAKE_NODE_ID"`

	Hooks service.Hooks `env:"-"`
}

// Duration is a duration given as Go text (15s, 1m30s) or as a number of seconds (15,
// upstream's form).
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		// inf, nan and seconds past ~292 years convert to a garbage duration (a huge
		// negative one for inf) that the range checks would misreport or miss.
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > float64(math.MaxInt64)/float64(time.Second) {
			return fmt.Errorf("%q is not a finite number of seconds under 292 years", s)
		}
		*d = Duration(f * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (15s, 1m) or a number of seconds", s)
	}
	*d = Duration(v)
	return nil
}

// D is the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// LoadConfig reads the environment (nil = process environment) over the worker's defaults.
func LoadConfig(environ map[string]string) (Config, error) {
	return config.LoadConfig(environ, Config{Common: config.Common{Port: DefaultPort}})
}

var consumerPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Validate applies the worker's fail-fast rules.
func (c *Config) Validate() error {
	errs := []error{c.Common.Validate(), c.NATS.Validate(), c.Commands.Validate()}
	if _, err := config.HTTPURL("NOETL_SERVER_URL", c.ServerURL); err != nil {
		errs = append(errs, err)
	}
	if c.PoolSegment != natsx.PoolShared && c.PoolSegment != natsx.PoolSystem {
		errs = append(errs, fmt.Errorf("WORKER_POOL_SEGMENT: %q is not shared or system", c.PoolSegment))
	}
	if c.Consumer != "" && !consumerPattern.MatchString(c.Consumer) {
		errs = append(errs, fmt.Errorf("NATS_CONSUMER: %q is not a consumer name (letters, digits, _ and -)", c.Consumer))
	}
	if c.MaxConcurrent < 1 || c.MaxConcurrent > 1024 {
		errs = append(errs, errors.New("WORKER_MAX_CONCURRENT: must be between 1 and 1024"))
	}
	if c.HeartbeatInterval.D() < time.Second {
		errs = append(errs, errors.New("WORKER_HEARTBEAT_INTERVAL: must be at least 1s"))
	}
	if c.RequestTimeout.D() < time.Second {
		errs = append(errs, errors.New("WORKER_HTTP_TIMEOUT: must be at least 1s"))
	}
	if strings.TrimSpace(c.PythonPath) == "" {
		errs = append(errs, errors.New("PYTHON_PATH: must not be empty"))
	}
	if c.InlineResultBytes < 1024 || c.InlineResultBytes > 1<<20 {
		errs = append(errs, errors.New("NOETL_EVENT_RESULT_CONTEXT_MAX_BYTES: must be between 1024 and 1048576"))
	}
	if c.SnowflakeNode.Set && c.SnowflakeNode.Value > 1023 {
		errs = append(errs, errors.New("NOETL_SNOWFLAKE_NODE_ID: must be between 0 and 1023"))
	}
	if strings.ContainsAny(c.WorkerID, "\x00\n\r") || len(c.WorkerID) > 200 {
		errs = append(errs, errors.New("WORKER_ID: must be one line of at most 200 characters"))
	}
	return errors.Join(errs...)
}

// ID is WORKER_ID, else a name unique to this process: noetl-worker-<host>-<random>.
func (c *Config) ID() string {
	if c.WorkerID != "" {
		return c.WorkerID
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "noetl-worker-" + host + "-" + hex.EncodeToString(b[:])
}

// ConsumerName is NATS_CONSUMER, else noetl_worker_<segment>: one durable consumer per
// pool segment, shared by every worker of it.
func (c *Config) ConsumerName() string {
	if c.Consumer != "" {
		return c.Consumer
	}
	return "noetl_worker_" + c.PoolSegment
}

// NATSConfig is the NATS section with the worker's default URL.
func (c *Config) NATSConfig() natsx.Config {
	n := c.NATS
	if n.ServerURL() == "" {
		n.URL = DefaultNATSURL
	}
	return n
}

// Token is the bearer token the worker sends: NOETL_WORKER_TOKEN, else NOETL_API_TOKEN
// (the token the services' worker routes take when theirs is unset), else
// NOETL_INTERNAL_API_TOKEN (which every route takes; only a system pool should hold it).
// The public token comes before the internal one so that a worker holding both never
// spends the stronger one where the weaker is enough.
func (c *Config) Token() config.Secret {
	switch {
	case c.WorkerToken.IsSet():
		return c.WorkerToken
	case c.APIToken.IsSet():
		return c.APIToken
	}
	return c.InternalToken
}
