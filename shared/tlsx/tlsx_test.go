package tlsx

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/noetl/controlplane/shared/config"
	"github.com/noetl/controlplane/shared/testkit"
)

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
	if len(cfg.Certificates) != 1 || cfg.ClientAuth != tls.NoClientCert || cfg.MinVersion < tls.VersionTLS12 {
		t.Errorf("server TLS config: certs=%d clientAuth=%v min=%x", len(cfg.Certificates), cfg.ClientAuth, cfg.MinVersion)
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
	if err != nil || cfg.RootCAs == nil || len(cfg.Certificates) != 0 {
		t.Errorf("CA only: %+v, %v", cfg, err)
	}
	cfg, err = Client(config.ClientTLS{CertFile: certs.ClientCert, KeyFile: certs.ClientKey, CAFile: certs.CAFile})
	if err != nil || cfg.RootCAs == nil || len(cfg.Certificates) != 1 {
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
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = srvCfg
	srv.StartTLS()
	t.Cleanup(srv.Close)

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
