package postgres

import "context"
import "net/url"
import "reflect"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/testkit"

// target is the test database as credential-style fields, in a schema of its own.
func target(t *testing.T) map[string]any {
	t.Helper()
	schema := testkit.NewSchema(t)
	u, err := url.Parse(testkit.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	return map[string]any{"host": u.Hostname(), "port": u.Port(), "user": u.User.Username(), "password": pw,
		"database": strings.TrimPrefix(u.Path, "/"), "schema": schema.Name, "sslmode": "disable"}
}

func runSQL(t *testing.T, tl *Tool, base map[string]any, extra map[string]any) tool.Result {
	t.Helper()
	cfg := map[string]any{}
	for k, v := range base {
		cfg[k] = v
	}
	for k, v := range extra {
		cfg[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return tl.Run(ctx, tool.Call{Kind: "postgres", Config: cfg})
}

func TestPostgresScripts(t *testing.T) {
	t.Parallel()
	tl := New()
	t.Cleanup(tl.Close)
	db := target(t)
	setup := runSQL(t, tl, db, map[string]any{"command": `
		-- a comment; with a semicolon
		CREATE TABLE orders (name text NOT NULL, qty integer NOT NULL, note text, price numeric(10,3),
			big bigint, doc jsonb, at timestamptz, day date, id uuid, raw bytea, tags text[]);
		INSERT INTO orders VALUES ('pear', 5, 'semi;colon', 1.250, 3900000000000000123, '{"k": 3900000000000000123}',
			'2026-01-02 03:04:05+00', '2026-01-02', '6f1c0b8e-5b4e-4c1e-9a3a-2d7b6b1f0c11', '\x6869', '{a,b}');
		CREATE DOMAIN day AS date; CREATE DOMAIN moment AS timestamp; CREATE DOMAIN moments AS timestamp[];
		SELECT count(*) AS n FROM orders`})
	if setup.Status != tool.Success {
		t.Fatalf("setup: %s", setup.Error)
	}
	if got := setup.Data.(map[string]any)["rows"]; !reflect.DeepEqual(got, []any{map[string]any{"n": int64(1)}}) {
		t.Fatalf("count rows = %#v", got)
	}
	tests := []struct {
		name  string
		extra map[string]any
		want  map[string]any
	}{
		{"typed columns", map[string]any{"query": "SELECT * FROM orders"}, map[string]any{
			"columns": []any{"name", "qty", "note", "price", "big", "doc", "at", "day", "id", "raw", "tags"},
			"rows": []any{map[string]any{"name": "pear", "qty": int64(5), "note": "semi;colon", "price": "1.250",
				"big": int64(3900000000000000123), "doc": map[string]any{"k": int64(3900000000000000123)},
				"at": "2026-01-02T03:04:05Z", "day": "2026-01-02", "id": "6f1c0b8e-5b4e-4c1e-9a3a-2d7b6b1f0c11",
				"raw": "aGk=", "tags": []any{"a", "b"}}},
			"row_count": int64(1)}},
		{"INSERT … RETURNING yields rows", map[string]any{"command": "INSERT INTO orders (name, qty) VALUES ('apple', 3), ('fig', 1) RETURNING name"},
			map[string]any{"columns": []any{"name"}, "rows": []any{map[string]any{"name": "apple"}, map[string]any{"name": "fig"}}, "row_count": int64(2)}},
		{"a statement without rows gives affected_rows", map[string]any{"command": "UPDATE orders SET qty = qty + 1 WHERE name = 'pear'"},
			map[string]any{"affected_rows": int64(1)}},
		{"a SELECT after a comment line", map[string]any{"command": "-- just pears\nSELECT qty FROM orders WHERE name = 'pear' AND qty < 0"},
			map[string]any{"columns": []any{"qty"}, "rows": []any{}, "row_count": int64(0)}},
		{"params bind positionally", map[string]any{"query": "SELECT $1::int + $2::int AS s", "params": []any{int64(2), int64(3)}},
			map[string]any{"rows": []any{map[string]any{"s": int64(5)}}}},
		// PostgreSQL prints a zero numeric with its scale; pgx decodes it without one.
		{"numeric zero keeps its scale", map[string]any{"query": "SELECT 0::numeric(10,2) AS z, 0.000 AS z3, 0::numeric AS bare, -0.0 AS neg, 100::numeric(10,2) AS h, '{0.00,1.50,0}'::numeric[] AS za"},
			map[string]any{"rows": []any{map[string]any{"z": "0.00", "z3": "0.000", "bare": "0", "neg": "0.0", "h": "100.00", "za": []any{"0.00", "1.50", "0"}}}}},
		// pgx decodes these to Go structs; a user wants what PostgreSQL prints.
		{"interval, bit, range, multirange and \"char\" as PostgreSQL prints them", map[string]any{"query": `SELECT '1 year 2 mons 3 days 04:05:06.5'::interval AS i,
			'-1 day +02:00'::interval AS neg, B'1010' AS b, '101'::varbit AS vb, int4range(1, 5) AS r, '[2026-01-01,2026-02-01)'::daterange AS dr,
			numrange(1.5, NULL) AS open, 'empty'::int8range AS e, int8multirange(int8range(1, 3), int8range(5, 7)) AS mr, 'a'::"char" AS ch,
			ARRAY['1 day'::interval, NULL] AS ia, ARRAY[int4range(1, 2)] AS ra`},
			map[string]any{"rows": []any{map[string]any{"i": "1 year 2 mons 3 days 04:05:06.5", "neg": "-1 days +02:00:00", "b": "1010", "vb": "101",
				"r": "[1,5)", "dr": "[2026-01-01,2026-02-01)", "open": "[1.5,)", "e": "empty", "mr": "{[1,3),[5,7)}", "ch": "a",
				"ia": []any{"1 day", nil}, "ra": []any{"[1,2)"}}}}},
		// pgx decodes these to Go structs (a circle as {P, R, Valid}), xml to bytes (base64
		// here), a host inet with a /32, and knows no money (an array of it was one string).
		{"geometric types, xml, tid, inet and money as PostgreSQL prints them", map[string]any{"query": `SELECT '{1,2,3}'::line AS l,
			'[(0,0),(1,1)]'::lseg AS s, '((0,0),(1,1))'::box AS b, '[(0,0),(1,1)]'::path AS pa, '((0,0),(1,1),(1,0))'::polygon AS po,
			'<(0,0),2>'::circle AS c, '<a>x</a>'::xml AS x, '(1,2)'::tid AS t, '10.1.2.3'::inet AS host, '10.1.2.3/24'::inet AS net,
			'1.5'::money AS m, ARRAY['1.5'::money, NULL] AS ma, ARRAY['<(0,0),2>'::circle] AS ca, ARRAY['<b/>'::xml] AS xa,
			$1::xml AS xp, $2::inet AS ip, $3::circle AS cp`, "params": []any{"<p/>", "::1", "<(1,1),3>"}},
			map[string]any{"rows": []any{map[string]any{"l": "{1,2,3}", "s": "[(0,0),(1,1)]", "b": "(1,1),(0,0)", "pa": "[(0,0),(1,1)]",
				"po": "((0,0),(1,1),(1,0))", "c": "<(0,0),2>", "x": "<a>x</a>", "t": "(1,2)", "host": "10.1.2.3", "net": "10.1.2.3/24",
				"m": "$1.50", "ma": []any{"$1.50", nil}, "ca": []any{"<(0,0),2>"}, "xa": []any{"<b/>"},
				"xp": "<p/>", "ip": "::1", "cp": "<(1,1),3>"}}}},
		{"multi-dimensional arrays keep their shape", map[string]any{"query": `SELECT '{{1,2,3},{4,5,6}}'::int[] AS a2, '{{{a}},{{b}}}'::text[] AS a3,
			'{{1.5,NULL}}'::numeric[] AS n2, '{}'::int[] AS e, ARRAY[ARRAY['1 day'::interval], ARRAY['2 days'::interval]] AS i2,
			'{{"x,}","y"},{"\"","z"}}'::text[] AS q2, '[0:1][1:1]={{7},{8}}'::int[] AS lb`},
			map[string]any{"rows": []any{map[string]any{"a2": []any{[]any{int64(1), int64(2), int64(3)}, []any{int64(4), int64(5), int64(6)}},
				"a3": []any{[]any{[]any{"a"}}, []any{[]any{"b"}}}, "n2": []any{[]any{"1.5", nil}}, "e": []any{},
				"i2": []any{[]any{"1 day"}, []any{"2 days"}}, "q2": []any{[]any{"x,}", "y"}, []any{`"`, "z"}}, "lb": []any{[]any{int64(7)}, []any{int64(8)}}}}}},
		{"params fit the type PostgreSQL infers", map[string]any{"query": `SELECT $1::text AS t, $2 AS untyped, $3::varchar AS b, $4::int AS i,
			$5::numeric AS n, $6::jsonb AS j, $7::text[] AS ta, $8::date AS d, $9::interval AS iv, $10::jsonb AS jl, $11::int[] AS ia, $12::text AS nul`,
			"params": []any{int64(5), 2.5, true, "7", "1.50", map[string]any{"k": int64(3900000000000000123)}, []any{int64(1), "x"}, "2026-01-02",
				"2 hours", []any{int64(1), "a"}, []any{int64(1), int64(2)}, nil}},
			map[string]any{"rows": []any{map[string]any{"t": "5", "untyped": "2.5", "b": "true", "i": int64(7), "n": "1.50",
				"j": map[string]any{"k": int64(3900000000000000123)}, "ta": []any{"1", "x"}, "d": "2026-01-02", "iv": "02:00:00",
				"jl": []any{int64(1), "a"}, "ia": []any{int64(1), int64(2)}, "nul": nil}}}},
		// bytea comes back as base64, so base64 is what a bytea placeholder takes: a row
		// one step read binds unchanged in the next.
		{"bytea params are base64, as bytea results", map[string]any{"query": `SELECT $1::bytea AS b, $2::bytea AS hex, $3::bytea AS env,
			$4::bytea[] AS arr, $5::bytea AS nul, encode($1::bytea, 'escape') AS text`,
			"params": []any{"aGk=", `\x6869`, map[string]any{"base64": "AP8=", "size": int64(2)}, []any{"aGk=", nil, `\x00ff`}, nil}},
			map[string]any{"rows": []any{map[string]any{"b": "aGk=", "hex": "aGk=", "env": "AP8=", "arr": []any{"aGk=", nil, "AP8="}, "nul": nil, "text": "hi"}}}},
		// JSON has no number for them: the result could not be sent at all.
		{"float NaN and infinities are the text PostgreSQL prints", map[string]any{"query": `SELECT 'NaN'::float8 AS n, 'Infinity'::float4 AS i,
			'-Infinity'::float8 AS ni, ARRAY[1.5, 'NaN']::float8[] AS a, 2.5::float4 AS f`},
			map[string]any{"rows": []any{map[string]any{"n": "NaN", "i": "Infinity", "ni": "-Infinity", "a": []any{1.5, "NaN"}, "f": 2.5}}}},
		// pgx decodes their elements as UTC times; printed as a time.Time they carried a
		// "Z" (and a date a midnight) the scalar columns do not.
		{"date and timestamp arrays print as their scalars", map[string]any{"query": `SELECT '{2026-01-02,infinity,NULL}'::date[] AS d,
			ARRAY['2026-01-02 03:04:05.5'::timestamp] AS ts, '{{2026-01-02},{2026-01-03}}'::date[] AS d2,
			ARRAY['2026-01-02 03:04:05+02'::timestamptz] AS tz`},
			map[string]any{"rows": []any{map[string]any{"d": []any{"2026-01-02", "infinity", nil}, "ts": []any{"2026-01-02T03:04:05.5"},
				"d2": []any{[]any{"2026-01-02"}, []any{"2026-01-03"}}, "tz": []any{"2026-01-02T01:04:05Z"}}}}},
		// Go's astronomical years (-0043-03-15) PostgreSQL cannot read back.
		{"BC dates and times print as PostgreSQL writes them, and bind back", map[string]any{"query": `SELECT '0044-03-15 BC'::date AS d,
			'0005-02-29 BC'::date AS leap, '0044-03-15 01:02:03.5 BC'::timestamp AS ts, '0044-03-15 01:02:03+00 BC'::timestamptz AS tz,
			ARRAY['0001-01-01 BC'::date] AS a, $1::date = '0044-03-15 BC' AND $2::timestamptz = '0044-03-15 01:02:03+00 BC' AS back`,
			"params": []any{"0044-03-15 BC", "0044-03-15T01:02:03Z BC"}},
			map[string]any{"rows": []any{map[string]any{"d": "0044-03-15 BC", "leap": "0005-02-29 BC", "ts": "0044-03-15T01:02:03.5 BC",
				"tz": "0044-03-15T01:02:03Z BC", "a": []any{"0001-01-01 BC"}, "back": true}}}},
		// An array of a domain has an OID of the database's own: its elements kept the "Z".
		{"arrays of a domain over date or timestamp print as their scalars", map[string]any{"query": `SELECT ARRAY['2026-01-02'::day, NULL] AS dd,
			ARRAY['2026-01-02 03:04:05.5'::moment] AS dt, '2026-01-02'::day AS ds, '2026-01-02 03:04:05'::moment AS ts,
			'{2026-01-02 03:04:05}'::moments AS dm, '{{2026-01-02},{2026-01-03}}'::day[] AS d2`},
			map[string]any{"rows": []any{map[string]any{"dd": []any{"2026-01-02", nil}, "dt": []any{"2026-01-02T03:04:05.5"},
				"ds": "2026-01-02", "ts": "2026-01-02T03:04:05", "dm": []any{"2026-01-02T03:04:05"},
				"d2": []any{[]any{"2026-01-02"}, []any{"2026-01-03"}}}}}},
		// Widened as they are, a float4's 0.1 was 0.10000000149011612.
		{"float4 values are the decimal PostgreSQL prints", map[string]any{"query": `SELECT 0.1::float4 AS f, ARRAY[1.1::real, NULL] AS a`},
			map[string]any{"rows": []any{map[string]any{"f": 0.1, "a": []any{1.1, nil}}}}},
		// The end of a day is a valid time; printed from a duration it wrapped to 00:00:00.
		{"time 24:00:00 stays the end of the day", map[string]any{"query": `SELECT '24:00:00'::time AS t, ARRAY['24:00'::time, '00:00'] AS a`},
			map[string]any{"rows": []any{map[string]any{"t": "24:00:00", "a": []any{"24:00:00", "00:00:00"}}}}},
		// pgx decoded a json array's elements itself, every number as a float64.
		{"json and jsonb array elements keep integers exact", map[string]any{"query": `SELECT ARRAY['{"id": 3900000000000000123}'::jsonb, NULL] AS b,
			ARRAY['[12345678901234567890, 1.5]'::json] AS j`},
			map[string]any{"rows": []any{map[string]any{"b": []any{map[string]any{"id": int64(3900000000000000123)}, nil},
				"j": []any{[]any{"12345678901234567890", 1.5}}}}}},
		// An unsigned 64-bit id in a document was rounded to a float, another id.
		{"json integers beyond 64 bits keep their digits", map[string]any{"query": `SELECT '{"id": 12345678901234567890}'::json AS j,
			'[-12345678901234567890, 1.5]'::jsonb AS b`},
			map[string]any{"rows": []any{map[string]any{"j": map[string]any{"id": "12345678901234567890"}, "b": []any{"-12345678901234567890", 1.5}}}}},
		{"a whole float binds to an int placeholder", map[string]any{"query": "SELECT $1::int AS i, $2::smallint[] AS a", "params": []any{3.0, []any{1.0, int64(2)}}},
			map[string]any{"rows": []any{map[string]any{"i": int64(3), "a": []any{int64(1), int64(2)}}}}},
		// Cut at its body's semicolons, the CREATE failed and the body's END read as a COMMIT.
		{"a function with a BEGIN ATOMIC body", map[string]any{"command": `SELECT 1; CREATE FUNCTION plus_one(x int) RETURNS int LANGUAGE sql
			BEGIN ATOMIC
				SELECT x + 1;
			END`}, map[string]any{"affected_rows": int64(0)}},
		{"as_objects false gives arrays", map[string]any{"query": "SELECT 1 AS a, 'x' AS b", "as_objects": false},
			map[string]any{"rows": []any{[]any{int64(1), "x"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runSQL(t, tl, db, tc.extra)
			if r.Status != tool.Success {
				t.Fatalf("%s: %s", r.Status, r.Error)
			}
			got := r.Data.(map[string]any)
			for k, v := range tc.want {
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("%s = %#v\nwant %#v", k, got[k], v)
				}
			}
		})
	}
}

func TestPostgresFailures(t *testing.T) {
	t.Parallel()
	tl := New()
	t.Cleanup(tl.Close)
	db := target(t)
	tests := []struct {
		name      string
		cfg       map[string]any
		kind      string
		code      string
		retryable bool
		error     string
		data      map[string]any // the failure's data; nil: none
	}{
		{"syntax error", map[string]any{"command": "SELECT relname, FROM pg_class"}, "database", "42601", false,
			`Database error: Query failed: ERROR: syntax error at or near "FROM" (SQLSTATE 42601)`,
			map[string]any{"sqlstate": "42601", "severity": "ERROR", "message": `syntax error at or near "FROM"`,
				"position": int64(17), "statement": int64(1), "line": int64(1), "character": int64(17)}},
		// PostgreSQL's position counts characters in the batch sent (our BEGIN and
		// separators included); the data points into the script as written.
		{"where a syntax error is in a script", map[string]any{"command": "-- é\nCREATE TABLE s (a int);\nINSERT INTO s\n  VALUES (1,, 2);\nSELECT 1"},
			"database", "42601", false, `Database error: Batch execute failed: ERROR: syntax error at or near ","`,
			map[string]any{"sqlstate": "42601", "severity": "ERROR", "message": `syntax error at or near ","`,
				"position": int64(63), "statement": int64(2), "line": int64(2), "character": int64(13)}},
		{"where an error is in the last statement", map[string]any{"command": "SELECT 1;\nSELECT 'ü' ||\n  nope"},
			"database", "42703", false, `column "nope" does not exist`,
			map[string]any{"sqlstate": "42703", "severity": "ERROR", "message": `column "nope" does not exist`,
				"position": int64(17), "statement": int64(2), "line": int64(2), "character": int64(3)}},
		{"error in an earlier statement", map[string]any{"command": "SELECT 1/0; SELECT 1"}, "database", "22012", false,
			"Database error: Batch execute failed: ERROR: division by zero (SQLSTATE 22012)",
			map[string]any{"sqlstate": "22012", "severity": "ERROR", "message": "division by zero"}},
		{"detail and hint", map[string]any{"command": "CREATE TABLE u (a int PRIMARY KEY); INSERT INTO u VALUES (1), (1)"}, "database", "23505", false,
			"| DETAIL: Key (a)=(1) already exists.",
			map[string]any{"sqlstate": "23505", "severity": "ERROR", "message": `duplicate key value violates unique constraint "u_pkey"`,
				"detail": "Key (a)=(1) already exists.", "table": "u", "constraint": "u_pkey"}},
		{"no query", map[string]any{}, "config", "", false, "missing field `query`", nil},
		{"params short of the placeholders", map[string]any{"query": "SELECT $1::int + $2::int", "params": []any{int64(1)}}, "config", "", false,
			"the query has 2 parameters, params gives 1", nil},
		// Was a database error from pgx: "expected 1 arguments, got 0".
		{"a placeholder without params", map[string]any{"query": "SELECT $1::int"}, "config", "", false,
			"the query has 1 parameters, params gives 0", nil},
		{"a placeholder without params, as lists", map[string]any{"query": "SELECT $1::int", "params": []any{}, "as_objects": false}, "config", "", false,
			"the query has 1 parameters, params gives 0", nil},
		{"plain text for a bytea placeholder", map[string]any{"query": "SELECT $1::bytea", "params": []any{"hello"}}, "config", "", false,
			`params[0]: a bytea placeholder takes base64 text (as bytea results come back) or PostgreSQL's \x hex; this string is neither`, nil},
		{"bad hex for a bytea placeholder", map[string]any{"query": "SELECT $1::bytea", "params": []any{`\xzz`}}, "config", "", false,
			`params[0]: a bytea placeholder takes \x followed by hex digits`, nil},
		{"a number for a bytea placeholder", map[string]any{"query": "SELECT $1::bytea", "params": []any{int64(7)}}, "config", "", false,
			"params[0]: a bytea placeholder takes base64 text, got number", nil},
		{"a bad element of a bytea array", map[string]any{"query": "SELECT $1::bytea[]", "params": []any{[]any{"aGk=", "not base64!"}}}, "config", "", false,
			"params[0]: element 1: a bytea placeholder takes base64 text", nil},
		// pgx cannot encode these; the failure was a `database` error naming args[i].
		{"a boolean for an int placeholder", map[string]any{"query": "SELECT $1::int + $2::int", "params": []any{int64(1), true}}, "config", "", false,
			"Configuration error: postgres: params[1]: boolean given for a placeholder of type int4", nil},
		{"a list for an int placeholder", map[string]any{"query": "SELECT $1::int", "params": []any{[]any{"s3cret-value"}}}, "config", "", false,
			"params[0]: array given for a placeholder of type int4", nil},
		// pgx dropped the fraction: 2.7 bound to an int placeholder was stored as 2.
		{"a fraction for an int placeholder", map[string]any{"query": "SELECT $1::int", "params": []any{2.7}}, "config", "", false,
			"params[0]: a number with a fraction for an integer placeholder", nil},
		{"a fraction in a bigint array", map[string]any{"query": "SELECT $1::bigint[]", "params": []any{[]any{int64(1), 2.0, 0.5}}}, "config", "", false,
			"params[0]: element 2: a number with a fraction for an integer placeholder", nil},
		// It waited for rows nobody sends, until a timeout, or for ever without one.
		{"COPY FROM STDIN", map[string]any{"query": "CREATE TABLE c (a int);\n-- load\nCOPY c (a) FROM STDIN WITH (FORMAT csv)"}, "config", "", false,
			"statement 2 is COPY ... FROM STDIN, which waits for rows a client sends", nil},
		{"copy from stdin in lower case", map[string]any{"query": `copy "my table" from stdin`}, "config", "", false,
			"statement 1 is COPY ... FROM STDIN", nil},
		// The driver read the rows and dropped them: the step gave only their count.
		{"COPY TO STDOUT", map[string]any{"query": "COPY (SELECT 1 AS a) TO STDOUT WITH (FORMAT csv, HEADER)"}, "config", "", false,
			"statement 1 is COPY ... TO STDOUT, whose rows go to a client stream", nil},
		{"copy to stdout, old options", map[string]any{"query": "SELECT 1;\ncopy pg_class to stdout csv header"}, "config", "", false,
			"statement 2 is COPY ... TO STDOUT", nil},
		{"to stdout inside a literal is not COPY TO STDOUT", map[string]any{"query": "COPY (SELECT 'to stdout' FROM nope) TO '/nonexistent/f'"}, "database", "42P01", false,
			`relation "nope" does not exist`, map[string]any{"sqlstate": "42P01", "severity": "ERROR", "message": `relation "nope" does not exist`,
				"position": int64(31), "statement": int64(1), "line": int64(1), "character": int64(31)}},
		{"params with two statements", map[string]any{"query": "SELECT $1; SELECT 2", "params": []any{int64(1)}}, "config", "", false, "single statement", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runSQL(t, tl, db, tc.cfg)
			if r.Status != tool.Error || r.Fault == nil || r.Fault.Kind != tc.kind || r.Fault.Code != tc.code ||
				r.Fault.Retryable != tc.retryable || !strings.Contains(r.Error, tc.error) {
				t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
			}
			if strings.Contains(r.Error, "s3cret") {
				t.Fatalf("a parameter's value is in the error: %q", r.Error)
			}
			if tc.data == nil {
				if r.HasData {
					t.Fatalf("data %v, want none", r.Data)
				}
				return
			}
			got, _ := r.Data.(map[string]any)
			delete(got, "schema") // the test's scratch schema
			if !reflect.DeepEqual(got, tc.data) {
				t.Fatalf("data %v, want %v", got, tc.data)
			}
		})
	}
}

// A wrong password fails as a retryable connection error whose text never carries the
// password.
func TestPostgresConnectionFailureHidesThePassword(t *testing.T) {
	t.Parallel()
	tl := New()
	t.Cleanup(tl.Close)
	const secret = "pw-Very-Secret-8d1e"
	r := runSQL(t, tl, map[string]any{"host": "127.0.0.1", "port": "1", "user": "nobody", "password": secret}, map[string]any{"query": "SELECT 1"})
	if r.Status != tool.Error || r.Fault.Kind != "connection" || !r.Fault.Retryable {
		t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
	}
	if strings.Contains(r.Error, secret) {
		t.Fatalf("the error shows the password: %s", r.Error)
	}
}

// A connection string that does not parse is a config error (not a retryable connection
// failure) that names the part pgx refused, and never shows the string or its password,
// which may come straight from a playbook, where no credential's scrubber knows it.
func TestPostgresConnectionStringThatDoesNotParse(t *testing.T) {
	t.Parallel()
	tl := New()
	t.Cleanup(tl.Close)
	const secret = "pw-Very-Secret-51c2"
	tests := []struct{ dsn, want string }{
		{"postgres://u:" + secret + "@db:99999/app", "the connection settings do not parse: invalid port"},
		{"postgres://u:" + secret + "@[::1/app", `failed to parse as URL: end of string reached when looking for matching "]"`},
		{"postgres://u:" + secret + "@db/app?sslmode=bogus", "failed to configure TLS: sslmode is invalid"},
		{"postgres://u:" + secret + "@db/app?connect_timeout=soon", "invalid connect_timeout"},
		{"postgres://u:" + secret + "%zz@db/app", "failed to parse as URL: invalid percent-encoded token in"},
		{"host=db password='" + secret + " port=5432", "failed to parse as keyword/value: unterminated quoted string"},
		{"host=db password=" + secret + " port=none", "invalid port"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			r := runSQL(t, tl, map[string]any{"connection_string": tc.dsn}, map[string]any{"query": "SELECT 1"})
			if r.Status != tool.Error || r.Fault.Kind != "config" || r.Fault.Retryable || !strings.Contains(r.Error, tc.want) {
				t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
			}
			if strings.Contains(r.Error, secret) || strings.Contains(r.Error, "Very-Secret") {
				t.Fatalf("the error shows the password: %s", r.Error)
			}
		})
	}
}

func TestConnString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  map[string]any
		want string
		err  string
	}{
		{map[string]any{}, "postgresql://postgres@localhost:5432/postgres", ""},
		{map[string]any{"host": "db", "port": int64(6543), "user": "u", "password": "p@ss:w/rd", "database": "d"}, "postgresql://u:p%40ss%3Aw%2Frd@db:6543/d", ""},
		{map[string]any{"connection_string": "postgres://x@y/z"}, "postgres://x@y/z", ""},
		{map[string]any{"port": "http"}, "", "port"},
	}
	for _, tc := range tests {
		got, err := ConnString(tc.cfg)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ConnString(%v) err = %v", tc.cfg, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ConnString(%v) = %q, %v; want %q", tc.cfg, got, err, tc.want)
		}
	}
}

