package database

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/noetl/controlplane/services/api/internal/apitest"
	"github.com/noetl/controlplane/shared/config"
	"github.com/noetl/controlplane/shared/testkit/httpkit"
)

const token = "db-test-token"

type api struct{ *apitest.Env }

func newAPI(t *testing.T, schema string, tok config.Secret) *api {
	t.Helper()
	a := &api{apitest.NewEnv(t, "")}
	if schema == "" {
		schema = a.Name
	}
	NewHandlers(a.Pool, schema, tok).Register(a.Engine.Group("/api"))
	return a
}

func TestInitAndValidate(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "", config.Secret(token))
	m := httpkit.WantJSON(t, a.Do("POST", "/api/db/init", "", ""), 200)
	if m["status"] != "ok" || m["valid"] != true || m["message"] != fmt.Sprintf("Schema '%s' already exists.", a.Name) {
		t.Fatalf("init = %v", m)
	}
	m = httpkit.WantJSON(t, a.Do("GET", "/api/db/validate", "", ""), 200)
	if m["valid"] != true || m["message"] != "Database schema is valid" || len(m["missing"].([]any)) != 0 {
		t.Fatalf("validate = %v", m)
	}
	tables := fmt.Sprint(m["tables"])
	for _, want := range append(RequiredTables, "execution", "outbox", "result_store") {
		if !strings.Contains(tables, want) {
			t.Errorf("tables %s lack %s", tables, want)
		}
	}

	// A schema missing tables.
	if _, err := a.Pool.Exec(context.Background(), `DROP TABLE schedule; DROP TABLE keychain`); err != nil {
		t.Fatal(err)
	}
	m = httpkit.WantJSON(t, a.Do("GET", "/api/db/validate", "", ""), 200)
	if m["valid"] != false || m["message"] != "Missing tables: schedule, keychain" || fmt.Sprint(m["missing"]) != "[schedule keychain]" {
		t.Fatalf("validate = %v", m)
	}
}

func TestInitForAMissingSchema(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "no_such_schema_x", config.Secret(token))
	m := httpkit.WantJSON(t, a.Do("POST", "/api/db/init", "", ""), 200)
	if m["valid"] != false || m["message"] != "Schema 'no_such_schema_x' does not exist. Run noetl-api migrate to create it." {
		t.Fatalf("init = %v", m)
	}
	m = httpkit.WantJSON(t, a.Do("GET", "/api/db/validate", "", ""), 200)
	if m["valid"] != false || len(m["tables"].([]any)) != 0 || len(m["missing"].([]any)) != len(RequiredTables) {
		t.Fatalf("validate = %v", m)
	}
}

func TestExecuteNeedsTheToken(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		configured config.Secret
		sent       string // the Bearer token of the request
	}{
		{"token unset on the server", "", token},
		{"header missing", config.Secret(token), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, "", tc.configured)
			httpkit.WantJSON(t, a.Do("POST", "/api/postgres/execute", `{"query":"SELECT 1"}`, tc.sent), 401)
		})
	}
	t.Run("wrong token", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, "", config.Secret("another"))
		httpkit.WantJSON(t, a.Do("POST", "/api/postgres/execute", `{"query":"SELECT 1"}`, token), 401)
	})
}

func TestExecuteTypedValues(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "", config.Secret(token))
	q := `SELECT 1::int2 AS i2, 2::int4 AS i4, 1234567890123456789::int8 AS i8, 1.5::float4 AS f4, 2.25::float8 AS f8,
		'12345678901234567890.123'::numeric AS num, true AS b, 'txt'::text AS t, NULL::text AS n,
		'{"id": 1234567890123456789, "a": [1, 2.5]}'::jsonb AS j,
		'2026-06-06 12:00:01.5+02'::timestamptz AS tz, '2026-06-06 12:00:00'::timestamp AS ts, '2026-06-06'::date AS d,
		'6f1c1d0e-0000-4000-8000-000000000001'::uuid AS u, ARRAY[1, 2, 3]::int8[] AS arr, ARRAY['2026-01-01 00:00:00+00']::timestamptz[] AS tarr,
		'NaN'::float8 AS nan`
	m := httpkit.WantJSON(t, a.Do("POST", "/api/postgres/execute", fmt.Sprintf(`{"query":%q}`, q), token), 200)
	rows := m["result"].([]any)
	if m["status"] != "ok" || len(rows) != 1 {
		t.Fatalf("answer = %v", m)
	}
	r := rows[0].(map[string]any)
	want := map[string]any{
		"i2": int64(1), "i4": int64(2), "i8": int64(1234567890123456789), "f4": 1.5, "f8": 2.25,
		"num": "12345678901234567890.123", "b": true, "t": "txt", "n": nil,
		"tz": "2026-06-06T10:00:01.500Z", "ts": "2026-06-06T12:00:00Z", "d": "2026-06-06",
		"u": "6f1c1d0e-0000-4000-8000-000000000001", "nan": "NaN",
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r[k], v)
		}
	}
	j := r["j"].(map[string]any)
	if j["id"] != int64(1234567890123456789) || fmt.Sprint(j["a"]) != "[1 2.5]" {
		t.Errorf("j = %v", j)
	}
	if fmt.Sprint(r["arr"]) != "[1 2 3]" || r["arr"].([]any)[0] != int64(1) {
		t.Errorf("arr = %#v", r["arr"])
	}
	if fmt.Sprint(r["tarr"]) != "[2026-01-01T00:00:00Z]" {
		t.Errorf("tarr = %#v", r["tarr"])
	}
}

