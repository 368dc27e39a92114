package tlsx

import "crypto/tls"
import "fmt"
import "os"
import "sync"
import "time"

// reloadCheck is how often a key pair's files are looked at again. Renewals (cert-manager,
// an updated Kubernetes Secret, `noetl-api certs`) take effect within it, without a
// restart.
const reloadCheck = 5 * time.Second

// keyPair serves a certificate and key from files, reloading them when either changes. A
// reload that fails (a renewal caught half-written, a key that does not match) keeps the
// last good pair and is retried at the next check.
type keyPair struct {
	certFile, keyFile string
	now               func() time.Time

	mu      sync.Mutex
	current *tls.Certificate
	stamp   string // modification times and sizes of both files
	checked time.Time
}

func loadKeyPair(certFile, keyFile string) (*keyPair, error) {
	k := &keyPair{certFile: certFile, keyFile: keyFile, now: time.Now}
	stamp, err := k.stat()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	k.current, k.stamp, k.checked = &cert, stamp, k.now()
	return k, nil
}

func (k *keyPair) stat() (string, error) {
	var stamp string
	for _, f := range []string{k.certFile, k.keyFile} {
		fi, err := os.Stat(f) // follows the symlinks of a Kubernetes Secret volume
		if err != nil {
			return "", err
		}
		stamp += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return stamp, nil
}

// get returns the current pair, reloading it first when the files changed.
func (k *keyPair) get() (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now := k.now(); now.Sub(k.checked) >= reloadCheck {
		k.checked = now
		if stamp, err := k.stat(); err == nil && stamp != k.stamp {
			if cert, err := tls.LoadX509KeyPair(k.certFile, k.keyFile); err == nil {
				k.current, k.stamp = &cert, stamp
			}
		}
	}
	return k.current, nil
}
