package envelope

import "bytes"
import "context"
import "encoding/base64"
import "encoding/json"
import "errors"
import "fmt"
import "log/slog"
import "net/http"
import "net/url"
import "strings"
import "time"

import "github.com/noetl/controlplane/shared/cloudtoken"
import "github.com/noetl/controlplane/shared/httpcall"

const (
	// DefaultGCPKMSEndpoint is the Cloud KMS REST base URL.
	DefaultGCPKMSEndpoint = "https://cloudkms.googleapis.com/v1"
	// DefaultGCPMetadataTokenURL is the GKE/GCE metadata server's token URL
	// (Workload Identity).
	DefaultGCPMetadataTokenURL = cloudtoken.GCPMetadataTokenURL

	gcpHTTPTimeout  = 10 * time.Second
	gcpMaxBody      = 1 << 20
	gcpErrBodyChars = 200
)

// GCPKMSConfig holds the Cloud KMS variables as read from the environment.
type GCPKMSConfig struct {
	// Key is NOETL_GCP_KMS_KEY:
	// projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>.
	Key string
	// Endpoint is NOETL_GCP_KMS_ENDPOINT; "" means DefaultGCPKMSEndpoint.
	Endpoint string
	// MetadataTokenURL is NOETL_GCP_METADATA_TOKEN_URL; "" means
	// DefaultGCPMetadataTokenURL.
	MetadataTokenURL string
	// HTTPClient is used for both; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
}

// GCPKMSKeyManager wraps DEKs with Cloud KMS encrypt/decrypt over REST,
// authenticated with the metadata server's access token (cached until 60 s
// before it expires, see shared/cloudtoken).
//
// Like upstream, it reports UnknownKeyVersion as its current version, so a
// rotation pass re-wraps every GCP KMS record (KMS picks the primary version).
type GCPKMSKeyManager struct {
	key      string
	endpoint string
	tokenURL string
	client   *http.Client
	// Behind a pointer so that printing a copy of the manager shows an
	// address, never the token (fmt prints unexported fields raw).
	tok *cloudtoken.Source
}

// NewGCPKMSKeyManager validates the Cloud KMS variables; errors name them.
func NewGCPKMSKeyManager(cfg GCPKMSConfig) (*GCPKMSKeyManager, error) {
	key := strings.TrimSpace(cfg.Key)
	if key == "" {
		return nil, fmt.Errorf("%s=%s requires %s (a Cloud KMS cryptoKey resource: projects/.../cryptoKeys/<key>)", EnvKMSProvider, ProviderGCPKMS, EnvGCPKMSKey)
	}
	if !validKMSKeyName(key) {
		return nil, fmt.Errorf("%s: want a cryptoKey resource projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>", EnvGCPKMSKey)
	}
	endpoint, err := baseURL(EnvGCPKMSEndpoint, cfg.Endpoint, DefaultGCPKMSEndpoint, false)
	if err != nil {
		return nil, err
	}
	tokenURL, err := baseURL(EnvGCPMetadataTokenURL, cfg.MetadataTokenURL, DefaultGCPMetadataTokenURL, true)
	if err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: gcpHTTPTimeout}
	}
	return &GCPKMSKeyManager{key: key, endpoint: endpoint, tokenURL: tokenURL, client: client,
		tok: cloudtoken.GCPMetadata("kms token", tokenURL, client)}, nil
}

func baseURL(variable, value, def string, allowQuery bool) (string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		value = def
	}
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || (!allowQuery && u.RawQuery != "") {
		return "", fmt.Errorf("%s: want an http(s) URL", variable)
	}
	if allowQuery {
		return value, nil
	}
	return strings.TrimRight(value, "/"), nil
}

// validKMSKeyName accepts exactly a cryptoKey resource name. dek.kid comes
// from the database and is spliced into the request path, so it is checked on
// every unwrap too: nothing can steer the bearer token to another path.
func validKMSKeyName(name string) bool {
	parts := strings.Split(name, "/")
	if len(parts) != 8 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "keyRings" || parts[6] != "cryptoKeys" {
		return false
	}
	for i := 1; i < len(parts); i += 2 {
		if parts[i] == "" || parts[i] == "." || parts[i] == ".." {
			return false
		}
		for _, c := range []byte(parts[i]) {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
			default:
				return false
			}
		}
	}
	return true
}

// Provider returns "gcp-kms".
func (m *GCPKMSKeyManager) Provider() string { return ProviderGCPKMS }

// CurrentKeyVersion returns UnknownKeyVersion: the primary version is chosen
// by KMS at encrypt time.
func (m *GCPKMSKeyManager) CurrentKeyVersion() string { return UnknownKeyVersion }

type kmsEncryptRequest struct {
	Plaintext string `json:"plaintext"`
}

type kmsEncryptResponse struct {
	Name       string `json:"name"`
	Ciphertext string `json:"ciphertext"`
}

type kmsDecryptRequest struct {
	Ciphertext string `json:"ciphertext"`
}

type kmsDecryptResponse struct {
	Plaintext string `json:"plaintext"`
}

