package testkit

import "crypto/tls"
import "crypto/x509"
import "os"
import "path/filepath"
import "testing"

import "github.com/noetl/controlplane/shared/devcerts"

// Certs are PEM files generated for one test by package devcerts: a CA, a "server" and
// a "client" certificate (each valid for localhost and 127.0.0.1 and for both ends of a
// connection), and every certificate of the suite's services.
type Certs struct {
	Dir                   string
	CAFile                string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	CAPool                *x509.CertPool
}

// Service returns a service's certificate and key files (router, api, wallet, broker).
func (c *Certs) Service(name string) (cert, key string) {
	return devcerts.CertFile(c.Dir, name), devcerts.KeyFile(c.Dir, name)
}

// ClientTLS returns a client config trusting the CA; withCert adds the client cert.
func (c *Certs) ClientTLS(t testing.TB, withCert bool) *tls.Config {
	t.Helper()
	cfg := &tls.Config{RootCAs: c.CAPool, MinVersion: tls.VersionTLS12}
	if withCert {
		pair, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			t.Fatalf("load client cert: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

// GenerateCerts writes a fresh CA and certificates into a temp dir.
func GenerateCerts(t testing.TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	services := append([]string{"server", "client"}, devcerts.DefaultServices...)
	if _, err := devcerts.Ensure(devcerts.Options{Dir: dir, Services: services}); err != nil {
		t.Fatalf("generate certificates: %v", err)
	}
	c := &Certs{Dir: dir, CAFile: filepath.Join(dir, devcerts.CAFile), CAPool: x509.NewCertPool()}
	c.ServerCert, c.ServerKey = c.Service("server")
	c.ClientCert, c.ClientKey = c.Service("client")
	pem, err := os.ReadFile(c.CAFile)
	if err != nil || !c.CAPool.AppendCertsFromPEM(pem) {
		t.Fatalf("read generated CA: %v", err)
	}
	return c
}
