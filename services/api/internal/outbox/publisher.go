package outbox

import "context"
import "errors"
import "fmt"
import "log/slog"
import "strconv"
import "sync"
import "time"

import "github.com/jackc/pgx/v5/pgxpool"
import "github.com/nats-io/nats.go"
import "github.com/nats-io/nats.go/jetstream"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/shared/natsx"
import "github.com/noetl/controlplane/shared/promx"

// Publisher drains the outbox to JetStream. Rows a pass wrote are handed over right
// after commit (Enqueue) and published at once; a poller picks up everything else:
// rows that failed while NATS was down, and rows whose publisher crashed.
type Publisher struct {
	pool   *pgxpool.Pool
	nc     *nats.Conn // nil: NATS not configured
	stream natsx.Commands
	log    *slog.Logger
	m      *metrics

	fast chan []Message
	kick chan bool
	// acked collects published outbox ids; one goroutine marks them in batches, so the
	// publish path never waits for the database.
	acked chan int64

	mu       sync.Mutex
	js       jetstream.JetStream
	ensured  bool
	streamOK string // the stream that covers our subjects
	// onEnsured is told the creation time of the stream each time the stream is found
	// anew (at start and after every reconnect); see OnStreamEnsured.
	onEnsured func(ctx context.Context, created time.Time)
	// created is the creation time of the stream last found: onEnsured runs only for a
	// stream it has not seen (a reconnect to the same stream republishes nothing).
	created time.Time
}

// StreamRecheck is how often the publisher looks at the command stream again without a
// reconnect: a stream deleted (and created again by a worker) while the connection
// stayed up is noticed within it.
const StreamRecheck = 10 * time.Second

// OnStreamEnsured sets what runs, on a goroutine of its own, each time the publisher
// finds the command stream anew (at start and after every NATS reconnect), with the
// stream's creation time: the api republishes the commands issued before the stream
// existed, which a NATS that lost its storage no longer holds. Set it before Run.
func (p *Publisher) OnStreamEnsured(f func(ctx context.Context, created time.Time)) { p.onEnsured = f }

// NewPublisher builds a publisher; Run starts it.
func NewPublisher(pool *pgxpool.Pool, nc *nats.Conn, stream natsx.Commands, reg prometheus.Registerer, log *slog.Logger) *Publisher {
	p := &Publisher{pool: pool, nc: nc, stream: stream, log: log, m: newMetrics(reg),
		fast: make(chan []Message, 4096), kick: make(chan bool, 1), acked: make(chan int64, 65536)}
	if nc != nil {
		js, err := jetstream.New(nc)
		if err == nil {
			p.js = js
		}
		// A reconnect may follow an outage during which rows failed: publish them now
		// rather than after their backoff, and re-check the stream. The connection's own
		// handler (natsx logs "nats reconnected") runs first.
		prev := nc.ReconnectHandler()
		nc.SetReconnectHandler(func(c *nats.Conn) {
			if prev != nil {
				prev(c)
			}
			log.Info("draining the outbox after the NATS reconnect")
			p.mu.Lock()
			p.ensured = false
			p.mu.Unlock()
			p.Kick(true)
		})
	}
	return p
}

// Enqueue hands messages committed by a pass to the publisher. It never blocks: when
// the queue is full the rows stay IN_FLIGHT and the poller reclaims them.
func (p *Publisher) Enqueue(msgs []Message) {
	if len(msgs) == 0 {
		return
	}
	select {
	case p.fast <- msgs:
	default:
	}
}

// Kick asks the poller to run now; ignoreBackoff also takes FAILED rows early.
func (p *Publisher) Kick(ignoreBackoff bool) {
	select {
	case p.kick <- ignoreBackoff:
	default:
	}
}

