package runner

import "context"
import "io"
import "log/slog"
import "reflect"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/services/worker/internal/tools/noop"
import "github.com/noetl/controlplane/shared/tmpl"

// invocations records the Exec.Invocation of every call and fails the first call of
// each name listed in its config's "fail_first".
type invocations struct {
	mu   sync.Mutex
	seen []string
}

func (r *invocations) Run(_ context.Context, c tool.Call) tool.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, c.Exec.Invocation)
	if c.Config["fail_first"] == true && len(r.seen) == 1 {
		return tool.Failed("test", false, "first call fails")
	}
	return tool.Result{Status: tool.Success}
}

// Each tool call of a command has its own invocation name (a retry too), and running the
// same command again repeats the same names: a playbook tool keys its child by them.
func TestInvocationNames(t *testing.T) {
	t.Parallel()
	retry := rules(map[string]any{"when": "{{ output.status == 'error' }}", "then": map[string]any{"do": "retry", "attempts": int64(3)}})
	tests := []struct {
		name string
		kind string
		cfg  any
		want []string
	}{
		{"a single tool and its retry", "rec", map[string]any{"fail_first": true, "spec": retry}, []string{"#1", "#2"}},
		{"pipeline tasks, a retry and a jump back", KindPipeline, []any{
			item("a", map[string]any{"kind": "rec", "fail_first": true, "spec": retry}),
			item("b", map[string]any{"kind": "noop", "result": "{{ (ctx.n | default(0)) + 1 }}",
				"spec": rules(map[string]any{"when": true, "then": map[string]any{"do": "continue", "set": map[string]any{"ctx.n": "{{ output.data }}"}}})}),
			item("c", map[string]any{"kind": "rec", "spec": rules(map[string]any{"when": "{{ ctx.n < 2 }}", "then": map[string]any{"do": "jump", "to": "b"}})}),
		}, []string{"a#1", "a#2", "c#1", "c#2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for run := range 2 {
				rec := &invocations{}
				rn := New(tool.Registry{"rec": rec, "noop": noop.New()}, tmpl.New(0), slog.New(slog.NewTextHandler(io.Discard, nil)))
				rn.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
				out := rn.Run(context.Background(), step(tc.kind, tc.cfg, map[string]any{}))
				if out.Result.Status != tool.Success {
					t.Fatalf("run %d: %s %q", run, out.Result.Status, out.Result.Error)
				}
				if !reflect.DeepEqual(rec.seen, tc.want) {
					t.Fatalf("run %d: invocations %q, want %q", run, rec.seen, tc.want)
				}
			}
		})
	}
}
