package cli

import "bufio"
import "bytes"
import "context"
import "errors"
import "fmt"
import "net"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/tlsx"
import "github.com/noetl/controlplane/shared/version"

// program records which command ran with which arguments.
func program(ran *[]string) Program {
	rec := func(name string) func(context.Context, []string) error {
		return func(_ context.Context, args []string) error {
			*ran = append(*ran, name+" "+strings.Join(args, " "))
			if len(args) > 0 && args[0] == "boom" {
				return errors.New("it failed")
			}
			return nil
		}
	}
	return Program{
		Name: "noetl-test", Summary: "a test binary",
		Commands: []Command{
			{Name: "serve", Summary: "serve", Run: NoArgs("serve", func(context.Context) error { *ran = append(*ran, "serve "); return nil })},
			{Name: "migrate", Args: "[up|status]", Summary: "migrate", Run: rec("migrate")},
		},
	}
}

func TestProgramRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		code       int
		ran        string // "" = nothing ran
		stdout     []string
		stderr     []string
		stdoutNone bool
	}{
		{name: "no argument serves", args: nil, code: ExitOK, ran: "serve "},
		{name: "serve", args: []string{"serve"}, code: ExitOK, ran: "serve "},
		{name: "serve with an argument", args: []string{"serve", "now"}, code: ExitUsage, stderr: []string{"serve takes no arguments", `"now"`}},
		{name: "help", args: []string{"--help"}, code: ExitOK, stdout: []string{"noetl-test — a test binary", "serve", "(the default)", "migrate [up|status]", "version", "help"}},
		{name: "-h", args: []string{"-h"}, code: ExitOK, stdout: []string{"Usage:"}},
		{name: "help word", args: []string{"help"}, code: ExitOK, stdout: []string{"Usage:"}},
		{name: "help after a command runs nothing", args: []string{"migrate", "--help"}, code: ExitOK, stdout: []string{"Usage:"}},
		{name: "version", args: []string{"version"}, code: ExitOK, stdout: []string{"noetl-test " + version.Version}},
		{name: "--version", args: []string{"--version"}, code: ExitOK, stdout: []string{"noetl-test " + version.Version}},
		{name: "unknown command", args: []string{"srve"}, code: ExitUsage, stderr: []string{`unknown command "srve"`, "Usage:"}, stdoutNone: true},
		{name: "unknown flag", args: []string{"--port=1"}, code: ExitUsage, stderr: []string{`unknown command "--port=1"`}},
		{name: "command with arguments", args: []string{"migrate", "status"}, code: ExitOK, ran: "migrate status"},
		{name: "failing command", args: []string{"migrate", "boom"}, code: ExitError, ran: "migrate boom", stderr: []string{"noetl-test: it failed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ran []string
			var out, errOut bytes.Buffer
			p := program(&ran)
			p.Stdout, p.Stderr = &out, &errOut
			if code := p.Run(context.Background(), tc.args); code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr %s", code, tc.code, errOut.String())
			}
			if got := strings.Join(ran, "|"); got != tc.ran {
				t.Errorf("ran %q, want %q", got, tc.ran)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			if tc.stdoutNone && out.Len() > 0 {
				t.Errorf("stdout not empty: %s", out.String())
			}
		})
	}
}

// serveProbe serves /readyz and /healthz on 127.0.0.1 with the listener TLS of c and
// returns c with the port set.
func serveProbe(t *testing.T, c config.Common, ready bool) config.Common {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"not ready: postgres: schema not migrated: run noetl-api migrate","status":503}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tlsx.Server(c.TLS)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, TLSConfig: tc}
	go func() {
		if tc != nil {
			_ = srv.ServeTLS(ln, "", "")
		} else {
			_ = srv.Serve(ln)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })
	c.Host = "0.0.0.0" // the check must turn the wildcard into the loopback address
	c.Port = config.Port(ln.Addr().(*net.TCPAddr).Port)
	return c
}

