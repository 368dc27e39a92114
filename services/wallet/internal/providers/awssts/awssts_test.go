package awssts

import "context"
import "errors"
import "fmt"
import "io"
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

const (
	roleApp   = "arn:aws:iam::111122223333:role/app"
	roleXML   = "arn:aws:iam::111122223333:role/xml-answer"
	roleRFC   = "arn:aws:iam::111122223333:role/rfc3339-answer"
	roleDeny  = "arn:aws:iam::111122223333:role/denied"
	roleValid = "arn:aws:iam::111122223333:role/validation"
	roleBoom  = "arn:aws:iam::111122223333:role/boom"
	roleJunk  = "arn:aws:iam::111122223333:role/junk"
	expEpoch  = 1_900_000_000.5
	expRFC    = "2030-03-17T17:46:40Z"
)

// fakeSTS is the STS Query API's AssumeRoleWithWebIdentity: an anonymous form POST whose
// WebIdentityToken is the proof; JSON answers when asked (Accept: application/json),
// XML for the roles that stand for an XML-only compatible endpoint.
type fakeSTS struct {
	mu    sync.Mutex
	token string // the web identity token it accepts
	seen  providertest.Requests
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	raw, _ := io.ReadAll(r.Body)
	f.seen.Add(r.URL.Path + " " + string(raw))
	r.Body = io.NopCloser(strings.NewReader(string(raw)))
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "" || r.ParseForm() != nil ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	form := r.PostForm
	if form.Get("Action") != "AssumeRoleWithWebIdentity" || form.Get("Version") != "2011-06-15" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	role, sess := form.Get("RoleArn"), form.Get("RoleSessionName")
	switch {
	case role == roleValid:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"Error":{"Code":"ValidationError","Message":"1 validation error detected: Value '%s' at 'webIdentityToken' failed to satisfy constraint","Type":"Sender"},"RequestId":"r1"}`, form.Get("WebIdentityToken"))
		return
	case form.Get("WebIdentityToken") != f.token:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"Error":{"Code":"InvalidIdentityToken","Message":"Incorrect token audience","Type":"Sender"},"RequestId":"r2"}`))
		return
	case role == roleDeny:
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>r3</RequestId></ErrorResponse>`))
		return
	case role == roleBoom:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case role == roleJunk:
		_, _ = w.Write([]byte(`{"AssumeRoleWithWebIdentityResponse":{"AssumeRoleWithWebIdentityResult":{"Credentials":{"AccessKeyId":"ASIA-JUNK"}}}}`))
		return
	}
	id := "AROAEXAMPLE:" + sess
	secret, session := "STS-VALUE-secret-"+sess, "STS-VALUE-session-"+sess
	switch role {
	case roleXML:
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:noetl:wallet</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/xml-answer/%s</Arn><AssumedRoleId>%s</AssumedRoleId></AssumedRoleUser>
    <Credentials><SessionToken>%s</SessionToken><SecretAccessKey>%s</SecretAccessKey><Expiration>%s</Expiration><AccessKeyId>ASIAXML</AccessKeyId></Credentials>
    <Provider>arn:aws:iam::111122223333:oidc-provider/oidc.eks.example</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>r4</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`, sess, id, session, secret, expRFC)
		return
	case roleRFC:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"AssumeRoleWithWebIdentityResponse":{"AssumeRoleWithWebIdentityResult":{"AssumedRoleUser":{"Arn":"a","AssumedRoleId":%q},"Credentials":{"AccessKeyId":"ASIARFC","Expiration":%q,"SecretAccessKey":%q,"SessionToken":%q}}}}`, id, expRFC, secret, session)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"AssumeRoleWithWebIdentityResponse":{"AssumeRoleWithWebIdentityResult":{"AssumedRoleUser":{"Arn":"arn:aws:sts::111122223333:assumed-role/app/%s","AssumedRoleId":%q},"Audience":"sts.amazonaws.com","Credentials":{"AccessKeyId":"ASIAJSON","Expiration":%v,"SecretAccessKey":%q,"SessionToken":%q},"PackedPolicySize":null,"Provider":"oidc","SubjectFromWebIdentityToken":"sub"},"ResponseMetadata":{"RequestId":"r5"}}}`,
		sess, id, expEpoch, secret, session)
}

func value(akid, sess string) string {
	return `{"access_key_id":"` + akid + `","secret_access_key":"STS-VALUE-secret-` + sess + `","session_token":"STS-VALUE-session-` + sess + `"}`
}

func at(sec int64, nsec int64) *time.Time { t := time.Unix(sec, nsec).UTC(); return &t }

