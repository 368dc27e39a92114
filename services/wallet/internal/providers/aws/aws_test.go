package aws

import "bytes"
import "context"
import "encoding/hex"
import "encoding/json"
import "errors"
import "io"
import "net/http"
import "net/http/httptest"
import "net/url"
import "os"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/awssts"
import "github.com/noetl/controlplane/services/wallet/internal/providers/providertest"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/testkit"

type vectors struct {
	SigningKey struct {
		Secret, Date, Region, Service string
		KeyHex                        string `json:"key_hex"`
	} `json:"signing_key"`
	EmptySHA256 string `json:"empty_sha256"`
	Requests    []struct {
		Name                   string
		AccessKeyID            string `json:"access_key_id"`
		Secret                 string
		SessionToken           string `json:"session_token"`
		Time, Region, Host     string
		Body                   string
		BodySHA256             string `json:"body_sha256"`
		CanonicalRequestSHA256 string `json:"canonical_request_sha256"`
		SigningKeyHex          string `json:"signing_key_hex"`
		SignedHeaders          string `json:"signed_headers"`
		Signature              string
	}
	Refs []struct{ Ref, Region, ID, Key string }
}

func loadVectors(t *testing.T) vectors {
	return testkit.LoadJSON[vectors](t, "testdata/sigv4_vectors.json")
}

func TestSigningKeyDerivation(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	k := v.SigningKey
	if got := hex.EncodeToString(signingKey(k.Secret, k.Date, k.Region, k.Service)); got != k.KeyHex {
		t.Errorf("signing key = %s, want %s", got, k.KeyHex)
	}
	if got := sha256Hex(nil); got != v.EmptySHA256 {
		t.Errorf("sha256(\"\") = %s", got)
	}
}