// A script is one unit: a failure anywhere rolls back every statement before it, the
// last one included, and a BEGIN the script never ends fails the step and is rolled back
// rather than left open on a pooled connection.
func TestPostgresScriptIsAtomic(t *testing.T) {
	t.Parallel()
	tl := New()
	t.Cleanup(tl.Close)
	db := target(t)
	if r := runSQL(t, tl, db, map[string]any{"command": "CREATE TABLE kept (a int)"}); r.Status != tool.Success {
		t.Fatal(r.Error)
	}
	tests := []struct {
		name   string
		script string
		error  string
	}{
		{"the last statement fails", "INSERT INTO kept VALUES (1); CREATE TABLE gone (a int); SELECT 1/0", "division by zero"},
		{"a middle statement fails", "INSERT INTO kept VALUES (2); SELECT 1/0; INSERT INTO kept VALUES (3)", "division by zero"},
		{"a BEGIN never committed", "BEGIN; INSERT INTO kept VALUES (4)", "leaves a transaction open"},
		{"a lone BEGIN", "BEGIN", "leaves a transaction open"},
		{"the script's own transaction fails", "BEGIN; INSERT INTO kept VALUES (5); SELECT 1/0; COMMIT", "division by zero"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runSQL(t, tl, db, map[string]any{"command": tc.script})
			if r.Status != tool.Error || !strings.Contains(r.Error, tc.error) {
				t.Fatalf("got %s %q, want an error with %q", r.Status, r.Error, tc.error)
			}
			check := runSQL(t, tl, db, map[string]any{"command": "SELECT count(*) AS n, to_regclass('gone') IS NULL AS no_table FROM kept"})
			if check.Status != tool.Success {
				t.Fatal(check.Error)
			}
			if got := check.Data.(map[string]any)["rows"]; !reflect.DeepEqual(got, []any{map[string]any{"n": int64(0), "no_table": true}}) {
				t.Fatalf("after the failure: %v", got)
			}
		})
	}
	ok := runSQL(t, tl, db, map[string]any{"command": "BEGIN; INSERT INTO kept VALUES (6); COMMIT"})
	if ok.Status != tool.Success {
		t.Fatalf("a script's own committed transaction: %s", ok.Error)
	}
	ok = runSQL(t, tl, db, map[string]any{"command": "INSERT INTO kept VALUES (7); SELECT count(*) AS n FROM kept"})
	if got := ok.Data.(map[string]any)["rows"]; ok.Status != tool.Success || !reflect.DeepEqual(got, []any{map[string]any{"n": int64(2)}}) {
		t.Fatalf("a wrapped script commits: %s %v", ok.Error, got)
	}
}

