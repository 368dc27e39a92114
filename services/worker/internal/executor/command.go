package executor

import "context"
import "errors"
import "fmt"
import "log/slog"
import "net/http"
import "strings"
import "time"
import "unicode/utf8"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/credentials"
import "github.com/noetl/controlplane/services/worker/internal/runner"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/periodic"
import "github.com/noetl/controlplane/shared/promx"
import "github.com/noetl/controlplane/shared/redact"
import "github.com/noetl/controlplane/shared/tmpl"

// ending is how a command's handling ended, which decides its acknowledgement.
type ending int

const (
	reported    ending = iota // the outcome is stored on the control plane
	notReported               // the control plane would not take it: deliver again
	handedBack                // the worker is stopping: leave it claimed
	released                  // the worker no longer holds it: post nothing, let it go
	refused                   // the control plane refuses every report of it: leave it to the claim lease
)

var (
	errExecutionCancelled = errors.New("the execution was cancelled")
	// Both run the command again from the start later: a tool sees tool.ErrHandBack.
	errShutdown     = fmt.Errorf("%w: the worker is shutting down", tool.ErrHandBack)
	errStartRefused = fmt.Errorf("%w: the control plane did not take command.started", tool.ErrHandBack)
	// A heartbeat's answer said the claim is gone (it lapsed, the command was requeued
	// and maybe claimed elsewhere): stopped as a hand-back, so a playbook step leaves
	// its child for the command's next run to adopt.
	errReleased = fmt.Errorf("%w: the control plane says this worker no longer holds the command", tool.ErrHandBack)
)

