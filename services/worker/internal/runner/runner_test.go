package runner

import "context"
import "io"
import "log/slog"
import "reflect"
import "sort"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/credentials"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/services/worker/internal/tools/noop"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/tmpl"

// flaky fails until its call number reaches `succeed_on` (0: never), and echoes its
// config as data. Calls are counted per label (config "label").
type flaky struct {
	mu    sync.Mutex
	calls map[string]int
}

func (f *flaky) Run(_ context.Context, c tool.Call) tool.Result {
	f.mu.Lock()
	label, _ := c.Config["label"].(string)
	f.calls[label]++
	n := f.calls[label]
	f.mu.Unlock()
	succeed, _ := c.Config["succeed_on"].(int64)
	data := map[string]any{"call": int64(n), "config": c.Config}
	if succeed == 0 || int64(n) < succeed {
		return tool.Result{Status: tool.Error, Error: "attempt " + string(rune('0'+n)) + " failed", Fault: &tool.Fault{Kind: "test"}}.WithData(data)
	}
	return tool.Result{Status: tool.Success}.WithData(data)
}

type noCreds struct{}

func (noCreds) Credential(context.Context, string, string, int64) (controlplane.Credential, error) {
	return controlplane.Credential{}, controlplane.ErrCredentialNotFound
}
func (noCreds) SealedCredential(context.Context, string, string, string, int64) ([]byte, error) {
	return nil, controlplane.ErrCredentialNotFound
}

func newRunner(t *testing.T) (*Runner, *flaky, *[]time.Duration) {
	t.Helper()
	f := &flaky{calls: map[string]int{}}
	rn := New(tool.Registry{"flaky": f, "noop": noop.New()}, tmpl.New(0), slog.New(slog.NewTextHandler(io.Discard, nil)))
	var slept []time.Duration
	var mu sync.Mutex
	rn.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return ctx.Err()
	}
	return rn, f, &slept
}

func step(kind string, cfg any, vars map[string]any) Step {
	key, _ := sealed.GenerateSecretKey()
	exec := tool.Exec{ExecutionID: 1, Step: "s", CommandID: "1:s:2"}
	return Step{Kind: kind, Config: cfg, Vars: vars, Exec: exec,
		Creds: credentials.NewResolver(noCreds{}, false, key, "w").Session(exec)}
}

func rules(rs ...any) map[string]any {
	return map[string]any{"policy": map[string]any{"rules": rs}}
}

