// Package keychainprovider names the secret providers a playbook's keychain entry may
// use. The api checks a playbook's entries against it when the playbook is registered,
// and the wallet picks a backend by it, so the two cannot disagree on what is supported.
package keychainprovider

import "strings"

// Canonical provider ids: the wallet's metric labels and registry keys.
const (
	GCP   = "gcp"
	K8s   = "k8s"
	Vault = "vault"
	AWS   = "aws"
	Azure = "azure"
	// The dynamic providers: each fetch mints a new short-lived credential.
	AWSSTS     = "aws_sts"
	GCPIAM     = "gcp_iam"
	AzureOAuth = "azure_oauth"
	// Unsupported is the metric label of a provider id no backend serves, so that a
	// playbook cannot mint label values.
	Unsupported = "unsupported"
)

// Supported lists the canonical ids, for error messages.
const Supported = "gcp, k8s, vault, aws, azure, aws_sts, gcp_iam, azure_oauth"

// Canonical maps a keychain entry's provider (any case, surrounding spaces, the upstream
// aliases) to its canonical id; ok is false when no backend serves it.
func Canonical(id string) (canonical string, ok bool) {
	switch strings.ToLower(strings.TrimSpace(id)) {
	case "gcp":
		return GCP, true
	case "k8s", "kubernetes":
		return K8s, true
	case "vault":
		return Vault, true
	case "aws", "aws_sm":
		return AWS, true
	case "azure", "azure_kv":
		return Azure, true
	case "aws_sts", "aws_iam":
		return AWSSTS, true
	case "gcp_iam", "gcp_iamcredentials":
		return GCPIAM, true
	case "azure_oauth", "azure_aad":
		return AzureOAuth, true
	default:
		return Unsupported, false
	}
}

// Dynamic reports whether the canonical id is a dynamic provider, one that mints a new
// short-lived credential on every fetch.
func Dynamic(id string) bool {
	return id == AWSSTS || id == GCPIAM || id == AzureOAuth
}