// execute runs a claimed command and reports it; it returns the commands eager
// dispatch handed over with the outcome.
//
// command.started is posted on its own only once the command has run for StartedDelay:
// a quicker command sends it at the head of its outcome batch, one request for the
// whole command. If the control plane refuses a command.started posted on its own, the
// command is stopped and not reported (its notification comes back).
func (e *Executor) execute(hard context.Context, n Notification, cmd *controlplane.Command, s tool.Slot) (ending, []*controlplane.Command) {
	start := time.Now()
	// Not derived from hard directly: the cause must say why the command stopped.
	ctx, cancel := context.WithCancelCause(tool.WithSlot(context.WithoutCancel(hard), s))
	defer cancel(nil)
	stopHard := context.AfterFunc(hard, func() { cancel(errShutdown) })
	defer stopHard()
	e.running(n.EventID, cancel)
	exec := tool.Exec{ExecutionID: cmd.ExecutionID, Step: cmd.Step, CommandID: cmd.CommandID, WorkerID: e.cfg.WorkerID, ServerURL: n.ServerURL}
	sess := e.creds.Session(exec)
	rep := &reporter{e: e, cmd: cmd, server: n.ServerURL, scrub: sess.Scrub, hard: hard}
	log := e.log.With(slog.Int64("execution_id", cmd.ExecutionID), slog.String("step", cmd.Step), slog.String("command_id", cmd.CommandID))
	kind := metricKind(cmd.Action)

	started := rep.event("command.started", "STARTED", map[string]any{"command_id": cmd.CommandIDValue})
	stopWatch := e.watchCancel(ctx, cancel, n.ServerURL, cmd.ExecutionID)
	step := runner.Step{Kind: cmd.Action, Config: toolConfig(cmd), Vars: commandVars(cmd, exec), Exec: exec, Creds: sess,
		Timeout: cmd.Context["step_timeout_seconds"]}
	done := make(chan runner.Outcome, 1)
	go func() { done <- e.run.Run(ctx, step) }()
	var out runner.Outcome
	head := []controlplane.Event{started} // command.started, while it is still to be sent
	timer := time.NewTimer(e.cfg.StartedDelay)
	select {
	case out = <-done:
		timer.Stop()
	case <-timer.C:
		if err := rep.post(started); err != nil {
			cause := context.Cause(ctx)
			cancel(errStartRefused)
			<-done
			stopWatch()
			switch cause {
			case errShutdown:
				e.m.commands.WithLabelValues(kind, "handed_back").Inc()
				return handedBack, nil
			case errReleased:
				e.m.commands.WithLabelValues(kind, "released").Inc()
				return released, nil
			}
			if refusedOutcome(err) {
				// Refused for what it is, it would be refused again: delivered again, the
				// command was claimed and started again, for ever.
				log.Error("the control plane refused command.started; the command is stopped and left to the claim lease",
					slog.Any("error", err))
				return refused, nil
			}
			log.Error("the control plane did not take command.started; the command is stopped", slog.Any("error", err))
			return notReported, nil
		}
		head = nil
		out = <-done
	}
	stopWatch()
	e.m.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())

	switch context.Cause(ctx) {
	case errShutdown:
		log.Warn("grace period over: the command is handed back", slog.Duration("ran", time.Since(start)))
		e.m.commands.WithLabelValues(kind, "handed_back").Inc()
		return handedBack, nil
	case errReleased:
		log.Warn("the control plane says this worker no longer holds the command; stopped, nothing reported",
			slog.Duration("ran", time.Since(start)))
		e.m.commands.WithLabelValues(kind, "released").Inc()
		return released, nil
	case errExecutionCancelled:
		out.Result = tool.Failed("cancelled", false, "the execution was cancelled; the command was stopped")
	}
	outcome := "success"
	if !out.Result.OK() {
		outcome = "error"
		if out.Result.Fault != nil && out.Result.Fault.Kind == "cancelled" {
			outcome = "cancelled"
		}
	}
	next, err := rep.outcome(out, head)
	if refusedOutcome(err) {
		// The control plane will never store this outcome (too large for its body limit,
		// or content PostgreSQL cannot hold, such as a NUL character): posting it again,
		// or running the command again, gets the same answer, and the execution would
		// stay RUNNING for ever. The step fails instead, saying why.
		log.Error("the control plane refused the command's outcome; it is reported failed instead", slog.Any("error", err))
		out.Result = tool.Failed("result", false, "the control plane refused the step's outcome: %v", err)
		outcome = "error"
		next, err = rep.outcome(out, head)
		if refusedOutcome(err) {
			// The events themselves are refused, whatever they say. Delivered again, the
			// command would be claimed by this worker again and run again, for ever; it is
			// acknowledged and left to the claim lease, which hands it back with its next
			// attempt until its attempts run out.
			log.Error("the control plane refused the command's failure too; it is left to the claim lease", slog.Any("error", err))
			e.m.commands.WithLabelValues(kind, outcome).Inc()
			return refused, nil
		}
	}
	if errors.Is(err, controlplane.ErrUnreadableAnswer) {
		// A 2xx answer: the outcome is stored. Posting it again would get the same
		// answer; an eager command in it that could not be read is handed back by the
		// control plane at its eager ack deadline, and the readable ones run.
		log.Warn("the outcome is stored, but its answer could not be read in full", slog.Any("error", err))
		err = nil
	}
	if err != nil {
		log.Error("could not report the command's outcome; it will be delivered again", slog.Any("error", err))
		return notReported, nil
	}
	e.m.commands.WithLabelValues(kind, outcome).Inc()
	if outcome != "success" {
		log.Info("command failed", slog.String("tool", cmd.Action), slog.String("error", redact.String(sess.Scrub.String(out.Result.Error))))
	} else {
		log.Debug("command completed", slog.String("tool", cmd.Action), slog.Duration("took", time.Since(start)))
	}
	return reported, next
}

// watchCancel asks every CancelCheck whether the execution was cancelled and stops
// the command when it was.
func (e *Executor) watchCancel(ctx context.Context, cancel context.CancelCauseFunc, server string, executionID int64) func() {
	return periodic.Go(ctx, e.cfg.CancelCheck, func(ctx context.Context) bool {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		yes, err := e.plane.Cancelled(cctx, server, executionID)
		if err == nil && yes {
			cancel(errExecutionCancelled)
			return false
		}
		return true
	})
}

// toolConfig is the config a command carries: its tool_config (a list for a pipeline),
// with the step's `args` added when the tool has none of its own (upstream's rule).
func toolConfig(cmd *controlplane.Command) any {
	switch t := cmd.Context["tool_config"].(type) {
	case []any:
		return t
	case map[string]any:
		out := make(map[string]any, len(t)+1)
		for k, v := range t {
			out[k] = v
		}
		_, hasArgs := out["args"]
		_, hasInput := out["input"]
		if args, ok := cmd.Context["args"].(map[string]any); ok && len(args) > 0 && !hasArgs && !hasInput {
			out["args"] = args
		}
		return out
	}
	if args, ok := cmd.Context["args"].(map[string]any); ok && len(args) > 0 {
		return map[string]any{"args": args}
	}
	return map[string]any{}
}

