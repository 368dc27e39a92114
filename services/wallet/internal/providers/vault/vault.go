// Package vault reads HashiCorp Vault KV version 2 secrets (provider `vault`) through
// Vault's own client library: GET <addr>/v1/<mount>/data/<path> with X-Vault-Token (and
// X-Vault-Namespace on Vault Enterprise).
//
// Reference form: [<mount>/]<path>[#<key>]. When the reference holds a slash its first
// segment is the mount, else the mount is NOETL_VAULT_KV_MOUNT. Without #<key> the secret
// must hold exactly one key. The token is VAULT_TOKEN, else the file NOETL_VAULT_TOKEN_FILE,
// read again on every fetch so that a rotated token is picked up, else, with
// NOETL_VAULT_K8S_ROLE, one Vault's Kubernetes auth method issues for the pod's service
// account token (POST <addr>/v1/auth/<mount>/login {role, jwt}), kept until shortly
// before its lease ends and then issued again.
package vault

import "context"
import "errors"
import "fmt"
import "net/http"
import "sort"
import "strings"
import "sync"
import "time"

import vaultapi "github.com/hashicorp/vault/api"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/jsonx"

// Config is the Vault variables.
type Config struct {
	Addr      string        // VAULT_ADDR; may hold {region}
	Token     config.Secret // VAULT_TOKEN
	TokenFile string        // NOETL_VAULT_TOKEN_FILE
	Namespace string        // VAULT_NAMESPACE
	KVMount   string        // NOETL_VAULT_KV_MOUNT
	CAFile    string        // NOETL_VAULT_CA_FILE
	// Kubernetes auth, used when neither VAULT_TOKEN nor NOETL_VAULT_TOKEN_FILE is set.
	K8sRole      string // NOETL_VAULT_K8S_ROLE: the Vault role; empty: no Kubernetes auth
	K8sMount     string // NOETL_VAULT_K8S_MOUNT: the auth method's mount
	K8sTokenFile string // NOETL_VAULT_K8S_TOKEN_FILE: the service account token (JWT)
}

// DefaultK8sTokenFile is where Kubernetes mounts a pod's service account token.
const DefaultK8sTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Provider is one Vault cluster.
type Provider struct {
	client    *vaultapi.Client
	token     config.Secret
	tokenFile string
	namespace string
	mount     string
	now       func() time.Time

	k8sRole, k8sMount, k8sJWTFile string

	mu       sync.Mutex // guards the login token; held over a login
	login    string     // the token Kubernetes auth issued, "" before or after it is dropped
	loginEnd time.Time  // when it is issued again
}

// New builds the client for the cluster of region.
func New(cfg Config, region string) (*Provider, error) {
	addr, err := providers.ExpandRegion("VAULT_ADDR", providers.Setting(cfg.Addr, "http://127.0.0.1:8200"), region)
	if err != nil {
		return nil, err
	}
	hc, err := providers.Client("NOETL_VAULT_CA_FILE", strings.TrimSpace(cfg.CAFile), true)
	if err != nil {
		return nil, err
	}
	// The library reads VAULT_* variables of its own; everything it uses is set here
	// explicitly. No retries: a failed read fails the worker's fetch at once, and the
	// step's own retry policy decides what happens next.
	c, err := vaultapi.NewClient(&vaultapi.Config{Address: addr, HttpClient: hc, MaxRetries: 0, Timeout: providers.Timeout})
	if err != nil {
		return nil, providers.Errorf(providers.ErrConfig, "vault: VAULT_ADDR: %v", err)
	}
	c.ClearToken()
	c.ClearNamespace()
	mount := strings.Trim(strings.TrimSpace(cfg.KVMount), "/")
	if mount == "" {
		mount = "secret"
	}
	return &Provider{client: c, token: cfg.Token, tokenFile: strings.TrimSpace(cfg.TokenFile),
		namespace: strings.TrimSpace(cfg.Namespace), mount: mount, now: time.Now,
		k8sRole:    strings.TrimSpace(cfg.K8sRole),
		k8sMount:   strings.Trim(providers.Setting(cfg.K8sMount, "kubernetes"), "/"),
		k8sJWTFile: providers.Setting(cfg.K8sTokenFile, DefaultK8sTokenFile)}, nil
}

// String never shows the token.
func (p *Provider) String() string { return "vault.Provider{addr:" + p.client.Address() + "}" }

