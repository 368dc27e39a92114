package testkit

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSURL is the shared JetStream server tests use: NOETL_TEST_NATS_URL, else the
// machine's server on 127.0.0.1:4222.
func NATSURL() string {
	if u := os.Getenv("NOETL_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// EmbeddedNATS is a JetStream server owned by one test, which it can stop and restart on
// the same port to simulate an outage.
type EmbeddedNATS struct {
	t    testing.TB
	opts *server.Options
	srv  *server.Server
}

// StartNATS starts an embedded JetStream server on a free port.
func StartNATS(t testing.TB) *EmbeddedNATS {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
	n := &EmbeddedNATS{t: t, opts: opts}
	n.start()
	// Pin the port so that a restart comes back where clients reconnect to.
	n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(n.Stop)
	return n
}

func (n *EmbeddedNATS) start() {
	n.t.Helper()
	srv, err := server.NewServer(n.opts)
	if err != nil {
		n.t.Fatalf("embedded nats: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		n.t.Fatalf("embedded nats did not start")
	}
	n.srv = srv
}

// URL is the client URL.
func (n *EmbeddedNATS) URL() string {
	return fmt.Sprintf("nats://127.0.0.1:%d", n.opts.Port)
}

// Stop shuts the server down (idempotent).
func (n *EmbeddedNATS) Stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// Restart starts the server again on the same port with the same store.
func (n *EmbeddedNATS) Restart() {
	n.t.Helper()
	n.Stop()
	n.start()
}
