// Package tlsx builds TLS configurations from the NOETL_TLS_* (listener) and
// NOETL_INTERNAL_TLS_* (service-to-service client) variables.
package tlsx

import "crypto/tls"
import "crypto/x509"
import "errors"
import "fmt"
import "net/http"
import "os"
import "time"

import "github.com/noetl/controlplane/shared/config"

// Server returns the listener TLS config, or nil for plain HTTP. With a client CA the
// listener requires and verifies client certificates (mTLS); without, any client may
// connect (server-only TLS). A renewed certificate on disk is picked up within
// reloadCheck; a new CA needs a restart.
func Server(c config.ServerTLS) (*tls.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Enabled() {
		return nil, nil
	}
	pair, err := loadKeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		// The key path is named, never the key material.
		return nil, fmt.Errorf("NOETL_TLS_CERT/NOETL_TLS_KEY: load certificate %s: %w", c.CertFile, scrub(err))
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return pair.get() },
	}
	if c.ClientCAFile != "" {
		pool, err := LoadCAPool(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("NOETL_TLS_CLIENT_CA: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Client returns the TLS config a service uses to call another service: the internal CA
// (when set) as trust root and the client certificate (when set) for mTLS. It returns nil
// when nothing is configured, meaning system defaults.
func Client(c config.ClientTLS) (*tls.Config, error) {
	if c.CertFile == "" && c.CAFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := LoadCAPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("NOETL_INTERNAL_TLS_CA: %w", err)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		pair, err := loadKeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("NOETL_INTERNAL_TLS_CERT/NOETL_INTERNAL_TLS_KEY: load certificate %s: %w", c.CertFile, scrub(err))
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return pair.get() }
	}
	return cfg, nil
}

// HTTPClient returns an HTTP client for service-to-service calls.
func HTTPClient(c config.ClientTLS, timeout time.Duration) (*http.Client, error) {
	tc, err := Client(c)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = 256
	tr.MaxIdleConns = 512
	tr.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// LoadCAPool reads a PEM bundle of CA certificates into a new pool. The errors name the
// file and never quote its content.
func LoadCAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", path)
	}
	return pool, nil
}

// scrub drops error text that could quote PEM content.
func scrub(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	return errors.New("not a valid PEM certificate/private key pair")
}

// Loopback returns the TLS config a binary uses to call its own listener on the loopback
// address (the `healthcheck` command), or nil when the listener serves plain HTTP.
//
// The listener's certificate names the service (noetl-api, api.<namespace>.svc, ...),
// not 127.0.0.1, so the host name is not checked; the chain still is, against the
// internal CA (or the listener's client CA, or the system roots). When the listener
// requires client certificates the internal client certificate is presented.
func Loopback(c config.Common) (*tls.Config, error) {
	if !c.TLS.Enabled() {
		return nil, nil
	}
	roots, err := loopbackRoots(c)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Hostname verification is replaced by VerifyConnection below (chain only).
		InsecureSkipVerify: true, //nolint:gosec // chain verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the listener presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, ic := range cs.PeerCertificates[1:] {
				inter.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		},
	}
	if c.TLS.ClientCAFile != "" {
		if c.InternalTLS.CertFile == "" {
			return nil, errors.New("the listener requires client certificates (NOETL_TLS_CLIENT_CA): set NOETL_INTERNAL_TLS_CERT and NOETL_INTERNAL_TLS_KEY so the check can present one")
		}
		cert, err := tls.LoadX509KeyPair(c.InternalTLS.CertFile, c.InternalTLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("NOETL_INTERNAL_TLS_CERT/NOETL_INTERNAL_TLS_KEY: load certificate %s: %w", c.InternalTLS.CertFile, scrub(err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loopbackRoots(c config.Common) (*x509.CertPool, error) {
	switch {
	case c.InternalTLS.CAFile != "":
		pool, err := LoadCAPool(c.InternalTLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("NOETL_INTERNAL_TLS_CA: %w", err)
		}
		return pool, nil
	case c.TLS.ClientCAFile != "":
		pool, err := LoadCAPool(c.TLS.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("NOETL_TLS_CLIENT_CA: %w", err)
		}
		return pool, nil
	default:
		return x509.SystemCertPool()
	}
}
