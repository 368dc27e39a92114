package e2e

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "slices"
import "strings"
import "testing"
import "time"

// cliResult is one run of the noetl binary.
type cliResult struct {
	Code        int
	Out, Stderr string
}

// noetl runs the built command-line client against the suite's router with env on top
// of NOETL_URL, and stdin as its standard input. Its output is a pipe, not a terminal,
// so a watch prints plain lines.
func (s *Suite) noetl(t *testing.T, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	needBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "noetl"), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NOETL_URL=" + s.URL}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := cliResult{Out: out.String(), Stderr: errOut.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("noetl %v: %v", args, err)
		}
		res.Code = ee.ExitCode()
	}
	return res
}

// must fails the test unless the run exited with code.
func (r cliResult) must(t *testing.T, code int, args ...string) cliResult {
	t.Helper()
	if r.Code != code {
		t.Fatalf("noetl %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.Code, code, r.Out, r.Stderr)
	}
	return r
}

const cliFailing = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: cli_fail
  path: tests/cli_fail
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: boom}]
  - step: boom
    tool:
      kind: python
      code: |
        raise ValueError("kaboom from the cli test")
    next: [{step: end}]
  - step: end
    tool: {kind: noop}
`

const cliSlow = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: cli_slow
  path: tests/cli_slow
workflow:
  - step: start
    tool:
      kind: shell
      command: "sleep 60"
    next: [{step: end}]
  - step: end
    tool: {kind: noop}
`

