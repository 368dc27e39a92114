package testkit

import "context"
import "errors"
import "fmt"
import "net"
import "strings"
import "testing"
import "time"

import "github.com/nats-io/nats-server/v2/server"
import "github.com/nats-io/nats.go"
import "github.com/nats-io/nats.go/jetstream"

// NATSURL is the shared JetStream server tests use: NOETL_TEST_NATS_URL, else the
// machine's server on 127.0.0.1:4222.
func NATSURL() string {
	return envOr("NOETL_TEST_NATS_URL", "nats://127.0.0.1:4222")
}

// JetStream connects to the shared server (NATSURL) for the test's own calls; the
// connection closes when the test ends.
func JetStream(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(NATSURL(), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("NATS at %s: %v", NATSURL(), err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
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

// RestartEmpty starts the server again on the same port with a new, empty store: a NATS
// that lost its storage (one without a persistent volume) and every stream with it.
func (n *EmbeddedNATS) RestartEmpty() {
	n.t.Helper()
	n.Stop()
	n.opts.StoreDir = n.t.TempDir()
	n.start()
}

// CommandNamespace is a subject prefix and stream of command notifications that no other
// test shares (NOETL_NATS_SUBJECT_PREFIX, NOETL_NATS_STREAM): workers whose durable
// consumers cover a whole pool then see only their own suite's commands on the shared
// server.
type CommandNamespace struct {
	Prefix string
	Stream string
}

// NewCommandNamespace returns a fresh namespace on the server at natsURL and deletes its
// stream (whoever created it) when the test ends.
func NewCommandNamespace(t testing.TB, natsURL string) CommandNamespace {
	t.Helper()
	id := UniqueName("")
	ns := CommandNamespace{Prefix: "t_" + id, Stream: "T_" + strings.ToUpper(id)}
	t.Cleanup(func() {
		nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second))
		if err != nil {
			return // an embedded server that is gone took the stream with it
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, ns.Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Logf("delete stream %s: %v", ns.Stream, err)
		}
	})
	return ns
}

// Env is the namespace as the binaries read it.
func (ns CommandNamespace) Env() map[string]string {
	return map[string]string{"NOETL_NATS_SUBJECT_PREFIX": ns.Prefix, "NOETL_NATS_STREAM": ns.Stream}
}
