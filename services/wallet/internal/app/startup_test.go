package app

import "encoding/base64"
import "encoding/json"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/testkit"

// TestNoEncryptionKey: without NOETL_ENCRYPTION_KEY the wallet starts but is not ready,
// and every credential/keychain route answers 500 with a message naming the variable even
// with NOETL_DEBUG off; key-status and the audit query keep working.
func TestNoEncryptionKey(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	cfg := testConfig(t, s, newFakeAPI(t).URL)
	cfg.Keys.EncryptionKey = ""
	cfg.Debug = false
	w := startWallet(t, cfg)
	if !strings.Contains(w.logs.String(), "NOETL_ENCRYPTION_KEY is not set") {
		t.Error("no startup warning about NOETL_ENCRYPTION_KEY")
	}
	w.must(200, "GET", "/healthz", nil)
	if ready := w.must(503, "GET", "/readyz", nil); !strings.Contains(errText(t, ready), "key: NOETL_ENCRYPTION_KEY is not set") {
		t.Errorf("/readyz = %s, want the missing key named", ready)
	}
	routes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/credentials", map[string]any{"name": "n", "type": "t", "data": 1}},
		{"GET", "/api/credentials", nil},
		{"GET", "/api/credentials/n", nil},
		{"GET", "/api/credentials/n?include_data=true", nil},
		{"DELETE", "/api/credentials/n", nil},
		{"GET", "/api/credentials/n/sealed?worker_id=w", nil},
		{"GET", "/api/keychain/1/n", nil},
		{"POST", "/api/keychain/1/n", map[string]any{"data": 1}},
		{"DELETE", "/api/keychain/1/n", nil},
		{"GET", "/api/keychain/catalog/1", nil},
		{"POST", "/internal/wallet/seal", map[string]any{"alias": "n", "worker_public_key_b64": bobPublicB64, "worker_id": "w"}},
		{"POST", "/api/internal/wallet/rotate-kek", map[string]any{}},
	}
	for _, r := range routes {
		code, out := w.do(r.method, r.path, r.body)
		if code != 500 || !strings.Contains(errText(t, out), "NOETL_ENCRYPTION_KEY") {
			t.Errorf("%s %s = %d %s, want 500 naming NOETL_ENCRYPTION_KEY", r.method, r.path, code, out)
		}
	}
	if got := w.must(200, "GET", "/api/internal/wallet/key-status", nil); got != `{"credential":{},"keychain":{}}` {
		t.Errorf("key-status = %s", got)
	}
	w.must(200, "GET", "/api/internal/secret-audit", nil)
}

