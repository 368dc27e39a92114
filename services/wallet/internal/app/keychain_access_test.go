package app

import (
	"strings"
	"testing"

	"github.com/noetl/controlplane/services/wallet/migrations"
	"github.com/noetl/controlplane/shared/config"
	"github.com/noetl/controlplane/shared/testkit"
)

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
