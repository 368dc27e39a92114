package httpx

import "io"
import "log/slog"
import "net/http"
import "net/http/httptest"
import "strconv"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"
import "github.com/prometheus/client_golang/prometheus"

// methodEngine serves a GET route with a parameter, a GET route behind a group
// middleware that refuses without a header, and a POST-only route.
func methodEngine(t *testing.T, reg prometheus.Registerer) testEngine {
	t.Helper()
	e := newTestEngine(t, Options{Registerer: reg}, slog.LevelInfo)
	e.GET("/items/:id", func(c *gin.Context) {
		c.Header("X-Item", c.Param("id"))
		JSON(c, http.StatusOK, gin.H{"id": c.Param("id"), "method": c.Request.Method})
	})
	g := e.Group("/guarded", func(c *gin.Context) {
		if c.GetHeader("X-Key") != "k" {
			WriteError(c, Unauthorized("no key"))
		}
	})
	g.GET("/x", func(c *gin.Context) { JSON(c, http.StatusOK, gin.H{"ok": true}) })
	e.POST("/submit", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return e
}

// TestHeadServedAsGet: HEAD on a GET route answers what the GET answers, headers and
// status, through the route's whole chain, without a body.
func TestHeadServedAsGet(t *testing.T) {
	t.Parallel()
	e := methodEngine(t, nil)
	get := e.do(t, http.MethodGet, "/items/7", nil, nil)
	cases := []struct {
		name, path string
		hdr        map[string]string
		status     int
	}{
		{"route with a parameter", "/items/7", nil, http.StatusOK},
		{"group middleware runs", "/guarded/x", nil, http.StatusUnauthorized},
		{"group middleware passes", "/guarded/x", map[string]string{"X-Key": "k"}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(t, http.MethodHead, tc.path, nil, tc.hdr)
			if rec.Code != tc.status {
				t.Fatalf("HEAD %s = %d, want %d: %s", tc.path, rec.Code, tc.status, rec.Body)
			}
			if rec.Body.Len() != 0 {
				t.Errorf("HEAD %s has a body: %q", tc.path, rec.Body)
			}
			if rec.Header().Get("Allow") != "" {
				t.Errorf("HEAD %s carries Allow %q", tc.path, rec.Header().Get("Allow"))
			}
			if len(rec.Header().Values(RequestIDHeader)) != 1 {
				t.Errorf("HEAD %s: request id headers %v, want one", tc.path, rec.Header().Values(RequestIDHeader))
			}
		})
	}
	head := e.do(t, http.MethodHead, "/items/7", nil, nil)
	for _, h := range []string{"Content-Type", "X-Item"} {
		if head.Header().Get(h) != get.Header().Get(h) {
			t.Errorf("HEAD %s = %q, GET %q", h, head.Header().Get(h), get.Header().Get(h))
		}
	}
	if cl := head.Header().Get("Content-Length"); cl != strconv.Itoa(get.Body.Len()) {
		t.Errorf("HEAD Content-Length = %q, want the GET's %d", cl, get.Body.Len())
	}
	if lines := e.logs.Lines(); !strings.Contains(strings.Join(lines, "\n"), `"method":"HEAD","path":"/items/7","status":200`) {
		t.Errorf("no access log line for the HEAD: %v", lines)
	}
}

// TestHeadOverHTTP: over a real connection the HEAD's status and length arrive and no
// body does.
func TestHeadOverHTTP(t *testing.T) {
	t.Parallel()
	e := methodEngine(t, nil)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	resp, err := http.Head(srv.URL + "/items/7")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(b) != 0 || resp.ContentLength <= 0 {
		t.Errorf("HEAD = %d, body %q, length %d; want 200, no body, the GET's length", resp.StatusCode, b, resp.ContentLength)
	}
}

// TestWrongMethodAllow: a 405 lists the methods of the path, HEAD with GET; HEAD on a
// path without a GET route is a wrong method like any other.
func TestWrongMethodAllow(t *testing.T) {
	t.Parallel()
	e := methodEngine(t, nil)
	cases := []struct {
		method, path, allow string
	}{
		{http.MethodPost, "/items/7", "GET, HEAD"},
		{http.MethodOptions, "/items/7", "GET, HEAD"},
		{http.MethodGet, "/submit", "POST"},
		{http.MethodHead, "/submit", "POST"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := e.do(t, tc.method, tc.path, nil, nil)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405", rec.Code)
			}
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			if tc.method != http.MethodHead {
				if m := envelope(t, rec, http.StatusMethodNotAllowed); !strings.Contains(m["error"].(string), tc.method) {
					t.Errorf("405 message %q does not name %s", m["error"], tc.method)
				}
			}
		})
	}
}

// TestAllowOnlyOn405: gin sets Allow before the chain runs; an answer other than the
// 405 (a gate's 401) must not carry it, or it tells the path exists.
func TestAllowOnlyOn405(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.Use(func(c *gin.Context) {
		if c.GetHeader("Authorization") == "" {
			WriteError(c, Unauthorized("token required"))
		}
	})
	e.GET("/items/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	rec := e.do(t, http.MethodDelete, "/items/7", nil, nil)
	envelope(t, rec, http.StatusUnauthorized)
	if got := rec.Header().Get("Allow"); got != "" {
		t.Errorf("401 carries Allow %q", got)
	}
	rec = e.do(t, http.MethodDelete, "/items/7", nil, map[string]string{"Authorization": "x"})
	envelope(t, rec, http.StatusMethodNotAllowed)
	if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
		t.Errorf("405 Allow = %q, want GET, HEAD", got)
	}
}

// TestHeadMetricsBounded: a HEAD is counted under HEAD and the GET route's template,
// never its raw path; a HEAD no route takes is unmatched.
func TestHeadMetricsBounded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := methodEngine(t, reg)
	RegisterMetrics(e.Engine, reg, false)
	for i := range 20 {
		e.do(t, http.MethodHead, "/items/"+strconv.Itoa(i), nil, nil)
		e.do(t, http.MethodHead, "/nope/"+strconv.Itoa(i), nil, nil)
	}
	body := e.do(t, http.MethodGet, "/metrics", nil, nil).Body.String()
	for _, want := range []string{
		`noetl_http_requests_total{code="200",method="HEAD",route="/items/:id"} 20`,
		`noetl_http_requests_total{code="404",method="HEAD",route="unmatched"} 20`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `method="GET",route="/items/:id"`) {
		t.Error("a HEAD was counted as a GET")
	}
	if strings.Contains(body, `route="/items/1"`) || strings.Contains(body, `route="/nope/1"`) {
		t.Error("raw path used as a label")
	}
}
