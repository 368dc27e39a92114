// Package deploy checks the deployment files without a container engine: the Helm chart
// is rendered and linted with Helm's own Go packages, docker-compose.yaml is loaded with
// compose-go, and the Tiltfile is executed by a Starlark interpreter with recording
// stand-ins for Tilt's builtins.
package deploy

import "encoding/base64"
import "os"
import "path/filepath"
import "regexp"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/testkit"

// documentedVars reads the variable names of the README's environment tables.
func documentedVars(t *testing.T) map[string]bool {
	t.Helper()
	return readmeRows(t, regexp.MustCompile("^\\| `([A-Z][A-Z0-9_]+)` \\|"), 50)
}

// documentedMetrics reads the metric names of the README's metrics table.
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	return readmeRows(t, regexp.MustCompile("^\\| `(noetl_[a-z0-9_]+)` \\|"), 10)
}

// readmeRows collects the first capture of row on every README line; fewer than atLeast
// means the table was not found.
func readmeRows(t *testing.T, row *regexp.Regexp, atLeast int) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			out[m[1]] = true
		}
	}
	if len(out) < atLeast {
		t.Fatalf("README table of %s looks empty (%d rows)", row, len(out))
	}
	return out
}

func isBase64Of32(s string) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}
