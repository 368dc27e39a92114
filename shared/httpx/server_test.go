package httpx

import "context"
import "crypto/tls"
import "errors"
import "io"
import "log/slog"
import "net"
import "net/http"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/testkit"

// runServer starts s on a free loopback port and returns its address and a channel that
// receives Run's result.
func runServer(t *testing.T, ctx context.Context, s Server) (string, <-chan error) {
	t.Helper()
	ready := make(chan net.Addr, 1)
	s.Addr = "127.0.0.1:0"
	s.Ready = ready
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case a := <-ready:
		return a.String(), done
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start in time")
	}
	return "", nil
}

func stopServer(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("server did not stop")
	}
}

func helloHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			_, _ = io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
			return
		}
		_, _ = io.WriteString(w, "hello")
	})
}

func get(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func clientWith(cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func TestServerPlainHTTP(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := runServer(t, ctx, Server{Handler: helloHandler()})
	code, body, err := get(clientWith(nil), "http://"+addr+"/")
	if err != nil || code != 200 || body != "hello" {
		t.Errorf("GET = %d %q %v", code, body, err)
	}
	stopServer(t, cancel, done)
}

func TestServerTLS(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := runServer(t, ctx, Server{Handler: helloHandler(), TLS: config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}})
	defer stopServer(t, cancel, done)

	t.Run("client without certificate is accepted", func(t *testing.T) {
		code, body, err := get(clientWith(certs.ClientTLS(t, false)), "https://"+addr+"/")
		if err != nil || code != 200 || body != "hello" {
			t.Errorf("GET = %d %q %v", code, body, err)
		}
	})
	t.Run("client with certificate is accepted too", func(t *testing.T) {
		code, _, err := get(clientWith(certs.ClientTLS(t, true)), "https://"+addr+"/")
		if err != nil || code != 200 {
			t.Errorf("GET = %d %v", code, err)
		}
	})
	t.Run("localhost name verifies", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(addr)
		code, _, err := get(clientWith(certs.ClientTLS(t, false)), "https://localhost:"+port+"/")
		if err != nil || code != 200 {
			t.Errorf("GET = %d %v", code, err)
		}
	})
	t.Run("untrusted client refuses the server", func(t *testing.T) {
		if _, _, err := get(clientWith(&tls.Config{}), "https://"+addr+"/"); err == nil {
			t.Error("a client without the CA trusted the server")
		}
	})
	t.Run("plain HTTP is not served", func(t *testing.T) {
		code, _, err := get(clientWith(nil), "http://"+addr+"/")
		if err == nil && code == 200 {
			t.Error("plain HTTP request answered 200 on a TLS listener")
		}
	})
}

