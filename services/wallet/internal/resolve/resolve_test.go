package resolve

import "context"
import "errors"
import "fmt"
import "net/http"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/residency"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/keychainprovider"

// fakeDefs answers one entry for every (execution, alias) it knows.
type fakeDefs struct {
	defs map[string]internalapi.KeychainDefinition // alias -> definition
	err  error
}

func (f *fakeDefs) KeychainEntry(_ context.Context, _ int64, alias string) (internalapi.KeychainDefinition, bool, error) {
	if f.err != nil {
		return internalapi.KeychainDefinition{}, false, f.err
	}
	d, ok := f.defs[alias]
	return d, ok, nil
}

// memCache is the keychain cache in memory, with the expiry each write asked for.
type memCache struct {
	mu      sync.Mutex
	now     func() time.Time
	values  map[string][]byte
	expires map[string]time.Time
	writes  int
}

func newMemCache(now func() time.Time) *memCache {
	return &memCache{now: now, values: map[string][]byte{}, expires: map[string]time.Time{}}
}

func key(catalogID int64, alias string, exec int64) string {
	return fmt.Sprintf("%s:%d:%d", alias, catalogID, exec)
}

func (c *memCache) Cached(_ context.Context, catalogID int64, alias string, exec int64) ([]byte, *time.Time, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key(catalogID, alias, exec)
	v, ok := c.values[k]
	if !ok || !c.now().Before(c.expires[k]) {
		return nil, nil, false, nil
	}
	exp := c.expires[k]
	return append([]byte(nil), v...), &exp, true, nil
}

func (c *memCache) Remember(_ context.Context, catalogID int64, alias string, exec int64, data []byte, exp time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key(catalogID, alias, exec)
	c.values[k], c.expires[k] = append([]byte(nil), data...), exp
	c.writes++
	return nil
}

// countingProvider returns "<region>:<ref>" and counts fetches.
type countingProvider struct {
	mu      sync.Mutex
	region  string
	fetches []string
	expiry  func(ref string) *time.Time
	fail    map[string]error
}

func (p *countingProvider) Fetch(_ context.Context, ref string) (providers.Secret, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetches = append(p.fetches, ref)
	if err := p.fail[ref]; err != nil {
		return providers.Secret{}, err
	}
	s := providers.Secret{Value: "VALUE(" + p.region + ":" + ref + ")"}
	if p.expiry != nil {
		s.ExpiresAt = p.expiry(ref)
	}
	return s, nil
}

type fixture struct {
	r        *Resolver
	reg      *providers.Registry
	defs     *fakeDefs
	cache    *memCache
	builds   int
	built    map[string]*countingProvider
	prom     *prometheus.Registry
	metrics  *Metrics
	now      time.Time
	provider *countingProvider // the last built
}

func newFixture(t *testing.T, serverRegion string) *fixture {
	t.Helper()
	f := &fixture{defs: &fakeDefs{defs: map[string]internalapi.KeychainDefinition{}}, built: map[string]*countingProvider{},
		prom: prometheus.NewRegistry(), now: time.Unix(1_800_000_000, 0)}
	clock := func() time.Time { return f.now }
	f.cache = newMemCache(clock)
	f.reg = providers.NewRegistry(func(id, region string) (providers.Provider, error) {
		f.builds++
		p := &countingProvider{region: region, fail: map[string]error{}}
		f.built[id+"/"+region] = p
		f.provider = p
		return p, nil
	}, 0, providers.NewRegistryMetrics(f.prom))
	f.metrics = NewMetrics(f.prom)
	f.r = New(Options{
		Definitions: f.defs, Cache: f.cache, Registry: f.reg, Gate: residency.NewGate(serverRegion, residency.NewMetrics(f.prom)),
		Metrics: f.metrics, SafetyMargin: 60 * time.Second,
	})
	f.r.now = clock
	return f
}

func (f *fixture) define(e internalapi.KeychainEntry) {
	f.defs.defs[e.Name] = internalapi.KeychainDefinition{ExecutionID: 42, CatalogID: 7, Entry: e}
}

