package policy

import "reflect"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/tmpl"

func rulesOf(t *testing.T, rules ...any) []Rule {
	t.Helper()
	rs, err := Parse(map[string]any{"policy": map[string]any{"rules": rules}})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestDecide(t *testing.T) {
	t.Parallel()
	r := tmpl.New(0)
	httpErr := tool.Result{Status: tool.Error, Error: "HTTP 503 response", Fault: &tool.Fault{Kind: "server_error", Retryable: true, Code: "HTTP_503", StatusCode: 503},
		HTTP: &tool.HTTPInfo{Status: 503, Headers: map[string]any{}}}.WithData(map[string]any{"status_code": int64(503)})
	ok := tool.Result{Status: tool.Success}.WithData(map[string]any{"n": int64(4)})
	tests := []struct {
		name    string
		rules   []any
		res     tool.Result
		attempt int
		do      string // "" = no match
		set     map[string]any
	}{
		{"first match wins", []any{
			map[string]any{"when": "{{ output.status == 'error' }}", "then": map[string]any{"do": "retry"}},
			map[string]any{"when": "{{ true }}", "then": map[string]any{"do": "fail"}}}, httpErr, 1, "retry", nil},
		{"output.error fields of an http failure", []any{
			map[string]any{"when": "{{ output.error.retryable and output.error.status in [500, 502, 503] and output.http.status == 503 and output.error.kind == 'server_error' }}", "then": map[string]any{"do": "retry"}}},
			httpErr, 1, "retry", nil},
		{"output.error.retryable reads false on success", []any{
			map[string]any{"when": "{{ output.error.retryable }}", "then": map[string]any{"do": "retry"}}}, ok, 1, "", nil},
		{"else: {then: X}", []any{
			map[string]any{"when": "{{ output.status == 'error' }}", "then": map[string]any{"do": "fail"}},
			map[string]any{"else": map[string]any{"then": map[string]any{"do": "continue", "set": map[string]any{"ctx.n": "{{ output.data.n }}"}}}}},
			ok, 1, "continue", map[string]any{"ctx.n": int64(4)}},
		{"else: X (the direct form)", []any{
			map[string]any{"else": map[string]any{"do": "break", "set": map[string]any{"x": "y"}}}}, ok, 1, "break", map[string]any{"x": "y"}},
		{"YAML booleans are literal", []any{
			map[string]any{"when": false, "then": map[string]any{"do": "fail"}},
			map[string]any{"when": true, "then": map[string]any{"do": "jump", "to": "a"}}}, ok, 1, "jump", nil},
		{"a bare then always matches", []any{map[string]any{"then": map[string]any{"do": "continue"}}}, httpErr, 1, "continue", nil},
		{"_attempt is in scope", []any{
			map[string]any{"when": "{{ _attempt < 3 }}", "then": map[string]any{"do": "retry"}}}, httpErr, 3, "", nil},
		{"a whole-expression set keeps its type", []any{
			map[string]any{"when": "{{ true }}", "then": map[string]any{"set": map[string]any{"obj": "{{ output.data }}"}}}}, ok, 1, "continue",
			map[string]any{"obj": map[string]any{"n": int64(4)}}},
		{"no rule matches", []any{map[string]any{"when": "{{ output.status == 'error' }}", "then": map[string]any{"do": "fail"}}}, ok, 1, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]any{"output": Output(tc.res), "_attempt": int64(tc.attempt)}
			d, err := Decide(r, rulesOf(t, tc.rules...), vars)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if d.Matched {
				got = d.Then.Do
			}
			if got != tc.do {
				t.Fatalf("action %q, want %q", got, tc.do)
			}
			if tc.set != nil && !reflect.DeepEqual(d.Set, tc.set) {
				t.Fatalf("set %#v, want %#v", d.Set, tc.set)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec any
		want string
	}{
		{map[string]any{"policy": map[string]any{"rules": "x"}}, "must be a list"},
		{map[string]any{"policy": map[string]any{"rules": []any{"x"}}}, "must be an object"},
		{map[string]any{"policy": map[string]any{"rules": []any{map[string]any{"when": "x"}}}}, "has no `then`"},
		{map[string]any{"policy": map[string]any{"rules": []any{map[string]any{"when": "x", "then": map[string]any{"attempts": "many"}}}}}, "attempts must be a number"},
		// A typo'd verb used to continue, turning every error into a success.
		{map[string]any{"policy": map[string]any{"rules": []any{map[string]any{"when": "x", "then": map[string]any{"do": "retyr"}}}}},
			"rules[0].then: unknown action 'retyr'. Valid: [continue, retry, fail, break, jump]"},
		{map[string]any{"policy": map[string]any{"rules": []any{map[string]any{"when": "x", "then": "contine"}}}}, "unknown action 'contine'"},
		{map[string]any{"policy": map[string]any{"rules": []any{map[string]any{"else": map[string]any{"do": ""}}}}}, "unknown action ''"},
		{map[string]any{"policy": map[string]any{"rules": []any{map[string]any{"when": "x", "then": map[string]any{"do": true}}}}}, "do must be a string"},
	} {
		if _, err := Parse(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%v) = %v, want %q", tc.spec, err, tc.want)
		}
	}
	if rs, err := Parse(nil); err != nil || rs != nil {
		t.Errorf("no spec: %v %v", rs, err)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	s := time.Second
	tests := []struct {
		then Then
		n    int
		want time.Duration
	}{
		{Then{Delay: 1}, 3, 0},                                  // neither delay nor backoff given
		{Then{Delay: 0.5, DelaySet: true}, 3, s / 2},            // an explicit delay alone is fixed
		{Then{Delay: 2, DelaySet: true, Backoff: "none"}, 3, 0}, // backoff none means none
		{Then{Delay: 1, Backoff: "linear"}, 3, 3 * s},
		{Then{Delay: 0.5, DelaySet: true, Backoff: "exponential"}, 4, 4 * s},
		{Then{Delay: 2, DelaySet: true, Backoff: "fixed"}, 5, 2 * s},
		{Then{Delay: 10, DelaySet: true, Backoff: "exponential", MaxDelay: 30 * s}, 10, 30 * s},
		// 2^39 s wrapped to a negative Duration: no pause at all instead of the cap.
		{Then{Delay: 1, DelaySet: true, Backoff: "exponential"}, 40, 5 * time.Minute},
		{Then{Delay: 1e10, DelaySet: true, Backoff: "linear"}, 2, 5 * time.Minute},
	}
	for _, tc := range tests {
		if got := tc.then.RetryDelay(tc.n); got != tc.want {
			t.Errorf("%+v retry %d: %s, want %s", tc.then, tc.n, got, tc.want)
		}
	}
}

func TestSetVar(t *testing.T) {
	t.Parallel()
	shared := map[string]any{"a": int64(1)}
	vars := map[string]any{"ctx": shared, "iter": map[string]any{"item": "x"}}
	SetVar(vars, "ctx.b", int64(2))
	SetVar(vars, "iter.done.flag", true)
	SetVar(vars, "plain", "p")
	want := map[string]any{
		"ctx": map[string]any{"a": int64(1), "b": int64(2)}, "b": int64(2),
		"iter": map[string]any{"item": "x", "done": map[string]any{"flag": true}}, "done": map[string]any{"flag": true},
		"plain": "p",
	}
	if !reflect.DeepEqual(vars, want) {
		t.Fatalf("vars = %#v", vars)
	}
	if len(shared) != 1 {
		t.Fatalf("a map shared with the context was modified: %v", shared)
	}
}
