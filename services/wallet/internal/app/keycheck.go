package app

import "context"
import "errors"
import "fmt"
import "sync"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/keyring"
import "github.com/noetl/controlplane/shared/crypto/envelope"

// keyCheckTTL is how long a key check's verdict stands: the check samples the rows of
// every key version label and may call a KMS, too much for every probe.
const keyCheckTTL = 30 * time.Second

// unwrapper is the part of keyring.Ring the check needs.
type unwrapper interface {
	Ready() error
	Verifying() bool
	CheckUnwrap(ctx context.Context, stored string) error
}

// rowSampler reads stored values per table and key version label (keyring.Store).
type rowSampler interface {
	VersionSamples(ctx context.Context, limit int) ([]keyring.LabelSamples, error)
}

// keyCheck is the wallet's "key" readiness check: the wallet is ready only with keys that
// open its rows. Without NOETL_ENCRYPTION_KEY every credential route fails, and with the
// wrong keys (a copy from another environment, a rotation that dropped the old version
// before every row was re-wrapped) every row under the missing label does, so in both
// cases the replica must not take traffic.
//
// It samples a few rows of every label present in each table (keyring.SamplesPerVersion)
// and needs one of each label's to unwrap: probing only the newest rows would miss the old
// label that a retired key leaves behind. Rows in a legacy or damaged format say nothing
// about the key and are ignored (key-status lists them).
type keyCheck struct {
	ring unwrapper
	rows rowSampler
	now  func() time.Time

	mu      sync.Mutex
	checked time.Time
	last    error
}

func newKeyCheck(ring unwrapper, rows rowSampler) *keyCheck {
	return &keyCheck{ring: ring, rows: rows, now: time.Now}
}

// Check returns nil when the keys open the sampled rows (or there are none yet).
func (k *keyCheck) Check(ctx context.Context) error {
	if k.ring.Verifying() {
		return errors.New("the encryption keys are not yet verified against the database (it did not answer at startup)")
	}
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
	labels, err := k.rows.VersionSamples(ctx, keyring.SamplesPerVersion)
	if err != nil {
		return err
	}
	for _, l := range labels {
		var failed error
		for _, stored := range l.Values {
			err := k.ring.CheckUnwrap(ctx, stored)
			if err == nil {
				failed = nil
				break
			}
			if !errors.Is(err, envelope.ErrNotEnvelope) {
				failed = err
			}
		}
		if failed != nil {
			// envelope errors never quote key material or stored values.
			return fmt.Errorf("the configured keys cannot open the %s rows written under key version %q (%v): set NOETL_ENCRYPTION_KEY to the key that wrote them, or list that key in NOETL_ENCRYPTION_PREVIOUS_KEYS", l.Table, l.Version, failed)
		}
	}
	return nil
}
