package tlsx

import "crypto/tls"
import "io"
import "net/http"
import "net/http/httptest"
import "os"
import "path/filepath"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/testkit"

func TestServerConfig(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)

	cfg, err := Server(config.ServerTLS{})
	if err != nil || cfg != nil {
		t.Errorf("plain: Server = %v, %v; want nil, nil", cfg, err)
	}

	cfg, err = Server(config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey})
	if err != nil {
		t.Fatalf("server TLS: %v", err)
	}
	if cfg.GetCertificate == nil || cfg.ClientAuth != tls.NoClientCert || cfg.MinVersion < tls.VersionTLS12 {
		t.Errorf("server TLS config: GetCertificate=%v clientAuth=%v min=%x", cfg.GetCertificate != nil, cfg.ClientAuth, cfg.MinVersion)
	} else if c, err := cfg.GetCertificate(nil); err != nil || c == nil || len(c.Certificate) == 0 {
		t.Errorf("GetCertificate = %v, %v", c, err)
	}

	cfg, err = Server(config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.CAFile})
	if err != nil {
		t.Fatalf("mTLS: %v", err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		t.Errorf("mTLS config: clientAuth=%v clientCAs=%v", cfg.ClientAuth, cfg.ClientCAs)
	}
}

func TestServerConfigErrors(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	dir := t.TempDir()
	const keyMaterial = "VERY-SECRET-KEY-MATERIAL"
	badKey := filepath.Join(dir, "bad-key.pem")
	if err := os.WriteFile(badKey, []byte("-----BEGIN PRIVATE KEY-----\n"+keyMaterial+"\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyCA := filepath.Join(dir, "empty-ca.pem")
	if err := os.WriteFile(emptyCA, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		tls   config.ServerTLS
		wants []string
	}{
		{"cert only", config.ServerTLS{CertFile: certs.ServerCert}, []string{"NOETL_TLS_CERT", "NOETL_TLS_KEY"}},
		{"key only", config.ServerTLS{KeyFile: certs.ServerKey}, []string{"NOETL_TLS_CERT", "NOETL_TLS_KEY"}},
		{"CA without cert", config.ServerTLS{ClientCAFile: certs.CAFile}, []string{"NOETL_TLS_CLIENT_CA"}},
		{"missing cert", config.ServerTLS{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: certs.ServerKey}, []string{"NOETL_TLS_CERT", "nope.pem"}},
		{"garbage key", config.ServerTLS{CertFile: certs.ServerCert, KeyFile: badKey}, []string{"NOETL_TLS_KEY", "not a valid PEM"}},
		{"missing CA", config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: filepath.Join(dir, "ca-nope.pem")}, []string{"NOETL_TLS_CLIENT_CA"}},
		{"CA without certificates", config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: emptyCA}, []string{"NOETL_TLS_CLIENT_CA", "no PEM certificate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Server(tc.tls)
			if err == nil {
				t.Fatalf("Server = %v, want an error", cfg)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), keyMaterial) {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
}

func TestClientConfig(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	cfg, err := Client(config.ClientTLS{})
	if err != nil || cfg != nil {
		t.Errorf("nothing configured: Client = %v, %v; want nil, nil", cfg, err)
	}
	cfg, err = Client(config.ClientTLS{CAFile: certs.CAFile})
	if err != nil || cfg.RootCAs == nil || cfg.GetClientCertificate != nil {
		t.Errorf("CA only: %+v, %v", cfg, err)
	}
	cfg, err = Client(config.ClientTLS{CertFile: certs.ClientCert, KeyFile: certs.ClientKey, CAFile: certs.CAFile})
	if err != nil || cfg.RootCAs == nil || cfg.GetClientCertificate == nil {
		t.Errorf("mTLS client: %+v, %v", cfg, err)
	}
	if _, err := Client(config.ClientTLS{CAFile: certs.Dir + "/nope.pem"}); err == nil || !strings.Contains(err.Error(), "NOETL_INTERNAL_TLS_CA") {
		t.Errorf("missing CA: %v", err)
	}
	if _, err := Client(config.ClientTLS{CertFile: certs.ClientCert, KeyFile: certs.ServerKey}); err == nil || !strings.Contains(err.Error(), "NOETL_INTERNAL_TLS_CERT") {
		t.Errorf("mismatched pair: %v", err)
	}
}

// TestHTTPClientMTLS: the service-to-service client built from NOETL_INTERNAL_TLS_*
// talks to an mTLS listener built from NOETL_TLS_*.
func TestHTTPClientMTLS(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	srvCfg, err := Server(config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveTLS(t, srvCfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))

	withCert, err := HTTPClient(config.ClientTLS{CertFile: certs.ClientCert, KeyFile: certs.ClientKey, CAFile: certs.CAFile}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if withCert.Timeout != 5*time.Second {
		t.Errorf("timeout = %v", withCert.Timeout)
	}
	resp, err := withCert.Get(srv.URL)
	if err != nil {
		t.Fatalf("mTLS call: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "client" {
		t.Errorf("server saw client %q", b)
	}

	caOnly, err := HTTPClient(config.ClientTLS{CAFile: certs.CAFile}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := caOnly.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Error("a client without a certificate passed mTLS")
	}
}

// tlsServer is a test server on a listener with exactly cfg (httptest's StartTLS would
// add its own certificate, which a client without SNI would be served instead).
type tlsServer struct{ URL string }

func serveTLS(t *testing.T, cfg *tls.Config, h http.Handler) tlsServer {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = tls.NewListener(srv.Listener, cfg)
	srv.Start()
	t.Cleanup(srv.Close)
	return tlsServer{URL: "https://" + srv.Listener.Addr().String()}
}

// TestKeyPairReload: a certificate renewed on disk is served without a restart; a
// renewal caught half-written keeps the last good pair.
func TestKeyPairReload(t *testing.T) {
	t.Parallel()
	first, second := testkit.GenerateCerts(t), testkit.GenerateCerts(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	put := func(src *testkit.Certs, when time.Time) {
		t.Helper()
		for from, to := range map[string]string{src.ServerCert: cert, src.ServerKey: key} {
			b, err := os.ReadFile(from)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(to, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(to, when, when); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	put(first, start)
	kp, err := loadKeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	clock := start
	kp.now, kp.checked = func() time.Time { return clock }, start
	leaf := func() string {
		c, err := kp.get()
		if err != nil {
			t.Fatal(err)
		}
		return string(c.Certificate[0])
	}
	original := leaf()

	put(second, start.Add(time.Minute))
	if leaf() != original {
		t.Fatal("reloaded before the check interval")
	}
	clock = clock.Add(reloadCheck)
	renewed := leaf()
	if renewed == original {
		t.Fatal("the renewed certificate was not picked up")
	}

	// Half a renewal: a certificate whose key is not there yet.
	b, _ := os.ReadFile(first.ServerCert)
	_ = os.WriteFile(cert, b, 0o600)
	_ = os.Chtimes(cert, start.Add(2*time.Minute), start.Add(2*time.Minute))
	clock = clock.Add(reloadCheck)
	if leaf() != renewed {
		t.Fatal("a mismatched pair replaced the good one")
	}
}
