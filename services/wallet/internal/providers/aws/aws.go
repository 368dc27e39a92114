// Package aws reads AWS Secrets Manager (provider `aws`, alias `aws_sm`): a JSON POST of
// secretsmanager.GetSecretValue to the regional endpoint, signed with Signature Version 4
// using the static credentials of the environment (AWS_ACCESS_KEY_ID, ...), or, without
// them, the temporary credentials of the web identity role (AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE, which is all EKS IRSA puts in a pod's environment).
//
// Reference form: [<region>:]<secret-id>[#<json-key>]. A bare id returns the whole
// SecretString; #<json-key> picks one field out of a JSON-object secret. The region is the
// reference's prefix, else the region the provider is built for (the keychain entry's,
// else the server's), else AWS_REGION, else AWS_DEFAULT_REGION.
package aws

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "net/http"
import "net/url"
import "strings"
import "sync"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/awssts"
import "github.com/noetl/controlplane/shared/config"

const (
	service = "secretsmanager"
	target  = "secretsmanager.GetSecretValue"
)

// Config is the AWS variables.
type Config struct {
	AccessKeyID     string        // AWS_ACCESS_KEY_ID
	SecretAccessKey config.Secret // AWS_SECRET_ACCESS_KEY
	SessionToken    config.Secret // AWS_SESSION_TOKEN
	Region          string        // AWS_REGION
	DefaultRegion   string        // AWS_DEFAULT_REGION
	// Endpoint (NOETL_AWS_SM_ENDPOINT) replaces https://secretsmanager.<region>.amazonaws.com;
	// it may hold {region}.
	Endpoint string
	// WebIdentity is the web identity role (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and
	// the STS settings), used when AWS_ACCESS_KEY_ID is not set.
	WebIdentity awssts.Config
}

// renewBefore is how long before their expiry the web identity role's credentials are
// minted again, so that no request is signed with credentials about to run out.
const renewBefore = 5 * time.Minute

// Provider is AWS Secrets Manager for one region.
type Provider struct {
	keyID, secret, session string
	region                 string // built-for region, else AWS_REGION/AWS_DEFAULT_REGION; may be ""
	endpoint               string
	client                 *http.Client
	now                    func() time.Time

	// sts mints the credentials when there are no static ones (nil otherwise); temp holds
	// the last minted ones until renewBefore their expiry. mu serialises minting, so that
	// concurrent fetches share one AssumeRoleWithWebIdentity.
	sts  providers.Provider
	mu   sync.Mutex
	temp *credentials
}

// credentials sign one request.
type credentials struct {
	keyID, secret, session string
	expires                time.Time
}

