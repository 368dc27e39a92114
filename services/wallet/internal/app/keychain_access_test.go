package app

import "context"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/testkit"

// TestKeychainValuesTakeTheWorkerToken: a keychain GET answers decrypted values, the
// provider secrets the resolver caches in an execution's local slot included, so it takes
// the worker token as credential values do; the catalog listing (names and metadata, no
// values) stays on the client token (docs/security.md, "Authentication of the public
// surface").
func TestKeychainValuesTakeTheWorkerToken(t *testing.T) {
	t.Parallel()
	const (
		apiToken    = "client-token-kc-1"
		workerToken = "worker-token-kc-2"
		secret      = "kc-cached-provider-S3CRET"
	)
	s := testkit.NewSchema(t, migrations.Set)
	cfg := testConfig(t, s, newFakeAPI(t).URL)
	cfg.Tokens = config.PublicTokens{API: apiToken, Worker: workerToken}
	w := startWallet(t, cfg)
	// The slot the resolver caches a provider value in: <alias>:<catalog_id>:<execution_id>.
	w.must(200, "POST", "/api/keychain/501/vault_db", map[string]any{"data": map[string]any{"password": secret}, "scope_type": "local", "execution_id": 77})
	w.must(200, "POST", "/api/keychain/501/seeded", map[string]any{"data": secret})

	for _, tc := range []struct {
		name, method, path, token string
		status                    int
	}{
		{"cached provider value, client token", "GET", "/api/keychain/501/vault_db?scope_type=local&execution_id=77", apiToken, 401},
		{"global value, client token", "GET", "/api/keychain/501/seeded", apiToken, 401},
		{"missing entry, client token", "GET", "/api/keychain/501/none", apiToken, 401},
		{"no token", "GET", "/api/keychain/501/seeded", "", 401},
		{"HEAD, client token", "HEAD", "/api/keychain/501/seeded", apiToken, 401},
		{"cached provider value, worker token", "GET", "/api/keychain/501/vault_db?scope_type=local&execution_id=77", workerToken, 200},
		{"global value, worker token", "GET", "/api/keychain/501/seeded", workerToken, 200},
		{"HEAD, worker token", "HEAD", "/api/keychain/501/seeded", workerToken, 405},
		{"listing, client token", "GET", "/api/keychain/catalog/501", apiToken, 200},
		{"listing, worker token", "GET", "/api/keychain/catalog/501", workerToken, 401},
		{"delete, client token", "DELETE", "/api/keychain/501/none", apiToken, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := w.doRaw(tc.method, tc.path, tc.token, nil)
			if code != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, code, body, tc.status)
			}
			if code == 401 && tc.method != "HEAD" && tc.token != workerToken && !strings.Contains(body, "NOETL_WORKER_TOKEN") {
				t.Errorf("401 does not name the worker token: %s", body)
			}
			if code != 200 && strings.Contains(body, secret) {
				t.Errorf("refusal carries the value: %s", body)
			}
		})
	}
	w.assertNoSecrets(secret)
}

// TestKeychainExecutionWritesTakeTheWorkerToken: an entry of one execution (scope local
// or shared with an execution_id) is what a running execution reads, and the local one
// is the slot the resolver serves a provider secret from, so writing one takes the
// worker token; with the client token nothing is written. Entries of no execution stay
// writable with the client token, as operators seed them.
func TestKeychainExecutionWritesTakeTheWorkerToken(t *testing.T) {
	t.Parallel()
	const (
		apiToken    = "client-token-kcw-1"
		workerToken = "worker-token-kcw-2"
		planted     = "kc-planted-S3CRET"
	)
	s := testkit.NewSchema(t, migrations.Set)
	cfg := testConfig(t, s, newFakeAPI(t).URL)
	cfg.Tokens = config.PublicTokens{API: apiToken, Worker: workerToken}
	w := startWallet(t, cfg)
	for _, tc := range []struct {
		name, token string
		body        map[string]any
		key         string // the cache key written; "" when refused
		status      int
	}{
		{"resolver slot, client token", apiToken, map[string]any{"scope_type": "local", "execution_id": 77}, "", 401},
		{"resolver slot, id as a string, client token", apiToken, map[string]any{"scope_type": "local", "execution_id": "78"}, "", 401},
		{"shared execution entry, client token", apiToken, map[string]any{"scope_type": "shared", "execution_id": 77}, "", 401},
		{"no token", "", map[string]any{"scope_type": "local", "execution_id": 79}, "", 401},
		{"bad execution_id, client token", apiToken, map[string]any{"scope_type": "local", "execution_id": "x"}, "", 422},
		{"resolver slot, worker token", workerToken, map[string]any{"scope_type": "local", "execution_id": 77}, "vault_db:501:77", 200},
		{"shared execution entry, worker token", workerToken, map[string]any{"scope_type": "shared", "execution_id": 77}, "vault_db:501:shared:77", 200},
		{"global, client token", apiToken, map[string]any{}, "vault_db:501:global", 200},
		{"global with an execution_id, client token", apiToken, map[string]any{"scope_type": "global", "execution_id": 80}, "vault_db:501:global", 200},
		{"local of no execution, client token", apiToken, map[string]any{"scope_type": "local"}, "vault_db:501:local", 200},
		{"shared of no execution, client token", apiToken, map[string]any{"scope_type": "shared"}, "vault_db:501:shared", 200},
		{"global, worker token", workerToken, map[string]any{}, "vault_db:501:global", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"data": map[string]any{"password": planted}}
			for k, v := range tc.body {
				body[k] = v
			}
			code, out := w.doRaw("POST", "/api/keychain/501/vault_db", tc.token, body)
			if code != tc.status {
				t.Fatalf("POST = %d %s, want %d", code, out, tc.status)
			}
			if code == 401 && tc.token != "" && !strings.Contains(out, "writing an execution's keychain entry") {
				t.Errorf("401 does not say what needs the worker token: %s", out)
			}
			if tc.key != "" && !strings.Contains(out, `"cache_key":"`+tc.key+`"`) {
				t.Errorf("answer %s, want cache_key %s", out, tc.key)
			}
		})
	}
	// Nothing of a refused write reached the table.
	var n int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM keychain WHERE cache_key IN ('vault_db:501:78', 'vault_db:501:79')`).Scan(&n); err != nil || n != 0 {
		t.Errorf("refused writes stored %d rows (err %v)", n, err)
	}
	w.assertNoSecrets(planted)
}
