package playbook

import "errors"
import "testing"

// A policy the worker would misread is refused at register: an unknown verb used to
// continue silently (a typo of `retry` turned every error into a success) and an unknown
// key was ignored (a misspelt `attempts` left the default).
func TestPolicyValidation(t *testing.T) {
	t.Parallel()
	single := func(policy string) string {
		return pb("  - step: start\n    tool:\n      kind: noop\n      spec:\n        policy:\n" + policy)
	}
	cases := []struct {
		name string
		src  string
		msg  string // "" when the playbook is valid
	}{
		{"every verb and key", single("          rules:\n            - when: \"{{ output.status == 'error' }}\"\n              then: {do: retry, attempts: 3, delay: 1, backoff: linear, max_delay: 5, set: {a: 1}}\n            - when: true\n              then: fail\n            - else: {then: {do: continue, set_vars: {b: 2}}}\n"), ""},
		{"else without then", single("          rules:\n            - else: {do: break}\n"), ""},
		{"verbs in any case", single("          rules:\n            - then: {do: Retry}\n"), ""},
		{"no rules", single("          rules: []\n"), ""},
		{"an unknown verb", single("          rules:\n            - when: true\n              then: {do: retyr}\n"),
			"Step 'start': tool spec.policy.rules[0].then.do: unknown action 'retyr'. Valid: [continue, retry, fail, break, jump]"},
		{"an unknown verb as shorthand", single("          rules:\n            - then: explode\n"),
			"Step 'start': tool spec.policy.rules[0].then.do: unknown action 'explode'. Valid: [continue, retry, fail, break, jump]"},
		{"an unknown verb under else", single("          rules:\n            - else: {then: {do: skip}}\n"),
			"Step 'start': tool spec.policy.rules[0].else.then.do: unknown action 'skip'. Valid: [continue, retry, fail, break, jump]"},
		{"an unknown key in then", single("          rules:\n            - then: {do: retry, attempt: 5}\n"),
			"Step 'start': tool spec.policy.rules[0].then: unknown key 'attempt'. Valid: [do, attempts, delay, backoff, max_delay, to, set, set_vars]"},
		{"an unknown key in a rule", single("          rules:\n            - wen: true\n              then: fail\n"),
			"Step 'start': tool spec.policy.rules[0]: unknown key 'wen'. Valid: [when, then, else, desc]"},
		{"an unknown key in the policy", single("          rule:\n            - then: fail\n"),
			"Step 'start': tool spec.policy: unknown key 'rule'. Valid: [rules]"},
		{"a rule without then", single("          rules:\n            - when: true\n"),
			"Step 'start': tool spec.policy.rules[0] has no 'then'"},
		{"rules not a list", single("          rules: {then: fail}\n"),
			"Step 'start': tool spec.policy.rules must be a list"},
		{"jump outside a pipeline", single("          rules:\n            - then: {do: jump, to: a}\n"),
			"Step 'start': tool spec.policy.rules[0].then.do: jump is only valid in a pipeline task"},
		{"jump without a target", pb("  - step: start\n    tool:\n      - a:\n          kind: noop\n          spec:\n            policy:\n              rules:\n                - then: {do: jump}\n"),
			"Step 'start': pipeline task[0] 'a' spec.policy.rules[0].then: jump needs 'to', the label of a task"},
		{"a pipeline task's unknown verb", pb("  - step: start\n    tool:\n      - a:\n          kind: noop\n          spec:\n            policy:\n              rules:\n                - then: {do: again}\n"),
			"Step 'start': pipeline task[0] 'a' spec.policy.rules[0].then.do: unknown action 'again'. Valid: [continue, retry, fail, break, jump]"},
		{"a pipeline jump", pb("  - step: start\n    tool:\n      - a:\n          kind: noop\n          spec:\n            policy:\n              rules:\n                - then: {do: jump, to: a}\n"), ""},
		{"a workbook action's policy", header + "workbook:\n  - name: w\n    tool:\n      kind: noop\n      spec: {policy: {rules: [{then: {do: nope}}]}}\nworkflow:\n" + okStart,
			"workbook 'w': tool spec.policy.rules[0].then.do: unknown action 'nope'. Valid: [continue, retry, fail, break, jump]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.src))
			if c.msg == "" {
				if err != nil {
					t.Fatalf("refused a valid policy: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Msg != c.msg {
				t.Fatalf("got %v\nwant %s", err, c.msg)
			}
		})
	}
}