func TestFetch(t *testing.T) {
	t.Parallel()
	const webToken = "eyJhbGciOiJSUzI1NiJ9.WEB-IDENTITY.sig"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(webToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fakeSTS{token: webToken}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := New(Config{RoleARN: roleApp, TokenFile: tokenFile, Region: "us-west-2", Endpoint: srv.URL + "/{region}/"}, "")
	if err != nil {
		t.Fatal(err)
	}
	rfc, _ := time.Parse(time.RFC3339, expRFC)
	form := func(role, sess string) string {
		return "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + strings.NewReplacer(":", "%3A", "/", "%2F").Replace(role) +
			"&RoleSessionName=" + sess + "&DurationSeconds=3600&WebIdentityToken=" + webToken
	}
	providertest.Run(t, p, []providertest.Case{
		// An empty role is AWS_ROLE_ARN; the region is AWS_REGION's; epoch-float Expiration.
		{Ref: "", Value: value("ASIAJSON", "noetl-server"), Version: "AROAEXAMPLE:noetl-server",
			ExpiresAt: at(1_900_000_000, 500_000_000), Request: "/us-west-2/ " + form(roleApp, "noetl-server")},
		{Ref: "eu-west-1:" + roleApp + "#etl-run", Value: value("ASIAJSON", "etl-run"), Version: "AROAEXAMPLE:etl-run",
			ExpiresAt: at(1_900_000_000, 500_000_000), Request: "/eu-west-1/ " + form(roleApp, "etl-run")},
		{Ref: "#only-session", Value: value("ASIAJSON", "only-session"), ExpiresAt: at(1_900_000_000, 500_000_000)},
		{Ref: roleXML, Value: value("ASIAXML", "noetl-server"), Version: "AROAEXAMPLE:noetl-server", ExpiresAt: &rfc},
		{Ref: roleRFC, Value: value("ASIARFC", "noetl-server"), ExpiresAt: &rfc},
		{Ref: roleDeny, Kind: providers.ErrDenied},
		{Ref: roleValid, Kind: providers.ErrInvalidRef},
		{Ref: roleBoom, Kind: providers.ErrUpstream},
		{Ref: roleJunk, Kind: providers.ErrUpstream},
		{Ref: "aws_creds", Kind: providers.ErrInvalidRef}, // a map-less entry's alias is not a role
		{Ref: "arn:aws:s3:::bucket", Kind: providers.ErrInvalidRef},
		{Ref: roleApp + "#x", Kind: providers.ErrInvalidRef},
		{Ref: roleApp + "#bad session", Kind: providers.ErrInvalidRef},
	}, f.seen.Last, "STS-VALUE", webToken, "WEB-IDENTITY")

	// The token file is read on every fetch: a rotated token is used at once.
	f.mu.Lock()
	f.token = "eyJhbGciOiJSUzI1NiJ9.ROTATED.sig"
	f.mu.Unlock()
	if _, err := p.Fetch(context.Background(), ""); !errors.Is(err, providers.ErrDenied) {
		t.Errorf("stale token: err = %v, want ErrDenied", err)
	}
	if err := os.WriteFile(tokenFile, []byte("eyJhbGciOiJSUzI1NiJ9.ROTATED.sig"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fetch(context.Background(), ""); err != nil {
		t.Errorf("rotated token not re-read: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		ref  string
	}{
		{"no role anywhere", Config{TokenFile: "/nonexistent"}, ""},
		{"unreadable token file", Config{RoleARN: roleApp, TokenFile: filepath.Join(t.TempDir(), "absent")}, ""},
		{"an endpoint that is not a URL", Config{RoleARN: roleApp, TokenFile: "/nonexistent", Endpoint: "ftp//{region}"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := New(tc.cfg, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Fetch(context.Background(), tc.ref); !errors.Is(err, providers.ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
		})
	}
	for _, cfg := range []Config{{DurationSecs: 60}, {DurationSecs: 50000}, {RoleARN: "my-role"}} {
		if _, err := New(cfg, ""); !errors.Is(err, providers.ErrConfig) {
			t.Errorf("New(%+v): err = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestRegionPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, built, env, def, want string
	}{
		{"built-for region first", "eu-central-1", "us-west-2", "us-east-2", "eu-central-1"},
		{"AWS_REGION", "", "us-west-2", "us-east-2", "us-west-2"},
		{"AWS_DEFAULT_REGION", "", "", "us-east-2", "us-east-2"},
		{"us-east-1 last", "", "", "", "us-east-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := New(Config{Region: tc.env, DefaultRegion: tc.def}, tc.built)
			if err != nil || p.defaults.Region != tc.want {
				t.Errorf("region = %q (%v), want %q", p.defaults.Region, err, tc.want)
			}
		})
	}
}
