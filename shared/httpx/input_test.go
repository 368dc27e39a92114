package httpx

import "log/slog"
import "net/http"
import "net/url"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"

func TestCheckJSONText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		status     int // 0: accepted
	}{
		{"plain", `{"a":"b"}`, 0},
		{"escapes", `{"a":"line\nbreak \"q\" \\ \/ \t"}`, 0},
		{"unicode escape", `{"a":"\u00e9\u4e2d"}`, 0},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, 0},
		{"escaped backslash then u0000 text", `{"a":"\\u0000"}`, 0},
		{"NUL escape", `{"a":"x\u0000y"}`, 422},
		{"NUL escape upper case", `{"a":"\U0000"}`, 0}, // not an escape JSON knows; the decoder rejects it
		{"NUL escape in a key", `{"\u0000":1}`, 422},
		{"NUL after an escaped backslash", `{"a":"\\\u0000"}`, 422},
		{"lone high surrogate", `{"a":"\ud800"}`, 422},
		{"high surrogate then text", `{"a":"\ud800abcdef"}`, 422},
		{"high surrogate then high", `{"a":"\ud800\ud800"}`, 422},
		{"lone low surrogate", `{"a":"\udc00"}`, 422},
		{"invalid UTF-8", "{\"a\":\"\xff\xfe\"}", 400},
		{"truncated escape", `{"a":"\u00`, 0},
		{"backslash at the end", `"\`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckJSONText([]byte(tc.body))
			if got := statusOrZero(err); got != tc.status {
				t.Errorf("CheckJSONText(%q) = %v (status %d), want status %d", tc.body, err, got, tc.status)
			}
		})
	}
}

func statusOrZero(err error) int {
	if err == nil {
		return 0
	}
	return StatusOf(err)
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, raw string
		status    int
	}{
		{"plain", "/api/credentials/abc?x=1", 0},
		{"unicode", "/api/credentials/%C3%A9?q=%E4%B8%AD", 0},
		{"invalid UTF-8 in the path", "/api/credentials/%FF%FE", 400},
		{"NUL in the path", "/api/vars/1/a%00b", 400},
		{"invalid UTF-8 in a value", "/api/internal/secret-audit?worker_id=%C0%AF", 400},
		{"NUL in a value", "/api/credentials?q=a%00", 400},
		{"invalid UTF-8 in a name", "/api/credentials?%FF=1", 400},
		{"malformed escape is ignored like gin does", "/api/credentials?q=%zz", 0},
		{"path at the limit", "/" + strings.Repeat("a", MaxPathBytes-1), 0},
		{"path over the limit", "/" + strings.Repeat("a", MaxPathBytes), 414},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := statusOrZero(CheckURL(u)); got != tc.status {
				t.Errorf("CheckURL(%s) status %d, want %d", tc.raw, got, tc.status)
			}
		})
	}
}

// TestEngineRejectsBadURLs: the engine answers 400 with the envelope before any handler
// runs, for matched and unmatched routes alike.
func TestEngineRejectsBadURLs(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{MaxBodyBytes: 1 << 20}, slog.LevelInfo)
	reached := false
	e.GET("/api/vars/:id/:name", func(c *gin.Context) { reached = true; c.Status(204) })
	for _, raw := range []string{"/api/vars/1/%FF", "/api/vars/1/x?a=%00", "/nowhere/%FF"} {
		rec := e.do(t, http.MethodGet, raw, nil, nil)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"status":400`) {
			t.Errorf("%s: %d %s, want the 400 envelope", raw, rec.Code, rec.Body)
		}
	}
	if reached {
		t.Error("a handler ran for a bad URL")
	}
	if rec := e.do(t, http.MethodGet, "/api/vars/1/%C3%A9", nil, nil); rec.Code != 204 {
		t.Errorf("a valid UTF-8 path: %d", rec.Code)
	}
}
