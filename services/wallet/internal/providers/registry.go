package providers

import "sync"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/promx"

// BuildFunc builds the provider of a canonical id for a region ("" when neither the
// entry nor the server has one).
type BuildFunc func(provider, region string) (Provider, error)

// RegistryMetrics is noetl_secret_provider_build_total.
type RegistryMetrics struct {
	builds *prometheus.CounterVec
	region func(string) string
}

// MaxRegionLabels bounds the region label of the wallet's provider metrics: a keychain
// entry's region is written by whoever registers the playbook.
const MaxRegionLabels = 64

// RegionLabeler returns the region label of a provider metric: the region ("-" for
// none) for the first MaxRegionLabels regions it is given, promx.Other for later ones.
func RegionLabeler() func(string) string {
	seen := promx.NewFirstSeen(MaxRegionLabels)
	return func(region string) string { return seen.Label(internalapi.RegionLabel(region)) }
}

// Outcomes of a registry lookup.
const (
	BuildCacheHit = "cache_hit"
	BuildOK       = "ok"
	BuildError    = "error"
)

// NewRegistryMetrics registers the counter.
func NewRegistryMetrics(reg prometheus.Registerer) *RegistryMetrics {
	return &RegistryMetrics{builds: promx.CounterVec(reg, "noetl_secret_provider_build_total",
		"ProviderRegistry get_or_build outcomes per (provider, region).",
		"provider", "region", "status"), region: RegionLabeler()}
}

func (m *RegistryMetrics) inc(provider, region, status string) {
	if m != nil {
		m.builds.WithLabelValues(provider, m.region(region), status).Inc()
	}
}

// Registry builds one provider per (provider, region) and reuses it, so that a fetch does
// not re-read the environment, re-parse CA bundles and start a new HTTP client. With a
// TTL an entry older than the TTL is rebuilt on its next use (NOETL_SECRET_PROVIDER_TTL_
// SECONDS); without one it lives as long as the process. A failed build is not cached,
// nor is one past MaxProviders (regions come from playbooks: a provider kept for each
// would grow the wallet without bound).
type Registry struct {
	build   BuildFunc
	ttl     time.Duration
	metrics *RegistryMetrics
	now     func() time.Time

	mu      sync.RWMutex
	entries map[registryKey]registryEntry
}

// MaxProviders bounds the providers a registry keeps.
const MaxProviders = 256

type registryKey struct{ provider, region string }

type registryEntry struct {
	p     Provider
	built time.Time
}

// NewRegistry returns an empty registry; ttl 0 means entries never go stale.
func NewRegistry(build BuildFunc, ttl time.Duration, m *RegistryMetrics) *Registry {
	return &Registry{build: build, ttl: ttl, metrics: m, now: time.Now, entries: map[registryKey]registryEntry{}}
}

func (r *Registry) fresh(e registryEntry, ok bool) bool {
	return ok && (r.ttl <= 0 || r.now().Sub(e.built) <= r.ttl)
}

// Get returns the provider for (provider, region), building it on first use or when it
// went stale. provider must be canonical.
func (r *Registry) Get(provider, region string) (Provider, error) {
	k := registryKey{provider, region}
	r.mu.RLock()
	e, ok := r.entries[k]
	r.mu.RUnlock()
	if r.fresh(e, ok) {
		r.metrics.inc(provider, region, BuildCacheHit)
		return e.p, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[k]; r.fresh(e, ok) { // built by another caller meanwhile
		r.metrics.inc(provider, region, BuildCacheHit)
		return e.p, nil
	}
	p, err := r.build(provider, region)
	if err != nil {
		r.metrics.inc(provider, region, BuildError)
		return nil, err
	}
	if _, ok := r.entries[k]; ok || len(r.entries) < MaxProviders {
		r.entries[k] = registryEntry{p: p, built: r.now()}
	}
	r.metrics.inc(provider, region, BuildOK)
	return p, nil
}

// Len is the number of cached providers.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.entries)
}