// The vectors go through the provider itself: the request it would send is captured
// before it leaves, and its signature compared with the vector's.
func TestSignatureVectors(t *testing.T) {
	t.Parallel()
	for _, vec := range loadVectors(t).Requests {
		t.Run(vec.Name, func(t *testing.T) {
			t.Parallel()
			at, err := time.Parse(time.RFC3339, vec.Time)
			if err != nil {
				t.Fatal(err)
			}
			// The pieces, from the request the vector describes.
			in := signingInput{Method: "POST", Headers: map[string]string{
				"content-type": "application/x-amz-json-1.1", "host": vec.Host,
				"x-amz-content-sha256": vec.BodySHA256, "x-amz-date": amzDate(at), "x-amz-target": target,
			}, Body: []byte(vec.Body), Time: at, Region: vec.Region, Service: service}
			if vec.SessionToken != "" {
				in.Headers["x-amz-security-token"] = vec.SessionToken
			}
			if got := sha256Hex(in.Body); got != vec.BodySHA256 {
				t.Errorf("body sha256 = %s", got)
			}
			canonical, signed := canonicalRequest(in)
			if vec.CanonicalRequestSHA256 != "" && sha256Hex([]byte(canonical)) != vec.CanonicalRequestSHA256 {
				t.Errorf("canonical request sha256 = %s, want %s\n%s", sha256Hex([]byte(canonical)), vec.CanonicalRequestSHA256, canonical)
			}
			if signed != vec.SignedHeaders {
				t.Errorf("signed headers = %s", signed)
			}
			if got := hex.EncodeToString(signingKey(vec.Secret, at.Format("20060102"), vec.Region, service)); got != vec.SigningKeyHex {
				t.Errorf("signing key = %s", got)
			}

			// The whole request, as the provider builds it.
			p, err := New(Config{AccessKeyID: vec.AccessKeyID, SecretAccessKey: config.Secret(vec.Secret),
				SessionToken: config.Secret(vec.SessionToken)}, vec.Region)
			if err != nil {
				t.Fatal(err)
			}
			p.now = func() time.Time { return at }
			var sent *http.Request
			var sentBody []byte
			p.client = &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
				sent = r
				sentBody, _ = io.ReadAll(r.Body)
				return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"SecretString":"x"}`)), Header: http.Header{}}, nil
			})}
			ref := strings.TrimSuffix(strings.TrimPrefix(vec.Body, `{"SecretId":"`), `","VersionStage":"AWSCURRENT"}`)
			if _, err := p.Fetch(context.Background(), ref); err != nil {
				t.Fatal(err)
			}
			want := "AWS4-HMAC-SHA256 Credential=" + vec.AccessKeyID + "/" + at.Format("20060102") + "/" + vec.Region +
				"/secretsmanager/aws4_request, SignedHeaders=" + vec.SignedHeaders + ", Signature=" + vec.Signature
			if got := sent.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization =\n%s\nwant\n%s", got, want)
			}
			if sent.URL.String() != "https://"+vec.Host || string(sentBody) != vec.Body {
				t.Errorf("request = %s %s", sent.URL, sentBody)
			}
		})
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestParseRef(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t).Refs {
		got, err := ParseRef(v.Ref)
		if err != nil || got != (Ref{Region: v.Region, ID: v.ID, Key: v.Key}) {
			t.Errorf("ParseRef(%q) = %+v, %v", v.Ref, got, err)
		}
	}
	for _, bad := range []string{"", "  ", "prod/db#", "eu-west-1:prod#"} {
		if _, err := ParseRef(bad); !errors.Is(err, providers.ErrInvalidRef) {
			t.Errorf("ParseRef(%q) err = %v, want ErrInvalidRef", bad, err)
		}
	}
}

// fakeSM is Secrets Manager's JSON protocol: it checks every header and the signature of
// each request, and answers from its secrets.
type fakeSM struct {
	*httptest.Server
	t       *testing.T
	secrets map[string]string // secret id -> SecretString
	seen    providertest.Requests
}

func newFakeSM(t *testing.T, secrets map[string]string) *fakeSM {
	f := &fakeSM{t: t, secrets: secrets}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSM) fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func (f *fakeSM) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != "POST" || r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || r.Header.Get("X-Amz-Content-Sha256") != sha256Hex(body) {
		f.fail(w, 400, "InvalidRequestException", "malformed request")
		return
	}
	// Recompute the signature from what arrived, with the server's copy of the secret key.
	auth := r.Header.Get("Authorization")
	cred := between(auth, "Credential=", ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] != "AKIDTEST" || parts[3] != "secretsmanager" || parts[4] != "aws4_request" {
		f.fail(w, 400, "IncompleteSignature", "bad credential scope")
		return
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != parts[1] {
		f.fail(w, 400, "IncompleteSignature", "bad date")
		return
	}
	headers := map[string]string{"host": r.Host}
	for _, n := range strings.Split(between(auth, "SignedHeaders=", ","), ";") {
		if n != "host" {
			headers[n] = r.Header.Get(n)
		}
	}
	in := signingInput{Method: "POST", Path: "/", Headers: headers, Body: body, Time: at, Region: parts[2], Service: "secretsmanager"}
	if want := authorization(in, "AKIDTEST", "server-side-secret-key"); auth != want {
		f.fail(w, 400, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
		return
	}
	var req getSecretValueRequest
	if err := json.Unmarshal(body, &req); err != nil || req.VersionStage != "AWSCURRENT" {
		f.fail(w, 400, "InvalidParameterException", "bad body")
		return
	}
	f.seen.Add(parts[2] + " " + r.Header.Get("X-Amz-Security-Token") + " " + req.SecretID)
	switch {
	case req.SecretID == "forbidden":
		f.fail(w, 400, "com.amazonaws.secretsmanager#AccessDeniedException", "User is not authorized to perform secretsmanager:GetSecretValue")
		return
	case req.SecretID == "binary":
		_, _ = w.Write([]byte(`{"SecretBinary":"AAEC","VersionId":"v-bin"}`))
		return
	}
	s, ok := f.secrets[req.SecretID]
	if !ok {
		f.fail(w, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"SecretString": s, "VersionId": "ver-" + req.SecretID, "Name": req.SecretID})
}

func between(s, start, end string) string {
	_, rest, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(rest, end)
	return v
}

func TestFetch(t *testing.T) {
	t.Parallel()
	sm := newFakeSM(t, map[string]string{
		"prod/token": "tok-AWS-VALUE-1",
		"prod/db":    `{"username":"app","password":"pw-AWS-VALUE-2","port":5432,"tls":true,"none":null,"nested":{"a":1}}`,
		"arn:aws:secretsmanager:us-west-2:111122223333:secret:prod/db-abc123": "arn-VALUE",
	})
	p, err := New(Config{AccessKeyID: "AKIDTEST", SecretAccessKey: "server-side-secret-key", SessionToken: "sess-tok",
		Region: "us-east-2", Endpoint: sm.URL + "/"}, "eu-central-1")
	if err != nil {
		t.Fatal(err)
	}
	// The fake records "<signing region> <session token> <secret id>".
	providertest.Run(t, p, []providertest.Case{
		{Ref: "prod/token", Value: "tok-AWS-VALUE-1", Version: "ver-prod/token", Request: "eu-central-1 sess-tok prod/token"},
		{Ref: "prod/db#password", Value: "pw-AWS-VALUE-2", Version: "ver-prod/db", Request: "eu-central-1 sess-tok prod/db"},
		{Ref: "prod/db#port", Value: "5432"},
		{Ref: "prod/db#tls", Value: "true"},
		{Ref: "prod/db#none", Value: ""},
		{Ref: "us-west-1:prod/db#username", Value: "app", Request: "us-west-1 sess-tok prod/db"},
		{Ref: "arn:aws:secretsmanager:us-west-2:111122223333:secret:prod/db-abc123", Value: "arn-VALUE",
			Request: "eu-central-1 sess-tok arn:aws:secretsmanager:us-west-2:111122223333:secret:prod/db-abc123"},
		{Ref: "prod/db#nested", Kind: providers.ErrInvalidRef},
		{Ref: "prod/db#missing", Kind: providers.ErrNotFound},
		{Ref: "prod/token#k", Kind: providers.ErrInvalidRef},
		{Ref: "prod/absent", Kind: providers.ErrNotFound},
		{Ref: "forbidden", Kind: providers.ErrDenied},
		{Ref: "binary", Kind: providers.ErrInvalidRef},
	}, sm.seen.Last, "VALUE", "server-side-secret-key")
}

func TestRegionAndEndpoint(t *testing.T) {
	t.Parallel()
	sm := newFakeSM(t, map[string]string{"s": "v"})
	var hosts []string
	for _, tc := range []struct {
		cfg            Config
		built, want    string
		wantErr        error
		endpointSuffix string
	}{
		{cfg: Config{Region: "us-east-2", DefaultRegion: "us-west-2"}, built: "", want: "us-east-2"},
		{cfg: Config{DefaultRegion: "us-west-2"}, built: "", want: "us-west-2"},
		{cfg: Config{Region: "us-east-2"}, built: "ap-south-1", want: "ap-south-1"},
		{cfg: Config{}, built: "", wantErr: providers.ErrConfig},
	} {
		cfg := tc.cfg
		cfg.AccessKeyID, cfg.SecretAccessKey = "AKIDTEST", "server-side-secret-key"
		u, _ := url.Parse(sm.URL)
		// {region} in the endpoint is the region the request is signed for.
		cfg.Endpoint = "http://{region}.localtest:" + u.Port()
		p, err := New(cfg, tc.built)
		if err != nil {
			t.Fatal(err)
		}
		p.client = &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			hosts = append(hosts, r.URL.Hostname())
			r.URL.Host = u.Host
			r2 := r.Clone(r.Context())
			r2.Host = r.Host
			return http.DefaultTransport.RoundTrip(r2)
		})}
		_, err = p.Fetch(context.Background(), "s")
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%+v: err = %v, want %v", tc.cfg, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%+v: %v", tc.cfg, err)
		}
		if got := hosts[len(hosts)-1]; got != tc.want+".localtest" {
			t.Errorf("%+v built for %q: host %s, want region %s", tc.cfg, tc.built, got, tc.want)
		}
	}
	if _, err := New(Config{AccessKeyID: "AKID"}, "x"); !errors.Is(err, providers.ErrConfig) {
		t.Errorf("missing secret key: err = %v", err)
	}
	p, _ := New(Config{AccessKeyID: "AKID", SecretAccessKey: "very-secret-key"}, "x")
	var buf bytes.Buffer
	buf.WriteString(p.String())
	if strings.Contains(buf.String(), "very-secret-key") {
		t.Error("String shows the secret key")
	}
}

// Without static keys the provider signs with the web identity role's credentials (EKS
// IRSA sets only AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE): minted by STS once, reused
// until five minutes before they expire, and dropped when AWS refuses them.
func TestWebIdentityCredentials(t *testing.T) {
	t.Parallel()
	sm := newFakeSM(t, map[string]string{"prod/token": "tok-AWS-VALUE-1"})
	var mints int
	expires := time.Now().Add(time.Hour)
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("Action") != "AssumeRoleWithWebIdentity" || r.PostForm.Get("WebIdentityToken") != "irsa-jwt" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"Error":{"Code":"InvalidIdentityToken","Message":"bad token"}}`))
			return
		}
		if strings.HasSuffix(r.PostForm.Get("RoleArn"), "/denied") {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"Error":{"Code":"AccessDenied","Message":"Not authorized to perform sts:AssumeRoleWithWebIdentity"}}`))
			return
		}
		mints++
		_ = json.NewEncoder(w).Encode(map[string]any{"AssumeRoleWithWebIdentityResponse": map[string]any{"AssumeRoleWithWebIdentityResult": map[string]any{
			"AssumedRoleUser": map[string]any{"AssumedRoleId": "AROA:noetl-server"},
			"Credentials": map[string]any{"AccessKeyId": "AKIDTEST", "SecretAccessKey": "server-side-secret-key",
				"SessionToken": "sess-" + string(rune('0'+mints)), "Expiration": float64(expires.Unix())}}}})
	}))
	t.Cleanup(sts.Close)
	tokenFile := t.TempDir() + "/token"
	if err := os.WriteFile(tokenFile, []byte("irsa-jwt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	irsa := func(role string) Config {
		return Config{Region: "eu-west-1", Endpoint: sm.URL, WebIdentity: awssts.Config{RoleARN: role, TokenFile: tokenFile, Endpoint: sts.URL}}
	}
	p, err := New(irsa("arn:aws:iam::111122223333:role/etl"), "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p.now = func() time.Time { return now }
	for i := 0; i < 2; i++ {
		if s, err := p.Fetch(context.Background(), "prod/token"); err != nil || s.Value != "tok-AWS-VALUE-1" {
			t.Fatalf("fetch %d: %+v, %v", i, s, err)
		}
	}
	if got := sm.seen.Last(); got != "eu-west-1 sess-1 prod/token" || mints != 1 {
		t.Errorf("last request %q after %d mints, want sess-1 after one", got, mints)
	}
	// Within five minutes of the expiry the next fetch mints new credentials.
	now = expires.Add(-4 * time.Minute)
	if _, err := p.Fetch(context.Background(), "prod/token"); err != nil || mints != 2 || sm.seen.Last() != "eu-west-1 sess-2 prod/token" {
		t.Errorf("near expiry: %v, %d mints, last %q", err, mints, sm.seen.Last())
	}
	// AWS refusing them drops them.
	now = time.Now()
	if _, err := p.Fetch(context.Background(), "forbidden"); !errors.Is(err, providers.ErrDenied) {
		t.Errorf("forbidden: %v", err)
	}
	if _, err := p.Fetch(context.Background(), "prod/token"); err != nil || mints != 3 {
		t.Errorf("after a denial: %v, %d mints, want 3", err, mints)
	}

	denied, err := New(irsa("arn:aws:iam::111122223333:role/denied"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := denied.Fetch(context.Background(), "prod/token"); !errors.Is(err, providers.ErrDenied) {
		t.Errorf("role denied: err = %v", err)
	}
	if _, err := New(Config{Region: "eu-west-1"}, ""); !errors.Is(err, providers.ErrConfig) || !strings.Contains(err.Error(), "AWS_ROLE_ARN") {
		t.Errorf("neither keys nor a role: err = %v", err)
	}
}
