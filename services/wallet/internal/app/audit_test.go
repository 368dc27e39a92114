package app

import "context"
import "encoding/json"
import "fmt"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

// freezeAudit makes secret_audit reject every insert (existing rows stay valid).
func freezeAudit(t *testing.T, s *testkit.Schema) {
	t.Helper()
	if _, err := s.Pool.Exec(context.Background(), `ALTER TABLE secret_audit ADD CONSTRAINT audit_frozen CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
}

func thawAudit(t *testing.T, s *testkit.Schema) {
	t.Helper()
	if _, err := s.Pool.Exec(context.Background(), `ALTER TABLE secret_audit DROP CONSTRAINT audit_frozen`); err != nil {
		t.Fatal(err)
	}
}

func auditRows(t *testing.T, s *testkit.Schema, where string) int {
	t.Helper()
	var n int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM secret_audit WHERE `+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStrictAudit: with NOETL_SECRET_AUDIT_REQUIRED the audit row exists before the value
// is returned, and when the audit table is unwritable no surface releases the value.
func TestStrictAudit(t *testing.T) {
	t.Parallel()
	const secret = "strict-S3CRET-pw-4471"
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t)
	api.register("worker-bob", strp(bobPublicB64))
	cfg := testConfig(t, s, api.URL)
	cfg.Audit.Required = true
	w := startWallet(t, cfg)
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "db", "type": "t", "data": map[string]any{"pw": secret}})
	w.must(200, "POST", "/api/keychain/701/tok", map[string]any{"data": secret})

	// Written synchronously: the row is there as soon as the answer is.
	w.must(200, "GET", "/api/credentials/db?include_data=true", nil)
	if n := auditRows(t, s, `operation = 'get_credential' AND outcome = 'ok' AND credential = 'db'`); n != 1 {
		t.Fatalf("strict mode: %d audit rows right after the answer, want 1", n)
	}

	freezeAudit(t, s)
	released := []struct {
		method, path string
		body         any
		series       string
	}{
		{"GET", "/api/credentials/db?include_data=true", nil, `{operation="get_credential",outcome="ok",status="failed_strict"}`},
		{"GET", "/api/keychain/701/tok", nil, `{operation="resolve_keychain",outcome="ok",status="failed_strict"}`},
		{"GET", "/api/credentials/db/sealed?worker_id=worker-bob", nil, `{operation="get_sealed",outcome="ok",status="failed_strict"}`},
		{"POST", "/internal/wallet/seal", map[string]any{"alias": "db", "worker_public_key_b64": bobPublicB64, "worker_id": "w"},
			`{operation="cross_region_broker_serve",outcome="ok",status="failed_strict"}`},
	}
	for _, r := range released {
		code, out := w.do(r.method, r.path, r.body)
		if code != 500 || !strings.Contains(errText(t, out), "NOETL_SECRET_AUDIT_REQUIRED") || strings.Contains(out, secret) {
			t.Errorf("%s %s with the audit unwritable = %d %s, want a 500 that withholds the value", r.method, r.path, code, out)
		}
		if got := w.metric("noetl_secret_audit_writes_total" + r.series); got != 1 {
			t.Errorf("noetl_secret_audit_writes_total%s = %v, want 1", r.series, got)
		}
	}
	// The keychain entry was not counted as accessed while its value was withheld.
	thawAudit(t, s)
	if got := w.mustJSON(200, "GET", "/api/keychain/701/tok", nil); fmt.Sprint(got["access_count"]) != "1" {
		t.Errorf("access_count after one withheld and one released read = %v, want 1", got["access_count"])
	}
	freezeAudit(t, s)
	// Reads that release nothing are unaffected.
	w.must(200, "GET", "/api/credentials/db", nil)
	w.must(404, "GET", "/api/credentials/nope?include_data=true", nil)
	w.assertNoSecrets(secret)
}

// TestAsyncAuditDropsAndReleases: in the default mode an unwritable audit table does not
// block the value; the lost row is counted as dropped_async.
func TestAsyncAuditDropsAndReleases(t *testing.T) {
	t.Parallel()
	const secret = "async-S3CRET-pw-8802"
	s := testkit.NewSchema(t, migrations.Set)
	w := startWallet(t, testConfig(t, s, newFakeAPI(t).URL))
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "db", "type": "t", "data": map[string]any{"pw": secret}})
	freezeAudit(t, s)
	if got := dataOf(t, w.must(200, "GET", "/api/credentials/db?include_data=true", nil)); got != `{"pw":"`+secret+`"}` {
		t.Errorf("value not released in async mode: %s", got)
	}
	dropped := `noetl_secret_audit_writes_total{operation="get_credential",outcome="ok",status="dropped_async"}`
	written := `noetl_secret_audit_writes_total{operation="get_credential",outcome="ok",status="written"}`
	eventually(t, "the dropped write to be counted", func() bool { return w.metric(dropped) == 1 })
	if got := w.metric(written); got != 0 {
		t.Errorf("written = %v, want 0", got)
	}
	if !strings.Contains(w.logs.String(), "secret audit write dropped") {
		t.Error("a dropped audit write is not logged")
	}
	thawAudit(t, s)
	w.must(200, "GET", "/api/credentials/db?include_data=true", nil)
	eventually(t, "the next write", func() bool { return w.metric(written) == 1 })
	w.assertNoSecrets(secret)
}

