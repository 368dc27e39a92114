package database

import "context"
import "encoding/base64"
import "fmt"
import "io"
import "log/slog"
import "net/url"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

const token = "db-test-token"

type api struct{ *apitest.Env }

// testSQL are the SQL route's limits in these tests.
var testSQL = SQLConfig{StatementTimeout: 5 * time.Second, MaxRows: 100, MaxConns: 2}

func newAPI(t *testing.T, schema string, tok config.Secret) *api {
	t.Helper()
	return newAPIWith(t, schema, tok, testSQL)
}

// newAPIWith serves the routes behind the access gate, as the api does, with the SQL
// route's own pool configured by sqlCfg.
func newAPIWith(t *testing.T, schema string, tok config.Secret, sqlCfg SQLConfig) *api {
	t.Helper()
	a := &api{apitest.NewEnv(t, "")}
	walletTables(t, a)
	if schema == "" {
		schema = a.Name
	}
	sqlPool, err := OpenSQLPool(context.Background(), a.Config, sqlCfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sqlPool.Close)
	a.Engine.Use(access.Gate(access.Tokens{Internal: tok}))
	NewHandlers(a.Pool, sqlPool, schema, sqlCfg).Register(a.Engine.Group("/api"))
	return a
}

// walletTables creates stand-ins for the wallet's tables. In a deployment the schema holds
// both services' histories (the wallet migrates its own); the validate route lists the
// schema's tables whoever owns them, and the SQL route must refuse to touch credentials.
func walletTables(t *testing.T, a *api) {
	t.Helper()
	if _, err := a.Pool.Exec(context.Background(), `
		CREATE TABLE credential (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL, data_encrypted TEXT NOT NULL);
		CREATE TABLE keychain (cache_key TEXT PRIMARY KEY, data_encrypted TEXT NOT NULL)`); err != nil {
		t.Fatalf("wallet stand-in tables: %v", err)
	}
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
		{"a statement without rows: an empty array", `{"query":"CREATE TABLE kv (k text, v int)"}`, 200, "[]"},
		{"rows of a statement that writes", `{"query":"INSERT INTO kv VALUES ('a', 1), ('b', 2) RETURNING k"}`, 200, "[map[k:a] map[k:b]]"},
		{"a query", `{"query":"SELECT k, v FROM kv ORDER BY k"}`, 200, "[map[k:a v:1] map[k:b v:2]]"},
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
		{"a failed statement rolls the request back", `{"query":"INSERT INTO kv SELECT 'c', 3 / (SELECT count(*) - 2 FROM kv)"}`, "SQL error: division by zero (SQLSTATE 22012)", 400},
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

// count returns the rows of a table in the test's schema, read on the api's own pool.
func (a *api) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExecuteAbuse is each abuse of the security review: COMMIT inside the text escaping
// the wrapping transaction, several statements in one call, statements that never end,
// results without bounds, session state left for the next caller. Each is refused with a
// 4xx and leaves nothing behind.
func TestExecuteAbuse(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, "", config.Secret(token), SQLConfig{StatementTimeout: 300 * time.Millisecond, MaxRows: 50, MaxConns: 2})
	run := func(q string) (int, string) {
		t.Helper()
		rec := a.Do("POST", "/api/postgres/execute", fmt.Sprintf(`{"query":%q}`, q), token)
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s", q, rec.Code, rec.Body)
		}
		msg, _ := httpkit.JSONBody(t, rec)["error"].(string)
		return rec.Code, msg
	}
	if code, _ := run("CREATE TABLE guarded (v int)"); code != 200 {
		t.Fatalf("create: %d", code)
	}
	cases := []struct {
		name, q string
		status  int
		msg     string
	}{
		{"COMMIT in the middle", "INSERT INTO guarded VALUES (1); COMMIT; INSERT INTO guarded VALUES (2)", 422, "one statement per call"},
		{"COMMIT alone", "COMMIT", 422, "transaction control"},
		{"COMMIT after a comment", "/* innocent */ -- still\n commit", 422, "transaction control"},
		{"END", "end", 422, "transaction control"},
		{"ROLLBACK", "ROLLBACK", 422, "transaction control"},
		{"ABORT", "abort", 422, "transaction control"},
		{"BEGIN", "BEGIN", 422, "transaction control"},
		{"START TRANSACTION", "START TRANSACTION", 422, "transaction control"},
		{"SAVEPOINT", "SAVEPOINT s", 422, "transaction control"},
		{"PREPARE TRANSACTION", "PREPARE TRANSACTION 'x'", 422, "transaction control"},
		{"COMMIT inside a DO block", "DO $$ BEGIN INSERT INTO guarded VALUES (3); COMMIT; END $$", 400, "SQL error"},
		{"two statements", "INSERT INTO guarded VALUES (4); SELECT 1", 422, "one statement per call"},
		{"a statement that never ends", "SELECT pg_sleep(10)", 422, "statement timeout of 300ms"},
		{"a statement that writes, then sleeps", "INSERT INTO guarded SELECT 5 FROM pg_sleep(10)", 422, "NOETL_SQL_STATEMENT_TIMEOUT"},
		{"too many rows", "SELECT g FROM generate_series(1, 100000) g", 422, "more than 50 rows (NOETL_SQL_MAX_ROWS)"},
		{"too many rows written", "INSERT INTO guarded SELECT g FROM generate_series(1, 1000) g RETURNING v", 422, "NOETL_SQL_MAX_ROWS"},
	}
	for _, tc := range cases {
		code, msg := run(tc.q)
		if code != tc.status || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %q, want %d containing %q", tc.name, code, msg, tc.status, tc.msg)
		}
	}
	if n := a.count(t, "guarded"); n != 0 {
		t.Errorf("%d rows escaped the refused calls", n)
	}
	// A few wide rows: bounded in bytes too (a looser timeout: producing them takes time).
	wide := newAPIWith(t, "", config.Secret(token), SQLConfig{StatementTimeout: time.Minute, MaxRows: 50, MaxConns: 1})
	rec := wide.Do("POST", "/api/postgres/execute", `{"query":"SELECT repeat('x', 4194304) AS w FROM generate_series(1, 10)"}`, token)
	httpkit.WantError(t, rec, 422, "")
	if !strings.Contains(rec.Body.String(), "bytes") {
		t.Errorf("wide rows: %s", rec.Body)
	}

	// Session state set by one call never reaches the next: the connection is reset.
	for _, q := range []string{"SET search_path TO pg_catalog", "SET statement_timeout TO 0", "SET application_name TO 'sticky'"} {
		if code, msg := run(q); code != 200 {
			t.Fatalf("%s: %d %s", q, code, msg)
		}
	}
	for i := 0; i < 4; i++ { // both pooled connections, twice
		rec := a.Do("POST", "/api/postgres/execute", `{"query":"SELECT current_setting('search_path') AS p, current_setting('application_name') AS n"}`, token)
		m := httpkit.WantJSON(t, rec, 200)
		row := m["result"].([]any)[0].(map[string]any)
		if !strings.Contains(row["p"].(string), a.Name) || row["n"] == "sticky" {
			t.Errorf("session state leaked into a later call: %v", row)
		}
		if code, msg := run("SELECT pg_sleep(10)"); code != 422 || !strings.Contains(msg, "statement timeout") {
			t.Errorf("statement_timeout 0 leaked into a later call: %d %q", code, msg)
		}
	}
}

