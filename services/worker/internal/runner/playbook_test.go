package runner

import "context"
import "encoding/json"
import "fmt"
import "net/http"
import "net/http/httptest"
import "reflect"
import "strconv"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/services/worker/internal/tools/playbook"

// childPlane is a control plane over HTTP whose children never finish on their own: a
// start with a new idempotency key makes a child (ids from 700), a known key answers
// its child, a cancel ends it, and its status route reports it. ops lists the starts
// and cancels in order.
type childPlane struct {
	mu       sync.Mutex
	ops      []string
	keys     map[string]int64
	ended    map[int64]bool
	children int64
}

func newChildPlane(t *testing.T) (*childPlane, *controlplane.Client) {
	t.Helper()
	p := &childPlane{keys: map[string]int64{}, ended: map[int64]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/execute", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Key string `json:"idempotency_key"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		id, ok := p.keys[body.Key]
		if !ok {
			id = 700 + p.children
			p.children++
			p.keys[body.Key] = id
		}
		p.ops = append(p.ops, fmt.Sprintf("start %d", id))
		p.mu.Unlock()
		fmt.Fprintf(w, `{"execution_id":"%d"}`, id)
	})
	mux.HandleFunc("GET /api/executions/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		p.mu.Lock()
		status := "RUNNING"
		if p.ended[id] {
			status = "CANCELLED"
		}
		p.mu.Unlock()
		fmt.Fprintf(w, `{"status":%q}`, status)
	})
	mux.HandleFunc("POST /api/executions/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.ended[id] {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":"Cannot cancel execution in CANCELLED state"}`)
			return
		}
		p.ended[id] = true
		p.ops = append(p.ops, fmt.Sprintf("cancel %d", id))
		fmt.Fprintf(w, `{"execution_id":"%d","status":"cancelled"}`, id)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return p, controlplane.New(srv.URL, srv.Client(), "")
}

func (p *childPlane) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.ops...)
}

// A playbook step whose wait runs out, whichever limit it was, ends with status timeout
// and leaves no child running: the tool cancels the child before it reports, so a retry
// starts a fresh child only once the one before is cancelled. A hand-back (the worker
// stopping) is no timeout and leaves the child for the command's next run to adopt.
func TestPlaybookStepTimeoutsCancelTheChild(t *testing.T) {
	t.Parallel()
	wait := func(extra map[string]any) map[string]any {
		cfg := map[string]any{"path": "a/child", "return_step": "x", "poll_interval": 0.02}
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}
	retryOnTimeout := rules(map[string]any{"when": "{{ output.error.kind == 'timeout' and output.error.retryable }}", "then": map[string]any{"do": "retry", "attempts": int64(2)}})
	cases := []struct {
		name      string
		cfg       map[string]any
		stepBound any
		handBack  bool
		status    tool.Status
		err       string
		retryable bool
		attempts  int
		ops       []string
	}{
		{"its own timeout_seconds", wait(map[string]any{"timeout_seconds": 0.1}), nil, false,
			tool.Timeout, "child playbook a/child (700): not finished after 100ms; the child was cancelled", true, 1,
			[]string{"start 700", "cancel 700"}},
		{"a retry starts a fresh child once the first is cancelled", wait(map[string]any{"timeout_seconds": 0.1, "spec": retryOnTimeout}), nil, false,
			tool.Timeout, "child playbook a/child (701): not finished after 100ms; the child was cancelled", true, 2,
			[]string{"start 700", "cancel 700", "start 701", "cancel 701"}},
		{"the tool's timeout", wait(map[string]any{"timeout": "100ms", "timeout_seconds": 60}), nil, false,
			tool.Timeout, "Tool timed out after 100ms (timeout); child playbook a/child (700): the child was cancelled", true, 1,
			[]string{"start 700", "cancel 700"}},
		{"the step's spec.timeout", wait(nil), "100ms", false,
			tool.Timeout, "Step timed out after 100ms (spec.timeout); child playbook a/child (700): the child was cancelled", false, 1,
			[]string{"start 700", "cancel 700"}},
		{"a hand-back under a bound", wait(map[string]any{"timeout": "1h"}), "1h", true,
			tool.Error, "child playbook a/child (700): the parent command was handed back; the child keeps running", false, 1,
			[]string{"start 700"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			plane, client := newChildPlane(t)
			rn, _, _ := newRunner(t)
			rn.tools["playbook"] = playbook.New(client)
			s := step("playbook", c.cfg, map[string]any{})
			s.Timeout = c.stepBound
			ctx, stop := context.WithCancelCause(context.Background())
			defer stop(nil)
			if c.handBack {
				go func() {
					// Hand the command back once its child runs.
					for len(plane.log()) == 0 && ctx.Err() == nil {
						time.Sleep(5 * time.Millisecond)
					}
					stop(fmt.Errorf("%w: the worker is shutting down", tool.ErrHandBack))
				}()
			}
			out := rn.Run(ctx, s)
			r := out.Result
			if r.Status != c.status || r.Error != c.err || out.Attempts != c.attempts {
				t.Fatalf("got %s %q after %d attempts; want %s %q after %d", r.Status, r.Error, out.Attempts, c.status, c.err, c.attempts)
			}
			if r.Status == tool.Timeout && (r.Fault == nil || r.Fault.Kind != "timeout" || r.Fault.Retryable != c.retryable) {
				t.Fatalf("fault %+v, want kind timeout, retryable %v", r.Fault, c.retryable)
			}
			if got := plane.log(); !reflect.DeepEqual(got, c.ops) {
				t.Fatalf("the control plane saw %v, want %v", got, c.ops)
			}
			if !strings.Contains(fmt.Sprint(r.Data), "execution_id") {
				t.Fatalf("data %v does not name the child", r.Data)
			}
		})
	}
}

// The playbook tool's cancel of a child it stops waiting for must end within the grace
// the runner gives a tool whose bound ended, or the runner reports the bare timeout and
// the step's error no longer says whether the child was cancelled.
func TestPlaybookCancelFitsTheGrace(t *testing.T) {
	t.Parallel()
	if playbook.CancelBudget >= DefaultTimeoutGrace {
		t.Fatalf("the cancel budget %s is not below the grace %s", playbook.CancelBudget, DefaultTimeoutGrace)
	}
}
