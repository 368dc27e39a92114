package deploy

import "fmt"
import "net"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/testkit"

// fakeService stands in for a noetl-<service> binary in scripts/run-local.sh: every
// subcommand but serve and healthcheck succeeds at once; serve records each SIGINT and
// SIGTERM it gets (in python, because a shell cannot trap a SIGINT it started with ignored, and a Go
// server can) and exits on SIGTERM; healthcheck succeeds once serve's handlers are set.
const fakeService = `#!/bin/bash
svc=${0##*/noetl-}
[ "$1" != healthcheck ] || exec grep -q "^$svc serving" "$FAKE_LOG"
[ "$1" = serve ] || exit 0
exec python3 -c '
import os, signal, sys
def record(what):
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(sys.argv[1] + " " + what + "\n")
def term(*_):
    record("TERM")
    sys.exit(0)
signal.signal(signal.SIGINT, lambda *_: record("INT"))
signal.signal(signal.SIGTERM, term)
record("serving")
while True:
    signal.pause()
' "$svc"
`

// pathWithout is a PATH directory holding every command of the test's PATH but the
// hidden ones: a machine without setsid (macOS), or without perl too.
func pathWithout(t *testing.T, hidden ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			name := e.Name()
			if strings.Contains(strings.Join(hidden, " ")+" ", name+" ") {
				continue
			}
			if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
				continue // an earlier PATH entry wins
			}
			if err := os.Symlink(filepath.Join(d, name), filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestMakeRunCtrlCWithoutSetsid: Ctrl-C (SIGINT to the terminal's whole process group)
// reaches only run-local.sh, which stops the worker first and then the services, also
// where there is no setsid command. Without one the servers used to share the script's
// process group and all took the SIGINT at once.
func TestMakeRunCtrlCWithoutSetsid(t *testing.T) {
	t.Parallel()
	for _, hidden := range [][]string{nil, {"setsid"}, {"setsid", "perl"}} {
		t.Run("without "+fmt.Sprint(hidden), func(t *testing.T) {
			t.Parallel()
			bin, log := t.TempDir(), filepath.Join(t.TempDir(), "signals")
			for _, svc := range []string{"api", "wallet", "broker", "router", "worker"} {
				if err := os.WriteFile(filepath.Join(bin, "noetl-"+svc), []byte(fakeService), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("bash", filepath.Join(testkit.RepoRoot(t), "scripts", "run-local.sh"))
			cmd.Env = []string{"PATH=" + pathWithout(t, hidden...), "HOME=" + os.Getenv("HOME"), "FAKE_LOG=" + log,
				"NOETL_RUN_BIN_DIR=" + bin, "NOETL_RUN_DIR=" + t.TempDir(), "NOETL_RUN_INTERNAL_TLS=false",
				"DATABASE_URL=" + testkit.DatabaseURL(), "NATS_URL=" + testkit.NATSURL()}
			for _, v := range []string{"ROUTER", "API", "WALLET", "BROKER", "WORKER"} {
				cmd.Env = append(cmd.Env, fmt.Sprintf("NOETL_RUN_%s_PORT=%d", v, freeTCPPort(t)))
			}
			out := &testkit.LogBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the terminal's process group
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				if t.Failed() {
					t.Logf("---- run-local.sh output ----\n%s", out.String())
				}
			})
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(out.String(), "is up") {
				select {
				case err := <-done:
					t.Fatalf("run-local.sh ended before it was up: %v", err)
				case <-time.After(50 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("run-local.sh never said it is up")
				}
			}
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // Ctrl-C
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run-local.sh after Ctrl-C: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("run-local.sh did not stop after Ctrl-C")
			}
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			var terms []string
			for _, l := range lines {
				if strings.HasSuffix(l, " INT") {
					t.Errorf("%s: a server got the terminal's SIGINT", l)
				}
				if strings.HasSuffix(l, " TERM") {
					terms = append(terms, strings.TrimSuffix(l, " TERM"))
				}
			}
			if len(terms) != 5 || terms[0] != "worker" {
				t.Errorf("servers stopped in the order %v, want the worker first, then the four services", terms)
			}
		})
	}
}
