package envelope

import "context"
import "crypto/rand"
import "fmt"
import "io"

// Cipher seals records into stored envelopes and opens them, with a fresh
// random DEK per record wrapped by its KeyManager.
type Cipher struct {
	km   KeyManager
	rand io.Reader // DEK and data nonce; nil: crypto/rand
}

// NewCipher returns a Cipher that wraps DEKs with km.
func NewCipher(km KeyManager) *Cipher { return &Cipher{km: km} }

// KeyManager returns the key manager the Cipher wraps with.
func (c *Cipher) KeyManager() KeyManager { return c.km }

// Seal encrypts plaintext under a new DEK, wraps the DEK under the current KEK
// version and returns the storage string. Wrap failures wrap ErrWrap.
func (c *Cipher) Seal(ctx context.Context, plaintext []byte) (string, error) {
	r := c.rand
	if r == nil {
		r = rand.Reader
	}
	dek := make([]byte, KeySize)
	defer clear(dek)
	if _, err := io.ReadFull(r, dek); err != nil {
		return "", fmt.Errorf("generate DEK: %w", err)
	}
	enc, err := NewEncryptor(dek)
	if err != nil {
		return "", err
	}
	ct, err := enc.encrypt(r, plaintext)
	if err != nil {
		return "", err
	}
	w, err := c.km.WrapDEK(ctx, dek)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrWrap, err)
	}
	return StoredEnvelope{V: EnvelopeVersion, Alg: Alg, Ciphertext: ct, DEK: w}.Encode(), nil
}

// Open returns the plaintext of a storage string. Errors wrap ErrNotEnvelope
// (malformed or legacy value), ErrUnwrap (DEK not recoverable with this key
// manager) or ErrDecrypt (data failed authentication).
func (c *Cipher) Open(ctx context.Context, raw string) ([]byte, error) {
	env, err := ParseStoredEnvelope(raw)
	if err != nil {
		return nil, err
	}
	dek, err := c.unwrap(ctx, env.DEK)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	enc, err := NewEncryptor(dek)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnwrap, err)
	}
	pt, err := enc.Decrypt(env.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("decrypt record data: %w", err)
	}
	return pt, nil
}

// CheckUnwrap reports whether this key manager can unwrap the record's DEK, without
// decrypting the record's data. The wallet's readiness uses it to tell a key that opens
// its rows from a wrong one. Errors wrap ErrNotEnvelope or ErrUnwrap.
func (c *Cipher) CheckUnwrap(ctx context.Context, raw string) error {
	env, err := ParseStoredEnvelope(raw)
	if err != nil {
		return err
	}
	dek, err := c.unwrap(ctx, env.DEK)
	if err != nil {
		return err
	}
	clear(dek)
	return nil
}

func (c *Cipher) unwrap(ctx context.Context, w WrappedDEK) ([]byte, error) {
	dek, err := c.km.UnwrapDEK(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnwrap, err)
	}
	if len(dek) != KeySize {
		clear(dek)
		return nil, fmt.Errorf("%w: invalid DEK length: expected %d bytes, got %d", ErrUnwrap, KeySize, len(dek))
	}
	return dek, nil
}

// RewrapStatus is a rotation outcome, spelled as the
// noetl_wallet_rotate_total status label.
type RewrapStatus string

const (
	RewrapSkipped      RewrapStatus = "skipped"
	RewrapRewrapped    RewrapStatus = "rewrapped"
	RewrapFailedUnwrap RewrapStatus = "failed_unwrap"
	RewrapFailedWrap   RewrapStatus = "failed_wrap"
	RewrapParseError   RewrapStatus = "parse_error"
)

// RewrapOutcome describes what Rewrap did to one stored value.
type RewrapOutcome struct {
	Status RewrapStatus
	// OldKeyVersion is the record's dek.kv ("" on parse_error).
	OldKeyVersion string
	// NewKeyVersion is dek.kv after a rewrap (OldKeyVersion when skipped).
	NewKeyVersion string
	// Stored is the new storage string when Status is rewrapped, else "".
	Stored string
}

// Rewrap re-wraps a record's DEK under the current KEK version without
// decrypting its data: v, alg and ct are carried over byte for byte and only
// dek changes. A record already wrapped by this provider at the current
// version is skipped, but only once its DEK unwraps under the current key: a
// label alone does not prove the key (a new key configured under an old label
// would otherwise have every row skipped as done, and every read failing). The
// outcome's Status is always set; the error is non-nil exactly for parse_error
// (wraps ErrNotEnvelope), failed_unwrap (ErrUnwrap) and failed_wrap (ErrWrap).
func (c *Cipher) Rewrap(ctx context.Context, raw string) (RewrapOutcome, error) {
	env, err := ParseStoredEnvelope(raw)
	if err != nil {
		return RewrapOutcome{Status: RewrapParseError}, err
	}
	old := env.DEK.KeyVersion
	dek, err := c.unwrap(ctx, env.DEK)
	if err != nil {
		return RewrapOutcome{Status: RewrapFailedUnwrap, OldKeyVersion: old}, err
	}
	defer clear(dek)
	if env.DEK.Provider == c.km.Provider() && old == c.km.CurrentKeyVersion() {
		return RewrapOutcome{Status: RewrapSkipped, OldKeyVersion: old, NewKeyVersion: old}, nil
	}
	w, err := c.km.WrapDEK(ctx, dek)
	if err != nil {
		return RewrapOutcome{Status: RewrapFailedWrap, OldKeyVersion: old}, fmt.Errorf("%w: %w", ErrWrap, err)
	}
	env.DEK = w
	return RewrapOutcome{Status: RewrapRewrapped, OldKeyVersion: old, NewKeyVersion: w.KeyVersion, Stored: env.Encode()}, nil
}

const cipherDesc = "envelope.Cipher{}"

// Format and friends keep the key manager's internals out of logs.
func (c *Cipher) String() string             { return cipherDesc }
func (c *Cipher) Format(f fmt.State, _ rune) { formatRedacted(f, cipherDesc) }
