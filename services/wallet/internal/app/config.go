package app

import "cmp"
import "errors"
import "fmt"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/crossregion"
import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/providers/aws"
import "github.com/noetl/controlplane/services/wallet/internal/providers/awssts"
import "github.com/noetl/controlplane/services/wallet/internal/providers/azure"
import "github.com/noetl/controlplane/services/wallet/internal/providers/azureoauth"
import "github.com/noetl/controlplane/services/wallet/internal/providers/build"
import "github.com/noetl/controlplane/services/wallet/internal/providers/gcp"
import "github.com/noetl/controlplane/services/wallet/internal/providers/gcpiam"
import "github.com/noetl/controlplane/services/wallet/internal/providers/k8s"
import "github.com/noetl/controlplane/services/wallet/internal/providers/vault"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/service"

// DefaultPort is the wallet's listener when NOETL_PORT is unset.
const DefaultPort = 8084

// Config is everything the wallet reads from the environment.
type Config struct {
	config.Common
	Tokens config.PublicTokens
	DB     pg.Config
	IDs    ids.Config
	Keys
	Audit     AuditConfig
	Residency ResidencyConfig
	Providers ProvidersConfig

	// APIURL is the api service, asked for a worker's sealing public key and an
	// execution's keychain definitions.
	APIURL string `env:"NOETL_API_URL" envDefault:"http://127.0.0.1:8083"`

	// KeychainCleanupInterval is the period of the keychain expiry cleanup; 0 turns it
	// off.
	KeychainCleanupInterval time.Duration `env:"NOETL_KEYCHAIN_CLEANUP_INTERVAL" envDefault:"10m"`

	Hooks service.Hooks `env:"-"`
}

// Keys configures the key-encryption keys. The current key wraps every new
// record; previous keys are kept only to unwrap records written before a rotation.
type Keys struct {
	EncryptionKey     config.Secret `env:"NOETL_ENCRYPTION_KEY"`
	EncryptionKeyVer  string        `env:"NOETL_ENCRYPTION_KEY_VERSION" envDefault:"v1"`
	PreviousKeys      config.Secret `env:"NOETL_ENCRYPTION_PREVIOUS_KEYS"`
	KMSProvider       string        `env:"NOETL_KMS_PROVIDER" envDefault:"local"`
	GCPKMSKey         string        `env:"NOETL_GCP_KMS_KEY"`
	GCPKMSEndpoint    string        `env:"NOETL_GCP_KMS_ENDPOINT" envDefault:"https://cloudkms.googleapis.com/v1"`
	GCPMetadataTokURL string        `env:"NOETL_GCP_METADATA_TOKEN_URL" envDefault:"http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"`
}

// AuditConfig is the secret-audit write mode.
type AuditConfig struct {
	Required config.Bool `env:"NOETL_SECRET_AUDIT_REQUIRED" envDefault:"false"`
}

// ResidencyConfig covers region routing, residency and the cross-region broker.
type ResidencyConfig struct {
	ServerRegion       string `env:"NOETL_SERVER_REGION"`
	ProviderTTLSeconds int    `env:"NOETL_SECRET_PROVIDER_TTL_SECONDS" envDefault:"0"`
	BrokerRegistry     string `env:"NOETL_SECRET_BROKER_REGISTRY"`
	BrokerTimeoutSecs  int    `env:"NOETL_SECRET_BROKER_TIMEOUT_SECS" envDefault:"10"`
	DynamicSafetyMarg  int    `env:"KEYCHAIN_CACHE_DYNAMIC_SAFETY_MARGIN_SECS" envDefault:"60"`
	RefreshWindowSecs  int    `env:"KEYCHAIN_CACHE_REFRESH_WINDOW_SECS" envDefault:"60"`
}

// ProvidersConfig holds every external secret manager's settings, one struct per
// backend. Endpoints are overridable so tests run against local HTTP servers.
type ProvidersConfig struct {
	Vault VaultConfig
	K8s   K8sConfig
	// Google, Azure and AWS: each cloud's secret manager, then its dynamic provider
	// (gcp_iam, azure_oauth, aws_sts).
	GCP        GCPConfig
	GCPIAM     GCPIAMConfig
	Azure      AzureConfig
	AzureOAuth AzureOAuthConfig
	AWSSTS     AWSSTSConfig
	AWS        AWSConfig
}

// The backends whose settings all come from their own variables are declared field for
// field like the provider's Config, so that Backends converts them (a field added on one
// side only no longer compiles).

// VaultConfig is HashiCorp Vault (vault.Config).
type VaultConfig struct {
	Addr      string        `env:"VAULT_ADDR" envDefault:"http://127.0.0.1:8200"`
	Token     config.Secret `env:"VAULT_TOKEN"`
	TokenFile string        `env:"NOETL_VAULT_TOKEN_FILE"`
	Namespace string        `env:"VAULT_NAMESPACE"`
	KVMount   string        `env:"NOETL_VAULT_KV_MOUNT" envDefault:"secret"`
	CAFile    string        `env:"NOETL_VAULT_CA_FILE"`
	// Kubernetes auth, used when neither VAULT_TOKEN nor NOETL_VAULT_TOKEN_FILE is set.
	K8sRole      string `env:"NOETL_VAULT_K8S_ROLE"`
	K8sMount     string `env:"NOETL_VAULT_K8S_MOUNT" envDefault:"kubernetes"`
	K8sTokenFile string `env:"NOETL_VAULT_K8S_TOKEN_FILE" envDefault:"/var/run/secrets/kubernetes.io/serviceaccount/token"`
}

