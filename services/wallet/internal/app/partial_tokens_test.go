package app

import "strings"
import "testing"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/testkit"

// TestOneTokenSetClosesEveryPublicClass: with only one of NOETL_API_TOKEN and
// NOETL_WORKER_TOKEN set, the class whose token is unset takes the one that is set, so an
// unauthenticated caller reads no credential or keychain value while the operator believes
// the API is protected (docs/security.md, "One token set, every class closed"). The
// startup warning says which class takes which token.
func TestOneTokenSetClosesEveryPublicClass(t *testing.T) {
	t.Parallel()
	const (
		token  = "the-one-token-pt-1"
		secret = "pt-credential-S3CRET"
	)
	for _, tc := range []struct {
		name   string
		tokens config.PublicTokens
		warn   string // the startup warning naming the stand-in token
	}{
		{"only NOETL_API_TOKEN", config.PublicTokens{API: token},
			"NOETL_WORKER_TOKEN is not set: the worker routes take NOETL_API_TOKEN (give workers its value as their NOETL_WORKER_TOKEN)"},
		{"only NOETL_WORKER_TOKEN", config.PublicTokens{Worker: token},
			"NOETL_API_TOKEN is not set: the client routes take NOETL_WORKER_TOKEN (give clients its value as their NOETL_API_TOKEN)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := testkit.NewSchema(t, migrations.Set)
			cfg := testConfig(t, s, newFakeAPI(t).URL)
			cfg.Tokens = tc.tokens
			w := startWallet(t, cfg)
			w.must(200, "POST", "/api/credentials", map[string]any{"name": "db", "type": "t", "data": map[string]any{"pw": secret}})
			w.must(200, "POST", "/api/keychain/501/seeded", map[string]any{"data": secret})
			for _, r := range []struct {
				name, method, path, token string
				status                    int
			}{
				{"credential value, no token", "GET", "/api/credentials/db?include_data=true", "", 401},
				{"credential value, wrong token", "GET", "/api/credentials/db?include_data=true", "bogus", 401},
				{"credential value, the token", "GET", "/api/credentials/db?include_data=true", token, 200},
				{"sealed credential, no token", "GET", "/api/credentials/db/sealed", "", 401},
				{"keychain value, no token", "GET", "/api/keychain/501/seeded", "", 401},
				{"keychain value, the token", "GET", "/api/keychain/501/seeded", token, 200},
				{"credential metadata, no token", "GET", "/api/credentials/db", "", 401},
				{"credential metadata, the token", "GET", "/api/credentials/db", token, 200},
				{"credential listing, no token", "GET", "/api/credentials", "", 401},
				{"credential listing, the token", "GET", "/api/credentials", token, 200},
				{"keychain write, no token", "POST", "/api/keychain/501/other", "", 401},
			} {
				t.Run(r.name, func(t *testing.T) {
					var body any
					if r.method == "POST" {
						body = map[string]any{"data": "x"}
					}
					code, out := w.doRaw(r.method, r.path, r.token, body)
					if code != r.status {
						t.Fatalf("%s %s = %d %s, want %d", r.method, r.path, code, out, r.status)
					}
					if code == 401 && strings.Contains(out, secret) {
						t.Errorf("refusal carries the value: %s", out)
					}
				})
			}
			w.assertNoSecrets(secret, token)
			logs := w.logs.String()
			if n := strings.Count(logs, tc.warn); n != 1 {
				t.Errorf("%d warnings %q, want 1:\n%s", n, tc.warn, logs)
			}
			if strings.Contains(logs, "open to anyone") {
				t.Errorf("warned that a class is open while a token closes it:\n%s", logs)
			}
		})
	}
}
