// Package azure reads Azure Key Vault secrets (provider `azure`, alias `azure_kv`): GET
// https://<vault>.<suffix>/secrets/<name>[/<version>]?api-version=<v> with a Managed
// Identity token from the Instance Metadata Service (or AZURE_KEYVAULT_TOKEN).
//
// Reference form: [<vault>/]<secret-name>[#<version>]. Without a vault the reference uses
// AZURE_KEYVAULT_VAULT, which may hold {region} (one vault per region, prod-{region}) or
// be a whole base URL (tests, private endpoints). The secret's exp attribute is the
// issuer expiry the keychain cache honours.
package azure

import "context"
import "encoding/json"
import "net/http"
import "net/url"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/shared/cloudtoken"
import "github.com/noetl/controlplane/shared/config"

// Config is the Azure variables.
type Config struct {
	Vault        string        // AZURE_KEYVAULT_VAULT; may hold {region} or be a URL
	Token        config.Secret // AZURE_KEYVAULT_TOKEN
	DNSSuffix    string        // NOETL_AZURE_KEYVAULT_DNS_SUFFIX
	APIVersion   string        // NOETL_AZURE_KEYVAULT_API_VERSION
	IMDSTokenURL string        // NOETL_AZURE_IMDS_TOKEN_URL
}

// Provider is Key Vault for one region.
type Provider struct {
	vault      string // default vault: a short name or a base URL; may be ""
	suffix     string
	apiVersion string
	static     config.Secret
	tokens     *cloudtoken.Source
	client     *http.Client
}

// New builds the provider for region.
func New(cfg Config, region string) (*Provider, error) {
	vault, err := providers.ExpandRegion("AZURE_KEYVAULT_VAULT", strings.TrimSpace(cfg.Vault), region)
	if err != nil {
		return nil, err
	}
	suffix := strings.Trim(strings.TrimSpace(cfg.DNSSuffix), ".")
	if suffix == "" {
		suffix = "vault.azure.net"
	}
	apiVersion := providers.Setting(cfg.APIVersion, "7.4")
	imds := providers.Setting(cfg.IMDSTokenURL, "http://169.254.169.254/metadata/identity/oauth2/token")
	client, err := providers.Client("NOETL_AZURE_KEYVAULT_DNS_SUFFIX", "", false)
	if err != nil {
		return nil, err
	}
	if strings.Contains(vault, "://") {
		if u, err := url.Parse(vault); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, providers.Errorf(providers.ErrConfig, "azure key vault: AZURE_KEYVAULT_VAULT %q is neither a vault name nor an http(s) URL", vault)
		}
		vault = strings.TrimRight(vault, "/")
	} else if vault != "" && !vaultName.Match(vault) {
		return nil, providers.Errorf(providers.ErrConfig, "azure key vault: AZURE_KEYVAULT_VAULT %q is not a vault name", vault)
	}
	return &Provider{vault: vault, suffix: suffix, apiVersion: apiVersion, static: cfg.Token, client: client,
		tokens: cloudtoken.AzureIMDS("azure key vault token", imds, "https://"+suffix, client)}, nil
}

// Ref is a parsed reference.
type Ref struct{ Vault, Name, Version string }

// ParseRef reads [<vault>/]<secret-name>[#<version>].
func ParseRef(ref string) (Ref, error) {
	ref = strings.TrimSpace(ref)
	var r Ref
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref, r.Version = ref[:i], ref[i+1:]
		if !secretName.Match(r.Version) {
			return Ref{}, invalid(ref + "#" + r.Version)
		}
	}
	if v, n, ok := strings.Cut(ref, "/"); ok {
		if !vaultName.Match(v) {
			return Ref{}, invalid(ref)
		}
		r.Vault, ref = v, n
	}
	if !secretName.Match(ref) {
		return Ref{}, invalid(ref)
	}
	r.Name = ref
	return r, nil
}

func invalid(ref string) error {
	return providers.Errorf(providers.ErrInvalidRef, "azure key vault: invalid reference '%s' (expected '[<vault>/]<secret-name>[#<version>]')", ref)
}

var (
	// vaultName is Key Vault's naming rule (letters, digits, dashes), which also keeps a
	// reference from steering the token to another host.
	vaultName = providers.NameRule{MinLen: 3, MaxLen: 24, Extra: "-"}
	// secretName is the rule of secret names and versions (letters, digits, dashes).
	secretName = providers.NameRule{MinLen: 1, MaxLen: 127, Extra: "-"}
)

// URL is the request URL of a reference.
func (p *Provider) URL(r Ref) (string, error) {
	base := p.vault
	if r.Vault != "" {
		base = r.Vault
	}
	switch {
	case base == "":
		return "", providers.Errorf(providers.ErrConfig, "azure key vault: '%s' names no vault and AZURE_KEYVAULT_VAULT is not set", r.Name)
	case !strings.Contains(base, "://"):
		base = "https://" + base + "." + p.suffix
	}
	u := base + "/secrets/" + r.Name
	if r.Version != "" {
		u += "/" + r.Version
	}
	return u + "?api-version=" + url.QueryEscape(p.apiVersion), nil
}

// Fetch reads the secret.
func (p *Provider) Fetch(ctx context.Context, ref string) (providers.Secret, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return providers.Secret{}, err
	}
	u, err := p.URL(r)
	if err != nil {
		return providers.Secret{}, err
	}
	what := "azure key vault: get secret '" + r.Name + "'"
	get := func(tok string) ([]byte, *providers.StatusError, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, nil, providers.Errorf(providers.ErrConfig, "azure key vault: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		return providers.Do(p.client, req, what)
	}
	var body []byte
	var status *providers.StatusError
	if p.static.IsSet() {
		// A token the operator supplied: no other to try.
		body, status, err = get(strings.TrimSpace(p.static.Reveal()))
	} else {
		body, status, err = providers.WithToken(ctx, p.tokens, get)
	}
	if status != nil && status.Status == http.StatusForbidden && disabled(status.Body) {
		return providers.Secret{}, providers.Errorf(providers.ErrNotFound, "%s: the secret (or its version) is disabled: HTTP 403 %s", what, providers.Snippet(status.Body))
	}
	if err != nil {
		return providers.Secret{}, err
	}
	defer clear(body)
	var out struct {
		Value      *string `json:"value"`
		ID         string  `json:"id"`
		Attributes struct {
			Exp *int64 `json:"exp"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Value == nil {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: the answer is not a SecretBundle", what)
	}
	s := providers.Secret{Value: *out.Value, Version: out.ID[strings.LastIndexByte(out.ID, '/')+1:]}
	if out.Attributes.Exp != nil {
		exp := time.Unix(*out.Attributes.Exp, 0).UTC()
		s.ExpiresAt = &exp
	}
	return s, nil
}

// disabled reports whether a 403 answer is Key Vault's refusal to read a disabled secret
// (innererror SecretDisabled) rather than a missing permission: no grant of the wallet's
// identity would change it, so it is not a denial (502) but a secret that cannot be read
// (404), which a worker does not retry.
func disabled(body []byte) bool {
	var e struct {
		Error struct {
			InnerError struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	return json.Unmarshal(body, &e) == nil && e.Error.InnerError.Code == "SecretDisabled"
}
