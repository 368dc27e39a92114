// Package runner runs a command's tool the way a step asks for it: one tool, or a
// pipeline of tasks (a list-shaped `tool:`), with the policy rules of each evaluated
// on its outcome (retry, continue, fail, break, jump, set). Templates the server left
// unrendered are rendered here against the command's context; credential aliases are
// resolved and applied just before a tool runs.
package runner

import "context"
import "fmt"
import "log/slog"
import "maps"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/credentials"
import "github.com/noetl/controlplane/services/worker/internal/policy"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/tmpl"

// KindPipeline is the kind of a list-shaped tool (upstream's task_sequence).
const KindPipeline = "task_sequence"

// DefaultMaxIterations bounds the task executions of one pipeline (retries and jumps
// included), so a rule that jumps back forever still ends.
const DefaultMaxIterations = 100_000

// Runner runs steps.
type Runner struct {
	tools         tool.Registry
	r             *tmpl.Renderer
	log           *slog.Logger
	MaxIterations int
	// Sleep waits between retries; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// TimeoutGrace is how long a tool may run on once its timeout ended its context.
	TimeoutGrace time.Duration
}

// New returns a runner over the registered tools.
func New(tools tool.Registry, r *tmpl.Renderer, log *slog.Logger) *Runner {
	return &Runner{tools: tools, r: r, log: log, MaxIterations: DefaultMaxIterations, Sleep: sleep, TimeoutGrace: DefaultTimeoutGrace}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Step is what a command asks to run.
type Step struct {
	Kind string
	// Config is the tool config: an object for one tool, a list of {label: task} for
	// a pipeline.
	Config any
	// Vars is the command's template context (render context, `ctx`, metadata). It is
	// not modified.
	Vars  map[string]any
	Exec  tool.Exec
	Creds *credentials.Session
	// Timeout is the command's step_timeout_seconds as it came (nil: the step sets
	// none): the bound of the whole run, retries and pipeline tasks included.
	Timeout any
}

// Outcome is how a step ended after its rules.
type Outcome struct {
	// Result is the final outcome: Status success (rules may have turned an error into
	// one) or error/timeout; Data carries _context_updates when a rule set something.
	Result tool.Result
	// Tool is what the tool itself returned last (its ToolResult on the wire).
	Tool tool.Result
	// Attempts counts the tool executions (retries included).
	Attempts int
}

// Run runs a step to its outcome, within the step's timeout: a run that it ends is a
// timeout whatever the tool made of its cancelled context.
func (rn *Runner) Run(ctx context.Context, s Step) Outcome {
	bound, err := stepBound(s.Timeout)
	if err != nil {
		r := tool.Failed("config", false, "Configuration error: %v", err)
		return Outcome{Result: r, Tool: r}
	}
	ctx, cancel := withBound(ctx, bound, true)
	defer cancel()
	out := rn.run(ctx, s)
	if te := tool.BoundOf(ctx); te != nil {
		out.Result = asTimeout(out.Result, te)
	}
	return out
}

func (rn *Runner) run(ctx context.Context, s Step) Outcome {
	if list, ok := pipelineTasks(s.Kind, s.Config); ok {
		return rn.runPipeline(ctx, s, list)
	}
	cfg, ok := s.Config.(map[string]any)
	if !ok {
		if s.Config != nil {
			r := tool.ConfigFailure(s.Kind, tool.Configf("tool config must be an object"))
			return Outcome{Result: r, Tool: r}
		}
		cfg = map[string]any{}
	}
	return rn.runSingle(ctx, s, cfg)
}

// runSingle runs one tool under its policy rules.
func (rn *Runner) runSingle(ctx context.Context, s Step, cfg map[string]any) Outcome {
	rules, err := policy.Parse(cfg["spec"])
	if err != nil {
		r := tool.Failed("config", false, "Configuration error: %v", err)
		return Outcome{Result: r, Tool: r}
	}
	base := withoutKeys(cfg, "kind", "spec")
	vars := copyMap(s.Vars)
	updates := map[string]any{}
	for attempt := 1; ; attempt++ {
		exec := s.Exec
		exec.Invocation = tool.Invocation("", attempt)
		res := rn.invoke(ctx, s.Kind, base, vars, exec, s.Creds)
		if len(rules) == 0 || ctx.Err() != nil {
			return Outcome{Result: res, Tool: res, Attempts: attempt}
		}
		d, err := rn.decide(rules, vars, res, attempt, updates)
		if err != nil {
			r := tool.Failed("config", false, "%v", err)
			return Outcome{Result: r, Tool: res, Attempts: attempt}
		}
		final, again, wait := settle(d, res, attempt, fmt.Sprintf("step '%s'", s.Exec.Step))
		if again {
			if err := rn.Sleep(ctx, wait); err != nil {
				return Outcome{Result: cancelled(), Tool: res, Attempts: attempt}
			}
			continue
		}
		// A failure carries its rules' sets too: under spec.on_error: continue the step
		// completes with the failure's data, and the engine folds them from there (a
		// retry's attempt count, a reason recorded on the way out).
		if len(updates) > 0 {
			final = withContextUpdates(final, updates, rn.log)
		}
		return Outcome{Result: final, Tool: res, Attempts: attempt}
	}
}

// decide evaluates the rules with output and _attempt in scope and applies the
// matching rule's `set` to vars and updates.
func (rn *Runner) decide(rules []policy.Rule, vars map[string]any, res tool.Result, attempt int, updates map[string]any) (policy.Decision, error) {
	pv := overlay(vars, map[string]any{"output": policy.Output(res), "_attempt": int64(attempt)})
	d, err := policy.Decide(rn.r, rules, pv)
	if err != nil {
		return d, err
	}
	for k, v := range d.Set {
		policy.SetVar(vars, k, v)
		updates[k] = v
	}
	return d, nil
}

// settle turns a decision into the final result, or into another attempt after wait.
// No matching rule: an error fails, a success continues. continue and break make a
// success of an error; retry runs again until `attempts` executions, then ends with the
// last attempt's outcome; fail ends with an error.
func settle(d policy.Decision, res tool.Result, attempt int, what string) (final tool.Result, again bool, wait time.Duration) {
	if !d.Matched {
		return res, false, 0
	}
	switch d.Then.Do {
	case policy.Retry:
		if attempt < d.Then.Attempts {
			return tool.Result{}, true, d.Then.RetryDelay(attempt)
		}
		return res, false, 0
	case policy.Fail:
		if res.OK() {
			res.Status = tool.Error
			res.Error = "policy rule triggered fail for " + what
			res.Fault = &tool.Fault{Kind: "policy"}
		}
		return res, false, 0
	case policy.Jump:
		r := tool.Failed("config", false, "policy: jump is only valid inside a pipeline (%s)", what)
		return r, false, 0
	case policy.Continue, policy.Break:
		res.Status = tool.Success
		return res, false, 0
	default: // policy.Parse admits no other verb
		return tool.Failed("config", false, "policy: unknown action '%s' (%s)", d.Then.Do, what), false, 0
	}
}

func cancelled() tool.Result {
	return tool.Failed("cancelled", false, "the command was cancelled")
}

// invoke renders a single tool's config (only the strings that still hold templates:
// the server rendered the rest), with `keychain` bound to the aliases it references,
// and calls the tool.
func (rn *Runner) invoke(ctx context.Context, kind string, cfg map[string]any, vars map[string]any, exec tool.Exec, creds *credentials.Session) tool.Result {
	rvars, err := withKeychain(ctx, creds, cfg, vars)
	if err != nil {
		return credentialFailure(err)
	}
	rendered, err := rn.r.RenderValueOpts(cfg, rvars, tmpl.Options{KeepPlain: true})
	if err != nil {
		return tool.Failed("config", false, "Template error: %v", err)
	}
	rc, _ := rendered.(map[string]any)
	return rn.call(ctx, kind, rc, vars, exec, creds)
}

// withKeychain binds `keychain` to the credentials the value's templates reference.
func withKeychain(ctx context.Context, creds *credentials.Session, v any, vars map[string]any) (map[string]any, error) {
	kc, err := creds.Keychain(ctx, v)
	if err != nil || kc == nil {
		return vars, err
	}
	return overlay(vars, map[string]any{"keychain": kc}), nil
}

// call applies the config's credentials and runs the tool on a rendered config.
func (rn *Runner) call(ctx context.Context, kind string, cfg map[string]any, vars map[string]any, exec tool.Exec, creds *credentials.Session) tool.Result {
	start := time.Now()
	t, ok := rn.tools.Lookup(kind)
	if !ok {
		return tool.Failed("config", false, "Tool not found: %s", kind)
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	if err := creds.Apply(ctx, kind, cfg); err != nil {
		return credentialFailure(err)
	}
	bound, err := toolBound(cfg)
	if err != nil {
		return tool.ConfigFailure(strings.ToLower(kind), err)
	}
	tctx, cancel := withBound(ctx, bound, false)
	defer cancel()
	call := tool.Call{Kind: strings.ToLower(kind), Config: cfg, Vars: vars, Exec: exec}
	if creds != nil {
		call.Secrets = creds.Scrub
	}
	res := rn.runTool(tctx, t, call)
	if te := tool.BoundOf(tctx); te != nil {
		res = asTimeout(res, te)
	} else if ctx.Err() != nil && !res.OK() && (res.Fault == nil || res.Fault.Kind != "cancelled") {
		res.Fault = &tool.Fault{Kind: "cancelled"}
	}
	if res.Duration == 0 {
		res.Duration = time.Since(start)
	}
	return res
}

func credentialFailure(err error) tool.Result {
	if ce, ok := err.(*credentials.Error); ok {
		return tool.Failed("credential", ce.Retryable, "%s", ce.Msg)
	}
	return tool.Failed("credential", false, "%v", err)
}

// withContextUpdates adds the rule sets to the data, where the engine folds them into
// the execution's variables. Data that is not an object cannot carry them; they are
// dropped with a warning.
func withContextUpdates(r tool.Result, updates map[string]any, log *slog.Logger) tool.Result {
	m, ok := r.Data.(map[string]any)
	if !ok && r.HasData && r.Data != nil {
		log.Warn("policy set values dropped: the step's data is not an object", slog.Int("keys", len(updates)))
		return r
	}
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	cu := make(map[string]any, len(updates))
	for k, v := range updates {
		cu[k] = v
	}
	out["_context_updates"] = cu
	return r.WithData(out)
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+8)
	maps.Copy(out, m)
	return out
}

// overlay is base with extra laid over it (a new map; neither input changes).
func overlay(base, extra map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(extra))
	maps.Copy(out, base)
	maps.Copy(out, extra)
	return out
}

func withoutKeys(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(m))
	maps.Copy(out, m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}
