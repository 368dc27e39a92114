package runtimes

import "context"
import "encoding/json"
import "fmt"
import "log/slog"
import "os"
import "time"

// SelfConfig describes the api's own runtime row.
type SelfConfig struct {
	Name         string // instance name, e.g. noetl-control-plane@host:pid
	LogicalName  string // NOETL_SERVER_NAME
	URI          string
	AutoRecreate bool          // NOETL_AUTO_RECREATE_RUNTIME
	Sweep        time.Duration // NOETL_RUNTIME_SWEEP_INTERVAL
	OfflineAfter time.Duration // NOETL_RUNTIME_OFFLINE_SECONDS
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

// SweepHook runs after every sweep with the offline threshold; the command layer uses it
// to make commands of dead workers claimable again.
type SweepHook func(ctx context.Context, offlineAfter time.Duration) error

// Lifecycle keeps the api's own row alive and sweeps stale rows.
type Lifecycle struct {
	store  *Store
	ids    IDSource
	cfg    SelfConfig
	logger *slog.Logger
	hooks  []SweepHook
}

// NewLifecycle returns the background loop.
func NewLifecycle(store *Store, ids IDSource, cfg SelfConfig, logger *slog.Logger, hooks ...SweepHook) *Lifecycle {
	return &Lifecycle{store: store, ids: ids, cfg: cfg, logger: logger, hooks: hooks}
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
	if err != nil {
		l.logger.Warn("could not register own runtime row; will retry", slog.Any("error", err))
		return
	}
	l.logger.Info("registered own runtime row", slog.String("name", l.cfg.Name))
}

// SweepOnce marks stale rows offline and runs the hooks.
func (l *Lifecycle) SweepOnce(ctx context.Context) {
	n, err := l.store.MarkStaleOffline(ctx, l.cfg.OfflineAfter)
	if err != nil {
		l.logger.Warn("runtime sweep failed", slog.Any("error", err))
		return
	}
	if n > 0 {
		l.logger.Info("marked stale runtimes offline", slog.Int64("count", n))
	}
	for _, h := range l.hooks {
		if err := h(ctx, l.cfg.OfflineAfter); err != nil {
			l.logger.Warn("sweep hook failed", slog.Any("error", err))
		}
	}
}
