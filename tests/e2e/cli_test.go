package e2e

import "os"
import "path/filepath"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/testkit"

// TestCommandLine runs each built binary with --help, version and a wrong argument: none
// of them may start a server, and a wrong argument exits 2 with the usage.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	for _, bin := range []string{"api", "wallet", "broker", "router"} {
		t.Run(bin, func(t *testing.T) {
			t.Parallel()
			cases := []struct {
				args []string
				code int
				want []string
			}{
				{[]string{"--help"}, 0, []string{"noetl-" + bin, "serve", "(the default)", "healthcheck", "version"}},
				{[]string{"-h"}, 0, []string{"Usage:"}},
				{[]string{"version"}, 0, []string{"noetl-" + bin + " "}},
				{[]string{"--version"}, 0, []string{"noetl-" + bin + " "}},
				{[]string{"srve"}, 2, []string{`unknown command "srve"`, "Usage:"}},
				{[]string{"serve", "extra"}, 2, []string{"serve takes no arguments"}},
				{[]string{"healthcheck", "--deep"}, 2, []string{`unknown argument "--deep"`}},
			}
			for _, c := range cases {
				// The environment would make a server start (and fail on the taken
				// port) if any of these ran one; none must.
				code, out := runToExit(t, bin, map[string]string{"NOETL_PORT": "1"}, 20*time.Second, c.args...)
				if code != c.code {
					t.Errorf("%v: exit %d, want %d; output:\n%s", c.args, code, c.code, out)
				}
				for _, w := range c.want {
					if !strings.Contains(out, w) {
						t.Errorf("%v: output lacks %q:\n%s", c.args, w, out)
					}
				}
				if strings.Contains(out, `"msg"`) {
					t.Errorf("%v: the binary logged, so it started serving:\n%s", c.args, out)
				}
			}
		})
	}
}

// TestMigrateCommands: each service that owns tables has its own `migrate`: `status`
// lists its pending migrations and changes nothing, `up` applies them, a wrong
// subcommand exits 2.
func TestMigrateCommands(t *testing.T) {
	t.Parallel()
	for _, svc := range []string{"api", "wallet"} {
		t.Run(svc, func(t *testing.T) {
			t.Parallel()
			schema := testkit.UniqueName("cli_")
			t.Cleanup(func() { testkit.DropSchema(t, schema) })
			env := map[string]string{"DATABASE_URL": testkit.DatabaseURL(), "NOETL_SCHEMA": schema}

			code, out := runToExit(t, svc, env, 60*time.Second, "migrate", "status")
			if code != 0 || !strings.Contains(out, "at "+svc+" version 0") || !strings.Contains(out, "pending: 0001_base") || !strings.Contains(out, "run `noetl-"+svc+" migrate`") {
				t.Fatalf("status before: exit %d\n%s", code, out)
			}
			db := testkit.OpenURL(t, testkit.DatabaseURL())
			var exists bool
			if err := db.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil || exists {
				t.Fatalf("migrate status created the schema (exists=%v err=%v)", exists, err)
			}
			if code, out := runToExit(t, svc, env, 60*time.Second, "migrate", "sideways"); code != 2 || !strings.Contains(out, "migrate status") {
				t.Fatalf("migrate sideways: exit %d\n%s", code, out)
			}
			if code, out := runToExit(t, svc, env, 60*time.Second, "migrate", "up"); code != 0 || !strings.Contains(out, "applied") {
				t.Fatalf("migrate up: exit %d\n%s", code, out)
			}
			code, out = runToExit(t, svc, env, 60*time.Second, "migrate", "status")
			if code != 0 || !strings.Contains(out, "0 pending") || strings.Contains(out, "pending:") {
				t.Fatalf("status after: exit %d\n%s", code, out)
			}
		})
	}
}

// TestCertsCommand: `noetl-api certs` writes the CA and the four service certificates.
func TestCertsCommand(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	code, out := runToExit(t, "api", nil, 30*time.Second, "certs", "--dir", dir)
	if code != 0 {
		t.Fatalf("certs: exit %d\n%s", code, out)
	}
	for _, f := range []string{"ca.crt", "router.crt", "api.crt", "wallet.crt", "broker.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
