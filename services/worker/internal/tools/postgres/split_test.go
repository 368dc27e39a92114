package postgres

import "reflect"
import "testing"

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
		want   []string
	}{
		{"one statement without a semicolon", "SELECT 1", []string{"SELECT 1"}},
		{"trailing semicolon and whitespace", "SELECT 1;\n  \n", []string{"SELECT 1"}},
		{"two statements", "CREATE TABLE t (a int); INSERT INTO t VALUES (1)", []string{"CREATE TABLE t (a int)", "INSERT INTO t VALUES (1)"}},
		{"semicolon inside a literal", "SELECT 'a;b' AS tricky; SELECT 2", []string{"SELECT 'a;b' AS tricky", "SELECT 2"}},
		{"doubled quote inside a literal", "SELECT 'it''s;here'; SELECT 2", []string{"SELECT 'it''s;here'", "SELECT 2"}},
		{"E-string backslash escape", `SELECT E'a\';b'; SELECT 2`, []string{`SELECT E'a\';b'`, "SELECT 2"}},
		{"semicolon inside an identifier", `SELECT 1 AS "x;y"; SELECT 2`, []string{`SELECT 1 AS "x;y"`, "SELECT 2"}},
		{"semicolon inside a line comment", "-- first; second\nSELECT 1; SELECT 2", []string{"-- first; second\nSELECT 1", "SELECT 2"}},
		{"semicolon inside a nested block comment", "/* a; /* b; */ c; */ SELECT 1; SELECT 2", []string{"/* a; /* b; */ c; */ SELECT 1", "SELECT 2"}},
		{"dollar-quoted function body", "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT f()",
			[]string{"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", "SELECT f()"}},
		{"tagged dollar quote containing $$", "DO $body$ BEGIN PERFORM '$$;'; END $body$; SELECT 1",
			[]string{"DO $body$ BEGIN PERFORM '$$;'; END $body$", "SELECT 1"}},
		{"$1 is a parameter, not a tag", "SELECT $1; SELECT 2", []string{"SELECT $1", "SELECT 2"}},
		{"a comment-only tail is dropped", "SELECT 1;\n-- the end;\n", []string{"SELECT 1"}},
		{"the conformance script", "-- table shared by every run; rows are told apart by execution_id; see the note\nCREATE TABLE IF NOT EXISTS conformance_orders (\n  note text\n);\nSELECT 'a;b' AS tricky\n",
			[]string{"-- table shared by every run; rows are told apart by execution_id; see the note\nCREATE TABLE IF NOT EXISTS conformance_orders (\n  note text\n)", "SELECT 'a;b' AS tricky"}},
		// psql's rule: the semicolons of a SQL-standard body do not end the CREATE.
		{"a BEGIN ATOMIC function body", "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nSELECT f(1)",
			[]string{"CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND", "SELECT f(1)"}},
		{"a BEGIN ATOMIC procedure body", "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END; CALL p()",
			[]string{"CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END", "CALL p()"}},
		{"BEGIN and END of a transaction still split", "BEGIN; SELECT CASE WHEN true THEN 1 END; END; SELECT end_date FROM t",
			[]string{"BEGIN", "SELECT CASE WHEN true THEN 1 END", "END", "SELECT end_date FROM t"}},
		{"empty", "  ;; \n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Split(tc.script); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Split(%q)\n got %q\nwant %q", tc.script, got, tc.want)
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 'a;b'", "$$;$$", "/* /* */", "E'\\'", `"a;"`, "-- x\n;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, st := range Split(s) {
			if st == "" || onlyComments(st) {
				t.Fatalf("empty statement from %q", s)
			}
		}
	})
}

func TestTextArrayDims(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []int
	}{
		{"{1,2}", nil},
		{"{}", nil},
		{"{{1,2,3},{4,5,6}}", []int{2, 3}},
		{`{{"a,}","{b"},{"\"","d"}}`, []int{2, 2}},
		{"[0:1][1:1]={{7},{8}}", []int{2, 1}},
		{"{{{1},{2}},{{3},{4}},{{5},{6}}}", []int{3, 2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := textArrayDims(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("textArrayDims(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
