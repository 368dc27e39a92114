package httpx

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "log/slog"
import "net/http"
import "regexp"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"
import "github.com/prometheus/client_golang/prometheus"

func TestUnknownRouteIs404Envelope(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.GET("/known", func(c *gin.Context) { c.String(200, "ok") })
	for _, p := range []string{"/nope", "/api/nope", "/known/", "/", "/known/deeper"} {
		t.Run(p, func(t *testing.T) {
			rec := e.do(t, http.MethodGet, p, nil, nil)
			m := envelope(t, rec, http.StatusNotFound)
			if !strings.Contains(m["error"].(string), p) {
				t.Errorf("404 message %q does not name the path", m["error"])
			}
			if rec.Header().Get(RequestIDHeader) == "" {
				t.Error("404 has no request id header")
			}
		})
	}
}

func TestWrongMethodIs405Envelope(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.GET("/thing", func(c *gin.Context) { c.String(200, "ok") })
	e.POST("/other", func(c *gin.Context) { c.String(200, "ok") })
	for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch} {
		t.Run(m, func(t *testing.T) {
			rec := e.do(t, m, "/thing", nil, nil)
			body := envelope(t, rec, http.StatusMethodNotAllowed)
			if !strings.Contains(body["error"].(string), m) {
				t.Errorf("405 message %q does not name the method", body["error"])
			}
			if rec.Header().Get(RequestIDHeader) == "" {
				t.Error("405 has no request id header")
			}
		})
	}
}

func TestRequestIDHeader(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{MaxBodyBytes: 10}, slog.LevelInfo)
	e.GET("/ok", func(c *gin.Context) {
		c.JSON(200, gin.H{"request_id": RequestID(c)})
	})
	e.GET("/fail", func(c *gin.Context) { WriteError(c, errors.New("boom")) })
	e.GET("/panic", func(c *gin.Context) { panic("boom") })
	e.POST("/bind", func(c *gin.Context) {
		var v map[string]any
		if err := BindJSON(c, &v); err != nil {
			WriteError(c, err)
		}
	})
	generated := regexp.MustCompile(`^[0-9a-f]{24}$`)
	t.Run("every response carries one", func(t *testing.T) {
		seen := map[string]bool{}
		for _, tc := range []struct{ method, path, body string }{
			{"GET", "/ok", ""}, {"GET", "/nope", ""}, {"POST", "/ok", ""}, {"GET", "/fail", ""},
			{"GET", "/panic", ""}, {"POST", "/bind", `{"a":"0123456789"}`},
		} {
			var rec = e.do(t, tc.method, tc.path, strings.NewReader(tc.body), map[string]string{"Content-Type": "application/json"})
			rid := rec.Header().Get(RequestIDHeader)
			if !generated.MatchString(rid) {
				t.Errorf("%s %s (%d): request id %q is not a generated id", tc.method, tc.path, rec.Code, rid)
			}
			if seen[rid] {
				t.Errorf("request id %q repeated", rid)
			}
			seen[rid] = true
			if vals := rec.Header().Values(RequestIDHeader); len(vals) != 1 {
				t.Errorf("%s %s: %d request id headers", tc.method, tc.path, len(vals))
			}
		}
	})
	t.Run("sane incoming id is echoed", func(t *testing.T) {
		for _, in := range []string{"abc-123", "req.1:2_3", strings.Repeat("a", 128), "0f1e2d3c4b5a69788796a5b4"} {
			rec := e.do(t, "GET", "/ok", nil, map[string]string{RequestIDHeader: in})
			if got := rec.Header().Get(RequestIDHeader); got != in {
				t.Errorf("incoming %q answered with %q", in, got)
			}
			var body map[string]string
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if body["request_id"] != in {
				t.Errorf("RequestID(c) = %q, want %q", body["request_id"], in)
			}
		}
	})
	t.Run("unsafe incoming id is replaced", func(t *testing.T) {
		for _, in := range []string{"has space", strings.Repeat("a", 129), "<script>", "a\"b", "ümlaut", "x;y"} {
			rec := e.do(t, "GET", "/ok", nil, map[string]string{RequestIDHeader: in})
			got := rec.Header().Get(RequestIDHeader)
			if got == in || !generated.MatchString(got) {
				t.Errorf("incoming %q answered with %q, want a fresh id", in, got)
			}
		}
	})
	t.Run("5xx body carries the same id", func(t *testing.T) {
		rec := e.do(t, "GET", "/fail", nil, map[string]string{RequestIDHeader: "trace-me"})
		m := envelope(t, rec, 500)
		if m["request_id"] != "trace-me" {
			t.Errorf("request_id in body = %v, want trace-me", m["request_id"])
		}
	})
}

