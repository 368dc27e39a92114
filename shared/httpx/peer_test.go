package httpx

import "context"
import "crypto/tls"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/testkit"

// TestPeerReadyMessages: each way a peer can fail reads as what to fix.
func TestPeerReadyMessages(t *testing.T) {
	t.Parallel()
	certs := testkit.GenerateCerts(t)
	other := testkit.GenerateCerts(t)
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"not ready: postgres: schema not migrated: run noetl-api migrate","status":503}`))
	}))
	t.Cleanup(notReady.Close)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	t.Cleanup(bare.Close)

	// An mTLS peer with the suite's certificates.
	mtls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{}`)) }))
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	mtls.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: certs.CAPool, ClientAuth: tls.RequireAndVerifyClientCert}
	mtls.StartTLS()
	t.Cleanup(mtls.Close)
	plainURL := strings.Replace(mtls.URL, "https://", "http://", 1)
	httpsURL := strings.Replace(mtls.URL, "127.0.0.1", "localhost", 1)

	client := func(cfg *tls.Config) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	tests := []struct {
		name   string
		url    string
		client *http.Client
		want   []string
	}{
		{"ready", httpsURL, client(certs.ClientTLS(t, true)), nil},
		{"peer not ready forwards its reason", notReady.URL, client(nil), []string{"run noetl-api migrate"}},
		{"bare status", bare.URL, client(nil), []string{"HTTP 502"}},
		{"no client certificate", httpsURL, client(certs.ClientTLS(t, false)), []string{"TLS handshake", "same CA", "NOETL_INTERNAL_TLS_CERT"}},
		{"peer certificate from another CA", httpsURL, client(other.ClientTLS(t, true)), []string{"TLS handshake", "same CA"}},
		{"plain HTTP to a TLS peer", plainURL, client(nil), []string{"NOETL_API_URL", "https://"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := PeerReady("api", tc.url, "NOETL_API_URL", tc.client).Fn(context.Background())
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ready peer: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
}
