package httptool

import "compress/flate"
import "compress/gzip"
import "compress/zlib"
import "context"
import "crypto/tls"
import "encoding/json"
import "fmt"
import "io"
import "net"
import "net/http"
import "net/http/httptest"
import "reflect"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/testkit"

// echo answers with what it received; /status/<n> answers n; /slow sleeps past any
// test timeout.
func echo(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/status/") {
			code := 0
			for _, c := range strings.TrimPrefix(r.URL.Path, "/status/") {
				code = code*10 + int(c-'0')
			}
			w.Header().Set("X-Reason", "asked")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, `{"error":"as asked"}`)
			return
		}
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return
		}
		if r.URL.Path == "/loop" {
			http.Redirect(w, r, "/loop", http.StatusFound)
			return
		}
		if r.URL.Path == "/ftp" {
			w.Header().Set("Location", "ftp://files.example.test/x")
			w.WriteHeader(http.StatusFound)
			return
		}
		if r.URL.Path == "/text" {
			_, _ = io.WriteString(w, "plain words")
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "query": r.URL.RawQuery, "body": string(b),
			"content_type": r.Header.Get("Content-Type"), "auth": r.Header.Get("Authorization"), "n": 3900000000000000123, "host": r.Host,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, cfg map[string]any) tool.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return New().Run(ctx, tool.Call{Kind: "http", Config: cfg})
}

