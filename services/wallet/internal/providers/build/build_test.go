package build

import "errors"
import "fmt"
import "testing"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/aws"
import "github.com/noetl/controlplane/services/wallet/internal/providers/azureoauth"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/keychainprovider"

// configured holds what each backend's constructor insists on; nothing is contacted.
func configured() Config {
	return Config{
		AWS:        aws.Config{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: config.Secret("s")},
		AzureOAuth: azureoauth.Config{ClientID: "app", ClientSecret: config.Secret("s")},
	}
}

func TestFuncBuildsEveryCanonicalProvider(t *testing.T) {
	t.Parallel()
	build := Func(configured())
	for id, want := range map[string]string{
		keychainprovider.Vault:      "*vault.Provider",
		keychainprovider.AWS:        "*aws.Provider",
		keychainprovider.GCP:        "*gcp.Provider",
		keychainprovider.Azure:      "*azure.Provider",
		keychainprovider.K8s:        "*k8s.Provider",
		keychainprovider.AWSSTS:     "*awssts.Provider",
		keychainprovider.GCPIAM:     "*gcpiam.Provider",
		keychainprovider.AzureOAuth: "*azureoauth.Provider",
	} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			p, err := build(id, "eu-west-1")
			if err != nil {
				t.Fatalf("build %s: %v", id, err)
			}
			if got := fmt.Sprintf("%T", p); got != want {
				t.Fatalf("build %s = %s, want %s", id, got, want)
			}
		})
	}
}

func TestFuncRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, id string
		kind     error
	}{
		{"unknown id", "onepassword", providers.ErrInvalidRef},
		{"alias, not canonical", "kubernetes", providers.ErrInvalidRef},
		// The constructor's own refusal: no client credentials configured.
		{"constructor error", keychainprovider.AzureOAuth, providers.ErrConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Func(Config{})(tc.id, "")
			if !errors.Is(err, tc.kind) {
				t.Fatalf("error = %v, want kind %v", err, tc.kind)
			}
			// A typed nil pointer in the interface would pass callers' p == nil checks wrongly.
			if p != nil {
				t.Fatalf("provider = %#v, want nil interface", p)
			}
		})
	}
}
