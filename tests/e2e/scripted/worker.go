// Package scripted is the conformance suite's scripted worker: a worker that speaks the
// real protocol (register, heartbeat, claim, events) over HTTP and finds its commands
// through NATS JetStream and the event log, but instead of running tools it finishes
// each command with an outcome scripted per step. It serves one execution at a time and
// never claims another execution's commands, so several can run side by side.
//
// It imports nothing from the services: it sees the control plane only from the wire.
package scripted

import "bytes"
import "context"
import "crypto/rand"
import "encoding/hex"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "net"
import "net/http"
import "strconv"
import "strings"
import "sync"
import "sync/atomic"
import "time"

import "github.com/nats-io/nats.go"
import "github.com/nats-io/nats.go/jetstream"

import "github.com/noetl/controlplane/shared/periodic"

// Config configures a worker.
type Config struct {
	// BaseURL is the control plane (the router), without a trailing slash. Claims and
	// events go here, not to the notification's server_url.
	BaseURL string
	// NATSURL, or an already open NATS connection, enables finding commands through a
	// JetStream consumer. Without either the worker finds them by polling the event log.
	NATSURL string
	NATS    *nats.Conn
	// SubjectPrefix is the deployment's NOETL_NATS_SUBJECT_PREFIX (default "noetl").
	SubjectPrefix string
	// WorkerID defaults to "scripted-<random>".
	WorkerID string
	// Outcomes by step name; a step without an entry succeeds.
	Outcomes map[string]Outcome
	// Client defaults to a client with a 15 s timeout.
	Client *http.Client
	// Events defaults to the HTTP events route.
	Events EventSource
	// PollInterval of the event log, default 100 ms.
	PollInterval time.Duration
	// HeartbeatInterval, default 3 s.
	HeartbeatInterval time.Duration
	// SkipRegister skips register and heartbeats (runs well under the offline window).
	SkipRegister bool
	// Discovery chooses how commands are found (default: both ways).
	Discovery Discovery
	// Logf receives diagnostics (nil: silent).
	Logf func(format string, args ...any)
}

// Discovery is how the worker finds the commands of its execution.
type Discovery int

const (
	// DiscoverBoth dispatches what either the JetStream consumer or the event log shows
	// first (when NATS is configured).
	DiscoverBoth Discovery = iota
	// DiscoverNATS dispatches only what the JetStream consumer delivers; the event log
	// still feeds the waits and the end of the run.
	DiscoverNATS
	// DiscoverLog dispatches only what the event log shows.
	DiscoverLog
)

// Worker is a scripted worker.
type Worker struct {
	cfg    Config
	client *http.Client
	events EventSource

	mu      sync.Mutex
	handled []Handled
}

// Handled records what the worker did with one command.
type Handled struct {
	ExecutionID int64
	EventID     string // of the command.issued
	Via         string // "nats" or "log": what found the command first
	Step        string
	CommandID   string
	Claimed     bool // false: the claim answered 409
	Failed      bool // finished with call.error + command.failed
	Err         error
}

// New returns a worker.
func New(cfg Config) *Worker {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.WorkerID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.WorkerID = "scripted-" + hex.EncodeToString(b[:])
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = "noetl"
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 3 * time.Second
	}
	w := &Worker{cfg: cfg, client: cfg.Client, events: cfg.Events}
	if w.client == nil {
		w.client = &http.Client{Timeout: 15 * time.Second}
	}
	if w.events == nil {
		w.events = HTTPEvents{BaseURL: cfg.BaseURL, Client: w.client}
	}
	return w
}

// ID is the worker_id it claims and posts under.
func (w *Worker) ID() string { return w.cfg.WorkerID }

// Handled lists the commands the worker dealt with so far.
func (w *Worker) Handled() []Handled {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Handled(nil), w.handled...)
}

func (w *Worker) record(h Handled) {
	w.mu.Lock()
	w.handled = append(w.handled, h)
	w.mu.Unlock()
}

