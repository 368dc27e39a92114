// Package gcpiam mints OAuth access tokens of a GCP service account (provider `gcp_iam`,
// alias `gcp_iamcredentials`): IAM Credentials generateAccessToken, authorised by the
// workload's own Workload-Identity token from the metadata server, which needs
// roles/iam.serviceAccountTokenCreator on the target account.
//
// Reference form: <service-account-email>[#<scope>[,<scope>...]]. An empty account uses
// NOETL_GCP_IMPERSONATE_SA; the scope defaults to cloud-platform. The value is the access
// token, its expiry the answer's expireTime.
package gcpiam

import "bytes"
import "context"
import "encoding/json"
import "net/http"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/shared/cloudtoken"

const (
	// DefaultEndpoint is the IAM Credentials API.
	DefaultEndpoint = "https://iamcredentials.googleapis.com/v1"
	// DefaultScope is the scope of a reference without #<scope>.
	DefaultScope = "https://www.googleapis.com/auth/cloud-platform"
	// DefaultLifetime is the token lifetime when NOETL_GCP_IAM_LIFETIME_SECS is 0.
	DefaultLifetime = 3600
)

// Config is the IAM Credentials variables.
type Config struct {
	ServiceAccount   string // NOETL_GCP_IMPERSONATE_SA
	Endpoint         string // NOETL_GCP_IAM_CREDENTIALS_ENDPOINT
	MetadataTokenURL string // NOETL_GCP_METADATA_TOKEN_URL
	LifetimeSecs     int    // NOETL_GCP_IAM_LIFETIME_SECS
}

// Provider is IAM Credentials. The API is global: the region plays no part.
type Provider struct {
	defaults Ref // the account and scopes of a reference that names none
	endpoint string
	lifetime int
	client   *http.Client
	tokens   *cloudtoken.Source
}

// New builds the provider.
func New(cfg Config, _ string) (*Provider, error) {
	// generateAccessToken accepts 1 s to 1 h (12 h with an org-policy exception).
	lifetime, err := providers.Bounded("gcp iam", "NOETL_GCP_IAM_LIFETIME_SECS", cfg.LifetimeSecs, DefaultLifetime, 1, 43200)
	if err != nil {
		return nil, err
	}
	account := strings.TrimSpace(cfg.ServiceAccount)
	if account != "" && !accountName.Match(account) {
		return nil, providers.Errorf(providers.ErrConfig, "gcp iam: NOETL_GCP_IMPERSONATE_SA %q is not a service account email", account)
	}
	endpoint := strings.TrimRight(strings.TrimSpace(cfg.Endpoint), "/")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	tokenURL := providers.Setting(cfg.MetadataTokenURL, cloudtoken.GCPMetadataTokenURL)
	client, err := providers.Client("NOETL_GCP_IAM_CREDENTIALS_ENDPOINT", "", false)
	if err != nil {
		return nil, err
	}
	return &Provider{defaults: Ref{Account: account, Scopes: []string{DefaultScope}}, endpoint: endpoint, lifetime: lifetime, client: client,
		tokens: cloudtoken.GCPMetadata("gcp iam token", tokenURL, client)}, nil
}

// Ref is a parsed reference.
type Ref struct {
	Account string
	Scopes  []string
}

// accountName is a service account's email (or unique id): it goes into the request path,
// so the rule also keeps a reference from steering the token to another path.
var accountName = providers.NameRule{MinLen: 1, MaxLen: 254, Extra: "-_.@", NoDotNames: true}

// ParseRef reads <service-account-email>[#<scope>[,<scope>...]]; a part the reference
// leaves out is that of defaults (the provider's settings), and an account named by
// neither fails.
func ParseRef(ref string, defaults Ref) (Ref, error) {
	ref = strings.TrimSpace(ref)
	var r Ref
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		var scopes string
		ref, scopes = ref[:i], ref[i+1:]
		for s := range strings.SplitSeq(scopes, ",") {
			if s = strings.TrimSpace(s); s == "" || strings.ContainsAny(s, " \t\"\\") {
				return Ref{}, invalid(ref + "#...")
			}
			r.Scopes = append(r.Scopes, s)
		}
	}
	if ref != "" && (!accountName.Match(ref) || !strings.Contains(ref, "@") && !isDigits(ref)) {
		return Ref{}, invalid(ref)
	}
	account, err := providers.RefOrSetting("gcp iam", "service account", ref, defaults.Account, "NOETL_GCP_IMPERSONATE_SA")
	if err != nil {
		return Ref{}, err
	}
	if len(r.Scopes) == 0 {
		r.Scopes = defaults.Scopes
	}
	r.Account = account
	return r, nil
}

// isDigits: a service account's unique id (21 digits, beyond uint64).
func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func invalid(ref string) error {
	return providers.Errorf(providers.ErrInvalidRef, "gcp iam: invalid reference '%s' (expected '<service-account-email>[#<scope>,...]', or an empty account for NOETL_GCP_IMPERSONATE_SA)", ref)
}

// Fetch generates an access token for the account.
func (p *Provider) Fetch(ctx context.Context, ref string) (providers.Secret, error) {
	r, err := ParseRef(ref, p.defaults)
	if err != nil {
		return providers.Secret{}, err
	}
	body, _ := json.Marshal(struct {
		Lifetime string   `json:"lifetime"`
		Scope    []string `json:"scope"`
	}{strconv.Itoa(p.lifetime) + "s", r.Scopes})
	u := p.endpoint + "/projects/-/serviceAccounts/" + r.Account + ":generateAccessToken"
	what := "gcp iam: generateAccessToken for '" + r.Account + "'"
	answer, status, err := providers.WithToken(ctx, p.tokens, func(tok string) ([]byte, *providers.StatusError, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, nil, providers.Errorf(providers.ErrConfig, "gcp iam: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		return providers.Do(p.client, req, what)
	})
	if status != nil && status.Status == http.StatusBadRequest {
		// INVALID_ARGUMENT: a scope or lifetime the API refuses.
		return providers.Secret{}, providers.Errorf(providers.ErrInvalidRef, "%s: HTTP 400 %s", what, providers.Snippet(status.Body))
	}
	if err != nil {
		return providers.Secret{}, err
	}
	defer clear(answer)
	var out struct {
		AccessToken string `json:"accessToken"`
		ExpireTime  string `json:"expireTime"`
	}
	if err := json.Unmarshal(answer, &out); err != nil || out.AccessToken == "" {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: the answer is not a GenerateAccessTokenResponse", what)
	}
	exp, err := time.Parse(time.RFC3339Nano, out.ExpireTime)
	if err != nil {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: expireTime %q is not an RFC 3339 timestamp", what, out.ExpireTime)
	}
	exp = exp.UTC()
	return providers.Secret{Value: out.AccessToken, ExpiresAt: &exp}, nil
}
