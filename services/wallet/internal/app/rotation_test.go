package app

import "context"
import "encoding/json"
import "fmt"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/testkit"

// TestRotationEndToEnd is the operator procedure of services/wallet/README.md, "KEK
// rotation": rows written under v1;
// restart with v2 current and v1 still known; rotate (batched, resumed); key-status shows
// every row on v2; restart with v1 removed; every credential and keychain entry still
// decrypts.
func TestRotationEndToEnd(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	ctx := context.Background()
	api := newFakeAPI(t)
	secrets := []string{}

	// 1. Rows under v1.
	cfg1 := testConfig(t, s, api.URL)
	w1 := startWallet(t, cfg1)
	creds := map[string]string{}
	for i := range 5 {
		name, secret := fmt.Sprintf("cred-%d", i), fmt.Sprintf("rot-S3CRET-cred-%d-x8", i)
		w1.must(200, "POST", "/api/credentials", map[string]any{"name": name, "type": "t", "data": map[string]any{"pw": secret}})
		creds[name], secrets = `{"pw":"`+secret+`"}`, append(secrets, secret)
	}
	entries := map[string]string{}
	for i := range 4 {
		name, secret := fmt.Sprintf("kc-%d", i), fmt.Sprintf("rot-S3CRET-kc-%d-y2", i)
		body := map[string]any{"data": secret}
		if i > 0 {
			body["expires_in"] = 3600
		}
		w1.must(200, "POST", "/api/keychain/601/"+name, body)
		entries[name], secrets = `"`+secret+`"`, append(secrets, secret)
	}
	w1.assertNoSecrets(secrets...)

	// A reference-written row, and rows no key can read: legacy plaintext and non-JSON.
	for _, q := range []string{
		`INSERT INTO credential (id, name, type, data_encrypted) VALUES (1, 'vector', 'basic', '` + vector10Stored + `')`,
		`INSERT INTO credential (id, name, type, data_encrypted) VALUES (2, 'legacy', 'basic', '{"password":"legacy-S3CRET-pw"}')`,
		`INSERT INTO credential (id, name, type, data_encrypted) VALUES (3, 'garbage', 'basic', 'not json at all')`,
		`INSERT INTO keychain (cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type, data_encrypted, expires_at)
			VALUES ('junk:601:global', 'junk', 601, 'secret', 'secret', 'global', '{"dek":{}}', now() + interval '1 hour')`,
	} {
		if _, err := s.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	creds["vector"] = vector10Plaintext
	secrets = append(secrets, "legacy-S3CRET-pw")
	var ctBefore string
	if err := s.Pool.QueryRow(ctx, `SELECT data_encrypted FROM credential WHERE name = 'cred-0'`).Scan(&ctBefore); err != nil {
		t.Fatal(err)
	}

	// 2. Restart with v2 current and v1 still able to unwrap.
	cfg2 := cfg1
	cfg2.Keys.EncryptionKey, cfg2.Keys.EncryptionKeyVer, cfg2.Keys.PreviousKeys = key2, "v2", "v1="+key1
	w2 := startWallet(t, cfg2)
	status := w2.must(200, "GET", "/api/internal/wallet/key-status", nil)
	if status != `{"credential":{"invalid":2,"v1":6},"current_key_version":"v2","keychain":{"invalid":1,"v1":4}}` {
		t.Errorf("key-status before = %s", status)
	}
	for name, want := range creds { // v1 rows still open
		if got := dataOf(t, w2.must(200, "GET", "/api/credentials/"+name+"?include_data=true", nil)); got != want {
			t.Errorf("before rotation %s = %s, want %s", name, got, want)
		}
	}
	w2.must(200, "POST", "/api/credentials", map[string]any{"name": "fresh", "type": "t", "data": "fresh-S3CRET-v2"})
	creds["fresh"], secrets = `"fresh-S3CRET-v2"`, append(secrets, "fresh-S3CRET-v2")

	// 3. Rotate in small batches, resuming by after_id, then by cursor.
	first := rotate(t, w2, map[string]any{"batch_size": 2, "max_batches": 1})
	if first.Done || first.Cursor == nil || first.Credential.Processed != 2 || first.Credential.LastID != 2 || first.KeyVersion != "v2" {
		t.Fatalf("first batch = %+v", first)
	}
	total := first
	next := rotate(t, w2, map[string]any{"batch_size": 2, "max_batches": 2, "after_id": fmt.Sprint(first.Credential.LastID)})
	total.add(next)
	for !next.Done {
		next = rotate(t, w2, map[string]any{"batch_size": 2, "max_batches": 2, "cursor": *next.Cursor})
		total.add(next)
	}
	want := summaryCounts{Processed: 9, Rewrapped: 6, Skipped: 1, Failed: 2}
	if got := total.Credential.counts(); got != want {
		t.Errorf("credential totals = %+v, want %+v", got, want)
	}
	if total.Credential.Failures["parse_error"] != 2 {
		t.Errorf("credential failures = %v", total.Credential.Failures)
	}
	if got, want := total.Keychain.counts(), (summaryCounts{Processed: 5, Rewrapped: 4, Failed: 1}); got != want {
		t.Errorf("keychain totals = %+v, want %+v", got, want)
	}
	if next.Cursor != nil || !next.Credential.Done || !next.Keychain.Done {
		t.Errorf("last response = %+v", next)
	}

	status = w2.must(200, "GET", "/api/internal/wallet/key-status", nil)
	if status != `{"credential":{"invalid":2,"v2":7},"current_key_version":"v2","keychain":{"invalid":1,"v2":4}}` {
		t.Errorf("key-status after = %s", status)
	}
	for series, want := range map[string]float64{
		`noetl_wallet_rotate_total{status="rewrapped",table="credential"}`:    6,
		`noetl_wallet_rotate_total{status="skipped",table="credential"}`:      1,
		`noetl_wallet_rotate_total{status="parse_error",table="credential"}`:  2,
		`noetl_wallet_rotate_total{status="rewrapped",table="keychain"}`:      4,
		`noetl_wallet_rotate_total{status="parse_error",table="keychain"}`:    1,
		`noetl_wallet_rotate_total{status="failed_unwrap",table="keychain"}`:  0,
		`noetl_wallet_rotate_total{status="failed_write",table="credential"}`: 0,
	} {
		if got := w2.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}

	// Only the wrapped DEK changed: the data ciphertext is byte-identical.
	var ctAfter string
	if err := s.Pool.QueryRow(ctx, `SELECT data_encrypted FROM credential WHERE name = 'cred-0'`).Scan(&ctAfter); err != nil {
		t.Fatal(err)
	}
	if dataCT(t, ctBefore) != dataCT(t, ctAfter) || ctBefore == ctAfter {
		t.Errorf("rewrap changed the data ciphertext or nothing at all:\n%s\n%s", ctBefore, ctAfter)
	}

	// A second pass has nothing to do.
	again := rotate(t, w2, map[string]any{})
	if !again.Done || again.Credential.Rewrapped != 0 || again.Credential.Skipped != 7 || again.Keychain.Skipped != 4 {
		t.Errorf("second pass = %+v", again)
	}
	w2.assertNoSecrets(secrets...)

	// 4. Retire v1: everything still decrypts.
	cfg3 := cfg1
	cfg3.Keys.EncryptionKey, cfg3.Keys.EncryptionKeyVer = key2, "v2"
	w3 := startWallet(t, cfg3)
	for name, want := range creds {
		if got := dataOf(t, w3.must(200, "GET", "/api/credentials/"+name+"?include_data=true", nil)); got != want {
			t.Errorf("after retiring v1, %s = %s, want %s", name, got, want)
		}
	}
	for name, want := range entries {
		got := w3.mustJSON(200, "GET", "/api/keychain/601/"+name, nil)
		raw, _ := json.Marshal(got["data"])
		if got["status"] != "found" || string(raw) != want {
			t.Errorf("after retiring v1, keychain %s = %v, want %s", name, got, want)
		}
	}
	// A row still on v1 now fails with a message that says how to recover it.
	if _, err := s.Pool.Exec(ctx, `INSERT INTO credential (id, name, type, data_encrypted) VALUES (4, 'straggler', 'basic', $1)`, vector10Stored); err != nil {
		t.Fatal(err)
	}
	code, out := w3.do("GET", "/api/credentials/straggler?include_data=true", nil)
	if msg := errText(t, out); code != 500 || !strings.Contains(msg, `"v1"`) || !strings.Contains(msg, "NOETL_ENCRYPTION_PREVIOUS_KEYS") {
		t.Errorf("v1 row with v1 retired = %d %s", code, out)
	}
	w3.assertNoSecrets(secrets...)
}

// TestRotationResumeKeychainCursor: a pass can start in the keychain table
// (after_cache_key), leaving credentials alone.
func TestRotationResumeKeychainCursor(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	cfg := testConfig(t, s, newFakeAPI(t).URL)
	w1 := startWallet(t, cfg)
	w1.must(200, "POST", "/api/credentials", map[string]any{"name": "c", "type": "t", "data": 1})
	for _, n := range []string{"a", "b", "c"} {
		w1.must(200, "POST", "/api/keychain/602/"+n, map[string]any{"data": n})
	}
	w1.stop()
	cfg.Keys.EncryptionKey, cfg.Keys.EncryptionKeyVer, cfg.Keys.PreviousKeys = key2, "v2", "v1="+key1
	w2 := startWallet(t, cfg)
	got := rotate(t, w2, map[string]any{"after_cache_key": "a:602:global"})
	if !got.Done || got.Credential.Processed != 0 || got.Keychain.Rewrapped != 2 || got.Keychain.LastCacheKey == nil || *got.Keychain.LastCacheKey != "c:602:global" {
		t.Errorf("keychain-only pass = %+v", got)
	}
	if st := w2.must(200, "GET", "/api/internal/wallet/key-status", nil); st != `{"credential":{"v1":1},"current_key_version":"v2","keychain":{"v1":1,"v2":2}}` {
		t.Errorf("key-status = %s", st)
	}
	code, out := w2.do("POST", "/api/internal/wallet/rotate-kek", map[string]any{"cursor": "bogus"})
	if code != 422 || !strings.Contains(errText(t, out), "cursor") {
		t.Errorf("bad cursor = %d %s", code, out)
	}
	code, out = w2.do("POST", "/api/internal/wallet/rotate-kek", nil)
	if code != 415 {
		t.Errorf("rotate without a JSON body = %d %s (a body is required, as upstream)", code, out)
	}
}

type summaryCounts struct{ Processed, Rewrapped, Skipped, Failed int64 }

type rotateSummary struct {
	summaryCounts
	LastID       int64            `json:"last_id"`
	LastCacheKey *string          `json:"last_cache_key"`
	Failures     map[string]int64 `json:"failures"`
	Done         bool             `json:"done"`
}

func (s rotateSummary) counts() summaryCounts { return s.summaryCounts }

func (s *rotateSummary) UnmarshalJSON(b []byte) error {
	type plain rotateSummary
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var c struct {
		Processed, Rewrapped, Skipped, Failed int64
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	*s = rotateSummary(p)
	s.summaryCounts = summaryCounts(c)
	return nil
}

type rotateResponse struct {
	Credential rotateSummary `json:"credential"`
	Keychain   rotateSummary `json:"keychain"`
	KeyVersion string        `json:"key_version"`
	Done       bool          `json:"done"`
	Cursor     *string       `json:"cursor"`
}

func (r *rotateResponse) add(o rotateResponse) {
	for _, p := range []struct{ a, b *rotateSummary }{{&r.Credential, &o.Credential}, {&r.Keychain, &o.Keychain}} {
		p.a.Processed += p.b.Processed
		p.a.Rewrapped += p.b.Rewrapped
		p.a.Skipped += p.b.Skipped
		p.a.Failed += p.b.Failed
		for k, v := range p.b.Failures {
			p.a.Failures[k] += v
		}
	}
}

func rotate(t *testing.T, w *wallet, body map[string]any) rotateResponse {
	t.Helper()
	out := w.must(200, "POST", "/api/internal/wallet/rotate-kek", body)
	var r rotateResponse
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("rotate answer %s: %v", out, err)
	}
	return r
}

func dataOf(t *testing.T, body string) string {
	t.Helper()
	var r struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return string(r.Data)
}

func dataCT(t *testing.T, stored string) string {
	t.Helper()
	e, err := envelope.ParseStoredEnvelope(stored)
	if err != nil {
		t.Fatal(err)
	}
	return string(e.Ciphertext)
}