func TestHTTPRequests(t *testing.T) {
	t.Parallel()
	srv := echo(t)
	tests := []struct {
		name string
		cfg  map[string]any
		want map[string]any // subset of the echoed body
	}{
		{"GET with params, lower-case method, numbers in params",
			map[string]any{"url": srv.URL + "/x", "method": "get", "params": map[string]any{"page": int64(2), "q": "a b", "skip": nil}},
			map[string]any{"method": "GET", "query": "page=2&q=a+b"}},
		{"json body wins over form and body",
			map[string]any{"url": srv.URL, "method": "POST", "json": map[string]any{"a": int64(1)}, "form": map[string]any{"x": "y"}, "body": "raw"},
			map[string]any{"body": `{"a":1}`, "content_type": "application/json"}},
		{"form body", map[string]any{"url": srv.URL, "method": "POST", "form": map[string]any{"x": "y", "n": int64(1)}},
			map[string]any{"body": "n=1&x=y", "content_type": "application/x-www-form-urlencoded"}},
		{"raw string body", map[string]any{"url": srv.URL, "method": "PUT", "body": "raw text"},
			map[string]any{"body": "raw text"}},
		{"data is accepted as a JSON body", map[string]any{"url": srv.URL, "method": "POST", "data": []any{int64(1)}},
			map[string]any{"body": "[1]"}},
		{"a list param repeats its key, in order", map[string]any{"url": srv.URL, "params": map[string]any{"tag": []any{"b", "a", nil, int64(3)}, "one": "x"}},
			map[string]any{"query": "one=x&tag=b&tag=a&tag=3"}},
		{"the URL's own query is kept as written, params added after it", map[string]any{"url": srv.URL + "/x?sig=a%2Bb+c&flag&a=1;b=2", "params": map[string]any{"z": "1"}},
			map[string]any{"query": "sig=a%2Bb+c&flag&a=1;b=2&z=1"}},
		{"what a URL may not hold is percent-encoded, escapes kept", map[string]any{"url": srv.URL + "/x?q=a b&c=café&d=50%25&e=%zz"},
			map[string]any{"query": "q=a%20b&c=caf%C3%A9&d=50%25&e=%25zz"}},
		{"params are percent-encoded", map[string]any{"url": srv.URL, "params": map[string]any{"u": "é/&=+#"}},
			map[string]any{"query": "u=%C3%A9%2F%26%3D%2B%23"}},
		{"a form with a list repeats its key", map[string]any{"url": srv.URL, "method": "POST", "form": map[string]any{"a": "b c", "l": []any{"1", int64(2)}}},
			map[string]any{"body": "a=b+c&l=1&l=2", "content_type": "application/x-www-form-urlencoded"}},
		// JSON-encoded, such a string went out in quotes.
		{"a string under data with a Content-Type that is not JSON goes as written", map[string]any{"url": srv.URL, "method": "POST", "data": "<a>1</a>",
			"headers": map[string]any{"Content-Type": "application/xml"}},
			map[string]any{"body": "<a>1</a>", "content_type": "application/xml"}},
		{"an encoded form under payload goes as written", map[string]any{"url": srv.URL, "method": "POST", "payload": "a=1&b=2",
			"headers": map[string]any{"Content-Type": "application/x-www-form-urlencoded"}},
			map[string]any{"body": "a=1&b=2", "content_type": "application/x-www-form-urlencoded"}},
		{"a string under data with a JSON Content-Type is JSON", map[string]any{"url": srv.URL, "method": "POST", "data": "x",
			"headers": map[string]any{"Content-Type": "application/vnd.api+json"}},
			map[string]any{"body": `"x"`, "content_type": "application/vnd.api+json"}},
		{"an object body with a form Content-Type is form-encoded", map[string]any{"url": srv.URL, "method": "POST", "body": map[string]any{"a": "b c", "l": []any{"1", "2"}},
			"headers": map[string]any{"content-type": "application/x-www-form-urlencoded; charset=utf-8"}},
			map[string]any{"body": "a=b+c&l=1&l=2", "content_type": "application/x-www-form-urlencoded; charset=utf-8"}},
		{"a URL's surrounding whitespace (a folded YAML string's newline) is dropped", map[string]any{"url": " " + srv.URL + "/x?a=1\n"},
			map[string]any{"query": "a=1"}},
		// 1e10 s wrapped to a negative Duration, which timed the request out at once.
		{"a timeout far off is no limit", map[string]any{"url": srv.URL + "/x", "timeout_seconds": 1e10}, map[string]any{"method": "GET"}},
		{"headers are stringified", map[string]any{"url": srv.URL, "headers": map[string]any{"Authorization": "Bearer t", "X-N": int64(5)}},
			map[string]any{"auth": "Bearer t"}},
		// Go's client ignores a Host in the header map; a step asking a virtual host
		// by name reached the URL's host instead.
		{"a Host header names the virtual host", map[string]any{"url": srv.URL, "headers": map[string]any{"host": "api.example.test"}},
			map[string]any{"host": "api.example.test"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, tc.cfg)
			if r.Status != tool.Success {
				t.Fatalf("status %s: %s", r.Status, r.Error)
			}
			env := r.Data.(map[string]any)
			if env["status_code"] != int64(200) || !reflect.DeepEqual(env["data"], env["body"]) {
				t.Fatalf("envelope %v", env)
			}
			body := env["body"].(map[string]any)
			for k, v := range tc.want {
				if body[k] != v {
					t.Errorf("%s = %#v, want %#v (body %v)", k, body[k], v, body)
				}
			}
			if body["n"] != int64(3900000000000000123) {
				t.Errorf("a 64-bit integer in the body became %#v", body["n"])
			}
		})
	}
}