// K8sConfig is Kubernetes Secrets (k8s.Config).
type K8sConfig struct {
	APIURL      string        `env:"NOETL_K8S_API_URL"`
	ServiceHost string        `env:"KUBERNETES_SERVICE_HOST"`
	ServicePort string        `env:"KUBERNETES_SERVICE_PORT"`
	Namespace   string        `env:"NOETL_K8S_NAMESPACE"`
	CAFile      string        `env:"NOETL_K8S_CA_FILE" envDefault:"/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"`
	TokenFile   string        `env:"NOETL_K8S_TOKEN_FILE" envDefault:"/var/run/secrets/kubernetes.io/serviceaccount/token"`
	Token       config.Secret `env:"NOETL_K8S_TOKEN"`
}

// GCPConfig is Google Secret Manager. Its caller token comes from
// NOETL_GCP_METADATA_TOKEN_URL (Keys).
type GCPConfig struct {
	GoogleCloudProject string `env:"GOOGLE_CLOUD_PROJECT"`
	Project            string `env:"GCP_PROJECT"` // read when GOOGLE_CLOUD_PROJECT is unset
	Endpoint           string `env:"NOETL_GCP_SM_ENDPOINT" envDefault:"https://secretmanager.googleapis.com/v1"`
}

// GCPIAMConfig is the gcp_iam provider. Its caller token comes from
// NOETL_GCP_METADATA_TOKEN_URL (Keys).
type GCPIAMConfig struct {
	ServiceAccount string `env:"NOETL_GCP_IMPERSONATE_SA"`
	Endpoint       string `env:"NOETL_GCP_IAM_CREDENTIALS_ENDPOINT" envDefault:"https://iamcredentials.googleapis.com/v1"`
	LifetimeSecs   int    `env:"NOETL_GCP_IAM_LIFETIME_SECS" envDefault:"3600"`
}

// AzureConfig is Azure Key Vault (azure.Config).
type AzureConfig struct {
	Vault        string        `env:"AZURE_KEYVAULT_VAULT"`
	Token        config.Secret `env:"AZURE_KEYVAULT_TOKEN"`
	DNSSuffix    string        `env:"NOETL_AZURE_KEYVAULT_DNS_SUFFIX" envDefault:"vault.azure.net"`
	APIVersion   string        `env:"NOETL_AZURE_KEYVAULT_API_VERSION" envDefault:"7.4"`
	IMDSTokenURL string        `env:"NOETL_AZURE_IMDS_TOKEN_URL" envDefault:"http://169.254.169.254/metadata/identity/oauth2/token"`
}

// AzureOAuthConfig is the azure_oauth provider (azureoauth.Config).
type AzureOAuthConfig struct {
	TenantID     string        `env:"AZURE_TENANT_ID"`
	ClientID     string        `env:"AZURE_CLIENT_ID"`
	ClientSecret config.Secret `env:"AZURE_CLIENT_SECRET"`
	Scope        string        `env:"NOETL_AZURE_OAUTH_SCOPE" envDefault:"https://graph.microsoft.com/.default"`
	Host         string        `env:"NOETL_AZURE_AAD_HOST" envDefault:"https://login.microsoftonline.com"`
}

// AWSSTSConfig is the aws_sts provider (awssts.Config), and the web identity role of
// AWSConfig. It reads AWS_REGION and AWS_DEFAULT_REGION as AWSConfig does.
type AWSSTSConfig struct {
	RoleARN       string `env:"AWS_ROLE_ARN"`
	TokenFile     string `env:"AWS_WEB_IDENTITY_TOKEN_FILE" envDefault:"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"`
	Region        string `env:"AWS_REGION"`
	DefaultRegion string `env:"AWS_DEFAULT_REGION"`
	DurationSecs  int    `env:"NOETL_AWS_STS_DURATION_SECS" envDefault:"3600"`
	Endpoint      string `env:"NOETL_AWS_STS_ENDPOINT_OVERRIDE"`
}

// AWSConfig is AWS Secrets Manager. Without an access key it takes the web identity role
// of AWSSTSConfig.
type AWSConfig struct {
	AccessKeyID     string        `env:"AWS_ACCESS_KEY_ID"`
	SecretAccessKey config.Secret `env:"AWS_SECRET_ACCESS_KEY"`
	SessionToken    config.Secret `env:"AWS_SESSION_TOKEN"`
	Region          string        `env:"AWS_REGION"`
	DefaultRegion   string        `env:"AWS_DEFAULT_REGION"`
	Endpoint        string        `env:"NOETL_AWS_SM_ENDPOINT"`
}