// Run publishes until ctx is cancelled.
func (p *Publisher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case msgs := <-p.fast:
				p.publish(ctx, msgs)
			}
		}
	}()
	go func() { defer wg.Done(); p.markLoop(ctx) }()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	maintenance := time.NewTicker(30 * time.Second)
	defer maintenance.Stop()
	recheck := time.NewTicker(StreamRecheck)
	defer recheck.Stop()
	p.EnsureStream(ctx)
	for {
		ignore := false
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case ignore = <-p.kick:
		case <-ticker.C:
		case <-recheck.C:
			p.recheckStream(ctx)
		case <-maintenance.C:
			if n, err := Prune(ctx, p.pool, time.Hour); err == nil && n > 0 {
				p.log.Debug("pruned published outbox rows", slog.Int64("rows", n))
			}
		}
		p.poll(ctx, ignore)
	}
}

func (p *Publisher) poll(ctx context.Context, ignoreBackoff bool) {
	if depth, err := Depth(ctx, p.pool); err == nil {
		p.m.depth.Set(float64(depth))
	}
	if !p.connected() {
		return
	}
	// After a reconnect the stream is looked at again even with nothing to publish: NATS
	// may have come back without it, and without the commands it held.
	p.EnsureStream(ctx)
	for {
		msgs, err := ClaimDue(ctx, p.pool, 500, 15*time.Second, ignoreBackoff)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("outbox poll failed", slog.Any("error", err))
			}
			return
		}
		if len(msgs) == 0 {
			return
		}
		p.publish(ctx, msgs)
		if len(msgs) < 500 {
			return
		}
	}
}

func (p *Publisher) connected() bool { return p.nc != nil && p.js != nil && p.nc.IsConnected() }

// EnsureStream creates (or updates) the stream the commands go to. If another stream
// already covers the subjects (one a worker created under its own name), that one is
// used as it is.
func (p *Publisher) EnsureStream(ctx context.Context) bool {
	if !p.connected() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ensured {
		return true
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	name, err := p.stream.CoveringStream(cctx, p.js)
	if err == nil && name == "" {
		// No stream covers our subjects: create ours, never update a stream of that
		// name that serves other subjects (natsx.Commands.CreateStream).
		name, err = p.stream.CreateStream(cctx, p.js)
	} else if err == nil && name == p.stream.Stream {
		_, err = p.js.CreateOrUpdateStream(cctx, p.stream.StreamConfig())
	}
	if err != nil {
		p.log.Warn("could not create the command stream; will retry", slog.String("stream", p.stream.Stream), slog.Any("error", err))
		return false
	}
	first := p.streamOK != name
	p.streamOK, p.ensured = name, true
	if p.streamEnsured(ctx, name) || first {
		if name != p.stream.Stream {
			p.log.Info("publishing to an existing stream that covers "+p.stream.Base()+".>", slog.String("stream", name))
		} else {
			p.log.Info("command stream ready", slog.String("stream", p.stream.Stream))
		}
	}
	return true
}

// recheckStream looks at the stream commands go to, without changing it: one deleted
// since it was found (and perhaps created again by a worker) holds none of the commands
// published to it before, so the next poll finds it anew, which republishes them. A
// stream that is still there is left as it is: ensuring it every StreamRecheck would
// undo an operator's edit to its settings.
func (p *Publisher) recheckStream(ctx context.Context) {
	if !p.connected() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ensured || p.streamOK == "" {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := p.js.Stream(cctx, p.streamOK)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		p.ensured = false
	case err != nil:
		// Not known either way; the next recheck asks again.
	case !p.created.IsZero() && !s.CachedInfo().Created.Equal(p.created):
		p.ensured = false
	}
}

// streamEnsured hands the stream's creation time to onEnsured when it is a stream not
// seen before (it may have come to be just now, after NATS lost what it held), and
// reports whether it was.
func (p *Publisher) streamEnsured(ctx context.Context, name string) bool {
	if p.onEnsured == nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := p.js.Stream(cctx, name)
	if err != nil {
		p.log.Warn("could not read the command stream's creation time; commands issued before it are not republished", slog.Any("error", err))
		return false
	}
	created := s.CachedInfo().Created
	if created.Equal(p.created) {
		return false
	}
	p.created = created
	go p.onEnsured(context.WithoutCancel(ctx), created)
	return true
}

// publish sends messages and records the outcome of each. The message id is the event
// id and the claim's attempt, so JetStream drops a resend of one claim's publish inside
// its duplicate window; a row claimed again is a new attempt and is delivered again.
func (p *Publisher) publish(ctx context.Context, msgs []Message) {
	if !p.connected() || !p.EnsureStream(ctx) {
		p.fail(ctx, msgs, errors.New("nats is not connected"))
		return
	}
	type pending struct {
		m   Message
		ack jetstream.PubAckFuture
	}
	var futures []pending
	var failed []Message
	var lastErr error
	for _, m := range msgs {
		nm := nats.NewMsg(m.Subject)
		nm.Data = m.Payload
		nm.Header.Set(jetstream.MsgIDHeader, strconv.FormatInt(m.EventID, 10)+":"+strconv.Itoa(m.Attempts))
		f, err := p.js.PublishMsgAsync(nm)
		if err != nil {
			failed, lastErr = append(failed, m), err
			continue
		}
		futures = append(futures, pending{m, f})
	}
	timeout := time.After(10 * time.Second)
	for _, f := range futures {
		select {
		case <-f.ack.Ok():
			p.m.lag.Observe(time.Since(f.m.CreatedAt).Seconds())
			p.m.published.Inc()
			p.acked <- f.m.OutboxID
		case err := <-f.ack.Err():
			failed, lastErr = append(failed, f.m), err
		case <-timeout:
			failed, lastErr = append(failed, f.m), errors.New("publish ack timed out")
		}
	}
	if len(failed) > 0 {
		p.fail(ctx, failed, lastErr)
	}
}

// markLoop records acknowledged publishes in batches. A row whose mark is lost (the
// process dies first) stays IN_FLIGHT, is reclaimed by the poller and published again
// under a new attempt's message id, so JetStream delivers it twice. That is harmless: a
// notification only wakes workers, and the command's claim in the database lets one of
// them take it.
func (p *Publisher) markLoop(ctx context.Context) {
	var ids []int64
	flush := func() {
		if len(ids) == 0 {
			return
		}
		if _, err := MarkPublished(context.WithoutCancel(ctx), p.pool, ids); err != nil {
			p.log.Warn("could not mark outbox rows published (they will be published again; the command claim absorbs the repeat)", slog.Any("error", err))
		}
		ids = ids[:0]
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case id := <-p.acked:
			ids = append(ids, id)
			if len(ids) >= 500 {
				flush()
			}
		case <-tick.C:
			flush()
		case <-ctx.Done():
			for {
				select {
				case id := <-p.acked:
					ids = append(ids, id)
				default:
					flush()
					return
				}
			}
		}
	}
}

