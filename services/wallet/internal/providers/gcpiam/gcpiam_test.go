package gcpiam

import "context"
import "encoding/json"
import "errors"
import "io"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/providertest"

const expire = "2030-01-02T03:04:05Z"

// fakeIAM is the metadata server's token endpoint and the IAM Credentials API's
// generateAccessToken (POST /v1/projects/-/serviceAccounts/<sa>:generateAccessToken,
// bearer token of the caller, body {"lifetime","scope"}).
type fakeIAM struct {
	mu     sync.Mutex
	tokens *providertest.Tokens
	seen   providertest.Requests
}

func (f *fakeIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/token" {
		f.tokens.ServeGCPMetadata(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.seen.Add(r.URL.Path + " " + string(body))
	if r.Method != http.MethodPost || !f.tokens.Valid(r.Header.Get("Authorization")) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
		return
	}
	sa, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v1/projects/-/serviceAccounts/"), ":generateAccessToken")
	var in struct {
		Lifetime string   `json:"lifetime"`
		Scope    []string `json:"scope"`
	}
	if !ok || json.Unmarshal(body, &in) != nil || len(in.Scope) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT"}}`))
		return
	}
	switch {
	case strings.HasPrefix(sa, "denied@"):
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).","status":"PERMISSION_DENIED"}}`))
	case strings.HasPrefix(sa, "absent@"):
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":404,"message":"Not found; Gaia id not found for email absent@p.iam.gserviceaccount.com","status":"NOT_FOUND"}}`))
	case in.Lifetime == "99999s":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":400,"message":"The lifetime must be at most 3600s.","status":"INVALID_ARGUMENT"}}`))
	case strings.HasPrefix(sa, "junk@"):
		_, _ = w.Write([]byte(`{"accessToken":"IAM-VALUE-junk","expireTime":"tomorrow"}`))
	default:
		_ = json.NewEncoder(w).Encode(map[string]string{"accessToken": "IAM-VALUE-" + sa + "-" + strings.Join(in.Scope, "+"), "expireTime": expire})
	}
}

func TestFetch(t *testing.T) {
	t.Parallel()
	f := &fakeIAM{tokens: providertest.NewTokens("ya29.caller-token")}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := New(Config{ServiceAccount: "etl@p.iam.gserviceaccount.com", Endpoint: srv.URL + "/v1/", MetadataTokenURL: srv.URL + "/token"}, "eu-west1")
	if err != nil {
		t.Fatal(err)
	}
	exp, _ := time.Parse(time.RFC3339, expire)
	const bq = "https://www.googleapis.com/auth/bigquery"
	providertest.Run(t, p, []providertest.Case{
		{Ref: "", Value: "IAM-VALUE-etl@p.iam.gserviceaccount.com-" + DefaultScope, ExpiresAt: &exp,
			Request: `/v1/projects/-/serviceAccounts/etl@p.iam.gserviceaccount.com:generateAccessToken {"lifetime":"3600s","scope":["` + DefaultScope + `"]}`},
		{Ref: "loader@q.iam.gserviceaccount.com#" + bq + ", " + DefaultScope, Value: "IAM-VALUE-loader@q.iam.gserviceaccount.com-" + bq + "+" + DefaultScope, ExpiresAt: &exp,
			Request: `/v1/projects/-/serviceAccounts/loader@q.iam.gserviceaccount.com:generateAccessToken {"lifetime":"3600s","scope":["` + bq + `","` + DefaultScope + `"]}`},
		{Ref: "#" + bq, Value: "IAM-VALUE-etl@p.iam.gserviceaccount.com-" + bq, ExpiresAt: &exp},
		{Ref: "112233445566778899001", Value: "IAM-VALUE-112233445566778899001-" + DefaultScope, ExpiresAt: &exp},
		{Ref: "denied@p.iam.gserviceaccount.com", Kind: providers.ErrDenied},
		{Ref: "absent@p.iam.gserviceaccount.com", Kind: providers.ErrNotFound},
		{Ref: "junk@p.iam.gserviceaccount.com", Kind: providers.ErrUpstream},
		{Ref: "gcp_token", Kind: providers.ErrInvalidRef}, // a map-less entry's alias is not an account
		{Ref: "../../x@y", Kind: providers.ErrInvalidRef},
		{Ref: "a@b/c", Kind: providers.ErrInvalidRef},
		{Ref: "a@b#", Kind: providers.ErrInvalidRef},
		{Ref: "a@b#x y", Kind: providers.ErrInvalidRef},
	}, f.seen.Last, "IAM-VALUE", "ya29")
	// A rejected caller token is dropped and a new one fetched on the next call.
	providertest.CheckTokenRefresh(t, p, "", f.tokens)

	long, _ := New(Config{ServiceAccount: "etl@p.iam.gserviceaccount.com", Endpoint: srv.URL + "/v1", MetadataTokenURL: srv.URL + "/token"}, "")
	long.lifetime = 99999 // as if the org policy allowed more than the API does
	if _, err := long.Fetch(context.Background(), ""); !errors.Is(err, providers.ErrInvalidRef) {
		t.Errorf("refused lifetime: err = %v, want ErrInvalidRef", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	none, err := New(Config{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := none.Fetch(context.Background(), ""); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("no account: err = %v, want ErrConfig", err)
	}
	for _, cfg := range []Config{{LifetimeSecs: -1}, {LifetimeSecs: 50000}, {ServiceAccount: "../evil"}} {
		if _, err := New(cfg, ""); !errors.Is(err, providers.ErrConfig) {
			t.Errorf("New(%+v): err = %v, want ErrConfig", cfg, err)
		}
	}
}
