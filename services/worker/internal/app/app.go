// Package app wires the worker: the control-plane client, the tools, the step runner,
// the executor and the JetStream feed, the pool registration with its heartbeat, and
// the probe/metrics listener; and it runs the shutdown: on SIGTERM the worker stops
// taking work, lets what it holds finish within NOETL_SHUTDOWN_TIMEOUT (handing back
// what does not), deregisters and exits.
package app

import "context"
import "errors"
import "fmt"
import "log/slog"
import "os"
import "sync/atomic"
import "time"

import "github.com/nats-io/nats.go/jetstream"

import "github.com/noetl/controlplane/services/worker/internal/commandfeed"
import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/credentials"
import "github.com/noetl/controlplane/services/worker/internal/executor"
import "github.com/noetl/controlplane/services/worker/internal/proc"
import "github.com/noetl/controlplane/services/worker/internal/runner"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/services/worker/internal/tools/httptool"
import "github.com/noetl/controlplane/services/worker/internal/tools/noop"
import "github.com/noetl/controlplane/services/worker/internal/tools/playbook"
import "github.com/noetl/controlplane/services/worker/internal/tools/postgres"
import "github.com/noetl/controlplane/services/worker/internal/tools/python"
import "github.com/noetl/controlplane/services/worker/internal/tools/shell"
import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/natsx"
import "github.com/noetl/controlplane/shared/service"
import "github.com/noetl/controlplane/shared/tlsx"
import "github.com/noetl/controlplane/shared/tmpl"

// Run runs the worker until ctx ends, then shuts it down gracefully.
func Run(ctx context.Context, cfg Config) error {
	base := service.New("worker", cfg.Common, cfg.Hooks)
	// The worker serves only probes and metrics, which every binary leaves open; the gate
	// is installed all the same so that a route added later is classed or refused.
	base.Authenticate(access.Tokens{})
	log := base.Logger
	workerID := cfg.ID()
	log = log.With(slog.String("worker_id", workerID))
	if err := proc.HideEnvironment(); err != nil {
		log.Warn("the worker's environment stays readable to its steps' processes", slog.Any("error", err))
	}
	if removeScratch, err := proc.Scratch(); err != nil {
		log.Warn("steps keep their temporary files in the system's temporary directory", slog.Any("error", err))
	} else {
		defer removeScratch()
	}

	key, err := sealed.GenerateSecretKey()
	if err != nil {
		return err
	}
	httpClient, err := tlsx.HTTPClient(cfg.InternalTLS, cfg.RequestTimeout.D())
	if err != nil {
		return err
	}
	plane := controlplane.New(cfg.ServerURL, httpClient, cfg.Token())
	node := ids.HashMachineID(workerID)
	if cfg.SnowflakeNode.Set {
		node = uint16(cfg.SnowflakeNode.Value)
	}
	gen, err := ids.NewGenerator(node)
	if err != nil {
		return err
	}

	py := python.New(cfg.PythonPath)
	if exe, err := py.Check(ctx); err != nil {
		log.Warn("python steps will fail: the interpreter does not run", slog.Any("error", err))
	} else {
		log.Info("python interpreter", slog.String("path", exe))
	}
	pg := postgres.New()
	defer pg.Close()
	tools := tool.Registry{
		"python": py, "http": httptool.New(), "postgres": pg, "shell": shell.New(),
		"noop": noop.New(), "playbook": playbook.New(plane),
	}
	run := runner.New(tools, tmpl.New(2048), log)
	creds := credentials.NewResolver(plane, bool(cfg.SealedCredentials), key, workerID)
	exec := executor.New(executor.Config{
		WorkerID: workerID, Concurrency: cfg.MaxConcurrent, InlineLimit: cfg.InlineResultBytes,
		// The next command of an execution comes back claimed in the answer to the
		// outcome and runs in the slot that just freed (docs/worker.md, "Eager dispatch").
		EagerCapacity: 1,
	}, plane, run, creds, gen, base.Registry, log)

	nc, err := natsx.Connect(cfg.NATSConfig(), "noetl-worker "+workerID, log)
	if err != nil {
		return fmt.Errorf("NATS_URL: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	var registered, consuming, draining atomic.Bool
	serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServe()
	probes := &listener{done: make(chan struct{})}
	go func() {
		defer close(probes.done)
		probes.err = base.Serve(serveCtx,
			httpx.Check{Name: "control_plane", Fn: flag(&registered, "not registered with the control plane yet")},
			httpx.Check{Name: "nats", Fn: func(context.Context) error {
				if !nc.IsConnected() {
					return natsx.ErrDisconnected
				}
				if !consuming.Load() {
					return errors.New("the command consumer is not ready")
				}
				return nil
			}},
			httpx.Check{Name: "draining", Fn: func(context.Context) error {
				if draining.Load() {
					return errors.New("shutting down: taking no new work")
				}
				return nil
			}},
		)
	}()

	host, _ := os.Hostname()
	m := &membership{plane: plane, log: log, every: cfg.HeartbeatInterval.D(), registered: &registered, held: exec,
		reg: controlplane.Registration{Name: workerID, PoolName: cfg.PoolName, PublicKey: sealed.EncodePublicKey(key.PublicKey()),
			Hostname: host, Capacity: cfg.MaxConcurrent, HeartbeatInterval: cfg.HeartbeatInterval.D()}}
	if err := m.register(ctx, probes); err != nil {
		stopServe()
		if ctx.Err() != nil {
			return nil // stopped before it ever took work
		}
		return err
	}
	// Heartbeats go on while the worker drains: its commands must not look lost.
	beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBeat()
	go m.heartbeat(beatCtx)

	hard, handBack := context.WithCancel(context.WithoutCancel(ctx))
	defer handBack()
	exec.Start(hard)
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	feed := commandfeed.New(js, cfg.Commands, cfg.PoolSegment, cfg.ConsumerName(), exec, log, consuming.Store)
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); feed.Run(feedCtx) }()
	log.Info("worker started", slog.String("pool", cfg.PoolName), slog.String("subjects", cfg.Commands.PoolFilter(cfg.PoolSegment)),
		slog.Int("concurrency", cfg.MaxConcurrent), slog.Bool("sealed_credentials", bool(cfg.SealedCredentials)))

	var fatal error
	select {
	case <-ctx.Done():
	case <-probes.done:
		fatal = fmt.Errorf("probe listener: %w", probes.err)
		log.Error("the probe listener failed; stopping", slog.Any("error", probes.err))
	}
	draining.Store(true)
	stopFeed()
	<-feedDone
	exec.Close()
	drained := make(chan struct{})
	go func() { exec.Wait(); close(drained) }()
	if busy := exec.Busy(); busy > 0 {
		log.Info("stopping: finishing the commands in hand", slog.Int("commands", busy), slog.Duration("grace", cfg.ShutdownGrace))
	}
	select {
	case <-drained:
	case <-time.After(cfg.ShutdownGrace):
		log.Warn("grace period over: handing back the commands still running", slog.Int("commands", exec.Busy()))
		handBack()
		<-drained
	}
	stopBeat()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if err := plane.Deregister(dctx, workerID); err != nil {
		log.Warn("could not deregister", slog.Any("error", err))
	}
	cancel()
	stopServe()
	<-probes.done
	if probes.err != nil && fatal == nil {
		fatal = probes.err
	}
	log.Info("worker stopped")
	return fatal
}

