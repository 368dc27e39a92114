package httpx

import "bytes"
import "encoding/json"
import "fmt"
import "io"
import "log/slog"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/wire"

type bindTarget struct {
	Name   string   `json:"name"`
	Count  int      `json:"count"`
	Tags   []string `json:"tags"`
	ID     wire.ID  `json:"id"`
	Nested struct {
		On bool `json:"on"`
	} `json:"nested"`
	Any any `json:"any"`
}

func bindEngine(t *testing.T, limit int64) testEngine {
	t.Helper()
	e := newTestEngine(t, Options{MaxBodyBytes: limit}, slog.LevelInfo)
	e.POST("/bind", func(c *gin.Context) {
		c.Header("X-Test-Content-Length", fmt.Sprint(c.Request.ContentLength))
		var v bindTarget
		if err := BindJSON(c, &v); err != nil {
			WriteError(c, err)
			return
		}
		c.JSON(200, v)
	})
	return e
}

func TestBindJSON(t *testing.T) {
	t.Parallel()
	e := bindEngine(t, 1<<20)
	const jsonCT = "application/json"
	tests := []struct {
		name     string
		ct       string
		body     string
		status   int
		msgParts []string
	}{
		{"ok", jsonCT, `{"name":"a","count":2,"id":"9007199254740993"}`, 200, nil},
		{"ok with charset", "application/json; charset=utf-8", `{"name":"a"}`, 200, nil},
		{"ok +json", "application/merge-patch+json", `{"name":"a"}`, 200, nil},
		{"ok upper-case type", "Application/JSON", `{}`, 200, nil},
		{"unknown fields ignored", jsonCT, `{"name":"a","extra":{"x":1}}`, 200, nil},
		{"missing content type", "", `{"name":"a"}`, 415, []string{"Content-Type", "application/json"}},
		{"text/plain", "text/plain", `{"name":"a"}`, 415, []string{"application/json"}},
		{"form", "application/x-www-form-urlencoded", `name=a`, 415, nil},
		{"garbage content type", ";;;", `{}`, 415, nil},
		{"malformed", jsonCT, `{"name":`, 400, []string{"malformed JSON"}},
		{"syntax error", jsonCT, `{"name" "a"}`, 400, []string{"malformed JSON"}},
		{"trailing garbage", jsonCT, `{"name":"a"} x`, 400, nil},
		{"two documents", jsonCT, `{} {}`, 400, []string{"after the top-level value"}},
		{"empty body", jsonCT, ``, 400, []string{"empty"}},
		{"blank body", jsonCT, "  \n ", 400, []string{"empty"}},
		{"string for name", jsonCT, `{"name":1}`, 422, []string{`"name"`, "string"}},
		{"string for count", jsonCT, `{"count":"x"}`, 422, []string{`"count"`, "integer"}},
		{"float for count", jsonCT, `{"count":1.5}`, 422, []string{`"count"`}},
		{"object for tags", jsonCT, `{"tags":{}}`, 422, []string{`"tags"`, "array"}},
		{"nested field", jsonCT, `{"nested":{"on":"yes"}}`, 422, []string{"nested.on", "boolean"}},
		{"array element", jsonCT, `{"tags":["a",2]}`, 422, []string{"tags"}},
		{"top-level array", jsonCT, `[1,2]`, 422, []string{"object"}},
		{"top-level string", jsonCT, `"x"`, 422, nil},
		{"bad id", jsonCT, `{"id":1.5}`, 422, []string{"id"}},
		{"null id", jsonCT, `{"id":null}`, 422, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := map[string]string{}
			if tc.ct != "" {
				hdr["Content-Type"] = tc.ct
			}
			rec := e.do(t, http.MethodPost, "/bind", strings.NewReader(tc.body), hdr)
			if tc.status == 200 {
				if rec.Code != 200 {
					t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
				}
				return
			}
			m := envelope(t, rec, tc.status)
			for _, p := range tc.msgParts {
				if !strings.Contains(m["error"].(string), p) {
					t.Errorf("message %q does not contain %q", m["error"], p)
				}
			}
		})
	}
}

