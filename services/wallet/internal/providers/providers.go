// Package providers fetches secrets from the external secret managers a playbook's
// keychain names (HashiCorp Vault, AWS Secrets Manager, GCP Secret Manager, Azure Key
// Vault, Kubernetes Secrets), and mints the short-lived credentials of the dynamic
// providers (AWS STS, GCP IAM Credentials, Azure AD client credentials). This package holds what every backend shares: the Provider
// interface, the error kinds the wallet maps to HTTP statuses, the HTTP plumbing of the
// REST backends, region routing of a backend's address, and the registry that builds one
// provider per (provider, region) and reuses it. The backends live in the sub-packages;
// package build picks one by id.
//
// docs/secret-providers.md describes the reference forms, variables and error mapping.
package providers

import "context"
import "errors"
import "fmt"
import "net/url"
import "strings"
import "time"

import "github.com/noetl/controlplane/shared/keychainprovider"

// Secret is one fetched value. Value is the secret itself: it never reaches a log line,
// an error or a metric.
type Secret struct {
	Value   string
	Version string
	// ExpiresAt is the issuer's expiry, when the backend states one (a Key Vault secret's
	// exp attribute, a Vault lease, the end of a dynamic provider's token); nil otherwise.
	ExpiresAt *time.Time
}

// Provider fetches secrets from one backend, bound to one region.
type Provider interface {
	Fetch(ctx context.Context, ref string) (Secret, error)
}

// Canonical maps a keychain entry's provider (any case, surrounding spaces, the upstream
// aliases) to its canonical id, one of shared/keychainprovider's constants: the labels of
// the metrics and the keys of the registry. The list is shared with the api, which
// refuses an unknown provider when a playbook is registered.
func Canonical(id string) (string, bool) { return keychainprovider.Canonical(id) }

// Dynamic reports whether the canonical id is a dynamic provider, one that mints a new
// short-lived credential on every fetch: their cached values are refreshed before they
// expire (docs/secret-providers.md, "Refresh before expiry").
func Dynamic(id string) bool { return keychainprovider.Dynamic(id) }

// UnsupportedError is the answer for a provider id no backend serves.
func UnsupportedError(id string) error {
	return Errorf(ErrInvalidRef, "unsupported keychain secret provider '%s' (supported: %s)", id, keychainprovider.Supported)
}

// Kinds of failure. Every error a provider returns matches exactly one of them with
// errors.Is; the wallet maps each to one HTTP status (docs/secret-providers.md).
var (
	// ErrNotFound: the secret, its version or the requested key does not exist.
	ErrNotFound = errors.New("secret not found")
	// ErrDenied: the backend refused the wallet's identity (HTTP 401/403).
	ErrDenied = errors.New("permission denied")
	// ErrInvalidRef: the reference does not follow the backend's grammar, or the secret
	// does not have the shape the reference asks for.
	ErrInvalidRef = errors.New("invalid secret reference")
	// ErrConfig: the wallet lacks the configuration the backend needs (no token, no
	// region, an unreadable CA file, an unsupported provider).
	ErrConfig = errors.New("secret provider not configured")
	// ErrUpstream: the backend could not be reached or answered wrongly.
	ErrUpstream = errors.New("secret provider unavailable")
)

// Error is a classified provider failure. Its message is client-safe: it names the
// backend, the reference and the cause, never a value or a token.
type Error struct {
	kind error
	msg  string
}

func (e *Error) Error() string        { return e.msg }
func (e *Error) Is(target error) bool { return target == e.kind }

// Errorf builds an Error of kind.
func Errorf(kind error, format string, args ...any) error {
	return &Error{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// RegionPlaceholder in a backend's address setting (VAULT_ADDR, NOETL_GCP_SM_ENDPOINT,
// AZURE_KEYVAULT_VAULT, NOETL_K8S_API_URL) is replaced by the region the provider is
// built for, which is how one wallet reaches a per-region Vault cluster, vault or
// regional endpoint. A setting without it serves every region.
const RegionPlaceholder = "{region}"

// ExpandRegion substitutes RegionPlaceholder in value. variable names the setting for the
// error when value needs a region and there is none.
func ExpandRegion(variable, value, region string) (string, error) {
	if !strings.Contains(value, RegionPlaceholder) {
		return value, nil
	}
	if region == "" {
		return "", Errorf(ErrConfig, "%s holds %s, but the keychain entry has no region and NOETL_SERVER_REGION is not set", variable, RegionPlaceholder)
	}
	if err := CheckRegion(region); err != nil {
		return "", err
	}
	return strings.ReplaceAll(value, RegionPlaceholder, region), nil
}

// RegionName is the shape of a region: letters, digits and dashes, at most a DNS label
// (us-east-1, europe-west4, eastus). A region goes into request URLs (an AWS endpoint's
// host, {region} in an address setting, a GCP location), and a keychain entry's region
// is written by whoever registers the playbook: `evil.example/#` made the STS endpoint
// https://sts.evil.example/#.amazonaws.com, and the wallet sent its web identity token,
// or its Vault, GCP or Azure token, to that host.
var RegionName = NameRule{MinLen: 1, MaxLen: 63, Extra: "-"}

// CheckRegion refuses a region that is not a RegionName (ErrInvalidRef: the keychain
// entry names it).
func CheckRegion(region string) error {
	if !RegionName.Match(region) {
		return Errorf(ErrInvalidRef, "region %q is not a region name (letters, digits and dashes, at most %d)", region, RegionName.MaxLen)
	}
	return nil
}

// Setting is a text setting, trimmed, or def when it is blank.
func Setting(value, def string) string {
	if v := strings.TrimSpace(value); v != "" {
		return v
	}
	return def
}

// RefOrSetting is what a dynamic provider's reference names (a role, an account, a
// tenant), else the setting that supplies it by default. A fetch with neither is a
// configuration error, worded alike for every backend: backend prefixes it, part is what
// is missing and variable the setting that would supply it.
func RefOrSetting(backend, part, fromRef, setting, variable string) (string, error) {
	if fromRef != "" {
		return fromRef, nil
	}
	if setting != "" {
		return setting, nil
	}
	return "", Errorf(ErrConfig, "%s: the reference names no %s and %s is not set", backend, part, variable)
}

// Bounded is an integer setting (a token's lifetime in seconds): def when it is 0, else
// v, which must lie within the issuer's bounds [lo, hi]; a value outside them would fail
// every call, so it is refused when the provider is built.
func Bounded(backend, variable string, v, def, lo, hi int) (int, error) {
	if v == 0 {
		v = def
	}
	if v < lo || v > hi {
		return 0, Errorf(ErrConfig, "%s: %s must be between %d and %d, got %d", backend, variable, lo, hi, v)
	}
	return v, nil
}

// AWSEndpoint is the URL of an AWS service's regional endpoint,
// https://<service>.<region>.amazonaws.com followed by path, or, when override (the
// setting variable) is set, override with RegionPlaceholder expanded, followed by path.
func AWSEndpoint(backend, variable, override, service, region, path string) (*url.URL, error) {
	if err := CheckRegion(region); region != "" && err != nil {
		return nil, err
	}
	endpoint := "https://" + service + "." + region + ".amazonaws.com"
	if override != "" {
		var err error
		if endpoint, err = ExpandRegion(variable, override, region); err != nil {
			return nil, err
		}
	}
	endpoint += path
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, Errorf(ErrConfig, "%s: %s %q is not a URL", backend, variable, endpoint)
	}
	return u, nil
}
