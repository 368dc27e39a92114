// Package docs checks the repository's text against what a clone has: comments, READMEs
// and documents may cite only files the repository holds. The design notes this suite was
// first written from are not part of it, so a citation of them (a section sign, a notes
// file name) is an error, and so is a cited repository path that does not exist.
package docs

import "bytes"
import "fmt"
import "os"
import "path/filepath"
import "regexp"
import "runtime"
import "sort"
import "strings"
import "testing"

// forbidden matches citations of documents outside the repository. The names are those
// of the design notes; a section sign after a note's name is how they were cited.
var forbidden = []*regexp.Regexp{
	regexp.MustCompile("\u00a7"),
	regexp.MustCompile(`\b(data-and-protocol|engine-head-server|engine-head-tools|api-surface|deploy-and-rules)\b`),
	regexp.MustCompile(`\breference/(engine|wallet)\.md\b`),
	regexp.MustCompile(`\bspec/(decisions|anchors|layout|reference|seed|notes)\b`),
	regexp.MustCompile(`\bseed/deployment-specification\b`),
	regexp.MustCompile(`(\.\./|/work/)shared/(spec|conformance|hooks)\b`),
}

// handbookDir is where the notes sit beside a developer's checkout, spelled in two parts
// so that this file does not itself read as a citation.
const handbookDir = ".." + "/shared"

// cited matches a repository path a text cites: a Markdown file under one of the
// top-level folders, or a top-level Markdown file such as README.md.
var cited = regexp.MustCompile(`\b((?:docs|services|shared|tests|testdata|deploy|examples|scripts)/[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md|(?:README|ARCHITECTURE|CONVENTIONS)\.md)\b`)

// exempt are files whose job is to name the notes: the record of the conformance
// suite's copy, the test that compares the copy with its source, and this test.
var exempt = map[string]bool{
	"testdata/conformance/HANDBOOK.sum":                  true,
	"services/api/internal/playbook/conformance_test.go": true,
	"tests/docs/citations_test.go":                       true,
}

// skipDirs are never scanned: version control and build output.
var skipDirs = map[string]bool{".git": true, "bin": true, ".run": true, "node_modules": true}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// textFiles returns every text file below root (slash-separated, relative): files with
// a NUL byte in their first 8 KiB, and files above 4 MiB, are not text.
func textFiles(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDirs[d.Name()] && p != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > 4<<20 {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.IndexByte(b[:min(len(b), 8<<10)], 0) >= 0 {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// problems lists, for one file, every forbidden citation and every cited repository
// path that exists neither from the root nor from the file's own folder.
func problems(rel string, text []byte, exists func(string) bool) []string {
	var out []string
	for i, line := range strings.Split(string(text), "\n") {
		for _, re := range forbidden {
			if m := re.FindString(line); m != "" {
				out = append(out, fmt.Sprintf("%s:%d: cites a document the repository does not have (%q)", rel, i+1, m))
			}
		}
		for _, m := range cited.FindAllString(line, -1) {
			if exists(m) || exists(filepath.ToSlash(filepath.Join(filepath.Dir(rel), m))) {
				continue
			}
			out = append(out, fmt.Sprintf("%s:%d: cites %s, which does not exist", rel, i+1, m))
		}
	}
	return out
}

// TestCitationsResolve: no text in the repository cites the design notes, and every
// repository path a text cites exists.
func TestCitationsResolve(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	files := textFiles(t, root)
	if len(files) < 100 {
		t.Fatalf("only %d text files found below %s; the walk is broken", len(files), root)
	}
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		return err == nil
	}
	var all []string
	for rel, text := range files {
		if !exempt[rel] {
			all = append(all, problems(rel, text, exists)...)
		}
	}
	sort.Strings(all)
	for _, p := range all {
		t.Error(p)
	}
}

// TestProblemsFindsCitations: the scanner itself catches what it is for and passes what
// it is not.
func TestProblemsFindsCitations(t *testing.T) {
	t.Parallel()
	have := map[string]bool{"docs/engine.md": true, "services/wallet/README.md": true, "shared/tmpl/README.md": true, "shared/tmpl/x.go": true}
	exists := func(rel string) bool { return have[rel] }
	tests := []struct {
		name, file, text string
		want             int
	}{
		{"section sign", "a.go", "// see decisions \u00a74", 1},
		{"notes file", "a.go", "// as in data-and-protocol.md", 1},
		{"reference note", "README.md", "(reference/wallet.md)", 1},
		{"notes folder", "a.go", "// " + handbookDir + "/spec/decisions.md", 3},
		{"existing doc", "a.go", "// docs/engine.md, \"Loops\"", 0},
		{"missing doc", "a.go", "// docs/nothing.md", 1},
		{"service README", "a.go", "// services/wallet/README.md", 0},
		{"missing service README", "a.go", "// services/router/README.md", 1},
		{"own folder README", "shared/tmpl/x.go", "// README.md", 0},
		{"go.mod replace", "go.mod", "replace github.com/noetl/controlplane/shared => ../../shared", 0},
		{"plain words", "a.go", "// the reference worker; the spec says", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := problems(tc.file, []byte(tc.text), exists); len(got) != tc.want {
				t.Errorf("problems(%q) = %q, want %d", tc.text, got, tc.want)
			}
		})
	}
}
