// Package playbook is the `playbook` tool: it starts a child execution (with the
// current one as its parent) and either returns at once ({status: started,
// execution_id, path, async: true}) or, with `return_step` or `return_result`, waits
// for the child and returns the data of the child's step. A child that fails or is
// cancelled fails the step; a wait that runs out (its own timeout_seconds, the tool's
// `timeout`, the step's spec.timeout) cancels the child and reports status timeout.
//
// The child is started with an idempotency key made of the parent command and the tool
// call (ChildKey), so a command that runs again from the start (handed back by a worker
// that stopped, or re-claimed after its worker was lost) adopts the child it started
// before instead of starting a second one; a policy retry is another call and starts a
// new child. A hand-back leaves the child running for that next run; any other end of
// the wait cancels it, so a retry never runs beside the child it replaces.
package playbook

import "context"
import "errors"
import "fmt"
import "net/http"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/publicapi"

// Plane is what the tool needs from the control plane.
type Plane interface {
	Execute(ctx context.Context, server string, r controlplane.ExecuteRequest) (int64, error)
	ExecutionStatus(ctx context.Context, server string, id int64) (map[string]any, error)
	ExecutionEvents(ctx context.Context, server string, id int64) ([]map[string]any, error)
	ResolveResult(ctx context.Context, server, ref string) (any, error)
	CancelExecution(ctx context.Context, server string, id int64) error
}

// Defaults of the wait.
const (
	DefaultTimeout      = 300 * time.Second
	DefaultPollInterval = 2 * time.Second
	// firstPoll: the first status read comes early, then the interval doubles up to
	// poll_interval, so a quick child does not cost a whole interval.
	firstPoll = 100 * time.Millisecond
)

// Tool starts child playbooks.
type Tool struct{ plane Plane }

// New returns the tool.
func New(p Plane) *Tool { return &Tool{plane: p} }

// Run starts the child and waits when asked.
func (t *Tool) Run(ctx context.Context, call tool.Call) tool.Result {
	start := time.Now()
	r := t.run(ctx, call)
	r.Duration = time.Since(start)
	return r
}

func (t *Tool) run(ctx context.Context, call tool.Call) tool.Result {
	cfg := call.Config
	path, _, err := tool.String(cfg, "path", "playbook_path")
	if err != nil {
		return tool.ConfigFailure("playbook", err)
	}
	catalogID := ""
	if v, ok := cfg["catalog_id"]; ok && v != nil {
		catalogID = tool.Text(v)
	}
	if path == "" && catalogID == "" {
		return tool.ConfigFailure("playbook", tool.Configf("Playbook execution requires `path` or `catalog_id`"))
	}
	payload, err := childPayload(cfg)
	if err != nil {
		return tool.ConfigFailure("playbook", err)
	}
	if call.Secrets != nil && call.Secrets.Holds(payload) {
		// The control plane stores a workload as written (the engine renders the child's
		// templates from it), and the child's worker would not know to scrub the value
		// from its events: the child reads the credential itself.
		return tool.ConfigFailure("playbook", tool.Configf("the child's args hold a credential value, which its workload would store as written: "+
			"pass the credential's alias instead and read it in the child with {{ keychain.<alias>.<field> }}"))
	}
	parent := call.Exec.ExecutionID
	if v, ok := cfg["parent_execution_id"]; ok && v != nil {
		// Execution ids start at 1: a 0 or negative parent would start a child the
		// control plane files under no execution (or refuses), so it is refused here.
		n, err := strconv.ParseInt(strings.TrimSpace(tool.Text(v)), 10, 64)
		if err != nil || n <= 0 {
			return tool.ConfigFailure("playbook", tool.Configf("parent_execution_id must be a positive id"))
		}
		parent = n
	}
	returnStep, _, err := tool.String(cfg, "return_step")
	if err != nil {
		return tool.ConfigFailure("playbook", err)
	}
	resultStep, _, err := tool.String(cfg, "result_step")
	if err != nil {
		return tool.ConfigFailure("playbook", err)
	}
	returnResult, err := tool.Bool(cfg, "return_result", false)
	if err != nil {
		return tool.ConfigFailure("playbook", err)
	}
	timeout, ok, err := tool.Seconds(cfg, "timeout", "timeout_seconds")
	if err != nil {
		return tool.ConfigFailure("playbook", err)
	}
	if !ok {
		timeout = DefaultTimeout
	}
	interval, ok, err := tool.Seconds(cfg, "poll_interval")
	if err != nil {
		return tool.ConfigFailure("playbook", err)
	}
	if !ok {
		interval = DefaultPollInterval
	}
	server := call.Exec.ServerURL
	id, err := t.plane.Execute(ctx, server, controlplane.ExecuteRequest{
		Path: path, CatalogID: catalogID, Version: cfg["version"], Payload: payload, ParentExecutionID: parent,
		IdempotencyKey: ChildKey(call.Exec),
	})
	if err != nil {
		return tool.Failed("http", controlplane.Transient(err), "Failed to start child playbook: %v", err)
	}
	idText := strconv.FormatInt(id, 10)
	name := path
	if name == "" {
		name = "catalog " + catalogID
	}
	if returnStep == "" && resultStep == "" && !returnResult {
		return tool.Result{Status: tool.Success}.WithData(map[string]any{
			"status": "started", "execution_id": idText, "path": path, "async": true,
		})
	}
	// Waiting needs no slot of this worker, and the child may need one to run at all.
	reacquire := tool.ReleaseSlot(ctx)
	status, payloadStatus, err := t.wait(ctx, server, id, timeout, interval)
	reacquire()
	if err != nil {
		return t.stopWaiting(ctx, server, id, name, path, err)
	}
	if status != publicapi.StatusCompleted {
		msg := fmt.Sprintf("child execution %s %s", idText, status)
		if e, _ := payloadStatus["error"].(string); e != "" {
			msg = e
		} else if e := t.childError(ctx, server, id); e != "" {
			msg = e
		}
		r := tool.Failed("child_failed", false, "child playbook %s (%s) %s: %s", name, idText, status, msg)
		return r.WithData(childData(idText, path, payloadStatus))
	}
	step := resultStep
	if step == "" {
		step = returnStep
	}
	data, err := t.stepData(ctx, server, id, step)
	if err != nil {
		return tool.Failed("child_failed", controlplane.Transient(err), "child playbook %s (%s): %v", name, idText, err).
			WithData(childData(idText, path, payloadStatus))
	}
	return tool.Result{Status: tool.Success}.WithData(data)
}

