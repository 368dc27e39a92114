// Package e2e boots the built binaries as separate processes, the way `make run` and the
// deployment run them, and checks the suite from the outside through the router.
package e2e

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "io"
import "net"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/testkit"

var (
	binDir   string
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "noetl-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	buildErr = buildBinaries(dir)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinaries compiles the four services, the worker and the noetl client once for the
// whole package.
func buildBinaries(dir string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	for _, name := range []string{"api", "wallet", "broker", "router", "worker"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "noetl-"+name), "./services/"+name+"/cmd/noetl-"+name)
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", name, err, out.String())
		}
	}
	// The command-line client, which the CLI tests run against the suite.
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "noetl"), "./cli/cmd/noetl")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build noetl: %v\n%s", err, out.String())
	}
	return nil
}

func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("go.work not found above %s", wd)
}

func needBinaries(t testing.TB) {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("binaries did not build: %v", buildErr)
	}
}

// handedOut holds every port freePort has returned in this test process. The kernel may
// give a port it just handed to a closed probe listener to the next probe too, and two
// services of one suite then race for it (CI once saw the wallet and the broker both given
// 42319); remembering them makes each port freePort returns distinct.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// freePort returns a TCP port that was free a moment ago and that no earlier call in this
// process returned.
func freePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
}

// Proc is a running binary with its captured output.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	out  *testkit.LogBuffer
	done chan struct{}
	err  error
}

// Output is everything the process wrote so far.
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig and waits for the process to exit.
func (p *Proc) Stop(sig os.Signal, timeout time.Duration) error {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s", p.Name, timeout)
	}
}

// start runs bin with env (KEY=VALUE, on top of a minimal base environment).
func start(t testing.TB, name string, env map[string]string, args ...string) *Proc {
	t.Helper()
	needBinaries(t)
	cmd := exec.Command(filepath.Join(binDir, "noetl-"+name), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "HOSTNAME=e2e-" + name}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &Proc{Name: name, cmd: cmd, out: &testkit.LogBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = p.Stop(os.Interrupt, 10*time.Second)
		}
		if t.Failed() {
			t.Logf("---- %s output ----\n%s", name, tail(p.Output(), 60))
		}
	})
	return p
}

// runToExit runs a binary that is expected to exit and returns its exit code and output.
func runToExit(t testing.TB, name string, env map[string]string, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	p := start(t, name, env, args...)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %s; output:\n%s", name, timeout, p.Output())
	}
	code := 0
	if p.err != nil {
		if ee, ok := p.err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			t.Fatalf("%s: %v", name, p.err)
		}
	}
	return code, p.Output()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Suite is the four services running against one test schema.
type Suite struct {
	URL                          string // router base URL
	APIURL, WalletURL, BrokerURL string
	Token                        string
	Schema                       string
	// NATS is the server the suite uses; Commands the subject prefix and stream that
	// only this suite publishes to (deleted at cleanup).
	NATS                            string
	Commands                        testkit.CommandNamespace
	API, Wallet, Broker, Router     *Proc
	Client                          *http.Client
	RouterPort, APIPort, WalletPort int
	BrokerPort                      int
	// Certs are the suite's internal certificates (nil with PlainHTTP). Client presents
	// the "client" certificate and trusts their CA, so it can call the services directly.
	Certs *testkit.Certs
	// apiEnv is the api's environment, for StartAnotherAPI.
	apiEnv map[string]string
}

