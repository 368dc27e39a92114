package deploy

import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/testkit"

// devEnv sources scripts/dev-env.sh (what `make run` does) in a clean shell with the
// given exported variables and returns the environment it leaves.
func devEnv(t *testing.T, dir string, exported ...string) map[string]string {
	t.Helper()
	script := filepath.Join(testkit.RepoRoot(t), "scripts", "dev-env.sh")
	cmd := exec.Command("bash", "-c", `set -euo pipefail; . "$0" "$1"; env`, script, dir)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, exported...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dev-env.sh: %v\n%s", err, out)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

// TestMakeRunSecrets: `make run` generates the encryption key and the three tokens once
// and keeps them; an exported value wins over the generated one (even an empty one, which
// makes its class of routes take the other token); an older dev.env gains the tokens it lacks.
func TestMakeRunSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := devEnv(t, dir)
	for _, v := range []string{"NOETL_INTERNAL_API_TOKEN", "NOETL_API_TOKEN", "NOETL_WORKER_TOKEN"} {
		if len(first[v]) < 24 {
			t.Errorf("%s = %q, want a generated token", v, first[v])
		}
	}
	if !isBase64Of32(first["NOETL_ENCRYPTION_KEY"]) {
		t.Errorf("NOETL_ENCRYPTION_KEY %q is not base64 of 32 bytes", first["NOETL_ENCRYPTION_KEY"])
	}
	if first["NOETL_API_TOKEN"] == first["NOETL_WORKER_TOKEN"] {
		t.Error("the client and worker tokens are the same")
	}
	if st, err := os.Stat(filepath.Join(dir, "dev.env")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("dev.env mode = %v (%v), want 0600", st.Mode().Perm(), err)
	}
	again := devEnv(t, dir)
	for _, v := range []string{"NOETL_ENCRYPTION_KEY", "NOETL_API_TOKEN", "NOETL_WORKER_TOKEN", "NOETL_INTERNAL_API_TOKEN"} {
		if again[v] != first[v] {
			t.Errorf("%s changed between runs", v)
		}
	}
	mine := devEnv(t, dir, "NOETL_API_TOKEN=mine", "NOETL_WORKER_TOKEN=")
	for v, want := range map[string]string{"NOETL_API_TOKEN": "mine", "NOETL_WORKER_TOKEN": "", "NOETL_INTERNAL_API_TOKEN": first["NOETL_INTERNAL_API_TOKEN"]} {
		if got, ok := mine[v]; !ok || got != want {
			t.Errorf("%s: make run used %q, want %q", v, got, want)
		}
	}

	old := t.TempDir()
	if err := os.WriteFile(filepath.Join(old, "dev.env"), []byte("NOETL_ENCRYPTION_KEY="+first["NOETL_ENCRYPTION_KEY"]+"\nNOETL_INTERNAL_API_TOKEN=abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	upgraded := devEnv(t, old)
	if upgraded["NOETL_ENCRYPTION_KEY"] != first["NOETL_ENCRYPTION_KEY"] || upgraded["NOETL_INTERNAL_API_TOKEN"] != "abc" {
		t.Error("an older dev.env lost its values")
	}
	if upgraded["NOETL_API_TOKEN"] == "" || upgraded["NOETL_WORKER_TOKEN"] == "" {
		t.Error("an older dev.env did not gain the public tokens")
	}
}