func (f *fixture) fetches() int {
	n := 0
	for _, p := range f.built {
		n += len(p.fetches)
	}
	return n
}

// residencyChecks lists the non-zero series of noetl_secret_residency_check_total as
// policy/decision (each must be 1).
func residencyChecks(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "noetl_secret_residency_check_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				l := map[string]string{}
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				s := l["policy"] + "/" + l["decision"]
				if v != 1 {
					s += fmt.Sprintf("=%v", v)
				}
				out = append(out, s)
			}
		}
	}
	return strings.Join(out, ",")
}

// Every row of the residency decision table, through the whole resolution: the
// decision is counted once, an allowed entry is fetched from its region, and a strict
// denial never builds a provider, never fetches and records nothing but the residency
// counter.
func TestResidencyDecisionTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		server        string
		entry         internalapi.KeychainEntry
		policy, want  string
		fetchedRegion string // "" = denied
	}{
		{"none: default policy, other region", "us-east-1",
			internalapi.KeychainEntry{Region: "eu-central-1"}, "none", residency.AllowedNoPolicy, "eu-central-1"},
		{"none: explicit, no region anywhere", "",
			internalapi.KeychainEntry{Residency: "none"}, "none", residency.AllowedNoPolicy, "-"},
		{"strict without any region is no policy", "",
			internalapi.KeychainEntry{Residency: "strict"}, "strict", residency.AllowedNoPolicy, "-"},
		{"advisory: same region", "eu-central-1",
			internalapi.KeychainEntry{Region: "eu-central-1", Residency: "advisory"}, "advisory", residency.AllowedSameRegion, "eu-central-1"},
		{"advisory: entry without region is the server's", "eu-central-1",
			internalapi.KeychainEntry{Residency: "advisory"}, "advisory", residency.AllowedSameRegion, "eu-central-1"},
		{"advisory: in the allowlist", "eu-west-1",
			internalapi.KeychainEntry{Region: "eu-central-1", Residency: "advisory", AllowedRegions: []string{"eu-west-1"}}, "advisory", residency.AllowedInAllowlist, "eu-central-1"},
		{"advisory: violation let through", "us-east-1",
			internalapi.KeychainEntry{Region: "eu-central-1", Residency: "advisory"}, "advisory", residency.ViolationAllowed, "eu-central-1"},
		{"strict: same region", "eu-central-1",
			internalapi.KeychainEntry{Region: "eu-central-1", Residency: "strict"}, "strict", residency.AllowedSameRegion, "eu-central-1"},
		{"strict: in the allowlist", "eu-west-1",
			internalapi.KeychainEntry{Region: "eu-central-1", Residency: "strict", AllowedRegions: []string{"us-east-1", "eu-west-1"}}, "strict", residency.AllowedInAllowlist, "eu-central-1"},
		{"strict: other region is blocked", "us-east-1",
			internalapi.KeychainEntry{Region: "eu-central-1", Residency: "strict", AllowedRegions: []string{"eu-west-1"}}, "strict", residency.ViolationBlocked, ""},
		{"strict: a server without a region is blocked", "",
			internalapi.KeychainEntry{Region: "eu-central-1", Residency: "strict"}, "strict", residency.ViolationBlocked, ""},
		{"strict: an empty allowlist entry never matches an empty server region", "",
			internalapi.KeychainEntry{Region: "eu-central-1", Residency: "strict", AllowedRegions: []string{""}}, "strict", residency.ViolationBlocked, ""},
		{"an unknown policy from a peer is strict", "us-east-1",
			internalapi.KeychainEntry{Region: "eu-central-1", Residency: "STRICT"}, "strict", residency.ViolationBlocked, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.server)
			e := tc.entry
			e.Name, e.Provider, e.Map = "db", "vault", map[string]string{"password": "app/db#password"}
			f.define(e)
			res, err := f.r.ForExecution(context.Background(), "db", 42)

			if got := residencyChecks(t, f.prom); got != tc.policy+"/"+tc.want {
				t.Errorf("residency decisions counted: %q, want exactly %s/%s", got, tc.policy, tc.want)
			}
			if tc.fetchedRegion == "" {
				var v *residency.Violation
				if !errors.As(err, &v) || httpx.StatusOf(err) != http.StatusForbidden || v.Entry.Name != "db" {
					t.Fatalf("err = %v, want a 403 residency violation", err)
				}
				if !strings.Contains(err.Error(), "region-locked to 'eu-central-1'") || strings.Contains(err.Error(), "VALUE") {
					t.Errorf("message = %q", err)
				}
				if f.builds != 0 || f.reg.Len() != 0 || f.fetches() != 0 {
					t.Errorf("a strict denial built %d providers (registry %d) and fetched %d times", f.builds, f.reg.Len(), f.fetches())
				}
				if n := testutil.CollectAndCount(f.metrics.resolves) + testutil.CollectAndCount(f.metrics.duration); n != 0 {
					t.Errorf("a strict denial recorded %d resolve series", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			region := tc.fetchedRegion
			if region == "-" {
				region = ""
			}
			if want := `{"password":"VALUE(` + region + `:app/db#password)"}`; string(res.Data) != want || res.Provider != "vault" {
				t.Errorf("data = %s, want %s", res.Data, want)
			}
			if testutil.ToFloat64(f.metrics.resolves.WithLabelValues("vault", tc.fetchedRegion, StatusOK)) != 1 {
				t.Errorf("resolve_total{vault,%s,ok} not counted", tc.fetchedRegion)
			}
		})
	}
}

func TestCacheAndDynamicTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "eu")
	f.define(internalapi.KeychainEntry{Name: "static", Provider: "aws"})
	f.define(internalapi.KeychainEntry{Name: "short", Provider: "azure", Map: map[string]string{"a": "long-lived", "b": "expiring"}})
	ctx := context.Background()

	// A second fetch within the TTL answers from the cache.
	first, err := f.r.ForExecution(ctx, "static", 42)
	if err != nil || first.Cached || string(first.Data) != `"VALUE(eu:static)"` {
		t.Fatalf("first = %+v, %v", first, err)
	}
	f.now = f.now.Add(DefaultCacheTTL - time.Second)
	second, err := f.r.ForExecution(ctx, "static", 42)
	if err != nil || !second.Cached || string(second.Data) != string(first.Data) || f.fetches() != 1 {
		t.Fatalf("second = %+v, %v; fetches %d", second, err, f.fetches())
	}
	f.now = f.now.Add(time.Second)
	if third, _ := f.r.ForExecution(ctx, "static", 42); third.Cached || f.fetches() != 2 {
		t.Errorf("after the TTL the value came from the cache (fetches %d)", f.fetches())
	}

	// A bundle expires with its earliest member; inside the safety margin it is never
	// cached.
	_, _ = f.reg.Get(keychainprovider.Azure, "eu")
	p := f.built["azure/eu"]
	p.expiry = func(ref string) *time.Time {
		left := 10 * time.Hour
		if ref == "expiring" {
			left = 30 * time.Second
		}
		v := f.now.Add(left)
		return &v
	}
	writes := f.cache.writes
	for i := range 2 {
		res, err := f.r.ForExecution(ctx, "short", 42)
		if err != nil || res.Cached {
			t.Fatalf("fetch %d = %+v, %v", i, res, err)
		}
	}
	if len(p.fetches) != 4 || f.cache.writes != writes {
		t.Errorf("fetches = %d, cache writes = %d: a value expiring inside the margin was cached", len(p.fetches), f.cache.writes-writes)
	}
	if got := testutil.ToFloat64(f.metrics.skips.WithLabelValues(SkipAlreadyExpired)); got != 2 {
		t.Errorf("cache_skip{already_expired} = %v, want 2", got)
	}
	if got := testutil.CollectAndCount(f.metrics.ttl); got != 1 {
		t.Errorf("dynamic_ttl series = %d", got)
	}

	// An expiry beyond the margin caches until margin before it (here 5 min - 60 s).
	p.expiry = func(string) *time.Time { v := f.now.Add(5 * time.Minute); return &v }
	if _, err := f.r.ForExecution(ctx, "short", 42); err != nil {
		t.Fatal(err)
	}
	k := key(7, "short", 42)
	if got := f.cache.expires[k].Sub(f.now); got != 4*time.Minute {
		t.Errorf("cached for %v, want 4m0s", got)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "eu")
	f.define(internalapi.KeychainEntry{Name: "nomap-missing", Provider: "vault"})
	f.define(internalapi.KeychainEntry{Name: "denied", Provider: "vault"})
	f.define(internalapi.KeychainEntry{Name: "noprovider"})
	f.define(internalapi.KeychainEntry{Name: "weird", Provider: "1password"})
	f.defs.defs["tmpl"] = internalapi.KeychainDefinition{CatalogID: 7, Entry: internalapi.KeychainEntry{Name: "tmpl", Provider: "gcp"}, TemplateError: "keychain 'tmpl': map key 'b': unexpected end"}
	_, _ = f.reg.Get(keychainprovider.Vault, "eu")
	f.built["vault/eu"].fail["nomap-missing"] = providers.Errorf(providers.ErrNotFound, "vault: read 'secret/data/nomap-missing': not found")
	f.built["vault/eu"].fail["denied"] = providers.Errorf(providers.ErrDenied, "vault: read 'secret/data/denied': HTTP 403: permission denied")
	ctx := context.Background()
	for alias, want := range map[string]struct {
		status int
		is     error
	}{
		"nomap-missing": {http.StatusNotFound, providers.ErrNotFound},
		"denied":        {http.StatusBadGateway, providers.ErrDenied},
		"weird":         {http.StatusUnprocessableEntity, providers.ErrInvalidRef},
		"tmpl":          {http.StatusUnprocessableEntity, ErrTemplate},
		"noprovider":    {0, ErrNoEntry},
		"unknown-alias": {0, ErrNoEntry},
	} {
		_, err := f.r.ForExecution(ctx, alias, 42)
		if !errors.Is(err, want.is) || (want.status != 0 && httpx.StatusOf(err) != want.status) {
			t.Errorf("%s: err = %v (status %d), want %v / %d", alias, err, httpx.StatusOf(err), want.is, want.status)
		}
		// Only a denial is answered as a failure asking again cannot fix.
		var he *httpx.Error
		if permanent := errors.As(err, &he) && he.Permanent; permanent != (alias == "denied") {
			t.Errorf("%s: permanent = %v", alias, permanent)
		}
	}
	for _, c := range []struct{ provider, status string }{
		{"vault", StatusFetchError}, {"unsupported", StatusFetchError}, {"gcp", StatusTemplateError},
	} {
		if testutil.ToFloat64(f.metrics.resolves.WithLabelValues(c.provider, "eu", c.status)) < 1 {
			t.Errorf("resolve_total{%s,eu,%s} not counted", c.provider, c.status)
		}
	}
	// The duration is observed on failures too.
	if n := testutil.CollectAndCount(f.metrics.duration); n != 2 {
		t.Errorf("duration series = %d, want vault and unsupported", n)
	}
	f.defs.err = errors.New("connection refused")
	var he *httpx.Error
	if _, err := f.r.ForExecution(ctx, "denied", 42); httpx.StatusOf(err) != http.StatusBadGateway || errors.As(err, &he) && he.Permanent {
		t.Errorf("api down: %v", err)
	}
}