// What a script sets on its session (settings, temporary tables, a role, advisory locks)
// ends with the step: the next command on the same pooled connection starts clean.
func TestPostgresSessionIsReset(t *testing.T) {
	t.Parallel()
	tl := New()
	t.Cleanup(tl.Close)
	db := target(t)
	first := runSQL(t, tl, db, map[string]any{"command": "SET noetl.flag = 'dirty'; CREATE TEMP TABLE scratch (a int); PREPARE mine AS SELECT 1; SET search_path = public; SELECT pg_advisory_lock(42); SELECT pg_backend_pid() AS pid"})
	if first.Status != tool.Success {
		t.Fatal(first.Error)
	}
	second := runSQL(t, tl, db, map[string]any{"command": `CREATE TEMP TABLE scratch (a int); PREPARE mine AS SELECT 2;
		SELECT pg_backend_pid() AS pid, coalesce(current_setting('noetl.flag', true), '') AS flag,
			(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks,
			current_schema() AS schema`})
	if second.Status != tool.Success {
		t.Fatal(second.Error)
	}
	a := first.Data.(map[string]any)["rows"].([]any)[0].(map[string]any)
	b := second.Data.(map[string]any)["rows"].([]any)[0].(map[string]any)
	if a["pid"] != b["pid"] {
		t.Fatalf("the commands ran on different connections (%v, %v): the test proves nothing", a["pid"], b["pid"])
	}
	if b["flag"] != "" || b["locks"] != int64(0) || b["schema"] != db["schema"] {
		t.Fatalf("the session carried over: %v", b)
	}
}