// commandVars is the template context of a command: its render_context, with the .data
// alias given back to the step results the command lists in `data_alias` (the server
// ships them plain), the `ctx` shim (the whole flat context, which the server does not
// ship) and the command's identifiers where the context has none of its own. So a
// template reads a step result here exactly as on the server.
func commandVars(cmd *controlplane.Command, exec tool.Exec) map[string]any {
	rc, _ := cmd.Context["render_context"].(map[string]any)
	vars := make(map[string]any, len(rc)+8)
	for k, v := range rc {
		vars[k] = v
	}
	aliased, _ := cmd.Context["data_alias"].([]any)
	for _, n := range aliased {
		if name, ok := n.(string); ok {
			if v, ok := vars[name]; ok {
				vars[name] = tmpl.DataAlias(v)
			}
		}
	}
	if _, ok := vars["ctx"]; !ok {
		shim := make(map[string]any, len(vars))
		for k, v := range vars {
			shim[k] = v
		}
		vars["ctx"] = shim
	}
	if _, ok := vars["workload"]; !ok {
		vars["workload"] = map[string]any{}
	}
	for k, v := range map[string]any{"execution_id": exec.ExecutionIDString(), "command_id": exec.CommandID,
		"worker_id": exec.WorkerID, "server_url": exec.ServerURL, "step": exec.Step} {
		if _, ok := vars[k]; !ok {
			vars[k] = v
		}
	}
	return vars
}

// metricKind bounds the tool label.
func metricKind(k string) string { return promx.Known(metricKinds, strings.ToLower(k)) }

var metricKinds = map[string]bool{"python": true, "http": true, "postgres": true, "shell": true, "noop": true, "playbook": true, runner.KindPipeline: true}

// reporter posts a command's events.
type reporter struct {
	e      *Executor
	cmd    *controlplane.Command
	server string
	scrub  *credentials.Scrubber
	hard   context.Context
}

func (r *reporter) event(typ, status string, context map[string]any) controlplane.Event {
	id, err := r.e.ids.Next()
	if err != nil {
		id = 0 // the control plane mints one (a retry may then store it twice)
	}
	ev := controlplane.NewEvent(id, r.cmd.ExecutionID, r.cmd.Step, typ, status, r.e.cfg.WorkerID, r.scrubbed(context))
	ev.Meta = map[string]any{"attempt": r.cmd.Attempt}
	return ev
}

func (r *reporter) scrubbed(m map[string]any) map[string]any {
	v, _ := r.scrub.Value(m).(map[string]any)
	return v
}

// post sends one event, retrying what may succeed later. The event id makes a repeat
// harmless. A stopping worker gets a few seconds past its grace to finish a post.
func (r *reporter) post(ev controlplane.Event) error {
	return r.retry(func(ctx context.Context) error { return r.e.plane.PostEvent(ctx, r.server, ev) })
}

// postOutcome sends a command's closing batch, with eager dispatch when configured.
// A retry repeats the same event ids, and a repeat gets the same eager commands back.
func (r *reporter) postOutcome(evs []controlplane.Event) ([]*controlplane.Command, error) {
	var next []*controlplane.Command
	err := r.retry(func(ctx context.Context) error {
		if r.e.cfg.EagerCapacity <= 0 || r.e.closed.Load() {
			return r.e.plane.PostEvents(ctx, r.server, r.cmd.ExecutionID, r.e.cfg.WorkerID, evs)
		}
		var err error
		next, err = r.e.plane.PostOutcome(ctx, r.server, r.cmd.ExecutionID, r.e.cfg.WorkerID, evs, r.e.cfg.EagerCapacity)
		return err
	})
	return next, err
}

