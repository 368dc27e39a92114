// Package gcp reads GCP Secret Manager (provider `gcp`): GET <endpoint>/<version
// name>:access with the workload's Workload-Identity token from the metadata server.
//
// References: a secret name (needs GOOGLE_CLOUD_PROJECT or GCP_PROJECT), or a fully
// qualified projects/<p>/secrets/<s>[/versions/<v>] (also with locations/<l>/ for regional
// secrets). The version defaults to latest. With {region} in NOETL_GCP_SM_ENDPOINT (a
// regional endpoint, https://secretmanager.{region}.rep.googleapis.com/v1) a bare name is
// a regional secret of the entry's region: projects/<p>/locations/<region>/secrets/<s>.
package gcp

import "context"
import "encoding/base64"
import "encoding/json"
import "net/http"
import "strings"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/shared/cloudtoken"

// Config is the GCP variables.
type Config struct {
	Project          string // GOOGLE_CLOUD_PROJECT, else GCP_PROJECT
	Endpoint         string // NOETL_GCP_SM_ENDPOINT; may hold {region}
	MetadataTokenURL string // NOETL_GCP_METADATA_TOKEN_URL
}

// Provider is Secret Manager at one (possibly regional) endpoint.
type Provider struct {
	project  string
	endpoint string
	region   string // set when the endpoint is regional
	client   *http.Client
	tokens   *cloudtoken.Source
}

// New builds the provider for region.
func New(cfg Config, region string) (*Provider, error) {
	endpoint := providers.Setting(cfg.Endpoint, "https://secretmanager.googleapis.com/v1")
	regional := strings.Contains(endpoint, providers.RegionPlaceholder)
	endpoint, err := providers.ExpandRegion("NOETL_GCP_SM_ENDPOINT", endpoint, region)
	if err != nil {
		return nil, err
	}
	client, err := providers.Client("NOETL_GCP_SM_ENDPOINT", "", false)
	if err != nil {
		return nil, err
	}
	tokenURL := providers.Setting(cfg.MetadataTokenURL, cloudtoken.GCPMetadataTokenURL)
	p := &Provider{project: strings.TrimSpace(cfg.Project), endpoint: strings.TrimRight(endpoint, "/"), client: client,
		tokens: cloudtoken.GCPMetadata("gcp secret manager token", tokenURL, client)}
	if regional {
		p.region = region
	}
	return p, nil
}

// VersionName turns a reference into the name of the secret version to access.
func (p *Provider) VersionName(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	parts := strings.Split(ref, "/")
	for _, s := range parts {
		if !segment.Match(s) {
			return "", invalid(ref)
		}
	}
	if parts[0] == "projects" {
		// projects/<p>[/locations/<l>]/secrets/<s>[/versions/<v>]
		if len(parts) < 4 {
			return "", invalid(ref)
		}
		rest := parts[2:]
		if rest[0] == "locations" {
			if len(rest) < 4 {
				return "", invalid(ref)
			}
			rest = rest[2:]
		}
		switch {
		case len(rest) == 2 && rest[0] == "secrets":
			return ref + "/versions/latest", nil
		case len(rest) == 4 && rest[0] == "secrets" && rest[2] == "versions":
			return ref, nil
		default:
			return "", invalid(ref)
		}
	}
	if len(parts) != 1 {
		return "", invalid(ref)
	}
	if p.project == "" {
		return "", providers.Errorf(providers.ErrConfig, "gcp secret manager: no project for '%s' (use projects/<p>/secrets/<s>, or set GOOGLE_CLOUD_PROJECT)", ref)
	}
	if p.region != "" {
		return "projects/" + p.project + "/locations/" + p.region + "/secrets/" + ref + "/versions/latest", nil
	}
	return "projects/" + p.project + "/secrets/" + ref + "/versions/latest", nil
}

func invalid(ref string) error {
	return providers.Errorf(providers.ErrInvalidRef, "gcp secret manager: invalid reference '%s' (expected '<secret>' or 'projects/<p>/secrets/<s>[/versions/<v>]')", ref)
}

// segment is the rule of a reference's path segments; it keeps a reference from steering
// the token to another path.
var segment = providers.NameRule{MinLen: 1, Extra: "-_.@", NoDotNames: true}

// Fetch accesses the secret version.
func (p *Provider) Fetch(ctx context.Context, ref string) (providers.Secret, error) {
	name, err := p.VersionName(ref)
	if err != nil {
		return providers.Secret{}, err
	}
	what := "gcp secret manager: access '" + name + "'"
	body, status, err := providers.WithToken(ctx, p.tokens, func(tok string) ([]byte, *providers.StatusError, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.endpoint+"/"+name+":access", nil)
		if err != nil {
			return nil, nil, providers.Errorf(providers.ErrConfig, "gcp secret manager: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		return providers.Do(p.client, req, what)
	})
	if status != nil && status.Status == http.StatusBadRequest {
		return providers.Secret{}, classify400(what, status.Body)
	}
	if err != nil {
		return providers.Secret{}, err
	}
	defer clear(body)
	var out struct {
		Name    string `json:"name"`
		Payload struct {
			Data string `json:"data"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: the answer is not an AccessSecretVersionResponse", what)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out.Payload.Data))
	if err != nil {
		return providers.Secret{}, providers.Errorf(providers.ErrUpstream, "%s: payload.data is not base64", what)
	}
	defer clear(raw)
	_, version, _ := strings.Cut(out.Name, "/versions/")
	return providers.Secret{Value: string(raw), Version: version}, nil
}

// classify400 reads the google.rpc status of a 400 answer. Secret Manager answers
// FAILED_PRECONDITION for a version that is disabled or destroyed: the version exists
// but can never be read as it is, so it is not found (404), not an outage (502) that a
// worker would retry. INVALID_ARGUMENT is a reference the API refuses.
func classify400(what string, body []byte) error {
	var e struct {
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	kind := providers.ErrUpstream
	switch e.Error.Status {
	case "FAILED_PRECONDITION":
		kind = providers.ErrNotFound
	case "INVALID_ARGUMENT":
		kind = providers.ErrInvalidRef
	}
	return providers.Errorf(kind, "%s: HTTP 400 %s", what, providers.Snippet(body))
}
