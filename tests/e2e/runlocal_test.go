package e2e

import "bytes"
import "context"
import "encoding/base64"
import "encoding/json"
import "fmt"
import "net"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/testkit"

// runLocal starts scripts/run-local.sh (what `make run` runs after building) with the
// e2e binaries and its own run directory, in its own process group.
func runLocal(t *testing.T, env map[string]string) (*exec.Cmd, *testkit.LogBuffer, chan error) {
	t.Helper()
	needBinaries(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "run-local.sh"))
	cmd.Dir = root
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NOETL_RUN_BIN_DIR=" + binDir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &testkit.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			t.Logf("---- run-local.sh output ----\n%s", out.String())
		}
	})
	return cmd, out, done
}

// TestMakeRunRefusesTakenPorts: a port in use (or given twice) stops `make run` at once,
// naming the port and the variable, before anything starts.
func TestMakeRunRefusesTakenPorts(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) // the subtests run after this function returns
	taken := ln.Addr().(*net.TCPAddr).Port
	free := freePort(t)
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"taken", map[string]string{"NOETL_RUN_API_PORT": fmt.Sprint(taken)},
			[]string{fmt.Sprintf("port %d (api) is already in use", taken), "NOETL_RUN_API_PORT"}},
		{"twice", map[string]string{"NOETL_RUN_API_PORT": fmt.Sprint(free), "NOETL_RUN_WALLET_PORT": fmt.Sprint(free)},
			[]string{fmt.Sprintf("port %d is set for both api and wallet", free)}},
		{"not a port", map[string]string{"NOETL_RUN_BROKER_PORT": "eighty"}, []string{"NOETL_RUN_BROKER_PORT=eighty is not a port number"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"NOETL_RUN_DIR": t.TempDir(),
				"NOETL_RUN_ROUTER_PORT": fmt.Sprint(freePort(t)), "NOETL_RUN_API_PORT": fmt.Sprint(freePort(t)),
				"NOETL_RUN_WALLET_PORT": fmt.Sprint(freePort(t)), "NOETL_RUN_BROKER_PORT": fmt.Sprint(freePort(t))}
			for k, v := range tc.env {
				env[k] = v
			}
			_, out, done := runLocal(t, env)
			var err error
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("make run did not stop at once")
			}
			if err == nil {
				t.Fatalf("make run succeeded with %v", tc.env)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), "migrations") || strings.Contains(out.String(), "deps:") {
				t.Errorf("something started before the port check:\n%s", out.String())
			}
		})
	}
}

