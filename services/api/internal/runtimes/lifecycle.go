package runtimes

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "log/slog"
import "os"
import "time"

import "github.com/noetl/controlplane/services/api/internal/clock"

// SelfConfig describes the api's own runtime row.
type SelfConfig struct {
	Name         string // instance name, e.g. noetl-control-plane@host:pid
	LogicalName  string // NOETL_SERVER_NAME
	URI          string
	AutoRecreate bool          // NOETL_AUTO_RECREATE_RUNTIME
	Sweep        time.Duration // NOETL_RUNTIME_SWEEP_INTERVAL
	OfflineAfter time.Duration // NOETL_RUNTIME_OFFLINE_SECONDS
	Clock        clock.Clock   // nil: the wall clock
}

// InstanceName is NOETL_SERVER_INSTANCE_NAME, else "<server name>@<hostname>:<pid>"
// (the Python server's convention).
func InstanceName(explicit, serverName string) string {
	if explicit != "" {
		return explicit
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s:%d", serverName, host, os.Getpid())
}

// SweepHook runs after every sweep with the offline threshold and how long the api has
// watched (see Lifecycle.Watched); the command layer uses it to make commands of dead
// workers claimable again, and to hand back lapsed claims.
type SweepHook func(ctx context.Context, offlineAfter, watched time.Duration) error

// WatchedForever is the watch of a caller that judges every bound as it stands (tests,
// tools): no bound is held back.
const WatchedForever = time.Duration(1<<63 - 1)

// Lifecycle keeps the api's own row alive and sweeps stale rows.
type Lifecycle struct {
	store  *Store
	ids    IDSource
	cfg    SelfConfig
	logger *slog.Logger
	hooks  []SweepHook
	// since is when this process began to watch heartbeats: its start, moved to the
	// moment the database answered again after the api could not reach it. Only the
	// loop's goroutine reads and writes it.
	since time.Time
	// down: the last contact with the database failed.
	down bool
}

// NewLifecycle returns the background loop. Its watch starts now.
func NewLifecycle(store *Store, ids IDSource, cfg SelfConfig, logger *slog.Logger, hooks ...SweepHook) *Lifecycle {
	return &Lifecycle{store: store, ids: ids, cfg: cfg, logger: logger, hooks: hooks, since: cfg.Clock.Now()}
}

// Watched is how long this process has been able to receive heartbeats: since it
// started, or since the database answered again after an outage. A worker's silence, a
// lease or an ack deadline is judged only once it is shorter than this watch: a longer
// silence may be the control plane's own (workers cannot heart-beat through a stopped
// api or database), so after a restart every claim would otherwise be requeued before
// its worker's first heartbeat arrived, and every running command run twice
// (docs/engine.md, "Claim leases").
func (l *Lifecycle) Watched() time.Duration { return l.cfg.Clock.Since(l.since) }

// contact records whether a call that reached for the database got through: the first
// success after a failure starts the watch again.
func (l *Lifecycle) contact(err error) {
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		l.down = true
	case l.down:
		l.down = false
		l.since = l.cfg.Clock.Now()
		l.logger.Info("the database answers again: lost workers and lapsed claims are judged from now on")
	}
}

// Run registers the api's row (when auto-recreate is on), then every sweep interval
// heart-beats it and marks stale rows offline, until ctx ends; then it marks the row
// offline. The database may be down at any point: each tick just tries again.
func (l *Lifecycle) Run(ctx context.Context) {
	heartbeatEvery := l.cfg.Sweep
	// Beat well inside the offline threshold so the api's own row never flaps.
	if third := l.cfg.OfflineAfter / 3; third > 0 && third < heartbeatEvery {
		heartbeatEvery = third
	}
	if l.cfg.AutoRecreate {
		l.ensureSelf(ctx)
	}
	beat := time.NewTicker(heartbeatEvery)
	sweep := time.NewTicker(l.cfg.Sweep)
	defer beat.Stop()
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if err := l.store.SetStatus(sctx, "server_api", l.cfg.Name, "offline"); err != nil {
				l.logger.Warn("could not mark own runtime row offline", slog.Any("error", err))
			}
			cancel()
			return
		case <-beat.C:
			l.beat(ctx)
		case <-sweep.C:
			l.SweepOnce(ctx)
		}
	}
}

func (l *Lifecycle) beat(ctx context.Context) {
	err := l.store.Heartbeat(ctx, "server_api", l.cfg.Name)
	l.contact(err)
	switch {
	case err == nil:
	case err == ErrNotFound && l.cfg.AutoRecreate:
		l.ensureSelf(ctx)
	case err == ErrNotFound:
	default:
		l.logger.Warn("own runtime heartbeat failed", slog.Any("error", err))
	}
}

func (l *Lifecycle) ensureSelf(ctx context.Context) {
	id, err := l.ids.Next()
	if err != nil {
		l.logger.Warn("could not mint runtime id", slog.Any("error", err))
		return
	}
	host, _ := os.Hostname()
	rt, _ := json.Marshal(map[string]any{
		"type": "server", "logical_name": l.cfg.LogicalName, "instance_name": l.cfg.Name,
		"pid": os.Getpid(), "hostname": host,
	})
	labels, _ := json.Marshal([]string{"logical:" + l.cfg.LogicalName})
	uri := l.cfg.URI
	_, err = l.store.Register(ctx, id, Registration{
		Name: l.cfg.Name, Kind: "server_api", URI: &uri, Status: "ready", Labels: labels, Runtime: rt,
	})
	l.contact(err)
	if err != nil {
		l.logger.Warn("could not register own runtime row; will retry", slog.Any("error", err))
		return
	}
	l.logger.Info("registered own runtime row", slog.String("name", l.cfg.Name))
}

// SweepOnce marks stale rows offline and runs the hooks, judging only the bounds the
// watch covers (Watched).
func (l *Lifecycle) SweepOnce(ctx context.Context) {
	watched := l.Watched()
	if l.down {
		// The database has not answered since the last contact: nothing it holds was
		// watched, so this sweep judges nothing (and, if it gets through, restarts the watch).
		watched = 0
	}
	n, err := l.store.MarkStaleOffline(ctx, l.cfg.OfflineAfter, watched)
	l.contact(err)
	if err != nil {
		l.logger.Warn("runtime sweep failed", slog.Any("error", err))
		return
	}
	if n > 0 {
		l.logger.Info("marked stale runtimes offline", slog.Int64("count", n))
	}
	for _, h := range l.hooks {
		if err := h(ctx, l.cfg.OfflineAfter, watched); err != nil {
			l.logger.Warn("sweep hook failed", slog.Any("error", err))
		}
	}
}
