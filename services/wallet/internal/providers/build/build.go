// Package build picks a secret backend by its canonical provider id: the BuildFunc the
// provider registry calls on a miss.
package build

import (
	"github.com/noetl/controlplane/services/wallet/internal/providers"
	"github.com/noetl/controlplane/services/wallet/internal/providers/aws"
	"github.com/noetl/controlplane/services/wallet/internal/providers/awssts"
	"github.com/noetl/controlplane/services/wallet/internal/providers/azure"
	"github.com/noetl/controlplane/services/wallet/internal/providers/azureoauth"
	"github.com/noetl/controlplane/services/wallet/internal/providers/gcp"
	"github.com/noetl/controlplane/services/wallet/internal/providers/gcpiam"
	"github.com/noetl/controlplane/services/wallet/internal/providers/k8s"
	"github.com/noetl/controlplane/services/wallet/internal/providers/vault"
)

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

// Func returns the BuildFunc of cfg.
func Func(cfg Config) providers.BuildFunc {
	return func(id, region string) (providers.Provider, error) {
		var p providers.Provider
		var err error
		switch id {
		case providers.Vault:
			p, err = ok(vault.New(cfg.Vault, region))
		case providers.AWS:
			p, err = ok(aws.New(cfg.AWS, region))
		case providers.GCP:
			p, err = ok(gcp.New(cfg.GCP, region))
		case providers.Azure:
			p, err = ok(azure.New(cfg.Azure, region))
		case providers.K8s:
			p, err = ok(k8s.New(cfg.K8s, region))
		case providers.AWSSTS:
			p, err = ok(awssts.New(cfg.AWSSTS, region))
		case providers.GCPIAM:
			p, err = ok(gcpiam.New(cfg.GCPIAM, region))
		case providers.AzureOAuth:
			p, err = ok(azureoauth.New(cfg.AzureOAuth, region))
		default:
			return nil, providers.UnsupportedError(id)
		}
		return p, err
	}
}

// ok turns a typed constructor result into an interface that is nil on error.
func ok[P providers.Provider](p P, err error) (providers.Provider, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}