// A region that is not a region name (it would move the host of the provider's request
// URLs, where the wallet sends its cloud token) is refused before a provider is built
// or fetched from, and before it becomes a metric label or a registry key.
func TestRegionNotAName(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	f.define(internalapi.KeychainEntry{Name: "db", Provider: "aws_sts", Region: "evil.example/#"})
	_, err := f.r.ForExecution(context.Background(), "db", 42)
	if !errors.Is(err, providers.ErrInvalidRef) || httpx.StatusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("err = %v (status %d), want ErrInvalidRef / 422", err, httpx.StatusOf(err))
	}
	if f.builds != 0 || f.fetches() != 0 || f.cache.writes != 0 {
		t.Errorf("builds %d, fetches %d, cache writes %d; want none", f.builds, f.fetches(), f.cache.writes)
	}
	if n := testutil.CollectAndCount(f.metrics.resolves) + testutil.CollectAndCount(f.metrics.duration); n != 0 {
		t.Errorf("%d resolve series, want none", n)
	}
}

// A peer region's entry is resolved without the cache.
func TestForEntry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "eu-central-1")
	e := internalapi.KeychainEntry{Name: "db", Provider: "vault", Region: "eu-central-1", Residency: "strict"}
	for range 2 {
		res, err := f.r.ForEntry(context.Background(), e)
		if err != nil || string(res.Data) != `"VALUE(eu-central-1:db)"` {
			t.Fatalf("= %+v, %v", res, err)
		}
	}
	if f.fetches() != 2 || f.cache.writes != 0 {
		t.Errorf("fetches %d, cache writes %d", f.fetches(), f.cache.writes)
	}
	e.Region = "us-east-1"
	if _, err := f.r.ForEntry(context.Background(), e); httpx.StatusOf(err) != http.StatusForbidden {
		t.Errorf("a peer entry of another region: %v", err)
	}
}

