package testkit

import "os"
import "path/filepath"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/config"

// RepoRoot finds the repository root (the directory holding go.work) from the test's
// working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d
		}
	}
	t.Fatalf("go.work not found above %s", wd)
	return ""
}

// AssertDocumented checks that every variable a config struct reads has a row in the
// README's environment table, and that the row's default cell shows the code's default.
func AssertDocumented(t *testing.T, cfg any) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		rows[name] = cells
	}
	for _, v := range config.Vars(cfg) {
		cells, ok := rows[v.Name]
		if !ok {
			t.Errorf("%s is read by the code but has no row in the README environment table", v.Name)
			continue
		}
		if v.Default != "" && !strings.Contains(cells[2], v.Default) {
			t.Errorf("%s: README default %q does not show the code default %q", v.Name, strings.TrimSpace(cells[2]), v.Default)
		}
	}
}
