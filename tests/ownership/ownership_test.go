// Package ownership checks that every table has one owner: only the package that owns a
// table has SQL naming it, and every other package goes through that owner. A service
// reads and writes only the tables in its own migrations (services/<svc>/migrations), and
// inside a service one package holds each table's SQL, so a change to a table's columns,
// indexes or locking is made and reviewed in one place.
//
// The check reads source text only: string literals of the non-test Go files under
// services/ and shared/, matched against the table names the migrations create.
package ownership

import "fmt"
import "go/scanner"
import "go/token"
import "io/fs"
import "os"
import "path/filepath"
import "regexp"
import "slices"
import "strconv"
import "strings"
import "testing"

// owners maps every table the migrations create to the package directory (from the
// repository root) that owns its SQL. "" is a table no package has SQL for yet. A new
// table needs an entry here, in the same change as its migration; docs/ARCHITECTURE.md
// ("Who owns which table") lists the same map for readers.
var owners = map[string]string{
	// api
	"execution":    "services/api/internal/eventlog",
	"event":        "services/api/internal/eventlog",
	"command":      "services/api/internal/eventlog",
	"outbox":       "services/api/internal/outbox",
	"catalog":      "services/api/internal/catalog",
	"resource":     "services/api/internal/catalog",
	"runtime":      "services/api/internal/runtimes",
	"result_store": "services/api/internal/vars",
	"transient":    "services/api/internal/vars",
	"schedule":     "",
	// wallet
	"credential":       "services/wallet/internal/credentials",
	"keychain":         "services/wallet/internal/keychain",
	"wallet_key_check": "services/wallet/internal/keyring",
	"secret_audit":     "services/wallet/internal/audit",
}

// outOfScope are directories of test helpers, which set up and inspect tables directly.
var outOfScope = []string{
	"services/api/internal/apitest",
	"shared/testkit",
}

// sqlRef is a keyword that puts a table name after it in SQL (DELETE FROM is FROM's).
// Matching is case-insensitive and word-bounded; an optional ONLY or IF [NOT] EXISTS and
// a schema qualifier or quotes are passed over.
var sqlRef = regexp.MustCompile(`(?i)\b(?:from|into|update|join|table)\s+(?:only\s+|if\s+(?:not\s+)?exists\s+)?(?:"?[a-z_][a-z0-9_]*"?\.)?"?([a-z_][a-z0-9_]*)"?\b`)

// sqlWord marks a literal as SQL: prose that happens to say "from keychain" (a
// description, an error message) has none of these. A fragment joined to others with +
// still carries one (WHERE, a $n placeholder) in practice.
var sqlWord = regexp.MustCompile(`(?i)\b(?:select|insert|update|delete|where|values|returning|join|truncate|alter|create|drop|order\s+by|group\s+by|limit|on\s+conflict)\b|\$[0-9]`)

// createTable finds the tables a migration creates.
var createTable = regexp.MustCompile(`(?i)\bcreate\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?(?:"?[a-z_][a-z0-9_]*"?\.)?"?([a-z_][a-z0-9_]*)"?`)

// repoRoot is two levels up from this package (tests/ownership).
const repoRoot = "../.."

func TestEveryTableHasAnOwner(t *testing.T) {
	tables := migrationTables(t)
	for _, table := range tables {
		if _, ok := owners[table]; !ok {
			t.Errorf("table %q is created by a migration but has no owner: add it to owners in tests/ownership and to docs/ARCHITECTURE.md", table)
		}
	}
	for table, dir := range owners {
		if !slices.Contains(tables, table) {
			t.Errorf("owners names table %q, which no migration creates: remove it", table)
		}
		if dir == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(repoRoot, dir)); err != nil || !st.IsDir() {
			t.Errorf("owner of %q is %s, which is not a directory: update owners to where its SQL moved", table, dir)
		}
	}
}

func TestOnlyTheOwnerHasSQLForATable(t *testing.T) {
	tables := migrationTables(t)
	refs := scanRefs(t, tables)
	for _, r := range refs {
		if owner := owners[r.table]; owner != "" && r.dir == owner {
			continue
		}
		owner := owners[r.table]
		if owner == "" {
			owner = "no package yet"
		}
		t.Errorf("%s:%d: SQL names table %q, whose owner is %s: move the statement there and call it", r.file, r.line, r.table, owner)
	}
}

