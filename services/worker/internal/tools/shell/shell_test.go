package shell

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/noetl/controlplane/services/worker/internal/tool"
)

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