// TestExecuteCannotStarveOtherRoutes: statements that hold every connection of the
// route make further calls answer 503 quickly, while the routes on the api's own pool
// keep answering (before: twelve pg_sleep(10) calls exhausted the pool for every user).
func TestExecuteCannotStarveOtherRoutes(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, "", config.Secret(token), SQLConfig{StatementTimeout: 20 * time.Second, MaxRows: 10, MaxConns: 2})
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	done := make(chan int, 2)
	for i := 0; i < 2; i++ {
		go func() {
			started <- struct{}{}
			rec := a.Do("POST", "/api/postgres/execute", `{"query":"SELECT pg_sleep(15)"}`, token)
			done <- rec.Code
		}()
	}
	<-started
	<-started
	// Wait until both sleepers hold their connections.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		_ = a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'noetl-sql-route' AND query LIKE 'SELECT pg_sleep(15)%' AND state = 'active'`).Scan(&n)
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sleepers did not start (%d running)", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rec := a.Do("POST", "/api/postgres/execute", `{"query":"SELECT 1"}`, token)
	httpkit.WantError(t, rec, 503, "")
	if !strings.Contains(rec.Body.String(), "NOETL_SQL_MAX_CONNECTIONS") {
		t.Errorf("503 does not name the variable: %s", rec.Body)
	}
	httpkit.WantJSON(t, a.Do("GET", "/api/db/validate", "", ""), 200)
	// Cancel the sleepers: terminate their backends.
	if _, err := a.Pool.Exec(context.Background(), `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'noetl-sql-route' AND query LIKE 'SELECT pg_sleep(15)%'`); err != nil {
		t.Fatal(err)
	}
	close(release)
	for i := 0; i < 2; i++ {
		select {
		case code := <-done:
			if code < 400 || code >= 600 {
				t.Errorf("a cancelled sleeper answered %d", code)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a sleeper did not finish")
		}
	}
}

