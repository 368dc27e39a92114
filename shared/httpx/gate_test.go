package httpx

import "log/slog"
import "net/http"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/config"

const internalToken = "internal-token-0123456789"

func TestRequireInternalToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		configured config.Secret
		header     string // "" means no Authorization header
		status     int
	}{
		{"token unset on server", "", "Bearer " + internalToken, 401},
		{"token blank on server", "   ", "Bearer   ", 401},
		{"token unset, empty bearer", "", "Bearer ", 401},
		{"missing header", internalToken, "", 401},
		{"wrong scheme", internalToken, "Basic " + internalToken, 401},
		{"token without scheme", internalToken, internalToken, 401},
		{"scheme only", internalToken, "Bearer", 401},
		{"empty bearer", internalToken, "Bearer ", 401},
		{"wrong token", internalToken, "Bearer nope", 401},
		{"prefix of the token", internalToken, "Bearer " + internalToken[:10], 401},
		{"token plus suffix", internalToken, "Bearer " + internalToken + "x", 401},
		{"right token", internalToken, "Bearer " + internalToken, 200},
		{"scheme is case-insensitive", internalToken, "bearer " + internalToken, 200},
		{"extra spaces", internalToken, "Bearer    " + internalToken, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEngine(t, Options{}, slog.LevelInfo)
			g := e.Group("/api/internal", RequireInternalToken(tc.configured))
			g.GET("/thing", func(c *gin.Context) { c.String(200, "secret stuff") })
			hdr := map[string]string{}
			if tc.header != "" {
				hdr["Authorization"] = tc.header
			}
			rec := e.do(t, "GET", "/api/internal/thing", nil, hdr)
			if tc.status == 200 {
				if rec.Code != 200 || rec.Body.String() != "secret stuff" {
					t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
				}
				return
			}
			envelope(t, rec, tc.status)
			if strings.Contains(rec.Body.String(), "secret stuff") {
				t.Error("handler ran despite 401")
			}
			if strings.Contains(rec.Body.String(), internalToken) {
				t.Errorf("401 body echoes the token: %s", rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="noetl"` {
				t.Errorf("WWW-Authenticate = %q, want the Bearer challenge every 401 carries", got)
			}
		})
	}
}

func TestRequireInternalTokenNamesVariableWhenUnset(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.GET("/api/internal/x", RequireInternalToken(""), func(c *gin.Context) { c.Status(200) })
	m := envelope(t, e.do(t, "GET", "/api/internal/x", nil, map[string]string{"Authorization": "Bearer x"}), 401)
	if !strings.Contains(m["error"].(string), "NOETL_INTERNAL_API_TOKEN") {
		t.Errorf("message %q does not name NOETL_INTERNAL_API_TOKEN", m["error"])
	}
}

// TestGateInternalPrefix: every path under /api/internal/ (and the service-to-service
// /internal/) is gated, routed or not, so probing answers 401 rather than 404.
func TestGateInternalPrefix(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.Use(GateInternalPrefix(internalToken))
	e.GET("/api/internal/known", func(c *gin.Context) { c.String(200, "known") })
	e.GET("/internal/known", func(c *gin.Context) { c.String(200, "svc") })
	e.GET("/api/public", func(c *gin.Context) { c.String(200, "public") })
	e.GET("/api/internalish", func(c *gin.Context) { c.String(200, "not internal") })
	auth := map[string]string{"Authorization": "Bearer " + internalToken}
	tests := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		status int
	}{
		{"unknown internal path, no token", "GET", "/api/internal/nope", nil, 401},
		{"unknown internal deep path, no token", "POST", "/api/internal/wallet/rotate", nil, 401},
		{"internal root, no token", "GET", "/api/internal", nil, 401},
		{"internal root slash, no token", "GET", "/api/internal/", nil, 401},
		{"known internal, no token", "GET", "/api/internal/known", nil, 401},
		{"known internal, wrong method, no token", "DELETE", "/api/internal/known", nil, 401},
		{"known internal, wrong token", "GET", "/api/internal/known", map[string]string{"Authorization": "Bearer no"}, 401},
		{"service route, no token", "GET", "/internal/known", nil, 401},
		{"unknown service route, no token", "GET", "/internal/nope", nil, 401},
		{"known internal, token", "GET", "/api/internal/known", auth, 200},
		{"service route, token", "GET", "/internal/known", auth, 200},
		{"unknown internal, token", "GET", "/api/internal/nope", auth, 404},
		{"wrong method with token", "DELETE", "/api/internal/known", auth, 405},
		{"public route", "GET", "/api/public", nil, 200},
		{"prefix lookalike is not gated", "GET", "/api/internalish", nil, 200},
		{"unknown public", "GET", "/api/nope", nil, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(t, tc.method, tc.path, nil, tc.hdr)
			if tc.status == 200 {
				if rec.Code != 200 {
					t.Fatalf("%s %s = %d %s, want 200", tc.method, tc.path, rec.Code, rec.Body)
				}
				return
			}
			envelope(t, rec, tc.status)
		})
	}
}

func TestRequireInternalTokenOverHTTP(t *testing.T) {
	t.Parallel()
	// Header values are trimmed by the HTTP server, so a token is compared without the
	// surrounding whitespace; a wrong token of the same length is still refused.
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.GET("/api/internal/x", RequireInternalToken(internalToken), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	same := strings.Repeat("z", len(internalToken))
	if rec := e.do(t, "GET", "/api/internal/x", nil, map[string]string{"Authorization": "Bearer " + same}); rec.Code != 401 {
		t.Errorf("same-length wrong token: %d", rec.Code)
	}
}

// TestRequireInternalTokenConfiguredWithNewline: a token read from a file-backed secret
// often ends in a newline. HTTP strips surrounding whitespace from header values, so the
// configured side must be trimmed as well or the right token can never match.
func TestRequireInternalTokenConfiguredWithNewline(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.GET("/api/internal/x", RequireInternalToken(internalToken+"\n"), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	if rec := e.do(t, "GET", "/api/internal/x", nil, map[string]string{"Authorization": "Bearer " + internalToken}); rec.Code != http.StatusNoContent {
		t.Errorf("right token against a newline-terminated configuration: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do(t, "GET", "/api/internal/x", nil, map[string]string{"Authorization": "Bearer x" + internalToken}); rec.Code != 401 {
		t.Errorf("wrong token: %d", rec.Code)
	}
}

// TestRequireInternalTokenMessageNamesTheToken: an internal route outside /api/internal/
// (POST /api/postgres/execute) was refused with "invalid token for /api/internal/*",
// which sent a caller looking for a path it had not called. The 401 names the token the
// route takes, as the other classes' 401 does.
func TestRequireInternalTokenMessageNamesTheToken(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.POST("/api/postgres/execute", RequireInternalToken(internalToken), func(c *gin.Context) { c.Status(200) })
	for name, hdr := range map[string]map[string]string{
		"wrong token": {"Authorization": "Bearer client-token"},
		"no token":    nil,
	} {
		m := envelope(t, e.do(t, "POST", "/api/postgres/execute", nil, hdr), 401)
		msg, _ := m["error"].(string)
		if strings.Contains(msg, "/api/internal") || !strings.Contains(msg, "NOETL_INTERNAL_API_TOKEN") {
			t.Errorf("%s: message %q; want one that names NOETL_INTERNAL_API_TOKEN and no path", name, msg)
		}
	}
}
