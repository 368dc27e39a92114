// Package httpkit gives handler tests the engine the services build and the few steps
// every such test repeats: send a request, check the status, decode the JSON answer.
//
// It is a package of its own, not part of testkit, because it builds on shared/httpx
// and httpx's own tests use testkit: one package would be an import cycle.
package httpkit

import "bytes"
import "encoding/json"
import "io"
import "log/slog"
import "net/http"
import "net/http/httptest"
import "runtime"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/jsonx"

// Engine returns an engine as the services build it: httpx.NewEngine with a discarding
// logger and a 1 MiB body limit and, when token is not "", the internal-route gate the
// api installs before its routes. Register the routes under test on a group of it.
func Engine(t testing.TB, token string) *gin.Engine {
	t.Helper()
	return EngineWith(t, httpx.Options{}, token)
}

// EngineWith is Engine with options of the test's own; the fields left zero take
// Engine's defaults.
func EngineWith(t testing.TB, o httpx.Options, token string) *gin.Engine {
	t.Helper()
	if o.Service == "" {
		o.Service = "test"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	e := httpx.NewEngine(o)
	if token != "" {
		e.Use(httpx.GateInternalPrefix(config.Secret(token)))
	}
	return e
}

// Request serves one request in memory. A body that is not "" is sent as
// application/json; a token that is not "" as a Bearer Authorization header.
func Request(t testing.TB, h http.Handler, method, path, body, token string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Reply is an answer of a running server, read whole.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Send makes a request to a running server at url. A nil body sends none; a string is
// sent as it is and any other value as its JSON encoding, both as application/json. A
// token that is not "" is sent as a Bearer Authorization header.
func Send(t testing.TB, method, url, token string, body any) Reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// WantStatus fails the test unless the answer has the status.
func WantStatus(t testing.TB, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
}

// JSON decodes an answer in the shared model (integers stay int64), failing the test
// when it is not JSON.
func JSON(t testing.TB, rec *httptest.ResponseRecorder) any {
	t.Helper()
	v, err := jsonx.Decode(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return v
}

// JSONBody decodes an answer that must be a JSON object, in the shared model.
func JSONBody(t testing.TB, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	m, err := jsonx.DecodeObject(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return m
}

// WantJSON checks the status and returns the JSON object answered.
func WantJSON(t testing.TB, rec *httptest.ResponseRecorder, status int) map[string]any {
	t.Helper()
	WantStatus(t, rec, status)
	return JSONBody(t, rec)
}

// WantError checks an error answer: the status, and the envelope {"error", "status"}
// carrying the same status and, when msg is not "", exactly msg.
func WantError(t testing.TB, rec *httptest.ResponseRecorder, status int, msg string) {
	t.Helper()
	WantStatus(t, rec, status)
	m := JSONBody(t, rec)
	if msg != "" && m["error"] != msg {
		t.Errorf("error = %q, want %q", m["error"], msg)
	}
	if m["status"] != int64(status) {
		t.Errorf("status field = %v, want %d", m["status"], status)
	}
}

// KeysInOrder returns the top-level keys of a JSON object in document order, which a
// decoded map forgets.
func KeysInOrder(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// RequestBounded is Request for the fuzz targets: it fails the test when the answer is a
// 5xx, when a 4xx lacks the error envelope, or when serving the request allocated more
// than maxAlloc bytes (the process's cumulative allocation across the request, which a
// garbage collection does not reset).
func RequestBounded(t testing.TB, h http.Handler, method, path, body string, maxAlloc uint64) *httptest.ResponseRecorder {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rec := Request(t, h, method, path, body, "")
	runtime.ReadMemStats(&after)
	if rec.Code >= 500 {
		t.Fatalf("%s %s %.300q: %d %s", method, path, body, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		WantError(t, rec, rec.Code, "")
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > maxAlloc {
		t.Fatalf("%s %s %.300q allocated %d bytes (limit %d)", method, path, body, d, maxAlloc)
	}
	return rec
}
