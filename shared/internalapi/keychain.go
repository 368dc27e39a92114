package internalapi

import "net/url"
import "strconv"

import "github.com/noetl/controlplane/shared/wire"

// KeychainEntry is one playbook `keychain:` entry as the wallet needs it to resolve a
// secret: the provider, the references (map values already rendered against the
// execution's workload), the home region and the residency rules, or, for an entry
// without a provider, the stored credential it stands for. It travels from the api to the
// wallet, and from a wallet to the broker of the entry's home region.
type KeychainEntry struct {
	Name     string `json:"name"`
	Provider string `json:"provider,omitempty"`
	// Map maps output keys to secret references; nil for an entry whose name is the
	// reference.
	Map map[string]string `json:"map,omitempty"`
	// Credential is the `credential:` of an entry without a provider, rendered against
	// the workload and trimmed: the name (or id) of the stored credential the alias
	// stands for. Empty for provider entries.
	Credential       string   `json:"credential,omitempty"`
	Region           string   `json:"region,omitempty"`
	Residency        string   `json:"residency,omitempty"`
	AllowedRegions   []string `json:"allowed_regions,omitempty"`
	NoBrokerFallback bool     `json:"no_broker_fallback,omitempty"`
}

// KeychainDefinition is the answer of GET /internal/executions/{id}/keychain/{alias}.
type KeychainDefinition struct {
	ExecutionID wire.StringID `json:"execution_id"`
	CatalogID   wire.StringID `json:"catalog_id"`
	Entry       KeychainEntry `json:"entry"`
	// TemplateError is set when a map value (or the credential) did not render;
	// Entry.Map and Entry.Credential are then absent.
	// The wallet reports it after the residency gate, so that a denied entry is counted
	// as a denial whatever its templates hold.
	TemplateError string `json:"template_error,omitempty"`
}

// KeychainPath is the api route that answers KeychainDefinition.
func KeychainPath(executionID int64, alias string) string {
	return "/internal/executions/" + strconv.FormatInt(executionID, 10) + "/keychain/" + url.PathEscape(alias)
}

// CrossRegionPath is the broker route a wallet forwards a residency-denied sealed fetch
// to.
const CrossRegionPath = "/api/internal/cross-region/resolve"

// CrossRegionRequest is the body of POST /api/internal/cross-region/resolve: resolve alias
// in the broker's region and seal it to the worker's key. The broker passes it on to its
// wallet's POST /internal/wallet/seal. KeychainEntry is the entry the requesting region
// read from its own api; a broker region whose database does not know the execution
// resolves from it. Without it the wallet asks its own api.
type CrossRegionRequest struct {
	Alias              string   `json:"alias"`
	WorkerPublicKeyB64 string   `json:"worker_public_key_b64"`
	WorkerID           string   `json:"worker_id"`
	ExecutionID        *wire.ID `json:"execution_id,omitempty"`
	ParentExecutionID  *wire.ID `json:"parent_execution_id,omitempty"`
	CrossRegionRoute
	KeychainEntry *KeychainEntry `json:"keychain_entry,omitempty"`
}

// CrossRegionRoute is the part of a CrossRegionRequest that the hops fill in, not the
// wallet that asks: its broker client sets the region it expects the entry's broker in
// and its own region, and the broker sets the region it serves before passing the request
// on to its wallet. Its fields sit in the request's JSON object like the others.
type CrossRegionRoute struct {
	ExpectedEntryRegion string `json:"expected_entry_region"`
	RequestingRegion    string `json:"requesting_region,omitempty"`
	BrokerRegion        string `json:"broker_region,omitempty"`
}

// BrokerOutcomeHeader carries the broker's outcome label on its answers, so that the
// requesting wallet counts the same outcome (wrong_region above all) without parsing
// error text.
const BrokerOutcomeHeader = "X-Noetl-Broker-Outcome"