func TestHealthcheckProbe(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	other := testkit.GenerateCerts(t)
	apiCert, apiKey := certs.Service("api")
	routerCert, routerKey := certs.Service("router")
	serverTLS := config.ServerTLS{CertFile: apiCert, KeyFile: apiKey}
	mtls := config.ServerTLS{CertFile: apiCert, KeyFile: apiKey, ClientCAFile: certs.CAFile}
	client := config.ClientTLS{CertFile: routerCert, KeyFile: routerKey, CAFile: certs.CAFile}
	tests := []struct {
		name    string
		c       config.Common
		ready   bool
		path    string
		wantErr string
	}{
		{name: "plain ready", ready: true, path: "/readyz"},
		{name: "plain not ready names the fix", ready: false, path: "/readyz", wantErr: "run noetl-api migrate"},
		{name: "live while not ready", ready: false, path: "/healthz"},
		{name: "https", c: config.Common{TLS: serverTLS, InternalTLS: config.ClientTLS{CAFile: certs.CAFile}}, ready: true, path: "/readyz"},
		{name: "mtls", c: config.Common{TLS: mtls, InternalTLS: client}, ready: true, path: "/readyz"},
		{name: "mtls without a client certificate", c: config.Common{TLS: mtls}, ready: true, path: "/readyz", wantErr: "NOETL_INTERNAL_TLS_CERT"},
		{name: "listener certificate from another CA", c: config.Common{TLS: serverTLS, InternalTLS: config.ClientTLS{CAFile: other.CAFile}}, ready: true, path: "/readyz", wantErr: "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := serveProbe(t, tc.c, tc.ready)
			var out bytes.Buffer
			err := probe(t.Context(), c, tc.path, &out)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("probe: %v", err)
				}
				if !strings.Contains(out.String(), tc.path) {
					t.Errorf("output %q does not name the URL", out.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("probe error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestHealthcheckCommandArguments(t *testing.T) {
	t.Parallel()
	cmd := Healthcheck(1, &bytes.Buffer{})
	var ue *UsageError
	if err := cmd.Run(context.Background(), []string{"--deep"}); !errors.As(err, &ue) {
		t.Fatalf("unknown argument: %v, want a usage error", err)
	}
}

func TestCertsCommand(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	var out bytes.Buffer
	cmd := Certs(&out)
	if err := cmd.Run(context.Background(), []string{"--dir", dir, "--service", "api,wallet", "--host", "{service}.dev", "--secret", "noetl-internal-tls"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.crt", "ca.key", "api.crt", "api.key", "wallet.crt", "wallet.key", "noetl-internal-tls.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "router.crt")); err == nil {
		t.Errorf("router certificate written although only api and wallet were asked for")
	}
	if !strings.Contains(out.String(), "issued api, wallet") || !strings.Contains(out.String(), "(new,") {
		t.Errorf("output:\n%s", out.String())
	}
	out.Reset()
	if err := cmd.Run(context.Background(), []string{"--dir", dir, "--service", "api,wallet", "--host", "{service}.dev"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kept api, wallet") || !strings.Contains(out.String(), "(kept,") {
		t.Errorf("second run output:\n%s", out.String())
	}
	var ue *UsageError
	for _, args := range [][]string{{"--bogus"}, {"--dir", dir, "extra"}} {
		if err := cmd.Run(context.Background(), args); !errors.As(err, &ue) {
			t.Errorf("certs %v: %v, want a usage error", args, err)
		}
	}
}

func TestServiceCommands(t *testing.T) {
	t.Parallel()
	noop := func(context.Context, []string) error { return nil }
	p := Service("noetl-test", "a test service", 1, Command{Name: "serve", Run: noop}, Command{Name: "migrate", Run: noop}, Certs(nil))
	var names []string
	for _, c := range p.Commands {
		names = append(names, c.Name)
	}
	if got, want := strings.Join(names, " "), "serve migrate certs healthcheck"; got != want {
		t.Errorf("commands %q, want %q", got, want)
	}
	if p.Name != "noetl-test" || p.Summary != "a test service" {
		t.Errorf("program %q %q", p.Name, p.Summary)
	}
}

// TestSecondSignalStops: the first SIGINT cancels the context and leaves the program to
// wind down; a second one stops the process, however long the wind-down would take.
func TestSecondSignalStops(t *testing.T) {
	if os.Getenv("NOETL_CLI_SIGNAL_CHILD") == "1" {
		ctx, cancel := SignalContext(context.Background())
		defer cancel()
		fmt.Println("ready")
		<-ctx.Done()
		fmt.Println("winding down")
		select {} // a drain that never ends
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondSignalStops$")
	cmd.Env = append(os.Environ(), "NOETL_CLI_SIGNAL_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	waitLine := func(want string) {
		t.Helper()
		for lines.Scan() {
			if lines.Text() == want {
				return
			}
		}
		t.Fatalf("the child never printed %q", want)
	}
	waitLine("ready")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waitLine("winding down")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("the second SIGINT did not stop the child")
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the child exited with %v; want it stopped by the second SIGINT", err)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("the child ended %v; want it killed by SIGINT", exit)
	}
}