func TestBindJSONKeepsInt64Precision(t *testing.T) {
	t.Parallel()
	e := bindEngine(t, 1<<20)
	rec := e.do(t, http.MethodPost, "/bind", strings.NewReader(`{"id":9007199254740993,"any":9007199254740993}`),
		map[string]string{"Content-Type": "application/json"})
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	// DecodeJSON uses UseNumber: a dynamic value keeps every digit too.
	if !strings.Contains(rec.Body.String(), `"id":9007199254740993`) || !strings.Contains(rec.Body.String(), `"any":9007199254740993`) {
		t.Errorf("precision lost: %s", rec.Body)
	}
}

// TestBodyLimit: bodies over the limit answer 413 whether the client declares the length
// or streams the body chunked.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 1024
	e := bindEngine(t, limit)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	big := `{"name":"` + strings.Repeat("x", 4*limit) + `"}`
	small := `{"name":"` + strings.Repeat("x", limit/2) + `"}`
	exact := `{"name":"` + strings.Repeat("x", limit-len(`{"name":""}`)) + `"}`
	if len(exact) != limit {
		t.Fatalf("exact body is %d bytes", len(exact))
	}
	tests := []struct {
		name    string
		body    string
		chunked bool
		status  int
	}{
		{"small with length", small, false, 200},
		{"exactly the limit", exact, false, 200},
		{"exactly the limit chunked", exact, true, 200},
		{"one byte over", exact + " ", false, 413},
		{"big with length", big, false, 413},
		{"small chunked", small, true, 200},
		{"big chunked", big, true, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				// A reader of unknown length makes the client send Transfer-Encoding: chunked.
				body = io.MultiReader(strings.NewReader(tc.body))
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/bind", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tc.chunked && req.ContentLength != 0 {
				t.Fatalf("request has a content length %d; it would not be chunked", req.ContentLength)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.status, b)
			}
			if tc.status == 200 {
				wantCL := fmt.Sprint(len(tc.body))
				if tc.chunked {
					wantCL = "-1" // unknown length: the server saw a chunked body
				}
				if got := resp.Header.Get("X-Test-Content-Length"); got != wantCL {
					t.Errorf("server saw content length %s, want %s", got, wantCL)
				}
			}
			if tc.status == 413 {
				m := envelopeBody(t, resp.Header, b, 413)
				if !strings.Contains(m["error"].(string), fmt.Sprint(limit)) {
					t.Errorf("413 message %q does not state the limit", m["error"])
				}
				if resp.Header.Get(RequestIDHeader) == "" {
					t.Error("413 has no request id header")
				}
			}
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	var v struct {
		N int64 `json:"n"`
	}
	if err := DecodeJSON([]byte(`{"n":9223372036854775807}`), &v); err != nil || v.N != 9223372036854775807 {
		t.Errorf("DecodeJSON = %d, %v", v.N, err)
	}
	err := DecodeJSON([]byte(`{"n":"x"}`), &v)
	if StatusOf(err) != 422 {
		t.Errorf("type error status = %d (%v)", StatusOf(err), err)
	}
	err = DecodeJSON([]byte(`{"n":`), &v)
	if StatusOf(err) != 400 {
		t.Errorf("truncated status = %d (%v)", StatusOf(err), err)
	}
	var m map[string]any
	if err := DecodeJSON([]byte(`{"a":1}`), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["a"].(json.Number); !ok {
		t.Errorf("numbers decode as %T, want json.Number", m["a"])
	}
}