// ref is one table name in SQL.
type ref struct {
	file  string // from the repository root, slash-separated
	dir   string // the file's package directory
	line  int
	table string
}

func migrationTables(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "services", "*", "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found under services/*/migrations (err %v)", err)
	}
	var tables []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range createTable.FindAllStringSubmatch(string(b), -1) {
			if name := strings.ToLower(m[1]); !slices.Contains(tables, name) {
				tables = append(tables, name)
			}
		}
	}
	slices.Sort(tables)
	return tables
}

// scanRefs returns every table name in SQL in the string literals of the non-test Go
// files under services/ and shared/.
func scanRefs(t *testing.T, tables []string) []ref {
	t.Helper()
	var out []ref
	for _, top := range []string{"services", "shared"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel := filepath.ToSlash(strings.TrimPrefix(path, repoRoot+string(filepath.Separator)))
			if d.IsDir() {
				if slices.Contains(outOfScope, rel) || d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			refs, err := fileRefs(rel, src, tables)
			out = append(out, refs...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) == 0 {
		t.Fatal("the scan found no SQL at all: is repoRoot right?")
	}
	return out
}

// fileRefs finds the table names in SQL in one file's string literals.
func fileRefs(rel string, src []byte, tables []string) ([]ref, error) {
	fset := token.NewFileSet()
	file := fset.AddFile(rel, -1, len(src))
	var errs scanner.ErrorList
	var s scanner.Scanner
	s.Init(file, src, func(pos token.Position, msg string) { errs.Add(pos, msg) }, 0)
	var out []ref
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok != token.STRING {
			continue
		}
		text := lit
		if lit[0] == '"' {
			if u, err := strconv.Unquote(lit); err == nil {
				text = u
			}
		}
		if !sqlWord.MatchString(text) {
			continue
		}
		start := fset.Position(pos).Line
		for _, m := range sqlRef.FindAllStringSubmatchIndex(text, -1) {
			name := strings.ToLower(text[m[2]:m[3]])
			if !slices.Contains(tables, name) {
				continue
			}
			out = append(out, ref{
				file: rel, dir: filepath.ToSlash(filepath.Dir(rel)), table: name,
				line: start + strings.Count(text[:m[0]], "\n"),
			})
		}
	}
	if errs.Len() > 0 {
		return out, fmt.Errorf("read %s: %w", rel, errs.Err())
	}
	return out, nil
}

// TestScanner pins what counts as SQL naming a table, so that the check above neither
// misses a statement nor trips on prose.
func TestScanner(t *testing.T) {
	tables := []string{"credential", "execution", "keychain"}
	cases := []struct {
		name string
		src  string
		want []string // "line table"
	}{
		{"select", "package p\nvar q = `SELECT id FROM credential WHERE id = $1`", []string{"2 credential"}},
		{"lower case and delete", "package p\nvar q = \"delete from execution where execution_id = $1\"", []string{"2 execution"}},
		{"line inside a raw string", "package p\nvar q = `WITH x AS (\n\tSELECT 1)\n\tUPDATE keychain SET data_encrypted = $2`", []string{"4 keychain"}},
		{"insert, join and schema", "package p\nvar q = `INSERT INTO noetl.execution SELECT * FROM credential c JOIN keychain k ON true`",
			[]string{"2 execution", "2 credential", "2 keychain"}},
		{"fragment of a joined statement", "package p\nvar q = `SELECT ` + cols + ` FROM credential WHERE ` + where", []string{"2 credential"}},
		{"word-bounded", "package p\nvar q = `SELECT 1 FROM execution_step WHERE x = $1`", nil},
		{"another table", "package p\nvar q = `SELECT 1 FROM schema_migrations WHERE x = $1`", nil},
		{"prose", "package p\nconst d = \"resolved from keychain provider\"", nil},
		{"comment", "package p\n// SELECT id FROM credential WHERE id = $1\nvar x = 1", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			refs, err := fileRefs("services/x/p.go", []byte(c.src), tables)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range refs {
				if r.dir != "services/x" {
					t.Errorf("dir = %q, want services/x", r.dir)
				}
				got = append(got, fmt.Sprintf("%d %s", r.line, r.table))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("refs = %q, want %q", got, c.want)
			}
		})
	}
}