func TestSingleToolPolicy(t *testing.T) {
	t.Parallel()
	onError := func(then map[string]any) map[string]any {
		return map[string]any{"when": "{{ output.status == 'error' }}", "then": then}
	}
	tests := []struct {
		name     string
		cfg      map[string]any
		status   tool.Status
		attempts int
		error    string
		updates  map[string]any
		slept    []time.Duration
	}{
		{"no rules: an error fails", map[string]any{"label": "a"}, tool.Error, 1, "attempt 1 failed", nil, nil},
		{"retry until it succeeds", map[string]any{"label": "a", "succeed_on": int64(3),
			"spec": rules(onError(map[string]any{"do": "retry", "attempts": int64(5), "delay": 0.1}))},
			tool.Success, 3, "", nil, []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}},
		{"retry runs out with the last attempt's error", map[string]any{"label": "a",
			"spec": rules(onError(map[string]any{"do": "retry", "attempts": "3", "backoff": "exponential", "delay": 1}))},
			tool.Error, 3, "attempt 3 failed", nil, []time.Duration{time.Second, 2 * time.Second}},
		{"continue makes a success, and its set travels as _context_updates", map[string]any{"label": "a",
			"spec": rules(onError(map[string]any{"do": "continue", "set": map[string]any{"ctx.seen": "{{ output.data.call }}"}}))},
			tool.Success, 1, "", map[string]any{"ctx.seen": int64(1)}, nil},
		{"retries spent: the error keeps the rules' set as _context_updates", map[string]any{"label": "a",
			"spec": rules(onError(map[string]any{"do": "retry", "attempts": int64(2), "set": map[string]any{"ctx.tries": "{{ _attempt }}"}}))},
			tool.Error, 2, "attempt 2 failed", map[string]any{"ctx.tries": int64(2)}, []time.Duration{0}},
		{"fail on a success", map[string]any{"label": "a", "succeed_on": int64(1),
			"spec": rules(map[string]any{"when": "{{ output.data.call == 1 }}", "then": map[string]any{"do": "fail"}})},
			tool.Error, 1, "policy rule triggered fail for step 's'", nil, nil},
		{"jump outside a pipeline", map[string]any{"label": "a", "spec": rules(onError(map[string]any{"do": "jump", "to": "x"}))},
			tool.Error, 1, "only valid inside a pipeline", nil, nil},
		{"an unknown verb fails the step before the tool runs", map[string]any{"label": "a", "succeed_on": int64(1),
			"spec": rules(onError(map[string]any{"do": "contineu"}))},
			tool.Error, 0, "Configuration error: spec.policy.rules[0].then: unknown action 'contineu'", nil, nil},
		{"rules are rendered per attempt with _attempt", map[string]any{"label": "a",
			"spec": rules(map[string]any{"when": "{{ _attempt < 2 }}", "then": map[string]any{"do": "retry"}},
				map[string]any{"else": map[string]any{"then": map[string]any{"do": "break"}}})},
			tool.Success, 2, "", nil, []time.Duration{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rn, _, slept := newRunner(t)
			out := rn.Run(context.Background(), step("flaky", tc.cfg, map[string]any{}))
			if out.Result.Status != tc.status || out.Attempts != tc.attempts || !strings.Contains(out.Result.Error, tc.error) {
				t.Fatalf("got %s after %d attempts: %q", out.Result.Status, out.Attempts, out.Result.Error)
			}
			data, _ := out.Result.Data.(map[string]any)
			cu, _ := data["_context_updates"].(map[string]any)
			if !reflect.DeepEqual(cu, tc.updates) && !(cu == nil && tc.updates == nil) {
				t.Fatalf("_context_updates = %#v, want %#v", cu, tc.updates)
			}
			if !reflect.DeepEqual(*slept, tc.slept) && !(len(*slept) == 0 && tc.slept == nil) {
				t.Fatalf("slept %v, want %v", *slept, tc.slept)
			}
		})
	}
}

// Templates the server deferred are rendered against the command's context; plain
// strings it already rendered keep their type.
func TestSingleToolRendersDeferredTemplates(t *testing.T) {
	t.Parallel()
	rn, _, _ := newRunner(t)
	out := rn.Run(context.Background(), step("noop", map[string]any{"result": map[string]any{
		"later": "{{ ctx.x + 1 }}", "text": "007", "kept": int64(5),
	}}, map[string]any{"ctx": map[string]any{"x": int64(41)}}))
	want := map[string]any{"later": int64(42), "text": "007", "kept": int64(5)}
	if out.Result.Status != tool.Success || !reflect.DeepEqual(out.Result.Data, want) {
		t.Fatalf("got %s %#v", out.Result.Status, out.Result.Data)
	}
}

func item(label string, spec map[string]any) map[string]any { return map[string]any{label: spec} }