func (w *Worker) logf(format string, args ...any) {
	if w.cfg.Logf != nil {
		w.cfg.Logf("scripted %s: "+format, append([]any{w.cfg.WorkerID}, args...)...)
	}
}

// Register announces the worker (POST /api/worker/pool/register).
func (w *Worker) Register(ctx context.Context) error {
	body := map[string]any{
		"name": w.cfg.WorkerID, "component_type": "worker_pool", "status": "ready",
		"runtime": map[string]any{"kind": "scripted"}, "labels": map[string]any{"pool_name": "scripted"},
	}
	_, err := w.post(ctx, "/api/worker/pool/register", body)
	return err
}

func (w *Worker) heartbeat(ctx context.Context) {
	periodic.Every(ctx, w.cfg.HeartbeatInterval, func(ctx context.Context) bool {
		if _, err := w.post(ctx, "/api/worker/pool/heartbeat", map[string]any{"name": w.cfg.WorkerID}); err != nil && ctx.Err() == nil {
			w.logf("heartbeat: %v", err)
		}
		return true
	})
}

// Serve serves one execution until its terminal event is in the event log and every
// command it took is finished, or ctx ends. It returns the errors it met (claims other
// than 409, events the server refused, an event log it could not read).
func (w *Worker) Serve(ctx context.Context, executionID int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !w.cfg.SkipRegister {
		if err := w.Register(ctx); err != nil {
			return fmt.Errorf("register: %w", err)
		}
		go w.heartbeat(ctx)
	}
	s := &session{w: w, execID: executionID, st: newLogState(), seen: map[string]bool{}}
	if w.cfg.Discovery == DiscoverNATS && w.cfg.NATS == nil && w.cfg.NATSURL == "" {
		return fmt.Errorf("DiscoverNATS without a NATS connection or URL")
	}
	if w.cfg.Discovery != DiscoverLog && (w.cfg.NATS != nil || w.cfg.NATSURL != "") {
		stop, err := s.consume(ctx)
		if err != nil && w.cfg.Discovery == DiscoverNATS {
			return fmt.Errorf("execution %d: %w", executionID, err)
		}
		if err != nil {
			// Polling the event log still finds every command.
			w.logf("execution %d: no JetStream consumer (%v); polling the event log only", executionID, err)
		} else {
			defer stop()
		}
	}
	pollErr := s.poll(ctx)
	s.wg.Wait()
	var errs []error
	if pollErr != nil {
		errs = append(errs, pollErr)
	}
	for _, h := range w.Handled() {
		if h.ExecutionID == executionID && h.Err != nil {
			errs = append(errs, fmt.Errorf("command %s (%s): %w", h.EventID, h.Step, h.Err))
		}
	}
	return errors.Join(errs...)
}

// Handle claims one command and finishes it as its step's outcome says, outside
// Serve. Outcomes that wait on the event log are refused here.
func (w *Worker) Handle(ctx context.Context, executionID int64, eventID string) (Handled, error) {
	s := &session{w: w, execID: executionID, st: newLogState(), seen: map[string]bool{}}
	h := s.handle(ctx, eventID, "caller", false)
	return h, h.Err
}

// session is one execution served.
type session struct {
	w        *Worker
	execID   int64
	st       *logState
	wg       sync.WaitGroup
	inflight atomic.Int64

	mu   sync.Mutex
	seen map[string]bool // command.issued event ids already dispatched
}

func (s *session) dispatch(ctx context.Context, eventID, via string) {
	s.mu.Lock()
	if s.seen[eventID] {
		s.mu.Unlock()
		return
	}
	s.seen[eventID] = true
	s.wg.Add(1)
	s.inflight.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer s.inflight.Add(-1)
		s.handle(ctx, eventID, via, true)
	}()
}

