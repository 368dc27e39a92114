package e2e

import "context"
import "fmt"
import "net/http"
import "sync/atomic"
import "testing"
import "time"

import "github.com/noetl/controlplane/tests/e2e/scripted"

// Worker is a running noetl-worker process.
type Worker struct {
	*Proc
	ID   string
	Port int
}

var workerSeq atomic.Int64

// StartWorker starts a noetl-worker against the suite (through the router, on the
// suite's NATS subject prefix and stream) with env added, and waits until it is ready.
func (s *Suite) StartWorker(t testing.TB, env map[string]string) *Worker {
	t.Helper()
	w := &Worker{Port: freePort(t), ID: fmt.Sprintf("e2e-worker-%d-%d", time.Now().UnixNano()%1e6, workerSeq.Add(1))}
	full := map[string]string{
		"NOETL_SERVER_URL":          s.URL,
		"NATS_URL":                  s.NATS,
		"NOETL_NATS_SUBJECT_PREFIX": s.Commands.Prefix,
		"NOETL_NATS_STREAM":         s.Commands.Stream,
		"NOETL_HOST":                "127.0.0.1",
		"NOETL_PORT":                fmt.Sprint(w.Port),
		"WORKER_ID":                 w.ID,
		"WORKER_HEARTBEAT_INTERVAL": "2s",
		"NOETL_SHUTDOWN_TIMEOUT":    "30s",
		"NOETL_LOG_LEVEL":           "debug",
	}
	for k, v := range env {
		full[k] = v
	}
	if id := env["WORKER_ID"]; id != "" {
		w.ID = id
	}
	w.Proc = start(t, "worker", full)
	w.WaitReady(t, 30*time.Second)
	return w
}

// readyz is the status of the worker's /readyz (0 when it does not answer).
func (w *Worker) readyz() int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", w.Port))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// WaitReady waits until the worker's /readyz answers 200.
func (w *Worker) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	ok := eventually(timeout, func() bool { return w.Exited() || w.readyz() == http.StatusOK })
	if !ok || w.Exited() {
		t.Fatalf("worker %s not ready within %s (exited: %v)\n%s", w.ID, timeout, w.Exited(), tail(w.Output(), 40))
	}
}

// startRun registers content (a playbook) and executes path with payload.
func startRun(ctx context.Context, t testing.TB, c *rtClient, content, path string, payload map[string]any) int64 {
	t.Helper()
	if err := c.register(ctx, content); err != nil {
		t.Fatal(err)
	}
	id, err := c.execute(ctx, path, payload)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitLog waits until cond holds for the execution's event log and returns that log.
func waitLog(ctx context.Context, t testing.TB, c *rtClient, id int64, what string, cond func([]scripted.Event) bool) []scripted.Event {
	t.Helper()
	for {
		log, err := c.log(ctx, id)
		if err == nil && cond(log) {
			return log
		}
		select {
		case <-ctx.Done():
			t.Fatalf("execution %d: %s did not happen: %v\n%s", id, what, err, describeLog(log))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitTerminal waits until the execution's terminal event is in its event log and
// returns the log.
func waitTerminal(ctx context.Context, t testing.TB, c *rtClient, id int64) []scripted.Event {
	t.Helper()
	return waitLog(ctx, t, c, id, "the terminal event", runTerminal)
}

// waitCompleted waits until the execution is terminal and fails unless it COMPLETED.
func waitCompleted(ctx context.Context, t testing.TB, c *rtClient, id int64, path string) []scripted.Event {
	t.Helper()
	log := waitTerminal(ctx, t, c, id)
	if st := c.statuses(ctx, id, path); st.Detail != "COMPLETED" {
		t.Fatalf("status %+v\n%s", st, describeLog(log))
	}
	return log
}

// stepData is the data of a step's latest call.done.
func stepData(log []scripted.Event, step string) any {
	var data any
	for _, ev := range log {
		if ev.EventType == scripted.TypeCallDone && ev.NodeName == step {
			data, _ = scripted.Path(ev.Result, "context", "result", "context", "data")
		}
	}
	return data
}
