// Package cloudtoken fetches and caches the bearer tokens a workload gets from its
// cloud's metadata endpoint without holding any credential of its own: the GCP metadata
// server (Workload Identity: Cloud KMS, Secret Manager) and the Azure Instance Metadata
// Service (Managed Identity: Key Vault).
//
// A token is cached until shortly before it expires. The lock is held over a fetch, so
// concurrent callers share one metadata request. The token is never part of an error
// message, and neither is a metadata answer's body: it is the one place a token could
// appear.
package cloudtoken

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "net/http"
import "net/url"
import "strconv"
import "strings"
import "sync"
import "time"

import "github.com/noetl/controlplane/shared/httpcall"

const maxBody = 1 << 20

// GCPMetadataTokenURL is the GKE/GCE metadata server's token URL (Workload Identity),
// the default of every GCPMetadata source.
const GCPMetadataTokenURL = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"

// Source hands out a cached token and fetches a new one when it is about to expire.
type Source struct {
	// Now is the clock (tests replace it).
	Now func() time.Time

	label   string
	fetch   func(ctx context.Context) (token string, expiresIn time.Duration, err error)
	lead    time.Duration // refresh this long before the token expires
	minLife time.Duration // a token is kept at least this long

	mu      sync.Mutex
	token   string
	expires time.Time
}

// Token returns the cached token or fetches one.
func (s *Source) Token(ctx context.Context) (string, error) {
	tok, _, err := s.Get(ctx)
	return tok, err
}

// Get is Token, and also reports whether the token came from the cache: a cached token
// may have been revoked since it was fetched (its identity's grants changed, the
// metadata server rotated it), so a caller refused with it can Drop it and ask once more
// with a fresh one; a token fetched just now and refused is a refusal.
func (s *Source) Get(ctx context.Context) (token string, cached bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.Now().Before(s.expires) {
		return s.token, true, nil
	}
	tok, life, err := s.fetch(ctx)
	if err != nil {
		return "", false, err
	}
	s.token = tok
	s.expires = s.Now().Add(max(life-s.lead, s.minLife))
	return tok, false, nil
}

// Drop forgets a token the service rejected (HTTP 401), unless another caller already
// replaced it, so that the next call fetches a new one.
func (s *Source) Drop(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == token {
		s.token = ""
	}
}

// String never shows the token.
func (s *Source) String() string { return "cloudtoken.Source(" + s.label + ")" }

// GCPMetadata is the GCP metadata server's token URL (`Metadata-Flavor: Google`,
// answer `{access_token, expires_in}` in seconds). A token is refreshed 60 s before it
// expires and kept at least 1 s. label prefixes error messages ("kms token").
func GCPMetadata(label, tokenURL string, client *http.Client) *Source {
	return &Source{
		Now: time.Now, label: label, lead: 60 * time.Second, minLife: time.Second,
		fetch: func(ctx context.Context) (string, time.Duration, error) {
			var t struct {
				AccessToken string `json:"access_token"`
				ExpiresIn   int64  `json:"expires_in"`
			}
			if err := get(ctx, client, tokenURL, "Metadata-Flavor", "Google", label, &t); err != nil {
				return "", 0, err
			}
			if t.AccessToken == "" {
				return "", 0, fmt.Errorf("%s: metadata server response has no access_token", label)
			}
			return t.AccessToken, time.Duration(t.ExpiresIn) * time.Second, nil
		},
	}
}

// AzureIMDS is the Azure Instance Metadata Service's managed-identity token endpoint for
// resource (`Metadata: true`, `api-version=2018-02-01`; answer `{access_token,
// expires_in}` with expires_in a decimal string, 60 s when missing or unreadable). A
// token is refreshed when fewer than 30 s remain.
func AzureIMDS(label, tokenURL, resource string, client *http.Client) *Source {
	return &Source{
		Now: time.Now, label: label, lead: 30 * time.Second, minLife: time.Second,
		fetch: func(ctx context.Context) (string, time.Duration, error) {
			u, err := url.Parse(tokenURL)
			if err != nil {
				return "", 0, fmt.Errorf("%s: IMDS token URL: %w", label, err)
			}
			q := u.Query()
			q.Set("api-version", "2018-02-01")
			q.Set("resource", resource)
			u.RawQuery = q.Encode()
			var t struct {
				AccessToken string          `json:"access_token"`
				ExpiresIn   json.RawMessage `json:"expires_in"`
			}
			if err := get(ctx, client, u.String(), "Metadata", "true", label, &t); err != nil {
				return "", 0, err
			}
			if t.AccessToken == "" {
				return "", 0, fmt.Errorf("%s: metadata server response has no access_token", label)
			}
			secs, err := strconv.ParseInt(strings.Trim(string(t.ExpiresIn), `"`), 10, 64)
			if err != nil || secs <= 0 {
				secs = 60
			}
			return t.AccessToken, time.Duration(secs) * time.Second, nil
		},
	}
}

func get(ctx context.Context, client *http.Client, u, header, value, label string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	req.Header.Set(header, value)
	resp, data, err := httpcall.Do(client, req, maxBody)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: metadata server HTTP %s", label, resp.Status)
	}
	if json.Unmarshal(data, out) != nil {
		return errors.New(label + ": metadata server response has no access_token")
	}
	return nil
}
