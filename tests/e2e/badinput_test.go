package e2e

import "net/http"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/testkit"

// TestBadInputIsAClientError sends, through the router, every kind of input the security
// review saw answered with a 500 (or accepted and stored): invalid UTF-8 in paths, query
// strings and bodies, \u0000 in JSON bodies, numbers float64 cannot hold, an expires_in
// that overflowed to "expired now", and worker ids that cannot be stored or audited. Each
// answers 400 or 422 with the envelope, and nothing is stored.
func TestBadInputIsAClientError(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	internal := map[string]string{"Authorization": "Bearer " + s.Token}
	huge := strings.Repeat("9", 1_500_000)
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
	}{
		// Invalid UTF-8 and NUL in paths and query strings.
		{"credential path", "GET", "/api/credentials/%FF%FE", "", nil, 400},
		{"credential list query", "GET", "/api/credentials?q=%FF", "", nil, 400},
		{"credential include_data path", "GET", "/api/credentials/a%00b?include_data=true", "", nil, 400},
		{"keychain path", "GET", "/api/keychain/1/%C0%AF", "", nil, 400},
		{"keychain query", "DELETE", "/api/keychain/1/k?scope_type=%FF", "", nil, 400},
		{"catalog ui_schema path", "GET", "/api/catalog/a%FFb/ui_schema", "", nil, 400},
		{"vars path", "GET", "/api/vars/1/%FF", "", nil, 400},
		{"vars delete path", "DELETE", "/api/vars/1/a%00", "", nil, 400},
		{"secret audit query", "GET", "/api/internal/secret-audit?credential=%FF", "", internal, 400},
		{"worker pools query", "GET", "/api/worker/pools?name=%FF", "", nil, 400},

		// Filters outside their values: an error naming them, never an empty list.
		{"execution list status", "GET", "/api/executions?status=bogus", "", nil, 400},
		{"execution list limit", "GET", "/api/executions?limit=1.5", "", nil, 400},
		{"worker pools kind", "GET", "/api/worker/pools?kind=bogus", "", nil, 400},
		{"catalog list resource_type", "POST", "/api/catalog/list", `{"resource_type":"bogus"}`, nil, 400},
		{"sealed worker_id with NUL", "GET", "/api/credentials/x/sealed?worker_id=w%00x", "", nil, 400},

		// Invalid UTF-8 inside JSON bodies.
		{"credential data", "POST", "/api/credentials", "{\"name\":\"c1\",\"type\":\"generic\",\"data\":{\"k\":\"\xff\xfe\"}}", nil, 400},
		{"worker register", "POST", "/api/worker/pool/register", "{\"name\":\"w\xc3\"}", nil, 400},

		// \u0000 in JSON bodies.
		{"event payload", "POST", "/api/events", `{"execution_id":1,"step":"s","event_type":"command.started","payload":{"a":"x\u0000"}}`, nil, 422},
		{"execute path", "POST", "/api/execute", `{"path":"p\u0000"}`, nil, 422},
		{"vars value", "POST", "/api/vars/1", `{"variables":[{"var_name":"v","var_value":"\u0000"}]}`, nil, 422},
		{"keychain data", "POST", "/api/keychain/1/k", `{"data":{"token":"\u0000"}}`, nil, 422},
		{"credential meta", "POST", "/api/credentials", `{"name":"c2","type":"generic","data":{},"meta":{"a":"\u0000"}}`, nil, 422},
		{"worker runtime", "POST", "/api/worker/pool/register", `{"name":"w","runtime":{"kind":"\u0000"}}`, nil, 422},
		{"lone surrogate", "POST", "/api/credentials", `{"name":"c3","type":"generic","data":{"k":"\ud800"}}`, nil, 422},

		// Numbers float64 cannot hold.
		{"event 1e400", "POST", "/api/events", `{"execution_id":1,"step":"s","event_type":"command.started","payload":{"n":1e400}}`, nil, 422},
		{"event 1.5M digits", "POST", "/api/events", `{"execution_id":1,"step":"s","event_type":"command.started","payload":{"n":` + huge + `}}`, nil, 422},
		{"execute 1e400", "POST", "/api/execute", `{"path":"p","payload":{"n":-1e400}}`, nil, 422},
		{"execute 1.5M digits", "POST", "/api/execute", `{"path":"p","workload":{"n":` + huge + `}}`, nil, 422},

		// expires_in that overflowed the duration.
		{"keychain expires_in overflow", "POST", "/api/keychain/1/k", `{"data":{"t":"v"},"expires_in":9223372036854775807}`, nil, 422},

		// Worker ids that cannot be stored, indexed or audited.
		{"event worker_id control character", "POST", "/api/events", `{"execution_id":1,"step":"s","event_type":"command.started","worker_id":"w\u0001"}`, nil, 422},
		{"batch worker_id too long", "POST", "/api/events/batch", `{"execution_id":1,"worker_id":"` + strings.Repeat("w", 3000) + `","events":[{"step":"s","event_type":"command.started"}]}`, nil, 422},
		{"claim worker_id control character", "POST", "/api/commands/1/claim", `{"worker_id":"w\n"}`, nil, 422},
		{"register name too long", "POST", "/api/worker/pool/register", `{"name":"` + strings.Repeat("w", 3000) + `"}`, nil, 422},
		{"heartbeat name control character", "POST", "/api/worker/pool/heartbeat", `{"name":"w\u001b[31m"}`, nil, 422},
		{"sealed worker_id control character", "GET", "/api/credentials/x/sealed?worker_id=w%01", "", nil, 422},
		{"audit filter worker_id", "GET", "/api/internal/secret-audit?worker_id=" + strings.Repeat("w", 300), "", internal, 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := ""
			if tc.body != "" {
				ct = "application/json"
			}
			resp, body := s.Do(t, tc.method, tc.path, ct, tc.body, tc.header)
			if resp.StatusCode == http.StatusOK || resp.StatusCode >= 500 {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.status, body)
			}
			mustEnvelope(t, resp, body, tc.status)
		})
	}

	db := testkit.OpenURL(t, testkit.DatabaseURL())
	for table, where := range map[string]string{
		"credential": "true", "keychain": "true", "transient": "true", "event": "true",
		"secret_audit": "true", "runtime": "kind = 'worker_pool'", "execution": "true",
	} {
		var n int
		if err := db.QueryRow(t.Context(), `SELECT count(*) FROM `+quote(s.Schema)+`.`+table+` WHERE `+where).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if n != 0 {
			t.Errorf("%d rows in %s after bad input", n, table)
		}
	}
}

