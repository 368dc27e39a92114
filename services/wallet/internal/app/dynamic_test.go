package app

import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "net/http/httptest"
import "os"
import "path/filepath"
import "strings"
import "sync/atomic"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/testkit"

// cloudFakes is the three issuers of the dynamic providers on one httptest server, each
// speaking its own wire format: STS AssumeRoleWithWebIdentity (anonymous form POST, JSON
// answer), the GCP metadata token plus IAM Credentials generateAccessToken, and the Entra
// ID v2.0 token endpoint. Each issuer's lifetime is set per test; calls are counted.
type cloudFakes struct {
	*httptest.Server
	sts, iam, aad   atomic.Int64
	stsLife         time.Duration
	iamLife         time.Duration
	aadExpiresIn    int
	webToken        string
	clientSecret    string
	stsKey, iamTok  string
	aadTok, metaTok string
}

func newCloudFakes(t *testing.T, f *cloudFakes) *cloudFakes {
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/sts/":
			f.sts.Add(1)
			if r.ParseForm() != nil || r.PostForm.Get("Action") != "AssumeRoleWithWebIdentity" || r.PostForm.Get("WebIdentityToken") != f.webToken {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"Error":{"Code":"InvalidIdentityToken","Message":"Couldn't verify the token","Type":"Sender"}}`))
				return
			}
			if strings.HasSuffix(r.PostForm.Get("RoleArn"), "/forbidden") {
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"Error":{"Code":"AccessDenied","Message":"Not authorized to perform sts:AssumeRoleWithWebIdentity","Type":"Sender"}}`))
				return
			}
			fmt.Fprintf(w, `{"AssumeRoleWithWebIdentityResponse":{"AssumeRoleWithWebIdentityResult":{"AssumedRoleUser":{"Arn":"a","AssumedRoleId":"AROA1:%s"},"Credentials":{"AccessKeyId":"ASIADYN","Expiration":%d.25,"SecretAccessKey":%q,"SessionToken":"DYN-session-token"}}}}`,
				r.PostForm.Get("RoleSessionName"), time.Now().Add(f.stsLife).Unix(), f.stsKey)
		case r.URL.Path == "/metadata/token":
			_, _ = w.Write([]byte(`{"access_token":"` + f.metaTok + `","expires_in":3599,"token_type":"Bearer"}`))
		case strings.HasPrefix(r.URL.Path, "/iam/v1/projects/-/serviceAccounts/"):
			f.iam.Add(1)
			if r.Header.Get("Authorization") != "Bearer "+f.metaTok {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"accessToken": f.iamTok,
				"expireTime": time.Now().Add(f.iamLife).UTC().Format(time.RFC3339)})
		case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
			f.aad.Add(1)
			body, _ := io.ReadAll(r.Body)
			if !strings.Contains(string(body), "client_secret="+f.clientSecret+"&") {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`))
				return
			}
			fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"access_token":%q}`, f.aadExpiresIn, f.aadTok)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// TestDynamicProviders: through the wallet's credential routes and real PostgreSQL, an
