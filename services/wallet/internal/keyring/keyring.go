// Package keyring holds the wallet's envelope cipher, or the reason it has none. The
// wallet starts without NOETL_ENCRYPTION_KEY (README, environment table); every route that encrypts or
// decrypts then answers 500 with a message naming the variable, while the rest of the
// service (health, key-status, audit queries) keeps working.
package keyring

import "context"
import "errors"
import "fmt"
import "net/http"
import "sync/atomic"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/httpx"

// ErrNotConfigured is answered by every route that needs the key when
// NOETL_ENCRYPTION_KEY is unset. Its message is client-safe and reaches clients even with
// NOETL_DEBUG off (httpx.WriteError shows Msg for 5xx).
var ErrNotConfigured = &httpx.Error{
	Status: http.StatusInternalServerError,
	Msg:    "credential encryption is not configured: NOETL_ENCRYPTION_KEY is not set on the wallet",
}

// ErrVerifying is answered while the configured keys have not yet been checked against
// the database (it was unreachable at startup; see Bind).
var ErrVerifying = &httpx.Error{
	Status: http.StatusServiceUnavailable,
	Msg:    "the wallet is still verifying NOETL_ENCRYPTION_KEY against the database; retry shortly",
}

// Ring is the wallet's cipher. The zero value is not usable; build one with New or
// Unconfigured.
type Ring struct {
	cipher *envelope.Cipher
	// verifying is set while Bind waits for the database; key routes answer 503 then.
	verifying atomic.Bool
}

// New returns a ring that wraps DEKs with km.
func New(km envelope.KeyManager) *Ring { return &Ring{cipher: envelope.NewCipher(km)} }

// Unconfigured returns a ring whose every operation fails with ErrNotConfigured.
func Unconfigured() *Ring { return &Ring{} }

// Ready reports ErrNotConfigured when there is no key, and ErrVerifying until the keys
// are known to be the ones their labels were first used with.
func (r *Ring) Ready() error {
	if r == nil || r.cipher == nil {
		return ErrNotConfigured
	}
	if r.verifying.Load() {
		return ErrVerifying
	}
	return nil
}

// Require is middleware for the route groups that need the key: it answers
// ErrNotConfigured before any body is read.
func (r *Ring) Require() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := r.Ready(); err != nil {
			httpx.Abort(c, err)
			return
		}
		c.Next()
	}
}

// CurrentKeyVersion is the dek.kv new records get ("" without a key).
func (r *Ring) CurrentKeyVersion() string {
	if r.Ready() != nil {
		return ""
	}
	return r.cipher.KeyManager().CurrentKeyVersion()
}

// Provider is the dek.p new records get ("" without a key).
func (r *Ring) Provider() string {
	if r.Ready() != nil {
		return ""
	}
	return r.cipher.KeyManager().Provider()
}

// Seal encrypts plaintext into a stored envelope.
func (r *Ring) Seal(ctx context.Context, plaintext []byte) (string, error) {
	if err := r.Ready(); err != nil {
		return "", err
	}
	s, err := r.cipher.Seal(ctx, plaintext)
	if err != nil {
		// envelope errors never quote key material or plaintext.
		return "", httpx.Internal(fmt.Sprintf("encrypt record: %v", err), err)
	}
	return s, nil
}

// Open decrypts a stored envelope. Failures are 500s whose message says what an operator
// has to do; envelope errors never quote stored values, keys or plaintext, so the text is
// safe to show.
func (r *Ring) Open(ctx context.Context, stored string) ([]byte, error) {
	if err := r.Ready(); err != nil {
		return nil, err
	}
	pt, err := r.cipher.Open(ctx, stored)
	if err == nil {
		return pt, nil
	}
	msg := fmt.Sprintf("decrypt record: %v", err)
	if errors.Is(err, envelope.ErrNotEnvelope) {
		msg += " (a legacy or damaged value: register it again)"
	}
	return nil, httpx.Internal(msg, err)
}

// CheckUnwrap reports whether the key opens a stored envelope (its DEK unwraps); the
// record's data is not decrypted.
func (r *Ring) CheckUnwrap(ctx context.Context, stored string) error {
	if err := r.Ready(); err != nil {
		return err
	}
	return r.cipher.CheckUnwrap(ctx, stored)
}

// Rewrap re-wraps a stored envelope's DEK under the current key version (no plaintext).
func (r *Ring) Rewrap(ctx context.Context, stored string) (envelope.RewrapOutcome, error) {
	if err := r.Ready(); err != nil {
		return envelope.RewrapOutcome{Status: envelope.RewrapFailedWrap}, err
	}
	return r.cipher.Rewrap(ctx, stored)
}
