package app

import "context"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/testkit"

// TestNoSecretLeaksInDebugMode drives every failure path that touches a value with
// NOETL_DEBUG on (so 5xx bodies carry the full error chain) and debug logging, then checks
// that no secret reached a log line, a metric or an error body. Every other test in this
// package ends with the same check for its own secrets.
func TestNoSecretLeaksInDebugMode(t *testing.T) {
	t.Parallel()
	const (
		secret       = "leak-S3CRET-value-A1"
		legacySecret = "leak-S3CRET-legacy-B2"
		kcSecret     = "leak-S3CRET-keychain-C3"
	)
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t)
	api.register("worker-bob", strp(bobPublicB64))
	cfg := testConfig(t, s, api.URL)
	cfg.Debug = true
	cfg.MaxBodyBytes = 4096
	w := startWallet(t, cfg)

	w.must(200, "POST", "/api/credentials", map[string]any{"name": "db", "type": "t", "data": map[string]any{"pw": secret}})
	w.must(200, "POST", "/api/keychain/801/tok", map[string]any{"data": kcSecret})
	ctx := context.Background()
	// A legacy plaintext row, a tampered row (data ct flipped), a truncated row.
	var stored string
	if err := s.Pool.QueryRow(ctx, `SELECT data_encrypted FROM credential WHERE name = 'db'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		name, data string
	}{
		{"legacy", `{"password":"` + legacySecret + `"}`},
		{"tampered", flipDataByte(t, stored)},
		{"truncated", stored[:len(stored)/2]},
	} {
		if _, err := s.Pool.Exec(ctx, `INSERT INTO credential (id, name, type, data_encrypted) VALUES ($1, $2, 't', $3)`,
			int64(len(q.name)), q.name, q.data); err != nil {
			t.Fatal(err)
		}
	}

	failures := []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/api/credentials/legacy?include_data=true", nil, 500},
		{"GET", "/api/credentials/tampered?include_data=true", nil, 500},
		{"GET", "/api/credentials/truncated?include_data=true", nil, 500},
		{"GET", "/api/credentials/legacy/sealed?worker_id=worker-bob", nil, 500},
		{"POST", "/internal/wallet/seal", map[string]any{"alias": "tampered", "worker_public_key_b64": bobPublicB64, "worker_id": "w"}, 500},
		{"POST", "/api/credentials", `{"name":"x","type":"t","data":{"pw":"` + secret + `"`, 400},
		{"POST", "/api/credentials", `{"name":"x","type":"t","data":{"pw":"` + secret + `"}} trailing`, 400},
		{"POST", "/api/credentials", `{"name":"x","type":"t","data":{"pw":"` + secret + `"},"tags":{"a":"` + secret + `"}}`, 422},
		{"POST", "/api/credentials", `{"name":"x","type":"t","data":"` + strings.Repeat(secret, 300) + `"}`, 413},
		{"POST", "/api/keychain/801/tok", `{"data":"` + kcSecret + `","expires_at":"` + kcSecret + `"}`, 422},
		{"POST", "/api/keychain/801/tok", `{"data":"` + kcSecret + `","execution_id":"` + kcSecret + `"}`, 422},
		{"POST", "/api/keychain/999/tok", map[string]any{"data": kcSecret}, 404},
	}
	for _, f := range failures {
		if code, out := w.do(f.method, f.path, f.body); code != f.status {
			t.Errorf("%s %s = %d %s, want %d", f.method, f.path, code, out, f.status)
		}
	}
	// Strict audit failure with debug detail.
	freezeAudit(t, s)
	cfg.Audit.Required = true
	ws := startWallet(t, cfg)
	if code, out := ws.do("GET", "/api/credentials/db?include_data=true", nil); code != 500 {
		t.Errorf("strict + frozen audit = %d %s", code, out)
	}
	if code, out := ws.do("GET", "/api/keychain/801/tok", nil); code != 500 {
		t.Errorf("strict + frozen audit keychain = %d %s", code, out)
	}
	ws.assertNoSecrets(secret, legacySecret, kcSecret)
	w.assertNoSecrets(secret, legacySecret, kcSecret)
}

// flipDataByte changes one byte of a stored envelope's data ciphertext, keeping it valid
// base64, so that only AEAD authentication catches it.
func flipDataByte(t *testing.T, stored string) string {
	t.Helper()
	i := strings.Index(stored, `"ct":"`) + len(`"ct":"`) + 20
	c := stored[i]
	r := byte('A')
	if c == 'A' {
		r = 'B'
	}
	return stored[:i] + string(r) + stored[i+1:]
}
