// Package azureoauth mints Microsoft Entra ID (Azure AD) access tokens with the OAuth 2.0
// client-credentials grant (provider `azure_oauth`, alias `azure_aad`): POST
// <host>/<tenant>/oauth2/v2.0/token with the wallet's application id and client secret.
//
// Reference form: [<tenant>:]<scope>. The tenant prefix counts only when what follows is
// not the rest of a URL (`https://...` is a scope); an empty scope uses
// NOETL_AZURE_OAUTH_SCOPE. Client credentials need `<resource>/.default` scopes, so
// anything else is refused before the call. The value is the access token, its expiry
// now + expires_in.
package azureoauth

import "cmp"
import "context"
import "encoding/json"
import "net/http"
import "net/url"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/shared/config"

const (
	// DefaultHost is the Entra ID authority of the public cloud.
	DefaultHost = "https://login.microsoftonline.com"
	// DefaultScope is the scope of an empty reference when NOETL_AZURE_OAUTH_SCOPE is unset.
	DefaultScope = "https://graph.microsoft.com/.default"
)

// Config is the client-credentials variables.
type Config struct {
	TenantID     string        // AZURE_TENANT_ID
	ClientID     string        // AZURE_CLIENT_ID
	ClientSecret config.Secret // AZURE_CLIENT_SECRET
	Scope        string        // NOETL_AZURE_OAUTH_SCOPE
	Host         string        // NOETL_AZURE_AAD_HOST
}

// Provider is the token endpoint of one authority. Entra ID is global: the region plays
// no part.
type Provider struct {
	defaults Ref // the tenant and scope of a reference that names none
	clientID string
	secret   config.Secret
	host     string
	client   *http.Client
	now      func() time.Time
}

// New checks the application's credentials and builds the provider.
func New(cfg Config, _ string) (*Provider, error) {
	clientID := strings.TrimSpace(cfg.ClientID)
	if clientID == "" || !cfg.ClientSecret.IsSet() {
		return nil, providers.Errorf(providers.ErrConfig, "azure oauth: AZURE_CLIENT_ID and AZURE_CLIENT_SECRET must be set")
	}
	tenant := strings.TrimSpace(cfg.TenantID)
	if tenant != "" && !tenantName.Match(tenant) {
		return nil, providers.Errorf(providers.ErrConfig, "azure oauth: AZURE_TENANT_ID %q is not a tenant id or domain", tenant)
	}
	scope := providers.Setting(cfg.Scope, DefaultScope)
	host := strings.TrimRight(strings.TrimSpace(cfg.Host), "/")
	if host == "" {
		host = DefaultHost
	}
	if u, err := url.Parse(host); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, providers.Errorf(providers.ErrConfig, "azure oauth: NOETL_AZURE_AAD_HOST %q is not an http(s) URL", host)
	}
	client, err := providers.Client("NOETL_AZURE_AAD_HOST", "", false)
	if err != nil {
		return nil, err
	}
	return &Provider{defaults: Ref{Tenant: tenant, Scope: scope}, clientID: clientID, secret: cfg.ClientSecret, host: host, client: client, now: time.Now}, nil
}

// String never shows the client secret.
func (p *Provider) String() string { return "azureoauth.Provider{tenant:" + p.defaults.Tenant + "}" }

// Ref is a parsed reference.
type Ref struct{ Tenant, Scope string }

// tenantName is a tenant GUID or verified domain (or common/organizations): it goes into
// the request path, so the rule also keeps a reference from steering the secret to
// another path.
var tenantName = providers.NameRule{MinLen: 1, MaxLen: 253, Extra: "-.", NoDotNames: true}

// ParseRef reads [<tenant>:]<scope>; a part the reference leaves out is that of defaults
// (the provider's settings), and a tenant named by neither fails.
func ParseRef(ref string, defaults Ref) (Ref, error) {
	ref = strings.TrimSpace(ref)
	var r Ref
	if pre, rest, ok := strings.Cut(ref, ":"); ok && !strings.HasPrefix(rest, "//") {
		if !tenantName.Match(pre) {
			return Ref{}, providers.Errorf(providers.ErrInvalidRef, "azure oauth: invalid reference '%s' (expected '[<tenant>:]<resource>/.default', or empty for NOETL_AZURE_OAUTH_SCOPE)", ref)
		}
		r.Tenant, ref = pre, rest
	}
	for s := range strings.FieldsSeq(ref) {
		if !strings.HasSuffix(s, "/.default") || strings.ContainsAny(s, "\"\\") {
			return Ref{}, providers.Errorf(providers.ErrInvalidRef, "azure oauth: scope '%s' is not '<resource>/.default', the only scope form the client-credentials grant accepts", s)
		}
	}
	tenant, err := providers.RefOrSetting("azure oauth", "tenant", r.Tenant, defaults.Tenant, "AZURE_TENANT_ID")
	if err != nil {
		return Ref{}, err
	}
	return Ref{Tenant: tenant, Scope: cmp.Or(ref, defaults.Scope)}, nil
}

// Fetch requests a token for the scope.
func (p *Provider) Fetch(ctx context.Context, ref string) (providers.Secret, error) {
	r, err := ParseRef(ref, p.defaults)
	if err != nil {
		return providers.Secret{}, err
	}
	secret := p.secret.Reveal()
	what := "azure oauth: token for '" + r.Scope + "' in tenant '" + r.Tenant + "'"
	answer, status, err := providers.PostForm(ctx, p.client, p.host+"/"+r.Tenant+"/oauth2/v2.0/token", what,
		[2]string{"grant_type", "client_credentials"},
		[2]string{"client_id", p.clientID},
		[2]string{"client_secret", secret},
		[2]string{"scope", r.Scope},
	)
	if status != nil {
		return providers.Secret{}, classify(what, status, secret)
	}
	if err != nil {
		return providers.Secret{}, err
	}
	defer clear(answer)
	var out struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(answer, &out); err != nil || out.AccessToken == "" {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: the answer is not a token response", what)
	}
	// A number on v2.0; a decimal string on the older v1.0 endpoint.
	secs, err := strconv.ParseInt(strings.Trim(string(out.ExpiresIn), `"`), 10, 64)
	if err != nil || secs <= 0 {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: expires_in is not a positive number of seconds", what)
	}
	exp := p.now().Add(time.Duration(secs) * time.Second).UTC()
	return providers.Secret{Value: out.AccessToken, ExpiresAt: &exp}, nil
}

// classify reads the OAuth error answer ({"error","error_description"}; RFC 6749 section 5.2).
// Entra ID's descriptions do not quote the secret, but they are redacted anyway.
func classify(what string, se *providers.StatusError, secret string) error {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(se.Body, &e) != nil || e.Error == "" {
		return providers.Errorf(se.Kind(), "%s: HTTP %d", what, se.Status)
	}
	kind := providers.ErrUpstream
	switch e.Error {
	case "invalid_client", "unauthorized_client", "invalid_grant", "access_denied":
		kind = providers.ErrDenied
	case "invalid_scope", "invalid_resource":
		kind = providers.ErrInvalidRef
	case "invalid_request":
		// Among others: an unknown tenant (AADSTS90002) or a malformed scope.
		kind = providers.ErrInvalidRef
	}
	return providers.Errorf(kind, "%s: HTTP %d %s: %s", what, se.Status, e.Error, providers.Snippet([]byte(providers.Redact(e.Description, secret))))
}