// TestExecuteUnderARestrictedRole: with NOETL_SQL_DATABASE_URL the route connects as
// another role and has only that role's rights: it reads what it was granted and cannot
// rewrite the wallet's rows.
func TestExecuteUnderARestrictedRole(t *testing.T) {
	t.Parallel()
	admin := testkit.OpenURL(t, testkit.DatabaseURL())
	role := testkit.UniqueName("noetl_sql_")
	ctx := context.Background()
	a := &api{apitest.NewEnv(t, "")}
	walletTables(t, a)
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`GRANT USAGE ON SCHEMA ` + a.Name + ` TO ` + role,
		`GRANT SELECT ON ` + a.Name + `.catalog TO ` + role,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = admin.Exec(context.Background(), `DROP ROLE IF EXISTS `+role)
	})
	if _, err := a.Pool.Exec(ctx, `INSERT INTO credential (id, name, type, data_encrypted) VALUES (1, 'pg', 't', 'sealed')`); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(testkit.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	cfg := testSQL
	cfg.DatabaseURL = config.Secret(u.String())
	sqlPool, err := OpenSQLPool(ctx, a.Config, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sqlPool.Close)
	a.Engine.Use(access.Gate(access.Tokens{Internal: token}))
	NewHandlers(a.Pool, sqlPool, a.Name, cfg).Register(a.Engine.Group("/api"))

	m := httpkit.WantJSON(t, a.Do("POST", "/api/postgres/execute", `{"query":"SELECT current_user AS u, count(*) AS c FROM catalog GROUP BY 1"}`, token), 200)
	if fmt.Sprint(m["result"]) != "[]" {
		if row := m["result"].([]any)[0].(map[string]any); row["u"] != role {
			t.Errorf("ran as %v, want %s", row["u"], role)
		}
	}
	for _, q := range []string{
		`UPDATE credential SET data_encrypted = 'attacker'`,
		`SELECT data_encrypted FROM credential`,
		`DELETE FROM keychain`,
	} {
		rec := a.Do("POST", "/api/postgres/execute", fmt.Sprintf(`{"query":%q}`, q), token)
		httpkit.WantError(t, rec, 400, "")
		if !strings.Contains(rec.Body.String(), "permission denied") {
			t.Errorf("%s: %s, want permission denied", q, rec.Body)
		}
	}
	var data string
	if err := a.Pool.QueryRow(ctx, `SELECT data_encrypted FROM credential WHERE id = 1`).Scan(&data); err != nil || data != "sealed" {
		t.Errorf("credential row = %q (%v)", data, err)
	}
}
