package client

import "context"
import "crypto/ecdsa"
import "crypto/elliptic"
import "crypto/rand"
import "crypto/tls"
import "crypto/x509"
import "crypto/x509/pkix"
import "encoding/json"
import "encoding/pem"
import "errors"
import "io"
import "math/big"
import "net"
import "net/http"
import "net/http/httptest"
import "os"
import "path/filepath"
import "strings"
import "testing"
import "time"

func writePEM(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// clientCert is a self-signed client certificate and its key, as PEM files.
func clientCert(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "noetl-cli-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return writePEM(t, "client.crt", "CERTIFICATE", der), writePEM(t, "client.key", "EC PRIVATE KEY", kder), cert
}

// The TLS options: the server's CA from --ca-cert, a client certificate for a server that
// requires one, and what happens without them.
func TestTLSOptions(t *testing.T) {
	t.Parallel()
	certFile, keyFile, cc := clientCert(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok","version":"v9"}`)
	}))
	pool := x509.NewCertPool()
	pool.AddCert(cc)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := writePEM(t, "ca.crt", "CERTIFICATE", srv.Certificate().Raw)

	tests := []struct {
		name string
		o    Options
		err  string // "" = the call succeeds
	}{
		{"ca and client certificate", Options{CACert: caFile, ClientCert: certFile, ClientKey: keyFile}, ""},
		{"no client certificate", Options{CACert: caFile}, "certificate"},
		{"unknown CA", Options{ClientCert: certFile, ClientKey: keyFile}, "certificate"},
		{"skip verify", Options{InsecureSkipVerify: true, ClientCert: certFile, ClientKey: keyFile}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Server = srv.URL
			c, err := New(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			h, err := c.Health(context.Background())
			if tc.err == "" {
				if err != nil || h.Version != "v9" {
					t.Fatalf("Health: %+v %v", h, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want one mentioning %q", err, tc.err)
			}
		})
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	_ = os.WriteFile(notPEM, []byte("nope"), 0o600)
	for _, o := range []Options{
		{Server: "localhost:8082"}, {Server: "ftp://x"}, {Server: "http://localhost:8082?x=1"}, {Server: "http://localhost:8082/#top"}, {Server: "http://localhost:8082?"}, {ClientCert: "a.crt"}, {CACert: notPEM}, {CACert: "/nonexistent"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	c, err := New(Options{})
	if err != nil || c.Server() != DefaultServer {
		t.Errorf("default server %v %v", c, err)
	}
}

// An error answer becomes an APIError with the envelope's message and the status; the
// token goes in the Authorization header.
func TestAPIErrorAndToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid token","status":401}`)
			return
		}
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = io.WriteString(w, `{"error":"Either 'path' or 'catalog_id' must be provided","status":422}`)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, token string
		want        int
		hint        bool // the 401 says where noetl takes a token
	}{
		{"the right token", "tok", 422, false},
		{"a wrong token", "wrong", 401, false},
		{"no token", "", 401, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := New(Options{Server: srv.URL, Token: tc.token})
			_, err := c.Execute(context.Background(), "", 0, nil)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.want || !strings.Contains(err.Error(), ae.Message) || ae.Message == "" {
				t.Fatalf("%v, want an APIError %d", err, tc.want)
			}
			if got := strings.Contains(err.Error(), "source .run/client.env"); got != tc.hint {
				t.Errorf("%q: hint %v, want %v", err, got, tc.hint)
			}
		})
	}
}

// A server URL given as the API's base (…/api), or behind a proxy prefix, reaches the
// same route paths: the client's paths already start with /api.
func TestServerURLPath(t *testing.T) {
	t.Parallel()
	for server, want := range map[string]string{
		"":            "/api/execute",
		"/":           "/api/execute",
		"/api":        "/api/execute",
		"/api/":       "/api/execute",
		"/noetl":      "/noetl/api/execute",
		"/noetl/api/": "/noetl/api/execute",
	} {
		t.Run(server, func(t *testing.T) {
			t.Parallel()
			got := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.URL.Path
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = io.WriteString(w, `{"error":"no","status":422}`)
			}))
			t.Cleanup(srv.Close)
			c, err := New(Options{Server: srv.URL + server})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Execute(context.Background(), "p", 0, nil)
			if path := <-got; path != want {
				t.Errorf("server path %q: the request went to %s, want %s", server, path, want)
			}
		})
	}
}