func TestHTTPFailures(t *testing.T) {
	t.Parallel()
	srv := echo(t)
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()
	tests := []struct {
		name      string
		cfg       map[string]any
		outcome   tool.Status
		kind      string
		retryable bool
		status    int64 // the envelope's status_code, 0 when there is none
		error     string
	}{
		{"404 keeps the envelope", map[string]any{"url": srv.URL + "/status/404"}, tool.Error, "not_found", false, 404, "HTTP 404 response"},
		{"503 is retryable", map[string]any{"url": srv.URL + "/status/503"}, tool.Error, "server_error", true, 503, "HTTP 503 response"},
		{"429 is retryable", map[string]any{"url": srv.URL + "/status/429"}, tool.Error, "rate_limit", true, 429, "HTTP 429 response"},
		{"401 is an auth failure", map[string]any{"url": srv.URL + "/status/401"}, tool.Error, "auth", false, 401, "HTTP 401 response"},
		{"connection refused is retryable", map[string]any{"url": closed}, tool.Error, "connection", true, 0, "HTTP error"},
		{"a timeout is retryable, with status timeout", map[string]any{"url": srv.URL + "/slow", "timeout_seconds": 0.3}, tool.Timeout, "timeout", true, 0, "timed out"},
		// It answers the same every time: it was a retryable connection failure.
		{"a redirect loop is not retryable", map[string]any{"url": srv.URL + "/loop"}, tool.Error, "http", false, 0, "stopped after 10 redirects"},
		{"a redirect to ftp is not retryable", map[string]any{"url": srv.URL + "/ftp"}, tool.Error, "http", false, 0, `a redirect to a "ftp" URL, which is not http(s)`},
		{"no url", map[string]any{}, tool.Error, "config", false, 0, "url is required"},
		{"a header name with a space", map[string]any{"url": srv.URL, "headers": map[string]any{"Bad Name": "x"}}, tool.Error, "config", false, 0,
			`headers: "Bad Name" is not a valid header name`},
		{"a header value with a line break", map[string]any{"url": srv.URL, "headers": map[string]any{"X-A": "one\ntwo"}}, tool.Error, "config", false, 0,
			`headers: the value of "X-A" holds a line break or a control character`},
		{"a bad method", map[string]any{"url": srv.URL, "method": "FETCH"}, tool.Error, "config", false, 0, "method"},
		{"an unknown response_type", map[string]any{"url": srv.URL, "response_type": "bytes"}, tool.Error, "config", false, 0,
			`response_type "bytes" is not one of json, text, binary`},
		// A playbook's own URL may carry a password no credential's scrubber knows.
		{"a URL that is not http(s) hides its password", map[string]any{"url": "ftp://user:pw-Secret-7@files.example.test/x"}, tool.Error, "config", false, 0,
			`url "ftp://user:xxxxx@files.example.test/x" is not an http(s) URL`},
		{"a URL that does not parse hides its password", map[string]any{"url": "http://user:pw-Secret-7@files.example.test:port/x"}, tool.Error, "config", false, 0,
			`url does not parse: invalid port ":port" after host`},
		{"a password with a '/' does not show in the parse error", map[string]any{"url": "http://user:pw-Secret/7@files.example.test/x"}, tool.Error, "config", false, 0,
			`url does not parse: the part before its last '@' (the userinfo) is not valid`},
		// One header holds one value: a list would otherwise go out as its JSON text.
		{"a list as a header value", map[string]any{"url": srv.URL, "headers": map[string]any{"Accept": []any{"application/json", "text/plain"}}},
			tool.Error, "config", false, 0, "headers.Accept is a list; give one string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, tc.cfg)
			if r.Status != tc.outcome || r.Fault == nil || r.Fault.Kind != tc.kind || r.Fault.Retryable != tc.retryable || !strings.Contains(r.Error, tc.error) {
				t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
			}
			if strings.Contains(r.Error, "Secret") {
				t.Fatalf("the error shows a password: %s", r.Error)
			}
			if tc.status != 0 {
				env := r.Data.(map[string]any)
				if env["status_code"] != tc.status || r.HTTP == nil || r.HTTP.Status != int(tc.status) || env["headers"].(map[string]any)["x-reason"] != "asked" {
					t.Fatalf("envelope %v", env)
				}
			}
		})
	}
}

// A body over the bound fails the call, but the status and headers that did arrive stay
// in the data, so a step can still branch on them.
func TestHTTPBodyOverTheBoundKeepsTheStatus(t *testing.T) {
	t.Parallel()
	srv := echo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := NewWithMaxBody(5).Run(ctx, tool.Call{Kind: "http", Config: map[string]any{"url": srv.URL + "/status/502"}})
	if r.Status != tool.Error || r.Fault == nil || r.Fault.Kind != "http" || r.Fault.StatusCode != 502 ||
		!strings.Contains(r.Error, "larger than 5 bytes (HTTP 502)") {
		t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
	}
	env, _ := r.Data.(map[string]any)
	if env["status_code"] != int64(502) || env["headers"].(map[string]any)["x-reason"] != "asked" || r.HTTP == nil || r.HTTP.Status != 502 {
		t.Fatalf("data %v, http %+v", r.Data, r.HTTP)
	}
	if _, has := env["body"]; has {
		t.Fatalf("the cut body was kept: %v", env)
	}
}

