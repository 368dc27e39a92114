// Package residency is the gate in front of every provider fetch: a keychain entry with a
// home region and a residency policy may only be resolved where the policy allows, so
// that a region-locked secret's cleartext never enters a server of another region
// (docs/secret-providers.md, "Residency").
//
// The gate runs before any provider is built or called. A strict denial leaves no trace
// but the residency counter: no registry entry, no fetch, no resolve metric.
package residency

import "fmt"
import "slices"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/promx"

// Policies of a keychain entry's `residency:`.
const (
	PolicyNone     = "none"
	PolicyAdvisory = "advisory"
	PolicyStrict   = "strict"
)

// Decisions, the `decision` label of noetl_secret_residency_check_total.
const (
	AllowedNoPolicy    = "allowed_no_policy"
	AllowedSameRegion  = "allowed_same_region"
	AllowedInAllowlist = "allowed_in_allowlist"
	ViolationAllowed   = "violation_allowed"
	ViolationBlocked   = "violation_blocked"
)

// Policy normalises an entry's residency. The api refuses unknown values when a playbook
// is registered; one that still arrives (from a peer region) is treated as strict, the
// side that cannot leak.
func Policy(p string) string {
	switch p {
	case "", PolicyNone:
		return PolicyNone
	case PolicyAdvisory:
		return PolicyAdvisory
	default:
		return PolicyStrict
	}
}

// Decide is the decision table. entryRegion is the effective region (the entry's, else
// the server's); allowed is the entry's allowed_regions.
func Decide(policy, entryRegion, serverRegion string, allowed []string) string {
	policy = Policy(policy)
	switch {
	case entryRegion == "" || policy == PolicyNone:
		return AllowedNoPolicy
	case entryRegion == serverRegion:
		return AllowedSameRegion
	// An empty server region never matches: a stray "" in allowed_regions must not open
	// the gate on a server that does not know its region.
	case serverRegion != "" && slices.Contains(allowed, serverRegion):
		return AllowedInAllowlist
	case policy == PolicyAdvisory:
		return ViolationAllowed
	default:
		return ViolationBlocked
	}
}

// Violation is a strict denial. Its message names the credential and both regions, never
// a value.
type Violation struct {
	Credential   string
	EntryRegion  string
	ServerRegion string
	// Entry is the denied entry, for the cross-region fallback, which sends it to the
	// broker of EntryRegion.
	Entry internalapi.KeychainEntry
}

func (v *Violation) Error() string {
	return fmt.Sprintf("Residency violation: credential '%s' is region-locked to '%s'; this server is in '%s'", v.Credential, v.EntryRegion, v.ServerRegion)
}

// Metrics is noetl_secret_residency_check_total.
type Metrics struct{ checks *prometheus.CounterVec }

// NewMetrics registers the counter with every reachable (policy, decision) at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	checks := promx.CounterVec(reg, "noetl_secret_residency_check_total",
		"Residency-policy gate outcomes per keychain-entry resolution (Secrets Wallet Phase 6c).",
		"policy", "decision")
	// No policy allows everything; a policy gates by region, and a violation is let
	// through (advisory) or blocked (strict).
	checks.WithLabelValues(PolicyNone, AllowedNoPolicy)
	promx.Zero(checks, []string{PolicyAdvisory, PolicyStrict}, []string{AllowedNoPolicy, AllowedSameRegion, AllowedInAllowlist})
	checks.WithLabelValues(PolicyAdvisory, ViolationAllowed)
	checks.WithLabelValues(PolicyStrict, ViolationBlocked)
	return &Metrics{checks: checks}
}

// Gate checks entries against this server's region.
type Gate struct {
	server  string
	metrics *Metrics
}

// NewGate returns the gate of a server in region serverRegion (NOETL_SERVER_REGION).
func NewGate(serverRegion string, m *Metrics) *Gate { return &Gate{server: serverRegion, metrics: m} }

// Region is the entry's effective region: its own, else the server's ("" when neither
// has one). Providers are routed to it.
func (g *Gate) Region(e internalapi.KeychainEntry) string {
	if e.Region != "" {
		return e.Region
	}
	return g.server
}

// Check decides, counts the decision once, and returns a *Violation for a strict denial.
func (g *Gate) Check(e internalapi.KeychainEntry) (string, error) {
	region := g.Region(e)
	policy := Policy(e.Residency)
	d := Decide(policy, region, g.server, e.AllowedRegions)
	if g.metrics != nil {
		g.metrics.checks.WithLabelValues(policy, d).Inc()
	}
	if d == ViolationBlocked {
		return d, &Violation{Credential: e.Name, EntryRegion: region, ServerRegion: g.server, Entry: e}
	}
	return d, nil
}
