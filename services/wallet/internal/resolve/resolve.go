// Package resolve is the keychain resolution of a credential-store miss: the alias is an
// entry of the execution's playbook `keychain:`, backed by an external secret manager.
// The order is fixed (docs/secret-providers.md, "Resolution"):
//
//  1. the entry, from the api (or, for a cross-region request, from the peer region);
//  2. the residency gate, before anything else touches the entry's secrets;
//  3. the keychain cache of the execution;
//  4. the provider, from the registry of the entry's region, one fetch per reference;
//  5. the cache write, for as long as the issuer's expiry allows.
//
// A cache hit on a dynamic provider's value close to its expiry also starts a background
// refresh of it (refresh.go).
//
// An entry without a provider skips 3-5: its `credential:` names a stored credential,
// which the caller (package credentials) reads from its own store.
package resolve

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "log/slog"
import "net/http"
import "sort"
import "strings"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/residency"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/promx"

// DefaultCacheTTL is how long a resolved value without an issuer expiry is cached.
const DefaultCacheTTL = 600 * time.Second

// ErrNoEntry means the alias is not a keychain entry of the execution's playbook (or the
// execution is unknown, or the entry names neither a provider nor a credential): the
// credential is simply not found.
var ErrNoEntry = errors.New("no keychain entry")

// ErrTemplate marks an entry whose references did not render.
var ErrTemplate = errors.New("keychain template error")

// Definitions is where entries come from (apiclient.Client).
type Definitions interface {
	KeychainEntry(ctx context.Context, executionID int64, alias string) (internalapi.KeychainDefinition, bool, error)
}

// Cache is the keychain cache of resolved values (keychain.Service), scoped to one
// execution. Cached answers the row's expiry with the value (nil: never expires).
type Cache interface {
	Cached(ctx context.Context, catalogID int64, alias string, executionID int64) ([]byte, *time.Time, bool, error)
	Remember(ctx context.Context, catalogID int64, alias string, executionID int64, data []byte, expiresAt time.Time) error
}

// Registry hands out providers (providers.Registry).
type Registry interface {
	Get(provider, region string) (providers.Provider, error)
}

// Result is a resolved entry.
type Result struct {
	// Data is a JSON string (an entry whose name is the reference) or a JSON object of
	// strings (an entry with a map).
	Data     json.RawMessage
	Provider string
	Region   string
	Cached   bool
	// Credential is set, and Data empty, when the entry stands for a stored credential
	// (`credential:` on an entry without a provider): the caller answers with that
	// credential's data.
	Credential string
}

// Options configure a Resolver.
type Options struct {
	Definitions Definitions
	Cache       Cache
	Registry    Registry
	Gate        *residency.Gate
	Metrics     *Metrics
	Logger      *slog.Logger
	// SafetyMargin is KEYCHAIN_CACHE_DYNAMIC_SAFETY_MARGIN_SECS.
	SafetyMargin time.Duration
	// RefreshWindow is KEYCHAIN_CACHE_REFRESH_WINDOW_SECS: a dynamic provider's cached
	// value read this close to its row's expiry is refreshed in the background. 0: never.
	RefreshWindow time.Duration
}

// Resolver resolves keychain entries. Close it to stop its background refreshes.
type Resolver struct {
	o       Options
	now     func() time.Time // the clock; tests fix it
	refresh *refresher
}

// New returns a resolver.
func New(o Options) *Resolver {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Resolver{o: o, now: time.Now, refresh: newRefresher()}
}

// ForExecution resolves alias as an entry of the playbook executionID runs.
func (r *Resolver) ForExecution(ctx context.Context, alias string, executionID int64) (Result, error) {
	def, found, err := r.o.Definitions.KeychainEntry(ctx, executionID, alias)
	if err != nil {
		return Result{}, httpx.WithStatus(http.StatusBadGateway,
			fmt.Sprintf("could not read keychain entry '%s' of execution %d from the api", alias, executionID), err)
	}
	if !found {
		return Result{}, ErrNoEntry
	}
	catalogID := int64(def.CatalogID)
	return r.resolve(ctx, def.Entry, def.TemplateError, &cacheSlot{catalogID: catalogID, executionID: executionID})
}

// ForEntry resolves an entry a peer region read from its own api (the cross-region
// broker path). Nothing is cached: the playbook and its catalog row live in the peer's
// database, and the value must not outlive the request here anyway.
func (r *Resolver) ForEntry(ctx context.Context, e internalapi.KeychainEntry) (Result, error) {
	return r.resolve(ctx, e, "", nil)
}

type cacheSlot struct{ catalogID, executionID int64 }

