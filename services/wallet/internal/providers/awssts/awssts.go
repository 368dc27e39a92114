// Package awssts mints temporary AWS credentials (provider `aws_sts`, alias `aws_iam`):
// STS AssumeRoleWithWebIdentity with the workload's projected web identity token (EKS
// IRSA). The call is anonymous: the token is the proof, so nothing is signed.
//
// Reference form: [<region>:]<role-arn>[#<session-name>]. The region prefix counts only
// when an ARN follows it. An empty role uses AWS_ROLE_ARN; the session name defaults to
// noetl-server. The value is the JSON text {"access_key_id","secret_access_key",
// "session_token"}, its version the AssumedRoleId, its expiry the credentials' Expiration.
package awssts

import "cmp"
import "context"
import "encoding/json"
import "encoding/xml"
import "errors"
import "math"
import "net/http"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"

const (
	// DefaultTokenFile is where EKS projects the ServiceAccount's web identity token.
	DefaultTokenFile = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
	// DefaultSession is the RoleSessionName of a reference without #<session-name>.
	DefaultSession = "noetl-server"
	// DefaultDuration is the credentials' lifetime when NOETL_AWS_STS_DURATION_SECS is 0.
	DefaultDuration = 3600
	// defaultRegion is STS's region when nothing names one (upstream's default).
	defaultRegion = "us-east-1"
)

// Config is the STS variables.
type Config struct {
	RoleARN       string // AWS_ROLE_ARN
	TokenFile     string // AWS_WEB_IDENTITY_TOKEN_FILE
	Region        string // AWS_REGION
	DefaultRegion string // AWS_DEFAULT_REGION
	DurationSecs  int    // NOETL_AWS_STS_DURATION_SECS
	// Endpoint (NOETL_AWS_STS_ENDPOINT_OVERRIDE) replaces https://sts.<region>.amazonaws.com;
	// it may hold {region}.
	Endpoint string
}

// Provider is STS for one region.
type Provider struct {
	defaults  Ref // the role, region and session name of a reference that names none
	tokenFile string
	duration  int
	endpoint  string
	client    *http.Client
}

// New builds the provider for region ("" for none).
func New(cfg Config, region string) (*Provider, error) {
	for _, r := range []string{region, cfg.Region, cfg.DefaultRegion, defaultRegion} {
		if region = strings.TrimSpace(r); region != "" {
			break
		}
	}
	// STS's own bounds; a value outside them fails every call with a ValidationError.
	duration, err := providers.Bounded("aws sts", "NOETL_AWS_STS_DURATION_SECS", cfg.DurationSecs, DefaultDuration, 900, 43200)
	if err != nil {
		return nil, err
	}
	tokenFile := providers.Setting(cfg.TokenFile, DefaultTokenFile)
	role := strings.TrimSpace(cfg.RoleARN)
	if role != "" && !isARN(role) {
		return nil, providers.Errorf(providers.ErrConfig, "aws sts: AWS_ROLE_ARN %q is not a role ARN", role)
	}
	client, err := providers.Client("NOETL_AWS_STS_ENDPOINT_OVERRIDE", "", false)
	if err != nil {
		return nil, err
	}
	return &Provider{defaults: Ref{Region: region, RoleARN: role, Session: DefaultSession}, tokenFile: tokenFile,
		duration: duration, endpoint: strings.TrimRight(strings.TrimSpace(cfg.Endpoint), "/"), client: client}, nil
}

// Ref is a parsed reference.
type Ref struct{ Region, RoleARN, Session string }