// TestInternalRoutesRequireToken: every internal wallet route, known or not, answers 401
// without the right Bearer token, and when the server has no token configured.
func TestInternalRoutesRequireToken(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	cfg := testConfig(t, s, newFakeAPI(t).URL)
	w := startWallet(t, cfg)
	noToken := cfg
	noToken.InternalToken = ""
	w2 := startWallet(t, noToken)
	routes := []struct{ method, path string }{
		{"POST", "/api/internal/wallet/rotate-kek"},
		{"GET", "/api/internal/wallet/key-status"},
		{"GET", "/api/internal/secret-audit"},
		{"GET", "/api/internal/wallet/unknown"},
		{"POST", "/internal/wallet/seal"},
		{"GET", "/internal/anything"},
	}
	for _, r := range routes {
		for _, tc := range []struct {
			name, header string
			w            *wallet
		}{
			{"no header", "", w}, {"wrong token", "Bearer nope", w}, {"basic scheme", "Basic " + testToken, w},
			{"bearer, server has no token", "Bearer " + testToken, w2},
		} {
			req, _ := http.NewRequest(r.method, tc.w.url+r.path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != 401 || body.Status != 401 || body.Error == "" {
				t.Errorf("%s %s (%s) = %d %+v, want a JSON 401", r.method, r.path, tc.name, resp.StatusCode, body)
			}
		}
	}
	// The public routes are not gated.
	w.must(200, "GET", "/api/credentials", nil)
}

// TestGCPKMSProvider: NOETL_KMS_PROVIDER=gcp-kms wires the Cloud KMS key manager to the
// overridable endpoint and metadata URL; no NOETL_ENCRYPTION_KEY is needed.
func TestGCPKMSProvider(t *testing.T) {
	t.Parallel()
	const kmsKey = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
	const secret = "kms-S3CRET-pw-6020"
	calls := map[string]int{}
	var mu = make(chan struct{}, 1)
	kms := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu <- struct{}{}
		defer func() { <-mu }()
		switch {
		case r.URL.Path == "/token":
			calls["token"]++
			_, _ = w.Write([]byte(`{"access_token":"kms-access-token","expires_in":3600}`))
			return
		case r.Header.Get("Authorization") != "Bearer kms-access-token":
			w.WriteHeader(http.StatusUnauthorized)
			return
		case r.URL.Path == "/v1/"+kmsKey+":encrypt":
			calls["encrypt"]++
			var in struct{ Plaintext string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			raw, _ := base64.StdEncoding.DecodeString(in.Plaintext)
			for i := range raw {
				raw[i] ^= 0x5a
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"name": kmsKey + "/cryptoKeyVersions/3", "ciphertext": base64.StdEncoding.EncodeToString(raw)})
		case r.URL.Path == "/v1/"+kmsKey+":decrypt":
			calls["decrypt"]++
			var in struct{ Ciphertext string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			raw, _ := base64.StdEncoding.DecodeString(in.Ciphertext)
			for i := range raw {
				raw[i] ^= 0x5a
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"plaintext": base64.StdEncoding.EncodeToString(raw)})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(kms.Close)

	s := testkit.NewSchema(t, migrations.Set)
	cfg := testConfig(t, s, newFakeAPI(t).URL)
	cfg.Keys = Keys{KMSProvider: "gcp-kms", GCPKMSKey: kmsKey, GCPKMSEndpoint: kms.URL + "/v1", GCPMetadataTokURL: kms.URL + "/token", EncryptionKeyVer: "v1"}
	w := startWallet(t, cfg)
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "db", "type": "t", "data": secret})
	if got := dataOf(t, w.must(200, "GET", "/api/credentials/db?include_data=true", nil)); got != `"`+secret+`"` {
		t.Errorf("GET include_data = %s", got)
	}
	if st := w.must(200, "GET", "/api/internal/wallet/key-status", nil); st != `{"credential":{"3":1},"current_key_version":"unknown","keychain":{}}` {
		t.Errorf("key-status = %s", st)
	}
	// Upstream behaviour kept: KMS reports no current version, so every pass re-wraps.
	if r := rotate(t, w, map[string]any{}); r.Credential.Rewrapped != 1 || !r.Done {
		t.Errorf("rotation = %+v", r)
	}
	mu <- struct{}{}
	if calls["token"] != 1 || calls["encrypt"] != 2 || calls["decrypt"] != 2 {
		t.Errorf("KMS calls = %v (token cached; one wrap per write and rewrap, one unwrap per read and rewrap)", calls)
	}
	<-mu
	w.assertNoSecrets(secret, "kms-access-token")
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	const badKey = "c2hvcnQta2V5LXZhbHVlLTk5" // valid base64, 18 bytes
	tests := []struct {
		name string
		env  map[string]string
		want string // "" = loads
	}{
		{"no key", map[string]string{}, ""},
		{"key and previous", map[string]string{"NOETL_ENCRYPTION_KEY": key2, "NOETL_ENCRYPTION_KEY_VERSION": "v2", "NOETL_ENCRYPTION_PREVIOUS_KEYS": "v1=" + key1}, ""},
		{"short key", map[string]string{"NOETL_ENCRYPTION_KEY": badKey}, "NOETL_ENCRYPTION_KEY"},
		{"key with newline", map[string]string{"NOETL_ENCRYPTION_KEY": key1 + "\n"}, "NOETL_ENCRYPTION_KEY"},
		{"previous malformed", map[string]string{"NOETL_ENCRYPTION_KEY": key2, "NOETL_ENCRYPTION_PREVIOUS_KEYS": badKey}, "NOETL_ENCRYPTION_PREVIOUS_KEYS"},
		{"previous reuses current version", map[string]string{"NOETL_ENCRYPTION_KEY": key2, "NOETL_ENCRYPTION_PREVIOUS_KEYS": "v1=" + key1}, "NOETL_ENCRYPTION_PREVIOUS_KEYS"},
		{"bad version label", map[string]string{"NOETL_ENCRYPTION_KEY": key2, "NOETL_ENCRYPTION_KEY_VERSION": "v 2"}, "NOETL_ENCRYPTION_KEY_VERSION"},
		{"gcp without key", map[string]string{"NOETL_KMS_PROVIDER": "gcp-kms"}, "NOETL_GCP_KMS_KEY"},
		{"gcp bad endpoint", map[string]string{"NOETL_KMS_PROVIDER": "gcp", "NOETL_GCP_KMS_KEY": "projects/p/locations/l/keyRings/r/cryptoKeys/k", "NOETL_GCP_KMS_ENDPOINT": "ftp://x"}, "NOETL_GCP_KMS_ENDPOINT"},
		{"unknown provider", map[string]string{"NOETL_KMS_PROVIDER": "aws-kms"}, "NOETL_KMS_PROVIDER"},
		{"bad api url", map[string]string{"NOETL_API_URL": "nope"}, "NOETL_API_URL"},
		{"api url not http", map[string]string{"NOETL_API_URL": "ftp://api:8083"}, "NOETL_API_URL"},
		{"server region", map[string]string{"NOETL_SERVER_REGION": "eu-central-1"}, ""},
		{"server region not a region name", map[string]string{"NOETL_SERVER_REGION": "eu.example"}, "NOETL_SERVER_REGION"},
		{"broker registry empty region", map[string]string{"NOETL_SECRET_BROKER_REGISTRY": `{"":"https://broker.example.com"}`}, "empty region"},
		{"broker registry", map[string]string{"NOETL_SECRET_BROKER_REGISTRY": `{"eu-central-1":"https://broker-eu.example.com/","us":""}`}, ""},
		{"broker registry not an object", map[string]string{"NOETL_SECRET_BROKER_REGISTRY": `["https://broker-eu.example.com"]`}, "NOETL_SECRET_BROKER_REGISTRY"},
		{"broker registry bad url", map[string]string{"NOETL_SECRET_BROKER_REGISTRY": `{"eu":"broker-eu:8085"}`}, "NOETL_SECRET_BROKER_REGISTRY"},
		{"negative safety margin", map[string]string{"KEYCHAIN_CACHE_DYNAMIC_SAFETY_MARGIN_SECS": "-1"}, "KEYCHAIN_CACHE_DYNAMIC_SAFETY_MARGIN_SECS"},
		{"negative refresh window", map[string]string{"KEYCHAIN_CACHE_REFRESH_WINDOW_SECS": "-1"}, "KEYCHAIN_CACHE_REFRESH_WINDOW_SECS"},
		{"refresh off", map[string]string{"KEYCHAIN_CACHE_REFRESH_WINDOW_SECS": "0"}, ""},
		{"keychain cleanup below a second", map[string]string{"NOETL_KEYCHAIN_CLEANUP_INTERVAL": "10ms"}, "NOETL_KEYCHAIN_CLEANUP_INTERVAL"},
		{"keychain cleanup negative", map[string]string{"NOETL_KEYCHAIN_CLEANUP_INTERVAL": "-1m"}, "NOETL_KEYCHAIN_CLEANUP_INTERVAL"},
		{"keychain cleanup off", map[string]string{"NOETL_KEYCHAIN_CLEANUP_INTERVAL": "0"}, ""},
		{"dynamic providers", map[string]string{"AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/app", "NOETL_AWS_STS_DURATION_SECS": "900",
			"NOETL_GCP_IAM_LIFETIME_SECS": "600", "NOETL_GCP_IMPERSONATE_SA": "etl@p.iam.gserviceaccount.com"}, ""},
		{"sts duration STS refuses", map[string]string{"NOETL_AWS_STS_DURATION_SECS": "60"}, "NOETL_AWS_STS_DURATION_SECS"},
		{"role that is not an ARN", map[string]string{"AWS_ROLE_ARN": "app-role"}, "AWS_ROLE_ARN"},
		{"iam lifetime over 12 h", map[string]string{"NOETL_GCP_IAM_LIFETIME_SECS": "86400"}, "NOETL_GCP_IAM_LIFETIME_SECS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadConfig(tc.env)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("LoadConfig: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadConfig err = %v, want one naming %s", err, tc.want)
			}
			for _, v := range []string{badKey, key1, key2} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error %q quotes key material", err)
				}
			}
		})
	}
}