// StartAnotherAPI starts one more api process on the suite's schema and NATS namespace
// (its own port and snowflake node) and returns it with its base URL, once ready.
func (s *Suite) StartAnotherAPI(t testing.TB, machineID string) (*Proc, string) {
	t.Helper()
	port := freePort(t)
	env := map[string]string{}
	for k, v := range s.apiEnv {
		env[k] = v
	}
	env["NOETL_PORT"], env["NOETL_SERVER_MACHINE_ID"] = fmt.Sprint(port), machineID
	p := start(t, "api", env)
	url := strings.Replace(s.APIURL, fmt.Sprint(s.APIPort), fmt.Sprint(port), 1)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.Client.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, url
			}
		}
		if time.Now().After(deadline) || p.Exited() {
			t.Fatalf("second api not ready: %v\n%s", err, tail(p.Output(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SuiteOptions tweak the environment.
type SuiteOptions struct {
	DatabaseURL string            // default: the test server
	Extra       map[string]string // added to every service
	APIExtra    map[string]string
	RouterExtra map[string]string
	// PlainHTTP turns internal mTLS off. By default the suite runs as it is deployed:
	// api, wallet and broker require client certificates from the suite's CA, and every
	// service presents its own when it calls another. The router's public listener is
	// plain HTTP either way.
	PlainHTTP bool
	// Certs are the internal certificates to use (default: new ones for this suite).
	// Suites that call each other directly (two regions) share one CA.
	Certs *testkit.Certs
}

// migrateWith runs each service's own `migrate` (api, then wallet) with env, as a
// deployment does before the services start.
func migrateWith(t testing.TB, env map[string]string) {
	t.Helper()
	for _, svc := range []string{"api", "wallet"} {
		if code, out := runToExit(t, svc, env, 60*time.Second, "migrate"); code != 0 {
			t.Fatalf("noetl-%s migrate exited %d:\n%s", svc, code, out)
		}
	}
}

// MigratedSchema is a fresh schema migrated by the services' own commands, dropped when
// the test ends.
func MigratedSchema(t testing.TB) *testkit.Schema {
	t.Helper()
	needBinaries(t)
	schema := testkit.NewSchema(t)
	migrateWith(t, map[string]string{"DATABASE_URL": testkit.DatabaseURL(), "NOETL_SCHEMA": schema.Name})
	return schema
}

// StartSuite migrates a fresh schema (each service's own `migrate` command, as a
// deployment runs them) and starts api, wallet, broker and router.
func StartSuite(t testing.TB, o SuiteOptions) *Suite {
	t.Helper()
	needBinaries(t)
	schema := testkit.NewSchema(t) // empty; dropped at cleanup
	dbURL := o.DatabaseURL
	if dbURL == "" {
		dbURL = testkit.DatabaseURL()
	}
	s := &Suite{
		Token: "e2e-internal-token", Schema: schema.Name,
		RouterPort: freePort(t), APIPort: freePort(t), WalletPort: freePort(t), BrokerPort: freePort(t),
	}
	s.NATS = testkit.NATSURL()
	if u := o.Extra["NATS_URL"]; u != "" {
		s.NATS = u
	}
	s.Commands = testkit.NewCommandNamespace(t, s.NATS)
	scheme := "https"
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if o.PlainHTTP {
		scheme = "http"
	} else {
		s.Certs = o.Certs
		if s.Certs == nil {
			s.Certs = testkit.GenerateCerts(t)
		}
		tr.TLSClientConfig = s.Certs.ClientTLS(t, true)
	}
	s.Client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", s.RouterPort)
	s.APIURL = fmt.Sprintf("%s://127.0.0.1:%d", scheme, s.APIPort)
	s.WalletURL = fmt.Sprintf("%s://127.0.0.1:%d", scheme, s.WalletPort)
	s.BrokerURL = fmt.Sprintf("%s://127.0.0.1:%d", scheme, s.BrokerPort)
	base := map[string]string{
		"DATABASE_URL":              dbURL,
		"NOETL_SCHEMA":              schema.Name,
		"NOETL_INTERNAL_API_TOKEN":  s.Token,
		"NOETL_HOST":                "127.0.0.1",
		"NOETL_ENCRYPTION_KEY":      "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=",
		"NATS_URL":                  s.NATS,
		"NOETL_NATS_SUBJECT_PREFIX": s.Commands.Prefix,
		"NOETL_NATS_STREAM":         s.Commands.Stream,
		"NOETL_API_URL":             s.APIURL,
		"NOETL_WALLET_URL":          s.WalletURL,
		"NOETL_BROKER_URL":          s.BrokerURL,
		"NOETL_PUBLIC_SERVER_URL":   s.URL,
		"NOETL_SHUTDOWN_TIMEOUT":    "5s",
	}
	with := func(name string, port int, machine string, extra ...map[string]string) map[string]string {
		env := map[string]string{"NOETL_PORT": fmt.Sprint(port), "NOETL_SERVER_MACHINE_ID": machine}
		for k, v := range base {
			env[k] = v
		}
		if s.Certs != nil {
			for k, v := range internalTLSEnv(s.Certs, name) {
				env[k] = v
			}
		}
		for _, m := range append([]map[string]string{o.Extra}, extra...) {
			for k, v := range m {
				env[k] = v
			}
		}
		return env
	}
	migrateWith(t, with("api", s.APIPort, "10"))
	s.apiEnv = with("api", s.APIPort, "11", o.APIExtra)
	s.API = start(t, "api", s.apiEnv)
	s.Wallet = start(t, "wallet", with("wallet", s.WalletPort, "12"))
	s.Broker = start(t, "broker", with("broker", s.BrokerPort, "13"))
	s.Router = start(t, "router", with("router", s.RouterPort, "14", o.RouterExtra))
	s.WaitAllReady(t, 30*time.Second)
	return s
}

// WaitAllReady waits until the router's /readyz is 200 and its checks report every
// service ok. The router's own readiness follows the api only, so a test that began at
// that point would race the wallet's and the broker's startup.
func (s *Suite) WaitAllReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	var last string
	allOK := func() bool {
		resp, err := s.Client.Get(s.URL + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct {
			Checks map[string]string `json:"checks"`
		}
		raw, _ := io.ReadAll(resp.Body)
		last = string(raw)
		if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil {
			return false
		}
		for _, svc := range []string{"api", "wallet", "broker"} {
			if body.Checks[svc] != "ok" {
				return false
			}
		}
		return true
	}
	if !eventually(timeout, allOK) {
		t.Fatalf("suite not ready after %s: %s", timeout, last)
	}
}

// internalTLSEnv is the internal mTLS setting of one service, as make run, the compose
// file and the chart set it: every service presents its own certificate when it calls
// another; api, wallet and broker also serve with it and require one from their callers.
// The router's listener is the public surface and keeps its own (here: plain) setting.
func internalTLSEnv(c *testkit.Certs, service string) map[string]string {
	cert, key := c.Service(service)
	env := map[string]string{
		"NOETL_INTERNAL_TLS_CERT": cert,
		"NOETL_INTERNAL_TLS_KEY":  key,
		"NOETL_INTERNAL_TLS_CA":   c.CAFile,
	}
	if service != "router" {
		env["NOETL_TLS_CERT"], env["NOETL_TLS_KEY"], env["NOETL_TLS_CLIENT_CA"] = cert, key, c.CAFile
	}
	return env
}

// WaitReady waits until the router's /readyz is 200.
func (s *Suite) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	if !eventually(timeout, func() bool { return s.status(t, "/readyz") == http.StatusOK }) {
		resp, body := s.Get(t, "/readyz")
		t.Fatalf("suite not ready after %s: %d %s", timeout, resp.StatusCode, body)
	}
}

func (s *Suite) status(t testing.TB, path string) int {
	resp, err := s.Client.Get(s.URL + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Get fetches a router path.
func (s *Suite) Get(t testing.TB, path string) (*http.Response, string) {
	t.Helper()
	return s.Do(t, http.MethodGet, path, "", "", nil)
}

// Do sends a request to the router and returns the response and body, which must match
// the OpenAPI document's schema for the route (checkResponse).
func (s *Suite) Do(t testing.TB, method, path, contentType, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if err := checkResponse(req, resp.StatusCode, resp.Header, buf.Bytes()); err != nil {
		t.Error(err)
	}
	return resp, buf.String()
}

func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}