func (r *Resolver) resolve(ctx context.Context, e internalapi.KeychainEntry, templateErr string, slot *cacheSlot) (Result, error) {
	if _, err := r.o.Gate.Check(e); err != nil {
		return Result{}, httpx.WithStatus(http.StatusForbidden, err.Error(), err)
	}
	region := r.o.Gate.Region(e)
	if e.Provider == "" {
		return indirect(e, templateErr)
	}
	id, supported := providers.Canonical(e.Provider)
	// The region becomes a registry key, a metric label and part of the provider's
	// request URLs, and the playbook's author writes it: refused here before any of them.
	if err := providers.CheckRegion(region); region != "" && err != nil {
		return Result{}, statusOf(e.Name, err)
	}
	res := Result{Provider: id, Region: region}
	if templateErr != "" {
		r.o.Metrics.resolved(id, region, StatusTemplateError)
		return Result{}, httpx.WithStatus(http.StatusUnprocessableEntity, templateErr, ErrTemplate)
	}
	if slot != nil {
		data, expiresAt, ok, err := r.o.Cache.Cached(ctx, slot.catalogID, e.Name, slot.executionID)
		switch {
		case err != nil:
			r.o.Logger.Warn("keychain cache read failed; resolving from the provider",
				slog.String("alias", e.Name), slog.Int64("execution_id", slot.executionID), slog.Any("error", err))
		case ok:
			res.Data, res.Cached = data, true
			r.maybeRefresh(e, id, region, *slot, expiresAt)
			return res, nil
		}
	}

	start := r.now()
	data, expires, err := r.fetch(ctx, e, id, supported, region)
	r.o.Metrics.observe(id, region, r.now().Sub(start))
	if err != nil {
		r.o.Metrics.resolved(id, region, StatusFetchError)
		return Result{}, err
	}
	r.o.Metrics.resolved(id, region, StatusOK)
	res.Data = data
	if slot != nil {
		r.remember(ctx, e.Name, *slot, data, expires)
	} else if expires != nil {
		r.o.Metrics.dynamicTTL(max(expires.Sub(r.now()), 0))
	}
	return res, nil
}

// indirect answers an entry without a provider: the `credential:` indirection names a
// stored credential, which the caller reads from its own store (this package has none).
// Nothing is fetched or cached here, and no provider metric moves: the stored credential
// is already in this wallet's database, and a cached copy would outlive its rotation.
func indirect(e internalapi.KeychainEntry, templateErr string) (Result, error) {
	if templateErr != "" {
		return Result{}, httpx.WithStatus(http.StatusUnprocessableEntity, templateErr, ErrTemplate)
	}
	name := strings.TrimSpace(e.Credential)
	if name == "" {
		return Result{}, ErrNoEntry
	}
	return Result{Credential: name}, nil
}

