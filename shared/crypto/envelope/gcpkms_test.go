package envelope

import "bytes"
import "context"
import "crypto/aes"
import "crypto/cipher"
import "crypto/rand"
import "encoding/base64"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/testkit"

const testKMSKey = "projects/p/locations/l/keyRings/r/cryptoKeys/k"

// fakeKMS speaks the Cloud KMS REST and metadata-server wire formats closely
// enough to catch a wrong path, header, body or response field.
type fakeKMS struct {
	t          *testing.T
	aead       cipher.AEAD
	token      string
	expiresIn  int64
	version    atomic.Int64 // primary cryptoKeyVersion
	tokenCalls atomic.Int64
	kmsCalls   atomic.Int64

	mu         sync.Mutex
	failStatus int    // next KMS call answers this status
	failBody   string // ...with this body; "ECHO" echoes the request body
}

func newFakeKMS(t *testing.T) (*fakeKMS, *httptest.Server) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	f := &fakeKMS{t: t, aead: aead, token: "ya29.fake-access-token", expiresIn: 3599}
	f.version.Store(7)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/computeMetadata/v1/instance/service-accounts/default/token" {
		f.tokenCalls.Add(1)
		if r.Method != http.MethodGet || r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		f.mu.Lock()
		tok := f.token
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"token_type":"Bearer"}`, tok, f.expiresIn)
		return
	}
	f.kmsCalls.Add(1)
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	status, failBody, tok := f.failStatus, f.failBody, f.token
	f.failStatus = 0
	f.mu.Unlock()
	if status != 0 {
		if failBody == "ECHO" {
			failBody = `{"error":{"code":400,"message":"bad request ` + string(body) + `"}}`
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, failBody)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+tok || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, `{"error":{"code":401,"status":"UNAUTHENTICATED"}}`, http.StatusUnauthorized)
		return
	}
	resource, op, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/"), ":")
	if !validKMSKeyName(resource) {
		http.Error(w, `{"error":{"code":404,"status":"NOT_FOUND"}}`, http.StatusNotFound)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	w.Header().Set("Content-Type", "application/json")
	switch op {
	case "encrypt":
		var req struct {
			Plaintext string `json:"plaintext"`
		}
		pt, err := f.decodeB64(dec, &req, &req.Plaintext)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		nonce := make([]byte, 12)
		_, _ = rand.Read(nonce)
		ct := f.aead.Seal(nonce, nonce, pt, []byte(resource))
		_ = json.NewEncoder(w).Encode(map[string]any{
			"name":                    fmt.Sprintf("%s/cryptoKeyVersions/%d", resource, f.version.Load()),
			"ciphertext":              base64.StdEncoding.EncodeToString(ct),
			"ciphertextCrc32c":        "1234",
			"verifiedPlaintextCrc32c": true,
			"protectionLevel":         "SOFTWARE",
		})
	case "decrypt":
		var req struct {
			Ciphertext string `json:"ciphertext"`
		}
		ct, err := f.decodeB64(dec, &req, &req.Ciphertext)
		if err != nil || len(ct) < 12 {
			http.Error(w, `{"error":{"code":400,"status":"INVALID_ARGUMENT"}}`, http.StatusBadRequest)
			return
		}
		pt, err := f.aead.Open(nil, ct[:12], ct[12:], []byte(resource))
		if err != nil {
			http.Error(w, `{"error":{"code":400,"message":"Decryption failed: the ciphertext is invalid.","status":"INVALID_ARGUMENT"}}`, http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"plaintext":       base64.StdEncoding.EncodeToString(pt),
			"plaintextCrc32c": "5678",
			"usedPrimary":     true,
			"protectionLevel": "SOFTWARE",
		})
	default:
		http.Error(w, "unknown method", http.StatusNotFound)
	}
}

func (f *fakeKMS) decodeB64(dec *json.Decoder, req any, field *string) ([]byte, error) {
	if err := dec.Decode(req); err != nil {
		return nil, fmt.Errorf("bad body: %w", err)
	}
	return base64.StdEncoding.Strict().DecodeString(*field)
}

func (f *fakeKMS) failNext(status int, body string) {
	f.mu.Lock()
	f.failStatus, f.failBody = status, body
	f.mu.Unlock()
}

func newGCPKM(t *testing.T, srv *httptest.Server) *GCPKMSKeyManager {
	t.Helper()
	km, err := NewGCPKMSKeyManager(GCPKMSConfig{
		Key:              testKMSKey,
		Endpoint:         srv.URL + "/v1/",
		MetadataTokenURL: srv.URL + "/computeMetadata/v1/instance/service-accounts/default/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	return km
}

func TestGCPKMSSealOpenRewrap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, srv := newFakeKMS(t)
	km := newGCPKM(t, srv)
	c := NewCipher(km)
	plaintext := []byte(`{"token":"sk-live-123"}`)

	stored, err := c.Seal(ctx, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseStoredEnvelope(stored)
	if err != nil {
		t.Fatal(err)
	}
	if env.DEK.Provider != "gcp-kms" || env.DEK.KeyID != testKMSKey || env.DEK.KeyVersion != "7" {
		t.Fatalf("dek = %+v", env.DEK)
	}
	if !strings.Contains(stored, `"dek":{"p":"gcp-kms","kid":"`+testKMSKey+`","kv":"7","ct":"`) {
		t.Fatalf("stored = %s", stored)
	}
	pt, err := c.Open(ctx, stored)
	if err != nil || !bytes.Equal(pt, plaintext) {
		t.Fatalf("Open = %q, %v", pt, err)
	}

	// KMS rotated its primary: GCP records are always re-wrapped (the current
	// version is unknown to the manager), the data ct never changes.
	f.version.Store(8)
	out, err := c.Rewrap(ctx, stored)
	if err != nil || out.Status != RewrapRewrapped || out.OldKeyVersion != "7" || out.NewKeyVersion != "8" {
		t.Fatalf("Rewrap = %+v, %v", out, err)
	}
	after, _ := ParseStoredEnvelope(out.Stored)
	if !bytes.Equal(after.Ciphertext, env.Ciphertext) {
		t.Fatal("rewrap changed the data ciphertext")
	}
	if pt, err := c.Open(ctx, out.Stored); err != nil || !bytes.Equal(pt, plaintext) {
		t.Fatalf("Open rewrapped = %q, %v", pt, err)
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Fatalf("metadata server called %d times, want 1 (token cached)", n)
	}

	// A local manager cannot open it, and says so as an unwrap failure.
	local := NewCipher(localKM(t, LocalConfig{Key: keyB64(1)}))
	if _, err := local.Open(ctx, stored); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("local opened a gcp-kms record: %v", err)
	}
	if out, _ := local.Rewrap(ctx, stored); out.Status != RewrapFailedUnwrap {
		t.Fatalf("local rewrap of a gcp-kms record = %+v", out)
	}
}

func TestGCPKMSTokenCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, srv := newFakeKMS(t)
	km := newGCPKM(t, srv)
	now := time.Unix(1_700_000_000, 0)
	km.tok.Now = func() time.Time { return now }
	dek := make([]byte, KeySize)

	for range 3 {
		if _, err := km.WrapDEK(ctx, dek); err != nil {
			t.Fatal(err)
		}
	}
	if f.tokenCalls.Load() != 1 {
		t.Fatalf("token fetched %d times", f.tokenCalls.Load())
	}
	now = now.Add(3599*time.Second - 60*time.Second - time.Millisecond)
	_, _ = km.WrapDEK(ctx, dek)
	if f.tokenCalls.Load() != 1 {
		t.Fatal("token refreshed before expires_in - 60 s")
	}
	now = now.Add(time.Millisecond)
	_, _ = km.WrapDEK(ctx, dek)
	if f.tokenCalls.Load() != 2 {
		t.Fatalf("token not refreshed at expires_in - 60 s (%d fetches)", f.tokenCalls.Load())
	}

	// A 401 to the cached token drops it, and the call is made once more with a new one.
	f.mu.Lock()
	f.token = "ya29.rotated"
	f.mu.Unlock()
	if _, err := km.WrapDEK(ctx, dek); err != nil {
		t.Fatalf("a cached token refused: %v", err)
	}
	if f.tokenCalls.Load() != 3 {
		t.Fatalf("token fetches = %d, want 3", f.tokenCalls.Load())
	}
	// A fresh token refused is the answer: no second call, no loop.
	km.tok.Drop("ya29.rotated")
	calls := f.kmsCalls.Load()
	f.mu.Lock()
	f.failStatus, f.failBody = http.StatusUnauthorized, `{"error":{"code":401,"status":"UNAUTHENTICATED"}}`
	f.mu.Unlock()
	if _, err := km.WrapDEK(ctx, dek); err == nil || !strings.Contains(err.Error(), "kms encrypt: HTTP 401 Unauthorized") {
		t.Fatalf("a fresh token refused: %v", err)
	}
	if n := f.kmsCalls.Load() - calls; n != 1 || f.tokenCalls.Load() != 4 {
		t.Fatalf("a fresh token refused: %d calls, %d token fetches; want 1 and 4", n, f.tokenCalls.Load())
	}

	// A short-lived token is cached for at least one second.
	f.expiresIn = 30
	f.mu.Lock()
	f.token = "ya29.short"
	f.mu.Unlock()
	_, _ = km.WrapDEK(ctx, dek)
	_, _ = km.WrapDEK(ctx, dek)
	if f.tokenCalls.Load() != 5 {
		t.Fatalf("token fetches = %d, want 5", f.tokenCalls.Load())
	}
	now = now.Add(time.Second)
	_, _ = km.WrapDEK(ctx, dek)
	if f.tokenCalls.Load() != 6 {
		t.Fatalf("token fetches = %d, want 6", f.tokenCalls.Load())
	}
}

func TestGCPKMSErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, srv := newFakeKMS(t)
	km := newGCPKM(t, srv)
	c := NewCipher(km)
	dek := bytes.Repeat([]byte{0x5a}, KeySize)

	// A server that echoes the request must not leak the DEK into the error.
	f.failNext(http.StatusBadRequest, "ECHO")
	_, err := km.WrapDEK(ctx, dek)
	if err == nil || !strings.HasPrefix(err.Error(), "kms encrypt: HTTP 400 Bad Request {") || !strings.Contains(err.Error(), redacted) {
		t.Fatalf("echo error = %v", err)
	}
	testkit.AssertNoSecret(t, err.Error(), dek, []byte("ya29.fake-access-token"))

	f.failNext(http.StatusForbidden, strings.Repeat("é", 300))
	_, err = km.WrapDEK(ctx, dek)
	if err == nil || len([]rune(strings.TrimPrefix(err.Error(), "kms encrypt: HTTP 403 Forbidden "))) != 200 {
		t.Fatalf("body not cut at 200 characters: %v", err)
	}

	f.failNext(http.StatusServiceUnavailable, "down")
	if _, err := c.Seal(ctx, []byte("x")); !errors.Is(err, ErrWrap) || !strings.Contains(err.Error(), "kms encrypt: HTTP 503") {
		t.Fatalf("Seal with KMS down: %v", err)
	}

	stored, err := c.Seal(ctx, []byte("secret-data"))
	if err != nil {
		t.Fatal(err)
	}
	f.failNext(http.StatusForbidden, `{"error":{"code":403,"status":"PERMISSION_DENIED"}}`)
	if out, err := c.Rewrap(ctx, stored); out.Status != RewrapFailedUnwrap || !errors.Is(err, ErrUnwrap) || !strings.Contains(err.Error(), "kms decrypt: HTTP 403 Forbidden") {
		t.Fatalf("Rewrap with decrypt denied = %+v, %v", out, err)
	}
	// decrypt succeeds, then encrypt fails: failed_wrap.
	calls := f.kmsCalls.Load()
	wrapFails := &failAfter{KeyManager: km}
	if out, err := NewCipher(wrapFails).Rewrap(ctx, stored); out.Status != RewrapFailedWrap || !errors.Is(err, ErrWrap) {
		t.Fatalf("Rewrap with encrypt failing = %+v, %v", out, err)
	}
	if f.kmsCalls.Load() != calls+1 {
		t.Fatalf("kms calls %d, want %d", f.kmsCalls.Load(), calls+1)
	}

	// A kid from the database is validated before it reaches a URL path.
	env, _ := ParseStoredEnvelope(stored)
	calls = f.kmsCalls.Load()
	for _, kid := range []string{
		"projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
		"projects/p/locations/l/keyRings/r/cryptoKeys/k?alt=media",
		"projects/p/locations/l/keyRings/r/cryptoKeys/k#x",
		"projects/../locations/l/keyRings/r/cryptoKeys/k",
		"projects/p/locations/l/keyRings/r/cryptoKeys/",
		"../../token",
		"",
	} {
		w := env.DEK
		w.KeyID = kid
		if _, err := km.UnwrapDEK(ctx, w); err == nil || !strings.Contains(err.Error(), "dek.kid") {
			t.Fatalf("kid %q: %v", kid, err)
		}
	}
	w := env.DEK
	w.Provider = ProviderLocal
	if _, err := km.UnwrapDEK(ctx, w); err == nil || !strings.Contains(err.Error(), `cannot unwrap a DEK from provider "local"`) {
		t.Fatalf("foreign provider: %v", err)
	}
	if f.kmsCalls.Load() != calls {
		t.Fatal("an invalid DEK reached KMS")
	}
	w = env.DEK
	w.Ciphertext = w.Ciphertext[:20]
	if _, err := km.UnwrapDEK(ctx, w); err == nil || !strings.Contains(err.Error(), "kms decrypt: HTTP 400") {
		t.Fatalf("tampered wrapped DEK: %v", err)
	}
}

// failAfter lets n WrapDEK calls through, then fails without calling KMS.
type failAfter struct {
	KeyManager
	n int
}

