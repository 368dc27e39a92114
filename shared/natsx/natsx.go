// Package natsx connects to NATS from the documented variables (README.md). The connection never gives
// up: a server that is down at startup or goes away later is retried forever in the
// background, and callers ask Connected() (readiness) instead of failing.
package natsx

import "errors"
import "log/slog"
import "net/url"
import "strings"
import "time"

import "github.com/nats-io/nats.go"

import "github.com/noetl/controlplane/shared/config"

// Config is the NATS section. NATS_URL is the documented name; NOETL_NATS_URL is what the
// upstream server actually read, accepted as an alias.
type Config struct {
	URL      string        `env:"NATS_URL"`
	AliasURL string        `env:"NOETL_NATS_URL"`
	User     string        `env:"NATS_USER"`
	Password config.Secret `env:"NATS_PASSWORD"`
}

// ServerURL is the effective URL ("" means NATS is not configured: degraded mode).
func (c Config) ServerURL() string {
	if c.URL != "" {
		return c.URL
	}
	return c.AliasURL
}

// Validate checks the URL shape without echoing credentials embedded in it.
func (c Config) Validate() error {
	u := c.ServerURL()
	if u == "" {
		return nil
	}
	// Name the variable the URL came from: with only the alias set, "NATS_URL" would
	// send the operator to a variable that is not set.
	name := "NATS_URL"
	if c.URL == "" {
		name = "NOETL_NATS_URL"
	}
	for _, part := range splitServers(u) {
		pu, err := url.Parse(part)
		if err != nil || pu.Host == "" {
			return errors.New(name + ": not a valid URL (expected nats://host:4222)")
		}
	}
	return nil
}

func splitServers(u string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(u); i++ {
		if i == len(u) || u[i] == ',' {
			// nats.go trims each server of a list ("nats://a:4222, nats://b:4222").
			if s := strings.TrimSpace(u[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	return out
}

// Connect opens a connection that retries forever. It returns at once even when the
// server is down; the connection comes up when the server does.
func Connect(c Config, name string, logger *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.Timeout(2 * time.Second),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ReconnectBufSize(-1), // publishes go through the outbox; never buffer them blindly
		nats.ConnectHandler(func(*nats.Conn) { logger.Info("nats connected") }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Warn("nats disconnected", slog.Any("error", err))
		}),
		nats.ReconnectHandler(func(*nats.Conn) { logger.Info("nats reconnected") }),
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password.Reveal()))
	}
	nc, err := nats.Connect(c.ServerURL(), opts...)
	if err != nil {
		return nil, err
	}
	return nc, nil
}

// ErrNotConfigured is returned by readiness when NATS_URL is unset.
var ErrNotConfigured = errors.New("not configured")

// ErrDisconnected is the readiness failure while the connection is down.
var ErrDisconnected = errors.New("disconnected")
