package sealed

import "crypto/cipher"
import "crypto/ecdh"
import "crypto/hkdf"
import "crypto/sha256"
import "encoding/base64"
import "errors"
import "fmt"
import "strconv"
import "strings"

import "golang.org/x/crypto/chacha20poly1305"

const (
	// Alg is the only sealing algorithm.
	Alg = "x25519-hkdf-sha256-chacha20-poly1305"
	// Version is the only envelope version ("v").
	Version = 1
	// KDFInfo is the HKDF info string: exactly these bytes, without alg or v
	// (those are bound through the AAD).
	KDFInfo = "noetl-sealed-v1"
	// KeySize is the size of X25519 public and secret keys.
	KeySize = 32
)

// aad is built from the constants, never from the envelope (whose alg and v
// are checked equal to them first).
var aad = []byte(fmt.Sprintf("%s|v=%d", Alg, Version))

// Envelope is a payload sealed to one X25519 public key. Field order is the
// upstream serialisation order, so encoding/json output is byte-compatible.
type Envelope struct {
	Alg        string `json:"alg"`
	V          int    `json:"v"`
	EphPub     string `json:"eph_pub"`    // standard padded base64, 32 bytes
	Ciphertext string `json:"ciphertext"` // standard padded base64, plaintext + 16
}

// ParsePublicKey decodes a recipient key registered as standard padded base64
// of exactly 32 bytes. The error texts complete upstream's
// "worker '<w>' worker_public_key <err>" and never quote the input.
func ParsePublicKey(b64 string) (*ecdh.PublicKey, error) {
	raw, err := decodeB64(b64)
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("must be %d bytes, got %d", KeySize, len(raw))
	}
	return ecdh.X25519().NewPublicKey(raw)
}

// ErrBadSuppliedKey marks an unusable worker_public_key_b64 of a cross-region request.
var ErrBadSuppliedKey = errors.New("invalid worker_public_key_b64")

// ParseSuppliedKey is the check of a key a cross-region request carries (upstream's
// broker side): trimmed, then standard padded base64 of 32 bytes. The messages follow
// upstream's and never quote the input.
func ParseSuppliedKey(b64 string) (*ecdh.PublicKey, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("%w: base64 decode: %v", ErrBadSuppliedKey, err)
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("%w: expected %d bytes, got %d", ErrBadSuppliedKey, KeySize, len(raw))
	}
	return ecdh.X25519().NewPublicKey(raw)
}

// EncodePublicKey is the registration form of a public key.
func EncodePublicKey(pub *ecdh.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub.Bytes())
}

// Seal encrypts plaintext to recipient under a fresh ephemeral key.
func Seal(recipient *ecdh.PublicKey, plaintext []byte) (Envelope, error) {
	eph, err := GenerateSecretKey()
	if err != nil {
		return Envelope{}, err
	}
	return SealWithEphemeral(recipient, eph, plaintext)
}

// SealWithEphemeral is Seal with a caller-chosen ephemeral key. Reusing an
// ephemeral key for the same recipient reuses the AEAD key and nonce, so it
// exists only to reproduce test vectors.
func SealWithEphemeral(recipient *ecdh.PublicKey, ephemeral SecretKey, plaintext []byte) (Envelope, error) {
	if recipient == nil || recipient.Curve() != ecdh.X25519() {
		return Envelope{}, errors.New("sealed seal: recipient is not an X25519 public key")
	}
	if ephemeral.k == nil {
		return Envelope{}, errors.New("sealed seal: no ephemeral key")
	}
	shared, err := ephemeral.k.ECDH(recipient)
	if err != nil {
		// crypto/ecdh refuses low-order points (all-zero shared secret),
		// which upstream would seal under; only a bogus key gets here.
		return Envelope{}, errors.New("sealed seal: recipient public key is a low-order point")
	}
	aead, nonce, err := deriveAEAD(shared)
	if err != nil {
		return Envelope{}, fmt.Errorf("sealed seal: %w", err)
	}
	ct := aead.Seal(nil, nonce, plaintext, aad)
	return Envelope{
		Alg:        Alg,
		V:          Version,
		EphPub:     base64.StdEncoding.EncodeToString(ephemeral.k.PublicKey().Bytes()),
		Ciphertext: base64.StdEncoding.EncodeToString(ct),
	}, nil
}

// Open decrypts an envelope sealed to recipient's public key. Checks run in
// upstream order (alg, v, eph_pub, ciphertext, AEAD) with upstream's message
// prefixes; no error quotes key material, ciphertext or plaintext.
func Open(recipient SecretKey, env Envelope) ([]byte, error) {
	if env.Alg != Alg {
		return nil, fmt.Errorf("sealed open: unsupported alg '%s' (expected '%s')", printable(env.Alg), Alg)
	}
	if env.V != Version {
		return nil, fmt.Errorf("sealed open: unsupported version %d (expected %d)", env.V, Version)
	}
	ephRaw, err := decodeB64(env.EphPub)
	if err != nil {
		return nil, fmt.Errorf("sealed open: eph_pub base64: %w", err)
	}
	if len(ephRaw) != KeySize {
		return nil, fmt.Errorf("sealed open: eph_pub must be %d bytes, got %d", KeySize, len(ephRaw))
	}
	ct, err := decodeB64(env.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("sealed open: ciphertext base64: %w", err)
	}
	if recipient.k == nil {
		return nil, errors.New("sealed open: no secret key")
	}
	eph, err := ecdh.X25519().NewPublicKey(ephRaw)
	if err != nil {
		return nil, fmt.Errorf("sealed open: eph_pub: %w", err)
	}
	shared, err := recipient.k.ECDH(eph)
	if err != nil {
		// Upstream would derive from an all-zero secret here, which anyone
		// can compute: a forged envelope would open. Refuse instead.
		return nil, errors.New("sealed open: eph_pub is a low-order point")
	}
	aead, nonce, err := deriveAEAD(shared)
	if err != nil {
		return nil, fmt.Errorf("sealed open: %w", err)
	}
	pt, err := aead.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, errors.New("sealed open: AEAD verify/decrypt: message authentication failed")
	}
	return pt, nil
}

// deriveAEAD is HKDF-SHA256(salt = none, i.e. 32 zero bytes, ikm = shared,
// info = KDFInfo) expanded to 44 bytes: a ChaCha20-Poly1305 key and a nonce.
func deriveAEAD(shared []byte) (aead cipher.AEAD, nonce []byte, err error) {
	defer clear(shared)
	okm, err := hkdf.Key(sha256.New, shared, nil, KDFInfo, chacha20poly1305.KeySize+chacha20poly1305.NonceSize)
	if err != nil {
		return nil, nil, fmt.Errorf("hkdf: %w", err)
	}
	defer clear(okm[:chacha20poly1305.KeySize])
	aead, err = chacha20poly1305.New(okm[:chacha20poly1305.KeySize])
	if err != nil {
		return nil, nil, fmt.Errorf("chacha20poly1305: %w", err)
	}
	return aead, okm[chacha20poly1305.KeySize:], nil
}

// decodeB64 matches upstream's STANDARD engine: padded, canonical, and no
// line breaks (which Go's decoder would skip).
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// printable bounds and escapes an untrusted string for an error message.
func printable(s string) string {
	const limit = 64
	suffix := ""
	if len(s) > limit {
		s, suffix = s[:limit], "..."
	}
	q := strconv.Quote(s)
	return q[1:len(q)-1] + suffix
}
