package envelope

import "context"
import "crypto/hmac"
import "crypto/sha256"
import "encoding/base64"
import "encoding/hex"
import "fmt"
import "io"
import "log/slog"
import "strings"

// LocalKeyID is the dek.kid of every locally wrapped DEK. It names the
// variable, not a version, and stays fixed across rotations so that records
// stay byte-compatible with the upstream server.
const LocalKeyID = "env:" + EnvEncryptionKey

// DefaultLocalKeyVersion is the version label of NOETL_ENCRYPTION_KEY when
// NOETL_ENCRYPTION_KEY_VERSION is unset; every upstream record carries it.
const DefaultLocalKeyVersion = "v1"

const maxVersionLen = 64

// LocalConfig holds the local KEK variables exactly as read from the
// environment.
type LocalConfig struct {
	// Key is NOETL_ENCRYPTION_KEY: padded standard base64 of 32 bytes, not
	// trimmed (a trailing newline is an error, as upstream).
	Key string
	// KeyVersion is NOETL_ENCRYPTION_KEY_VERSION, the label of Key; "" means v1.
	KeyVersion string
	// PreviousKeys is NOETL_ENCRYPTION_PREVIOUS_KEYS: comma-separated
	// <version>=<base64 key> entries that can still unwrap but never wrap.
	PreviousKeys string
}

// LocalKey is one KEK version.
type LocalKey struct {
	Version string
	Key     []byte
}

// ParsePreviousKeys parses the NOETL_ENCRYPTION_PREVIOUS_KEYS list format:
// comma-separated <version>=<base64 key> entries, spaces around entries and
// around '=' ignored. A blank value is an empty list. Errors name the variable
// and the 1-based entry, never the entry's text.
func ParsePreviousKeys(value string) ([]LocalKey, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	var keys []LocalKey
	seen := map[string]int{}
	for i, entry := range strings.Split(value, ",") {
		n := i + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("%s: entry %d is empty", EnvPreviousKeys, n)
		}
		version, key, ok := strings.Cut(entry, "=")
		version = strings.TrimSpace(version)
		if !ok || version == "" {
			return nil, fmt.Errorf("%s: entry %d: want <version>=<base64 key>", EnvPreviousKeys, n)
		}
		if !validVersion(version) {
			return nil, fmt.Errorf("%s: entry %d: invalid version label (want 1-%d characters from A-Z a-z 0-9 . _ : -)", EnvPreviousKeys, n, maxVersionLen)
		}
		if prev, dup := seen[version]; dup {
			return nil, fmt.Errorf("%s: entries %d and %d have the same version", EnvPreviousKeys, prev, n)
		}
		seen[version] = n
		k, err := decodeKey(strings.TrimSpace(key))
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: key %w", EnvPreviousKeys, n, err)
		}
		keys = append(keys, LocalKey{Version: version, Key: k})
	}
	return keys, nil
}

// decodeKey accepts exactly what upstream's base64 STANDARD engine accepts for
// a 32-byte key. Go's decoder silently skips line breaks, so they are refused
// first. The error never quotes the input.
func decodeKey(value string) ([]byte, error) {
	if strings.ContainsAny(value, "\r\n") {
		return nil, fmt.Errorf("must be base64 of exactly %d bytes (got a line break)", KeySize)
	}
	k, err := base64.StdEncoding.Strict().DecodeString(value)
	if err != nil {
		return nil, fmt.Errorf("must be base64 of exactly %d bytes (got invalid padded standard base64)", KeySize)
	}
	if len(k) != KeySize {
		clear(k)
		return nil, fmt.Errorf("must be base64 of exactly %d bytes (got %d bytes)", KeySize, len(k))
	}
	return k, nil
}

// validVersion keeps labels safe to use as list entries, JSON values and
// metric label values.
func validVersion(v string) bool {
	if v == "" || len(v) > maxVersionLen {
		return false
	}
	for _, c := range []byte(v) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// LocalKeyManager wraps DEKs with AES-256-GCM under the current
// NOETL_ENCRYPTION_KEY and unwraps under it or any version listed in
// NOETL_ENCRYPTION_PREVIOUS_KEYS, which is what lets a rotation re-wrap old
// records and the operator then retire the old key.
type LocalKeyManager struct {
	current  string
	versions []string // current first, then previous in configured order
	keys     map[string]*Encryptor
	checks   map[string]string // version -> key check value
	rand     io.Reader         // nil: crypto/rand
}

// keyCheckLabel is what a key check value authenticates. Changing it changes every
// stored check value.
const keyCheckLabel = "noetl wallet key check v1"

// keyCheckValue identifies a key without revealing it: HMAC-SHA256 of a fixed label
// under the key, hex. Comparing it with the value stored for a version label tells
// whether the configured key is the one that label was first used with.
func keyCheckValue(key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(keyCheckLabel))
	return hex.EncodeToString(mac.Sum(nil))
}