// A redirect the tool does not follow (follow_redirects: false, a 304) is the answer:
// a success whose envelope carries the status and the Location.
func TestHTTPUnfollowedRedirectIsASuccess(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cached" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name   string
		cfg    map[string]any
		status int64
	}{
		{"follow_redirects false", map[string]any{"url": srv.URL + "/moved", "follow_redirects": false}, 302},
		{"304 not modified", map[string]any{"url": srv.URL + "/cached"}, 304},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, tc.cfg)
			if r.Status != tool.Success || r.Fault != nil || r.Error != "" {
				t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
			}
			env := r.Data.(map[string]any)
			if env["status_code"] != tc.status || (tc.status == 302 && env["headers"].(map[string]any)["location"] != "/elsewhere") {
				t.Fatalf("envelope %v", env)
			}
		})
	}
}

// A body that is not UTF-8 text cannot travel as a JSON string without being mangled: it
// comes back base64, and the envelope says so.
func TestHTTPNonUTF8BodyIsBase64(t *testing.T) {
	t.Parallel()
	raw := []byte{'c', 'a', 'f', 0xe9, 0xff}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=latin1")
		_, _ = w.Write(raw)
	}))
	t.Cleanup(srv.Close)
	for _, rt := range []any{nil, "text"} {
		t.Run(fmt.Sprint(rt), func(t *testing.T) {
			t.Parallel()
			r := call(t, map[string]any{"url": srv.URL, "response_type": rt})
			env := r.Data.(map[string]any)
			want := map[string]any{"base64": "Y2Fm6f8=", "size": int64(5)}
			if r.Status != tool.Success || env["body_encoding"] != "base64" || !reflect.DeepEqual(env["body"], want) || !reflect.DeepEqual(env["data"], want) {
				t.Fatalf("got %s %v", r.Status, env)
			}
		})
	}
}

func TestHTTPResponseTypes(t *testing.T) {
	t.Parallel()
	srv := echo(t)
	r := call(t, map[string]any{"url": srv.URL + "/text"})
	if body := r.Data.(map[string]any)["body"]; body != "plain words" {
		t.Fatalf("text body = %#v", body)
	}
	r = call(t, map[string]any{"url": srv.URL + "/text", "response_type": "binary"})
	if body := r.Data.(map[string]any)["body"].(map[string]any); body["base64"] != "cGxhaW4gd29yZHM=" || body["size"] != int64(11) {
		t.Fatalf("binary body = %#v", body)
	}
}

// TLS options: an unknown CA fails (a retryable connection error), verify_ssl false
// skips the check, ca_file trusts a private CA, and client_cert/client_key answer an
// mTLS server.
func TestHTTPTLSOptions(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, fmt.Sprintf(`{"client_certs": %d}`, len(r.TLS.PeerCertificates)))
	}))
	pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: certs.CAPool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tests := []struct {
		name  string
		cfg   map[string]any
		certs int64 // client certificates the server saw; -1: the request fails
	}{
		{"an unknown CA fails", map[string]any{}, -1},
		{"verify_ssl false", map[string]any{"verify_ssl": false}, 0},
		{"ca_file", map[string]any{"ca_file": certs.CAFile}, 0},
		{"client certificate", map[string]any{"ca_file": certs.CAFile, "client_cert": certs.ClientCert, "client_key": certs.ClientKey}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg["url"] = srv.URL
			r := call(t, tc.cfg)
			if tc.certs < 0 {
				if r.Status != tool.Error || r.Fault.Kind != "connection" {
					t.Fatalf("got %s %+v %q", r.Status, r.Fault, r.Error)
				}
				return
			}
			if r.Status != tool.Success || r.Data.(map[string]any)["body"].(map[string]any)["client_certs"] != tc.certs {
				t.Fatalf("got %s %q %v", r.Status, r.Error, r.Data)
			}
		})
	}
}