// An entry without a provider that names a credential is answered with the name, for the
// caller to read from its store: no provider is built, nothing is fetched or cached, no
// resolve metric moves. The residency gate still runs first.
func TestCredentialIndirection(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "eu")
	f.define(internalapi.KeychainEntry{Name: "pg", Credential: " pg_prod "})
	f.define(internalapi.KeychainEntry{Name: "both", Provider: "vault", Credential: "ignored"})
	f.define(internalapi.KeychainEntry{Name: "us_pg", Credential: "pg_us", Region: "us", Residency: "strict"})
	f.defs.defs["pg_tmpl"] = internalapi.KeychainDefinition{CatalogID: 7, Entry: internalapi.KeychainEntry{Name: "pg_tmpl"},
		TemplateError: "keychain 'pg_tmpl': credential: unexpected end"}
	ctx := context.Background()
	for range 2 {
		res, err := f.r.ForExecution(ctx, "pg", 42)
		if err != nil || res.Credential != "pg_prod" || res.Data != nil || res.Cached {
			t.Fatalf("pg = %+v, %v", res, err)
		}
	}
	if res, err := f.r.ForEntry(ctx, internalapi.KeychainEntry{Name: "pg", Credential: "pg_prod"}); err != nil || res.Credential != "pg_prod" {
		t.Errorf("peer entry = %+v, %v", res, err)
	}
	if f.builds != 0 || f.cache.writes != 0 || testutil.CollectAndCount(f.metrics.resolves) != 0 {
		t.Errorf("builds %d, cache writes %d, resolve series %d: an indirection touches no provider",
			f.builds, f.cache.writes, testutil.CollectAndCount(f.metrics.resolves))
	}
	if _, err := f.r.ForExecution(ctx, "pg_tmpl", 42); !errors.Is(err, ErrTemplate) || httpx.StatusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("template error: %v", err)
	}
	if _, err := f.r.ForExecution(ctx, "us_pg", 42); httpx.StatusOf(err) != http.StatusForbidden {
		t.Errorf("strict entry of another region: %v", err)
	}
	// With a provider the provider wins; credential: is for provider-less entries.
	if res, err := f.r.ForExecution(ctx, "both", 42); err != nil || res.Credential != "" || string(res.Data) != `"VALUE(eu:both)"` {
		t.Errorf("both = %+v, %v", res, err)
	}
}