// fetch reads every reference of the entry: each map value, or the entry's name. A
// bundle's expiry is its earliest member's.
func (r *Resolver) fetch(ctx context.Context, e internalapi.KeychainEntry, id string, supported bool, region string) (json.RawMessage, *time.Time, error) {
	if !supported {
		return nil, nil, statusOf(e.Name, providers.UnsupportedError(e.Provider))
	}
	p, err := r.o.Registry.Get(id, region)
	if err != nil {
		return nil, nil, statusOf(e.Name, err)
	}
	var expires *time.Time
	earliest := func(t *time.Time) {
		if t != nil && (expires == nil || t.Before(*expires)) {
			expires = t
		}
	}
	if e.Map == nil {
		s, err := p.Fetch(ctx, e.Name)
		if err != nil {
			return nil, nil, statusOf(e.Name, err)
		}
		earliest(s.ExpiresAt)
		b, err := json.Marshal(s.Value)
		return b, expires, err
	}
	keys := make([]string, 0, len(e.Map))
	for k := range e.Map {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values := make(map[string]string, len(keys))
	for _, k := range keys {
		s, err := p.Fetch(ctx, e.Map[k])
		if err != nil {
			return nil, nil, statusOf(e.Name, err)
		}
		earliest(s.ExpiresAt)
		values[k] = s.Value
	}
	b, err := json.Marshal(values) // keys sorted, like upstream's serde_json map
	return b, expires, err
}

// statusOf gives a provider failure its HTTP status (docs/secret-providers.md, "Errors").
func statusOf(alias string, err error) error {
	status := http.StatusBadGateway
	switch {
	case errors.Is(err, providers.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, providers.ErrInvalidRef):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, providers.ErrConfig):
		status = http.StatusInternalServerError
	case errors.Is(err, providers.ErrDenied), errors.Is(err, providers.ErrUpstream):
		status = http.StatusBadGateway
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	// A denial or a missing setting stays until an operator grants or configures
	// something; an outage may pass. Both answer 5xx, so the body tells them apart.
	permanent := errors.Is(err, providers.ErrDenied) || errors.Is(err, providers.ErrConfig)
	return &httpx.Error{Status: status, Msg: "keychain '" + alias + "': " + err.Error(), Err: err, Permanent: permanent}
}

// remember writes the value to the execution's cache for as long as the issuer's expiry
// allows, and reports whether it did. A failed write is logged only: the value was
// resolved and is still answered.
func (r *Resolver) remember(ctx context.Context, alias string, slot cacheSlot, data []byte, expires *time.Time) bool {
	now := r.now()
	if expires != nil {
		r.o.Metrics.dynamicTTL(max(expires.Sub(now), 0))
	}
	ttl, ok := cacheFor(expires, DefaultCacheTTL, r.o.SafetyMargin, now)
	if !ok {
		r.o.Metrics.skipped(SkipAlreadyExpired)
		r.o.Logger.Warn("keychain.cache_skip: the issuer expiry is inside the safety margin; the value is not cached",
			slog.String("alias", alias), slog.Int64("execution_id", slot.executionID))
		return false
	}
	if err := r.o.Cache.Remember(ctx, slot.catalogID, alias, slot.executionID, data, now.Add(ttl)); err != nil {
		r.o.Logger.Warn("keychain.cache_write failed", slog.String("alias", alias),
			slog.Int64("execution_id", slot.executionID), slog.Any("error", err))
		return false
	}
	return true
}

// Statuses of noetl_secret_resolve_total.
const (
	StatusOK            = "ok"
	StatusFetchError    = "provider_fetch_error"
	StatusTemplateError = "template_error"
)

// SkipAlreadyExpired is the reason of noetl_secret_cache_skip_total.
const SkipAlreadyExpired = "already_expired"

// Metrics are the resolution metrics (README.md, "Metrics").
type Metrics struct {
	resolves        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	ttl             prometheus.Histogram
	skips           *prometheus.CounterVec
	refreshes       *prometheus.CounterVec
	refreshDuration prometheus.Histogram
	region          func(string) string
}

// NewMetrics registers them.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		resolves: promx.CounterVec(reg, "noetl_secret_resolve_total",
			"Keychain-entry resolutions against external secret providers, by provider + region + outcome.", "provider", "region", "status"),
		duration: promx.HistogramVec(reg, "noetl_secret_resolve_duration_seconds",
			"Wall-clock seconds spent resolving one keychain entry against its provider.",
			[]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5}, "provider", "region"),
		ttl: promx.Histogram(reg, "noetl_secret_dynamic_ttl_seconds",
			"Issuer-reported time-to-expiry of resolved dynamic secrets (Phase 6d).", []float64{60, 300, 900, 3600, 14400, 43200}),
		skips: promx.CounterVec(reg, "noetl_secret_cache_skip_total", "Keychain-cache writes skipped by reason (Phase 6d).", "reason"),
		// Upstream's names and help texts, so that its dashboards read these.
		refreshes: promx.CounterVec(reg, "noetl_secret_refresh_total",
			"Token auto-renewal outcomes (Phase 7c).  Aliases are NOT labeled (cardinality); per-alias detail lives on the secret.refresh tracing span.", "outcome"),
		refreshDuration: promx.Histogram(reg, "noetl_secret_refresh_duration_seconds",
			"Wall-clock seconds spent in one token auto-renewal (Phase 7c).", []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5}),
		region: providers.RegionLabeler(),
	}
	promx.Zero(m.skips, []string{SkipAlreadyExpired})
	promx.Zero(m.refreshes, []string{RefreshTriggered, RefreshSucceeded, RefreshFailed, RefreshStampedeCollapsed})
	return m
}

func (m *Metrics) resolved(provider, region, status string) {
	if m != nil {
		m.resolves.WithLabelValues(provider, m.region(region), status).Inc()
	}
}

func (m *Metrics) observe(provider, region string, d time.Duration) {
	if m != nil {
		m.duration.WithLabelValues(provider, m.region(region)).Observe(d.Seconds())
	}
}

func (m *Metrics) dynamicTTL(d time.Duration) {
	if m != nil {
		m.ttl.Observe(d.Seconds())
	}
}

func (m *Metrics) skipped(reason string) {
	if m != nil {
		m.skips.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) refreshed(outcome string) {
	if m != nil {
		m.refreshes.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) refreshTook(d time.Duration) {
	if m != nil {
		m.refreshDuration.Observe(d.Seconds())
	}
}