// WrapDEK calls <endpoint>/<key>:encrypt. The key version is taken from the
// response's cryptoKeyVersion name ("primary" when KMS does not say).
func (m *GCPKMSKeyManager) WrapDEK(ctx context.Context, dek []byte) (WrappedDEK, error) {
	if len(dek) != KeySize {
		return WrappedDEK{}, fmt.Errorf("invalid DEK length: expected %d bytes, got %d", KeySize, len(dek))
	}
	b64 := base64.StdEncoding.EncodeToString(dek)
	var resp kmsEncryptResponse
	if err := m.call(ctx, "encrypt", m.key, kmsEncryptRequest{Plaintext: b64}, b64, &resp); err != nil {
		return WrappedDEK{}, err
	}
	ct, err := decodeProtoBytes(resp.Ciphertext)
	if err != nil || len(ct) == 0 {
		return WrappedDEK{}, errors.New("kms encrypt: response has no valid base64 ciphertext")
	}
	return WrappedDEK{Provider: ProviderGCPKMS, KeyID: m.key, KeyVersion: kmsKeyVersion(resp.Name), Ciphertext: ct}, nil
}

// UnwrapDEK calls <endpoint>/<dek.kid>:decrypt, so records wrapped under an
// older cryptoKey still open while the service account may use it.
func (m *GCPKMSKeyManager) UnwrapDEK(ctx context.Context, w WrappedDEK) ([]byte, error) {
	if w.Provider != ProviderGCPKMS {
		return nil, fmt.Errorf("GCP KMS key manager cannot unwrap a DEK from provider %q", w.Provider)
	}
	if !validKMSKeyName(w.KeyID) {
		return nil, errors.New("kms decrypt: dek.kid is not a Cloud KMS cryptoKey resource name")
	}
	var resp kmsDecryptResponse
	if err := m.call(ctx, "decrypt", w.KeyID, kmsDecryptRequest{Ciphertext: base64.StdEncoding.EncodeToString(w.Ciphertext)}, "", &resp); err != nil {
		return nil, err
	}
	dek, err := decodeProtoBytes(resp.Plaintext)
	if err != nil {
		return nil, errors.New("kms decrypt: response has no valid base64 plaintext")
	}
	if len(dek) != KeySize {
		clear(dek)
		return nil, fmt.Errorf("invalid DEK length: expected %d bytes, got %d", KeySize, len(dek))
	}
	return dek, nil
}

// kmsKeyVersion is the text after the last "cryptoKeyVersions/" of an encrypt
// response's name, or "primary" when absent or empty (upstream parse_encrypt).
func kmsKeyVersion(name string) string {
	const marker = "cryptoKeyVersions/"
	i := strings.LastIndex(name, marker)
	if i < 0 || i+len(marker) == len(name) {
		return "primary"
	}
	return name[i+len(marker):]
}

// decodeProtoBytes accepts what proto3 JSON allows for bytes fields: standard
// or URL-safe base64, with or without padding.
func decodeProtoBytes(s string) ([]byte, error) {
	var firstErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// call POSTs a JSON body to <endpoint>/<resource>:<op>. secret is a string
// the request carries that must not come back in an error message (a server
// that echoes requests would otherwise leak the DEK into logs).
//
// A 401 drops the token; when it came from the cache the call is made once more with a
// fresh one: KMS may refuse a token before its stated expiry (a changed Workload Identity
// binding), which is no reason to fail a write or a read of a sealed value.
func (m *GCPKMSKeyManager) call(ctx context.Context, op, resource string, in any, secret string, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("kms %s: encode request: %w", op, err)
	}
	for attempt := 0; ; attempt++ {
		token, cached, err := m.tok.Get(ctx)
		if err != nil {
			return err
		}
		refused, err := m.callWith(ctx, op, resource, body, token, secret, out)
		if !refused {
			return err
		}
		m.tok.Drop(token)
		if !cached || attempt > 0 {
			return err
		}
	}
}

// callWith is one call with token; refused reports a 401.
func (m *GCPKMSKeyManager) callWith(ctx context.Context, op, resource string, body []byte, token, secret string, out any) (refused bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint+"/"+resource+":"+op, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("kms %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, data, err := httpcall.Do(m.client, req, gcpMaxBody)
	if err != nil {
		return false, fmt.Errorf("kms %s: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode == http.StatusUnauthorized, fmt.Errorf("kms %s: HTTP %s %s", op, resp.Status, errorSnippet(data, secret))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("kms %s: response is not the expected JSON", op)
	}
	return false, nil
}

func errorSnippet(body []byte, secret string) string {
	s := string(body)
	if secret != "" {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	s = strings.ToValidUTF8(s, "?")
	if r := []rune(s); len(r) > gcpErrBodyChars {
		s = string(r[:gcpErrBodyChars])
	}
	return s
}

func (c GCPKMSConfig) describe() string {
	return fmt.Sprintf("envelope.GCPKMSConfig{Key:%q Endpoint:%q MetadataTokenURL:%q}", c.Key, c.Endpoint, c.MetadataTokenURL)
}

// String describes m without its access token. Format (every verb, %#v too), LogValue
// and MarshalJSON print the same, so no printer, log handler or JSON encoder reaches it.
func (m GCPKMSKeyManager) String() string {
	return fmt.Sprintf("envelope.GCPKMSKeyManager{key:%q endpoint:%q token:%s}", m.key, m.endpoint, redacted)
}

func (m GCPKMSKeyManager) Format(f fmt.State, _ rune)   { formatRedacted(f, m.String()) }
func (m GCPKMSKeyManager) LogValue() slog.Value         { return logRedacted(m.String()) }
func (m GCPKMSKeyManager) MarshalJSON() ([]byte, error) { return jsonString(m.String()), nil }
