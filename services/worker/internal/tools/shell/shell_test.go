package shell

import "context"
import "errors"
import "fmt"
import "os"
import "path/filepath"
import "reflect"
import "strings"
import "testing"
import "time"
import "unicode/utf8"

import "github.com/noetl/controlplane/services/worker/internal/proc"
import "github.com/noetl/controlplane/services/worker/internal/tool"

func TestShell(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name   string
		cfg    map[string]any
		status tool.Status
		data   map[string]any
		error  string
	}{
		{"output and exit code", map[string]any{"command": "echo answer-$((6 * 7)); echo to-stderr >&2"}, tool.Success,
			map[string]any{"exit_code": int64(0), "stdout": "answer-42\n", "stderr": "to-stderr\n"}, ""},
		{"env and cwd", map[string]any{"command": "echo $GREETING > f && cat f", "cwd": dir, "env": map[string]any{"GREETING": "hi", "N": int64(1)}}, tool.Success,
			map[string]any{"exit_code": int64(0), "stdout": "hi\n", "stderr": ""}, ""},
		{"a non-zero exit is an error with the last stderr line", map[string]any{"command": "echo nope >&2; exit 3"}, tool.Error,
			map[string]any{"exit_code": int64(3), "stdout": "", "stderr": "nope\n"}, "Shell command exited with code 3: nope"},
		{"no command", map[string]any{}, tool.Error, nil, "command is required"},
		// The start would fail blaming the shell: "fork/exec /usr/bin/sh: no such file".
		{"a missing cwd", map[string]any{"command": "pwd", "cwd": dir + "/nowhere"}, tool.Error, nil,
			"Configuration error: shell: cwd: stat " + dir + "/nowhere: no such file or directory"},
		{"a cwd that is a file", map[string]any{"command": "pwd", "cwd": "/etc/hostname"}, tool.Error, nil, `cwd "/etc/hostname" is not a directory`},
		// A=B would set A, and an empty name nothing, while the step ran on as if set.
		{"an env name with =", map[string]any{"command": "echo $A", "env": map[string]any{"A=B": "c"}}, tool.Error, nil, `env: "A=B" is not a variable name`},
		{"an empty env name", map[string]any{"command": "echo $A", "env": map[string]any{"": "c"}}, tool.Error, nil, `env: "" is not a variable name`},
		{"a NUL in the command", map[string]any{"command": "echo a\x00b"}, tool.Error, nil,
			"Configuration error: shell: command holds a NUL byte, which no command line can"},
		{"a NUL in an env value", map[string]any{"command": "echo $A", "env": map[string]any{"A": "a\x00b"}}, tool.Error, nil, "env.A holds a NUL byte"},
		// The job outlives the shell with its stdout open: it is killed with the group, and
		// the shell's own exit status is the outcome (it was -1, an error).
		{"a background job does not change the exit status", map[string]any{"command": "echo started; sleep 30 &"}, tool.Success,
			map[string]any{"exit_code": int64(0), "stdout": "started\n", "stderr": ""}, ""},
		// Killed from outside (the OOM killer, a kill): the code a shell reports, 128+n,
		// and the signal named, not "exited with code -1".
		{"a signal names itself", map[string]any{"command": "echo dying >&2; kill -9 $$"}, tool.Error,
			map[string]any{"exit_code": int64(137), "stdout": "", "stderr": "dying\n"}, "Shell command was killed by signal 9 (killed): dying"},
		// A variable holds one string: a list would otherwise arrive as its JSON text.
		{"a list as an env value", map[string]any{"command": "echo $DIRS", "env": map[string]any{"DIRS": []any{"/a", "/b"}}}, tool.Error, nil,
			"Configuration error: shell: env.DIRS is a list; give one string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := New().Run(context.Background(), tool.Call{Kind: "shell", Config: tc.cfg})
			if r.Status != tc.status || !strings.Contains(r.Error, tc.error) {
				t.Fatalf("got %s %q", r.Status, r.Error)
			}
			if tc.data != nil && !reflect.DeepEqual(r.Data, tc.data) {
				t.Fatalf("data %#v", r.Data)
			}
		})
	}
}

// A cancelled command kills the shell and what it started at once.
func TestShellCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan tool.Result, 1)
	go func() {
		done <- New().Run(ctx, tool.Call{Kind: "shell", Config: map[string]any{"command": "sleep 30 & sleep 30"}})
	}()
	time.AfterFunc(200*time.Millisecond, cancel)
	select {
	case r := <-done:
		if r.Status != tool.Error || r.Fault.Kind != "cancelled" {
			t.Fatalf("got %s %+v", r.Status, r.Fault)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the cancelled shell kept running")
	}
}

