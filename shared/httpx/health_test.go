package httpx

import "context"
import "encoding/json"
import "errors"
import "log/slog"
import "net/http"
import "strings"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"

func okCheck(name string) Check {
	return Check{Name: name, Fn: func(context.Context) error { return nil }}
}

func failCheck(name, msg string) Check {
	return Check{Name: name, Fn: func(context.Context) error { return errors.New(msg) }}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	// Liveness does not depend on the readiness checks.
	RegisterHealth(e.Engine, "api", failCheck("postgres", "down"))
	for _, p := range []string{"/healthz", "/health"} {
		rec := e.do(t, "GET", p, nil, nil)
		if rec.Code != 200 {
			t.Fatalf("GET %s = %d", p, rec.Code)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["status"] != "ok" {
			t.Errorf("GET %s body = %s", p, rec.Body)
		}
	}
	if rec := e.do(t, "HEAD", "/healthz", nil, nil); rec.Code != 200 {
		t.Errorf("HEAD /healthz = %d", rec.Code)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		checks    []Check
		status    int
		msgParts  []string
		checkVals map[string]string
	}{
		{"no checks", nil, 200, nil, map[string]string{}},
		{"all pass", []Check{okCheck("postgres"), okCheck("nats")}, 200, nil, map[string]string{"postgres": "ok", "nats": "ok"}},
		{"one fails", []Check{okCheck("postgres"), failCheck("nats", "disconnected")}, 503,
			[]string{"not ready", "nats: disconnected"}, map[string]string{"postgres": "ok", "nats": "disconnected"}},
		{"both fail", []Check{failCheck("postgres", "refused"), failCheck("nats", "disconnected")}, 503,
			[]string{"postgres: refused", "nats: disconnected"}, map[string]string{"postgres": "refused", "nats": "disconnected"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEngine(t, Options{}, slog.LevelInfo)
			RegisterHealth(e.Engine, "api", tc.checks...)
			rec := e.do(t, "GET", "/readyz", nil, nil)
			var m map[string]any
			if tc.status == 200 {
				if rec.Code != 200 {
					t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &m)
				if m["status"] != "ready" || m["service"] != "api" {
					t.Errorf("body = %s", rec.Body)
				}
			} else {
				m = envelope(t, rec, tc.status)
				for _, p := range tc.msgParts {
					if !strings.Contains(m["error"].(string), p) {
						t.Errorf("message %q lacks %q", m["error"], p)
					}
				}
			}
			checks, _ := m["checks"].(map[string]any)
			if len(checks) != len(tc.checkVals) {
				t.Errorf("checks = %v, want %v", checks, tc.checkVals)
			}
			for k, v := range tc.checkVals {
				if checks[k] != v {
					t.Errorf("checks[%s] = %v, want %s", k, checks[k], v)
				}
			}
			if rec := e.do(t, "HEAD", "/readyz", nil, nil); rec.Code != tc.status {
				t.Errorf("HEAD /readyz = %d, want %d", rec.Code, tc.status)
			}
		})
	}
}

// TestReadyzHangingCheck: a dependency that never answers fails the probe within
// CheckTimeout instead of hanging it.
func TestReadyzHangingCheck(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	RegisterHealth(e.Engine, "api", Check{Name: "postgres", Fn: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}, okCheck("nats"))
	start := time.Now()
	rec := e.do(t, "GET", "/readyz", nil, nil)
	if d := time.Since(start); d > CheckTimeout+time.Second {
		t.Errorf("readyz took %v", d)
	}
	m := envelope(t, rec, http.StatusServiceUnavailable)
	if !strings.Contains(m["error"].(string), "postgres") {
		t.Errorf("message %q does not name the hanging check", m["error"])
	}
}

func TestRunChecksConcurrently(t *testing.T) {
	t.Parallel()
	slow := func(name string) Check {
		return Check{Name: name, Fn: func(ctx context.Context) error {
			select {
			case <-time.After(300 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}
	}
	start := time.Now()
	res := RunChecks(context.Background(), []Check{slow("a"), slow("b"), slow("c"), slow("d")})
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("4 checks of 300ms took %v; they should run concurrently", d)
	}
	for _, n := range []string{"a", "b", "c", "d"} {
		if res[n] != "ok" {
			t.Errorf("res[%s] = %q", n, res[n])
		}
	}
}

func TestRegisterMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "noetl_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)

	t.Run("enabled", func(t *testing.T) {
		e := newTestEngine(t, Options{}, slog.LevelInfo)
		RegisterMetrics(e.Engine, reg, false)
		rec := e.do(t, "GET", "/metrics", nil, nil)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "noetl_test_total 3") {
			t.Errorf("GET /metrics = %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		e := newTestEngine(t, Options{}, slog.LevelInfo)
		RegisterMetrics(e.Engine, reg, true)
		rec := e.do(t, "GET", "/metrics", nil, nil)
		envelope(t, rec, http.StatusNotFound)
		if strings.Contains(rec.Body.String(), "noetl_test_total") {
			t.Error("disabled /metrics still serves metrics")
		}
	})
}

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	fams, err := NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if !names[want] {
			t.Errorf("registry lacks %s", want)
		}
	}
}

// TestReadyzInformationalChecks: an informational check is listed but never makes the
// service unready; a required one does.
func TestReadyzInformationalChecks(t *testing.T) {
	t.Parallel()
	wallet := failCheck("wallet", "unreachable")
	wallet.Informational = true
	t.Run("only informational fails", func(t *testing.T) {
		t.Parallel()
		e := newTestEngine(t, Options{}, slog.LevelInfo)
		RegisterHealth(e.Engine, "router", okCheck("api"), wallet)
		rec := e.do(t, "GET", "/readyz", nil, nil)
		if rec.Code != 200 {
			t.Fatalf("status = %d: %s", rec.Code, rec.Body)
		}
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		checks, _ := m["checks"].(map[string]any)
		if checks["wallet"] != "unreachable" || checks["api"] != "ok" {
			t.Errorf("checks = %v", checks)
		}
		if d, _ := m["degraded"].([]any); len(d) != 1 || d[0] != "wallet" {
			t.Errorf("degraded = %v", m["degraded"])
		}
	})
	t.Run("required fails too", func(t *testing.T) {
		t.Parallel()
		e := newTestEngine(t, Options{}, slog.LevelInfo)
		RegisterHealth(e.Engine, "router", failCheck("api", "not ready: postgres: down"), wallet)
		m := envelope(t, e.do(t, "GET", "/readyz", nil, nil), http.StatusServiceUnavailable)
		if msg := m["error"].(string); !strings.Contains(msg, "api: not ready: postgres: down") || strings.Contains(msg, "wallet") {
			t.Errorf("message %q: want the api's failure only", msg)
		}
	})
}
