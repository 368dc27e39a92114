package httpx

import "encoding/json"
import "io"
import "log/slog"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/testkit"

// testEngine is an engine from NewEngine whose log output is collected.
type testEngine struct {
	*gin.Engine
	logs *testkit.LogBuffer
}

func newTestEngine(t *testing.T, o Options, level slog.Level) testEngine {
	t.Helper()
	logs := &testkit.LogBuffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	}
	if o.Service == "" {
		o.Service = "test"
	}
	return testEngine{Engine: NewEngine(o), logs: logs}
}

// do serves one request in memory.
func (e testEngine) do(t *testing.T, method, path string, body io.Reader, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// envelope decodes and checks the JSON error envelope (docs/decisions.md, "HTTP
// conventions").
func envelope(t *testing.T, rec *httptest.ResponseRecorder, wantStatus int) map[string]any {
	t.Helper()
	if rec.Code != wantStatus {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, wantStatus, rec.Body)
	}
	return envelopeBody(t, rec.Header(), rec.Body.Bytes(), wantStatus)
}

func envelopeBody(t *testing.T, h http.Header, body []byte, wantStatus int) map[string]any {
	t.Helper()
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	msg, ok := m["error"].(string)
	if !ok || msg == "" {
		t.Errorf("envelope %s has no error message", body)
	}
	if st, ok := m["status"].(float64); !ok || int(st) != wantStatus {
		t.Errorf("envelope %s: status = %v, want %d", body, m["status"], wantStatus)
	}
	return m
}