// TestNoetlCLI drives a suite with tokens and a worker through the noetl binary only:
// register the examples, run one with --watch, a failing one, cancel, credentials and
// -o json on the read commands.
func TestNoetlCLI(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{
		"NOETL_API_TOKEN": e2eAPIToken, "NOETL_WORKER_TOKEN": e2eWorkerToken,
	}})
	worker := s.StartWorker(t, map[string]string{"NOETL_WORKER_TOKEN": e2eWorkerToken})
	env := map[string]string{"NOETL_API_TOKEN": e2eAPIToken}
	run := func(t *testing.T, code int, args ...string) cliResult {
		t.Helper()
		return s.noetl(t, env, "", args...).must(t, code, args...)
	}

	// Without the token the server's 401 and its message reach the user.
	if r := s.noetl(t, nil, "", "executions"); r.Code != 1 || !strings.Contains(r.Stderr, "401") || !strings.Contains(r.Stderr, "Authorization") {
		t.Fatalf("without a token: exit %d\n%s", r.Code, r.Stderr)
	}

	t.Run("workers", func(t *testing.T) {
		r := run(t, 0, "workers", "--name", worker.ID)
		lines := strings.Split(strings.TrimSpace(r.Out), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], worker.ID+" ") ||
			!strings.Contains(lines[1], " ready ") || !strings.Contains(lines[1], " 2s ") {
			t.Errorf("workers --name %s: want the worker, ready, with its 2s heartbeat interval:\n%s", worker.ID, r.Out)
		}
		// A server that does not answer: one line, exit 1.
		gone := s.noetl(t, env, "", "workers", "--server", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)))
		if gone.Code != 1 || strings.Count(gone.Stderr, "\n") != 1 || !strings.Contains(gone.Stderr, "connection refused") {
			t.Errorf("an unreachable server: exit %d\n%s", gone.Code, gone.Stderr)
		}
	})

	t.Run("register examples", func(t *testing.T) {
		r := run(t, 0, "register", filepath.Join(root, "examples"))
		for _, p := range []string{"examples/hello_world", "examples/loop", "examples/http_call", "examples/postgres_query", "examples/sub_playbook", "examples/child_greeting"} {
			if !strings.Contains(r.Out, p+" ") {
				t.Errorf("register output lacks %s:\n%s", p, r.Out)
			}
		}
		var list []map[string]any
		r = run(t, 0, "catalog", "list", "-o", "json")
		if err := json.Unmarshal([]byte(r.Out), &list); err != nil || len(list) < 6 {
			t.Fatalf("catalog list -o json: %v (%d entries)\n%s", err, len(list), r.Out)
		}
		r = run(t, 0, "catalog", "show", "examples/hello_world")
		if !strings.Contains(r.Out, "version:    1") || !strings.Contains(r.Out, "kind: Playbook") {
			t.Errorf("catalog show:\n%s", r.Out)
		}
		if r := s.noetl(t, env, "", "catalog", "show", "examples/nope"); r.Code != 1 || !strings.Contains(r.Stderr, "404") || !strings.Contains(r.Stderr, "not found") {
			t.Errorf("catalog show of a missing path: exit %d\n%s", r.Code, r.Stderr)
		}
	})

	t.Run("run --watch", func(t *testing.T) {
		r := run(t, 0, "run", "examples/hello_world", "--set", "name=cli", "--watch", "--poll-interval", "100ms")
		for _, want := range []string{"step start completed", "step end completed", " COMPLETED in "} {
			if !strings.Contains(r.Out, want) {
				t.Errorf("watch output lacks %q:\n%s", want, r.Out)
			}
		}
		if strings.Contains(r.Out, "\x1b[") {
			t.Errorf("non-terminal output redraws in place:\n%q", r.Out)
		}
		r = run(t, 0, "run", "examples/loop", "--watch", "--poll-interval", "100ms")
		if !strings.Contains(r.Out, "step measure completed 4/4") {
			t.Errorf("loop watch lacks the loop progress:\n%s", r.Out)
		}
		// The worker's playbook tool reads the child's event log with the worker token
		// (it once got 401 there whenever tokens were set, as under `make run`).
		r = run(t, 0, "run", "examples/sub_playbook", "--watch", "--poll-interval", "100ms")
		if !strings.Contains(r.Out, "step end completed") {
			t.Errorf("sub-playbook watch output:\n%s", r.Out)
		}
	})

	t.Run("failing run", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "fail.yaml")
		if err := os.WriteFile(file, []byte(cliFailing), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, 0, "register", file)
		r := s.noetl(t, env, "", "run", "tests/cli_fail", "--watch", "--poll-interval", "100ms")
		if r.Code != 1 || !strings.Contains(r.Stderr, "step boom failed") || !strings.Contains(r.Stderr, "kaboom from the cli test") {
			t.Fatalf("failing run: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Out, r.Stderr)
		}
		if !strings.Contains(r.Out, "step boom failed") || !strings.Contains(r.Out, " FAILED in ") {
			t.Errorf("watch output:\n%s", r.Out)
		}
		var list []map[string]any
		r = run(t, 0, "executions", "--path", "tests/cli_fail", "--status", "failed", "-o", "json")
		if err := json.Unmarshal([]byte(r.Out), &list); err != nil || len(list) != 1 || list[0]["status"] != "FAILED" {
			t.Fatalf("executions -o json: %v\n%s", err, r.Out)
		}
		id := list[0]["execution_id"].(string)
		r = run(t, 0, "status", id)
		if !strings.Contains(r.Out, "FAILED") || !strings.Contains(r.Out, "step boom failed") {
			t.Errorf("status:\n%s", r.Out)
		}
		r = run(t, 0, "events", id, "-o", "yaml")
		if !strings.Contains(r.Out, "event_type: playbook.failed") {
			t.Errorf("events -o yaml:\n%s", r.Out)
		}
		if r := s.noetl(t, env, "", "events", id, "--follow"); r.Code != 1 || !strings.Contains(r.Out, "playbook.failed") {
			t.Errorf("events --follow of a failed run: exit %d\n%s", r.Code, r.Out)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "slow.yaml")
		if err := os.WriteFile(file, []byte(cliSlow), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, 0, "register", file)
		r := run(t, 0, "run", "tests/cli_slow", "-o", "json")
		var started map[string]any
		if err := json.Unmarshal([]byte(r.Out), &started); err != nil || started["status"] != "started" {
			t.Fatalf("run -o json: %v\n%s", err, r.Out)
		}
		id := started["execution_id"].(string)
		// logged reports whether the execution's log has an event of type typ.
		logged := func(typ string) bool {
			var evs []map[string]any
			r := s.noetl(t, env, "", "events", id, "-o", "json")
			return r.Code == 0 && json.Unmarshal([]byte(r.Out), &evs) == nil && slices.ContainsFunc(evs, func(e map[string]any) bool { return e["event_type"] == typ })
		}
		// Cancel while the worker runs `start`, so the worker's own report of the
		// stopped command arrives after the cancel.
		if !eventually(60*time.Second, func() bool { return logged("command.started") }) {
			t.Fatal("the worker never started tests/cli_slow's start step")
		}
		r = run(t, 0, "cancel", id)
		if !strings.Contains(r.Out, "cancel") {
			t.Errorf("cancel output:\n%s", r.Out)
		}
		if !eventually(60*time.Second, func() bool { return logged("command.failed") }) {
			t.Fatal("the worker never reported the cancelled command")
		}
		r = run(t, 0, "status", id, "-o", "json")
		var st map[string]any
		if err := json.Unmarshal([]byte(r.Out), &st); err != nil || st["status"] != "CANCELLED" || st["is_cancelled"] != true {
			t.Fatalf("status -o json after cancel: %v\n%s", err, r.Out)
		}
		// The step in flight was closed by the cancel; the worker's late report
		// changed nothing.
		if p, _ := st["progress"].(map[string]any); fmt.Sprint(p["running_steps"], p["cancelled_steps"], p["completed_steps"]) != "0 1 0" {
			t.Fatalf("progress after cancel: %v", st["progress"])
		}
		r = run(t, 0, "status", id)
		if !regexp.MustCompile(`(?m)^\s+start\s+cancelled\s`).MatchString(r.Out) || !strings.Contains(r.Out, "0 running, 0 failed, 1 cancelled") {
			t.Errorf("status after cancel:\n%s", r.Out)
		}
		if r := s.noetl(t, env, "", "events", id, "--follow"); r.Code != 3 || !strings.Contains(r.Stderr, "cancelled") {
			t.Errorf("events --follow of a cancelled run: exit %d\n%s\n%s", r.Code, r.Out, r.Stderr)
		}
	})

	t.Run("credentials", func(t *testing.T) {
		const secret = "cli-e2e-secret-value"
		r := s.noetl(t, env, `{"password": "`+secret+`", "user": "app"}`, "credentials", "set", "cli_db", "--type", "postgres", "--description", "from the cli")
		r.must(t, 0, "credentials set")
		if strings.Contains(r.Out+r.Stderr, secret) {
			t.Fatalf("credentials set echoed the value:\n%s%s", r.Out, r.Stderr)
		}
		r = run(t, 0, "credentials", "list", "-o", "json")
		var list []map[string]any
		if err := json.Unmarshal([]byte(r.Out), &list); err != nil || len(list) != 1 || list[0]["name"] != "cli_db" {
			t.Fatalf("credentials list -o json: %v\n%s", err, r.Out)
		}
		r = run(t, 0, "credentials", "get", "cli_db")
		if strings.Contains(r.Out, secret) || !strings.Contains(r.Out, "********") {
			t.Errorf("credentials get shows the value:\n%s", r.Out)
		}
		// The value is a worker-class read once tokens are set: the client token is refused
		// with the server's message, the internal token reads it.
		if r := s.noetl(t, env, "", "credentials", "get", "cli_db", "--reveal"); r.Code != 1 || !strings.Contains(r.Stderr, "401") {
			t.Errorf("--reveal with the client token: exit %d\n%s", r.Code, r.Stderr)
		}
		r = s.noetl(t, map[string]string{"NOETL_API_TOKEN": s.Token}, "", "credentials", "get", "cli_db", "--reveal").must(t, 0, "get --reveal")
		if !strings.Contains(r.Out, secret) {
			t.Errorf("--reveal does not print the value:\n%s", r.Out)
		}
		run(t, 0, "credentials", "delete", "cli_db")
		if r := s.noetl(t, env, "", "credentials", "get", "cli_db"); r.Code != 1 || !strings.Contains(r.Stderr, "404") {
			t.Errorf("get after delete: exit %d\n%s", r.Code, r.Stderr)
		}
		// A name with a slash goes through the router escaped and is found, then deleted.
		s.noetl(t, env, `{"token": "`+secret+`"}`, "credentials", "set", "team/db", "--type", "bearer").must(t, 0, "set team/db")
		if r := run(t, 0, "credentials", "get", "team/db", "-o", "json"); !strings.Contains(r.Out, `"name": "team/db"`) {
			t.Errorf("get team/db:\n%s", r.Out)
		}
		run(t, 0, "credentials", "delete", "team/db")
		if r := s.noetl(t, env, "", "credentials", "get", "team/db"); r.Code != 1 || !strings.Contains(r.Stderr, "404") {
			t.Errorf("get team/db after delete: exit %d\n%s", r.Code, r.Stderr)
		}
	})

	t.Run("version", func(t *testing.T) {
		r := run(t, 0, "version", "-o", "json")
		var v map[string]any
		if err := json.Unmarshal([]byte(r.Out), &v); err != nil || v["client"] == "" || v["server"] == "" {
			t.Fatalf("version -o json: %v\n%s", err, r.Out)
		}
		r = run(t, 0, "completion", "bash")
		if !strings.Contains(r.Out, "noetl") {
			t.Errorf("completion bash:\n%s", r.Out)
		}
	})
}