func (r *reporter) retry(fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.hard), r.e.cfg.ReportBudget)
	defer cancel()
	stop := context.AfterFunc(r.hard, func() { time.AfterFunc(10*time.Second, cancel) })
	defer stop()
	delay := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, 30*time.Second)
		err := fn(actx)
		acancel()
		if err == nil || !controlplane.Transient(err) {
			return err
		}
		r.e.m.eventRetries.Inc()
		if attempt%10 == 3 {
			r.e.log.Warn("posting an event keeps failing; retrying", slog.Int64("execution_id", r.cmd.ExecutionID), slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// outcome posts call.done + command.completed, or call.error + command.failed, in one
// batch after head (a command.started not sent yet), and returns the commands eager
// dispatch handed over.
func (r *reporter) outcome(out runner.Outcome, head []controlplane.Event) ([]*controlplane.Command, error) {
	res := out.Result
	if kept, dropped := cutText(res.Error, maxErrorText); dropped > 0 {
		res.Error = fmt.Sprintf("%s\n[error truncated: %d more bytes]", kept, dropped)
	}
	tr, ref, err := r.toolResult(res)
	if err != nil {
		res = tool.Failed("result", false, "the result could not be stored: %v", err)
		tr, ref = res.Wire(), nil
	}
	if !res.OK() {
		// The failure's kind (connection, http, database, timeout, config, ...), so the
		// control plane can tell failures apart; one that does not know the key ignores it.
		tr["error_kind"] = res.ErrorKind()
	}
	inner := map[string]any{"status": string(res.Status), "context": tr}
	if ref != nil {
		inner["reference"] = ref
	}
	id := r.cmd.CommandIDValue
	var evs []controlplane.Event
	if res.OK() {
		evs = []controlplane.Event{
			r.event("call.done", "COMPLETED", map[string]any{"command_id": id, "call_index": int64(0), "result": inner}),
			r.event("command.completed", string(tool.Success), map[string]any{"command_id": id, "status": string(tool.Success)}),
		}
	} else {
		msg := res.Error
		if msg == "" {
			msg = "the tool failed"
		}
		evs = []controlplane.Event{
			r.event("call.error", "FAILED", map[string]any{"command_id": id, "call_index": int64(0), "error": msg, "result": inner}),
			r.event("command.failed", "FAILED", map[string]any{"command_id": id, "error": msg}),
		}
	}
	for i := range evs {
		evs[i].Meta["tool_attempts"] = int64(out.Attempts)
	}
	return r.postOutcome(append(head, evs...))
}

// maxStream bounds stdout and stderr inside an event once the data went to the store.
const maxStream = 16 << 10

// maxErrorText bounds a failure's error text in its events. A tool may name a line of
// its output in its error (a python exception's message, a shell's last stderr line),
// and that line may be megabytes: two copies of it (call.error, command.failed) would
// exceed the control plane's body limit, and the outcome could never be stored.
const maxErrorText = 16 << 10

// refusedOutcome reports whether the control plane answered an outcome with a refusal
// of its content: 413 (larger than its body limit) or 422 (a value it cannot store).
func refusedOutcome(err error) bool {
	code := controlplane.StatusOf(err)
	return code == http.StatusRequestEntityTooLarge || code == http.StatusUnprocessableEntity
}

// cutText keeps the first n bytes of s, back to the start of a character (half of one
// reaches JSON as U+FFFD), and says how many bytes it dropped.
func cutText(s string, n int) (string, int) {
	if len(s) <= n {
		return s, 0
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], len(s) - n
}

// toolResult is the ToolResult to send, scrubbed. When it is larger than the inline
// limit, its data goes to the result store and the ToolResult carries {_ref} instead.
func (r *reporter) toolResult(res tool.Result) (map[string]any, map[string]any, error) {
	tr := r.scrubbed(res.Wire())
	b, err := jsonx.Marshal(tr)
	if err != nil {
		return nil, nil, err
	}
	if len(b) <= r.e.cfg.InlineLimit {
		return tr, nil, nil
	}
	for _, k := range []string{"stdout", "stderr"} {
		if s, ok := tr[k].(string); ok {
			if kept, dropped := cutText(s, maxStream); dropped > 0 {
				tr[k] = kept + "\n[truncated]"
			}
		}
	}
	if !res.HasData {
		return tr, nil, nil
	}
	var ref map[string]any
	err = r.retry(func(actx context.Context) error {
		var perr error
		ref, perr = r.e.plane.PutResult(actx, r.server, r.cmd.ExecutionID, r.cmd.Step, tr["data"])
		return perr
	})
	if err != nil {
		return nil, nil, err
	}
	refText, _ := ref["ref"].(string)
	tr["data"] = map[string]any{"_ref": refText}
	return tr, ref, nil
}