// NewLocalKeyManager validates the local KEK variables. A blank Key yields an
// error wrapping ErrNoKey; every other error names its variable.
func NewLocalKeyManager(cfg LocalConfig) (*LocalKeyManager, error) {
	if strings.TrimSpace(cfg.Key) == "" {
		return nil, ErrNoKey
	}
	version := strings.TrimSpace(cfg.KeyVersion)
	if version == "" {
		version = DefaultLocalKeyVersion
	}
	if !validVersion(version) {
		return nil, fmt.Errorf("%s: invalid version label (want 1-%d characters from A-Z a-z 0-9 . _ : -)", EnvEncryptionKeyVersion, maxVersionLen)
	}
	key, err := decodeKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvEncryptionKey, err)
	}
	defer clear(key)
	previous, err := ParsePreviousKeys(cfg.PreviousKeys)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, p := range previous {
			clear(p.Key)
		}
	}()
	m := &LocalKeyManager{current: version, keys: map[string]*Encryptor{}, checks: map[string]string{}}
	all := append([]LocalKey{{Version: version, Key: key}}, previous...)
	for i, k := range all {
		if i > 0 && k.Version == version {
			return nil, fmt.Errorf("%s: entry %d has the version of %s (%s)", EnvPreviousKeys, i, EnvEncryptionKey, EnvEncryptionKeyVersion)
		}
		enc, err := NewEncryptor(k.Key)
		if err != nil {
			return nil, fmt.Errorf("build key %d: %w", i, err)
		}
		m.keys[k.Version] = enc
		m.checks[k.Version] = keyCheckValue(k.Key)
		m.versions = append(m.versions, k.Version)
	}
	return m, nil
}

// Provider returns "local".
func (m *LocalKeyManager) Provider() string { return ProviderLocal }

// CurrentKeyVersion returns the NOETL_ENCRYPTION_KEY_VERSION label.
func (m *LocalKeyManager) CurrentKeyVersion() string { return m.current }

// KeyVersions lists the versions this manager can unwrap, current first.
func (m *LocalKeyManager) KeyVersions() []string { return append([]string(nil), m.versions...) }

// CheckValue returns the key check value of a version this manager holds: a one-way
// fingerprint of the key, safe to store and to compare (keyring keeps one per label).
func (m *LocalKeyManager) CheckValue(version string) (string, bool) {
	v, ok := m.checks[version]
	return v, ok
}

// WrapDEK encrypts dek under the current key.
func (m *LocalKeyManager) WrapDEK(_ context.Context, dek []byte) (WrappedDEK, error) {
	if len(dek) != KeySize {
		return WrappedDEK{}, fmt.Errorf("invalid DEK length: expected %d bytes, got %d", KeySize, len(dek))
	}
	ct, err := m.keys[m.current].encrypt(m.rand, dek)
	if err != nil {
		return WrappedDEK{}, err
	}
	return WrappedDEK{Provider: ProviderLocal, KeyID: LocalKeyID, KeyVersion: m.current, Ciphertext: ct}, nil
}

// UnwrapDEK decrypts a DEK under the version it was wrapped with. The kid is
// not checked: upstream never varied it.
func (m *LocalKeyManager) UnwrapDEK(_ context.Context, w WrappedDEK) ([]byte, error) {
	if w.Provider != ProviderLocal {
		return nil, fmt.Errorf("local key manager cannot unwrap a DEK from provider %q", w.Provider)
	}
	enc, ok := m.keys[w.KeyVersion]
	if !ok {
		return nil, fmt.Errorf("no local key for version %q (add it to %s to unwrap)", w.KeyVersion, EnvPreviousKeys)
	}
	dek, err := enc.Decrypt(w.Ciphertext)
	if err != nil {
		// %v, not %w: a wrapped DEK that fails authentication is an unwrap
		// failure, not the data-tampering ErrDecrypt.
		return nil, fmt.Errorf("key version %q: %v", w.KeyVersion, err)
	}
	if len(dek) != KeySize {
		clear(dek)
		return nil, fmt.Errorf("invalid DEK length: expected %d bytes, got %d", KeySize, len(dek))
	}
	return dek, nil
}

// String describes m by its key versions, without the keys. Format (every verb, %#v
// too), LogValue and MarshalJSON print the same, so no printer, log handler or JSON
// encoder reaches key material.
func (m LocalKeyManager) String() string {
	return fmt.Sprintf("envelope.LocalKeyManager{current:%q versions:%q keys:%s}", m.current, m.versions, redacted)
}

func (m LocalKeyManager) Format(f fmt.State, _ rune)   { formatRedacted(f, m.String()) }
func (m LocalKeyManager) LogValue() slog.Value         { return logRedacted(m.String()) }
func (m LocalKeyManager) MarshalJSON() ([]byte, error) { return jsonString(m.String()), nil }

// String describes c with its keys redacted. Format (every verb, %#v too), LogValue and
// MarshalJSON print the same, so no printer, log handler or JSON encoder reaches them.
func (c LocalConfig) String() string {
	v := c.KeyVersion
	if v != "" && !validVersion(strings.TrimSpace(v)) {
		v = "[invalid]"
	}
	return fmt.Sprintf("envelope.LocalConfig{Key:%s KeyVersion:%q PreviousKeys:%s}", redacted, v, redacted)
}

func (c LocalConfig) Format(f fmt.State, _ rune)   { formatRedacted(f, c.String()) }
func (c LocalConfig) LogValue() slog.Value         { return logRedacted(c.String()) }
func (c LocalConfig) MarshalJSON() ([]byte, error) { return jsonString(c.String()), nil }

// String describes k by its version, without the key. Format (every verb, %#v too),
// LogValue and MarshalJSON print the same, so no printer, log handler or JSON encoder
// reaches it.
func (k LocalKey) String() string {
	v := k.Version
	if !validVersion(v) {
		v = "[invalid]"
	}
	return fmt.Sprintf("envelope.LocalKey{Version:%q Key:%s}", v, redacted)
}

func (k LocalKey) Format(f fmt.State, _ rune)   { formatRedacted(f, k.String()) }
func (k LocalKey) LogValue() slog.Value         { return logRedacted(k.String()) }
func (k LocalKey) MarshalJSON() ([]byte, error) { return jsonString(k.String()), nil }
