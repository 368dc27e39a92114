package e2e

import "context"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "os"
import "strconv"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/nats-io/nats.go"
import "github.com/nats-io/nats.go/jetstream"

import "github.com/noetl/controlplane/shared/periodic"
import "github.com/noetl/controlplane/tests/e2e/scripted"

// chaosFanOutPlaybook: start fans out (inclusive) to left and right, both route to
// join, join to end. Every tool is a noop, so only the control plane is exercised.
const chaosFanOutPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: e2e_chaos_fanout
  path: e2e/chaos/fanout
workflow:
  - step: start
    tool:
      kind: noop
    next:
      spec: {mode: inclusive}
      arcs:
        - step: left
        - step: right
  - step: left
    tool:
      kind: noop
      result: {v: 1}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: join
  - step: right
    tool:
      kind: noop
      result: {v: 2}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: join
  - step: join
    tool:
      kind: noop
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
`

const chaosFanOutPath = "e2e/chaos/fanout"

// chaosLinearPlaybook: start → work → end, three noop commands per execution.
const chaosLinearPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: e2e_chaos_linear
  path: e2e/chaos/linear
workflow:
  - step: start
    tool:
      kind: noop
    next:
      spec: {mode: exclusive}
      arcs:
        - step: work
  - step: work
    tool:
      kind: noop
      result: {done: true}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
`

const chaosLinearPath = "e2e/chaos/linear"

// chaosWorker is a hand-driven worker: each protocol step is a separate call, so a test
// can stop between any two of them (go silent, race another worker, lose the server).
type chaosWorker struct {
	c  *rtClient
	id string
}

func newChaosWorker(c *rtClient, id string) *chaosWorker { return &chaosWorker{c: c, id: id} }

// register announces the worker like the reference worker does.
func (w *chaosWorker) register(ctx context.Context) error {
	code, body, err := w.c.do(ctx, http.MethodPost, "/api/worker/pool/register", map[string]any{
		"name": w.id, "component_type": "worker_pool", "status": "ready",
		"runtime": map[string]any{"kind": "chaos"}, "labels": map[string]any{"pool_name": "chaos"},
	})
	return expect2xx("register "+w.id, code, body, err)
}

func (w *chaosWorker) heartbeat(ctx context.Context) error {
	code, body, err := w.c.do(ctx, http.MethodPost, "/api/worker/pool/heartbeat", map[string]any{"name": w.id})
	return expect2xx("heartbeat "+w.id, code, body, err)
}

// heartbeatEvery beats until ctx ends.
func (w *chaosWorker) heartbeatEvery(ctx context.Context, every time.Duration) {
	periodic.Every(ctx, every, func(ctx context.Context) bool {
		_ = w.heartbeat(ctx)
		return true
	})
}

// chaosClaim is a successful claim: the command's id and the whole answer.
type chaosClaim struct {
	EventID   string
	Step      string
	CommandID any // meta.command_id as the server sent it
	Body      map[string]any
}

// Attempt is meta.attempt of the claim answer (0 when absent).
func (c chaosClaim) Attempt() int64 {
	v, _ := scripted.Path(c.Body, "meta", "attempt")
	n, _ := scripted.AsInt(v)
	return n
}

// claim answers the HTTP status, and the command when it is 200.
func (w *chaosWorker) claim(ctx context.Context, eventID string) (int, chaosClaim, error) {
	code, body, err := w.c.claim(ctx, eventID, w.id)
	if err != nil || code != http.StatusOK {
		if err == nil && code/100 != 2 && code != http.StatusConflict {
			err = fmt.Errorf("claim %s by %s: HTTP %d: %s", eventID, w.id, code, clip(string(body), 300))
		}
		return code, chaosClaim{}, err
	}
	v, err := scripted.DecodeJSON(body)
	if err != nil {
		return code, chaosClaim{}, fmt.Errorf("claim %s: decode %s: %w", eventID, clip(string(body), 200), err)
	}
	m, _ := v.(map[string]any)
	cl := chaosClaim{EventID: eventID, Body: m}
	cl.Step, _ = m["node_name"].(string)
	cl.CommandID, _ = scripted.Path(m, "meta", "command_id")
	if cl.Step == "" || cl.CommandID == nil {
		return code, cl, fmt.Errorf("claim %s: answer without node_name or meta.command_id: %s", eventID, clip(string(body), 300))
	}
	return code, cl, nil
}

// event is the body of one worker event. eventID 0 lets the server mint the id.
func (w *chaosWorker) event(execID int64, step, typ, status string, payload map[string]any, eventID int64) map[string]any {
	b := map[string]any{"execution_id": execID, "worker_id": w.id, "event_type": typ, "step": step,
		"status": status, "context": payload}
	if eventID != 0 {
		b["event_id"] = eventID
	}
	return b
}