// TestLongNamesAreAClientError: names the services index (a credential alias in the
// path, a credential name, a catalog path, a variable or result name) longer than an
// index entry can hold answer 4xx instead of failing in PostgreSQL.
func TestLongNamesAreAClientError(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	long := strings.Repeat("n", 3000)
	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"credential alias in the path", "GET", "/api/credentials/" + long + "?include_data=true", "", 414},
		{"keychain name in the path", "POST", "/api/keychain/1/" + long, `{"data":1}`, 414},
		{"credential name", "POST", "/api/credentials", `{"name":"` + long + `","type":"t","data":{}}`, 422},
		{"credential type", "POST", "/api/credentials", `{"name":"n","type":"` + long + `","data":{}}`, 422},
		{"catalog path", "POST", "/api/catalog/register", `{"content":"kind: Agent\nmetadata:\n  path: ` + long + `\n"}`, 422},
		{"variable name", "POST", "/api/vars/1", `{"variables":[{"var_name":"` + long + `","var_value":1}]}`, 422},
		{"result name", "PUT", "/api/result/1", `{"name":"` + long + `","data":1}`, 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := ""
			if tc.body != "" {
				ct = "application/json"
			}
			resp, body := s.Do(t, tc.method, tc.path, ct, tc.body, nil)
			mustEnvelope(t, resp, body, tc.status)
		})
	}
}
