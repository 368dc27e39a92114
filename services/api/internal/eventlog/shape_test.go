package eventlog

import "strings"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/engine"

// The result shape the table's CHECK enforced before is enforced by the api on insert.
func TestResultShape(t *testing.T) {
	t.Parallel()
	type ref struct {
		URI string `json:"uri"`
	}
	for _, tc := range []struct {
		name string
		r    any
		ok   bool
	}{
		{"status only", map[string]any{"status": "RUNNING"}, true},
		{"context and reference", map[string]any{"status": "ok", "context": map[string]any{}, "reference": map[string]any{"x": 1}}, true},
		{"typed map and struct", map[string]any{"status": "ok", "context": map[string]string{"a": "b"}, "reference": &ref{URI: "x"}}, true},
		{"not an object", []any{"status"}, false},
		{"no status", map[string]any{"context": map[string]any{}}, false},
		{"status not a string", map[string]any{"status": 1}, false},
		{"extra key", map[string]any{"status": "ok", "data": 1}, false},
		{"context not an object", map[string]any{"status": "ok", "context": "x"}, false},
		{"context null", map[string]any{"status": "ok", "context": nil}, false},
		{"nil map context", map[string]any{"status": "ok", "context": map[string]any(nil)}, false},
		{"reference a list", map[string]any{"status": "ok", "reference": []any{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ResultShapeError(tc.r) == ""; got != tc.ok {
				t.Fatalf("ResultShapeError(%v) ok = %v, want %v", tc.r, got, tc.ok)
			}
			_, err := eventArgs([]Event{{Event: engine.Event{EventID: 1, Type: "call.done", Result: tc.r}}})
			if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "result must be an object")) {
				t.Fatalf("eventArgs: %v", err)
			}
		})
	}
}