func (w *chaosWorker) post(ctx context.Context, body map[string]any) (int, []byte, error) {
	return w.c.do(ctx, http.MethodPost, "/api/events", body)
}

// started, done and completed are the three events a worker posts for a command.
func (w *chaosWorker) started(execID int64, cl chaosClaim) map[string]any {
	return w.event(execID, cl.Step, scripted.TypeCommandStarted, "STARTED", map[string]any{"command_id": cl.CommandID}, 0)
}

func (w *chaosWorker) done(execID int64, cl chaosClaim, data map[string]any) map[string]any {
	return w.event(execID, cl.Step, scripted.TypeCallDone, "COMPLETED", map[string]any{
		"command_id": cl.CommandID, "call_index": 0,
		"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": data}},
	}, 0)
}

func (w *chaosWorker) completed(execID int64, cl chaosClaim, eventID int64) map[string]any {
	return w.event(execID, cl.Step, scripted.TypeCommandCompleted, "success",
		map[string]any{"command_id": cl.CommandID, "status": "success"}, eventID)
}

// finish claims a command and posts its events; claimed is false on a 409.
func (w *chaosWorker) finish(ctx context.Context, execID int64, eventID string) (claimed bool, err error) {
	code, cl, err := w.claim(ctx, eventID)
	if err != nil {
		return false, err
	}
	if code == http.StatusConflict {
		return false, nil
	}
	for _, body := range []map[string]any{w.started(execID, cl), w.done(execID, cl, map[string]any{"step": cl.Step}), w.completed(execID, cl, 0)} {
		code, out, err := w.post(ctx, body)
		if err := expect2xx(fmt.Sprintf("%s of %s", body["event_type"], cl.Step), code, out, err); err != nil {
			return true, err
		}
	}
	return true, nil
}

func expect2xx(what string, code int, body []byte, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if code/100 != 2 {
		return fmt.Errorf("%s: HTTP %d: %s", what, code, clip(string(body), 300))
	}
	return nil
}

// chaosIssued lists the command.issued events of step in log order.
func chaosIssued(log []scripted.Event, step string) []scripted.Event {
	var out []scripted.Event
	for _, ev := range log {
		if ev.EventType == scripted.TypeCommandIssued && ev.NodeName == step {
			out = append(out, ev)
		}
	}
	return out
}

// chaosCount counts events of a type at a step ("" matches every step).
func chaosCount(log []scripted.Event, typ, step string) int {
	n := 0
	for _, ev := range log {
		if ev.EventType == typ && (step == "" || ev.NodeName == step) {
			n++
		}
	}
	return n
}

// chaosUnfinished lists command.issued events that have no terminal event yet.
func chaosUnfinished(log []scripted.Event) []scripted.Event {
	ix := indexLog(log)
	var out []scripted.Event
	for _, ev := range log {
		if ev.EventType == scripted.TypeCommandIssued && len(ix.terminals[ev.CommandID()]) == 0 {
			out = append(out, ev)
		}
	}
	return out
}

// chaosStatus reads GET /api/executions/{id}/status.
func chaosStatus(ctx context.Context, c *rtClient, id int64) (string, error) {
	v, err := c.doJSON(ctx, http.MethodGet, fmt.Sprintf("/api/executions/%d/status", id), nil)
	if err != nil {
		return "", err
	}
	s, _ := mapGet(v, "status").(string)
	return s, nil
}

