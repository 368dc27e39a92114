package resolve

import "context"
import "fmt"
import "log/slog"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/noetl/controlplane/services/wallet/internal/keychain"
import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/services/wallet/internal/residency"
import "github.com/noetl/controlplane/services/wallet/internal/wallettest"
import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/testkit"

// testClock is a clock the test moves; the resolver's background refreshes read it too.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// minter is a dynamic provider: every fetch mints "MINTED-<n>-S3CRET", valid for an hour
// from the clock. hold makes the next fetches wait, after announcing themselves on
// entered, until release (or their context ends); fail makes them fail.
type minter struct {
	clock   *testClock
	mu      sync.Mutex
	n       int
	fail    error
	hold    chan struct{}
	entered chan struct{}
}

func (m *minter) Fetch(ctx context.Context, _ string) (providers.Secret, error) {
	m.mu.Lock()
	hold, entered := m.hold, m.entered
	m.mu.Unlock()
	if hold != nil {
		entered <- struct{}{}
		select {
		case <-hold:
		case <-ctx.Done():
			return providers.Secret{}, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	if m.fail != nil {
		return providers.Secret{}, m.fail
	}
	exp := m.clock.now().Add(time.Hour)
	return providers.Secret{Value: fmt.Sprintf("MINTED-%d-S3CRET", m.n), ExpiresAt: &exp}, nil
}

func (m *minter) minted() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// holdFetches makes the following fetches wait until the returned release is called.
func (m *minter) holdFetches() (release func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hold, m.entered = make(chan struct{}), make(chan struct{}, 16)
	hold := m.hold
	return func() {
		m.mu.Lock()
		m.hold = nil
		m.mu.Unlock()
		close(hold)
	}
}

func (m *minter) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// waitEntered waits until a held fetch has started.
func (m *minter) waitEntered(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	entered := m.entered
	m.mu.Unlock()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("no fetch started")
	}
}

type refreshFixture struct {
	r       *Resolver
	clock   *testClock
	minter  *minter
	metrics *Metrics
	logs    *testkit.LogBuffer
	cache   Cache
}

// newRefreshFixture is a resolver whose every provider is one minter, with the entries
// "sts" (aws_sts) and "kv" (vault), a refresh window and a clock the test moves. cache
// nil is the in-memory cache.
func newRefreshFixture(t *testing.T, window time.Duration, cache Cache, start time.Time) *refreshFixture {
	t.Helper()
	prom := prometheus.NewRegistry()
	f := &refreshFixture{clock: &testClock{t: start}, logs: &testkit.LogBuffer{}, metrics: NewMetrics(prom), cache: cache}
	f.minter = &minter{clock: f.clock}
	if f.cache == nil {
		f.cache = newMemCache(f.clock.now)
	}
	defs := &fakeDefs{defs: map[string]internalapi.KeychainDefinition{}}
	for name, provider := range map[string]string{"sts": "aws_sts", "kv": "vault"} {
		defs.defs[name] = internalapi.KeychainDefinition{CatalogID: 7,
			Entry: internalapi.KeychainEntry{Name: name, Provider: provider, Map: map[string]string{"creds": ""}}}
	}
	reg := providers.NewRegistry(func(string, string) (providers.Provider, error) { return f.minter, nil },
		0, providers.NewRegistryMetrics(prom))
	f.r = New(Options{
		Definitions: defs, Cache: f.cache, Registry: reg, Gate: residency.NewGate("eu", residency.NewMetrics(prom)),
		Metrics: f.metrics, SafetyMargin: 60 * time.Second, RefreshWindow: window,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	f.r.now = f.clock.now
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.r.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// resolve resolves alias for the execution and checks where the value came from.
func (f *refreshFixture) resolve(t *testing.T, alias string, exec int64, wantCached bool, want string) {
	t.Helper()
	res, err := f.r.ForExecution(context.Background(), alias, exec)
	if err != nil {
		t.Fatalf("resolve %s: %v", alias, err)
	}
	if got := `{"creds":"` + want + `"}`; string(res.Data) != got || res.Cached != wantCached {
		t.Fatalf("resolve %s = %s (cached %v), want %s (cached %v)", alias, res.Data, res.Cached, got, wantCached)
	}
}

// waitRefreshes waits until no background refresh is running.
func (f *refreshFixture) waitRefreshes(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { f.r.refresh.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("background refreshes still running after 30 s")
	}
}

// refreshes is noetl_secret_refresh_total as triggered/succeeded/failed/stampede_collapsed.
func (f *refreshFixture) refreshes() string {
	var parts []string
	for _, o := range []string{RefreshTriggered, RefreshSucceeded, RefreshFailed, RefreshStampedeCollapsed} {
		parts = append(parts, fmt.Sprint(testutil.ToFloat64(f.metrics.refreshes.WithLabelValues(o))))
	}
	return strings.Join(parts, "/")
}

// The cache row of a value minted for an hour lives 600 s (the default TTL caps it). A
// hit in the last 60 s of the row answers the cached value and mints the next one in the
// background, which then replaces it; a hit before the window refreshes nothing.
func TestRefreshBeforeExpiry(t *testing.T) {
	t.Parallel()
	f := newRefreshFixture(t, 60*time.Second, nil, time.Unix(1_800_000_000, 0))
	f.resolve(t, "sts", 42, false, "MINTED-1-S3CRET")

	f.clock.advance(DefaultCacheTTL - 61*time.Second) // 61 s left: before the window
	f.resolve(t, "sts", 42, true, "MINTED-1-S3CRET")
	f.waitRefreshes(t)
	if got := f.refreshes(); got != "0/0/0/0" || f.minter.minted() != 1 {
		t.Fatalf("before the window: refreshes %s, minted %d", got, f.minter.minted())
	}

	f.clock.advance(time.Second) // 60 s left: inside the window
	f.resolve(t, "sts", 42, true, "MINTED-1-S3CRET")
	f.waitRefreshes(t)
	if got := f.refreshes(); got != "1/1/0/0" || f.minter.minted() != 2 {
		t.Fatalf("in the window: refreshes %s (triggered/succeeded/failed/collapsed), minted %d, want 1/1/0/0 and 2", got, f.minter.minted())
	}
	// The new value is cached for a full row lifetime from the refresh: read at the same
	// time, it is answered from the cache and not refreshed again.
	f.resolve(t, "sts", 42, true, "MINTED-2-S3CRET")
	f.waitRefreshes(t)
	if got := f.refreshes(); got != "1/1/0/0" {
		t.Errorf("after the refresh: refreshes %s, want no new one", got)
	}
	if n := testutil.CollectAndCount(f.metrics.refreshDuration); n != 1 {
		t.Errorf("refresh duration series = %d", n)
	}
	if got := testutil.ToFloat64(f.metrics.resolves.WithLabelValues("aws_sts", "eu", StatusOK)); got != 2 {
		t.Errorf("resolve_total{aws_sts,eu,ok} = %v, want 2 (the refresh is a provider call)", got)
	}
	if strings.Contains(f.logs.String(), "S3CRET") {
		t.Errorf("a log line holds a value: %s", f.logs)
	}
}

// Only a dynamic provider's value inside an enabled window is refreshed.
func TestNoRefresh(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		alias  string
		window time.Duration
		left   time.Duration // time left on the row at the second read
	}{
		{"static provider", "kv", 60 * time.Second, 30 * time.Second},
		{"window disabled", "sts", 0, time.Second},
		{"before the window", "sts", 60 * time.Second, 61 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newRefreshFixture(t, tc.window, nil, time.Unix(1_800_000_000, 0))
			f.resolve(t, tc.alias, 42, false, "MINTED-1-S3CRET")
			f.clock.advance(DefaultCacheTTL - tc.left)
			f.resolve(t, tc.alias, 42, true, "MINTED-1-S3CRET")
			f.waitRefreshes(t)
			if got := f.refreshes(); got != "0/0/0/0" || f.minter.minted() != 1 {
				t.Errorf("refreshes %s, minted %d: want none", got, f.minter.minted())
			}
		})
	}
}

// One refresh per cache row at a time: a second hit while the row's refresh runs is
// answered from the cache and collapsed into it; another execution's row (another cache
// key) refreshes on its own.
func TestRefreshSingleFlight(t *testing.T) {
	t.Parallel()
	f := newRefreshFixture(t, 60*time.Second, nil, time.Unix(1_800_000_000, 0))
	f.resolve(t, "sts", 42, false, "MINTED-1-S3CRET")
	f.resolve(t, "sts", 43, false, "MINTED-2-S3CRET")
	f.clock.advance(DefaultCacheTTL - 30*time.Second)

	release := f.minter.holdFetches()
	f.resolve(t, "sts", 42, true, "MINTED-1-S3CRET")
	f.minter.waitEntered(t) // execution 42's refresh is running
	f.resolve(t, "sts", 42, true, "MINTED-1-S3CRET")
	f.resolve(t, "sts", 42, true, "MINTED-1-S3CRET")
	f.resolve(t, "sts", 43, true, "MINTED-2-S3CRET")
	f.minter.waitEntered(t) // execution 43's
	if got := f.refreshes(); got != "4/0/0/2" {
		t.Errorf("while held: refreshes %s, want 4 triggered, 2 collapsed", got)
	}
	release()
	f.waitRefreshes(t)
	if got := f.refreshes(); got != "4/2/0/2" || f.minter.minted() != 4 {
		t.Errorf("refreshes %s, minted %d: want two refreshes, one per execution", got, f.minter.minted())
	}
	res42, err := f.r.ForExecution(context.Background(), "sts", 42)
	if err != nil {
		t.Fatal(err)
	}
	res43, err := f.r.ForExecution(context.Background(), "sts", 43)
	if err != nil {
		t.Fatal(err)
	}
	if !res42.Cached || !res43.Cached || string(res42.Data) == string(res43.Data) ||
		strings.Contains(string(res42.Data), "MINTED-1-") || strings.Contains(string(res43.Data), "MINTED-2-") {
		t.Errorf("after the refreshes: 42 = %s, 43 = %s, want each execution's own new value", res42.Data, res43.Data)
	}
}

// A failed refresh keeps the cached value until its row expires, is counted and logged
// without the value; after the row expires the next read fetches synchronously.
func TestRefreshFailureKeepsTheValue(t *testing.T) {
	t.Parallel()
	f := newRefreshFixture(t, 60*time.Second, nil, time.Unix(1_800_000_000, 0))
	f.resolve(t, "sts", 42, false, "MINTED-1-S3CRET")
	f.minter.setFail(providers.Errorf(providers.ErrDenied, "aws_sts: AssumeRoleWithWebIdentity: AccessDenied: not authorized"))
	f.clock.advance(DefaultCacheTTL - 10*time.Second)
	for range 2 {
		f.resolve(t, "sts", 42, true, "MINTED-1-S3CRET")
		f.waitRefreshes(t)
	}
	if got := f.refreshes(); got != "2/0/2/0" {
		t.Errorf("refreshes %s, want two failed", got)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "keychain.refresh failed") || !strings.Contains(logs, "AccessDenied") || !strings.Contains(logs, "alias=sts") {
		t.Errorf("no failure log naming the alias and the cause: %s", logs)
	}
	if strings.Contains(logs, "S3CRET") {
		t.Errorf("a log line holds a value: %s", logs)
	}
	f.minter.setFail(nil)
	f.clock.advance(10 * time.Second) // the row has expired
	f.resolve(t, "sts", 42, false, "MINTED-4-S3CRET")
}

// Close cancels a running refresh (the cached value stays), and no refresh starts after it.
func TestCloseStopsRefreshes(t *testing.T) {
	t.Parallel()
	f := newRefreshFixture(t, 60*time.Second, nil, time.Unix(1_800_000_000, 0))
	f.resolve(t, "sts", 42, false, "MINTED-1-S3CRET")
	f.clock.advance(DefaultCacheTTL - 10*time.Second)
	release := f.minter.holdFetches()
	defer release()
	f.resolve(t, "sts", 42, true, "MINTED-1-S3CRET")
	f.minter.waitEntered(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := f.refreshes(); got != "1/0/1/0" {
		t.Errorf("refreshes %s, want the running one failed (cancelled)", got)
	}
	f.resolve(t, "sts", 42, true, "MINTED-1-S3CRET")
	f.waitRefreshes(t)
	if got := f.refreshes(); got != "1/0/1/0" || f.minter.minted() != 1 {
		t.Errorf("after Close: refreshes %s, minted %d, want nothing new", got, f.minter.minted())
	}
}

// Through the keychain table on PostgreSQL: the refreshed value replaces the row, sealed,
// with the new expiry. The clock starts at the wall clock so that the database, which
// decides whether a row has expired, sees the row live throughout.
func TestRefreshThroughTheKeychainTable(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	kc := keychain.NewService(keychain.NewStore(s.Pool), wallettest.Ring(t, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "v1", ""), nil, nil)
	start := time.Now().UTC().Truncate(time.Second)
	f := newRefreshFixture(t, 60*time.Second, kc, start)
	f.resolve(t, "sts", 42, false, "MINTED-1-S3CRET")
	f.clock.advance(DefaultCacheTTL - 20*time.Second)
	f.resolve(t, "sts", 42, true, "MINTED-1-S3CRET")
	f.waitRefreshes(t)
	if got := f.refreshes(); got != "1/1/0/0" {
		t.Fatalf("refreshes %s: %s", got, f.logs)
	}
	ctx := testkit.Context(t, 30*time.Second)
	data, exp, ok, err := kc.Cached(ctx, 7, "sts", 42)
	if err != nil || !ok || string(data) != `{"creds":"MINTED-2-S3CRET"}` {
		t.Fatalf("cached = %s, %v, %v", data, ok, err)
	}
	if want := f.clock.now().Add(DefaultCacheTTL); exp == nil || !exp.Equal(want) {
		t.Errorf("row expiry = %v, want %v", exp, want)
	}
	if raw := testkit.QueryOne[string](t, s, `SELECT data_encrypted FROM keychain WHERE cache_key = 'sts:7:42'`); strings.Contains(raw, "S3CRET") {
		t.Errorf("refreshed value stored in plaintext: %s", raw)
	}
}

func TestInRefreshWindow(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	at := func(s int64) *time.Time { v := time.Unix(s, 0); return &v }
	for _, tc := range []struct {
		name    string
		expires *time.Time
		window  time.Duration
		want    bool
	}{
		{"no expiry", nil, 60 * time.Second, false},
		{"expired", at(990), 60 * time.Second, false},
		{"expiring now", at(1000), 60 * time.Second, false},
		{"far", at(2000), 60 * time.Second, false},
		{"inside", at(1030), 60 * time.Second, true},
		{"at the window's start", at(1060), 60 * time.Second, true},
		{"just before it", at(1061), 60 * time.Second, false},
		{"window disabled", at(1030), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := inRefreshWindow(tc.expires, tc.window, now); got != tc.want {
				t.Errorf("inRefreshWindow = %v, want %v", got, tc.want)
			}
		})
	}
}