// consume starts an ordered JetStream consumer on <prefix>.commands.*.<execution_id> that
// delivers everything already in the stream: the first command is published before the
// caller learns the execution id.
func (s *session) consume(ctx context.Context) (func(), error) {
	nc := s.w.cfg.NATS
	var owned *nats.Conn
	if nc == nil {
		var err error
		owned, err = nats.Connect(s.w.cfg.NATSURL, nats.Name(s.w.cfg.WorkerID), nats.Timeout(3*time.Second))
		if err != nil {
			return nil, err
		}
		nc = owned
	}
	closeOwned := func() {
		if owned != nil {
			owned.Close()
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		closeOwned()
		return nil, err
	}
	id := strconv.FormatInt(s.execID, 10)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	base := s.w.cfg.SubjectPrefix + ".commands"
	stream, err := js.StreamNameBySubject(cctx, base+".shared."+id)
	if err != nil {
		closeOwned()
		return nil, fmt.Errorf("find the commands stream: %w", err)
	}
	cons, err := js.OrderedConsumer(cctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{base + ".*." + id},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		closeOwned()
		return nil, fmt.Errorf("create consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		v, err := DecodeJSON(m.Data())
		if err != nil {
			s.w.logf("execution %d: undecodable notification: %v", s.execID, err)
			return
		}
		n, _ := v.(map[string]any)
		if eid, ok := AsInt(n["execution_id"]); ok && eid != s.execID {
			return
		}
		if ev := IDString(n["event_id"]); ev != "" {
			s.dispatch(ctx, ev, "nats")
		}
	})
	if err != nil {
		closeOwned()
		return nil, fmt.Errorf("consume: %w", err)
	}
	return func() { cc.Stop(); closeOwned() }, nil
}

// poll follows the event log: it feeds the state the waits read and dispatches every
// command.issued it sees. It returns once the run is terminal and every dispatched
// command is finished.
func (s *session) poll(ctx context.Context) error {
	var lastErr error
	failures := 0
	for {
		evs, err := ReadLog(ctx, s.w.events, s.execID, s.st.cursor())
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("execution %d: stopped before the run ended: %w (last poll error: %v)", s.execID, ctx.Err(), lastErr)
			}
			lastErr = err
			failures++
			if failures%50 == 0 {
				s.w.logf("execution %d: reading the event log keeps failing: %v", s.execID, err)
			}
		} else {
			failures = 0
		}
		for _, ev := range s.st.apply(evs) {
			if s.w.cfg.Discovery != DiscoverNATS {
				s.dispatch(ctx, ev, "log")
			}
		}
		if s.st.terminal() && s.idle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("execution %d: stopped before the run ended: %w (last poll error: %v)", s.execID, ctx.Err(), lastErr)
		case <-time.After(s.w.cfg.PollInterval):
		}
	}
}

// idle reports that no dispatched command is still being handled.
func (s *session) idle() bool { return s.inflight.Load() == 0 }

type command struct {
	step       string
	commandID  any // meta.command_id as it came (string or number)
	toolConfig any
}

func (s *session) handle(ctx context.Context, eventID, via string, serving bool) Handled {
	h := Handled{ExecutionID: s.execID, EventID: eventID, Via: via}
	defer func() { s.w.record(h) }()
	cmd, claimed, err := s.claim(ctx, eventID)
	if err != nil {
		h.Err = err
		return h
	}
	if !claimed {
		return h
	}
	h.Claimed, h.Step, h.CommandID = true, cmd.step, IDString(cmd.commandID)
	out := s.w.cfg.Outcomes[cmd.step]
	if out.Waits() && !serving {
		h.Err = fmt.Errorf("outcome of step %s waits on the event log: use Serve", cmd.step)
		return h
	}
	if err := s.emit(ctx, cmd.step, TypeCommandStarted, "STARTED", map[string]any{"command_id": cmd.commandID}); err != nil {
		h.Err = err
		return h
	}
	if err := s.wait(ctx, eventID, cmd.step, out); err != nil {
		h.Err = err
		return h
	}
	if out.Status == "error" {
		h.Failed = true
		callErr := map[string]any{"command_id": cmd.commandID, "call_index": 0, "error": out.Error}
		if res := out.FailureResult(); res != nil {
			callErr["result"] = res
		}
		if err := s.emit(ctx, cmd.step, TypeCallError, "FAILED", callErr); err != nil {
			h.Err = err
			return h
		}
		h.Err = s.emit(ctx, cmd.step, TypeCommandFailed, "FAILED", map[string]any{"command_id": cmd.commandID, "error": out.Error})
		return h
	}
	if err := s.emit(ctx, cmd.step, TypeCallDone, "COMPLETED", map[string]any{
		"command_id": cmd.commandID, "call_index": 0,
		"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": Data(cmd.toolConfig)}},
	}); err != nil {
		h.Err = err
		return h
	}
	h.Err = s.emit(ctx, cmd.step, TypeCommandCompleted, "success", map[string]any{"command_id": cmd.commandID, "status": "success"})
	return h
}

