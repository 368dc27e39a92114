package k8s

import "context"
import "encoding/base64"
import "encoding/json"
import "encoding/pem"
import "errors"
import "fmt"
import "net/http"
import "net/http/httptest"
import "os"
import "path/filepath"
import "strings"
import "sync"
import "testing"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/providertest"

// fakeAPIServer answers GET /api/v1/namespaces/<ns>/secrets/<name> as the Kubernetes API
// does: a Secret object, or a Status object for 404/403.
type fakeAPIServer struct {
	mu      sync.Mutex
	token   string
	secrets map[string]map[string]string // "<ns>/<name>" -> data (plain; encoded on the wire)
	seen    providertest.Requests
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code})
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	f.seen.Add(r.Header.Get("Authorization") + " " + r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer "+f.token || r.Header.Get("Accept") != "application/json" {
		status(w, 401, "Unauthorized", "Unauthorized")
		return
	}
	rest, _ := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/")
	ns, name, _ := strings.Cut(rest, "/secrets/")
	if ns == "locked" {
		status(w, 403, "Forbidden", fmt.Sprintf(`secrets "%s" is forbidden: User "system:serviceaccount:noetl:noetl-wallet" cannot get resource "secrets" in API group "" in the namespace "%s"`, name, ns))
		return
	}
	data, ok := f.secrets[ns+"/"+name]
	if !ok {
		status(w, 404, "NotFound", fmt.Sprintf(`secrets "%s" not found`, name))
		return
	}
	enc := map[string]string{}
	for k, v := range data {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Secret", "apiVersion": "v1", "type": "Opaque",
		"metadata": map[string]any{"name": name, "namespace": ns, "resourceVersion": "4242"}, "data": enc})
}

func TestFetch(t *testing.T) {
	t.Parallel()
	f := &fakeAPIServer{token: "sa-token-1", secrets: map[string]map[string]string{
		"pods-ns/duffel":  {"token": "K8S-VALUE-hunter2", "other": "x"},
		"pods-ns/single":  {"only": "K8S-VALUE-single"},
		"pods-ns/empty":   {},
		"shared/db-creds": {"Password": "K8S-VALUE-db"},
	}}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := write("ca.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	tokenFile := write("token", "sa-token-1\n")
	write("namespace", "pods-ns\n")
	host, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "https://"), ":")

	// In-cluster shape: service host and port, CA and namespace from the projected volume.
	p, err := New(Config{ServiceHost: host, ServicePort: port, CAFile: ca, TokenFile: tokenFile}, "")
	if err != nil {
		t.Fatal(err)
	}
	providertest.Run(t, p, []providertest.Case{
		{Ref: "duffel/token", Value: "K8S-VALUE-hunter2", Version: "4242", Request: "Bearer sa-token-1 /api/v1/namespaces/pods-ns/secrets/duffel"},
		{Ref: "single", Value: "K8S-VALUE-single", Version: "4242", Request: "Bearer sa-token-1 /api/v1/namespaces/pods-ns/secrets/single"},
		{Ref: "shared/db-creds/Password", Value: "K8S-VALUE-db", Version: "4242", Request: "Bearer sa-token-1 /api/v1/namespaces/shared/secrets/db-creds"},
		{Ref: "duffel", Kind: providers.ErrInvalidRef},       // two keys, none named
		{Ref: "empty", Kind: providers.ErrNotFound},          // no data
		{Ref: "duffel/missing", Kind: providers.ErrNotFound}, // no such key
		{Ref: "absent/k", Kind: providers.ErrNotFound},       // no such Secret
		{Ref: "locked/db/k", Kind: providers.ErrDenied},      // RBAC refuses
		{Ref: "a/b/c/d", Kind: providers.ErrInvalidRef},
		{Ref: "ns//k", Kind: providers.ErrInvalidRef},
		{Ref: "../secrets/x", Kind: providers.ErrInvalidRef},
		{Ref: "Upper/k", Kind: providers.ErrInvalidRef},
	}, f.seen.Last, "K8S-VALUE", "sa-token")

	// The projected token rotates: the next fetch reads the file again.
	f.mu.Lock()
	f.token = "sa-token-2"
	f.mu.Unlock()
	write("token", "sa-token-2")
	if _, err := p.Fetch(context.Background(), "single"); err != nil {
		t.Errorf("after the token rotated: %v", err)
	}

	// NOETL_K8S_API_URL and NOETL_K8S_NAMESPACE win; an inline token wins over the file.
	q, err := New(Config{APIURL: srv.URL + "/", Namespace: "shared", CAFile: ca, TokenFile: tokenFile, Token: "sa-token-2"}, "")
	if err != nil {
		t.Fatal(err)
	}
	write("token", "stale")
	if s, err := q.Fetch(context.Background(), "db-creds/Password"); err != nil || s.Value != "K8S-VALUE-db" {
		t.Errorf("explicit URL, namespace and token: %+v, %v", s, err)
	}
	// Without the cluster CA the API server is not trusted.
	noCA, _ := New(Config{APIURL: srv.URL, Token: "sa-token-2", CAFile: filepath.Join(dir, "absent.crt")}, "")
	if _, err := noCA.Fetch(context.Background(), "single"); !errors.Is(err, providers.ErrUpstream) {
		t.Errorf("without the CA: err = %v", err)
	}
	if _, err := New(Config{APIURL: srv.URL, CAFile: tokenFile}, ""); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("a CA file without a certificate: err = %v", err)
	}
	noToken, _ := New(Config{APIURL: srv.URL, CAFile: ca, TokenFile: filepath.Join(dir, "absent")}, "")
	if _, err := noToken.Fetch(context.Background(), "single"); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("no token: err = %v", err)
	}
}

func TestAPIURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "https://kubernetes.default.svc"},
		{Config{ServiceHost: "10.0.0.1"}, "https://10.0.0.1:443"},
		{Config{ServiceHost: "fd00::1", ServicePort: "6443"}, "https://[fd00::1]:6443"},
		{Config{APIURL: "https://k8s.{region}.example.com/", ServiceHost: "10.0.0.1"}, "https://k8s.eu.example.com"},
	} {
		p, err := New(tc.cfg, "eu")
		if err != nil || p.api != tc.want {
			t.Errorf("%+v: api = %v (%v), want %s", tc.cfg, p, err, tc.want)
		}
	}
}