// TestReadinessNeedsAKeyThatOpensRows: a wallet whose keys cannot open the stored rows
// (the old key retired before rotation re-wrapped them) is not ready, and says which label
// and which variable to fix; the same rows with the old key listed as a previous version
// are fine. (A different key under the rows' own label does not get this far: the wallet
// refuses to start, TestKeyLabelIsBoundToItsKey.)
func TestReadinessNeedsAKeyThatOpensRows(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t).URL
	first := startWallet(t, testConfig(t, s, api))
	first.must(200, "GET", "/readyz", nil) // no rows yet: any key is fine
	first.must(200, "POST", "/api/credentials", map[string]any{"name": "db", "type": "t", "data": "s3cr3t-pw-77"})
	first.stop()

	retired := testConfig(t, s, api)
	retired.Keys.EncryptionKey, retired.Keys.EncryptionKeyVer = key2, "v2" // v1 no longer listed
	w := startWallet(t, retired)
	msg := errText(t, w.must(503, "GET", "/readyz", nil))
	for _, want := range []string{"key: ", "cannot open the credential rows", `"v1"`, "NOETL_ENCRYPTION_KEY", "NOETL_ENCRYPTION_PREVIOUS_KEYS"} {
		if !strings.Contains(msg, want) {
			t.Errorf("/readyz message %q lacks %q", msg, want)
		}
	}

	rotated := testConfig(t, s, api)
	rotated.Keys.EncryptionKey, rotated.Keys.EncryptionKeyVer, rotated.Keys.PreviousKeys = key2, "v2", config.Secret("v1="+key1)
	r := startWallet(t, rotated)
	r.must(200, "GET", "/readyz", nil)
	w.assertNoSecrets("s3cr3t-pw-77", key1, key2)
}