// chaosDrive finishes every unfinished command of an execution with w until the run
// has its terminal event; a command w cannot claim (409) is skipped.
func chaosDrive(ctx context.Context, w *chaosWorker, id int64) ([]scripted.Event, error) {
	tried := map[string]bool{}
	for {
		log, err := w.c.log(ctx, id)
		if err != nil {
			return log, err
		}
		if runTerminal(log) {
			return log, nil
		}
		progressed := false
		for _, ev := range chaosUnfinished(log) {
			if tried[ev.EventID] {
				continue
			}
			tried[ev.EventID] = true
			progressed = true
			if _, err := w.finish(ctx, id, ev.EventID); err != nil {
				return log, err
			}
		}
		if !progressed {
			select {
			case <-ctx.Done():
				return log, fmt.Errorf("execution %d did not end: %w\n%s", id, ctx.Err(), describeLog(log))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// chaosPendingCount is GET /api/internal/outbox/pending-count (-1 when unreadable).
func chaosPendingCount(s *Suite) int64 {
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/internal/outbox/pending-count", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := s.Client.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var out struct {
		Pending *int64 `json:"pending"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.Pending == nil {
		return -1
	}
	return *out.Pending
}

// chaosMetric reads one unlabelled sample from a service's /metrics (-1 when absent).
func chaosMetric(client *http.Client, baseURL, name string) float64 {
	resp, err := client.Get(baseURL + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// chaosReadyz reads a service's /readyz: the HTTP status and its checks map.
func chaosReadyz(client *http.Client, baseURL string) (int, map[string]string) {
	resp, err := client.Get(baseURL + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out struct {
		Checks map[string]string `json:"checks"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Checks
}

// chaosCollector records the event ids of every command notification in the stream
// (an ordered consumer from the first message, so nothing published earlier is missed).
type chaosCollector struct {
	mu   sync.Mutex
	seen map[string]int // command.issued event id -> deliveries
	stop func()
}

// filter is relative to the suite's command subjects: "*.<id>" or ">".
func startChaosCollector(t *testing.T, nc *nats.Conn, s *Suite, filter string) *chaosCollector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var stream string
	// The api creates the stream when it (re)connects; wait for it.
	for {
		stream, err = js.StreamNameBySubject(ctx, s.Commands.Prefix+".commands.shared.0")
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no JetStream stream covers %s.commands.shared.*: %v", s.Commands.Prefix, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{s.Commands.Prefix + ".commands." + filter}, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		t.Fatalf("ordered consumer on %s: %v", stream, err)
	}
	c := &chaosCollector{seen: map[string]int{}}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		v, err := scripted.DecodeJSON(m.Data())
		if err != nil {
			return
		}
		if id := scripted.IDString(mapGet(v, "event_id")); id != "" {
			c.mu.Lock()
			c.seen[id]++
			c.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	c.stop = cc.Stop
	t.Cleanup(cc.Stop)
	return c
}

// deliveries is how many notifications named the command.issued event id.
func (c *chaosCollector) deliveries(eventID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[eventID]
}

// missing lists the ids of want that were never delivered.
func (c *chaosCollector) missing(want []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, id := range want {
		if c.seen[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// chaosKill kills a process with SIGKILL and waits for it to be gone.
func chaosKill(t *testing.T, p *Proc) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill %s: %v", p.Name, err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10s after SIGKILL", p.Name)
	}
}

// chaosRestart starts a binary again with the environment (port included) and
// arguments it had.
func chaosRestart(t *testing.T, p *Proc) *Proc {
	t.Helper()
	env := map[string]string{}
	for _, kv := range p.cmd.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return start(t, p.Name, env, p.cmd.Args[1:]...)
}

// chaosLogIssue is a log line that must not be there.
type chaosLogIssue struct {
	Proc, Line, Why string
}

// chaosScanLogs looks through every process's output for secrets (the internal token,
// the encryption key, the test database password if any), panics, and requests
// answered 5xx. allow5xx reports which 5xx a process may legitimately have answered.
func chaosScanLogs(s *Suite, procs []*Proc, allow5xx func(proc string, status int, line map[string]any) bool) []chaosLogIssue {
	secrets := []string{s.Token, "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8="}
	var issues []chaosLogIssue
	for _, p := range procs {
		for _, line := range strings.Split(p.Output(), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			for _, sec := range secrets {
				if sec != "" && strings.Contains(line, sec) {
					issues = append(issues, chaosLogIssue{p.Name, clip(line, 300), "secret in the log"})
				}
			}
			if strings.Contains(line, "panic:") || strings.Contains(line, "goroutine ") && strings.Contains(line, "[running]") {
				issues = append(issues, chaosLogIssue{p.Name, clip(line, 300), "panic"})
			}
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			st, ok := m["status"].(float64)
			if !ok || st < 500 || m["msg"] != "http request" && m["msg"] != "request failed" {
				continue
			}
			if allow5xx == nil || !allow5xx(p.Name, int(st), m) {
				issues = append(issues, chaosLogIssue{p.Name, clip(line, 400), fmt.Sprintf("answered %d", int(st))})
			}
		}
	}
	return issues
}

func chaosReportLogIssues(t *testing.T, issues []chaosLogIssue) {
	t.Helper()
	for i, is := range issues {
		if i == 20 {
			t.Errorf("... and %d more log issues", len(issues)-20)
			break
		}
		t.Errorf("%s log: %s: %s", is.Proc, is.Why, is.Line)
	}
}

func chaosAllProcs(s *Suite) []*Proc { return []*Proc{s.API, s.Wallet, s.Broker, s.Router} }

// chaosEnvInt reads an optional tuning variable of the chaos tests.
func chaosEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
