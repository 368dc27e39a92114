package runner

import "context"
import "fmt"
import "log/slog"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/timeouts"

// DefaultTimeoutGrace is how long a tool whose bound ended may take to give up before
// the runner stops waiting for it.
const DefaultTimeoutGrace = 5 * time.Second

// withBound derives a context that ends after d with a tool.TimeoutError as its cause;
// d <= 0 leaves ctx unbounded.
func withBound(ctx context.Context, d time.Duration, step bool) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, d, &tool.TimeoutError{Bound: d, Step: step})
}

// asTimeout reports a failed result as the timeout that ended it, keeping what the tool
// learnt (data, stdout, stderr): the tool saw only a cancelled context, and would name
// a cancel, or a bound of its own, instead of the one the playbook set. A tool bound is
// retryable like any timeout; a step's is not, since its whole budget is spent.
//
// A result that already is a timeout is left alone: a pipeline's names its task, a
// playbook step's names the child it cancelled.
func asTimeout(r tool.Result, te *tool.TimeoutError) tool.Result {
	if r.OK() || (r.Status == tool.Timeout && r.Fault != nil && r.Fault.Kind == "timeout") {
		return r
	}
	t := tool.TimedOut(te.Retryable(), "%s", te.Error())
	r.Status, r.Error, r.Fault = t.Status, t.Error, t.Fault
	return r
}

// toolBound reads a tool's generic `timeout` and writes it back as seconds, so the tools
// that read `timeout` themselves (python, shell, playbook) see the same bound whatever
// its spelling.
func toolBound(cfg map[string]any) (time.Duration, error) {
	v, ok := cfg["timeout"]
	if !ok || v == nil {
		return 0, nil
	}
	d, err := timeouts.Parse(v)
	if err != nil {
		return 0, tool.Configf("timeout %v", err)
	}
	cfg["timeout"] = timeouts.Seconds(d)
	return d, nil
}

// stepBound reads the command's step_timeout_seconds (nil: none).
func stepBound(v any) (time.Duration, error) {
	if v == nil {
		return 0, nil
	}
	d, err := timeouts.Parse(v)
	if err != nil {
		return 0, fmt.Errorf("step_timeout_seconds %w", err)
	}
	return d, nil
}

// runTool runs a tool under ctx. Once a playbook's bound ends ctx the tool has Grace to
// return; a tool that ignores its context is then left behind (its goroutine ends when
// it does) and the call reports the timeout, so the bound holds whatever the tool. A
// process tool never gets there: its process group is killed with the context.
func (rn *Runner) runTool(ctx context.Context, t tool.Tool, call tool.Call) tool.Result {
	done := make(chan tool.Result, 1)
	go func() { done <- t.Run(ctx, call) }()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
	}
	if tool.BoundOf(ctx) == nil {
		return <-done // a cancel or a shutdown: the tool stops on its own, as it always did
	}
	grace := time.NewTimer(rn.TimeoutGrace)
	defer grace.Stop()
	select {
	case r := <-done:
		return r
	case <-grace.C:
		rn.log.Warn("a tool kept running past its timeout; the command no longer waits for it",
			slog.String("tool", call.Kind), slog.String("step", call.Exec.Step), slog.Duration("grace", rn.TimeoutGrace))
		return tool.Result{Status: tool.Timeout}
	}
}
