package audit

import "context"
import "errors"
import "fmt"
import "log/slog"
import "net/http"
import "sync"
import "time"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/promx"
import "github.com/noetl/controlplane/shared/wire"

// Write statuses: the status label of noetl_secret_audit_writes_total.
const (
	StatusWritten      = "written"
	StatusDroppedAsync = "dropped_async"
	StatusFailedStrict = "failed_strict"
)

// DefaultQueueSize bounds the async queue; when it is full a write is dropped (and
// counted) rather than blocking a credential fetch.
const DefaultQueueSize = 1024

// asyncWriteTimeout bounds one queued write.
const asyncWriteTimeout = 5 * time.Second

// Writer persists events (Store, or a fake in tests).
type Writer interface {
	Insert(ctx context.Context, e Event) error
}

// IDSource mints audit ids (the shared snowflake generator).
type IDSource interface {
	Next() (int64, error)
}

// Metrics is noetl_secret_audit_writes_total.
type Metrics struct {
	writes *prometheus.CounterVec
}

// NewMetrics registers the counter with every (operation, outcome, status) series at zero,
// so dashboards and alerts on failed_strict see a series before the first failure.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{writes: promx.CounterVec(reg, "noetl_secret_audit_writes_total",
		"Secret-resolution audit-write outcomes (Phase 7b).",
		"operation", "outcome", "status")}
	promx.Zero(m.writes, promx.Strings(Operations), promx.Strings(Outcomes), []string{StatusWritten, StatusDroppedAsync, StatusFailedStrict})
	return m
}

func (m *Metrics) inc(e Event, status string) {
	if m != nil {
		m.writes.WithLabelValues(string(e.Operation), string(e.Outcome), status).Inc()
	}
}

// Options configure a Recorder.
type Options struct {
	Writer Writer
	IDs    IDSource
	// Strict is NOETL_SECRET_AUDIT_REQUIRED: write before releasing the value.
	Strict bool
	// ServerRegion (NOETL_SERVER_REGION) is stamped on events that carry none.
	ServerRegion string
	QueueSize    int
	Metrics      *Metrics
	Logger       *slog.Logger
}

// Recorder records audit events.
type Recorder struct {
	o     Options
	queue chan Event
	done  chan struct{}

	mu     sync.RWMutex
	closed bool
}

// NewRecorder starts the async writer goroutine; Close drains it.
func NewRecorder(o Options) *Recorder {
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Recorder{o: o, queue: make(chan Event, o.QueueSize), done: make(chan struct{})}
	go r.drain()
	return r
}

// Strict reports whether writes are synchronous and required.
func (r *Recorder) Strict() bool { return r.o.Strict }

// ErrWithheld is answered when strict mode could not record a resolution: the value is
// not released.
var ErrWithheld = &httpx.Error{
	Status: http.StatusInternalServerError,
	Msg:    "secret audit write failed and NOETL_SECRET_AUDIT_REQUIRED is on: the credential value is withheld",
}

// Record stamps e with an audit id and time and writes it. In strict mode it writes
// synchronously and returns an error wrapping ErrWithheld when the write fails; callers
// must then not release the value. In async mode it never fails: the event is queued, and
// a full queue or failed write is counted as dropped_async.
func (r *Recorder) Record(ctx context.Context, e Event) error {
	if !validOperation(e.Operation) {
		return fmt.Errorf("audit: unknown operation %q", e.Operation)
	}
	if !validOutcome(e.Outcome) {
		e.Outcome = OutcomeError
	}
	id, err := r.o.IDs.Next()
	if err != nil {
		return r.fail(e, fmt.Errorf("mint audit id: %w", err))
	}
	e.AuditID = id
	e.OccurredAt = wire.Time(time.Now().UTC().Truncate(time.Microsecond))
	if e.ServerRegion == nil {
		e.ServerRegion = Str(r.o.ServerRegion)
	}
	if r.o.Strict {
		if err := r.o.Writer.Insert(ctx, e); err != nil {
			return r.fail(e, err)
		}
		r.o.Metrics.inc(e, StatusWritten)
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.drop(e, errors.New("audit recorder is shut down"))
		return nil
	}
	select {
	case r.queue <- e:
	default:
		r.drop(e, errors.New("audit queue is full"))
	}
	return nil
}

// EventRecorder records one event: a Recorder, or a test's stand-in. The credential and
// keychain services hold one; in strict mode Record fails when the row could not be
// written, and the value must then not be released (RecordRelease).
type EventRecorder interface {
	Record(ctx context.Context, e Event) error
}

// RecordRelease records e as a successful resolution (OutcomeOK) before value is released.
// When the record fails, which only strict mode reports, value is wiped and the error is
// returned: the caller must then not release it.
func RecordRelease(ctx context.Context, r EventRecorder, e Event, value []byte) error {
	e.Outcome = OutcomeOK
	if err := r.Record(ctx, e); err != nil {
		clear(value)
		return err
	}
	return nil
}

func (r *Recorder) fail(e Event, err error) error {
	if !r.o.Strict {
		r.drop(e, err)
		return nil
	}
	r.o.Metrics.inc(e, StatusFailedStrict)
	r.o.Logger.Error("secret audit write failed; value withheld (NOETL_SECRET_AUDIT_REQUIRED)",
		slog.String("operation", string(e.Operation)), slog.String("outcome", string(e.Outcome)),
		slog.String("credential", e.Credential), slog.Any("error", err))
	return &httpx.Error{Status: ErrWithheld.Status, Msg: ErrWithheld.Msg, Err: errors.Join(ErrWithheld, err)}
}

func (r *Recorder) drop(e Event, err error) {
	r.o.Metrics.inc(e, StatusDroppedAsync)
	r.o.Logger.Warn("secret audit write dropped",
		slog.String("operation", string(e.Operation)), slog.String("outcome", string(e.Outcome)),
		slog.String("credential", e.Credential), slog.Any("error", err))
}

func (r *Recorder) drain() {
	defer close(r.done)
	for e := range r.queue {
		ctx, cancel := context.WithTimeout(context.Background(), asyncWriteTimeout)
		err := r.o.Writer.Insert(ctx, e)
		cancel()
		if err != nil {
			r.drop(e, err)
			continue
		}
		r.o.Metrics.inc(e, StatusWritten)
	}
}

// Close stops accepting events and waits, up to ctx, for the queue to drain.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit queue not drained: %w", ctx.Err())
	}
}