// New checks the credentials and builds the provider for region ("" for none).
func New(cfg Config, region string) (*Provider, error) {
	static := strings.TrimSpace(cfg.AccessKeyID) != "" || cfg.SecretAccessKey.IsSet()
	if static && (strings.TrimSpace(cfg.AccessKeyID) == "" || !cfg.SecretAccessKey.IsSet()) {
		return nil, providers.Errorf(providers.ErrConfig, "aws secret provider: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
	}
	if !static && strings.TrimSpace(cfg.WebIdentity.RoleARN) == "" {
		return nil, providers.Errorf(providers.ErrConfig, "aws secret provider: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE (EKS IRSA)")
	}
	if region == "" {
		region = strings.TrimSpace(cfg.Region)
	}
	if region == "" {
		region = strings.TrimSpace(cfg.DefaultRegion)
	}
	client, err := providers.Client("NOETL_AWS_SM_ENDPOINT", "", false)
	if err != nil {
		return nil, err
	}
	p := &Provider{region: region, endpoint: strings.TrimRight(strings.TrimSpace(cfg.Endpoint), "/"), client: client, now: time.Now}
	if static {
		p.keyID, p.secret, p.session = strings.TrimSpace(cfg.AccessKeyID), cfg.SecretAccessKey.Reveal(), strings.TrimSpace(cfg.SessionToken.Reveal())
		return p, nil
	}
	sts, err := awssts.New(cfg.WebIdentity, region)
	if err != nil {
		return nil, err
	}
	p.sts = sts
	return p, nil
}

// credentials are the static credentials, else the web identity role's, minted when
// there are none or they expire within renewBefore.
func (p *Provider) credentials(ctx context.Context) (credentials, error) {
	if p.sts == nil {
		return credentials{keyID: p.keyID, secret: p.secret, session: p.session}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.temp != nil && p.now().Add(renewBefore).Before(p.temp.expires) {
		return *p.temp, nil
	}
	s, err := p.sts.Fetch(ctx, "")
	if err != nil {
		return credentials{}, err
	}
	var c struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
		SessionToken    string `json:"session_token"`
	}
	if err := json.Unmarshal([]byte(s.Value), &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return credentials{}, providers.Errorf(providers.ErrUpstream, "aws secret provider: the web identity role's credentials are incomplete")
	}
	creds := credentials{keyID: c.AccessKeyID, secret: c.SecretAccessKey, session: c.SessionToken}
	if s.ExpiresAt != nil {
		creds.expires = *s.ExpiresAt
	}
	p.temp = &creds
	return creds, nil
}

// forget drops minted credentials that AWS refused (revoked, or expired early), so that
// the next fetch mints new ones.
func (p *Provider) forget() {
	p.mu.Lock()
	p.temp = nil
	p.mu.Unlock()
}

// String never shows the keys.
func (p *Provider) String() string { return "aws.Provider{region:" + p.region + "}" }

// Ref is a parsed reference.
type Ref struct {
	Region, ID, Key string
}

// ParseRef reads [<region>:]<secret-id>[#<json-key>]. An id starting with arn: is whole
// (an ARN holds colons); otherwise a prefix of letters, digits and dashes before the first
// colon is a region.
func ParseRef(ref string) (Ref, error) {
	ref = strings.TrimSpace(ref)
	var r Ref
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref, r.Key = ref[:i], ref[i+1:]
		if r.Key == "" {
			return Ref{}, providers.Errorf(providers.ErrInvalidRef, "aws secret provider: reference '%s#' has an empty key", ref)
		}
	}
	if !strings.HasPrefix(ref, "arn:") {
		if pre, rest, ok := strings.Cut(ref, ":"); ok && pre != "" && rest != "" && regionName.Match(pre) {
			r.Region, ref = pre, rest
		}
	}
	if ref == "" {
		return Ref{}, providers.Errorf(providers.ErrInvalidRef, "aws secret provider: empty secret id (expected '[<region>:]<secret-id>[#<json-key>]')")
	}
	r.ID = ref
	return r, nil
}

// regionName is the shape of a region prefix: letters, digits and dashes.
var regionName = providers.NameRule{Extra: "-"}

type getSecretValueRequest struct {
	SecretID     string `json:"SecretId"`
	VersionStage string `json:"VersionStage"`
}

type getSecretValueResponse struct {
	SecretString *string `json:"SecretString"`
	VersionID    string  `json:"VersionId"`
}

