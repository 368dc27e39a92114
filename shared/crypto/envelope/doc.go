// Package envelope implements the wallet's encryption at rest: the stored
// envelope written to credential and keychain data_encrypted, byte-compatible
// with the upstream NoETL server (docs/wallet.md, sections 1 to 4 and 7).
//
// # Format
//
// Each record is encrypted with AES-256-GCM under its own random 32-byte DEK;
// the DEK is wrapped by a KeyManager under a key-encryption key (KEK). The
// storage string is compact JSON in this exact key order:
//
//	{"v":1,"alg":"AES-256-GCM","ct":"<b64>","dek":{"p":"local","kid":"env:NOETL_ENCRYPTION_KEY","kv":"v1","ct":"<b64>"}}
//
// Both ct values are standard padded base64 of nonce(12) || ciphertext ||
// tag(16) (the Encryptor wire format, no AAD). Reading ignores surrounding
// whitespace and unknown keys; everything else is strict. Legacy rows
// (plaintext JSON from the Python server, bare base64 from pre-envelope Rust
// servers) have no read path: they fail with ErrNotEnvelope and are fixed by
// registering the secret again.
//
// # API
//
//	NewCipher(km) *Cipher
//	(*Cipher).Seal(ctx, plaintext) (string, error)
//	(*Cipher).Open(ctx, stored) ([]byte, error)       // ErrNotEnvelope | ErrUnwrap | ErrDecrypt
//	(*Cipher).Rewrap(ctx, stored) (RewrapOutcome, error)
//	KeyVersion(stored) (string, bool)                  // dek.kv without any key; false → InvalidKeyVersion
//	KeyVersionLabel(stored) string                     // dek.kv, or InvalidKeyVersion
//	ParseStoredEnvelope(stored) (StoredEnvelope, error); (StoredEnvelope).Encode() string
//	NewEncryptor(key) (*Encryptor, error); Encrypt; Decrypt
//
//	KeyManager interface { Provider; CurrentKeyVersion; WrapDEK; UnwrapDEK }
//	NewKeyManager(Config) (KeyManager, error)          // NOETL_KMS_PROVIDER selects
//	NewLocalKeyManager(LocalConfig) (*LocalKeyManager, error)
//	ParsePreviousKeys(string) ([]LocalKey, error)
//	NewGCPKMSKeyManager(GCPKMSConfig) (*GCPKMSKeyManager, error)
//	ParseKMSProvider(string) (string, error)
//
// # Configuration
//
// Constructors take variables as already read (as strings), validate them, and
// name the variable in every error; no error or printed form ever contains
// key material, tokens or plaintext.
//
//	NOETL_ENCRYPTION_KEY            current local KEK: padded standard base64 of exactly 32 bytes,
//	                                not trimmed; unset/blank → ErrNoKey
//	NOETL_ENCRYPTION_KEY_VERSION    label of that key (default v1; 1-64 of A-Z a-z 0-9 . _ : -)
//	NOETL_ENCRYPTION_PREVIOUS_KEYS  older KEKs that still unwrap: "<version>=<base64 key>,..." (default empty)
//	NOETL_KMS_PROVIDER              "" | local | gcp-kms | gcp (trimmed, case-insensitive)
//	NOETL_GCP_KMS_KEY               projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>
//	NOETL_GCP_KMS_ENDPOINT          Cloud KMS REST base (default https://cloudkms.googleapis.com/v1)
//	NOETL_GCP_METADATA_TOKEN_URL    access-token URL (default the GKE metadata server)
//
// # Rotation (docs/wallet.md, section 4)
//
// Upstream's local key manager has a single fixed "v1" key, so rotation there
// is a no-op. Here the local manager wraps under NOETL_ENCRYPTION_KEY at
// NOETL_ENCRYPTION_KEY_VERSION and unwraps any version listed in
// NOETL_ENCRYPTION_PREVIOUS_KEYS. The operator sets a new key and version,
// moves the old key into the previous list, runs Rewrap over every row
// (data ct stays byte-identical; only dek changes) until KeyVersion reports
// the new version everywhere, then drops the old key. dek.kid stays
// env:NOETL_ENCRYPTION_KEY for byte compatibility; dek.kv tells versions apart.
// Rewrap's outcome Status is the noetl_wallet_rotate_total status label:
// skipped, rewrapped, failed_unwrap, failed_wrap or parse_error.
//
// GCP KMS keeps upstream's behaviour: it reports UnknownKeyVersion, so every
// GCP KMS record is re-wrapped on each pass (KMS chooses the primary version).
//
// # Deliberate differences from upstream
//
//   - Every KeyManager method takes a context (KMS calls are HTTP).
//   - Open and ParseStoredEnvelope reject v != 1 and alg != AES-256-GCM
//     (upstream ignores them); keys are matched case-sensitively, duplicated
//     fields and trailing data are errors, as with serde.
//   - Rewrap skips only when both provider and version match the current ones.
//   - Error texts keep upstream's prefixes ("not a wallet envelope record",
//     "envelope ct base64", "kms encrypt: HTTP <status> <200 chars>") but never
//     quote stored values; a KMS error body has the request's DEK redacted and
//     a metadata-server error body is not quoted at all.
//   - NOETL_GCP_KMS_KEY and every dek.kid are checked to be cryptoKey resource
//     names before use, so a database row cannot steer the bearer token to
//     another path; a 401 from KMS drops the cached token.
package envelope