// ChildKey is the idempotency key of the child a call starts: the parent command and
// the call's invocation within it, "" (no key) when the command is unknown.
func ChildKey(e tool.Exec) string {
	if e.CommandID == "" {
		return ""
	}
	inv := e.Invocation
	if inv == "" {
		inv = tool.Invocation("", 1)
	}
	return "playbook:" + e.CommandID + "/" + inv
}

// childData is the data of a failure once the child exists: its status route's body
// when it was read, with the child's execution_id as text (as the started result has it)
// and its path, so a step that continues on error can name the child.
func childData(id, path string, status map[string]any) map[string]any {
	out := make(map[string]any, len(status)+2)
	for k, v := range status {
		out[k] = v
	}
	out["execution_id"], out["path"] = id, path
	return out
}

// childPayload is the child's workload: non-empty `args`/`input`, else `payload`, else {}.
func childPayload(cfg map[string]any) (map[string]any, error) {
	args, err := tool.Args(cfg)
	if err != nil {
		return nil, err
	}
	if len(args) > 0 {
		return args, nil
	}
	p, err := tool.Object(cfg, "payload")
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = map[string]any{}
	}
	return p, nil
}

// stopWaiting is the outcome of a wait that ended before the child did. The child is
// cancelled, since no one waits for it any more and a retry of the step starts a child
// of its own: an own timeout, a step or tool bound, a cancelled parent, a status that
// cannot be read. Only a hand-back leaves it running, for the command's next run to
// adopt (same key); cancelling it would make that run fail or start a second child.
func (t *Tool) stopWaiting(ctx context.Context, server string, id int64, name, path string, err error) tool.Result {
	idText := strconv.FormatInt(id, 10)
	data := childData(idText, path, nil)
	if errors.Is(context.Cause(ctx), tool.ErrHandBack) {
		return tool.Failed("cancelled", false, "child playbook %s (%s): the parent command was handed back; the child keeps running", name, idText).
			WithData(data)
	}
	fate := t.cancelChild(ctx, server, id)
	var own *waitTimeout
	switch te := tool.BoundOf(ctx); {
	case te != nil:
		// Reported as the bound's timeout, which the runner then leaves as it is, so the
		// error still says what became of the child.
		return tool.TimedOut(te.Retryable(), "%v; child playbook %s (%s): %s", te, name, idText, fate).WithData(data)
	case ctx.Err() != nil:
		// The control plane cancels the children of a cancelled execution as well, so
		// a failed cancel here leaves no orphan and is not worth a word.
		return tool.Failed("cancelled", false, "child playbook %s (%s): the parent command was cancelled", name, idText).WithData(data)
	case errors.As(err, &own):
		// Retryable as every tool timeout is: the child is cancelled, so a retry starts
		// a fresh one rather than a second one beside it.
		return tool.TimedOut(true, "child playbook %s (%s): %v; %s", name, idText, own, fate).WithData(data)
	}
	return tool.Failed("http", false, "child playbook %s (%s): %v; %s", name, idText, err, fate).WithData(data)
}

// CancelBudget bounds the cancel of a child the step stopped waiting for. It is below
// the runner's grace for a tool whose bound ended, so the outcome that names the
// child's fate is the one reported.
const CancelBudget = 3 * time.Second

