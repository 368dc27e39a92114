// Package policy evaluates a tool's policy rules (`spec.policy.rules`) against its
// outcome. Rules are tried in order and the first match decides what happens next:
// continue, retry (with a delay), fail, break or jump, optionally setting variables.
// The rules and their `set` values reach the worker unrendered; they are rendered here
// with `output` (the outcome envelope, see Output) and `_attempt` in scope.
package policy

import "fmt"
import "math"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/policyrules"
import "github.com/noetl/controlplane/shared/tmpl"

// Actions.
const (
	Continue = policyrules.Continue
	Retry    = policyrules.Retry
	Fail     = policyrules.Fail
	Break    = policyrules.Break
	Jump     = policyrules.Jump
)

// maxDelay caps a retry's computed delay.
const maxDelay = 5 * time.Minute

// Then is what a matching rule does.
type Then struct {
	Do       string
	Attempts int // retry: total executions, at least 1
	// Delay in seconds; DelaySet tells an explicit delay from the default.
	Delay    float64
	DelaySet bool
	Backoff  string
	MaxDelay time.Duration
	To       string // jump target
	Set      map[string]any
}

// Rule is one entry of policy.rules.
type Rule struct {
	// When is the condition: a YAML boolean taken literally, or a template/expression.
	// Nil with Else false means the rule has only a `then`, which always matches.
	When any
	Else bool
	Then Then
}

// Parse reads the rules of a tool's `spec` (spec.policy.rules). No spec, no rules.
func Parse(spec any) ([]Rule, error) {
	sm, _ := spec.(map[string]any)
	pm, _ := sm["policy"].(map[string]any)
	raw, ok := pm["rules"]
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("spec.policy.rules must be a list")
	}
	rules := make([]Rule, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("spec.policy.rules[%d] must be an object", i)
		}
		var r Rule
		var thenRaw any
		if ev, isElse := m["else"]; isElse {
			r.Else = true
			// Both `else: {then: X}` and `else: X`.
			if em, ok := ev.(map[string]any); ok {
				if t, ok := em["then"]; ok {
					thenRaw = t
				} else {
					thenRaw = em
				}
			}
		} else {
			r.When = m["when"]
			thenRaw = m["then"]
			if thenRaw == nil {
				return nil, fmt.Errorf("spec.policy.rules[%d] has no `then`", i)
			}
		}
		t, err := parseThen(thenRaw)
		if err != nil {
			return nil, fmt.Errorf("spec.policy.rules[%d].then: %w", i, err)
		}
		r.Then = t
		rules = append(rules, r)
	}
	return rules, nil
}

func parseThen(v any) (Then, error) {
	t := Then{Do: Continue, Attempts: 3, Delay: 1}
	switch x := v.(type) {
	case nil:
		return t, nil
	case string:
		// `then: retry` shorthand.
		t.Do = strings.ToLower(strings.TrimSpace(x))
		return t, policyrules.CheckAction(t.Do)
	case map[string]any:
		if d, ok := x["do"]; ok && d != nil {
			s, ok := d.(string)
			if !ok {
				return t, fmt.Errorf("do must be a string")
			}
			t.Do = strings.ToLower(strings.TrimSpace(s))
			if err := policyrules.CheckAction(t.Do); err != nil {
				return t, err
			}
		}
		if a, ok := x["attempts"]; ok && a != nil {
			n, err := tool.Number(a, "attempts")
			if err != nil {
				return t, err
			}
			t.Attempts = max(1, int(n))
		}
		if d, ok := x["delay"]; ok && d != nil {
			f, err := tool.Number(d, "delay")
			if err != nil {
				return t, err
			}
			t.Delay, t.DelaySet = math.Max(0, f), true
		}
		if b, ok := x["backoff"].(string); ok {
			t.Backoff = strings.ToLower(strings.TrimSpace(b))
		}
		if md, ok := x["max_delay"]; ok && md != nil {
			f, err := tool.Number(md, "max_delay")
			if err != nil {
				return t, err
			}
			t.MaxDelay = tool.SecondsDuration(f)
		}
		t.To, _ = x["to"].(string)
		if s, ok := x["set"].(map[string]any); ok {
			t.Set = s
		} else if s, ok := x["set_vars"].(map[string]any); ok {
			t.Set = s
		}
		return t, nil
	}
	return t, fmt.Errorf("must be an object")
}

