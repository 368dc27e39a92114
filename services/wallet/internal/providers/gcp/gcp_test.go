package gcp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/noetl/controlplane/services/wallet/internal/providers"
)

// fakeGCP is the metadata server's token endpoint and Secret Manager's
// AccessSecretVersion (GET /v1/<version name>:access, bearer token).
type fakeGCP struct {
	mu      sync.Mutex
	token   string
	tokens  int
	secrets map[string]string // version name -> value
	seen    []string
}

func (f *fakeGCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/token" {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		f.tokens++
		_, _ = w.Write([]byte(`{"access_token":"` + f.token + `","expires_in":3599,"token_type":"Bearer"}`))
		return
	}
	f.seen = append(f.seen, r.URL.Path)
	if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer "+f.token {
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
	f := &fakeGCP{token: "ya29.sm-token", secrets: map[string]string{
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
	tests := []struct {
		ref, value, version, path string
		kind                      error
	}{
		{ref: "duffel-token", value: "GCP-VALUE-hunter2", version: "3", path: "/v1/projects/my-proj/secrets/duffel-token/versions/latest:access"},
		{ref: "projects/p/secrets/s/versions/5", value: "GCP-VALUE-v5", version: "5", path: "/v1/projects/p/secrets/s/versions/5:access"},
		{ref: "projects/p/secrets/s", value: "GCP-VALUE-latest", version: "3", path: "/v1/projects/p/secrets/s/versions/latest:access"},
		{ref: "projects/my-proj/locations/europe-west4/secrets/eu-token", value: "GCP-VALUE-eu", version: "3"},
		{ref: "absent", kind: providers.ErrNotFound},
		{ref: "forbidden", kind: providers.ErrDenied},
		{ref: "../../x", kind: providers.ErrInvalidRef},
		{ref: "a/b", kind: providers.ErrInvalidRef},
		{ref: "projects/p/secrets", kind: providers.ErrInvalidRef},
		{ref: "projects/p/keys/s", kind: providers.ErrInvalidRef},
		{ref: "s?x=1", kind: providers.ErrInvalidRef},
	}
	for _, tc := range tests {
		s, err := p.Fetch(context.Background(), tc.ref)
		if tc.kind != nil {
			if !errors.Is(err, tc.kind) || strings.Contains(err.Error(), "GCP-VALUE") || strings.Contains(err.Error(), "ya29") {
				t.Errorf("%q: err = %v, want %v", tc.ref, err, tc.kind)
			}
			continue
		}
		if err != nil || s.Value != tc.value || s.Version != tc.version {
			t.Errorf("%q = %+v, %v; want %q version %s", tc.ref, s, err, tc.value, tc.version)
			continue
		}
		f.mu.Lock()
		last := f.seen[len(f.seen)-1]
		f.mu.Unlock()
		if tc.path != "" && last != tc.path {
			t.Errorf("%q: requested %s, want %s", tc.ref, last, tc.path)
		}
	}
	f.mu.Lock()
	if f.tokens != 1 {
		t.Errorf("metadata token fetched %d times, want 1 (cached)", f.tokens)
	}
	// A rejected token is dropped and a new one fetched on the next call.
	f.token = "ya29.rotated"
	f.mu.Unlock()
	if _, err := p.Fetch(context.Background(), "duffel-token"); !errors.Is(err, providers.ErrDenied) {
		t.Errorf("stale token: err = %v", err)
	}
	if s, err := p.Fetch(context.Background(), "duffel-token"); err != nil || s.Value != "GCP-VALUE-hunter2" {
		t.Errorf("after the 401: %+v, %v", s, err)
	}

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