// listener is the probe server's goroutine: done closes when it returns err.
type listener struct {
	done chan struct{}
	err  error
}

func flag(b *atomic.Bool, msg string) func(context.Context) error {
	return func(context.Context) error {
		if !b.Load() {
			return errors.New(msg)
		}
		return nil
	}
}

// membership keeps the worker's row in the pool registry.
type membership struct {
	plane      *controlplane.Client
	log        *slog.Logger
	reg        controlplane.Registration
	every      time.Duration
	registered *atomic.Bool
	// held lists the commands the worker holds, which each heartbeat reports, and
	// stops those the answer says it no longer holds.
	held holder
}

// holder is what the heartbeat needs from the executor.
type holder interface {
	Holding() executor.Holding
	Release(h executor.Holding, released []int64) int
}

// register retries until the control plane takes the registration (it may start after
// the worker), ctx ends, or the listener fails.
func (m *membership) register(ctx context.Context, probes *listener) error {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.plane.Register(rctx, m.reg)
		cancel()
		if err == nil {
			m.registered.Store(true)
			m.log.Info("registered with the control plane", slog.String("server", m.plane.Base()))
			return nil
		}
		if attempt == 1 || attempt%10 == 0 {
			m.log.Warn("registration failed; retrying", slog.String("server", m.plane.Base()), slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-probes.done:
			return fmt.Errorf("probe listener: %w", probes.err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// heartbeat beats every interval; a row the registry lost is registered again. A beat
// that fails is tried again after a second, doubling up to the interval: the claims of
// the commands the worker runs lapse on the control plane unless a beat renews them, and
// when the control plane comes back from an outage longer than the lease, its first
// sweep requeues every claim not renewed since. Waiting out a whole interval (15 s)
// before the first beat after the outage lost the race to that sweep, and every
// command the pool ran was stopped here and started again elsewhere.
func (m *membership) heartbeat(ctx context.Context) {
	wait := m.every
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		switch {
		case m.beat(ctx):
			wait = m.every
		case wait == m.every:
			wait = min(time.Second, m.every)
		default:
			wait = min(2*wait, m.every)
		}
	}
}

// beat sends one heartbeat and reports whether the control plane took it.
func (m *membership) beat(ctx context.Context) bool {
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	held := m.held.Holding()
	released, err := m.plane.Heartbeat(hctx, m.reg.Name, held.IDs)
	if len(released) > 0 {
		if n := m.held.Release(held, released); n > 0 {
			m.log.Warn("the control plane says this worker no longer holds some of its commands; stopped them",
				slog.Int("commands", n))
		}
	}
	if errors.Is(err, controlplane.ErrNotRegistered) {
		err = m.plane.Register(hctx, m.reg)
		if err == nil {
			m.log.Warn("the registry had lost this worker; registered again")
		}
	}
	if err != nil && ctx.Err() == nil {
		m.log.Warn("heartbeat failed", slog.Any("error", err))
	}
	return err == nil
}
