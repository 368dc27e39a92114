package gcp

import "context"
import "encoding/base64"
import "encoding/json"
import "errors"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync"
import "testing"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/providertest"

// fakeGCP is the metadata server's token endpoint and Secret Manager's
// AccessSecretVersion (GET /v1/<version name>:access, bearer token).
type fakeGCP struct {
	mu      sync.Mutex
	tokens  *providertest.Tokens
	secrets map[string]string // version name -> value
	seen    providertest.Requests
}

func (f *fakeGCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/token" {
		f.tokens.ServeGCPMetadata(w, r)
		return
	}
	f.seen.Add(r.URL.Path)
	if r.Method != http.MethodGet || !f.tokens.Valid(r.Header.Get("Authorization")) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
		return
	}
	name, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v1/"), ":access")
	if strings.Contains(name, "/secrets/forbidden/") {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":403,"message":"Permission 'secretmanager.versions.access' denied","status":"PERMISSION_DENIED"}}`))
		return
	}
	if strings.HasSuffix(name, "/versions/2") {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":400,"message":"Secret Version [` + name + `] is in DISABLED state.","status":"FAILED_PRECONDITION"}}`))
		return
	}
	v, found := f.secrets[name]
	if !ok || !found {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":404,"message":"Secret [` + name + `] not found or has no versions.","status":"NOT_FOUND"}}`))
		return
	}
	concrete := strings.Replace(name, "/versions/latest", "/versions/3", 1)
	_ = json.NewEncoder(w).Encode(map[string]any{"name": concrete,
		"payload": map[string]any{"data": base64.StdEncoding.EncodeToString([]byte(v)), "dataCrc32c": "1"}})
}

func TestFetch(t *testing.T) {
	t.Parallel()
	f := &fakeGCP{tokens: providertest.NewTokens("ya29.sm-token"), secrets: map[string]string{
		"projects/my-proj/secrets/duffel-token/versions/latest":                    "GCP-VALUE-hunter2",
		"projects/p/secrets/s/versions/5":                                          "GCP-VALUE-v5",
		"projects/p/secrets/s/versions/latest":                                     "GCP-VALUE-latest",
		"projects/my-proj/locations/europe-west4/secrets/eu-token/versions/latest": "GCP-VALUE-eu",
	}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := New(Config{Project: "my-proj", Endpoint: srv.URL + "/v1/", MetadataTokenURL: srv.URL + "/token"}, "us-east1")
	if err != nil {
		t.Fatal(err)
	}
	providertest.Run(t, p, []providertest.Case{
		{Ref: "duffel-token", Value: "GCP-VALUE-hunter2", Version: "3", Request: "/v1/projects/my-proj/secrets/duffel-token/versions/latest:access"},
		{Ref: "projects/p/secrets/s/versions/5", Value: "GCP-VALUE-v5", Version: "5", Request: "/v1/projects/p/secrets/s/versions/5:access"},
		{Ref: "projects/p/secrets/s", Value: "GCP-VALUE-latest", Version: "3", Request: "/v1/projects/p/secrets/s/versions/latest:access"},
		{Ref: "projects/my-proj/locations/europe-west4/secrets/eu-token", Value: "GCP-VALUE-eu", Version: "3"},
		{Ref: "absent", Kind: providers.ErrNotFound},
		{Ref: "forbidden", Kind: providers.ErrDenied},
		// A disabled or destroyed version cannot be read: not found, not an outage.
		{Ref: "projects/p/secrets/s/versions/2", Kind: providers.ErrNotFound},
		{Ref: "../../x", Kind: providers.ErrInvalidRef},
		{Ref: "a/b", Kind: providers.ErrInvalidRef},
		{Ref: "projects/p/secrets", Kind: providers.ErrInvalidRef},
		{Ref: "projects/p/keys/s", Kind: providers.ErrInvalidRef},
		{Ref: "s?x=1", Kind: providers.ErrInvalidRef},
	}, f.seen.Last, "GCP-VALUE", "ya29")
	// A rejected token is dropped and a new one fetched on the next call.
	providertest.CheckTokenRefresh(t, p, "duffel-token", f.tokens)

	noProject, _ := New(Config{Endpoint: srv.URL + "/v1", MetadataTokenURL: srv.URL + "/token"}, "")
	if _, err := noProject.Fetch(context.Background(), "duffel-token"); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("bare name without a project: err = %v", err)
	}
}

// With {region} in the endpoint, a bare name is the regional secret of the region the
// provider is built for.
func TestRegionalEndpoint(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Project: "my-proj", Endpoint: "https://secretmanager.{region}.rep.googleapis.com/v1"}, "europe-west4")
	if err != nil {
		t.Fatal(err)
	}
	name, err := p.VersionName("eu-token")
	if err != nil || name != "projects/my-proj/locations/europe-west4/secrets/eu-token/versions/latest" ||
		p.endpoint != "https://secretmanager.europe-west4.rep.googleapis.com/v1" {
		t.Errorf("name = %q (%v), endpoint %s", name, err, p.endpoint)
	}
	global, _ := New(Config{Project: "my-proj"}, "europe-west4")
	if name, _ := global.VersionName("eu-token"); name != "projects/my-proj/secrets/eu-token/versions/latest" {
		t.Errorf("global endpoint: name = %q", name)
	}
	if _, err := New(Config{Endpoint: "https://secretmanager.{region}.rep.googleapis.com/v1"}, ""); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("regional endpoint without a region: err = %v", err)
	}
}
