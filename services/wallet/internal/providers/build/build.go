// Package build picks a secret backend by its canonical provider id: the BuildFunc the
// provider registry calls on a miss.
package build

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/aws"
import "github.com/noetl/controlplane/services/wallet/internal/providers/awssts"
import "github.com/noetl/controlplane/services/wallet/internal/providers/azure"
import "github.com/noetl/controlplane/services/wallet/internal/providers/azureoauth"
import "github.com/noetl/controlplane/services/wallet/internal/providers/gcp"
import "github.com/noetl/controlplane/services/wallet/internal/providers/gcpiam"
import "github.com/noetl/controlplane/services/wallet/internal/providers/k8s"
import "github.com/noetl/controlplane/services/wallet/internal/providers/vault"
import "github.com/noetl/controlplane/shared/keychainprovider"

// Config is every backend's settings.
type Config struct {
	Vault vault.Config
	AWS   aws.Config
	GCP   gcp.Config
	Azure azure.Config
	K8s   k8s.Config
	// The dynamic providers.
	AWSSTS     awssts.Config
	GCPIAM     gcpiam.Config
	AzureOAuth azureoauth.Config
}

// Func returns the BuildFunc of cfg: one constructor per canonical provider id, each bound
// to its backend's settings, so that adding a backend is one line here.
func Func(cfg Config) providers.BuildFunc {
	byID := map[string]providers.BuildFunc{
		keychainprovider.Vault:      bind(cfg.Vault, vault.New),
		keychainprovider.AWS:        bind(cfg.AWS, aws.New),
		keychainprovider.GCP:        bind(cfg.GCP, gcp.New),
		keychainprovider.Azure:      bind(cfg.Azure, azure.New),
		keychainprovider.K8s:        bind(cfg.K8s, k8s.New),
		keychainprovider.AWSSTS:     bind(cfg.AWSSTS, awssts.New),
		keychainprovider.GCPIAM:     bind(cfg.GCPIAM, gcpiam.New),
		keychainprovider.AzureOAuth: bind(cfg.AzureOAuth, azureoauth.New),
	}
	return func(id, region string) (providers.Provider, error) {
		build, ok := byID[id]
		if !ok {
			return nil, providers.UnsupportedError(id)
		}
		return build(id, region)
	}
}

// bind turns a backend's typed constructor into a BuildFunc over cfg. The provider is
// returned as a nil interface on error, not as a typed nil pointer, so that callers'
// nil checks hold.
func bind[C any, P providers.Provider](cfg C, newP func(C, string) (P, error)) providers.BuildFunc {
	return func(_, region string) (providers.Provider, error) {
		p, err := newP(cfg, region)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}
