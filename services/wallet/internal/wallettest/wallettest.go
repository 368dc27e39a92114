// Package wallettest is the common ground of the wallet packages' tests: a keyring on
// local keys and a strict audit recorder on a test schema, built the way the wallet's app
// wires them.
package wallettest

import "context"
import "io"
import "log/slog"
import "testing"

import "github.com/jackc/pgx/v5/pgxpool"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/wallet/internal/audit"
import "github.com/noetl/controlplane/services/wallet/internal/keyring"
import "github.com/noetl/controlplane/shared/crypto/envelope"

// Ring is the wallet's keyring on a local key manager: key (base64 of 32 bytes) under
// version, with previous ("<version>=<base64>,...") still able to unwrap.
func Ring(t testing.TB, key, version, previous string) *keyring.Ring {
	t.Helper()
	km, err := envelope.NewLocalKeyManager(envelope.LocalConfig{Key: key, KeyVersion: version, PreviousKeys: previous})
	if err != nil {
		t.Fatal(err)
	}
	return keyring.New(km)
}

// StrictRecorder is an audit recorder in strict mode (a row is written before a call
// returns) for server region r1, writing to pool; it is closed when the test ends.
func StrictRecorder(t testing.TB, pool *pgxpool.Pool, ids audit.IDSource) *audit.Recorder {
	t.Helper()
	rec := audit.NewRecorder(audit.Options{
		Writer: audit.NewStore(pool), IDs: ids, Strict: true, ServerRegion: "r1",
		Metrics: audit.NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	return rec
}