func TestPipeline(t *testing.T) {
	t.Parallel()
	rn, _, _ := newRunner(t)
	cfg := []any{
		item("seed", map[string]any{"kind": "noop", "input": map[string]any{"base": "{{ workload.base }}"},
			"result": "{{ {'n': base, 'tag': 'seed'} }}", "set": map[string]any{"ctx.seed_n": "{{ output.n }}"}}),
		item("grow", map[string]any{"kind": "noop", "input": map[string]any{"prev_n": "{{ _prev.n }}", "seeded": "{{ ctx.seed_n }}"},
			"result": "{{ {'n': prev_n * 3, 'seeded': seeded, 'tag': 'grow'} }}",
			"spec": rules(map[string]any{"when": "{{ output.status != 'error' }}",
				"then": map[string]any{"do": "continue", "set": map[string]any{"ctx.grown": "{{ output.data.n }}"}}})}),
		map[string]any{"name": "fold", "kind": "noop", "input": map[string]any{"first": "{{ _results.seed.n }}", "second": "{{ grow.data.n }}"},
			"result": "{{ {'sum': first + second} }}"},
	}
	out := rn.Run(context.Background(), step(KindPipeline, cfg, map[string]any{"workload": map[string]any{"base": int64(5)}}))
	if out.Result.Status != tool.Success {
		t.Fatalf("status %s: %s", out.Result.Status, out.Result.Error)
	}
	want := map[string]any{
		"seed": map[string]any{"n": int64(5), "tag": "seed"},
		"grow": map[string]any{"n": int64(15), "seeded": int64(5), "tag": "grow"},
		"fold": map[string]any{"sum": int64(20)},
		// Task-level set stays in the worker; rule sets are returned.
		"_context_updates": map[string]any{"ctx.grown": int64(15)},
	}
	if !reflect.DeepEqual(out.Result.Data, want) {
		t.Fatalf("data %#v\nwant %#v", out.Result.Data, want)
	}
}

func TestPipelineControl(t *testing.T) {
	t.Parallel()
	failing := func(label string, extra map[string]any) map[string]any {
		spec := map[string]any{"kind": "flaky", "label": label}
		for k, v := range extra {
			spec[k] = v
		}
		return item(label, spec)
	}
	tests := []struct {
		name   string
		cfg    []any
		status tool.Status
		keys   []string // labels in the data (or labeled_results)
		failed any      // failed_task, nil on success
		error  string
	}{
		{"an error without rules fails the pipeline", []any{item("a", map[string]any{"kind": "noop"}), failing("b", nil), item("c", map[string]any{"kind": "noop"})},
			tool.Error, []string{"a", "b"}, int64(1), "task[1] 'b': attempt 1 failed"},
		{"retry inside a pipeline", []any{failing("a", map[string]any{"succeed_on": int64(2),
			"spec": rules(map[string]any{"when": "{{ output.status == 'error' }}", "then": map[string]any{"do": "retry", "attempts": int64(2)}})})},
			tool.Success, []string{"a"}, nil, ""},
		{"break stops with success", []any{failing("a", map[string]any{"spec": rules(map[string]any{"else": map[string]any{"do": "break"}})}), item("b", map[string]any{"kind": "noop"})},
			tool.Success, []string{"a"}, nil, ""},
		{"fail names the task", []any{item("a", map[string]any{"kind": "noop", "spec": rules(map[string]any{"when": true, "then": map[string]any{"do": "fail"}})})},
			tool.Error, []string{"a"}, int64(0), "policy rule triggered fail for task[0] 'a'"},
		{"jump back to a label until a counter is reached", []any{
			item("count", map[string]any{"kind": "noop", "result": "{{ (ctx.n | default(0)) + 1 }}",
				"spec": rules(map[string]any{"when": true, "then": map[string]any{"do": "continue", "set": map[string]any{"ctx.n": "{{ output.data }}"}}})}),
			item("check", map[string]any{"kind": "noop", "spec": rules(map[string]any{"when": "{{ ctx.n < 3 }}", "then": map[string]any{"do": "jump", "to": "count"}})})},
			tool.Success, []string{"count", "check"}, nil, ""},
		{"an unknown jump target", []any{item("a", map[string]any{"kind": "noop", "spec": rules(map[string]any{"when": true, "then": map[string]any{"do": "jump", "to": "nowhere"}})})},
			tool.Error, []string{"a"}, int64(0), "jump target 'nowhere' not found"},
		{"an unknown verb fails the pipeline before its first task runs", []any{failing("a", map[string]any{"succeed_on": int64(1)}),
			failing("b", map[string]any{"spec": rules(map[string]any{"when": "{{ output.status == 'error' }}", "then": "ignore"})})},
			tool.Error, nil, int64(1), "task 'b': Configuration error: spec.policy.rules[0].then: unknown action 'ignore'"},
		{"an item without kind", []any{item("a", map[string]any{"result": int64(1)})},
			tool.Error, nil, nil, "missing required 'kind'"},
		{"an unknown tool", []any{item("a", map[string]any{"kind": "teleport"})},
			tool.Error, []string{"a"}, int64(0), "task[0] 'a': Tool not found: teleport"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rn, _, _ := newRunner(t)
			out := rn.Run(context.Background(), step(KindPipeline, tc.cfg, map[string]any{}))
			if out.Result.Status != tc.status || !strings.Contains(out.Result.Error, tc.error) {
				t.Fatalf("got %s %q", out.Result.Status, out.Result.Error)
			}
			data, _ := out.Result.Data.(map[string]any)
			if tc.failed != nil {
				if data["failed_task"] != tc.failed {
					t.Fatalf("failed_task = %v", data["failed_task"])
				}
				data, _ = data["labeled_results"].(map[string]any)
			}
			var keys []string
			for _, k := range sortedKeys(data) {
				if k != "_context_updates" {
					keys = append(keys, k)
				}
			}
			want := append([]string(nil), tc.keys...)
			sort.Strings(want)
			if !reflect.DeepEqual(keys, want) {
				t.Fatalf("labels %v, want %v (data %v)", keys, want, out.Result.Data)
			}
		})
	}
}