// ParseRef reads [<region>:]<role-arn>[#<session-name>]; a part the reference leaves out
// is that of defaults (the provider's settings), and a role named by neither fails.
func ParseRef(ref string, defaults Ref) (Ref, error) {
	ref, sess, named := strings.Cut(strings.TrimSpace(ref), "#")
	if named && !session.Match(sess) {
		return Ref{}, providers.Errorf(providers.ErrInvalidRef, "aws sts: session name '%s' must be 2-64 characters of letters, digits and =,.@-_", sess)
	}
	region := ""
	if pre, rest, ok := strings.Cut(ref, ":"); ok && pre != "" && strings.HasPrefix(rest, "arn:") && regionName.Match(pre) {
		region, ref = pre, rest
	}
	if ref != "" && !isARN(ref) {
		return Ref{}, providers.Errorf(providers.ErrInvalidRef, "aws sts: '%s' is not a role ARN (expected '[<region>:]arn:aws:iam::<account>:role/<name>[#<session>]', or an empty role for AWS_ROLE_ARN)", ref)
	}
	role, err := providers.RefOrSetting("aws sts", "role", ref, defaults.RoleARN, "AWS_ROLE_ARN")
	if err != nil {
		return Ref{}, err
	}
	return Ref{Region: cmp.Or(region, defaults.Region), RoleARN: role, Session: cmp.Or(sess, defaults.Session)}, nil
}

var (
	regionName = providers.NameRule{MinLen: 1, Extra: "-"}
	session    = providers.NameRule{MinLen: 2, MaxLen: 64, Extra: "=,.@-_"}
	arnChars   = providers.NameRule{MinLen: 1, MaxLen: 2048, Extra: ":/+=,.@-_"}
)

// isARN checks the shape arn:<partition>:iam::<account>:role/<path+name>. The ARN goes
// into a form body, not a URL, so the check is about a clear error, not steering.
func isARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return arnChars.Match(s) && len(parts) == 6 && parts[0] == "arn" && parts[1] != "" && parts[2] == "iam" &&
		parts[4] != "" && strings.HasPrefix(parts[5], "role/") && len(parts[5]) > len("role/")
}

// Credentials is the value handed out: temporary keys for SigV4.
type Credentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token"`
}

// Fetch assumes the role with the current web identity token.
func (p *Provider) Fetch(ctx context.Context, ref string) (providers.Secret, error) {
	r, err := ParseRef(ref, p.defaults)
	if err != nil {
		return providers.Secret{}, err
	}
	endpoint, err := providers.AWSEndpoint("aws sts", "NOETL_AWS_STS_ENDPOINT_OVERRIDE", p.endpoint, "sts", r.Region, "/")
	if err != nil {
		return providers.Secret{}, err
	}
	// Re-read on every call: the kubelet rotates the projected token.
	token, err := providers.ReadToken("AWS_WEB_IDENTITY_TOKEN_FILE", p.tokenFile)
	if err != nil {
		return providers.Secret{}, err
	}
	what := "aws sts: AssumeRoleWithWebIdentity '" + r.RoleARN + "'"
	answer, status, err := providers.PostForm(ctx, p.client, endpoint.String(), what,
		[2]string{"Action", "AssumeRoleWithWebIdentity"},
		[2]string{"Version", "2011-06-15"},
		[2]string{"RoleArn", r.RoleARN},
		[2]string{"RoleSessionName", r.Session},
		[2]string{"DurationSeconds", strconv.Itoa(p.duration)},
		[2]string{"WebIdentityToken", token},
	)
	if status != nil {
		return providers.Secret{}, classify(what, status, token)
	}
	if err != nil {
		return providers.Secret{}, err
	}
	defer clear(answer)
	res, err := parse(answer)
	if err != nil {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: %v", what, err)
	}
	value, _ := json.Marshal(res.Credentials)
	defer clear(value)
	return providers.Secret{Value: string(value), Version: res.AssumedRoleID, ExpiresAt: &res.Expiration}, nil
}

// result is what Fetch needs of an AssumeRoleWithWebIdentity answer.
type result struct {
	Credentials   Credentials
	AssumedRoleID string
	Expiration    time.Time
}