func (p *Publisher) fail(ctx context.Context, msgs []Message, cause error) {
	if len(msgs) == 0 {
		return
	}
	p.m.failures.Add(float64(len(msgs)))
	// Group by attempts so each row gets its own backoff.
	byAttempts := map[int][]int64{}
	for _, m := range msgs {
		byAttempts[m.Attempts] = append(byAttempts[m.Attempts], m.OutboxID)
	}
	for attempts, ids := range byAttempts {
		if _, err := MarkFailed(context.WithoutCancel(ctx), p.pool, ids, fmt.Sprint(cause), attempts, 30); err != nil {
			p.log.Warn("could not mark outbox rows failed (they will be reclaimed)", slog.Any("error", err))
		}
	}
}

type metrics struct {
	depth     prometheus.Gauge
	lag       prometheus.Histogram
	published prometheus.Counter
	failures  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		depth: promx.Gauge(reg, "noetl_outbox_depth", "Outbox rows not yet published (sampled every second)."),
		lag: promx.Histogram(reg, "noetl_outbox_publish_lag_seconds", "Time from a command's outbox row being written to its JetStream ack.",
			[]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
		published: promx.Counter(reg, "noetl_outbox_published_total", "Command notifications acknowledged by JetStream."),
		failures:  promx.Counter(reg, "noetl_outbox_publish_failures_total", "Publish attempts that failed and were scheduled for retry."),
	}
}
