// Package devcerts writes a certificate authority and one certificate per service into a
// directory, for internal mTLS where no certificate manager runs: `make run`, the compose
// file's one-shot certificate step, Tilt, and tests. Plain crypto/x509, ECDSA P-256.
//
// It is idempotent: a CA and certificates that are still valid (and name every wanted
// host) are kept, so services that already run keep trusting each other; anything missing,
// expiring within RenewBefore or issued by another CA is reissued. Force starts over with
// a new CA, which is how the development certificates are rotated.
package devcerts

import "crypto/ecdsa"
import "crypto/elliptic"
import "crypto/rand"
import "crypto/tls"
import "crypto/x509"
import "crypto/x509/pkix"
import "encoding/pem"
import "errors"
import "fmt"
import "math/big"
import "net"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "time"

// File names inside the directory.
const (
	CAFile    = "ca.crt"
	CAKeyFile = "ca.key"
)

// CertFile is the certificate of a service (its chain is the CA).
func CertFile(dir, service string) string { return filepath.Join(dir, service+".crt") }

// KeyFile is the private key of a service's certificate.
func KeyFile(dir, service string) string { return filepath.Join(dir, service+".key") }

// Defaults.
const (
	DefaultValidity    = 365 * 24 * time.Hour
	CAValidity         = 10 * 365 * 24 * time.Hour
	DefaultRenewBefore = 30 * 24 * time.Hour
)

// DefaultServices are the binaries that talk to each other over internal mTLS.
var DefaultServices = []string{"router", "api", "wallet", "broker"}

// Options say what to write.
type Options struct {
	Dir      string
	Services []string // default DefaultServices
	// Hosts are extra names and addresses on every certificate; "{service}" is replaced
	// by the service name (e.g. "{service}.noetl.svc.cluster.local").
	Hosts       []string
	Validity    time.Duration // of service certificates; default DefaultValidity
	RenewBefore time.Duration // reissue what expires sooner; default DefaultRenewBefore
	Force       bool          // new CA and certificates even when the old ones are valid
	Now         func() time.Time
}

// Result says what Ensure did.
type Result struct {
	Dir       string
	CAIssued  bool
	Issued    []string // services whose certificate was (re)issued
	Kept      []string // services whose certificate was still good
	Services  []string
	NotAfter  time.Time // earliest expiry among the service certificates
	CAExpires time.Time
}

// Names returns the DNS names and IP addresses a service's certificate carries: the
// service name, noetl-<service> (the compose and chart host names), localhost and the
// loopback addresses, plus the extra hosts.
func Names(service string, extra []string) (dns []string, ips []net.IP) {
	seen := map[string]bool{}
	add := func(h string) {
		h = strings.TrimSpace(strings.ReplaceAll(h, "{service}", service))
		if h == "" || seen[h] {
			return
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
			return
		}
		dns = append(dns, h)
	}
	for _, h := range append([]string{service, "noetl-" + service, "localhost", "127.0.0.1", "::1"}, extra...) {
		add(h)
	}
	return dns, ips
}

// Ensure writes or refreshes the CA and the service certificates in o.Dir.
func Ensure(o Options) (Result, error) {
	if o.Dir == "" {
		return Result{}, errors.New("devcerts: no directory")
	}
	if len(o.Services) == 0 {
		o.Services = DefaultServices
	}
	for _, s := range o.Services {
		if s == "" || strings.ContainsAny(s, `/\. `) || s == "ca" {
			return Result{}, fmt.Errorf("devcerts: %q is not a usable service name", s)
		}
	}
	if o.Validity <= 0 {
		o.Validity = DefaultValidity
	}
	if o.RenewBefore <= 0 {
		o.RenewBefore = DefaultRenewBefore
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return Result{}, fmt.Errorf("devcerts: create %s: %w", o.Dir, err)
	}
	res := Result{Dir: o.Dir, Services: o.Services}
	now := o.Now()

	ca, caKey, err := loadCA(o.Dir)
	if o.Force || err != nil || ca.NotAfter.Before(now.Add(o.RenewBefore)) {
		ca, caKey, err = writeCA(o.Dir, now)
		if err != nil {
			return Result{}, err
		}
		res.CAIssued = true
	}
	res.CAExpires = ca.NotAfter
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, svc := range o.Services {
		dns, ips := Names(svc, o.Hosts)
		leaf, ok := loadLeaf(o.Dir, svc)
		if !res.CAIssued && ok && leafGood(leaf, pool, dns, ips, now, o.RenewBefore) {
			res.Kept = append(res.Kept, svc)
			res.NotAfter = earliest(res.NotAfter, leaf.NotAfter)
			continue
		}
		leaf, err = writeLeaf(o.Dir, svc, dns, ips, ca, caKey, now, o.Validity)
		if err != nil {
			return Result{}, err
		}
		res.Issued = append(res.Issued, svc)
		res.NotAfter = earliest(res.NotAfter, leaf.NotAfter)
	}
	return res, nil
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !cert.IsCA {
		return nil, nil, errors.New("not a devcerts CA")
	}
	return cert, key, nil
}

func loadLeaf(dir, svc string) (*x509.Certificate, bool) {
	pair, err := tls.LoadX509KeyPair(CertFile(dir, svc), KeyFile(dir, svc))
	if err != nil {
		return nil, false
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	return cert, err == nil
}

func leafGood(c *x509.Certificate, roots *x509.CertPool, dns []string, ips []net.IP, now time.Time, renew time.Duration) bool {
	if c.NotAfter.Before(now.Add(renew)) {
		return false
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		return false
	}
	for _, d := range dns {
		if !slices.Contains(c.DNSNames, d) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func writeCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, fmt.Errorf("devcerts: CA key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "noetl-internal-ca", Organization: []string{"NoETL development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("devcerts: create CA: %w", err)
	}
	if err := writeKeyPair(dir, strings.TrimSuffix(CAFile, ".crt"), der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func writeLeaf(dir, svc string, dns []string, ips []net.IP, ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	key, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("devcerts: %s key: %w", svc, err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: svc, Organization: []string{"NoETL development"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Every service both serves and calls others: one certificate for both ends.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    dns,
		IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("devcerts: create %s certificate: %w", svc, err)
	}
	if err := writeKeyPair(dir, svc, der, key); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// writeKeyPair writes <name>.key (0600) and <name>.crt (0644), each through a temporary
// file and a rename, so a reader never sees half a file.
func writeKeyPair(dir, name string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("devcerts: marshal %s key: %w", name, err)
	}
	if err := writeFile(KeyFile(dir, name), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(CertFile(dir, name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".devcerts-*")
	if err != nil {
		return fmt.Errorf("devcerts: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("devcerts: write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("devcerts: chmod %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("devcerts: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("devcerts: write %s: %w", path, err)
	}
	return nil
}
