package sealed

import "crypto/ecdh"
import "crypto/rand"
import "encoding/json"
import "fmt"
import "io"
import "log/slog"

// SecretKey is an X25519 secret key: a worker's long-lived sealing key, or an
// ephemeral key for SealWithEphemeral. It wraps *ecdh.PrivateKey so that
// printing, logging or marshalling it shows the public key only.
type SecretKey struct {
	k *ecdh.PrivateKey
}

// GenerateSecretKey returns a new random X25519 secret key.
func GenerateSecretKey() (SecretKey, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return SecretKey{}, fmt.Errorf("generate X25519 key: %w", err)
	}
	return SecretKey{k: k}, nil
}

// NewSecretKey wraps 32 raw secret-key bytes (RFC 7748 scalar, clamped at
// use). The bytes are copied.
func NewSecretKey(raw []byte) (SecretKey, error) {
	if len(raw) != KeySize {
		return SecretKey{}, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(raw))
	}
	k, err := ecdh.X25519().NewPrivateKey(raw)
	if err != nil {
		return SecretKey{}, fmt.Errorf("secret key: %w", err)
	}
	return SecretKey{k: k}, nil
}

// PublicKey returns the matching public key (nil for the zero SecretKey).
func (s SecretKey) PublicKey() *ecdh.PublicKey {
	if s.k == nil {
		return nil
	}
	return s.k.PublicKey()
}

func (s SecretKey) describe() string {
	if s.k == nil {
		return "sealed.SecretKey{}"
	}
	return "sealed.SecretKey{public:" + EncodePublicKey(s.k.PublicKey()) + " secret:[redacted]}"
}

// String, GoString, Format, LogValue and MarshalJSON show the public key only.
func (s SecretKey) String() string             { return s.describe() }
func (s SecretKey) GoString() string           { return s.describe() }
func (s SecretKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.describe()) }
func (s SecretKey) LogValue() slog.Value       { return slog.StringValue(s.describe()) }
func (s SecretKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.describe())
}