// aws_sts, a gcp_iam and an azure_oauth keychain entry each mint a credential from their
// issuer, answered in the synthetic shape (sealed too) and cached for as long as the
// issuer's expiry allows: the STS keys (1 h) for the 600 s default, the IAM token (5 min)
// until the safety margin, the Entra token (30 s) never. A `credential:` entry answers
// the stored credential it names. Nothing secret reaches a log, a metric or an error.
func TestDynamicProviders(t *testing.T) {
	t.Parallel()
	const exec, catalog = int64(7171), int64(814)
	cloud := newCloudFakes(t, &cloudFakes{
		stsLife: time.Hour, iamLife: 5 * time.Minute, aadExpiresIn: 30,
		webToken: "eyJhbGciOiJSUzI1NiJ9.DYN-web-identity.sig", clientSecret: "DYN-client-secret-0042",
		stsKey: "DYN-sts-secret-key", iamTok: "ya29.DYN-iam-token", aadTok: "DYN-aad-access-token", metaTok: "ya29.DYN-caller",
	})
	tokenFile := filepath.Join(t.TempDir(), "web-identity-token")
	if err := os.WriteFile(tokenFile, []byte(cloud.webToken), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t)
	api.register("worker-bob", strp(bobPublicB64))
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "aws_creds", Provider: "aws_iam", Map: map[string]string{"deploy": "#etl-deploy"}})
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "aws_denied", Provider: "aws_sts",
		Map: map[string]string{"x": "arn:aws:iam::111122223333:role/forbidden"}})
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "bq", Provider: "gcp_iam", Map: map[string]string{"token": "loader@p.iam.gserviceaccount.com"}})
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "graph", Provider: "azure_oauth", Map: map[string]string{"token": ""}})
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "graph_alias", Provider: "azure_aad"}) // the alias is no scope
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "pg", Credential: "pg_prod"})
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "pg_gone", Credential: "pg_absent"})
	cfg := testConfig(t, s, api.URL)
	cfg.Keys.GCPMetadataTokURL = cloud.URL + "/metadata/token"
	p := &cfg.Providers
	p.AWSSTS.RoleARN, p.AWSSTS.TokenFile, p.AWSSTS.Endpoint = "arn:aws:iam::111122223333:role/noetl-wallet", tokenFile, cloud.URL+"/sts"
	p.GCPIAM.Endpoint = cloud.URL + "/iam/v1"
	p.AzureOAuth.TenantID, p.AzureOAuth.ClientID, p.AzureOAuth.ClientSecret, p.AzureOAuth.Host = "contoso.onmicrosoft.com", "app-id-1", "DYN-client-secret-0042", cloud.URL
	cfg.Residency.DynamicSafetyMarg = 60
	w := startWallet(t, cfg)
	get := func(alias string) string {
		t.Helper()
		m := synthetic.FindStringSubmatch(w.must(200, "GET", fmt.Sprintf("/api/credentials/%s?include_data=true&execution_id=%d", alias, exec), nil))
		if m == nil || m[1] != alias {
			t.Fatalf("%s: not the synthetic credential", alias)
		}
		return m[2]
	}

	wantAWS := `{"deploy":"{\"access_key_id\":\"ASIADYN\",\"secret_access_key\":\"DYN-sts-secret-key\",\"session_token\":\"DYN-session-token\"}"}`
	for range 2 {
		if got := get("aws_creds"); got != wantAWS {
			t.Errorf("aws_creds = %s, want %s", got, wantAWS)
		}
		if got := get("bq"); got != `{"token":"ya29.DYN-iam-token"}` {
			t.Errorf("bq = %s", got)
		}
		if got := get("graph"); got != `{"token":"DYN-aad-access-token"}` {
			t.Errorf("graph = %s", got)
		}
	}
	if cloud.sts.Load() != 1 || cloud.iam.Load() != 1 || cloud.aad.Load() != 2 {
		t.Errorf("issuer calls: sts %d (want 1), iam %d (want 1), aad %d (want 2: inside the margin, never cached)",
			cloud.sts.Load(), cloud.iam.Load(), cloud.aad.Load())
	}
	left := func(alias string) time.Duration {
		var exp time.Time
		if err := s.Pool.QueryRow(t.Context(), `SELECT expires_at FROM keychain WHERE keychain_name = $1`, alias).Scan(&exp); err != nil {
			t.Fatalf("%s cache row: %v", alias, err)
		}
		return time.Until(exp)
	}
	// STS: min(600 s, 1 h - 60 s) = the default. IAM: 5 min - 60 s = 240 s.
	if l := left("aws_creds"); l < 590*time.Second || l > 600*time.Second {
		t.Errorf("aws_creds cached for %v, want about 600 s", l)
	}
	if l := left("bq"); l < 230*time.Second || l > 240*time.Second {
		t.Errorf("bq cached for %v, want about 240 s", l)
	}
	if n := testkit.QueryOne[int64](t, s, `SELECT count(*) FROM keychain WHERE keychain_name = 'graph'`); n != 0 {
		t.Errorf("graph has %d cache rows", n)
	}

	// Sealed delivery of a minted credential opens to the same synthetic credential.
	env := decodeEnvelope(t, w.must(200, "GET", fmt.Sprintf("/api/credentials/graph/sealed?worker_id=worker-bob&execution_id=%d", exec), nil))
	if plain, err := sealed.Open(bobKey(t), env); err != nil || !strings.Contains(string(plain), `"data":{"token":"DYN-aad-access-token"}`) {
		t.Errorf("sealed graph = %s, %v", plain, err)
	}

	// Failures: a refused role is a 502 naming it; an alias that is no scope a 422.
	code, out := w.do("GET", fmt.Sprintf("/api/credentials/aws_denied?include_data=true&execution_id=%d", exec), nil)
	if code != 502 || !strings.Contains(errText(t, out), "keychain 'aws_denied': aws sts: AssumeRoleWithWebIdentity 'arn:aws:iam::111122223333:role/forbidden' returned 403 AccessDenied") {
		t.Errorf("denied role = %d %s", code, out)
	}
	code, out = w.do("GET", fmt.Sprintf("/api/credentials/graph_alias?include_data=true&execution_id=%d", exec), nil)
	if code != 422 || !strings.Contains(errText(t, out), "scope 'graph_alias' is not '<resource>/.default'") {
		t.Errorf("alias as scope = %d %s", code, out)
	}

	// The credential: indirection answers the stored credential under the alias.
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "pg_prod", "type": "postgres",
		"data": map[string]any{"user": "app", "password": "DYN-pg-password"}})
	if got := get("pg"); got != `{"password":"DYN-pg-password","user":"app"}` {
		t.Errorf("pg = %s", got)
	}
	code, out = w.do("GET", fmt.Sprintf("/api/credentials/pg_gone?include_data=true&execution_id=%d", exec), nil)
	if code != 404 || errText(t, out) != "keychain 'pg_gone': credential 'pg_absent' not found" {
		t.Errorf("indirection to a missing credential = %d %s", code, out)
	}

	for series, want := range map[string]float64{
		`noetl_secret_resolve_total{provider="aws_sts",region="test-region-1",status="ok"}`:                   1,
		`noetl_secret_resolve_total{provider="aws_sts",region="test-region-1",status="provider_fetch_error"}`: 1,
		`noetl_secret_resolve_total{provider="gcp_iam",region="test-region-1",status="ok"}`:                   1,
		`noetl_secret_resolve_total{provider="azure_oauth",region="test-region-1",status="ok"}`:               3,
		`noetl_secret_provider_build_total{provider="azure_oauth",region="test-region-1",status="ok"}`:        1,
		`noetl_secret_cache_skip_total{reason="already_expired"}`:                                             3,
		`noetl_secret_dynamic_ttl_seconds_count`:                                                              5,
	} {
		if got := w.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	eventually(t, "audit rows", func() bool {
		return auditRows(t, s, `credential = 'aws_creds' AND outcome = 'ok' AND notes LIKE 'keychain provider aws_sts%'`) == 2 &&
			auditRows(t, s, `credential = 'pg' AND outcome = 'ok' AND notes = 'keychain credential indirection to ''pg_prod'''`) == 1 &&
			auditRows(t, s, `credential = 'pg_gone' AND outcome = 'credential_not_found'`) == 1
	})
	w.assertNoSecrets(cloud.webToken, "DYN-web-identity", cloud.clientSecret, cloud.stsKey, "DYN-session-token",
		cloud.iamTok, cloud.aadTok, cloud.metaTok, "DYN-pg-password")
}