// The answer's shape, JSON (Accept: application/json) or XML (the API's native format,
// which STS-compatible endpoints answer regardless of Accept). The error messages never
// quote the answer: it holds the secret key.
type (
	jsonAnswer struct {
		Response struct {
			Result struct {
				AssumedRoleUser struct {
					AssumedRoleID string `json:"AssumedRoleId"`
				} `json:"AssumedRoleUser"`
				Credentials struct {
					AccessKeyID     string          `json:"AccessKeyId"`
					SecretAccessKey string          `json:"SecretAccessKey"`
					SessionToken    string          `json:"SessionToken"`
					Expiration      json.RawMessage `json:"Expiration"`
				} `json:"Credentials"`
			} `json:"AssumeRoleWithWebIdentityResult"`
		} `json:"AssumeRoleWithWebIdentityResponse"`
	}
	xmlAnswer struct {
		XMLName xml.Name `xml:"AssumeRoleWithWebIdentityResponse"`
		Result  struct {
			AssumedRoleID string `xml:"AssumedRoleUser>AssumedRoleId"`
			Credentials   struct {
				AccessKeyID     string `xml:"AccessKeyId"`
				SecretAccessKey string `xml:"SecretAccessKey"`
				SessionToken    string `xml:"SessionToken"`
				Expiration      string `xml:"Expiration"`
			} `xml:"Credentials"`
		} `xml:"AssumeRoleWithWebIdentityResult"`
	}
)

func parse(body []byte) (result, error) {
	var res result
	var exp string
	if t := strings.TrimSpace(string(body)); strings.HasPrefix(t, "<") {
		var a xmlAnswer
		if xml.Unmarshal(body, &a) != nil {
			return result{}, errShape
		}
		c := a.Result.Credentials
		res = result{Credentials: Credentials{c.AccessKeyID, c.SecretAccessKey, c.SessionToken}, AssumedRoleID: a.Result.AssumedRoleID}
		exp = strings.TrimSpace(c.Expiration)
	} else {
		var a jsonAnswer
		if json.Unmarshal(body, &a) != nil {
			return result{}, errShape
		}
		c := a.Response.Result.Credentials
		res = result{Credentials: Credentials{c.AccessKeyID, c.SecretAccessKey, c.SessionToken}, AssumedRoleID: a.Response.Result.AssumedRoleUser.AssumedRoleID}
		exp = string(c.Expiration)
	}
	if res.Credentials.AccessKeyID == "" || res.Credentials.SecretAccessKey == "" || res.Credentials.SessionToken == "" {
		return result{}, errShape
	}
	t, err := expiration(exp)
	if err != nil {
		return result{}, err
	}
	res.Expiration = t
	return res, nil
}

var errShape = errors.New("the answer is not an AssumeRoleWithWebIdentity result with credentials")

// expiration reads Expiration as AWS's JSON protocol writes it (epoch seconds, a float)
// or as RFC 3339 (the XML protocol, and some compatible endpoints in JSON).
func expiration(raw string) (time.Time, error) {
	raw = strings.TrimSpace(raw)
	if s, err := strconv.Unquote(raw); err == nil {
		raw = s
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, providers.Errorf(providers.ErrUpstream, "Expiration %q is neither epoch seconds nor RFC 3339", raw)
}

// classify reads STS's error (JSON {"Error":{"Code","Message"}} or XML
// <ErrorResponse><Error><Code>...). The message is redacted: a validation error quotes
// the offending field, which may be the web identity token.
func classify(what string, se *providers.StatusError, token string) error {
	var code, msg string
	var j struct {
		Error struct{ Code, Message string }
	}
	var x struct {
		Error struct{ Code, Message string } `xml:"Error"`
	}
	switch {
	case json.Unmarshal(se.Body, &j) == nil && j.Error.Code != "":
		code, msg = j.Error.Code, j.Error.Message
	case xml.Unmarshal(se.Body, &x) == nil && x.Error.Code != "":
		code, msg = x.Error.Code, x.Error.Message
	}
	kind := providers.ErrUpstream
	switch code {
	case "AccessDenied", "InvalidIdentityToken", "ExpiredTokenException", "IDPRejectedClaim":
		kind = providers.ErrDenied
	case "ValidationError", "InvalidParameterValue", "MalformedPolicyDocument", "PackedPolicyTooLarge":
		kind = providers.ErrInvalidRef
	case "RegionDisabledException":
		kind = providers.ErrConfig
	case "":
		return providers.Errorf(se.Kind(), "%s returned %d", what, se.Status)
	}
	return providers.Errorf(kind, "%s returned %d %s: %s", what, se.Status, code, providers.Snippet([]byte(providers.Redact(msg, token))))
}