// LoadConfig reads the environment (nil = process environment) over the wallet's defaults.
func LoadConfig(environ map[string]string) (Config, error) {
	return config.LoadConfig(environ, Config{Common: config.Common{Port: DefaultPort}})
}

// Validate applies the wallet's fail-fast rules. An unset NOETL_ENCRYPTION_KEY is not an
// error (the wallet starts and credential routes answer 500); a set but malformed one is.
func (c *Config) Validate() error {
	errs := []error{c.Common.Validate(), c.DB.Validate(), c.IDs.Validate(), c.Keys.Validate()}
	if _, err := config.HTTPURL("NOETL_API_URL", c.APIURL); err != nil {
		errs = append(errs, err)
	}
	if c.KeychainCleanupInterval < 0 || (c.KeychainCleanupInterval > 0 && c.KeychainCleanupInterval < time.Second) {
		errs = append(errs, errors.New("NOETL_KEYCHAIN_CLEANUP_INTERVAL: must be 0 (off) or at least 1s"))
	}
	if c.Residency.BrokerTimeoutSecs < 1 {
		errs = append(errs, errors.New("NOETL_SECRET_BROKER_TIMEOUT_SECS: must be >= 1"))
	}
	if c.Residency.ProviderTTLSeconds < 0 {
		errs = append(errs, errors.New("NOETL_SECRET_PROVIDER_TTL_SECONDS: must be >= 0"))
	}
	if c.Residency.DynamicSafetyMarg < 0 {
		errs = append(errs, errors.New("KEYCHAIN_CACHE_DYNAMIC_SAFETY_MARGIN_SECS: must be >= 0"))
	}
	if c.Residency.RefreshWindowSecs < 0 {
		errs = append(errs, errors.New("KEYCHAIN_CACHE_REFRESH_WINDOW_SECS: must be >= 0 (0 turns the refresh off)"))
	}
	if r := c.Residency.ServerRegion; r != "" && providers.CheckRegion(r) != nil {
		// The region of every entry that names none: refused at startup rather than on
		// each fetch (docs/secret-providers.md, "Regions").
		errs = append(errs, fmt.Errorf("NOETL_SERVER_REGION: %q is not a region name (letters, digits and dashes, at most %d)", r, providers.RegionName.MaxLen))
	}
	if _, err := crossregion.ParseRegistry(c.Residency.BrokerRegistry); err != nil {
		errs = append(errs, err)
	}
	// The STS and IAM Credentials providers need nothing to be built, so building them
	// here fails only on a malformed setting (a duration STS refuses, a role that is not
	// an ARN): at startup rather than on a run's first credential fetch.
	b := c.Backends()
	if _, err := awssts.New(b.AWSSTS, ""); err != nil {
		errs = append(errs, err)
	}
	if _, err := gcpiam.New(b.GCPIAM, ""); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Backends is the secret backends' configuration.
func (c *Config) Backends() build.Config {
	p := c.Providers
	sts := awssts.Config(p.AWSSTS)
	return build.Config{
		Vault: vault.Config(p.Vault),
		K8s:   k8s.Config(p.K8s),
		GCP: gcp.Config{Project: cmp.Or(p.GCP.GoogleCloudProject, p.GCP.Project), Endpoint: p.GCP.Endpoint,
			MetadataTokenURL: c.Keys.GCPMetadataTokURL},
		GCPIAM: gcpiam.Config{ServiceAccount: p.GCPIAM.ServiceAccount, Endpoint: p.GCPIAM.Endpoint,
			MetadataTokenURL: c.Keys.GCPMetadataTokURL, LifetimeSecs: p.GCPIAM.LifetimeSecs},
		Azure:      azure.Config(p.Azure),
		AzureOAuth: azureoauth.Config(p.AzureOAuth),
		AWSSTS:     sts,
		AWS: aws.Config{AccessKeyID: p.AWS.AccessKeyID, SecretAccessKey: p.AWS.SecretAccessKey, SessionToken: p.AWS.SessionToken,
			Region: p.AWS.Region, DefaultRegion: p.AWS.DefaultRegion, Endpoint: p.AWS.Endpoint, WebIdentity: sts},
	}
}

// Envelope returns the key-manager configuration shared/crypto/envelope validates and
// builds from.
func (k Keys) Envelope() envelope.Config {
	return envelope.Config{
		KMSProvider: k.KMSProvider,
		Local: envelope.LocalConfig{
			Key:          k.EncryptionKey.Reveal(),
			KeyVersion:   k.EncryptionKeyVer,
			PreviousKeys: k.PreviousKeys.Reveal(),
		},
		GCPKMS: envelope.GCPKMSConfig{
			Key:              k.GCPKMSKey,
			Endpoint:         k.GCPKMSEndpoint,
			MetadataTokenURL: k.GCPMetadataTokURL,
		},
	}
}

// Validate checks the key material's shape without ever echoing it, with exactly the rules
// the key manager applies at startup (one source of truth). An unset NOETL_ENCRYPTION_KEY
// is not an error here.
func (k Keys) Validate() error {
	if _, err := envelope.NewKeyManager(k.Envelope()); err != nil && !errors.Is(err, envelope.ErrNoKey) {
		return err
	}
	return nil
}
