package resolve

import "context"
import "log/slog"
import "strconv"
import "sync"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/providers"
import "github.com/noetl/controlplane/shared/internalapi"

// Refresh before expiry (docs/secret-providers.md, "Refresh before expiry"). A cached
// value of a dynamic provider read inside the refresh window before its cache row expires
// is answered as it is, and a new one is minted in the background and cached in its
// place, so that the executions of a long run keep reading from the cache instead of
// waiting for the issuer once the row has expired.

// refreshTimeout bounds one background refresh: every reference of the entry (each
// fetch has its own 10 s timeout) and the cache write.
const refreshTimeout = 60 * time.Second

// Outcomes of noetl_secret_refresh_total.
const (
	RefreshTriggered         = "triggered"
	RefreshSucceeded         = "succeeded"
	RefreshFailed            = "failed"
	RefreshStampedeCollapsed = "stampede_collapsed"
)

// refresher runs the background refreshes: at most one per cache row at a time, none
// after Close.
type refresher struct {
	mu      sync.Mutex
	running map[string]bool // cache rows being refreshed
	closed  bool
	wg      sync.WaitGroup
	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
}

func newRefresher() *refresher {
	ctx, cancel := context.WithCancel(context.Background())
	return &refresher{running: map[string]bool{}, ctx: ctx, cancel: cancel}
}

// claim reserves the row's refresh slot; false when a refresh of it is already running
// or the resolver is closed.
func (f *refresher) claim(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.running[key] {
		return false
	}
	f.running[key] = true
	f.wg.Add(1)
	return true
}

func (f *refresher) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *refresher) release(key string) {
	f.mu.Lock()
	delete(f.running, key)
	f.mu.Unlock()
	f.wg.Done()
}

// close cancels the running refreshes and waits for them (or for ctx).
func (f *refresher) close(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the background refreshes: the running ones are cancelled (their old values
// stay cached) and waited for, until ctx ends. No refresh starts afterwards. Call it
// before closing the cache's database pool.
func (r *Resolver) Close(ctx context.Context) error { return r.refresh.close(ctx) }

// inRefreshWindow reports whether a row expiring at expiresAt is inside the refresh
// window at now: not expired yet, and expiring within the window. A row without an
// expiry is never refreshed.
func inRefreshWindow(expiresAt *time.Time, window time.Duration, now time.Time) bool {
	return window > 0 && expiresAt != nil && expiresAt.After(now) && !expiresAt.Add(-window).After(now)
}

// maybeRefresh starts the background refresh of a cached value read at a cache hit when
// it is due: a dynamic provider's value inside the refresh window. It never delays the
// hit: the caller answers the cached value whatever happens here.
func (r *Resolver) maybeRefresh(e internalapi.KeychainEntry, id, region string, slot cacheSlot, expiresAt *time.Time) {
	if !providers.Dynamic(id) || !inRefreshWindow(expiresAt, r.o.RefreshWindow, r.now()) || r.refresh.isClosed() {
		return
	}
	r.o.Metrics.refreshed(RefreshTriggered)
	key := e.Name + ":" + strconv.FormatInt(slot.catalogID, 10) + ":" + strconv.FormatInt(slot.executionID, 10)
	if !r.refresh.claim(key) {
		r.o.Metrics.refreshed(RefreshStampedeCollapsed)
		return
	}
	go func() {
		defer r.refresh.release(key)
		ctx, cancel := context.WithTimeout(r.refresh.ctx, refreshTimeout)
		defer cancel()
		r.refreshNow(ctx, e, id, region, slot)
	}()
}

// refreshNow fetches the entry again and caches the new value. A failure leaves the old
// value cached until its row expires; it is counted and logged (the error names the
// alias, provider and reference, never a value).
func (r *Resolver) refreshNow(ctx context.Context, e internalapi.KeychainEntry, id, region string, slot cacheSlot) {
	start := r.now()
	defer func() { r.o.Metrics.refreshTook(r.now().Sub(start)) }()
	attrs := []any{slog.String("alias", e.Name), slog.Int64("execution_id", slot.executionID),
		slog.String("provider", id), slog.String("region", internalapi.RegionLabel(region))}

	data, expires, err := r.fetch(ctx, e, id, true, region)
	r.o.Metrics.observe(id, region, r.now().Sub(start))
	if err != nil {
		r.o.Metrics.resolved(id, region, StatusFetchError)
		r.o.Metrics.refreshed(RefreshFailed)
		r.o.Logger.Warn("keychain.refresh failed; the cached value is kept until it expires", append(attrs, slog.Any("error", err))...)
		return
	}
	r.o.Metrics.resolved(id, region, StatusOK)
	defer clear(data)
	if !r.remember(ctx, e.Name, slot, data, expires) {
		r.o.Metrics.refreshed(RefreshFailed)
		r.o.Logger.Warn("keychain.refresh could not cache the new value; the cached value is kept until it expires", attrs...)
		return
	}
	r.o.Metrics.refreshed(RefreshSucceeded)
	r.o.Logger.Debug("keychain.refresh cached a new value", attrs...)
}
