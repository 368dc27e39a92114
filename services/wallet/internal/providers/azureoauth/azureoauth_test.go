package azureoauth

import "context"
import "errors"
import "fmt"
import "io"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/providertest"

const (
	clientID     = "00000000-aaaa-bbbb-cccc-000000000001"
	clientSecret = "AZ-CLIENT-SECRET~q8Q~abcdefghij"
	tenant       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// fakeAAD is the Entra ID v2.0 token endpoint (POST /<tenant>/oauth2/v2.0/token, form
// grant_type=client_credentials&client_id&client_secret&scope; RFC 6749 answers).
type fakeAAD struct{ seen providertest.Requests }

func (f *fakeAAD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	f.seen.Add(r.URL.Path + " " + string(raw))
	r.Body = io.NopCloser(strings.NewReader(string(raw)))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	tn, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/oauth2/v2.0/token")
	if r.Method != http.MethodPost || !ok || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unsupported_grant_type","error_description":"AADSTS70003: The app requested an unsupported grant type."}`))
		return
	}
	scope := r.PostForm.Get("scope")
	switch {
	case tn == "unknown.example":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'unknown.example' not found.","error_codes":[90002]}`))
	case r.PostForm.Get("client_id") != clientID || r.PostForm.Get("client_secret") != clientSecret:
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID. Received '%s'.","error_codes":[7000215]}`, r.PostForm.Get("client_secret"))
	case scope == "https://unknown.example/.default":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_scope","error_description":"AADSTS1002012: The provided value for scope https://unknown.example/.default is not valid."}`))
	case scope == "https://broken.example/.default":
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(`<html>bad gateway</html>`))
	case scope == "https://string-expiry.example/.default":
		_, _ = w.Write([]byte(`{"token_type":"Bearer","expires_in":"1800","access_token":"AAD-VALUE-v1"}`))
	default:
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"AAD-VALUE-%s-%s"}`, tn, scope)
	}
}

func TestFetch(t *testing.T) {
	t.Parallel()
	f := &fakeAAD{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := New(Config{TenantID: tenant, ClientID: clientID, ClientSecret: clientSecret, Host: srv.URL + "/"}, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0).UTC()
	p.now = func() time.Time { return now }
	in := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	form := func(scope string) string {
		return "grant_type=client_credentials&client_id=" + clientID + "&client_secret=AZ-CLIENT-SECRET~q8Q~abcdefghij&scope=" +
			strings.NewReplacer(":", "%3A", "/", "%2F").Replace(scope)
	}
	providertest.Run(t, p, []providertest.Case{
		{Ref: "", Value: "AAD-VALUE-" + tenant + "-" + DefaultScope, ExpiresAt: in(3599 * time.Second),
			Request: "/" + tenant + "/oauth2/v2.0/token " + form(DefaultScope)},
		{Ref: "https://vault.azure.net/.default", Value: "AAD-VALUE-" + tenant + "-https://vault.azure.net/.default", ExpiresAt: in(3599 * time.Second)},
		{Ref: "contoso.onmicrosoft.com:api://11112222-3333/.default", Value: "AAD-VALUE-contoso.onmicrosoft.com-api://11112222-3333/.default",
			ExpiresAt: in(3599 * time.Second), Request: "/contoso.onmicrosoft.com/oauth2/v2.0/token " + form("api://11112222-3333/.default")},
		{Ref: "https://string-expiry.example/.default", Value: "AAD-VALUE-v1", ExpiresAt: in(1800 * time.Second)},
		{Ref: "unknown.example:https://graph.microsoft.com/.default", Kind: providers.ErrInvalidRef},
		{Ref: "https://unknown.example/.default", Kind: providers.ErrInvalidRef},
		{Ref: "https://broken.example/.default", Kind: providers.ErrUpstream},
		{Ref: "graph_token", Kind: providers.ErrInvalidRef}, // a map-less entry's alias is not a scope
		{Ref: "User.Read", Kind: providers.ErrInvalidRef},
		{Ref: "../evil:https://graph.microsoft.com/.default", Kind: providers.ErrInvalidRef},
	}, f.seen.Last, "AAD-VALUE", clientSecret)

	// A wrong secret is a denial whose message does not quote what was sent.
	wrong, _ := New(Config{TenantID: tenant, ClientID: clientID, ClientSecret: "AZ-CLIENT-SECRET-wrong-0001", Host: srv.URL}, "")
	_, err = wrong.Fetch(context.Background(), "")
	if !errors.Is(err, providers.ErrDenied) || strings.Contains(err.Error(), "AZ-CLIENT-SECRET") || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("wrong secret: err = %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	noTenant, err := New(Config{ClientID: clientID, ClientSecret: clientSecret}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noTenant.Fetch(context.Background(), ""); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("no tenant: err = %v, want ErrConfig", err)
	}
	for name, cfg := range map[string]Config{
		"no client id":     {ClientSecret: clientSecret},
		"no client secret": {ClientID: clientID, ClientSecret: "  "},
		"bad tenant":       {ClientID: clientID, ClientSecret: clientSecret, TenantID: "a/b"},
		"bad host":         {ClientID: clientID, ClientSecret: clientSecret, Host: "login.microsoftonline.com"},
	} {
		_, err := New(cfg, "")
		if !errors.Is(err, providers.ErrConfig) || strings.Contains(fmt.Sprint(err), clientSecret) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}
