package apierr

import "errors"
import "fmt"
import "net/http"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/httpx"

func TestPlaybook(t *testing.T) {
	t.Parallel()
	other := errors.New("database down")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantMsg    string
		isPlaybook bool
	}{
		{"parse", &playbook.ParseError{Line: 3, Msg: "bad indent"}, http.StatusBadRequest, "invalid playbook YAML at line 3: bad indent", true},
		{"wrapped parse", fmt.Errorf("catalog entry 7: %w", &playbook.ParseError{Msg: "x"}), http.StatusBadRequest, "invalid playbook YAML: x", true},
		{"validation", &playbook.ValidationError{Msg: "Start step not found", Line: 2}, http.StatusUnprocessableEntity, "Start step not found", true},
		{"limit", &playbook.LimitError{Line: 1, Limit: 10, Unit: "nodes"}, http.StatusUnprocessableEntity, (&playbook.LimitError{Line: 1, Limit: 10, Unit: "nodes"}).Error(), true},
		{"other", other, http.StatusInternalServerError, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Playbook(tc.err)
			if IsPlaybook(tc.err) != tc.isPlaybook {
				t.Errorf("IsPlaybook = %v, want %v", !tc.isPlaybook, tc.isPlaybook)
			}
			if !tc.isPlaybook {
				if got != tc.err {
					t.Fatalf("Playbook(%v) = %v, want it unchanged", tc.err, got)
				}
				return
			}
			var he *httpx.Error
			if httpx.StatusOf(got) != tc.wantStatus || !errors.As(got, &he) || he.Msg != tc.wantMsg {
				t.Fatalf("Playbook = %v (status %d), want %d %q", got, httpx.StatusOf(got), tc.wantStatus, tc.wantMsg)
			}
		})
	}
}

func TestExecutionNotFound(t *testing.T) {
	t.Parallel()
	err := ExecutionNotFound(9007199254740993)
	var he *httpx.Error
	if httpx.StatusOf(err) != http.StatusNotFound || !errors.As(err, &he) || he.Msg != "Execution not found: 9007199254740993" {
		t.Fatalf("ExecutionNotFound = %v (status %d)", err, httpx.StatusOf(err))
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	other := errors.New("database down")
	tests := []struct {
		name    string
		err     error
		wantMsg string // "" when err comes back unchanged
	}{
		{"execution", eventlog.ErrNoExecution, "Execution not found: 7"},
		{"wrapped execution", fmt.Errorf("load: %w", eventlog.ErrNoExecution), "Execution not found: 7"},
		{"command", eventlog.ErrNoCommand, "command.issued event not found: 7"},
		{"other error", other, ""},
		{"nil", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NotFound(tc.err, 7)
			if tc.wantMsg == "" {
				if got != tc.err {
					t.Fatalf("NotFound(%v) = %v, want it unchanged", tc.err, got)
				}
				return
			}
			var he *httpx.Error
			if httpx.StatusOf(got) != http.StatusNotFound || !errors.As(got, &he) || he.Msg != tc.wantMsg {
				t.Fatalf("NotFound(%v) = %v (status %d), want 404 %q", tc.err, got, httpx.StatusOf(got), tc.wantMsg)
			}
		})
	}
}
