package keyring

import "context"
import "crypto/subtle"
import "errors"
import "fmt"
import "log/slog"
import "time"

import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/periodic"

// Key check values bind each key version label to the key it was first used with
// (docs/security.md, "Key labels"). A new key configured under an old label would
// otherwise pass for the old one: rotation would skip every row by its label and report
// done, every read would fail, and retiring the old key, the runbook's next step, would
// lose every stored secret.

// CheckStore is what the verification reads and writes (Store in this package).
type CheckStore interface {
	// CheckValue returns the value stored for (provider, version), if any.
	CheckValue(ctx context.Context, provider, version string) (value string, found bool, err error)
	// PutCheckValue stores value unless one exists, and returns the stored one.
	PutCheckValue(ctx context.Context, provider, version, value string) (string, error)
	// Samples returns up to limit stored values of each sealed table whose dek.kv is
	// version.
	Samples(ctx context.Context, version string, limit int) ([]string, error)
}

// labelled is a key manager whose keys have labels and check values (the local one;
// Cloud KMS chooses its key versions itself).
type labelled interface {
	KeyVersions() []string
	CheckValue(version string) (string, bool)
}

// MismatchError is a configured key that is not the one its label is bound to. The
// wallet refuses to start with it.
type MismatchError struct {
	Version string
	Current bool // the label of NOETL_ENCRYPTION_KEY, else of a NOETL_ENCRYPTION_PREVIOUS_KEYS entry
	Reason  string
}

func (e *MismatchError) Error() string {
	if e.Current {
		return fmt.Sprintf("%s does not match the key this database holds under %s=%q (%s): "+
			"a new key needs a new label. Set %s to a label not used before and list the old key in %s as %s=<old key>, "+
			"or restore the key %q was used with",
			envelope.EnvEncryptionKey, envelope.EnvEncryptionKeyVersion, e.Version, e.Reason,
			envelope.EnvEncryptionKeyVersion, envelope.EnvPreviousKeys, e.Version, e.Version)
	}
	return fmt.Sprintf("%s entry %q does not match the key this database holds under that label (%s): "+
		"give it the key that was %s when %s was %q",
		envelope.EnvPreviousKeys, e.Version, e.Reason, envelope.EnvEncryptionKey, envelope.EnvEncryptionKeyVersion, e.Version)
}

// SamplesPerVersion bounds the rows tried per label: one that unwraps proves the key,
// and a few guard against a single damaged row.
const SamplesPerVersion = 3

// Verify checks every key the ring holds against the check value stored for its label.
// A label without one gets it, after the key is shown to unwrap the rows already stored
// under that label (a database from before check values existed). A mismatch is a
// *MismatchError; any other error means the database could not be asked.
func (r *Ring) Verify(ctx context.Context, store CheckStore) error {
	if r == nil || r.cipher == nil {
		return nil
	}
	km := r.cipher.KeyManager()
	lk, ok := km.(labelled)
	if !ok {
		return nil
	}
	current := km.CurrentKeyVersion()
	for _, v := range lk.KeyVersions() {
		want, _ := lk.CheckValue(v)
		stored, found, err := store.CheckValue(ctx, km.Provider(), v)
		if err != nil {
			return err
		}
		if !found {
			samples, err := store.Samples(ctx, v, SamplesPerVersion)
			if err != nil {
				return err
			}
			if len(samples) > 0 && r.firstUnwrap(ctx, samples) != nil {
				return &MismatchError{Version: v, Current: v == current, Reason: "it cannot unwrap the rows stored under that label"}
			}
			if stored, err = store.PutCheckValue(ctx, km.Provider(), v, want); err != nil {
				return err
			}
		}
		if subtle.ConstantTimeCompare([]byte(stored), []byte(want)) != 1 {
			return &MismatchError{Version: v, Current: v == current, Reason: "its key check value differs"}
		}
	}
	return nil
}

// firstUnwrap returns nil when one of the stored values unwraps, else the last error.
func (r *Ring) firstUnwrap(ctx context.Context, stored []string) error {
	var err error
	for _, s := range stored {
		if err = r.cipher.CheckUnwrap(ctx, s); err == nil {
			return nil
		}
	}
	return err
}

// Bind verifies the keys at startup. A mismatch is returned: the wallet must not start.
// When the database cannot be asked (not up yet, not migrated yet), the ring answers
// ErrVerifying and Bind keeps trying in the background every retry; a mismatch found
// then is passed to fatal, which stops the wallet.
func (r *Ring) Bind(ctx context.Context, store CheckStore, log *slog.Logger, retry time.Duration, fatal func(error)) error {
	err := r.Verify(ctx, store)
	var me *MismatchError
	if err == nil || errors.As(err, &me) {
		return err
	}
	log.Warn("could not verify the encryption keys against the database; key routes answer 503 until it answers", slog.Any("error", err))
	r.verifying.Store(true)
	go periodic.Every(ctx, retry, func(ctx context.Context) bool {
		err := r.Verify(ctx, store)
		switch {
		case err == nil:
			r.verifying.Store(false)
			log.Info("encryption keys verified against the database")
			return false
		case errors.As(err, &me):
			fatal(err)
			return false
		}
		return true
	})
	return nil
}

// Verifying reports whether Bind is still waiting for the database.
func (r *Ring) Verifying() bool { return r != nil && r.verifying.Load() }
