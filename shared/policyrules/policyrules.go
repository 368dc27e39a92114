// Package policyrules is the vocabulary of a tool's spec.policy: the keys a policy, a
// rule and a rule's `then` may hold, and the actions a rule may take. The worker acts on
// policies (services/worker/internal/policy) and the api refuses at register a policy
// that uses a word outside it (services/api/internal/playbook); one list for both, so a
// verb the worker learns is one the server accepts. A word outside it used to be ignored
// by the worker, an unknown action continuing as if the outcome were a success, so a
// typo turned every error into one.
package policyrules

import "fmt"
import "slices"
import "strings"

// Actions a rule's `then.do` may name.
const (
	Continue = "continue"
	Retry    = "retry"
	Fail     = "fail"
	Break    = "break"
	Jump     = "jump"
)

var (
	// Actions lists every action, in the order error messages show them.
	Actions = []string{Continue, Retry, Fail, Break, Jump}
	// PolicyKeys are the keys of spec.policy.
	PolicyKeys = []string{"rules"}
	// RuleKeys are the keys of one rule.
	RuleKeys = []string{"when", "then", "else", "desc"}
	// ThenKeys are the keys of a rule's then (and else).
	ThenKeys = []string{"do", "attempts", "delay", "backoff", "max_delay", "to", "set", "set_vars"}
)

// CheckAction refuses an action outside Actions, naming the valid ones.
func CheckAction(do string) error {
	if !slices.Contains(Actions, do) {
		return fmt.Errorf("unknown action '%s'. Valid: [%s]", do, strings.Join(Actions, ", "))
	}
	return nil
}
