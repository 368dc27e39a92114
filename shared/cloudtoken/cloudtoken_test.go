package cloudtoken

import "context"
import "fmt"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync/atomic"
import "testing"
import "time"

func TestAzureIMDS(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	expiresIn := `"3599"`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Header.Get("Metadata") != "true" || q.Get("api-version") != "2018-02-01" || q.Get("resource") != "https://vault.azure.net" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		n := calls.Add(1)
		fmt.Fprintf(w, `{"access_token":"aad-token-%d","expires_in":%s,"token_type":"Bearer"}`, n, expiresIn)
	}))
	t.Cleanup(srv.Close)
	src := AzureIMDS("azure token", srv.URL+"/metadata/identity/oauth2/token", "https://vault.azure.net", srv.Client())
	now := time.Unix(1_700_000_000, 0)
	src.Now = func() time.Time { return now }
	ctx := context.Background()

	tok, cached, err := src.Get(ctx)
	if err != nil || tok != "aad-token-1" || cached {
		t.Fatalf("Get = %q (cached %v), %v; want a fetched token", tok, cached, err)
	}
	now = now.Add(3599*time.Second - 30*time.Second - time.Millisecond)
	if tok, cached, _ := src.Get(ctx); tok != "aad-token-1" || !cached || calls.Load() != 1 {
		t.Fatalf("refreshed %d times before 30 s remained (token %q)", calls.Load(), tok)
	}
	now = now.Add(time.Millisecond)
	if tok, _ := src.Token(ctx); tok != "aad-token-2" {
		t.Fatalf("not refreshed with 30 s left: %q", tok)
	}
	// A rejected token is dropped; an unreadable expires_in means 60 s.
	expiresIn = `"soon"`
	src.Drop("aad-token-2")
	if tok, _ := src.Token(ctx); tok != "aad-token-3" {
		t.Fatalf("after Drop: %q", tok)
	}
	now = now.Add(30*time.Second - time.Millisecond)
	if tok, _ := src.Token(ctx); tok != "aad-token-3" {
		t.Fatalf("60 s default not applied: %q", tok)
	}
	now = now.Add(time.Millisecond)
	if tok, _ := src.Token(ctx); tok != "aad-token-4" {
		t.Fatalf("60 s default not applied: %q", tok)
	}
}

func TestMetadataErrorsNeverQuoteTheBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			http.Error(w, "token=leaked-value", http.StatusInternalServerError)
		case "/empty":
			_, _ = w.Write([]byte(`{"expires_in":3600}`))
		default:
			_, _ = w.Write([]byte(`not json leaked-value`))
		}
	}))
	t.Cleanup(srv.Close)
	for path, want := range map[string]string{
		"/fail":    "gcp token: metadata server HTTP 500 Internal Server Error",
		"/empty":   "gcp token: metadata server response has no access_token",
		"/garbage": "gcp token: metadata server response has no access_token",
	} {
		_, err := GCPMetadata("gcp token", srv.URL+path, srv.Client()).Token(context.Background())
		if err == nil || err.Error() != want || strings.Contains(err.Error(), "leaked") {
			t.Errorf("%s: err = %v, want %q", path, err, want)
		}
	}
}