// Ref is a parsed reference.
type Ref struct{ Mount, Path, Key string }

// ParseRef reads [<mount>/]<path>[#<key>]; defaultMount applies without a slash.
func ParseRef(ref, defaultMount string) (Ref, error) {
	ref = strings.TrimSpace(ref)
	var r Ref
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref, r.Key = ref[:i], ref[i+1:]
		if r.Key == "" {
			return Ref{}, invalid(ref + "#")
		}
	}
	if mount, path, ok := strings.Cut(ref, "/"); ok {
		if mount == "" || path == "" {
			return Ref{}, invalid(ref)
		}
		r.Mount, r.Path = mount, path
	} else {
		if ref == "" {
			return Ref{}, invalid(ref)
		}
		r.Mount, r.Path = defaultMount, ref
	}
	for _, seg := range strings.Split(r.Mount+"/"+r.Path, "/") {
		if !pathSegment(seg) {
			return Ref{}, invalid(ref)
		}
	}
	return r, nil
}

// pathSegment reports whether one segment of a mount or secret path may go into the
// request URL. Vault's client cleans the path it is given, so "." and ".." segments (and
// empty ones) would move the read, with the wallet's token, out of the KV v2 mount to any
// other Vault API; a backslash is a separator to some proxies, a control character to
// no one a name.
func pathSegment(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		if c == '\\' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func invalid(ref string) error {
	return providers.Errorf(providers.ErrInvalidRef, "vault: invalid reference '%s' (expected '[<mount>/]<path>#<key>')", ref)
}

// currentToken is the token to read with, and whether Kubernetes auth issued it (then a
// refusal may mean it was revoked, and a new login may help).
func (p *Provider) currentToken(ctx context.Context) (string, bool, error) {
	if p.token.IsSet() {
		return strings.TrimSpace(p.token.Reveal()), false, nil
	}
	if p.tokenFile != "" {
		tok, err := providers.ReadToken("NOETL_VAULT_TOKEN_FILE", p.tokenFile)
		return tok, false, err
	}
	if p.k8sRole != "" {
		tok, err := p.loginToken(ctx)
		return tok, true, err
	}
	return "", false, providers.Errorf(providers.ErrConfig, "vault: no token configured (set VAULT_TOKEN, NOETL_VAULT_TOKEN_FILE or NOETL_VAULT_K8S_ROLE)")
}

// loginToken is the Kubernetes auth token, logging in when there is none or its lease is
// about to end. The service account token file is read at each login: Kubernetes rotates
// a projected token.
func (p *Provider) loginToken(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.login != "" && p.now().Before(p.loginEnd) {
		return p.login, nil
	}
	jwt, err := providers.ReadToken("NOETL_VAULT_K8S_TOKEN_FILE", p.k8sJWTFile)
	if err != nil {
		return "", err
	}
	c, err := p.client.Clone()
	if err != nil {
		return "", providers.Errorf(providers.ErrConfig, "vault: %v", err)
	}
	if p.namespace != "" {
		c.SetNamespace(p.namespace)
	}
	what := fmt.Sprintf("vault: kubernetes login at 'auth/%s' as role '%s'", p.k8sMount, p.k8sRole)
	start := p.now()
	s, err := c.Logical().WriteWithContext(ctx, "auth/"+p.k8sMount+"/login", map[string]any{"role": p.k8sRole, "jwt": jwt})
	if err != nil {
		// A role or mount that does not exist is Vault's 400 or 404 here, and a refused
		// JWT its 403: each is the login's denial, not a reference the worker got wrong.
		var re *vaultapi.ResponseError
		if errors.As(err, &re) && re.StatusCode < 500 {
			return "", providers.Errorf(providers.ErrDenied, "%s: HTTP %d: %s", what, re.StatusCode, providers.Snippet([]byte(strings.Join(re.Errors, "; "))))
		}
		return "", classify(what, err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return "", providers.Errorf(providers.ErrUpstream, "%s: the answer has no auth.client_token", what)
	}
	p.login = s.Auth.ClientToken
	// Logged in again once nine tenths of the lease have passed, so a read never carries a
	// token about to expire; a token without a lease (a period of 0) is kept until refused.
	p.loginEnd = start.Add(100 * 365 * 24 * time.Hour)
	if ttl := time.Duration(s.Auth.LeaseDuration) * time.Second; ttl > 0 {
		p.loginEnd = start.Add(ttl * 9 / 10)
	}
	return p.login, nil
}

// dropLogin forgets a login token Vault refused, unless another fetch already replaced it.
func (p *Provider) dropLogin(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.login == tok {
		p.login = ""
	}
}

// Fetch reads the secret and picks the key.
func (p *Provider) Fetch(ctx context.Context, ref string) (providers.Secret, error) {
	r, err := ParseRef(ref, p.mount)
	if err != nil {
		return providers.Secret{}, err
	}
	what := fmt.Sprintf("vault: read '%s/data/%s'", r.Mount, r.Path)
	var s *vaultapi.KVSecret
	for attempt := 0; ; attempt++ {
		tok, login, err := p.currentToken(ctx)
		if err != nil {
			return providers.Secret{}, err
		}
		s, err = p.read(ctx, r, tok)
		if err == nil {
			break
		}
		err = classify(what, err)
		// A login token refused may have been revoked before its lease ended: log in
		// again and read once more. A fresh login refused is the answer.
		if login && attempt == 0 && errors.Is(err, providers.ErrDenied) {
			p.dropLogin(tok)
			continue
		}
		return providers.Secret{}, err
	}
	if s == nil || s.Data == nil {
		return providers.Secret{}, providers.Errorf(providers.ErrNotFound, "%s: the secret has no data (deleted or destroyed)", what)
	}
	value, err := pick(s.Data, r.Key, what)
	if err != nil {
		return providers.Secret{}, err
	}
	out := providers.Secret{Value: value}
	if s.VersionMetadata != nil {
		out.Version = fmt.Sprint(s.VersionMetadata.Version)
	}
	if s.Raw != nil && s.Raw.LeaseDuration > 0 {
		exp := p.now().Add(time.Duration(s.Raw.LeaseDuration) * time.Second)
		out.ExpiresAt = &exp
	}
	return out, nil
}

// read is one KV v2 read with tok.
func (p *Provider) read(ctx context.Context, r Ref, tok string) (*vaultapi.KVSecret, error) {
	c, err := p.client.Clone()
	if err != nil {
		return nil, providers.Errorf(providers.ErrConfig, "vault: %v", err)
	}
	c.SetToken(tok)
	if p.namespace != "" {
		c.SetNamespace(p.namespace)
	}
	return c.KVv2(r.Mount).Get(ctx, r.Path)
}

// classify maps the library's errors to the kinds; the library's own message holds the
// URL and Vault's error list over several lines, so the message is rebuilt.
func classify(what string, err error) error {
	var classified *providers.Error
	if errors.As(err, &classified) {
		return err
	}
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		return providers.Errorf(providers.ErrNotFound, "%s: not found", what)
	}
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		kind := providers.ErrUpstream
		switch re.StatusCode {
		case http.StatusNotFound:
			kind = providers.ErrNotFound
		case http.StatusUnauthorized, http.StatusForbidden:
			kind = providers.ErrDenied
		case http.StatusBadRequest:
			kind = providers.ErrInvalidRef
		}
		return providers.Errorf(kind, "%s: HTTP %d: %s", what, re.StatusCode, providers.Snippet([]byte(strings.Join(re.Errors, "; "))))
	}
	return providers.Errorf(providers.ErrUpstream, "%s: %v", what, err)
}

// pick returns the value of key, which must be a string; without a key the secret must
// hold exactly one.
func pick(data map[string]any, key, what string) (string, error) {
	if key == "" {
		if len(data) != 1 {
			keys := make([]string, 0, len(data))
			for k := range data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return "", providers.Errorf(providers.ErrInvalidRef, "%s: the secret has %d keys (%s); reference one as '<path>#<key>'", what, len(data), strings.Join(keys, ", "))
		}
		for k := range data {
			key = k
		}
	}
	v, ok := data[key]
	if !ok {
		return "", providers.Errorf(providers.ErrNotFound, "%s: the secret has no key '%s'", what, key)
	}
	s, ok := v.(string)
	if !ok {
		return "", providers.Errorf(providers.ErrInvalidRef, "%s: key '%s' is not a string (got %s)", what, key, jsonKinds.Of(v))
	}
	return s, nil
}

// jsonKinds names the kind of a secret's field in the error of a key that is not a
// string. The Vault client decodes numbers as json.Number, which Other names.
var jsonKinds = jsonx.KindNames{Null: "null", Bool: "bool", Integer: "number", Float: "number", String: "string", Array: "array", Object: "object", Other: "number"}
