package config

import "errors"
import "fmt"
import "strings"
import "time"

// Common holds the variables every binary reads. Port has no default here: each binary
// pre-sets its own (router 8082, api 8083, wallet 8084, broker 8085) before Load.
type Common struct {
	Host           string `env:"NOETL_HOST" envDefault:"0.0.0.0"`
	Port           Port   `env:"NOETL_PORT"`
	Workers        int    `env:"NOETL_WORKERS"`
	Debug          Bool   `env:"NOETL_DEBUG" envDefault:"false"`
	ServerName     string `env:"NOETL_SERVER_NAME" envDefault:"noetl-control-plane"`
	DisableMetrics Bool   `env:"NOETL_DISABLE_METRICS" envDefault:"false"`
	LogLevel       string `env:"NOETL_LOG_LEVEL"`
	RustLog        string `env:"RUST_LOG"`
	MaxBodyBytes   int64  `env:"NOETL_MAX_BODY_BYTES" envDefault:"2097152"`
	// MaxResultBytes is the body limit of the result store (/api/result/), which takes
	// tool results too large to inline in an event.
	MaxResultBytes int64         `env:"NOETL_MAX_RESULT_BYTES" envDefault:"67108864"`
	ShutdownGrace  time.Duration `env:"NOETL_SHUTDOWN_TIMEOUT" envDefault:"30s"`
	InternalToken  Secret        `env:"NOETL_INTERNAL_API_TOKEN"`
	// PprofAddr, when set, serves Go's net/http/pprof on its own listener (e.g.
	// 127.0.0.1:6060) for profiling; never on the public port.
	PprofAddr string `env:"NOETL_PPROF_ADDR"`

	TLS         ServerTLS
	InternalTLS ClientTLS
}

// PublicTokens authenticate the public surface (docs/security.md): clients present
// API, workers present Worker. A binary that serves client or worker routes embeds them;
// with one unset, its class of routes takes the other, and with both unset they are open.
type PublicTokens struct {
	API    Secret `env:"NOETL_API_TOKEN"`
	Worker Secret `env:"NOETL_WORKER_TOKEN"`
}

// ServerTLS selects plain HTTP, HTTPS or mTLS for a listener (the deployment specification's "Transport
// security" table).
type ServerTLS struct {
	CertFile     string `env:"NOETL_TLS_CERT"`
	KeyFile      string `env:"NOETL_TLS_KEY"`
	ClientCAFile string `env:"NOETL_TLS_CLIENT_CA"`
}

// ClientTLS is what a service presents when it calls another service. With a CA set the
// peer's certificate is verified against it; with cert and key set the call is mTLS.
type ClientTLS struct {
	CertFile string `env:"NOETL_INTERNAL_TLS_CERT"`
	KeyFile  string `env:"NOETL_INTERNAL_TLS_KEY"`
	CAFile   string `env:"NOETL_INTERNAL_TLS_CA"`
}

// Enabled reports whether the listener serves TLS.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" }

// Validate applies the fail-fast rules shared by every binary.
func (c *Common) Validate() error {
	var errs []error
	if c.Port == 0 {
		errs = append(errs, errors.New("NOETL_PORT: must be set"))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
	}
	if (c.InternalTLS.CertFile == "") != (c.InternalTLS.KeyFile == "") {
		errs = append(errs, errors.New("NOETL_INTERNAL_TLS_CERT and NOETL_INTERNAL_TLS_KEY must be set together (or neither)"))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("NOETL_MAX_BODY_BYTES: must be a positive number of bytes"))
	}
	if c.MaxResultBytes != 0 && c.MaxResultBytes < c.MaxBodyBytes {
		errs = append(errs, errors.New("NOETL_MAX_RESULT_BYTES: must be at least NOETL_MAX_BODY_BYTES"))
	}
	if c.Workers < 0 {
		errs = append(errs, errors.New("NOETL_WORKERS: must not be negative"))
	}
	if _, err := ParseLevel(c.Level()); err != nil {
		errs = append(errs, fmt.Errorf("NOETL_LOG_LEVEL: %w", err))
	}
	return errors.Join(errs...)
}

// Validate checks the certificate/key pairing.
func (t ServerTLS) Validate() error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("NOETL_TLS_CERT and NOETL_TLS_KEY: TLS misconfigured, set both (or neither)")
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		return errors.New("NOETL_TLS_CLIENT_CA: mTLS needs NOETL_TLS_CERT and NOETL_TLS_KEY as well")
	}
	return nil
}

// Level is the effective log level: NOETL_LOG_LEVEL, else a plain level in RUST_LOG (kept
// for operators who carry it over from the upstream server), else debug when NOETL_DEBUG
// is on, else info.
//
// The result is canonical (debug, info, warn, error): the logger only knows those names,
// so an alias such as WARN, warning or trace must not reach it unnormalised.
func (c *Common) Level() string {
	if c.LogLevel != "" {
		if l, err := ParseLevel(c.LogLevel); err == nil {
			return l
		}
		return c.LogLevel // invalid: Validate reports it
	}
	if strings.TrimSpace(c.RustLog) != "" {
		if l, err := ParseLevel(c.RustLog); err == nil {
			return l
		}
	}
	if c.Debug {
		return "debug"
	}
	return "info"
}

// ParseLevel validates a log level name.
func ParseLevel(s string) (string, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "trace", "debug":
		return "debug", nil
	case "info", "warn", "error":
		return l, nil
	case "warning":
		return "warn", nil
	default:
		return "", fmt.Errorf("%q is not one of debug, info, warn, error", s)
	}
}

// Addr is the listen address.
func (c *Common) Addr() string { return fmt.Sprintf("%s:%d", c.Host, c.Port) }
