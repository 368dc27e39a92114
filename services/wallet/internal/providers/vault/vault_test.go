package vault

import "context"
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
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/providertest"

// fakeVault speaks Vault's KV v2 read API: GET /v1/<mount>/data/<path>, the token in
// X-Vault-Token, the namespace in X-Vault-Namespace, errors as {"errors":[...]}.
type fakeVault struct {
	mu        sync.Mutex
	token     string
	namespace string
	secrets   map[string]map[string]any // "<mount>/<path>" -> data
	lease     map[string]int
	seen      providertest.Requests
	// Kubernetes auth (POST /v1/auth/<k8sMount>/login): the role and service account
	// token it accepts; each login issues hvs.k8s-<n> with a lease of loginTTL seconds and
	// makes it the valid token.
	k8sMount, role, jwt string
	loginTTL            int
	logins              int
}

func (f *fakeVault) serveLogin(w http.ResponseWriter, r *http.Request) {
	var in struct{ Role, JWT string }
	if r.Method != http.MethodPut && r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&in) != nil ||
		r.Header.Get("X-Vault-Namespace") != f.namespace {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errors":["unexpected request"]}`))
		return
	}
	if in.Role != f.role {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errors":["invalid role name \"` + in.Role + `\""]}`))
		return
	}
	if in.JWT != f.jwt {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errors":["permission denied"]}`))
		return
	}
	f.logins++
	f.token = fmt.Sprintf("hvs.k8s-%d", f.logins)
	_ = json.NewEncoder(w).Encode(map[string]any{"request_id": "req-login", "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": nil, "wrap_info": nil, "warnings": nil,
		"auth": map[string]any{"client_token": f.token, "accessor": "acc", "policies": []string{"default", "etl"},
			"token_policies": []string{"default", "etl"}, "metadata": map[string]any{"role": in.Role, "service_account_name": "noetl-wallet"},
			"lease_duration": f.loginTTL, "renewable": true, "entity_id": "e", "token_type": "service", "orphan": true}})
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	f.seen.Add(r.Header.Get("X-Vault-Token") + " " + r.URL.Path)
	if f.k8sMount != "" && r.URL.Path == "/v1/auth/"+f.k8sMount+"/login" {
		f.serveLogin(w, r)
		return
	}
	if r.Method != http.MethodGet || r.Header.Get("X-Vault-Request") != "true" || r.Header.Get("X-Vault-Namespace") != f.namespace {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errors":["unexpected request"]}`))
		return
	}
	if r.Header.Get("X-Vault-Token") != f.token {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errors":["permission denied"]}`))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	mount, path, _ := strings.Cut(rest, "/data/")
	data, found := f.secrets[mount+"/"+path]
	if !ok || !found {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[]}`))
		return
	}
	if mount+"/"+path == "secret/forbidden" {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errors":["1 error occurred:\n\t* permission denied\n\n"]}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"request_id": "req-1", "lease_id": "", "renewable": false, "lease_duration": f.lease[mount+"/"+path],
		"data": map[string]any{"data": data, "metadata": map[string]any{
			"created_time": "2026-06-06T00:00:00Z", "deletion_time": "", "destroyed": false, "version": 7,
		}},
		"wrap_info": nil, "warnings": nil, "auth": nil,
	})
}

func newFake() *fakeVault {
	return &fakeVault{token: "hvs.test-token", namespace: "team-a", lease: map[string]int{"secret/leased": 900},
		secrets: map[string]map[string]any{
			"app/duffel":       {"token": "VAULT-VALUE-hunter2", "other": "x"},
			"secret/db":        {"password": "VAULT-VALUE-db", "port": 5432},
			"secret/single":    {"only": "VAULT-VALUE-single"},
			"secret/leased":    {"v": "VAULT-VALUE-leased"},
			"secret/forbidden": {"v": "x"},
		}}
}

func TestFetch(t *testing.T) {
	t.Parallel()
	f := newFake()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := New(Config{Addr: srv.URL + "/", Token: "hvs.test-token", Namespace: "team-a"}, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 6, 12, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	leased := now.Add(900 * time.Second)
	providertest.Run(t, p, []providertest.Case{
		{Ref: "app/duffel#token", Value: "VAULT-VALUE-hunter2", Version: "7", Request: "hvs.test-token /v1/app/data/duffel"},
		{Ref: "db#password", Value: "VAULT-VALUE-db", Version: "7", Request: "hvs.test-token /v1/secret/data/db"},
		{Ref: "single", Value: "VAULT-VALUE-single", Version: "7", Request: "hvs.test-token /v1/secret/data/single"},
		{Ref: "leased#v", Value: "VAULT-VALUE-leased", Version: "7", ExpiresAt: &leased, Request: "hvs.test-token /v1/secret/data/leased"},
		{Ref: "app/duffel", Kind: providers.ErrInvalidRef}, // two keys, none named
		{Ref: "db#port", Kind: providers.ErrInvalidRef},    // not a string
		{Ref: "db#missing", Kind: providers.ErrNotFound},   // no such key
		{Ref: "absent#k", Kind: providers.ErrNotFound},     // no such secret
		{Ref: "forbidden#v", Kind: providers.ErrDenied},    // policy refuses
		{Ref: "app/#k", Kind: providers.ErrInvalidRef},     // empty path
		{Ref: "db#", Kind: providers.ErrInvalidRef},        // empty key
		{Ref: "", Kind: providers.ErrInvalidRef},           // nothing
		{Ref: "/x#k", Kind: providers.ErrInvalidRef},       // empty mount
	}, f.seen.Last, "VAULT-VALUE", "hvs.")
	// A key that is not a string names the kind it has (a JSON number here).
	if _, err := p.Fetch(context.Background(), "db#port"); err == nil || !strings.Contains(err.Error(), "key 'port' is not a string (got number)") {
		t.Errorf("db#port: err = %v, want it to name the number", err)
	}
	// A wrong token is a denial.
	bad, _ := New(Config{Addr: srv.URL, Token: "hvs.wrong", Namespace: "team-a"}, "")
	if _, err := bad.Fetch(context.Background(), "db#password"); !errors.Is(err, providers.ErrDenied) {
		t.Errorf("wrong token: err = %v", err)
	}
}

// A reference cannot move the request, and the token it carries, out of its KV v2 mount:
// Vault's client cleans the URL path, so "secret/../../sys/x" would be read as /v1/sys/x.
// Such references fail before any request (docs/secret-providers.md).
func TestReferencesStayInTheirMount(t *testing.T) {
	t.Parallel()
	f := newFake()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := New(Config{Addr: srv.URL, Token: "hvs.test-token", Namespace: "team-a"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{
		"secret/../../auth/token/lookup-self#id", // up and out of the mount
		"secret/../db#password",                  // into the mount's metadata API
		"../sys/mounts#k",                        // the mount itself
		"./db#password",
		"secret/./db#password",
		"secret/a/..#k",
		"secret/a//b#k", // an empty segment
		"secret/a/#k",
		"secret/a\\..\\b#k",
		"secret/a\nb#k",
	} {
		t.Run(ref, func(t *testing.T) {
			_, err := p.Fetch(context.Background(), ref)
			if !errors.Is(err, providers.ErrInvalidRef) {
				t.Errorf("err = %v, want an invalid reference", err)
			}
		})
	}
	if seen := f.seen.All(); len(seen) != 0 {
		t.Errorf("requests were sent: %q", seen)
	}
	// Dots inside a name are ordinary characters.
	f.secrets["secret/v1.2/..hidden"] = map[string]any{"k": "VAULT-VALUE-dots"}
	if got, err := p.Fetch(context.Background(), "secret/v1.2/..hidden#k"); err != nil || got.Value != "VAULT-VALUE-dots" {
		t.Errorf("dotted names: %v %v", got, err)
	}
}

// The token file is read on every fetch: a rotated token is used at once.
func TestTokenFileAndCA(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.namespace = ""
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte("hvs.test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Addr: srv.URL, TokenFile: tokFile, CAFile: ca, KVMount: "secret"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := p.Fetch(context.Background(), "db#password"); err != nil || s.Value != "VAULT-VALUE-db" {
		t.Fatalf("over TLS with the CA file: %+v, %v", s, err)
	}
	f.mu.Lock()
	f.token = "hvs.rotated"
	f.mu.Unlock()
	if err := os.WriteFile(tokFile, []byte("hvs.rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fetch(context.Background(), "db#password"); err != nil {
		t.Fatalf("after the token file changed: %v", err)
	}
	if seen := f.seen.All(); len(seen) != 2 || !strings.HasPrefix(seen[1], "hvs.rotated ") {
		t.Errorf("requests = %q", f.seen.All())
	}

	// Without the CA the server's certificate is not trusted.
	noCA, _ := New(Config{Addr: srv.URL, TokenFile: tokFile}, "")
	if _, err := noCA.Fetch(context.Background(), "db#password"); !errors.Is(err, providers.ErrUpstream) {
		t.Errorf("without the CA: err = %v, want ErrUpstream", err)
	}
	// A CA file that is set must be readable PEM.
	if _, err := New(Config{Addr: srv.URL, CAFile: filepath.Join(dir, "absent.pem")}, ""); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("unreadable CA: err = %v", err)
	}
	if _, err := New(Config{Addr: srv.URL, CAFile: tokFile}, ""); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("CA without a certificate: err = %v", err)
	}
	// No token source at all.
	none, _ := New(Config{Addr: srv.URL, CAFile: ca}, "")
	if _, err := none.Fetch(context.Background(), "db#password"); !errors.Is(err, providers.ErrConfig) || !strings.Contains(err.Error(), "VAULT_TOKEN") {
		t.Errorf("no token: err = %v", err)
	}
}

func TestRegionInAddress(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Addr: "https://vault.{region}.example.com:8200"}, "eu-central-1")
	if err != nil || p.client.Address() != "https://vault.eu-central-1.example.com:8200" {
		t.Fatalf("address = %v, %v", p, err)
	}
	if _, err := New(Config{Addr: "https://vault.{region}.example.com"}, ""); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("no region: err = %v", err)
	}
}

// With NOETL_VAULT_K8S_ROLE the wallet logs in with the pod's service account token,
// keeps the issued token for nine tenths of its lease, logs in again after that or when
// Vault refuses the token, and reads the token file at each login (it is rotated).
func TestKubernetesAuth(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.token, f.k8sMount, f.role, f.jwt, f.loginTTL = "", "k8s-eu", "noetl-wallet", "sa-jwt-1", 3600
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	jwtFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(jwtFile, []byte("sa-jwt-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Addr: srv.URL, Namespace: "team-a", K8sRole: "noetl-wallet", K8sMount: "/k8s-eu/", K8sTokenFile: jwtFile}, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 6, 12, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	fetch := func(step string, wantToken string, wantLogins int) {
		t.Helper()
		s, err := p.Fetch(context.Background(), "db#password")
		f.mu.Lock()
		logins, last := f.logins, f.seen.Last()
		f.mu.Unlock()
		if err != nil || s.Value != "VAULT-VALUE-db" || logins != wantLogins || last != wantToken+" /v1/secret/data/db" {
			t.Errorf("%s: %+v, %v; %d logins, last request %q; want %d logins and a read with %s", step, s, err, logins, last, wantLogins, wantToken)
		}
	}
	fetch("first read", "hvs.k8s-1", 1)
	now = now.Add(3239 * time.Second)
	fetch("inside nine tenths of the lease", "hvs.k8s-1", 1)
	now = now.Add(time.Second)
	fetch("nine tenths of the lease passed", "hvs.k8s-2", 2)
	// Vault revokes the token before its lease ends: one refused read, a login, the read.
	f.mu.Lock()
	f.token = "hvs.revoked"
	f.mu.Unlock()
	fetch("after a revocation", "hvs.k8s-3", 3)
	// The token file is read at each login: a rotated service account token is used.
	f.mu.Lock()
	f.jwt = "sa-jwt-2"
	f.token = "hvs.revoked"
	f.mu.Unlock()
	if err := os.WriteFile(jwtFile, []byte("sa-jwt-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	fetch("with a rotated service account token", "hvs.k8s-4", 4)
	// A policy that refuses the path: the login is fresh, so it is asked once more at
	// most, then denied; it never loops.
	if _, err := p.Fetch(context.Background(), "forbidden#v"); !errors.Is(err, providers.ErrDenied) {
		t.Errorf("forbidden: err = %v, want ErrDenied", err)
	}
	f.mu.Lock()
	if f.logins != 5 {
		t.Errorf("%d logins after a refused path, want 5 (one more login, then the denial)", f.logins)
	}
	f.mu.Unlock()
	for _, tc := range []struct {
		name string
		cfg  Config
		kind error
		says string
	}{
		{"a role Vault does not know", Config{K8sRole: "nope", K8sMount: "k8s-eu", K8sTokenFile: jwtFile}, providers.ErrDenied, `as role 'nope': HTTP 400: invalid role name "nope"`},
		{"a service account token Vault refuses", Config{K8sRole: "noetl-wallet", K8sMount: "k8s-eu", K8sTokenFile: writeFile(t, "sa-jwt-stale")}, providers.ErrDenied, "HTTP 403: permission denied"},
		{"no service account token", Config{K8sRole: "noetl-wallet", K8sMount: "k8s-eu", K8sTokenFile: filepath.Join(t.TempDir(), "absent")}, providers.ErrConfig, "NOETL_VAULT_K8S_TOKEN_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Addr, tc.cfg.Namespace = srv.URL, "team-a"
			q, err := New(tc.cfg, "")
			if err != nil {
				t.Fatal(err)
			}
			_, err = q.Fetch(context.Background(), "db#password")
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), "sa-jwt") {
				t.Errorf("err = %v, want %v saying %q and never the token", err, tc.kind, tc.says)
			}
		})
	}
	// A static token wins over Kubernetes auth.
	f.mu.Lock()
	f.token = "hvs.static"
	before := f.logins
	f.mu.Unlock()
	st, _ := New(Config{Addr: srv.URL, Namespace: "team-a", Token: "hvs.static", K8sRole: "noetl-wallet", K8sMount: "k8s-eu", K8sTokenFile: jwtFile}, "")
	_, err = st.Fetch(context.Background(), "db#password")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil || f.logins != before {
		t.Errorf("static token: %v, %d logins", err, f.logins-before)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