// wait blocks until the outcome's conditions hold. Each command waits on its own, so a
// waiting command never delays another one.
func (s *session) wait(ctx context.Context, eventID, step string, o Outcome) error {
	for {
		ch := s.st.changed()
		if s.st.ready(eventID, step, o) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("step %s still waiting (%+v) when the worker stopped: %w", step, o, ctx.Err())
		case <-ch:
		}
	}
}

// claim answers claimed=false for a 409 (another worker has it, or the run was
// cancelled or finished). Answers that may be transient are retried briefly.
func (s *session) claim(ctx context.Context, eventID string) (command, bool, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return command{}, false, ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		body, err := s.w.post(ctx, "/api/commands/"+eventID+"/claim", map[string]any{"worker_id": s.w.cfg.WorkerID})
		var he *HTTPError
		switch {
		case errors.As(err, &he) && he.Status == http.StatusConflict:
			return command{}, false, nil
		case errors.As(err, &he) && (he.Status == http.StatusTooManyRequests || he.Status >= 500):
			lastErr = err
			continue
		case err != nil:
			if isDialError(err) {
				lastErr = err
				continue
			}
			return command{}, false, fmt.Errorf("claim: %w", err)
		}
		v, err := DecodeJSON(body)
		if err != nil {
			return command{}, false, fmt.Errorf("claim: decode answer: %w", err)
		}
		m, _ := v.(map[string]any)
		cmd := command{}
		cmd.step, _ = m["node_name"].(string)
		if cmd.step == "" {
			cmd.step, _ = m["node_id"].(string)
		}
		cmd.commandID, _ = Path(m, "meta", "command_id")
		cmd.toolConfig, _ = Path(m, "context", "tool_config")
		if cmd.step == "" || cmd.commandID == nil {
			return command{}, false, fmt.Errorf("claim: answer without node_name or meta.command_id: %s", truncate(string(body), 300))
		}
		return cmd, true, nil
	}
	return command{}, false, fmt.Errorf("claim: %w", lastErr)
}

// emit posts one event: no event_id and no created_at (the server assigns both).
func (s *session) emit(ctx context.Context, step, eventType, status string, payload map[string]any) error {
	body := map[string]any{
		"execution_id": s.execID, "event_type": eventType, "step": step, "status": status,
		"context": payload, "worker_id": s.w.cfg.WorkerID,
	}
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
			}
		}
		_, err = s.w.post(ctx, "/api/events", body)
		// Retry only what certainly did not store the event: without an event_id a
		// repeat would be a second event.
		var he *HTTPError
		if err == nil || !(isDialError(err) || errors.As(err, &he) && (he.Status == http.StatusBadGateway || he.Status == http.StatusServiceUnavailable || he.Status == http.StatusTooManyRequests)) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("post %s of %s: %w", eventType, step, err)
	}
	return nil
}

func (w *Worker) post(ctx context.Context, path string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.BaseURL+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return out, &HTTPError{Op: "POST " + path, Status: resp.StatusCode, Body: string(out)}
	}
	return out, nil
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
