package envelope

import "crypto/aes"
import "crypto/cipher"
import "crypto/rand"
import "errors"
import "fmt"
import "io"
import "log/slog"

const (
	// KeySize is the size of every AES-256-GCM key here: KEKs and DEKs.
	KeySize = 32
	// NonceSize and TagSize frame the Encryptor wire format.
	NonceSize = 12
	TagSize   = 16
)

// ErrDecrypt marks a ciphertext that failed AES-GCM authentication or is too
// short to hold a nonce: wrong key, tampering or truncation.
var ErrDecrypt = errors.New("decryption failed")

// Encryptor is the AES-256-GCM primitive used both to wrap DEKs under a local
// KEK and to encrypt record data under a DEK. Its output is
// nonce(12) || ciphertext || tag(16) with a random nonce and no AAD, exactly the
// upstream Rust Encryptor, so output length is plaintext length + 28.
type Encryptor struct {
	aead cipher.AEAD
}

// NewEncryptor returns an Encryptor for a 32-byte key. The key is not retained
// beyond the AES key schedule.
func NewEncryptor(key []byte) (*Encryptor, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("invalid key length: expected %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("aes-gcm: %w", err)
	}
	return &Encryptor{aead: aead}, nil
}

// Encrypt returns nonce || AES-GCM(plaintext) || tag under a fresh random nonce.
func (e *Encryptor) Encrypt(plaintext []byte) ([]byte, error) {
	return e.encrypt(nil, plaintext)
}

// encrypt draws the nonce from r (nil: crypto/rand); tests pin r to reproduce
// the reference vectors.
func (e *Encryptor) encrypt(r io.Reader, plaintext []byte) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	out := make([]byte, NonceSize, NonceSize+len(plaintext)+TagSize)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	return e.aead.Seal(out, out[:NonceSize], plaintext, nil), nil
}

// Decrypt reverses Encrypt. Every failure wraps ErrDecrypt and says nothing
// about the input beyond its length.
func (e *Encryptor) Decrypt(data []byte) ([]byte, error) {
	if len(data) < NonceSize {
		return nil, fmt.Errorf("%w: ciphertext too short (missing nonce)", ErrDecrypt)
	}
	pt, err := e.aead.Open(nil, data[:NonceSize], data[NonceSize:], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: message authentication failed", ErrDecrypt)
	}
	return pt, nil
}

const encryptorDesc = "envelope.Encryptor{key:" + redacted + "}"

// String, Format (every verb, %#v too), LogValue and MarshalJSON never reveal the key.
func (Encryptor) String() string               { return encryptorDesc }
func (Encryptor) Format(f fmt.State, _ rune)   { formatRedacted(f, encryptorDesc) }
func (Encryptor) LogValue() slog.Value         { return logRedacted(encryptorDesc) }
func (Encryptor) MarshalJSON() ([]byte, error) { return jsonString(encryptorDesc), nil }