func TestIDAcceptsStringsAndNumbers(t *testing.T) {
	t.Parallel()
	var v struct{ A, B, C ID }
	if err := json.Unmarshal([]byte(`{"A":"387504528288690176","B":387504528288690176,"C":null}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != "387504528288690176" || v.B != v.A || v.C != "" {
		t.Errorf("%+v", v)
	}
	if _, err := ParseID("12x"); err == nil {
		t.Error("ParseID accepted 12x")
	}
}

// TestExecutionHeadIsFlat: the fields a list entry shares with an execution's detail
// read and write at the top level of the JSON object, as the server sends them.
func TestExecutionHeadIsFlat(t *testing.T) {
	t.Parallel()
	in := `{"execution_id":"7","catalog_id":"8","path":"p","status":"RUNNING","started_at":"t","completed_at":null,"event_count":3}`
	var s Summary
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if s.ExecutionID != "7" || s.Status != "RUNNING" || s.EventCount != 3 || s.Path == nil || *s.Path != "p" {
		t.Fatalf("decoded %+v", s)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"execution_id":"7"`) || strings.Contains(string(out), "ExecutionHead") {
		t.Fatalf("encoded %s, want the head's fields at the top level", out)
	}
}

// TestEventNullColumns: the log's nullable columns decode as empty strings.
func TestEventNullColumns(t *testing.T) {
	t.Parallel()
	in := `[{"seq":1,"event_id":"5","event_type":"step.enter","node_name":null,"node_type":null,"status":null,"error":null,"worker_id":null,"created_at":"t"}]`
	var events []Event
	if err := json.Unmarshal([]byte(in), &events); err != nil {
		t.Fatal(err)
	}
	e := events[0]
	if e.Seq != 1 || e.EventID != "5" || e.EventType != "step.enter" || e.NodeName != "" || e.NodeType != "" || e.Status != "" || e.Error != "" || e.WorkerID != "" {
		t.Fatalf("decoded %+v", e)
	}
}

// signalTransport tells the test when the answer's head has arrived, so the server breaks
// the connection while the client reads the body, not before it has the status line.
type signalTransport struct {
	rt      http.RoundTripper
	headers chan struct{}
}

func (s signalTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(r)
	close(s.headers)
	return resp, err
}

// A connection that breaks in the middle of the answer's body is a ConnError, like one
// that gets no answer at all: watch and events --follow retry those. It was a plain
// "read answer" error, which they took for a permanent failure.
func TestBodyCutOffIsConnError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		reset bool // RST (SO_LINGER 0) rather than a FIN before the announced length
		stall bool // neither: the rest never comes, and --timeout runs out mid-body
		cause string
	}{
		{"reset", true, false, "connection reset"},
		{"closed early", false, false, "closed in the middle of the answer"},
		{"stalled", false, true, "no answer in time (--timeout)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			headers, done := make(chan struct{}), make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"execution_id\":")
				_ = buf.Flush()
				<-headers
				if tc.reset {
					_ = conn.(*net.TCPConn).SetLinger(0)
				}
				if tc.stall {
					<-done
				}
			}))
			t.Cleanup(srv.Close)
			t.Cleanup(func() { close(done) }) // runs first: the handler returns, srv.Close can finish
			timeout := time.Duration(0)
			if tc.stall {
				timeout = 200 * time.Millisecond
			}
			c, err := New(Options{Server: srv.URL, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			c.http.Transport = signalTransport{rt: c.http.Transport, headers: headers}
			_, err = c.Status(context.Background(), "1")
			var ce *ConnError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want a ConnError", err, err)
			}
			if !strings.Contains(err.Error(), tc.cause) {
				t.Errorf("err = %q, want the cause %q", err, tc.cause)
			}
		})
	}
}

// An https:// URL of a plain-HTTP router is not a server that is down: the message says
// to use http:// instead of asking whether it is up.
func TestHTTPSToPlainHTTPServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	c, err := New(Options{Server: strings.Replace(srv.URL, "http://", "https://", 1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background(), "1")
	var ce *ConnError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "give its http:// URL") || strings.Contains(err.Error(), "is it up") {
		t.Errorf("err = %v, want a ConnError that says to use http://", err)
	}
}
