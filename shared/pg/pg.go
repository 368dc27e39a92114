// Package pg opens the PostgreSQL pool from the documented variables (README.md) and applies the schema
// migrations shipped in this package.
package pg

import "context"
import "errors"
import "fmt"
import "net"
import "net/url"
import "regexp"
import "strconv"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/config"

// Config is the database section of the configuration (README.md). DATABASE_URL, when set, wins over the
// POSTGRES_* connection fields; the pool sizes apply either way.
type Config struct {
	DatabaseURL    config.Secret `env:"DATABASE_URL"`
	Host           string        `env:"POSTGRES_HOST" envDefault:"localhost"`
	Port           uint16        `env:"POSTGRES_PORT" envDefault:"5432"`
	User           string        `env:"POSTGRES_USER" envDefault:"noetl"`
	Password       config.Secret `env:"POSTGRES_PASSWORD"`
	Database       string        `env:"POSTGRES_DATABASE" envDefault:"noetl"`
	MaxConns       int32         `env:"POSTGRES_MAX_CONNECTIONS" envDefault:"10"`
	MinConns       int32         `env:"POSTGRES_MIN_CONNECTIONS" envDefault:"1"`
	AcquireTimeout int           `env:"POSTGRES_ACQUIRE_TIMEOUT" envDefault:"30"`
	Schema         string        `env:"NOETL_SCHEMA" envDefault:"noetl"`
	AutoMigrate    config.Bool   `env:"NOETL_AUTO_MIGRATE" envDefault:"false"`
}

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Validate checks pool sizes and the schema name (it becomes an identifier in SQL).
func (c Config) Validate() error {
	var errs []error
	if !schemaName.MatchString(c.Schema) {
		errs = append(errs, fmt.Errorf("NOETL_SCHEMA: %q is not a plain identifier (letters, digits, underscore)", c.Schema))
	}
	if c.MaxConns < 1 {
		errs = append(errs, errors.New("POSTGRES_MAX_CONNECTIONS: must be >= 1"))
	}
	if c.MinConns < 0 || c.MinConns > c.MaxConns {
		errs = append(errs, errors.New("POSTGRES_MIN_CONNECTIONS: must be between 0 and POSTGRES_MAX_CONNECTIONS"))
	}
	if c.AcquireTimeout < 1 {
		errs = append(errs, errors.New("POSTGRES_ACQUIRE_TIMEOUT: must be >= 1 second"))
	}
	errs = append(errs, CheckURL("DATABASE_URL", c.DatabaseURL))
	return errors.Join(errs...)
}

// CheckURL reports a connection URL that is set but does not parse, under the name of
// the variable that holds it. pgx errors can quote the URL, password included, so the
// error says only what is wrong.
func CheckURL(variable string, value config.Secret) error {
	if !value.IsSet() {
		return nil
	}
	if _, err := pgxpool.ParseConfig(value.Reveal()); err != nil {
		return errors.New(variable + ": not a valid PostgreSQL connection URL")
	}
	return nil
}

// ConnString is the libpq URL the pool connects with.
func (c Config) ConnString() string {
	if c.DatabaseURL.IsSet() {
		return c.DatabaseURL.Reveal()
	}
	u := url.URL{
		Scheme: "postgres",
		Host:   net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), // brackets an IPv6 host
		Path:   "/" + c.Database,
	}
	if c.Password.IsSet() {
		u.User = url.UserPassword(c.User, c.Password.Reveal())
	} else {
		u.User = url.User(c.User)
	}
	return u.String()
}

// QuoteIdent quotes an identifier for SQL.
func QuoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// PoolConfig builds the pgx pool configuration. Every connection runs in UTC and has
// search_path set to NOETL_SCHEMA, so queries use unqualified table names and one
// database can hold several deployments (or one schema per test).
func (c Config) PoolConfig() (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(c.ConnString())
	if err != nil {
		return nil, errors.New("database connection settings are invalid")
	}
	pc.MaxConns = c.MaxConns
	pc.MinConns = c.MinConns
	pc.MaxConnIdleTime = 10 * time.Minute
	pc.MaxConnLifetime = 30 * time.Minute
	pc.HealthCheckPeriod = 5 * time.Second
	pc.ConnConfig.ConnectTimeout = time.Duration(c.AcquireTimeout) * time.Second
	pc.ConnConfig.RuntimeParams["search_path"] = QuoteIdent(c.Schema)
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = "noetl"
	}
	return pc, nil
}

// Open creates the pool. It does not wait for the database: a service starts while
// PostgreSQL is still coming up and reports it through /readyz until it answers. The
// POSTGRES_MIN_CONNECTIONS warm connections are opened in the background, and again by
// the pool's health check (every HealthCheckPeriod) while the database does not answer.
// (Open used to set the minimum to 0 to that end, which left the setting without effect.)
func Open(ctx context.Context, c Config) (*pgxpool.Pool, error) {
	pc, err := c.PoolConfig()
	if err != nil {
		return nil, err
	}
	pc.ConnConfig.Tracer = &acquireCounter{} // Waiting reads it
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("create postgres pool: %w", err)
	}
	return pool, nil
}

// Ping checks that a connection can run a query within timeout.
func Ping(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var one int
	if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// AcquireTimeoutDuration returns POSTGRES_ACQUIRE_TIMEOUT as a duration.
func (c Config) AcquireTimeoutDuration() time.Duration {
	return time.Duration(c.AcquireTimeout) * time.Second
}

// Describe is a log-safe description of the target (no password).
func (c Config) Describe() string {
	if c.DatabaseURL.IsSet() {
		pc, err := pgx.ParseConfig(c.DatabaseURL.Reveal())
		if err != nil {
			return "DATABASE_URL (unparseable)"
		}
		return fmt.Sprintf("%s@%s:%s/%s schema=%s", pc.User, pc.Host, strconv.Itoa(int(pc.Port)), pc.Database, c.Schema)
	}
	return fmt.Sprintf("%s@%s:%d/%s schema=%s", c.User, c.Host, c.Port, c.Database, c.Schema)
}

// WithURL returns c with DATABASE_URL set to u.
func (c Config) WithURL(u string) Config {
	c.DatabaseURL = config.Secret(u)
	return c
}