func TestSecretAuditQuery(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	w := startWallet(t, testConfig(t, s, newFakeAPI(t).URL))
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "a", "type": "t", "data": 1})
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "b", "type": "t", "data": 2})
	for i := range 3 {
		w.must(200, "GET", fmt.Sprintf("/api/credentials/a?include_data=true&execution_id=%d", 100+i), nil)
	}
	w.must(200, "GET", "/api/credentials/b?include_data=true&execution_id=100", nil)
	w.must(404, "GET", "/api/credentials/zzz?include_data=true", nil)
	eventually(t, "5 audit rows", func() bool { return auditRows(t, s, "true") == 5 })

	page := func(query string) (rows []map[string]any, next string) {
		t.Helper()
		var p struct {
			Rows []map[string]any `json:"rows"`
			Next string           `json:"next_cursor"`
		}
		dec := json.NewDecoder(strings.NewReader(w.must(200, "GET", "/api/internal/secret-audit"+query, nil)))
		dec.UseNumber() // audit ids exceed 2^53
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		return p.Rows, p.Next
	}
	all, next := page("")
	if len(all) != 5 || next != "" {
		t.Fatalf("all rows = %d (next %q)", len(all), next)
	}
	if all[0]["credential"] != "zzz" || all[0]["outcome"] != "credential_not_found" {
		t.Errorf("newest first: %v", all[0])
	}
	if _, err := time.Parse(time.RFC3339Nano, all[0]["occurred_at"].(string)); err != nil || !strings.HasSuffix(all[0]["occurred_at"].(string), "Z") {
		t.Errorf("occurred_at = %v", all[0]["occurred_at"])
	}
	if _, ok := all[0]["audit_id"].(json.Number); !ok {
		t.Errorf("audit_id is not a number: %v", all[0]["audit_id"])
	}
	filters := map[string]int{
		"?credential=a":                   3,
		"?execution_id=100":               2,
		"?credential=a&execution_id=101":  1,
		"?operation=get_credential":       5,
		"?outcome=credential_not_found":   1,
		"?from=2100-01-01T00:00:00Z":      0,
		"?to=2100-01-01T00:00:00%2B01:00": 5,
		"?operation=resolve_keychain":     0,
		"?worker_id=nobody":               0,
		"?limit=99999999999999999999":     5, // clamped like any limit above 10000
	}
	for q, want := range filters {
		if rows, _ := page(q); len(rows) != want {
			t.Errorf("secret-audit%s = %d rows, want %d", q, len(rows), want)
		}
	}
	// Keyset pagination visits every row once.
	seen := map[any]bool{}
	rows, cur := page("?limit=2")
	for {
		for _, r := range rows {
			if seen[r["audit_id"]] {
				t.Errorf("row %v twice", r["audit_id"])
			}
			seen[r["audit_id"]] = true
		}
		if cur == "" {
			break
		}
		rows, cur = page("?limit=2&cursor=" + cur)
	}
	if len(seen) != 5 {
		t.Errorf("pagination visited %d rows, want 5", len(seen))
	}
	for q, want := range map[string]int{"?limit=x": 400, "?from=yesterday": 400, "?operation=read": 422, "?cursor=zz": 400, "?execution_id=1.5": 400} {
		if code, out := w.do("GET", "/api/internal/secret-audit"+q, nil); code != want {
			t.Errorf("secret-audit%s = %d %s, want %d", q, code, out, want)
		}
	}
}

// TestHeadReleasesNoValue: a HEAD sends no body, so it must not decrypt a value or
// audit a release. On a credential with include_data it is the metadata-only GET; on a
// route every answer of which releases a value it is a 405 naming GET. Strict audit
// writes rows before answering, so a release would show at once.
func TestHeadReleasesNoValue(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t)
	api.register("worker-bob", strp(bobPublicB64))
	cfg := testConfig(t, s, api.URL)
	cfg.Audit.Required = true
	w := startWallet(t, cfg)
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "db", "type": "t", "data": map[string]any{"pw": "head-S3CRET"}})
	w.must(200, "POST", "/api/keychain/702/tok", map[string]any{"data": "head-S3CRET"})

	for _, tc := range []struct {
		path  string
		want  int
		allow string
	}{
		{"/api/credentials/db?include_data=true", 200, ""},
		{"/api/credentials/nope?include_data=true", 404, ""},
		{"/api/credentials/db/sealed?worker_id=worker-bob", 405, "GET"},
		{"/api/keychain/702/tok", 405, "GET"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := httpkit.Send(t, "HEAD", w.url+tc.path, testToken, nil)
			if r.Status != tc.want || len(r.Body) != 0 || r.Header.Get("Allow") != tc.allow {
				t.Errorf("HEAD %s = %d Allow %q body %q, want %d Allow %q", tc.path, r.Status, r.Header.Get("Allow"), r.Body, tc.want, tc.allow)
			}
		})
	}
	if n := auditRows(t, s, `true`); n != 0 {
		t.Fatalf("%d audit rows after HEADs, want none", n)
	}
	// The GET still releases, and audits it.
	w.must(200, "GET", "/api/credentials/db?include_data=true", nil)
	if n := auditRows(t, s, `operation = 'get_credential' AND outcome = 'ok'`); n != 1 {
		t.Fatalf("%d get_credential rows after a GET, want 1", n)
	}
}
