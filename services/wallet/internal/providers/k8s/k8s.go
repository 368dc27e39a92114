// Package k8s reads Kubernetes Secrets (provider `k8s`, alias `kubernetes`) from the API
// server with the pod's ServiceAccount token, trusting the cluster CA:
// GET <api>/api/v1/namespaces/<ns>/secrets/<name>.
//
// Reference form: [<namespace>/]<secret>/<key>, or a bare <secret> holding exactly one
// key. The token file is read again on every fetch (projected tokens rotate). The wallet's
// ServiceAccount needs get on secrets in each namespace it reads; the chart binds a Role.
package k8s

import "context"
import "encoding/base64"
import "encoding/json"
import "net"
import "net/http"
import "os"
import "path/filepath"
import "sort"
import "strings"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/shared/config"

// Config is the Kubernetes variables.
type Config struct {
	APIURL      string        // NOETL_K8S_API_URL; may hold {region}
	ServiceHost string        // KUBERNETES_SERVICE_HOST
	ServicePort string        // KUBERNETES_SERVICE_PORT
	Namespace   string        // NOETL_K8S_NAMESPACE
	CAFile      string        // NOETL_K8S_CA_FILE
	TokenFile   string        // NOETL_K8S_TOKEN_FILE
	Token       config.Secret // NOETL_K8S_TOKEN
}

// Provider is one cluster's API server.
type Provider struct {
	api       string
	namespace string
	token     config.Secret
	tokenFile string
	client    *http.Client
}

// New builds the provider for region.
func New(cfg Config, region string) (*Provider, error) {
	api := strings.TrimSpace(cfg.APIURL)
	switch host := strings.TrimSpace(cfg.ServiceHost); {
	case api != "":
	case host != "":
		port := providers.Setting(cfg.ServicePort, "443")
		api = "https://" + net.JoinHostPort(host, port)
	default:
		api = "https://kubernetes.default.svc"
	}
	api, err := providers.ExpandRegion("NOETL_K8S_API_URL", api, region)
	if err != nil {
		return nil, err
	}
	client, err := providers.Client("NOETL_K8S_CA_FILE", strings.TrimSpace(cfg.CAFile), false)
	if err != nil {
		return nil, err
	}
	tokenFile := strings.TrimSpace(cfg.TokenFile)
	ns := strings.TrimSpace(cfg.Namespace)
	if ns == "" && tokenFile != "" {
		// The projected ServiceAccount volume holds the pod's namespace beside the token.
		if b, err := os.ReadFile(filepath.Join(filepath.Dir(tokenFile), "namespace")); err == nil {
			ns = strings.TrimSpace(string(b))
		}
	}
	if ns == "" {
		ns = "default"
	}
	return &Provider{api: strings.TrimRight(api, "/"), namespace: ns, token: cfg.Token, tokenFile: tokenFile, client: client}, nil
}

// Ref is a parsed reference; Key is "" for a bare secret.
type Ref struct{ Namespace, Secret, Key string }

// ParseRef reads [<namespace>/]<secret>/<key> or <secret>.
func ParseRef(ref, defaultNamespace string) (Ref, error) {
	ref = strings.TrimSpace(ref)
	parts := strings.Split(ref, "/")
	for i, s := range parts {
		if ok := i == len(parts)-1 && len(parts) > 1 && dataKey.Match(s) || objectName.Match(s); !ok {
			return Ref{}, invalid(ref)
		}
	}
	switch len(parts) {
	case 1:
		return Ref{Namespace: defaultNamespace, Secret: parts[0]}, nil
	case 2:
		return Ref{Namespace: defaultNamespace, Secret: parts[0], Key: parts[1]}, nil
	case 3:
		return Ref{Namespace: parts[0], Secret: parts[1], Key: parts[2]}, nil
	default:
		return Ref{}, invalid(ref)
	}
}

func invalid(ref string) error {
	return providers.Errorf(providers.ErrInvalidRef, "kubernetes secrets: invalid reference '%s' (expected '[<namespace>/]<secret>/<key>' or '<secret>')", ref)
}

var (
	// objectName is a DNS-1123 subdomain (secret and namespace names).
	objectName = providers.NameRule{MinLen: 1, MaxLen: 253, LowerOnly: true, Extra: "-.", NoDotNames: true}
	// dataKey is the rule of a Secret's data keys.
	dataKey = providers.NameRule{MinLen: 1, MaxLen: 253, Extra: "-._"}
)

func (p *Provider) currentToken() (string, error) {
	if p.token.IsSet() {
		return strings.TrimSpace(p.token.Reveal()), nil
	}
	return providers.ReadToken("NOETL_K8S_TOKEN_FILE", p.tokenFile)
}

// Fetch reads the Secret and decodes the key.
func (p *Provider) Fetch(ctx context.Context, ref string) (providers.Secret, error) {
	r, err := ParseRef(ref, p.namespace)
	if err != nil {
		return providers.Secret{}, err
	}
	tok, err := p.currentToken()
	if err != nil {
		return providers.Secret{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.api+"/api/v1/namespaces/"+r.Namespace+"/secrets/"+r.Secret, nil)
	if err != nil {
		return providers.Secret{}, providers.Errorf(providers.ErrConfig, "kubernetes secrets: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	what := "kubernetes secrets: get '" + r.Namespace + "/" + r.Secret + "'"
	body, _, err := providers.Do(p.client, req, what)
	if err != nil {
		return providers.Secret{}, err
	}
	defer clear(body)
	var out struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: the answer is not a Secret", what)
	}
	key := r.Key
	if key == "" {
		switch len(out.Data) {
		case 0:
			return providers.Secret{}, providers.Errorf(providers.ErrNotFound, "%s: the Secret has no data", what)
		case 1:
			for k := range out.Data {
				key = k
			}
		default:
			keys := make([]string, 0, len(out.Data))
			for k := range out.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return providers.Secret{}, providers.Errorf(providers.ErrInvalidRef, "%s: the Secret has %d keys (%s); reference one as '%s/<key>'", what, len(keys), strings.Join(keys, ", "), r.Secret)
		}
	}
	b64, ok := out.Data[key]
	if !ok {
		return providers.Secret{}, providers.Errorf(providers.ErrNotFound, "%s: the Secret has no key '%s'", what, key)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: key '%s' is not base64", what, key)
	}
	defer clear(raw)
	return providers.Secret{Value: string(raw), Version: out.Metadata.ResourceVersion}, nil
}