func TestExecuteStatementsAndSchema(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "", config.Secret(token))
	run := func(body string, status int) map[string]any {
		t.Helper()
		return httpkit.WantJSON(t, a.Do("POST", "/api/postgres/execute", body, token), status)
	}
	rows := func(m map[string]any) string { return fmt.Sprint(m["result"]) }

	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"several statements: the rows of the last query",
			`{"query":"CREATE TABLE kv (k text, v int); INSERT INTO kv VALUES ('a', 1), ('b', 2); SELECT k, v FROM kv ORDER BY k"}`,
			200, "[map[k:a v:1] map[k:b v:2]]"},
		{"no rows: an empty array", `{"query":"UPDATE kv SET v = v + 1"}`, 200, "[]"},
		{"query_base64 first", fmt.Sprintf(`{"query_base64":%q,"query":"SELECT 0 AS x"}`, base64.StdEncoding.EncodeToString([]byte("SELECT sum(v) AS s FROM kv"))), 200, "[map[s:5]]"},
		{"procedure as SQL", `{"procedure":"SELECT count(*) AS c FROM kv"}`, 200, "[map[c:2]]"},
		{"schema for this request only", `{"query":"SHOW search_path","schema":"pg_catalog"}`, 200, `[map[search_path:pg_catalog]]`},
		{"db_schema alias, a list", `{"query":"SHOW search_path","db_schema":"pg_catalog, public"}`, 200, `[map[search_path:pg_catalog, public]]`},
		{"a quote cannot escape the identifier", `{"query":"SHOW search_path","schema":"x\"; DROP TABLE kv; --"}`, 200,
			`[map[search_path:"x""; DROP TABLE kv; --"]]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rows(run(tc.body, tc.status)); got != tc.want {
				t.Fatalf("result = %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("search_path was not left on the pooled connections", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			m := run(`{"query":"SELECT count(*) AS c FROM kv"}`, 200)
			if rows(m) != "[map[c:2]]" {
				t.Fatalf("result = %s", rows(m))
			}
		}
	})

	bad := []struct {
		name, body, msg string
		status          int
	}{
		{"SQL error", `{"query":"SELECT * FROM no_such_table"}`, `SQL error: relation "no_such_table" does not exist (SQLSTATE 42P01)`, 400},
		{"a failed statement rolls the request back", `{"query":"INSERT INTO kv VALUES ('c', 3); SELECT 1/0"}`, "SQL error: division by zero (SQLSTATE 22012)", 400},
		{"nothing to run", `{"schema":"x"}`, "Either 'query' or 'procedure' must be provided", 422},
		{"blank query", `{"query":"  "}`, "Either 'query' or 'procedure' must be provided", 422},
		{"bad base64", `{"query_base64":"***"}`, "", 422},
		{"base64 of invalid UTF-8", fmt.Sprintf(`{"query_base64":%q}`, base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe})), "Invalid UTF-8 in query", 422},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			m := run(tc.body, tc.status)
			if tc.msg != "" && m["error"] != tc.msg {
				t.Fatalf("error = %q", m["error"])
			}
		})
	}
	if got := rows(run(`{"query":"SELECT count(*) AS c FROM kv"}`, 200)); got != "[map[c:2]]" {
		t.Fatalf("after the failed request: %s", got)
	}
}