func TestServerMTLS(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	other := testkit.GenerateCerts(t) // a second, untrusted CA
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := runServer(t, ctx, Server{Handler: helloHandler(), TLS: config.ServerTLS{
		CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.CAFile,
	}})
	defer stopServer(t, cancel, done)
	url := "https://" + addr + "/"

	t.Run("client without certificate is refused", func(t *testing.T) {
		code, body, err := get(clientWith(certs.ClientTLS(t, false)), url)
		if err == nil {
			t.Errorf("GET without a client certificate = %d %q, want a TLS failure", code, body)
		}
	})
	t.Run("client with certificate is accepted", func(t *testing.T) {
		code, body, err := get(clientWith(certs.ClientTLS(t, true)), url)
		if err != nil || code != 200 || body != "hello client" {
			t.Errorf("GET = %d %q %v", code, body, err)
		}
	})
	t.Run("client certificate from another CA is refused", func(t *testing.T) {
		pair, err := tls.LoadX509KeyPair(other.ClientCert, other.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &tls.Config{RootCAs: certs.CAPool, Certificates: []tls.Certificate{pair}}
		if code, _, err := get(clientWith(cfg), url); err == nil {
			t.Errorf("GET with a foreign client certificate = %d, want a TLS failure", code)
		}
	})
}

func TestServerRefusesBadTLSConfig(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	tests := []struct {
		name  string
		tls   config.ServerTLS
		wants []string
	}{
		{"cert without key", config.ServerTLS{CertFile: certs.ServerCert}, []string{"NOETL_TLS_CERT", "NOETL_TLS_KEY"}},
		{"CA without cert", config.ServerTLS{ClientCAFile: certs.CAFile}, []string{"NOETL_TLS_CLIENT_CA"}},
		{"missing cert file", config.ServerTLS{CertFile: certs.Dir + "/nope.pem", KeyFile: certs.ServerKey}, []string{"NOETL_TLS_CERT"}},
		{"mismatched pair", config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ClientKey}, []string{"NOETL_TLS_CERT"}},
		{"CA not PEM", config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.ServerKey}, []string{"NOETL_TLS_CLIENT_CA"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Server{Addr: "127.0.0.1:0", Handler: helloHandler(), TLS: tc.tls}.Run(context.Background())
			if err == nil {
				t.Fatal("Run succeeded, want a configuration error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

// TestServerGracefulShutdown: a request in flight when shutdown starts completes with 200,
// and the listener stops accepting new connections.
func TestServerGracefulShutdown(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			time.Sleep(700 * time.Millisecond)
		}
		_, _ = io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := runServer(t, ctx, Server{Handler: handler, Grace: 10 * time.Second})

	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, body, err := get(clientWith(nil), "http://"+addr+"/slow")
		res <- result{code, body, err}
	}()
	<-started
	cancelAt := time.Now()
	cancel()

	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	r := <-res
	if r.err != nil || r.code != 200 || r.body != "done" {
		t.Fatalf("in-flight request = %d %q %v, want 200 done", r.code, r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after a clean drain", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
	if d := time.Since(cancelAt); d < 400*time.Millisecond {
		t.Errorf("Run returned %v after cancel; it did not wait for the in-flight request", d)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepts connections after shutdown")
	}
}

// TestServerShutdownGraceExpires: a handler that outlives the grace period makes Run
// return an error instead of hanging.
func TestServerShutdownGraceExpires(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	})
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := runServer(t, ctx, Server{Handler: handler, Grace: 200 * time.Millisecond})
	go func() { _, _, _ = get(clientWith(nil), "http://"+addr+"/") }()
	<-started
	cancel()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run = %v, want a graceful-shutdown deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run hung past the grace period")
	}
}

func TestServerListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Server{Addr: ln.Addr().String(), Handler: helloHandler()}.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Run on a busy port = %v, want an error naming the address", err)
	}
}

// TestServerDropsSlowClients: a client that never finishes its headers, or its body, loses
// its connection once the read limits pass, instead of holding it forever.
func TestServerDropsSlowClients(t *testing.T) {
	t.Parallel()
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := runServer(t, ctx, Server{Handler: echo, Timeouts: Timeouts{
		ReadHeader: 200 * time.Millisecond, Read: 400 * time.Millisecond, Idle: 400 * time.Millisecond,
	}})
	defer stopServer(t, cancel, done)
	cases := []struct{ name, send string }{
		{"headers never finish", "GET / HTTP/1.1\r\nHost: x\r\n"},
		{"body never finishes", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial"},
		{"idle keep-alive", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.send); err != nil {
				t.Fatal(err)
			}
			// Generous: the server must close well before this; a server without limits
			// never closes and the read below fails with a timeout instead of EOF.
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err = io.ReadAll(conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server kept the connection open: %v", err)
			}
		})
	}
}

func TestTimeoutsDefaults(t *testing.T) {
	t.Parallel()
	var srv http.Server
	Timeouts{Read: time.Second}.Apply(&srv)
	if srv.ReadTimeout != time.Second || srv.ReadHeaderTimeout != DefaultTimeouts.ReadHeader || srv.IdleTimeout != DefaultTimeouts.Idle {
		t.Errorf("Apply = header %s read %s idle %s", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
	for name, d := range map[string]time.Duration{"ReadHeader": DefaultTimeouts.ReadHeader, "Read": DefaultTimeouts.Read, "Idle": DefaultTimeouts.Idle} {
		if d <= 0 {
			t.Errorf("DefaultTimeouts.%s is unset", name)
		}
	}
}