func TestPanicIs500Envelope(t *testing.T) {
	t.Parallel()
	const panicText = "nil map write in secret-handler-xyz"
	for _, debug := range []bool{false, true} {
		t.Run(fmt.Sprintf("debug=%v", debug), func(t *testing.T) {
			t.Parallel()
			e := newTestEngine(t, Options{Debug: debug}, slog.LevelInfo)
			e.GET("/p", func(c *gin.Context) { panic(panicText) })
			e.GET("/ok", func(c *gin.Context) { c.String(200, "fine") })
			rec := e.do(t, "GET", "/p", nil, nil)
			m := envelope(t, rec, http.StatusInternalServerError)
			has := strings.Contains(rec.Body.String(), panicText)
			if has != debug {
				t.Errorf("debug=%v: body %s contains panic text = %v", debug, rec.Body, has)
			}
			if m["request_id"] != rec.Header().Get(RequestIDHeader) || m["request_id"] == "" {
				t.Errorf("request_id %v does not match header %q", m["request_id"], rec.Header().Get(RequestIDHeader))
			}
			// The detail always reaches the log.
			if !strings.Contains(e.logs.String(), panicText) {
				t.Errorf("panic detail not logged:\n%s", e.logs)
			}
			// The engine keeps serving after a panic.
			if rec := e.do(t, "GET", "/ok", nil, nil); rec.Code != 200 {
				t.Errorf("after panic: %d", rec.Code)
			}
		})
	}
}

func TestErrorBodies(t *testing.T) {
	t.Parallel()
	const detail = "dial tcp 10.1.2.3:5432: password authentication failed"
	handlers := map[string]func() error{
		"internal": func() error { return Internal("could not load the playbook", errors.New(detail)) },
		"wrapped": func() error {
			return fmt.Errorf("load: %w", Internal("could not load the playbook", errors.New(detail)))
		},
		"plain":        func() error { return fmt.Errorf("query: %s", detail) },
		"unavailable":  func() error { return WithStatus(503, "database unavailable", errors.New(detail)) },
		"not found":    func() error { return NotFound("Runtime not found: %s", "x") },
		"validation":   func() error { return Validation("field %q is required", "name") },
		"bad request":  func() error { return BadRequest("bad id") },
		"conflict":     func() error { return Conflict("already claimed") },
		"unauthorized": func() error { return Unauthorized("no token") },
		"forbidden":    func() error { return Forbidden("residency") },
		"bad gateway":  func() error { return BadGateway("vault answered 500") },
		"permanent": func() error {
			return &Error{Status: 502, Msg: "vault refused the wallet", Err: errors.New(detail), Permanent: true}
		},
		"4xx with cause": func() error { return WithStatus(404, "catalog entry not found", errors.New(detail)) },
	}
	tests := []struct {
		name       string
		status     int
		wantMsg    string // exact message in non-debug mode
		requestID  bool
		debugExtra bool // debug mode adds the detail
	}{
		{"internal", 500, "could not load the playbook", true, true},
		{"wrapped", 500, "could not load the playbook", true, true},
		{"plain", 500, "Internal Server Error", true, true},
		{"unavailable", 503, "database unavailable", true, true},
		{"not found", 404, "Runtime not found: x", false, false},
		{"validation", 422, `field "name" is required`, false, false},
		{"bad request", 400, "bad id", false, false},
		{"conflict", 409, "already claimed", false, false},
		{"unauthorized", 401, "no token", false, false},
		{"forbidden", 403, "residency", false, false},
		{"bad gateway", 502, "vault answered 500", true, false},
		{"permanent", 502, "vault refused the wallet", true, true},
		{"4xx with cause", 404, "catalog entry not found", false, false},
	}
	for _, debug := range []bool{false, true} {
		e := newTestEngine(t, Options{Debug: debug}, slog.LevelInfo)
		for name, h := range handlers {
			e.GET("/"+strings.ReplaceAll(name, " ", "-"), func(c *gin.Context) { WriteError(c, h()) })
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/debug=%v", tc.name, debug), func(t *testing.T) {
				rec := e.do(t, "GET", "/"+strings.ReplaceAll(tc.name, " ", "-"), nil, nil)
				m := envelope(t, rec, tc.status)
				msg := m["error"].(string)
				hasDetail := strings.Contains(msg, detail)
				switch {
				case !debug && msg != tc.wantMsg:
					t.Errorf("message = %q, want %q", msg, tc.wantMsg)
				case !debug && hasDetail:
					t.Errorf("non-debug body leaks the detail: %s", rec.Body)
				case debug && tc.debugExtra && !hasDetail:
					t.Errorf("debug body lacks the detail: %s", rec.Body)
				case debug && !strings.Contains(msg, tc.wantMsg) && tc.wantMsg != "Internal Server Error":
					t.Errorf("debug message %q lacks %q", msg, tc.wantMsg)
				}
				// Only a permanent failure says whether to retry; the others leave it to the status.
				if r, has := m["retryable"]; has != (tc.name == "permanent") || has && r != false {
					t.Errorf("retryable = %v (present %v) in %s", r, has, rec.Body)
				}
				_, hasRID := m["request_id"]
				if hasRID != tc.requestID {
					t.Errorf("request_id present = %v, want %v (%s)", hasRID, tc.requestID, rec.Body)
				}
				if tc.requestID && m["request_id"] != rec.Header().Get(RequestIDHeader) {
					t.Errorf("request_id %v != header %q", m["request_id"], rec.Header().Get(RequestIDHeader))
				}
			})
		}
		// 5xx details go to the log whatever the mode.
		if !strings.Contains(e.logs.String(), detail) {
			t.Errorf("debug=%v: 5xx detail not logged", debug)
		}
	}
}

func TestStatusOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want int
	}{
		{NotFound("x"), 404},
		{fmt.Errorf("outer: %w", Validation("x")), 422},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", Unavailable("x"))), 503},
		{errors.New("x"), 500},
		{fmt.Errorf("req: %w", context.Canceled), 499},
		{fmt.Errorf("req: %w", context.DeadlineExceeded), 503},
	}
	for _, tc := range tests {
		if got := StatusOf(tc.err); got != tc.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestAccessLogKeepsProbesOutOfInfo: 1,000 probe and scrape requests write no info line
// (docs/decisions.md, "HTTP conventions") while a normal route logs one line per request at info.
func TestAccessLogKeepsProbesOutOfInfo(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := newTestEngine(t, Options{Registerer: reg}, slog.LevelInfo)
	RegisterHealth(e.Engine, "test")
	RegisterMetrics(e.Engine, reg, false)
	e.GET("/api/thing", func(c *gin.Context) { c.String(200, "ok") })
	e.GET("/api/health", func(c *gin.Context) { c.String(200, "ok") })
	probes := []string{"/healthz", "/metrics", "/readyz", "/health", "/api/health"}
	for i := range 1000 {
		p := probes[i%len(probes)]
		if rec := e.do(t, "GET", p, nil, nil); rec.Code != 200 {
			t.Fatalf("GET %s = %d %s", p, rec.Code, rec.Body)
		}
	}
	if lines := e.logs.Lines(); len(lines) != 0 {
		t.Fatalf("%d log lines for probe requests at info, e.g. %s", len(lines), lines[0])
	}
	e.do(t, "GET", "/api/thing?x=1", nil, map[string]string{RequestIDHeader: "rid-1"})
	lines := e.logs.Lines()
	if len(lines) != 1 {
		t.Fatalf("normal route wrote %d lines, want 1: %v", len(lines), lines)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("log line is not JSON: %s", lines[0])
	}
	if rec["level"] != "INFO" || rec["msg"] != "http request" || rec["path"] != "/api/thing" ||
		rec["method"] != "GET" || rec["status"] != float64(200) || rec["request_id"] != "rid-1" {
		t.Errorf("access log line = %s", lines[0])
	}
	if _, ok := rec["duration_ms"]; !ok {
		t.Errorf("access log line has no duration_ms: %s", lines[0])
	}
}

// TestAccessLogProbesAtDebug: probes are demoted, not dropped.
func TestAccessLogProbesAtDebug(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelDebug)
	RegisterHealth(e.Engine, "test")
	e.do(t, "GET", "/healthz", nil, nil)
	lines := e.logs.Lines()
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"DEBUG"`) || !strings.Contains(lines[0], `"path":"/healthz"`) {
		t.Errorf("debug logger: lines = %v, want one DEBUG line for /healthz", lines)
	}
}

func TestHTTPMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := newTestEngine(t, Options{Registerer: reg}, slog.LevelInfo)
	e.GET("/api/items/:id", func(c *gin.Context) { c.String(200, "ok") })
	RegisterMetrics(e.Engine, reg, false)
	e.do(t, "GET", "/api/items/1", nil, nil)
	e.do(t, "GET", "/api/items/2", nil, nil)
	e.do(t, "GET", "/nope", nil, nil)
	rec := e.do(t, "GET", "/metrics", nil, nil)
	body := rec.Body.String()
	for _, want := range []string{
		`noetl_http_requests_total{code="200",method="GET",route="/api/items/:id"} 2`,
		`noetl_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`noetl_http_request_duration_seconds_bucket{method="GET",route="/api/items/:id",le="0.001"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Raw paths (ids) are never labels.
	if strings.Contains(body, `route="/api/items/1"`) {
		t.Error("raw path used as a label")
	}
}

// TestHTTPMetricsBoundMethods: a caller chooses the method freely (any token is valid),
// so methods outside the standard ones share one label value instead of each adding
// series to the registry.
func TestHTTPMetricsBoundMethods(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := newTestEngine(t, Options{Registerer: reg}, slog.LevelInfo)
	e.GET("/api/items/:id", func(c *gin.Context) { c.String(200, "ok") })
	RegisterMetrics(e.Engine, reg, false)
	for i := range 50 {
		e.do(t, fmt.Sprintf("X%d", i), "/api/items/1", nil, nil)
		e.do(t, fmt.Sprintf("Y%d", i), "/nope", nil, nil)
	}
	e.do(t, "DELETE", "/api/items/1", nil, nil)
	body := e.do(t, "GET", "/metrics", nil, nil).Body.String()
	tests := []struct {
		name, want string
	}{
		{"unknown method on a route", `noetl_http_requests_total{code="405",method="other",route="unmatched"} 50`},
		{"unknown method on no route", `noetl_http_requests_total{code="404",method="other",route="unmatched"} 50`},
		{"standard method kept", `noetl_http_requests_total{code="405",method="DELETE",route="unmatched"} 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(body, tc.want) {
				t.Errorf("/metrics lacks %s", tc.want)
			}
		})
	}
	if strings.Contains(body, `method="X1"`) || strings.Contains(body, `method="Y1"`) {
		t.Error("a caller's method became a label value")
	}
}