// TestMakeRun brings the suite up the way `make run` does, with ports and schema from the
// environment and a token the user exported (which wins over .run/dev.env), uses it from
// "another terminal" with the printed token, and stops it with Ctrl-C (SIGINT to the whole
// process group, as a terminal sends it) while the worker runs a command, twice: the
// worker finishes and reports it and deregisters before the services stop.
func TestMakeRun(t *testing.T) {
	t.Parallel()
	schema := testkit.UniqueName("run_")
	t.Cleanup(func() { testkit.DropSchema(t, schema) })
	runDir := t.TempDir()
	// A dev.env from an earlier session, whose token the user overrides.
	if err := os.WriteFile(filepath.Join(runDir, "dev.env"), []byte("NOETL_ENCRYPTION_KEY=EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8=\nNOETL_INTERNAL_API_TOKEN=from-dev-env\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := map[string]int{"router": freePort(t), "api": freePort(t), "wallet": freePort(t), "broker": freePort(t), "worker": freePort(t)}
	env := map[string]string{
		"NOETL_RUN_DIR": runDir, "DATABASE_URL": testkit.DatabaseURL(), "NOETL_SCHEMA": schema,
		"NATS_URL": testkit.NATSURL(), "NOETL_INTERNAL_API_TOKEN": "exported-by-the-user",
		"NOETL_RUN_ROUTER_PORT": fmt.Sprint(ports["router"]), "NOETL_RUN_API_PORT": fmt.Sprint(ports["api"]),
		"NOETL_RUN_WALLET_PORT": fmt.Sprint(ports["wallet"]), "NOETL_RUN_BROKER_PORT": fmt.Sprint(ports["broker"]),
		"NOETL_RUN_WORKER_PORT": fmt.Sprint(ports["worker"]),
	}
	for k, v := range testkit.NewCommandNamespace(t, testkit.NATSURL()).Env() {
		env[k] = v // its own commands: no other suite's worker takes them
	}
	cmd, out, done := runLocal(t, env)
	if !eventually(90*time.Second, func() bool { return strings.Contains(out.String(), "is up") || cmd.ProcessState != nil }) {
		t.Fatalf("make run never said it is up")
	}
	if !strings.Contains(out.String(), "is up") {
		t.Fatalf("make run failed")
	}
	if !strings.Contains(out.String(), "schema "+schema) || !strings.Contains(out.String(), fmt.Sprintf("http://localhost:%d", ports["router"])) {
		t.Errorf("banner does not show the configured schema and port")
	}
	m := regexp.MustCompile(`internal token: (\S+)`).FindStringSubmatch(out.String())
	if m == nil || m[1] != "exported-by-the-user" {
		t.Fatalf("printed token %v, want the exported one", m)
	}
	client, err := os.ReadFile(filepath.Join(runDir, "client.env"))
	if err != nil || !bytes.Contains(client, []byte("NOETL_INTERNAL_API_TOKEN=exported-by-the-user")) {
		t.Fatalf("client.env = %q, %v", client, err)
	}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/api/internal/outbox/pending-count", ports["router"]), nil)
	req.Header.Set("Authorization", "Bearer "+m[1])
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("internal route with the printed token: %d", resp.StatusCode)
	}
	// Internal mTLS is on: the api refuses a caller without a client certificate.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", ports["api"])); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("api over plain HTTP: %d, want refused", resp.StatusCode)
		}
	}

	// A command in the worker's hands when Ctrl-C comes.
	router := fmt.Sprintf("http://127.0.0.1:%d", ports["router"])
	apiToken := regexp.MustCompile(`NOETL_API_TOKEN=(\S+)`).FindSubmatch(client)
	if apiToken == nil {
		t.Fatalf("client.env has no NOETL_API_TOKEN: %q", client)
	}
	call := func(method, path, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, router+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+string(apiToken[1]))
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v %v", method, path, resp.StatusCode, v, err)
		}
		return v
	}
	// A second worker started from a shell that sourced client.env (README,
	// "Authentication") joins this suite: it registers with this router (it called
	// localhost:8082 before) and consumes this suite's prefix and stream.
	second := exec.Command("bash", "-c", `source "$1" && exec noetl-worker serve`, "bash", filepath.Join(runDir, "client.env"))
	second.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"NOETL_PORT=" + fmt.Sprint(freePort(t)), "WORKER_ID=second-from-client-env"}
	secondOut := &testkit.LogBuffer{}
	second.Stdout, second.Stderr = secondOut, secondOut
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	secondDone := make(chan struct{}) // closed once it exited: stopSecond may run twice
	go func() { _ = second.Wait(); close(secondDone) }()
	stopSecond := func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		select {
		case <-secondDone:
		case <-time.After(30 * time.Second):
			_ = second.Process.Kill()
			<-secondDone
		}
	}
	t.Cleanup(stopSecond)
	if !eventually(30*time.Second, func() bool {
		req, _ := http.NewRequest(http.MethodGet, router+"/api/worker/pools?name=second-from-client-env", nil)
		req.Header.Set("Authorization", "Bearer "+string(apiToken[1]))
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var pools []map[string]any
		return json.NewDecoder(resp.Body).Decode(&pools) == nil && len(pools) == 1
	}) {
		t.Fatalf("a worker started from client.env never registered with this suite:\n%s", secondOut.String())
	}
	subject := fmt.Sprintf(`"subject":"%s.commands.shared.>"`, env["NOETL_NATS_SUBJECT_PREFIX"])
	if !eventually(30*time.Second, func() bool { return strings.Contains(secondOut.String(), subject) }) {
		t.Errorf("the worker started from client.env does not consume this suite's commands (%s):\n%s", subject, secondOut.String())
	}
	stopSecond() // it deregisters: the count of worker rows below stays that of make run's

	nap := "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: nap, path: run/nap}\nworkflow:\n" +
		"  - step: start\n    tool: {kind: python, code: \"import time\\ntime.sleep(5)\\nresult = {'slept': True}\"}\n"
	content, _ := json.Marshal(map[string]any{"content": base64.StdEncoding.EncodeToString([]byte(nap))})
	call(http.MethodPost, "/api/catalog/register", string(content))
	id := fmt.Sprint(call(http.MethodPost, "/api/execute", `{"path": "run/nap"}`)["execution_id"])
	if !eventually(60*time.Second, func() bool {
		evs, _ := call(http.MethodGet, "/api/executions/"+id+"/events", "")["events"].([]any)
		for _, e := range evs {
			if m, _ := e.(map[string]any); m["event_type"] == "command.started" {
				return true
			}
		}
		return false
	}) {
		t.Fatal("the worker never started the command")
	}

	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	// An impatient second Ctrl-C while the worker finishes its command: the stop goes on
	// in order (it used to end the script at once and leave the services running).
	if !eventually(30*time.Second, func() bool { return strings.Contains(out.String(), "stopping the worker") }) {
		t.Fatal("make run did not start stopping after Ctrl-C")
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("make run after Ctrl-C: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("make run did not stop after Ctrl-C")
	}
	if !strings.Contains(out.String(), "already stopping") {
		t.Errorf("the second Ctrl-C was not acknowledged:\n%s", out.String())
	}
	for svc, p := range ports {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second); err == nil {
			c.Close()
			t.Errorf("%s still listens on %d after make run stopped", svc, p)
		}
	}
	pool := testkit.OpenURL(t, testkit.DatabaseURL())
	var status string
	var workers int
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pool.QueryRow(ctx, `SELECT status FROM `+schema+`.execution WHERE execution_id::text = $1`, id).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.runtime WHERE kind = 'worker_pool'`).Scan(&workers); err != nil {
		t.Fatal(err)
	}
	if status != "COMPLETED" || workers != 0 {
		t.Errorf("after Ctrl-C: the execution the worker held is %s (want COMPLETED: reported before the services stopped) and %d worker rows remain (want 0: deregistered)\n%s", status, workers, out.String())
	}
}

// TestMakeRunOneTokenEmptied: `NOETL_API_TOKEN= make run` leaves only the worker token
// set, which the client routes then take (docs/security.md), so .run/client.env gives
// clients that value as their NOETL_API_TOKEN: a client that sourced it reads the
// executions, and one without a token is refused. The exported token holds `$$` and a
// space, which client.env once wrote unquoted: sourced, `$$` became the shell's pid.
func TestMakeRunOneTokenEmptied(t *testing.T) {
	t.Parallel()
	const workerToken = "exported-worker-token pa$$word"
	schema := testkit.UniqueName("run_")
	t.Cleanup(func() { testkit.DropSchema(t, schema) })
	runDir := t.TempDir()
	ports := map[string]int{"router": freePort(t), "api": freePort(t), "wallet": freePort(t), "broker": freePort(t), "worker": freePort(t)}
	env := map[string]string{
		"NOETL_RUN_DIR": runDir, "DATABASE_URL": testkit.DatabaseURL(), "NOETL_SCHEMA": schema,
		"NATS_URL": testkit.NATSURL(), "NOETL_API_TOKEN": "", "NOETL_WORKER_TOKEN": workerToken,
		"NOETL_RUN_ROUTER_PORT": fmt.Sprint(ports["router"]), "NOETL_RUN_API_PORT": fmt.Sprint(ports["api"]),
		"NOETL_RUN_WALLET_PORT": fmt.Sprint(ports["wallet"]), "NOETL_RUN_BROKER_PORT": fmt.Sprint(ports["broker"]),
		"NOETL_RUN_WORKER_PORT": fmt.Sprint(ports["worker"]),
	}
	for k, v := range testkit.NewCommandNamespace(t, testkit.NATSURL()).Env() {
		env[k] = v
	}
	cmd, out, _ := runLocal(t, env)
	if !eventually(90*time.Second, func() bool { return strings.Contains(out.String(), "is up") || cmd.ProcessState != nil }) ||
		!strings.Contains(out.String(), "is up") {
		t.Fatalf("make run did not come up")
	}
	// What a terminal that sourced client.env holds.
	sourced, err := exec.Command("bash", "-c", `source "$1" && printf '%s\n%s\n' "$NOETL_API_TOKEN" "$NOETL_WORKER_TOKEN"`,
		"bash", filepath.Join(runDir, "client.env")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := workerToken + "\n" + workerToken + "\n"; string(sourced) != want {
		t.Errorf("client.env sourced gives NOETL_API_TOKEN and NOETL_WORKER_TOKEN %q, want %q", sourced, want)
	}
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"the client.env token", workerToken, http.StatusOK},
		{"no token", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/api/executions", ports["router"]), nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("GET /api/executions: %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}
