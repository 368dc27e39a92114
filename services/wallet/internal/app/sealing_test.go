package app

import "context"
import "encoding/base64"
import "encoding/hex"
import "encoding/json"
import "fmt"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/testkit"

// The worker is RFC 7748's Bob, as in the sealed vectors (docs/wallet.md, section 7).
const (
	bobSecretHex = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
	bobPublicB64 = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
)

func bobKey(t *testing.T) sealed.SecretKey {
	t.Helper()
	raw, _ := hex.DecodeString(bobSecretHex)
	k, err := sealed.NewSecretKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func decodeEnvelope(t *testing.T, body string) sealed.Envelope {
	t.Helper()
	var env sealed.Envelope
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("sealed answer %q: %v", body, err)
	}
	return env
}

func strp(s string) *string { return &s }

func TestSealedDelivery(t *testing.T) {
	t.Parallel()
	const secret = "sealed-S3CRET-sk-77xq"
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t)
	api.register("worker-bob", strp(bobPublicB64))
	api.register("worker-nokey", nil)
	api.register("worker-badb64", strp("%%%not-base64%%%"))
	api.register("worker-short", strp(base64.StdEncoding.EncodeToString(make([]byte, 16))))
	api.register("worker-loworder", strp(base64.StdEncoding.EncodeToString(make([]byte, 32))))
	w := startWallet(t, testConfig(t, s, api.URL))
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "duffel", "type": "bearer", "data": map[string]any{"token": secret}})

	// The sealed plaintext is the exact GET include_data body, and only Bob opens it.
	body := w.must(200, "GET", "/api/credentials/duffel/sealed?worker_id=worker-bob&execution_id=77&parent_execution_id=66", nil)
	if strings.Contains(body, secret) || !strings.HasPrefix(body, `{"alg":"x25519-hkdf-sha256-chacha20-poly1305","v":1,"eph_pub":"`) {
		t.Fatalf("sealed answer = %s", body)
	}
	env := decodeEnvelope(t, body)
	plain, err := sealed.Open(bobKey(t), env)
	if err != nil {
		t.Fatalf("worker cannot open: %v", err)
	}
	if want := w.must(200, "GET", "/api/credentials/duffel?include_data=true", nil); string(plain) != want {
		t.Errorf("sealed plaintext\n%s\nis not the GET body\n%s", plain, want)
	}

	// Every tampering case of the sealed vectors fails, with its message.
	other, err := sealed.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(env.Ciphertext)
	flipped := append([]byte(nil), ct...)
	flipped[len(flipped)/2] ^= 0x01
	tamper := []struct {
		name string
		key  sealed.SecretKey
		edit func(e *sealed.Envelope)
		want string
	}{
		{"flipped ciphertext byte", bobKey(t), func(e *sealed.Envelope) { e.Ciphertext = base64.StdEncoding.EncodeToString(flipped) }, "AEAD verify/decrypt"},
		{"substituted eph_pub", bobKey(t), func(e *sealed.Envelope) { e.EphPub = sealed.EncodePublicKey(other.PublicKey()) }, "AEAD verify/decrypt"},
		{"wrong recipient", other, func(e *sealed.Envelope) {}, "AEAD verify/decrypt"},
		{"other alg", bobKey(t), func(e *sealed.Envelope) { e.Alg = "x25519-hkdf-sha256-aes-gcm-v2" }, "unsupported alg"},
		{"version 8", bobKey(t), func(e *sealed.Envelope) { e.V = 8 }, "unsupported version"},
		{"16-byte eph_pub", bobKey(t), func(e *sealed.Envelope) { e.EphPub = base64.StdEncoding.EncodeToString(make([]byte, 16)) }, "eph_pub must be 32 bytes"},
		{"ciphertext not base64", bobKey(t), func(e *sealed.Envelope) { e.Ciphertext = "%not base64%" }, "ciphertext base64"},
	}
	for _, tc := range tamper {
		e := env
		tc.edit(&e)
		if pt, err := sealed.Open(tc.key, e); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Open = %q, %v; want an error with %q", tc.name, pt, err, tc.want)
		}
	}

	// Error cases of the sealed route (docs/wallet.md, section 5), each with its message and
	// metric status.
	noKey := "worker 'worker-%s' did not register a sealing pubkey (worker_public_key missing from the noetl.runtime row, or the worker_pool row doesn't exist)"
	errs := []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/credentials/duffel/sealed", 400, "worker_id is required"},
		{"/api/credentials/duffel/sealed?worker_id=worker-ghost", 400, strings.Replace(noKey, "%s", "ghost", 1)},
		{"/api/credentials/duffel/sealed?worker_id=worker-nokey", 400, strings.Replace(noKey, "%s", "nokey", 1)},
		{"/api/credentials/duffel/sealed?worker_id=worker-badb64", 400, "worker 'worker-badb64' worker_public_key base64: "},
		{"/api/credentials/duffel/sealed?worker_id=worker-short", 400, "worker 'worker-short' worker_public_key must be 32 bytes, got 16"},
		{"/api/credentials/missing/sealed?worker_id=worker-bob", 404, "Credential 'missing' not found"},
		{"/api/credentials/duffel/sealed?worker_id=worker-loworder", 500, "sealed get: sealed seal: recipient public key is a low-order point"},
		{"/api/credentials/duffel/sealed?worker_id=worker-bob&execution_id=abc", 400, "execution_id"},
	}
	for _, e := range errs {
		code, out := w.do("GET", e.path, nil)
		if code != e.status || !strings.Contains(errText(t, out), e.msg) {
			t.Errorf("GET %s = %d %s, want %d with %q", e.path, code, out, e.status, e.msg)
		}
	}
	api.setFail(true)
	code, out := w.do("GET", "/api/credentials/duffel/sealed?worker_id=worker-bob", nil)
	if code != 502 || !strings.Contains(errText(t, out), "could not look up worker 'worker-bob' sealing pubkey") {
		t.Errorf("api failing: %d %s", code, out)
	}
	api.setFail(false)

	for status, want := range map[string]float64{
		"ok": 1, "ok_via_broker": 0, "no_pubkey": 2, "worker_not_found": 3,
		"residency_violation": 0, "credential_error": 1, "seal_error": 1,
	} {
		if got := w.metric(`noetl_credentials_sealed_total{status="` + status + `"}`); got != want {
			t.Errorf("noetl_credentials_sealed_total{status=%q} = %v, want %v", status, got, want)
		}
	}

	// The sealed fetch is audited with the worker and the execution context.
	var n int
	eventually(t, "the get_sealed audit row", func() bool {
		_ = s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM secret_audit WHERE operation = 'get_sealed'
			AND outcome = 'ok' AND credential = 'duffel' AND worker_id = 'worker-bob' AND execution_id = 77
			AND parent_execution_id = 66 AND kek_version = 'v1' AND server_region = 'test-region-1'`).Scan(&n)
		return n == 1
	})
	w.assertNoSecrets(secret)
}

// TestInternalSealToKey: the broker's seal-to-key endpoint seals to the supplied key,
// records a cross_region_broker_serve audit row and validates the key.
func TestInternalSealToKey(t *testing.T) {
	t.Parallel()
	const secret = "broker-S3CRET-pw-1203"
	s := testkit.NewSchema(t, migrations.Set)
	w := startWallet(t, testConfig(t, s, newFakeAPI(t).URL))
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "eu-db", "type": "postgres", "data": map[string]any{"password": secret}})

	req := map[string]any{"alias": "eu-db", "worker_public_key_b64": " " + bobPublicB64 + "\n", "worker_id": "us-worker",
		"execution_id": "123", "parent_execution_id": 45, "broker_region": "eu-central-1"}
	env := decodeEnvelope(t, w.must(200, "POST", "/internal/wallet/seal", req))
	plain, err := sealed.Open(bobKey(t), env)
	if err != nil || !strings.Contains(string(plain), secret) {
		t.Fatalf("open broker envelope: %q, %v", plain, err)
	}
	// "identifier" is accepted for "alias".
	w.must(200, "POST", "/internal/wallet/seal", map[string]any{"identifier": "eu-db", "worker_public_key_b64": bobPublicB64, "worker_id": "w"})

	errs := []struct {
		body   map[string]any
		status int
		msg    string
	}{
		{map[string]any{"alias": "eu-db", "worker_public_key_b64": "***", "worker_id": "w"}, 400, "cross-region: invalid worker_public_key_b64: base64 decode: "},
		{map[string]any{"alias": "eu-db", "worker_public_key_b64": base64.StdEncoding.EncodeToString(make([]byte, 16)), "worker_id": "w"}, 400, "invalid worker_public_key_b64: expected 32 bytes, got 16"},
		{map[string]any{"worker_public_key_b64": bobPublicB64, "worker_id": "w"}, 422, `"alias" is required`},
		{map[string]any{"alias": "eu-db", "worker_id": "w"}, 422, `"worker_public_key_b64" is required`},
		{map[string]any{"alias": "eu-db", "worker_public_key_b64": bobPublicB64}, 422, `"worker_id" is required`},
		{map[string]any{"alias": "nope", "worker_public_key_b64": bobPublicB64, "worker_id": "w"}, 404, "Credential 'nope' not found"},
	}
	for _, e := range errs {
		code, out := w.do("POST", "/internal/wallet/seal", e.body)
		if code != e.status || !strings.Contains(errText(t, out), e.msg) {
			t.Errorf("POST %v = %d %s, want %d with %q", e.body, code, out, e.status, e.msg)
		}
	}
	if code, _ := w.doRaw("POST", "/internal/wallet/seal", "", req); code != 401 {
		t.Errorf("unauthenticated seal = %d, want 401", code)
	}
	var n int
	eventually(t, "the cross_region_broker_serve audit row", func() bool {
		_ = s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM secret_audit WHERE operation = 'cross_region_broker_serve'
			AND outcome = 'ok' AND credential = 'eu-db' AND worker_id = 'us-worker' AND execution_id = 123
			AND parent_execution_id = 45 AND broker_region = 'eu-central-1'`).Scan(&n)
		return n == 1
	})
	w.assertNoSecrets(secret)
}