func TestLoggerCarriesRequestID(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.GET("/x", func(c *gin.Context) {
		Logger(c).Warn("something odd", slog.String("execution_id", "42"))
		c.Status(204)
	})
	e.do(t, "GET", "/x", nil, map[string]string{RequestIDHeader: "rid-77"})
	found := false
	for _, l := range e.logs.Lines() {
		if strings.Contains(l, "something odd") {
			found = true
			if !strings.Contains(l, `"request_id":"rid-77"`) {
				t.Errorf("handler log line lacks request_id: %s", l)
			}
		}
	}
	if !found {
		t.Errorf("handler log line missing: %v", e.logs.Lines())
	}
}

// TestEscapedSlashStaysInTheParameter: a %2F is part of a path parameter (a name holding
// "/"), not a segment separator; an unescaped "/" still separates segments.
func TestEscapedSlashStaysInTheParameter(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.GET("/things/:name", func(c *gin.Context) { c.String(200, c.Param("name")) })
	for _, tc := range []struct{ path, want string }{
		{"/things/a%2Fb", "a/b"},
		{"/things/a%20b", "a b"},
		{"/things/plain", "plain"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := e.do(t, http.MethodGet, tc.path, nil, nil)
			if rec.Code != 200 || rec.Body.String() != tc.want {
				t.Errorf("%s = %d %q, want %q", tc.path, rec.Code, rec.Body, tc.want)
			}
		})
	}
	envelope(t, e.do(t, http.MethodGet, "/things/a/b", nil, nil), http.StatusNotFound)
}
