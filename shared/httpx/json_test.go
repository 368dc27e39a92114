package httpx

import "net/http"
import "net/http/httptest"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"

// TestJSONWriter: answers and error envelopes share one encoding: compact, no HTML
// escaping, integers beyond 2^53 exact, and an encoding failure is a 500 envelope.
func TestJSONWriter(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.ReleaseMode)
	tests := []struct {
		name       string
		write      func(c *gin.Context)
		wantStatus int
		wantBody   string
	}{
		{"answer", func(c *gin.Context) {
			JSON(c, http.StatusOK, map[string]any{"html": "<b>&</b>", "id": int64(9007199254740993)})
		}, 200, `{"html":"<b>&</b>","id":9007199254740993}`},
		{"status kept", func(c *gin.Context) { JSON(c, http.StatusAccepted, []int{1}) }, 202, `[1]`},
		{"error envelope", func(c *gin.Context) { WriteError(c, NotFound("no <such> thing")) }, 404,
			`{"error":"no <such> thing","status":404}`},
		{"unencodable", func(c *gin.Context) { JSON(c, http.StatusOK, map[string]any{"f": func() {}}) }, 500, ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
			tc.write(c)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tc.wantStatus, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tc.wantBody != "" && rec.Body.String() != tc.wantBody {
				t.Errorf("body = %s, want %s", rec.Body, tc.wantBody)
			}
			if tc.wantStatus >= 400 && !c.IsAborted() {
				t.Error("an error answer did not stop the handler chain")
			}
		})
	}
}

// TestPathAndQueryInt64: integer path and query parameters parse exactly (beyond 2^53),
// and anything else is a 400 that names the parameter or quotes the raw text.
func TestPathAndQueryInt64(t *testing.T) {
	t.Parallel()
	ctx := func(param, query string) *gin.Context {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodGet, "/?"+query, nil)
		c.Params = gin.Params{{Key: "execution_id", Value: param}}
		return c
	}
	if id, err := PathInt64(ctx("9007199254740993", ""), "execution_id", "an execution id"); err != nil || id != 9007199254740993 {
		t.Errorf("PathInt64 = %d, %v", id, err)
	}
	_, err := PathInt64(ctx("12x", ""), "execution_id", "an execution id")
	if StatusOf(err) != http.StatusBadRequest || err.Error() != `Invalid URL: cannot parse "12x" as an execution id` {
		t.Errorf("PathInt64(12x) err = %v (status %d)", err, StatusOf(err))
	}
	if v, err := QueryInt64(ctx("", "execution_id=-5"), "execution_id"); err != nil || v == nil || *v != -5 {
		t.Errorf("QueryInt64 = %v, %v", v, err)
	}
	if v, err := QueryInt64(ctx("", ""), "execution_id"); err != nil || v != nil {
		t.Errorf("QueryInt64(absent) = %v, %v; want nil, nil", v, err)
	}
	if _, err := QueryInt64(ctx("", "execution_id=1.5"), "execution_id"); StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "execution_id") {
		t.Errorf("QueryInt64(1.5) err = %v", err)
	}
}
