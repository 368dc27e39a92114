// Package commandfeed feeds command notifications from JetStream to the executor. The
// pool shares one durable pull consumer on <prefix>.commands.<pool>.>, so each
// notification goes to one worker of the pool at a time; a worker pulls only as many
// as it has free slots, so an idle worker is never starved by a busy one holding
// messages. A notification stays unacknowledged until its command's outcome is
// reported (the executor acknowledges it), and a worker that dies leaves it to be
// redelivered.
package commandfeed

import "context"
import "errors"
import "fmt"
import "log/slog"
import "strconv"
import "time"

import "github.com/nats-io/nats.go/jetstream"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/executor"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/natsx"

// AckWait is how long JetStream waits for an acknowledgement (or a progress signal)
// before it redelivers; the executor signals progress well inside it.
const AckWait = 30 * time.Second

// FetchWait is how long one pull waits for notifications.
const FetchWait = 2 * time.Second

// Sink takes work.
type Sink interface {
	WaitFree(ctx context.Context) (int, error)
	Submit(w executor.Work)
}

// Feed consumes a pool's notifications.
type Feed struct {
	js       jetstream.JetStream
	cmds     natsx.Commands
	pool     string
	consumer string
	sink     Sink
	log      *slog.Logger
	ready    func(bool)
}

// New returns a feed. ready is told whether the consumer is usable (readiness).
func New(js jetstream.JetStream, cmds natsx.Commands, pool, consumer string, sink Sink, log *slog.Logger, ready func(bool)) *Feed {
	if ready == nil {
		ready = func(bool) {}
	}
	return &Feed{js: js, cmds: cmds, pool: pool, consumer: consumer, sink: sink, log: log, ready: ready}
}

// Run pulls until ctx ends. NATS outages and a deleted stream or consumer are waited out
// and repaired; Run returns only when ctx ends.
func (f *Feed) Run(ctx context.Context) {
	var cons jetstream.Consumer
	failures := 0
	pause := func() bool {
		failures++
		d := min(time.Duration(failures)*250*time.Millisecond, 5*time.Second)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	for ctx.Err() == nil {
		if cons == nil {
			c, err := f.ensure(ctx)
			if err != nil {
				f.ready(false)
				if failures%20 == 0 {
					f.log.Warn("command consumer not available; retrying", slog.String("consumer", f.consumer), slog.Any("error", err))
				}
				if !pause() {
					return
				}
				continue
			}
			cons = c
			f.ready(true)
			f.log.Info("consuming commands", slog.String("subject", f.cmds.PoolFilter(f.pool)), slog.String("consumer", f.consumer))
		}
		free, err := f.sink.WaitFree(ctx)
		if err != nil {
			return
		}
		err = f.pull(cons, free)
		switch {
		case err == nil:
			failures = 0
			f.ready(true)
		case ctx.Err() != nil:
			return
		case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrConsumerDeleted),
			errors.Is(err, jetstream.ErrStreamNotFound):
			f.log.Warn("the command consumer is gone; recreating it", slog.Any("error", err))
			cons = nil
		default:
			f.ready(false)
			if failures%20 == 0 {
				f.log.Warn("pulling commands failed; retrying", slog.Any("error", err))
			}
			if !pause() {
				return
			}
		}
	}
}

// pull fetches up to max notifications and submits them.
func (f *Feed) pull(cons jetstream.Consumer, max int) error {
	// No fetch context: a pull cancelled half-way could strand delivered messages
	// until AckWait. A stopping worker waits at most FetchWait for the last pull.
	batch, err := cons.Fetch(max, jetstream.FetchMaxWait(FetchWait))
	if err != nil {
		return err
	}
	for msg := range batch.Messages() {
		f.submit(msg)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
		return err
	}
	return nil
}

func (f *Feed) submit(msg jetstream.Msg) {
	note, err := Parse(msg.Data())
	if err != nil {
		// Redelivering a payload that cannot be read helps no one.
		f.log.Error("dropping an unreadable command notification", slog.String("subject", msg.Subject()), slog.Any("error", err))
		_ = msg.Term()
		return
	}
	deliveries := 1
	if md, err := msg.Metadata(); err == nil {
		deliveries = int(md.NumDelivered)
	}
	f.sink.Submit(executor.Work{Note: note, Delivery: delivery{msg}, Deliveries: deliveries})
}

// Parse reads a notification: {execution_id, event_id, command_id, step, server_url},
// ids as numbers or decimal strings.
func Parse(b []byte) (executor.Notification, error) {
	m, err := jsonx.DecodeObject(b)
	if err != nil {
		return executor.Notification{}, err
	}
	var n executor.Notification
	var ok bool
	if n.ExecutionID, ok = controlplane.IDOf(m["execution_id"]); !ok {
		return n, fmt.Errorf("notification without a valid execution_id")
	}
	if n.EventID, ok = controlplane.IDOf(m["event_id"]); !ok {
		return n, fmt.Errorf("notification without a valid event_id")
	}
	switch c := m["command_id"].(type) {
	case string:
		n.CommandID = c
	case int64:
		n.CommandID = strconv.FormatInt(c, 10)
	}
	n.Step, _ = m["step"].(string)
	n.ServerURL, _ = m["server_url"].(string)
	return n, nil
}

// ensure finds (or creates) the stream of the prefix and creates or updates the pool's
// durable consumer.
func (f *Feed) ensure(ctx context.Context) (jetstream.Consumer, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := f.cmds.CoveringStream(cctx, f.js)
	if err != nil {
		return nil, err
	}
	if stream == "" {
		// The api creates it at startup; a worker that comes first creates the same one.
		if stream, err = f.cmds.CreateStream(cctx, f.js); err != nil {
			return nil, err
		}
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       f.consumer,
		Description:   "noetl-worker pool " + f.pool,
		FilterSubject: f.cmds.PoolFilter(f.pool),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       AckWait,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 10000,
	}
	c, err := f.js.CreateOrUpdateConsumer(cctx, stream, cfg)
	if err == nil {
		return c, nil
	}
	// An existing consumer with settings that cannot change is used as it is.
	if existing, gerr := f.js.Consumer(cctx, stream, f.consumer); gerr == nil {
		f.log.Warn("using the existing consumer as it is", slog.String("consumer", f.consumer), slog.Any("update_error", err))
		return existing, nil
	}
	return nil, fmt.Errorf("consumer %s on %s: %w", f.consumer, stream, err)
}

// delivery acknowledges through JetStream.
type delivery struct{ msg jetstream.Msg }

func (d delivery) Ack()                    { _ = d.msg.Ack() }
func (d delivery) Nak(delay time.Duration) { _ = d.msg.NakWithDelay(delay) }
func (d delivery) InProgress()             { _ = d.msg.InProgress() }