// The worker's NATS URL may carry its NATS credentials (nats://user:pass@host): the
// shell sees where NATS is, not how the worker logs in.
func TestShellEnvironmentHidesNATSCredentials(t *testing.T) {
	t.Setenv("NATS_URL", "nats://worker:nats-Secret-1@nats-a:4222, tls://tok-Secret-2@nats-b:4222,nats://nats-c:4222")
	t.Setenv("NOETL_NATS_URL", "nats://u:nats-Secret-3@nats-d:4222")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := New().Run(ctx, tool.Call{Kind: "shell", Config: map[string]any{"command": `echo "$NATS_URL|$NOETL_NATS_URL"`}})
	if r.Status != tool.Success {
		t.Fatalf("%s: %s", r.Status, r.Error)
	}
	want := "nats://nats-a:4222,tls://nats-b:4222,nats://nats-c:4222|nats://nats-d:4222\n"
	if got := r.Data.(map[string]any)["stdout"]; got != want {
		t.Fatalf("the shell saw %q, want %q", got, want)
	}
}

// Output past the bound is cut at a character boundary: half a character would reach
// JSON as U+FFFD.
func TestShellOutputBoundKeepsWholeCharacters(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// proc.MaxOutput-1 ASCII bytes, then a two-byte é straddling the bound.
	cmd := fmt.Sprintf("head -c %d /dev/zero | tr '\\000' a; printf '\\303\\251'", proc.MaxOutput-1)
	r := New().Run(ctx, tool.Call{Kind: "shell", Config: map[string]any{"command": cmd}})
	if r.Status != tool.Success {
		t.Fatalf("%s: %s", r.Status, r.Error)
	}
	out := r.Data.(map[string]any)["stdout"].(string)
	want := "\n[output truncated: 2 more bytes]"
	if !strings.HasSuffix(out, want) || len(out) != proc.MaxOutput-1+len(want) || !utf8.ValidString(out) {
		t.Fatalf("stdout ends %q (%d bytes, valid UTF-8 %t)", out[len(out)-40:], len(out), utf8.ValidString(out))
	}
}

// Output that is not UTF-8 reaches the data as {base64, size} with an encoding marker,
// as the http tool gives such a body: a JSON string would turn each byte into U+FFFD.
func TestShellBinaryOutputKeepsEveryByte(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command string
		stdout  any
		stderr  any
		marks   []string
	}{
		{"binary stdout", `printf 'a\377\376b'; printf 'plain' >&2`,
			map[string]any{"base64": "Yf/+Yg==", "size": int64(4)}, "plain", []string{"stdout_encoding"}},
		{"latin-1 stderr", `printf 'ok'; printf 'caf\351' >&2`,
			"ok", map[string]any{"base64": "Y2Fm6Q==", "size": int64(4)}, []string{"stderr_encoding"}},
		{"UTF-8 stays text", `printf 'caf\303\251'`, "café", "", nil},
		{"a NUL byte: base64, which PostgreSQL can store", `printf 'a\000b'`,
			map[string]any{"base64": "YQBi", "size": int64(3)}, "", []string{"stdout_encoding"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := New().Run(context.Background(), tool.Call{Kind: "shell", Config: map[string]any{"command": tc.command}})
			if r.Status != tool.Success {
				t.Fatalf("%s: %s", r.Status, r.Error)
			}
			want := map[string]any{"exit_code": int64(0), "stdout": tc.stdout, "stderr": tc.stderr}
			for _, m := range tc.marks {
				want[m] = "base64"
			}
			if !reflect.DeepEqual(r.Data, want) {
				t.Fatalf("data %#v, want %#v", r.Data, want)
			}
			// The text beside the data (the ToolResult's stdout) holds no NUL either.
			if r.Stdout == nil || strings.ContainsRune(*r.Stdout, 0) {
				t.Fatalf("ToolResult stdout %q", stringOf(r.Stdout))
			}
		})
	}
}

func stringOf(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// A step's temporary files (a key written for a command line tool) go with the step:
// its TMPDIR is a directory of its own, removed when it ends. A TMPDIR the step sets
// itself is its own business.
func TestShellTemporaryFilesGoWithTheStep(t *testing.T) {
	t.Parallel()
	r := New().Run(context.Background(), tool.Call{Kind: "shell", Config: map[string]any{
		"command": `f=$(mktemp) && echo s3cret > "$f" && mkdir -p "$TMPDIR/locked/in" && chmod 000 "$TMPDIR/locked" && echo "$f"`}})
	if r.Status != tool.Success {
		t.Fatalf("got %s %q", r.Status, r.Error)
	}
	path := strings.TrimSpace(*r.Stdout)
	if !strings.HasPrefix(path, os.TempDir()+"/noetl-step-") {
		t.Fatalf("the temporary file %q is not in a directory of the step's", path)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the step's temporary directory is left behind: %v", err)
	}
	own := t.TempDir()
	r = New().Run(context.Background(), tool.Call{Kind: "shell", Config: map[string]any{
		"command": `mktemp`, "env": map[string]any{"TMPDIR": own}}})
	if path := strings.TrimSpace(*r.Stdout); r.Status != tool.Success || filepath.Dir(path) != own {
		t.Fatalf("got %s %q %q", r.Status, r.Error, path)
	}
}
