package devcerts

import "crypto/tls"
import "crypto/x509"
import "encoding/json"
import "net"
import "os"
import "path/filepath"
import "slices"
import "testing"
import "time"

func readCert(t *testing.T, dir, svc string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(CertFile(dir, svc), KeyFile(dir, svc))
	if err != nil {
		t.Fatalf("%s: %v", svc, err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pool(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	b, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil || !p.AppendCertsFromPEM(b) {
		t.Fatalf("CA: %v", err)
	}
	return p
}

func TestEnsureIssuesPerServiceCertificates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res, err := Ensure(Options{Dir: dir, Hosts: []string{"{service}.noetl.svc", "10.1.2.3"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.CAIssued || len(res.Issued) != len(DefaultServices) || len(res.Kept) != 0 {
		t.Fatalf("first run: %+v", res)
	}
	roots := pool(t, dir)
	for _, svc := range DefaultServices {
		c := readCert(t, dir, svc)
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "noetl-" + svc, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("%s as %v: %v", svc, usage, err)
			}
		}
		for _, name := range []string{svc, "noetl-" + svc, "localhost", svc + ".noetl.svc"} {
			if !slices.Contains(c.DNSNames, name) {
				t.Errorf("%s lacks DNS name %s: %v", svc, name, c.DNSNames)
			}
		}
		for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3"} {
			if !slices.ContainsFunc(c.IPAddresses, net.ParseIP(ip).Equal) {
				t.Errorf("%s lacks IP %s", svc, ip)
			}
		}
		if c.IsCA {
			t.Errorf("%s certificate is a CA", svc)
		}
	}
	info, err := os.Stat(KeyFile(dir, "api"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	info, err = os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("CA key file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

func TestEnsureKeepsWhatIsStillValid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Ensure(Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	before := readCert(t, dir, "api").SerialNumber
	caBefore, _ := os.ReadFile(filepath.Join(dir, CAFile))

	res, err := Ensure(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.CAIssued || len(res.Issued) != 0 || len(res.Kept) != len(DefaultServices) {
		t.Fatalf("second run reissued: %+v", res)
	}
	if readCert(t, dir, "api").SerialNumber.Cmp(before) != 0 {
		t.Fatal("the api certificate changed")
	}

	// A new host on the certificates reissues them under the same CA.
	res, err = Ensure(Options{Dir: dir, Hosts: []string{"api.example"}})
	if err != nil || res.CAIssued || len(res.Issued) != len(DefaultServices) {
		t.Fatalf("new host: %+v %v", res, err)
	}
	if caNow, _ := os.ReadFile(filepath.Join(dir, CAFile)); string(caNow) != string(caBefore) {
		t.Fatal("a new host replaced the CA")
	}

	// Certificates close to expiry are renewed.
	later := func() time.Time { return time.Now().Add(DefaultValidity - 10*24*time.Hour) }
	res, err = Ensure(Options{Dir: dir, Hosts: []string{"api.example"}, Now: later})
	if err != nil || res.CAIssued || len(res.Issued) != len(DefaultServices) {
		t.Fatalf("near expiry: %+v %v", res, err)
	}

	// Force starts over with a new CA: old certificates no longer verify.
	old := pool(t, dir)
	if _, err := Ensure(Options{Dir: dir, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := readCert(t, dir, "api").Verify(x509.VerifyOptions{Roots: old, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("after --force the certificates still chain to the old CA")
	}
}

func TestEnsureRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{},
		{Dir: t.TempDir(), Services: []string{"../x"}},
		{Dir: t.TempDir(), Services: []string{"ca"}},
	} {
		if _, err := Ensure(o); err == nil {
			t.Errorf("Ensure(%+v) succeeded", o)
		}
	}
}

func TestSecretManifest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Ensure(Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	b, err := SecretManifest(dir, "noetl-internal-tls", "dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		APIVersion, Kind string
		Metadata         struct{ Name, Namespace string }
		Data             map[string][]byte
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.APIVersion != "v1" || s.Kind != "Secret" || s.Metadata.Name != "noetl-internal-tls" || s.Metadata.Namespace != "dev" {
		t.Fatalf("manifest header: %+v", s)
	}
	want := []string{"ca.crt"}
	for _, svc := range DefaultServices {
		want = append(want, svc+".crt", svc+".key")
	}
	for _, k := range want {
		disk, _ := os.ReadFile(filepath.Join(dir, k))
		if string(s.Data[k]) != string(disk) {
			t.Errorf("data[%s] differs from the file", k)
		}
	}
	if _, ok := s.Data[CAKeyFile]; ok || len(s.Data) != len(want) {
		t.Errorf("manifest keys = %d, want exactly %v (never the CA key)", len(s.Data), want)
	}
}