// The headers a credential became go with a redirect to the same host, and not to
// another one: Go's client drops Authorization there, but an api_key credential's header
// it would forward to whatever host the server points at.
func TestCredentialHeadersStayOnTheirHost(t *testing.T) {
	t.Parallel()
	seen := make(chan http.Header, 4)
	landing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(landing.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(landing.URL, "http://"))
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/elsewhere": // the same listener under another host name
			http.Redirect(w, r, "http://localhost:"+port+"/landed", http.StatusFound)
		case "/same":
			http.Redirect(w, r, landing.URL+"/landed", http.StatusFound)
		}
	}))
	t.Cleanup(origin.Close)
	for _, tc := range []struct {
		path     string
		wantCred string
	}{
		{"/elsewhere", ""},
		{"/same", "key-Secret"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := call(t, map[string]any{
				"url":                     origin.URL + tc.path,
				"headers":                 map[string]any{"X-Token": "key-Secret", "X-Plain": "plain"},
				tool.CredentialHeadersKey: []string{"X-Token"},
			})
			if r.Status != tool.Success {
				t.Fatalf("got %s %q", r.Status, r.Error)
			}
			h := <-seen
			if h.Get("X-Token") != tc.wantCred || h.Get("X-Plain") != "plain" {
				t.Errorf("the landing host saw X-Token %q, X-Plain %q", h.Get("X-Token"), h.Get("X-Plain"))
			}
		})
	}
}

// A JSON body's integer beyond 64 bits (an unsigned id) keeps its digits as text; it was
// rounded to a float, 12345678901234567890 read back as 12345678901234567000.
func TestHTTPWideIntegersKeepTheirDigits(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": 12345678901234567890, "n": 9007199254740993, "f": 1.5}`)
	}))
	t.Cleanup(srv.Close)
	r := call(t, map[string]any{"url": srv.URL})
	want := map[string]any{"id": "12345678901234567890", "n": int64(9007199254740993), "f": 1.5}
	if body := r.Data.(map[string]any)["body"]; !reflect.DeepEqual(body, want) {
		t.Fatalf("body = %#v, want %#v", body, want)
	}
}

// Go's transport decodes gzip only when it asked for it itself: a step that sends its
// own Accept-Encoding got the compressed bytes, base64. A NUL byte in a text body made
// an outcome the control plane cannot store; a byte order mark hid the JSON after it.
func TestHTTPBodyEncodings(t *testing.T) {
	t.Parallel()
	compress := func(w io.WriteCloser) {
		_, _ = io.WriteString(w, `{"a":1}`)
		_ = w.Close()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			compress(gzip.NewWriter(w))
		case "/zlib":
			w.Header().Set("Content-Encoding", "deflate")
			compress(zlib.NewWriter(w))
		case "/deflate":
			w.Header().Set("Content-Encoding", "deflate")
			f, _ := flate.NewWriter(w, flate.DefaultCompression)
			compress(f)
		case "/mislabelled":
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = io.WriteString(w, `{"a":1}`)
		case "/nul":
			_, _ = io.WriteString(w, "a\x00b")
		case "/bom":
			_, _ = io.WriteString(w, "\xef\xbb\xbf{\"a\":1}")
		}
	}))
	t.Cleanup(srv.Close)
	obj := map[string]any{"a": int64(1)}
	for _, tc := range []struct {
		path, accept string
		want         any
	}{
		{"/gzip", "gzip, deflate, br", obj},
		{"/gzip", "", obj},
		{"/zlib", "deflate", obj},
		{"/deflate", "deflate", obj},
		{"/mislabelled", "gzip", obj},
		{"/nul", "", map[string]any{"base64": "YQBi", "size": int64(3)}},
		{"/bom", "", obj},
	} {
		t.Run(tc.path+" "+tc.accept, func(t *testing.T) {
			t.Parallel()
			cfg := map[string]any{"url": srv.URL + tc.path}
			if tc.accept != "" {
				cfg["headers"] = map[string]any{"Accept-Encoding": tc.accept}
			}
			r := call(t, cfg)
			env, _ := r.Data.(map[string]any)
			if r.Status != tool.Success || !reflect.DeepEqual(env["data"], tc.want) {
				t.Fatalf("got %s %q %v", r.Status, r.Error, r.Data)
			}
			if h := env["headers"].(map[string]any); tc.path != "/mislabelled" && h["content-encoding"] != nil {
				t.Fatalf("the headers still describe the encoded body: %v", h)
			}
		})
	}
}