// RetryDelay is the pause before retry number n (1 for the first retry): `backoff`
// linear is delay·n, exponential delay·2^(n-1), none 0, any other word (fixed) the
// delay; without `backoff` an explicit delay is used as is and no delay means none.
func (t Then) RetryDelay(n int) time.Duration {
	secs := 0.0
	switch t.Backoff {
	case "":
		if t.DelaySet {
			secs = t.Delay
		}
	case "none":
	case "linear":
		secs = t.Delay * float64(n)
	case "exponential", "exp":
		secs = t.Delay * math.Pow(2, float64(n-1))
	default:
		secs = t.Delay
	}
	d := tool.SecondsDuration(secs) // an exponential backoff's 2^40 s must not wrap to no pause
	limit := maxDelay
	if t.MaxDelay > 0 && t.MaxDelay < limit {
		limit = t.MaxDelay
	}
	return min(d, limit)
}

// Decision is the matching rule's verdict. Matched is false when no rule matched (the
// caller applies the default: an error fails, a success continues).
type Decision struct {
	Matched bool
	Then    Then
	// Set holds the rule's `set` values, rendered.
	Set map[string]any
}

// Decide tries the rules in order against vars (which carry output and _attempt).
func Decide(r *tmpl.Renderer, rules []Rule, vars map[string]any) (Decision, error) {
	for i, rule := range rules {
		ok, err := matches(r, rule, vars)
		if err != nil {
			return Decision{}, fmt.Errorf("policy rule %d: when: %w", i, err)
		}
		if !ok {
			continue
		}
		d := Decision{Matched: true, Then: rule.Then}
		if len(rule.Then.Set) > 0 {
			d.Set = make(map[string]any, len(rule.Then.Set))
			for k, v := range rule.Then.Set {
				rv, err := r.RenderValue(v, vars)
				if err != nil {
					return Decision{}, fmt.Errorf("policy rule %d: set %s: %w", i, k, err)
				}
				d.Set[k] = rv
			}
		}
		return d, nil
	}
	return Decision{}, nil
}

func matches(r *tmpl.Renderer, rule Rule, vars map[string]any) (bool, error) {
	if rule.Else {
		return true, nil
	}
	switch w := rule.When.(type) {
	case nil:
		return true, nil
	case bool:
		return w, nil
	case string:
		return r.EvalCondition(w, vars)
	case int64:
		return w != 0, nil
	}
	return false, fmt.Errorf("when must be a boolean or a template")
}

// Output is `output` as rules see it: {status: "ok"|"error", data, error: {kind,
// retryable, code, status, status_code, message}, http: {status, headers}}. `error` is
// there on success too (retryable false), so `output.error.retryable` always reads; a
// timeout is an error.
func Output(r tool.Result) map[string]any {
	status := "ok"
	if !r.OK() {
		status = "error"
	}
	e := map[string]any{"retryable": false}
	if !r.OK() {
		e["message"] = r.Error
		if f := r.Fault; f != nil {
			e["retryable"] = f.Retryable || r.Status == tool.Timeout
			if f.Code != "" {
				e["code"] = f.Code
			}
			if f.StatusCode != 0 {
				e["status"] = int64(f.StatusCode)
				e["status_code"] = int64(f.StatusCode)
			}
		}
		e["kind"] = r.ErrorKind()
	}
	out := map[string]any{"status": status, "error": e}
	if r.HasData {
		out["data"] = r.Data
	}
	if r.HTTP != nil {
		out["http"] = map[string]any{"status": int64(r.HTTP.Status), "headers": r.HTTP.Headers}
	}
	return out
}

// SetVar writes a `set` key into a running context: dots nest (ctx.a.b writes
// vars.ctx.a.b), and a ctx., iter. or step. key is also written without its prefix,
// because the engine keeps one flat namespace (`{{ ctx.a }}` ≡ `{{ a }}`). Maps on the
// way are copied, never modified: they may be shared with the command's context.
func SetVar(vars map[string]any, key string, v any) {
	tmpl.SetPath(vars, key, v)
	if s := tmpl.SetKey(key); s != key {
		tmpl.SetPath(vars, s, v)
	}
}

// Describe is a rule's action for logs.
func (t Then) Describe() string {
	switch t.Do {
	case Retry:
		return "retry (attempts " + strconv.Itoa(t.Attempts) + ")"
	case Jump:
		return "jump to " + t.To
	}
	return t.Do
}