func TestPipelineIterationCap(t *testing.T) {
	t.Parallel()
	rn, _, _ := newRunner(t)
	rn.MaxIterations = 50
	cfg := []any{item("loop", map[string]any{"kind": "noop", "spec": rules(map[string]any{"when": true, "then": map[string]any{"do": "jump", "to": "loop"}})})}
	out := rn.Run(context.Background(), step(KindPipeline, cfg, map[string]any{}))
	if out.Result.Status != tool.Error || !strings.Contains(out.Result.Error, "max_iterations_exceeded") || out.Attempts != 51 {
		t.Fatalf("got %s %q after %d", out.Result.Status, out.Result.Error, out.Attempts)
	}
}

// A pipeline that fails returns the sets its rules made before and at the failure, as
// a success does, so a step continued under spec.on_error: continue keeps them.
func TestPipelineFailureKeepsTheRulesSet(t *testing.T) {
	t.Parallel()
	setRule := func(then map[string]any) map[string]any {
		return rules(map[string]any{"when": true, "then": then})
	}
	tests := []struct {
		name string
		cfg  []any
		want map[string]any
	}{
		{"a retry spent and a set before it", []any{
			item("a", map[string]any{"kind": "noop", "spec": setRule(map[string]any{"do": "continue", "set": map[string]any{"ctx.seen": "a"}})}),
			item("b", map[string]any{"kind": "flaky", "label": "b", "spec": setRule(map[string]any{"do": "retry", "attempts": int64(2), "set": map[string]any{"ctx.tries": "{{ _attempt }}"}})}),
		}, map[string]any{"ctx.seen": "a", "ctx.tries": int64(2)}},
		{"no sets, none returned", []any{item("b", map[string]any{"kind": "flaky", "label": "b"})}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rn, _, _ := newRunner(t)
			out := rn.Run(context.Background(), step(KindPipeline, tc.cfg, map[string]any{}))
			if out.Result.Status != tool.Error {
				t.Fatalf("got %s %q, want an error", out.Result.Status, out.Result.Error)
			}
			data, _ := out.Result.Data.(map[string]any)
			cu, _ := data["_context_updates"].(map[string]any)
			if !reflect.DeepEqual(cu, tc.want) && !(cu == nil && tc.want == nil) {
				t.Fatalf("_context_updates = %#v, want %#v", cu, tc.want)
			}
		})
	}
}