func (f *failAfter) WrapDEK(ctx context.Context, dek []byte) (WrappedDEK, error) {
	if f.n > 0 {
		f.n--
		return f.KeyManager.WrapDEK(ctx, dek)
	}
	return WrappedDEK{}, errors.New("kms encrypt: HTTP 429 Too Many Requests")
}

func TestGCPKMSMetadataErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	leaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"access_token":"ya29.leaked"}`)
	}))
	t.Cleanup(leaky.Close)
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"expires_in":100}`)
	}))
	t.Cleanup(empty.Close)

	for _, tc := range []struct {
		url, want string
	}{
		{leaky.URL, "kms token: metadata server HTTP 500 Internal Server Error"},
		{empty.URL, "kms token: metadata server response has no access_token"},
	} {
		km, err := NewGCPKMSKeyManager(GCPKMSConfig{Key: testKMSKey, Endpoint: leaky.URL, MetadataTokenURL: tc.url})
		if err != nil {
			t.Fatal(err)
		}
		_, err = km.WrapDEK(ctx, make([]byte, KeySize))
		if err == nil || err.Error() != tc.want {
			t.Fatalf("error %v, want %q", err, tc.want)
		}
		testkit.AssertNoSecret(t, err.Error(), []byte("ya29.leaked"))
	}
}

func TestGCPKMSConfig(t *testing.T) {
	t.Parallel()
	km, err := NewGCPKMSKeyManager(GCPKMSConfig{Key: " " + testKMSKey + " "})
	if err != nil {
		t.Fatal(err)
	}
	if km.endpoint != DefaultGCPKMSEndpoint || km.tokenURL != DefaultGCPMetadataTokenURL || km.key != testKMSKey {
		t.Fatalf("defaults: %q %q %q", km.endpoint, km.tokenURL, km.key)
	}
	if km.client.Timeout != 10*time.Second || km.Provider() != "gcp-kms" || km.CurrentKeyVersion() != UnknownKeyVersion {
		t.Fatalf("client timeout %v, provider %q, version %q", km.client.Timeout, km.Provider(), km.CurrentKeyVersion())
	}
	for _, tc := range []struct {
		cfg  GCPKMSConfig
		want string
	}{
		{GCPKMSConfig{}, "NOETL_KMS_PROVIDER=gcp-kms requires NOETL_GCP_KMS_KEY (a Cloud KMS cryptoKey resource: projects/.../cryptoKeys/<key>)"},
		{GCPKMSConfig{Key: "my-key"}, "NOETL_GCP_KMS_KEY: want a cryptoKey resource"},
		{GCPKMSConfig{Key: testKMSKey + "/cryptoKeyVersions/3"}, "NOETL_GCP_KMS_KEY: want a cryptoKey resource"},
		{GCPKMSConfig{Key: testKMSKey, Endpoint: "ftp://kms"}, "NOETL_GCP_KMS_ENDPOINT: want an http(s) URL"},
		{GCPKMSConfig{Key: testKMSKey, Endpoint: "https://kms/v1?x=1"}, "NOETL_GCP_KMS_ENDPOINT: want an http(s) URL"},
		{GCPKMSConfig{Key: testKMSKey, MetadataTokenURL: "metadata/token"}, "NOETL_GCP_METADATA_TOKEN_URL: want an http(s) URL"},
	} {
		if _, err := NewGCPKMSKeyManager(tc.cfg); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want prefix %q", tc.cfg, err, tc.want)
		}
	}
}

func TestGCPKMSUpstreamFixtures(t *testing.T) {
	t.Parallel()
	v := loadVectors(t).GCPKMS
	for name, want := range v.EncryptNames {
		if got := kmsKeyVersion(name); got != want {
			t.Errorf("kmsKeyVersion(%q) = %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]string{
		"projects/p/locations/l/keyRings/r/cryptoKeys/k":                      "primary",
		"projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/":   "primary",
		"projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/12": "12",
	} {
		if got := kmsKeyVersion(name); got != want {
			t.Errorf("kmsKeyVersion(%q) = %q, want %q", name, got, want)
		}
	}
	if b, _ := json.Marshal(kmsEncryptRequest{Plaintext: base64.StdEncoding.EncodeToString([]byte{0, 1, 2})}); string(b) != v.EncryptBody000102 {
		t.Errorf("encrypt body = %s, want %s", b, v.EncryptBody000102)
	}
	if b, _ := json.Marshal(kmsDecryptRequest{Ciphertext: base64.StdEncoding.EncodeToString([]byte{255, 254})}); string(b) != v.DecryptBodyFFFE {
		t.Errorf("decrypt body = %s, want %s", b, v.DecryptBodyFFFE)
	}
}
