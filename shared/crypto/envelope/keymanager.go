package envelope

import "context"
import "errors"
import "fmt"
import "log/slog"
import "strings"

// Names of the configuration variables this package validates. Values are read
// by the caller (shared/config); constructors here take them as strings so that
// every validation error can name the variable.
const (
	EnvEncryptionKey        = "NOETL_ENCRYPTION_KEY"
	EnvEncryptionKeyVersion = "NOETL_ENCRYPTION_KEY_VERSION"
	EnvPreviousKeys         = "NOETL_ENCRYPTION_PREVIOUS_KEYS"
	EnvKMSProvider          = "NOETL_KMS_PROVIDER"
	EnvGCPKMSKey            = "NOETL_GCP_KMS_KEY"
	EnvGCPKMSEndpoint       = "NOETL_GCP_KMS_ENDPOINT"
	EnvGCPMetadataTokenURL  = "NOETL_GCP_METADATA_TOKEN_URL"
)

// Provider identifiers as stored in dek.p.
const (
	ProviderLocal  = "local"
	ProviderGCPKMS = "gcp-kms"
)

// UnknownKeyVersion is what a key manager reports when it cannot tell which
// version its next wrap will use (upstream's trait default, kept for GCP KMS).
// No stored record carries it, so every such record is re-wrapped on rotation.
const UnknownKeyVersion = "unknown"

var (
	// ErrWrap marks a failure to wrap a DEK under the current KEK.
	ErrWrap = errors.New("wrap DEK")
	// ErrUnwrap marks a failure to recover a DEK: foreign provider, retired key
	// version, wrong key, KMS refusal.
	ErrUnwrap = errors.New("unwrap DEK")
	// ErrNoKey means NOETL_ENCRYPTION_KEY is unset or blank. Callers that may
	// start without a key (docs/decisions.md, "Configuration and startup") test for it with errors.Is.
	ErrNoKey = errors.New(EnvEncryptionKey + ": not set")
)

// WrappedDEK is a data-encryption key encrypted under a KEK, plus the
// coordinates needed to unwrap it (the dek object of a stored envelope).
// Ciphertext is not secret.
type WrappedDEK struct {
	Provider   string // dek.p
	KeyID      string // dek.kid
	KeyVersion string // dek.kv
	Ciphertext []byte // dek.ct
}

// KeyManager wraps DEKs under the current KEK version and unwraps DEKs
// wrapped under any version it still holds.
type KeyManager interface {
	// Provider is the value written to dek.p.
	Provider() string
	// CurrentKeyVersion is the dek.kv the next WrapDEK will write, or
	// UnknownKeyVersion.
	CurrentKeyVersion() string
	WrapDEK(ctx context.Context, dek []byte) (WrappedDEK, error)
	UnwrapDEK(ctx context.Context, w WrappedDEK) ([]byte, error)
}

// ParseKMSProvider normalises NOETL_KMS_PROVIDER: "" and "local" select the
// local key manager, "gcp-kms" and "gcp" select Cloud KMS (trimmed,
// case-insensitive).
func ParseKMSProvider(value string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "", "local":
		return ProviderLocal, nil
	case "gcp-kms", "gcp":
		return ProviderGCPKMS, nil
	default:
		return "", fmt.Errorf("%s: unknown provider %q (expected 'local' or 'gcp-kms')", EnvKMSProvider, value)
	}
}

// Config selects and configures the key manager from already-read variables.
type Config struct {
	KMSProvider string // NOETL_KMS_PROVIDER
	Local       LocalConfig
	GCPKMS      GCPKMSConfig
}

// NewKeyManager builds the key manager NOETL_KMS_PROVIDER selects. Only the
// selected provider's settings are validated.
func NewKeyManager(cfg Config) (KeyManager, error) {
	p, err := ParseKMSProvider(cfg.KMSProvider)
	if err != nil {
		return nil, err
	}
	if p == ProviderGCPKMS {
		return NewGCPKMSKeyManager(cfg.GCPKMS)
	}
	return NewLocalKeyManager(cfg.Local)
}

// String describes c, its local key variables redacted. Format (every verb, %#v too),
// LogValue and MarshalJSON print the same, so no printer, log handler or JSON encoder
// reaches key material.
func (c Config) String() string {
	return fmt.Sprintf("envelope.Config{KMSProvider:%q Local:%s GCPKMS:%s}", c.KMSProvider, c.Local.String(), c.GCPKMS.describe())
}

func (c Config) Format(f fmt.State, _ rune)   { formatRedacted(f, c.String()) }
func (c Config) LogValue() slog.Value         { return logRedacted(c.String()) }
func (c Config) MarshalJSON() ([]byte, error) { return jsonString(c.String()), nil }