// TestDynamicRefreshInTheBackground: with a refresh window as long as the cache row (600
// s), every cache hit of an aws_sts value is inside it. Through the routes, real
// PostgreSQL and the fake STS: the hit answers the cached value at once, one new
// credential is minted in the background and replaces the row (a later expiry), and the
// refresh writes no audit row of its own (it releases nothing).
func TestDynamicRefreshInTheBackground(t *testing.T) {
	t.Parallel()
	const exec, catalog = int64(7272), int64(815)
	cloud := newCloudFakes(t, &cloudFakes{stsLife: time.Hour, webToken: "eyJhbGciOiJSUzI1NiJ9.REF-web-identity.sig", stsKey: "REF-sts-secret-key"})
	tokenFile := filepath.Join(t.TempDir(), "web-identity-token")
	if err := os.WriteFile(tokenFile, []byte(cloud.webToken), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t)
	api.define(exec, catalog, internalapi.KeychainEntry{Name: "aws_creds", Provider: "aws_sts", Map: map[string]string{"deploy": "#etl-deploy"}})
	cfg := testConfig(t, s, api.URL)
	p := &cfg.Providers
	p.AWSSTS.RoleARN, p.AWSSTS.TokenFile, p.AWSSTS.Endpoint = "arn:aws:iam::111122223333:role/noetl-wallet", tokenFile, cloud.URL+"/sts"
	cfg.Residency.DynamicSafetyMarg, cfg.Residency.RefreshWindowSecs = 60, 600
	w := startWallet(t, cfg)
	path := fmt.Sprintf("/api/credentials/aws_creds?include_data=true&execution_id=%d", exec)
	expiry := func() time.Time {
		t.Helper()
		return testkit.QueryOne[time.Time](t, s, `SELECT expires_at FROM keychain WHERE keychain_name = 'aws_creds'`)
	}

	first := synthetic.FindStringSubmatch(w.must(200, "GET", path, nil)) // a miss: minted before answering
	if first == nil || cloud.sts.Load() != 1 {
		t.Fatalf("first read: %v, sts calls %d", first, cloud.sts.Load())
	}
	minted := expiry()
	second := synthetic.FindStringSubmatch(w.must(200, "GET", path, nil)) // a hit inside the window
	if second == nil || second[2] != first[2] {
		t.Fatalf("second read = %v, want the cached value %s", second, first[2])
	}
	eventually(t, "the background refresh", func() bool {
		return w.metric(`noetl_secret_refresh_total{outcome="succeeded"}`) == 1
	})
	if n := cloud.sts.Load(); n != 2 {
		t.Errorf("sts calls = %d, want 2 (the miss, the refresh)", n)
	}
	if got := expiry(); !got.After(minted) {
		t.Errorf("cache row expires at %v after the refresh, want later than %v", got, minted)
	}
	for outcome, want := range map[string]float64{"triggered": 1, "failed": 0, "stampede_collapsed": 0} {
		if got := w.metric(`noetl_secret_refresh_total{outcome="` + outcome + `"}`); got != want {
			t.Errorf("refresh_total{%s} = %v, want %v", outcome, got, want)
		}
	}
	if got := w.metric(`noetl_secret_refresh_duration_seconds_count`); got != 1 {
		t.Errorf("refresh duration count = %v", got)
	}
	eventually(t, "audit rows", func() bool {
		return auditRows(t, s, `credential = 'aws_creds' AND outcome = 'ok'`) == 2
	})
	w.assertNoSecrets(cloud.webToken, "REF-web-identity", cloud.stsKey, "DYN-session-token")
}
