// Package sealed seals a payload to one X25519 public key, byte-compatible
// with the upstream NoETL server and worker (docs/wallet.md, section 5): the
// wallet seals a credential to a worker's registered key, and only that worker
// can open it.
//
// Construction: an ephemeral X25519 key agrees a secret with the recipient;
// HKDF-SHA256 (no salt, info "noetl-sealed-v1") expands it to 44 bytes, a
// ChaCha20-Poly1305 key and 12-byte nonce; the AEAD's associated data is
// "x25519-hkdf-sha256-chacha20-poly1305|v=1". The envelope is
//
//	{"alg":"x25519-hkdf-sha256-chacha20-poly1305","v":1,"eph_pub":"<b64>","ciphertext":"<b64>"}
//
// with standard padded base64, in that field order (encoding/json of Envelope).
//
// # API
//
//	ParsePublicKey(b64) (*ecdh.PublicKey, error)   // "base64: ..." | "must be 32 bytes, got N"
//	EncodePublicKey(*ecdh.PublicKey) string
//	Seal(recipient, plaintext) (Envelope, error)
//	SealWithEphemeral(recipient, ephemeral, plaintext) (Envelope, error)  // test vectors only
//	Open(recipient SecretKey, env) ([]byte, error)
//	GenerateSecretKey() (SecretKey, error); NewSecretKey(raw) (SecretKey, error); (SecretKey).PublicKey()
//
// ParsePublicKey's errors are worded to follow upstream's
// "worker '<w>' worker_public_key " prefix, which the caller adds.
// Open checks alg, v, eph_pub, ciphertext and the AEAD in upstream's order
// with upstream's "sealed open: ..." messages.
//
// Differences from upstream: a low-order public key (all-zero shared secret)
// is refused when sealing and when opening. Upstream would derive a key anyone
// can compute from such an eph_pub, so a forged envelope would open. SecretKey
// wraps *ecdh.PrivateKey so that printing, logging or marshalling it shows the
// public half only; no error quotes key material or plaintext.
package sealed
