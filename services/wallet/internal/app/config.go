package app

import "errors"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/crossregion"
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

// ProvidersConfig holds every external secret manager's settings (seed: "Secret
// providers"). Endpoints are overridable so tests run against local HTTP servers.
type ProvidersConfig struct {
	GoogleCloudProject string        `env:"GOOGLE_CLOUD_PROJECT"`
	GCPProject         string        `env:"GCP_PROJECT"`
	GCPSMEndpoint      string        `env:"NOETL_GCP_SM_ENDPOINT" envDefault:"https://secretmanager.googleapis.com/v1"`
	K8sAPIURL          string        `env:"NOETL_K8S_API_URL"`
	K8sServiceHost     string        `env:"KUBERNETES_SERVICE_HOST"`
	K8sServicePort     string        `env:"KUBERNETES_SERVICE_PORT"`
	K8sNamespace       string        `env:"NOETL_K8S_NAMESPACE"`
	K8sCAFile          string        `env:"NOETL_K8S_CA_FILE" envDefault:"/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"`
	K8sTokenFile       string        `env:"NOETL_K8S_TOKEN_FILE" envDefault:"/var/run/secrets/kubernetes.io/serviceaccount/token"`
	K8sToken           config.Secret `env:"NOETL_K8S_TOKEN"`
	VaultAddr          string        `env:"VAULT_ADDR" envDefault:"http://127.0.0.1:8200"`
	VaultToken         config.Secret `env:"VAULT_TOKEN"`
	VaultTokenFile     string        `env:"NOETL_VAULT_TOKEN_FILE"`
	VaultNamespace     string        `env:"VAULT_NAMESPACE"`
	VaultKVMount       string        `env:"NOETL_VAULT_KV_MOUNT" envDefault:"secret"`
	VaultCAFile        string        `env:"NOETL_VAULT_CA_FILE"`
	VaultK8sRole       string        `env:"NOETL_VAULT_K8S_ROLE"`
	VaultK8sMount      string        `env:"NOETL_VAULT_K8S_MOUNT" envDefault:"kubernetes"`
	VaultK8sTokenFile  string        `env:"NOETL_VAULT_K8S_TOKEN_FILE" envDefault:"/var/run/secrets/kubernetes.io/serviceaccount/token"`
	AWSAccessKeyID     string        `env:"AWS_ACCESS_KEY_ID"`
	AWSSecretAccessKey config.Secret `env:"AWS_SECRET_ACCESS_KEY"`
	AWSSessionToken    config.Secret `env:"AWS_SESSION_TOKEN"`
	AWSRegion          string        `env:"AWS_REGION"`
	AWSDefaultRegion   string        `env:"AWS_DEFAULT_REGION"`
	AWSSMEndpoint      string        `env:"NOETL_AWS_SM_ENDPOINT"`
	AzureVault         string        `env:"AZURE_KEYVAULT_VAULT"`
	AzureToken         config.Secret `env:"AZURE_KEYVAULT_TOKEN"`
	AzureDNSSuffix     string        `env:"NOETL_AZURE_KEYVAULT_DNS_SUFFIX" envDefault:"vault.azure.net"`
	AzureAPIVersion    string        `env:"NOETL_AZURE_KEYVAULT_API_VERSION" envDefault:"7.4"`
	AzureIMDSTokenURL  string        `env:"NOETL_AZURE_IMDS_TOKEN_URL" envDefault:"http://169.254.169.254/metadata/identity/oauth2/token"`
	// The dynamic providers (aws_sts, gcp_iam, azure_oauth). AWS_REGION and
	// AWS_DEFAULT_REGION above also pick the STS region; NOETL_GCP_METADATA_TOKEN_URL
	// (Keys) is also gcp_iam's caller token.
	AWSRoleARN            string        `env:"AWS_ROLE_ARN"`
	AWSWebIdentityTokFile string        `env:"AWS_WEB_IDENTITY_TOKEN_FILE" envDefault:"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"`
	AWSSTSDurationSecs    int           `env:"NOETL_AWS_STS_DURATION_SECS" envDefault:"3600"`
	AWSSTSEndpoint        string        `env:"NOETL_AWS_STS_ENDPOINT_OVERRIDE"`
	GCPImpersonateSA      string        `env:"NOETL_GCP_IMPERSONATE_SA"`
	GCPIAMEndpoint        string        `env:"NOETL_GCP_IAM_CREDENTIALS_ENDPOINT" envDefault:"https://iamcredentials.googleapis.com/v1"`
	GCPIAMLifetimeSecs    int           `env:"NOETL_GCP_IAM_LIFETIME_SECS" envDefault:"3600"`
	AzureTenantID         string        `env:"AZURE_TENANT_ID"`
	AzureClientID         string        `env:"AZURE_CLIENT_ID"`
	AzureClientSecret     config.Secret `env:"AZURE_CLIENT_SECRET"`
	AzureOAuthScope       string        `env:"NOETL_AZURE_OAUTH_SCOPE" envDefault:"https://graph.microsoft.com/.default"`
	AzureAADHost          string        `env:"NOETL_AZURE_AAD_HOST" envDefault:"https://login.microsoftonline.com"`
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
	project := p.GoogleCloudProject
	if project == "" {
		project = p.GCPProject
	}
	sts := awssts.Config{RoleARN: p.AWSRoleARN, TokenFile: p.AWSWebIdentityTokFile, Region: p.AWSRegion,
		DefaultRegion: p.AWSDefaultRegion, DurationSecs: p.AWSSTSDurationSecs, Endpoint: p.AWSSTSEndpoint}
	return build.Config{
		Vault: vault.Config{Addr: p.VaultAddr, Token: p.VaultToken, TokenFile: p.VaultTokenFile,
			Namespace: p.VaultNamespace, KVMount: p.VaultKVMount, CAFile: p.VaultCAFile,
			K8sRole: p.VaultK8sRole, K8sMount: p.VaultK8sMount, K8sTokenFile: p.VaultK8sTokenFile},
		AWS: aws.Config{AccessKeyID: p.AWSAccessKeyID, SecretAccessKey: p.AWSSecretAccessKey, SessionToken: p.AWSSessionToken,
			Region: p.AWSRegion, DefaultRegion: p.AWSDefaultRegion, Endpoint: p.AWSSMEndpoint, WebIdentity: sts},
		GCP: gcp.Config{Project: project, Endpoint: p.GCPSMEndpoint, MetadataTokenURL: c.Keys.GCPMetadataTokURL},
		Azure: azure.Config{Vault: p.AzureVault, Token: p.AzureToken, DNSSuffix: p.AzureDNSSuffix,
			APIVersion: p.AzureAPIVersion, IMDSTokenURL: p.AzureIMDSTokenURL},
		K8s: k8s.Config{APIURL: p.K8sAPIURL, ServiceHost: p.K8sServiceHost, ServicePort: p.K8sServicePort,
			Namespace: p.K8sNamespace, CAFile: p.K8sCAFile, TokenFile: p.K8sTokenFile, Token: p.K8sToken},
		AWSSTS: sts,
		GCPIAM: gcpiam.Config{ServiceAccount: p.GCPImpersonateSA, Endpoint: p.GCPIAMEndpoint,
			MetadataTokenURL: c.Keys.GCPMetadataTokURL, LifetimeSecs: p.GCPIAMLifetimeSecs},
		AzureOAuth: azureoauth.Config{TenantID: p.AzureTenantID, ClientID: p.AzureClientID, ClientSecret: p.AzureClientSecret,
			Scope: p.AzureOAuthScope, Host: p.AzureAADHost},
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