// TestSealedRouteIsNoOracle: a caller who may not have a credential sealed (no token, a
// wrong or client token, a worker id without a registered key) gets the same answer for
// a credential that exists as for one that does not, so the route does not tell it which
// names the wallet holds.
func TestSealedRouteIsNoOracle(t *testing.T) {
	t.Parallel()
	const (
		apiToken    = "client-token-oracle-1"
		workerToken = "worker-token-oracle-2"
	)
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t)
	api.register("worker-nokey", nil)
	cfg := testConfig(t, s, api.URL)
	cfg.Tokens = config.PublicTokens{API: apiToken, Worker: workerToken}
	w := startWallet(t, cfg)
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "present", "type": "bearer", "data": map[string]any{"token": "oracle-S3CRET"}})
	for _, tc := range []struct {
		name, token, query string
		status             int
	}{
		{"no token", "", "?worker_id=worker-nokey", 401},
		{"wrong token", "not-a-token", "?worker_id=worker-nokey", 401},
		{"client token", apiToken, "?worker_id=worker-nokey", 401},
		{"worker without a key", workerToken, "?worker_id=worker-nokey", 400},
		{"worker not registered", workerToken, "?worker_id=worker-ghost", 400},
		{"no worker id", workerToken, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var answers [2]string
			for i, name := range []string{"present", "absent"} {
				code, body := w.doRaw("GET", "/api/credentials/"+name+"/sealed"+tc.query, tc.token, nil)
				if code != tc.status {
					t.Fatalf("%s: %d %s, want %d", name, code, body, tc.status)
				}
				answers[i] = fmt.Sprintf("%d %s", code, strings.ReplaceAll(body, name, "<name>"))
			}
			if answers[0] != answers[1] {
				t.Errorf("existing and missing credentials answer differently:\n%s\n%s", answers[0], answers[1])
			}
		})
	}
	w.assertNoSecrets("oracle-S3CRET")
}