// cancelChild cancels the child, once, within CancelBudget (the command's own context
// may have ended), and says what became of it for the step's error.
func (t *Tool) cancelChild(ctx context.Context, server string, id int64) string {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CancelBudget)
	defer cancel()
	err := t.plane.CancelExecution(cctx, server, id)
	switch code := controlplane.StatusOf(err); {
	case err == nil:
		return "the child was cancelled"
	case code == http.StatusConflict, code == http.StatusUnprocessableEntity:
		// The cancel route's answer for an execution that already ended: 409, or 422
		// from a control plane older than that answer.
		return "the child had ended meanwhile"
	}
	return fmt.Sprintf("the child could not be cancelled and may still be running: %v", err)
}

// waitTimeout is the end of a wait that ran past the tool's own timeout. lastRead is
// the error of the last status read when it failed: reads that kept failing (an
// unreachable control plane) are why the wait saw no end, not a slow child.
type waitTimeout struct {
	after    time.Duration
	lastRead error
}

func (e *waitTimeout) Error() string {
	if e.lastRead != nil {
		return fmt.Sprintf("not finished after %s; the last status read failed: %v", e.after, e.lastRead)
	}
	return fmt.Sprintf("not finished after %s", e.after)
}

// wait polls the child's status until it is terminal or the deadline passes. The last
// sleep is cut to the deadline, so the wait ends at its timeout (after one last read)
// rather than up to a poll interval later.
func (t *Tool) wait(ctx context.Context, server string, id int64, timeout, interval time.Duration) (string, map[string]any, error) {
	deadline := time.Now().Add(timeout)
	// A step or tool bound (ctx's deadline) that ends no later than the own timeout ends
	// the wait through ctx, so the outcome names that bound. Racing it with an own
	// deadline a moment later (`timeout` is both the tool's bound and, read here, the
	// wait's) could report the wait's timeout instead.
	if d, ok := ctx.Deadline(); ok && !d.After(deadline) {
		deadline = time.Time{}
	}
	delay := min(firstPoll, interval)
	var lastRead error
	for {
		next := delay
		if !deadline.IsZero() {
			next = max(0, min(delay, time.Until(deadline)))
		}
		timer := time.NewTimer(next)
		select {
		case <-ctx.Done():
			timer.Stop()
			return "", nil, ctx.Err()
		case <-timer.C:
		}
		st, err := t.plane.ExecutionStatus(ctx, server, id)
		lastRead = err
		if err == nil {
			s := strings.ToUpper(fmt.Sprint(st["status"]))
			if b, _ := st["is_cancelled"].(bool); b {
				s = publicapi.StatusCancelled
			}
			if publicapi.Terminal(s) {
				return s, st, nil
			}
		} else if !controlplane.Transient(err) && ctx.Err() == nil {
			return "", nil, fmt.Errorf("read the child's status: %w", err)
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return "", nil, &waitTimeout{after: timeout, lastRead: lastRead}
		}
		delay = min(delay*2, interval)
	}
}

// childError is the error of the child's terminal event ("Failed steps: ..."), which the
// status route does not carry; "" when it cannot be read.
func (t *Tool) childError(ctx context.Context, server string, id int64) string {
	evs, err := t.plane.ExecutionEvents(ctx, server, id)
	if err != nil {
		return ""
	}
	for i := len(evs) - 1; i >= 0; i-- {
		typ, _ := evs[i]["event_type"].(string)
		if !strings.HasPrefix(typ, "playbook") && !strings.HasPrefix(typ, "execution") {
			continue
		}
		if !strings.HasSuffix(typ, "failed") && !strings.HasSuffix(typ, "cancelled") {
			continue
		}
		if e, _ := evs[i]["error"].(string); e != "" {
			return e
		}
		if e, _ := dig(evs[i], "result", "context", "error").(string); e != "" {
			return e
		}
	}
	return ""
}

// stepData is the data of the child's latest result of step, or, without a step, its
// latest result outside `end`. A result is a call.done, or the step.exit in which the
// engine records a result no call.done carries: a finished loop's {results, stats} (a
// loop step has no call.done of its own; its iterations' would give one iteration's
// data), or a failure continued under on_error: continue. Results the child offloaded
// are read back.
func (t *Tool) stepData(ctx context.Context, server string, id int64, step string) (any, error) {
	evs, err := t.plane.ExecutionEvents(ctx, server, id)
	if err != nil {
		return nil, fmt.Errorf("read the child's events: %w", err)
	}
	var found map[string]any
	for _, ev := range evs {
		name, _ := ev["node_name"].(string)
		if (step != "" && name != step) || (step == "" && name == "end") {
			continue
		}
		switch ev["event_type"] {
		case "call.done":
			found = ev
		case "step.exit":
			if dig(ev, "result", "context", "data") != nil && ev["status"] == "COMPLETED" {
				found = ev
			}
		}
	}
	if found == nil {
		if step == "" {
			return nil, errors.New("the child produced no result")
		}
		return nil, fmt.Errorf("the child has no result for step '%s'", step)
	}
	if found["event_type"] == "step.exit" {
		return dig(found, "result", "context", "data"), nil
	}
	inner := dig(found, "result", "context", "result")
	data := dig(inner, "context", "data")
	if ref, _ := dig(inner, "reference", "ref").(string); ref != "" {
		return t.plane.ResolveResult(ctx, server, ref)
	}
	return data, nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