func TestReadJSONBody(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{MaxBodyBytes: 64}, slog.LevelInfo)
	e.POST("/raw", func(c *gin.Context) {
		b, err := ReadJSONBody(c)
		if err != nil {
			WriteError(c, err)
			return
		}
		c.Data(200, "application/octet-stream", b)
	})
	rec := e.do(t, "POST", "/raw", bytes.NewReader([]byte(`{"a":1}`)), map[string]string{"Content-Type": "application/json"})
	if rec.Code != 200 || rec.Body.String() != `{"a":1}` {
		t.Errorf("ReadJSONBody = %d %q", rec.Code, rec.Body)
	}
	// What PostgreSQL cannot store never reaches a handler.
	for body, status := range map[string]int{`{"a":"\u0000"}`: 422, `{"a":"\udfff"}`: 422, "{\"a\":\"\xc3\"}": 400} {
		rec := e.do(t, "POST", "/raw", strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
		if rec.Code != status {
			t.Errorf("ReadJSONBody(%q) = %d, want %d", body, rec.Code, status)
		}
	}
}

// DecodeObject answers a bad body as DecodeJSON does: broken syntax is a 400 saying
// where, well-formed JSON that is not an object or holds a number float64 cannot is a
// 422. (Its callers used to answer a number out of range with a 400 "malformed JSON".)
func TestDecodeObject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"object", `{"a":1,"b":[true]}`, 0, ""},
		{"empty object", `{}`, 0, ""},
		{"empty body", ``, 400, "malformed JSON: unexpected end of input"},
		{"truncated", `{"a":`, 400, "malformed JSON: unexpected end of input"},
		{"syntax error", `{"a" 1}`, 400, "malformed JSON at byte"},
		{"trailing data", `{} x`, 400, "unexpected data after the top-level value"},
		{"stray bracket", `{}}`, 400, "unexpected data after the top-level value"},
		{"array", `[1]`, 422, "request body must be a JSON object"},
		{"null", `null`, 422, "request body must be a JSON object"},
		{"number out of range", `{"n":1e400}`, 422, "invalid request body: number 1e400 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := DecodeObject([]byte(tc.body))
			if tc.status == 0 {
				if err != nil || m == nil {
					t.Fatalf("DecodeObject: %v, %v", m, err)
				}
				return
			}
			he, ok := err.(*Error)
			if !ok || he.Status != tc.status || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %#v, want %d containing %q", err, tc.status, tc.msg)
			}
		})
	}
}

// TestDecodeJSONFieldOfEmbeddedStruct: encoding/json names a field reached through an
// embedded struct with the struct's Go name ("Registration.capacity"); the answer names
// the field as the client sent it.
func TestDecodeJSONFieldOfEmbeddedStruct(t *testing.T) {
	t.Parallel()
	type Inner struct {
		Capacity int `json:"capacity"`
	}
	type Deep struct {
		Inner
	}
	type Limits struct {
		Max int `json:"max"`
	}
	var v struct {
		*Deep
		Name   string            `json:"name"`
		Limits Limits            `json:"limits"`
		Named  Inner             `json:"named"`
		Items  []Inner           `json:"items"`
		ByKey  map[string]Limits `json:"by_key"`
	}
	tests := []struct{ body, want string }{
		{`{"capacity": "x"}`, `field "capacity": expected an integer, got JSON string`},
		{`{"name": 5}`, `field "name": expected a string`},
		{`{"limits": {"max": "x"}}`, `field "limits.max": expected an integer`},
		{`{"named": {"capacity": true}}`, `field "named.capacity": expected an integer`},
		{`{"items": [{"capacity": "x"}]}`, `field "items.capacity": expected an integer`},
		{`{"by_key": {"a": {"max": "x"}}}`, `field "by_key.max": expected an integer`},
	}
	for _, tc := range tests {
		err := DecodeJSON([]byte(tc.body), &v)
		if StatusOf(err) != 422 || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (status %d), want 422 with %q", tc.body, err, StatusOf(err), tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "Inner") || strings.Contains(err.Error(), "Deep")) {
			t.Errorf("%s: %v names a Go type", tc.body, err)
		}
	}
}
