package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/noetl/controlplane/shared/crypto/envelope"
)

// keyCheckTTL is how long a key check's verdict stands: the check reads the newest row of
// each encrypted table and may call a KMS, too much for every probe.
const keyCheckTTL = 30 * time.Second

// unwrapper is the part of keyring.Ring the check needs.
type unwrapper interface {
	Ready() error
	CheckUnwrap(ctx context.Context, stored string) error
}

// keyCheck is the wallet's "key" readiness check: the wallet is ready only with a key that
// opens its rows. Without NOETL_ENCRYPTION_KEY every credential route fails, and with the
// wrong key (a copy from another environment, a rotation that dropped the old version)
// every stored credential does, so in both cases the replica must not take traffic.
//
// It probes the newest credential and the latest-expiring keychain entry: the rows written
// most recently, by the key the deployment runs with now. Rows in a legacy or damaged
// format say nothing about the key and are ignored (key-status lists them).
type keyCheck struct {
	ring unwrapper
	pool *pgxpool.Pool
	now  func() time.Time

	mu      sync.Mutex
	checked time.Time
	last    error
}

var keyProbes = []struct{ table, query string }{
	{"credential", `SELECT data_encrypted FROM credential ORDER BY id DESC LIMIT 1`},
	{"keychain", `SELECT data_encrypted FROM keychain ORDER BY expires_at DESC LIMIT 1`},
}

func newKeyCheck(ring unwrapper, pool *pgxpool.Pool) *keyCheck {
	return &keyCheck{ring: ring, pool: pool, now: time.Now}
}

// Check returns nil when the key opens the probed rows (or there are none yet).
func (k *keyCheck) Check(ctx context.Context) error {
	if err := k.ring.Ready(); err != nil {
		return errors.New("NOETL_ENCRYPTION_KEY is not set on the wallet: set it (base64 of 32 bytes) to the key that encrypted the stored credentials")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.checked.IsZero() && k.now().Sub(k.checked) < keyCheckTTL {
		return k.last
	}
	err := k.probe(ctx)
	if ctx.Err() != nil {
		return err // a probe cut short by its deadline decides nothing; ask again next time
	}
	k.checked, k.last = k.now(), err
	return err
}

func (k *keyCheck) probe(ctx context.Context) error {
	for _, p := range keyProbes {
		var stored string
		err := k.pool.QueryRow(ctx, p.query).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the newest %s row: %w", p.table, err)
		}
		err = k.ring.CheckUnwrap(ctx, stored)
		switch {
		case err == nil, errors.Is(err, envelope.ErrNotEnvelope):
			continue
		default:
			version, _ := envelope.KeyVersion(stored)
			// envelope errors never quote key material or stored values.
			return fmt.Errorf("the configured key cannot open the newest %s row (written under key version %q: %v): set NOETL_ENCRYPTION_KEY to the key that wrote it, or list that key in NOETL_ENCRYPTION_PREVIOUS_KEYS", p.table, version, err)
		}
	}
	return nil
}
