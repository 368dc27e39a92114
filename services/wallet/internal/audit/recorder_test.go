package audit

import "context"
import "errors"
import "io"
import "log/slog"
import "sync"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import dto "github.com/prometheus/client_model/go"

import "github.com/noetl/controlplane/shared/httpx"

type seqIDs struct {
	mu sync.Mutex
	n  int64
}

func (s *seqIDs) Next() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.n, nil
}

// gateWriter blocks every Insert until release is closed, then fails or succeeds.
type gateWriter struct {
	release chan struct{}
	fail    bool
	mu      sync.Mutex
	got     []Event
}

func (g *gateWriter) Insert(ctx context.Context, e Event) error {
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	if g.fail {
		return errors.New("table is read-only")
	}
	g.mu.Lock()
	g.got = append(g.got, e)
	g.mu.Unlock()
	return nil
}

func newRecorder(t *testing.T, w Writer, strict bool, queue int) (*Recorder, *Metrics) {
	t.Helper()
	m := NewMetrics(prometheus.NewRegistry())
	r := NewRecorder(Options{Writer: w, IDs: &seqIDs{}, Strict: strict, ServerRegion: "r1", QueueSize: queue,
		Metrics: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return r, m
}

func count(m *Metrics, op Operation, oc Outcome, status string) float64 {
	var d dto.Metric
	if err := m.writes.WithLabelValues(string(op), string(oc), status).Write(&d); err != nil {
		panic(err)
	}
	return d.GetCounter().GetValue()
}

// TestAsyncQueueFullDropsAndCloseDrains: a full queue drops (and counts) instead of
// blocking the caller; Close waits for what was queued.
func TestAsyncQueueFullDropsAndCloseDrains(t *testing.T) {
	t.Parallel()
	w := &gateWriter{release: make(chan struct{})}
	r, m := newRecorder(t, w, false, 2)
	ev := Event{Credential: "c", Operation: OpGetCredential, Outcome: OutcomeOK}
	start := time.Now()
	for range 6 { // one in the writer, two queued, the rest dropped
		if err := r.Record(context.Background(), ev); err != nil {
			t.Fatalf("async Record failed: %v", err)
		}
	}
	if time.Since(start) > time.Second {
		t.Error("async Record blocked on a stuck writer")
	}
	if d := count(m, OpGetCredential, OutcomeOK, StatusDroppedAsync); d < 3 {
		t.Errorf("dropped_async = %v, want >= 3", d)
	}
	close(w.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	written := count(m, OpGetCredential, OutcomeOK, StatusWritten)
	if written+count(m, OpGetCredential, OutcomeOK, StatusDroppedAsync) != 6 || written != float64(len(w.got)) {
		t.Errorf("written %v + dropped != 6 (writer got %d)", written, len(w.got))
	}
	for _, e := range w.got {
		if e.AuditID == 0 || e.ServerRegion == nil || *e.ServerRegion != "r1" || e.Time().IsZero() {
			t.Errorf("event not stamped: %+v", e)
		}
	}
	// After Close, events are dropped, never sent on the closed queue.
	if err := r.Record(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func TestStrictFailureWithholds(t *testing.T) {
	t.Parallel()
	w := &gateWriter{release: make(chan struct{}), fail: true}
	close(w.release)
	r, m := newRecorder(t, w, true, 0)
	err := r.Record(context.Background(), Event{Credential: "c", Operation: OpGetSealed, Outcome: OutcomeOK})
	var he *httpx.Error
	if !errors.As(err, &he) || he.Status != 500 || !errors.Is(err, ErrWithheld) {
		t.Fatalf("strict failure = %v, want ErrWithheld as a 500", err)
	}
	if got := count(m, OpGetSealed, OutcomeOK, StatusFailedStrict); got != 1 {
		t.Errorf("failed_strict = %v", got)
	}
	if err := r.Record(context.Background(), Event{Operation: "read_everything", Outcome: OutcomeOK}); err == nil {
		t.Error("an unknown operation was accepted")
	}
	_ = r.Close(context.Background())
}

func TestMetricsPreRegistered(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	families, err := reg.Gather()
	if err != nil || len(families) != 1 {
		t.Fatalf("Gather = %v, %v", families, err)
	}
	if n := len(families[0].GetMetric()); n != len(Operations)*len(Outcomes)*3 {
		t.Errorf("pre-registered series = %d, want %d", n, len(Operations)*len(Outcomes)*3)
	}
}

func TestRecordReleaseWipesAWithheldValue(t *testing.T) {
	ev := Event{Credential: "db", Operation: OpGetCredential, Outcome: OutcomeError}

	ok := &gateWriter{release: make(chan struct{})}
	close(ok.release)
	strict, _ := newRecorder(t, ok, true, 0)
	value := []byte("s3cret")
	if err := RecordRelease(context.Background(), strict, ev, value); err != nil {
		t.Fatalf("RecordRelease = %v", err)
	}
	if string(value) != "s3cret" || len(ok.got) != 1 || ok.got[0].Outcome != OutcomeOK {
		t.Fatalf("value %q, rows %+v: want the value kept and one ok row", value, ok.got)
	}

	failing := &gateWriter{release: make(chan struct{}), fail: true}
	close(failing.release)
	strict, _ = newRecorder(t, failing, true, 0)
	if err := RecordRelease(context.Background(), strict, ev, value); !errors.Is(err, ErrWithheld) {
		t.Fatalf("RecordRelease = %v, want ErrWithheld", err)
	}
	if string(value) != "\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("withheld value not wiped: %q", value)
	}
}