// Fetch calls GetSecretValue for the reference.
func (p *Provider) Fetch(ctx context.Context, ref string) (providers.Secret, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return providers.Secret{}, err
	}
	region := r.Region
	if region == "" {
		region = p.region
	}
	if region == "" {
		return providers.Secret{}, providers.Errorf(providers.ErrConfig, "aws secret provider: no region for '%s' (give the keychain entry a region, or set NOETL_SERVER_REGION or AWS_REGION)", r.ID)
	}
	u, err := providers.AWSEndpoint("aws secret provider", "NOETL_AWS_SM_ENDPOINT", p.endpoint, service, region, "")
	if err != nil {
		return providers.Secret{}, err
	}
	body, _ := json.Marshal(getSecretValueRequest{SecretID: r.ID, VersionStage: "AWSCURRENT"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return providers.Secret{}, providers.Errorf(providers.ErrConfig, "aws secret provider: %v", err)
	}
	creds, err := p.credentials(ctx)
	if err != nil {
		return providers.Secret{}, err
	}
	p.sign(req, u, body, region, creds)

	what := "aws secret provider: GetSecretValue '" + r.ID + "'"
	answer, status, err := providers.Do(p.client, req, what)
	if status != nil {
		err := classify(what, status)
		if p.sts != nil && errors.Is(err, providers.ErrDenied) {
			p.forget()
		}
		return providers.Secret{}, err
	}
	if err != nil {
		return providers.Secret{}, err
	}
	defer clear(answer)
	var out getSecretValueResponse
	if err := json.Unmarshal(answer, &out); err != nil {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: the answer is not GetSecretValue JSON", what)
	}
	if out.SecretString == nil {
		return providers.Secret{}, providers.Errorf(providers.ErrInvalidRef, "%s: binary secrets are not supported (no SecretString)", what)
	}
	value := *out.SecretString
	if r.Key != "" {
		if value, err = pickKey(value, r.Key, what); err != nil {
			return providers.Secret{}, err
		}
	}
	return providers.Secret{Value: value, Version: out.VersionID}, nil
}

// sign adds the headers GetSecretValue needs and the SigV4 Authorization over them.
func (p *Provider) sign(req *http.Request, u *url.URL, body []byte, region string, creds credentials) {
	now := p.now()
	h := map[string]string{
		"content-type":         "application/x-amz-json-1.1",
		"host":                 u.Host,
		"x-amz-content-sha256": sha256Hex(body),
		"x-amz-date":           amzDate(now),
		"x-amz-target":         target,
	}
	if creds.session != "" {
		h["x-amz-security-token"] = creds.session
	}
	for k, v := range h {
		if k != "host" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Authorization", authorization(signingInput{
		Method: http.MethodPost, Path: u.EscapedPath(), Headers: h, Body: body,
		Time: now, Region: region, Service: service,
	}, creds.keyID, creds.secret))
}

// classify reads AWS's JSON error ({"__type": "...#ResourceNotFoundException"}): AWS
// answers 400 for most failures, so the status alone says little.
func classify(what string, se *providers.StatusError) error {
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}
	_ = json.Unmarshal(se.Body, &e)
	typ := e.Type[strings.LastIndexByte(e.Type, '#')+1:]
	kind := providers.ErrUpstream
	switch typ {
	case "ResourceNotFoundException":
		kind = providers.ErrNotFound
	case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
		"ExpiredTokenException", "IncompleteSignature", "MissingAuthenticationToken", "DecryptionFailure":
		kind = providers.ErrDenied
	case "InvalidParameterException", "InvalidRequestException", "ValidationException":
		kind = providers.ErrInvalidRef
	default:
		kind = se.Kind()
	}
	return providers.Errorf(kind, "%s returned %d: %s", what, se.Status, providers.Snippet(se.Body))
}

// pickKey returns one field of a JSON-object secret as text: strings as they are,
// numbers and booleans as their JSON text, null as "".
func pickKey(secret, key, what string) (string, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(secret))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return "", providers.Errorf(providers.ErrInvalidRef, "%s: #%s needs a JSON-object secret", what, key)
	}
	raw, ok := obj[key]
	if !ok {
		return "", providers.Errorf(providers.ErrNotFound, "%s: the secret has no key '%s'", what, key)
	}
	return fieldText(raw, what, key)
}

// fieldText renders one JSON field the way a secret field is handed out.
func fieldText(raw json.RawMessage, what, key string) (string, error) {
	switch t := bytes.TrimSpace(raw); {
	case len(t) == 0 || string(t) == "null":
		return "", nil
	case t[0] == '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", providers.Errorf(providers.ErrUpstream, "%s: key '%s' is not valid JSON", what, key)
		}
		return s, nil
	case t[0] == '{' || t[0] == '[':
		return "", providers.Errorf(providers.ErrInvalidRef, "%s: key '%s' holds an object or array, not a value", what, key)
	default:
		return string(t), nil
	}
}