// timeout_seconds bounds the call: a query past it is cancelled and the step is a
// retryable timeout; the pool stays usable.
func TestPostgresTimeout(t *testing.T) {
	t.Parallel()
	tl := New()
	t.Cleanup(tl.Close)
	db := target(t)
	start := time.Now()
	r := runSQL(t, tl, db, map[string]any{"command": "SELECT pg_sleep(20)", "timeout_seconds": 0.5})
	if r.Status != tool.Timeout || r.Fault == nil || r.Fault.Kind != "timeout" || !r.Fault.Retryable || !strings.Contains(r.Error, "timeout_seconds") {
		t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the timeout took %s", d)
	}
	if r := runSQL(t, tl, db, map[string]any{"command": "SELECT 1 AS one"}); r.Status != tool.Success {
		t.Fatalf("after a timeout: %s", r.Error)
	}
	if r := runSQL(t, tl, db, map[string]any{"command": "SELECT 1", "timeout_seconds": "soon"}); r.Status != tool.Error || r.Fault.Kind != "config" {
		t.Fatalf("a bad timeout_seconds: %s %q", r.Status, r.Error)
	}
}

// Two columns of one name cannot both be keys of a row object: as_objects refuses them
// before the statement runs (nothing is written), naming the column; as_objects: false
// gives both.
func TestPostgresDuplicateColumns(t *testing.T) {
	t.Parallel()
	tl := New()
	t.Cleanup(tl.Close)
	db := target(t)
	if r := runSQL(t, tl, db, map[string]any{"command": "CREATE TABLE a (id int); CREATE TABLE b (id int); INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)"}); r.Status != tool.Success {
		t.Fatalf("setup: %s", r.Error)
	}
	tests := []struct {
		name  string
		cfg   map[string]any
		error string
	}{
		{"a join", map[string]any{"query": "SELECT a.id, b.id FROM a, b"}, `the result has two columns named "id"`},
		{"unnamed expressions", map[string]any{"query": "SELECT 1, 2"}, `two columns named "?column?"`},
		{"with params", map[string]any{"query": "SELECT a.id, b.id FROM a, b WHERE a.id = $1", "params": []any{int64(1)}}, `two columns named "id"`},
		{"a write returning them", map[string]any{"query": "INSERT INTO a SELECT 9 RETURNING id, id"}, `two columns named "id"`},
		{"after other statements", map[string]any{"query": "INSERT INTO a VALUES (8); SELECT a.id, b.id FROM a, b"}, `two columns named "id"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runSQL(t, tl, db, tc.cfg)
			if r.Status != tool.Error || r.Fault == nil || r.Fault.Kind != "config" || !strings.Contains(r.Error, tc.error) ||
				!strings.Contains(r.Error, "as_objects: false") {
				t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
			}
		})
	}
	r := runSQL(t, tl, db, map[string]any{"query": "SELECT a.id, b.id FROM a, b", "as_objects": false})
	if r.Status != tool.Success || !reflect.DeepEqual(r.Data.(map[string]any)["rows"], []any{[]any{int64(1), int64(2)}}) {
		t.Fatalf("as_objects false: %s %q %#v", r.Status, r.Error, r.Data)
	}
	r = runSQL(t, tl, db, map[string]any{"query": "SELECT count(*) AS n FROM a"})
	if r.Status != tool.Success || !reflect.DeepEqual(r.Data.(map[string]any)["rows"], []any{map[string]any{"n": int64(1)}}) {
		t.Fatalf("a refused statement wrote rows: %s %q %#v", r.Status, r.Error, r.Data)
	}
}

// Arrays of a database's own types (an enum, a domain, a composite) have OIDs pgx does
// not know: such a column came back as one string ("{ok,sad}") and such a placeholder
// could not be bound.
func TestPostgresArraysOfTheDatabasesTypes(t *testing.T) {
	t.Parallel()
	tl := New()
	t.Cleanup(tl.Close)
	db := target(t)
	setup := runSQL(t, tl, db, map[string]any{"command": `CREATE TYPE mood AS ENUM ('ok', 'sad');
		CREATE DOMAIN posint AS int CHECK (VALUE > 0); CREATE TYPE pair AS (a int, b text);
		CREATE TABLE moods (id int, ms mood[])`})
	if setup.Status != tool.Success {
		t.Fatalf("setup: %s", setup.Error)
	}
	tests := []struct {
		name  string
		extra map[string]any
		want  any
	}{
		{"enum, domain and composite arrays as lists", map[string]any{"query": `SELECT 'ok'::mood AS m, '{ok,sad,NULL}'::mood[] AS ma,
			'{{ok},{sad}}'::mood[] AS m2, ARRAY[5::posint] AS da, ARRAY[ROW(1, 'x')::pair] AS pa`},
			[]any{map[string]any{"m": "ok", "ma": []any{"ok", "sad", nil}, "m2": []any{[]any{"ok"}, []any{"sad"}},
				"da": []any{int64(5)}, "pa": []any{"(1,x)"}}}},
		{"an enum array placeholder binds a list", map[string]any{"query": `INSERT INTO moods VALUES (1, $1) RETURNING ms, $2::posint[] AS ps`,
			"params": []any{[]any{"sad", "ok"}, []any{int64(3)}}},
			[]any{map[string]any{"ms": []any{"sad", "ok"}, "ps": []any{int64(3)}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runSQL(t, tl, db, tc.extra)
			if r.Status != tool.Success {
				t.Fatalf("%s: %s", r.Status, r.Error)
			}
			if got := r.Data.(map[string]any)["rows"]; !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("rows = %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// A result past MaxResult fails the step naming the bound; it was read whole into the
// worker's memory, however large. A script's writes before it are rolled back.
func TestPostgresResultBound(t *testing.T) {
	t.Parallel()
	tl := New()
	t.Cleanup(tl.Close)
	db := target(t)
	tests := []struct {
		name  string
		query string
		error string
	}{
		{"wide rows", "SELECT repeat('x', 1 << 20) AS blob FROM generate_series(1, 40)", "over the 32 MiB limit at row 32;"},
		{"many rows after a write", "CREATE TABLE kept (a int); SELECT g AS n, 'abcdefghij' AS pad FROM generate_series(1, 2000000) g",
			"over the 32 MiB limit at row "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runSQL(t, tl, db, map[string]any{"query": tc.query})
			if r.Status != tool.Error || r.Fault == nil || r.Fault.Kind != "result" || !strings.Contains(r.Error, tc.error) {
				t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
			}
		})
	}
	if r := runSQL(t, tl, db, map[string]any{"query": "SELECT to_regclass('kept') IS NULL AS gone"}); r.Status != tool.Success ||
		!reflect.DeepEqual(r.Data.(map[string]any)["rows"], []any{map[string]any{"gone": true}}) {
		t.Fatalf("the script's table: %s %v", r.Error, r.Data)
	}
}
