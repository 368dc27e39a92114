package playbook

import "fmt"
import "slices"
import "strings"

import "github.com/noetl/controlplane/shared/policyrules"

// validatePolicies checks the spec.policy of every tool (single, pipeline task and
// workbook action) against the vocabulary the worker reads (shared/policyrules). It runs
// after upstream's checks, which know nothing of policies.
func (p *Playbook) validatePolicies() error {
	for _, s := range p.Workflow {
		if s.Tool.IsPipeline() {
			for i, t := range s.Tool.Pipeline {
				if err := validatePolicy(t.Tool.Spec, fmt.Sprintf("Step '%s': pipeline task[%d] '%s' spec.policy", s.Name, i, t.Label), true, t.Line); err != nil {
					return err
				}
			}
			continue
		}
		if err := validatePolicy(s.Tool.Single.Spec, fmt.Sprintf("Step '%s': tool spec.policy", s.Name), false, s.Line); err != nil {
			return err
		}
	}
	for _, w := range p.Workbook {
		if err := validatePolicy(w.Tool.Spec, fmt.Sprintf("workbook '%s': tool spec.policy", w.Name), false, w.Line); err != nil {
			return err
		}
	}
	return nil
}

func validatePolicy(spec map[string]any, where string, inPipeline bool, line int) error {
	raw, ok := spec["policy"]
	if !ok || raw == nil {
		return nil
	}
	pm, ok := raw.(map[string]any)
	if !ok {
		return validationf(line, "%s must be a mapping", where)
	}
	if err := knownKeys(pm, policyrules.PolicyKeys, where, line); err != nil {
		return err
	}
	if pm["rules"] == nil {
		return nil
	}
	rules, ok := pm["rules"].([]any)
	if !ok {
		return validationf(line, "%s.rules must be a list", where)
	}
	for i, r := range rules {
		at := fmt.Sprintf("%s.rules[%d]", where, i)
		rm, ok := r.(map[string]any)
		if !ok {
			return validationf(line, "%s must be a mapping", at)
		}
		if err := knownKeys(rm, policyrules.RuleKeys, at, line); err != nil {
			return err
		}
		if ev, isElse := rm["else"]; isElse {
			// `else: {then: X}` or `else: X`, as the worker reads it.
			em, ok := ev.(map[string]any)
			if !ok {
				return validationf(line, "%s.else must be a mapping", at)
			}
			if t, ok := em["then"]; ok {
				if err := knownKeys(em, []string{"then"}, at+".else", line); err != nil {
					return err
				}
				if err := validateThen(t, at+".else.then", inPipeline, line); err != nil {
					return err
				}
				continue
			}
			if err := validateThen(em, at+".else", inPipeline, line); err != nil {
				return err
			}
			continue
		}
		if rm["then"] == nil {
			return validationf(line, "%s has no 'then'", at)
		}
		if err := validateThen(rm["then"], at+".then", inPipeline, line); err != nil {
			return err
		}
	}
	return nil
}

func validateThen(v any, at string, inPipeline bool, line int) error {
	do := "continue"
	var tm map[string]any
	switch t := v.(type) {
	case string:
		do = t
	case map[string]any:
		tm = t
		if err := knownKeys(tm, policyrules.ThenKeys, at, line); err != nil {
			return err
		}
		if d, ok := tm["do"]; ok && d != nil {
			s, ok := d.(string)
			if !ok {
				return validationf(line, "%s.do must be a string", at)
			}
			do = s
		}
	default:
		return validationf(line, "%s must be a mapping or an action", at)
	}
	do = strings.ToLower(strings.TrimSpace(do))
	if err := policyrules.CheckAction(do); err != nil {
		return validationf(line, "%s.do: %v", at, err)
	}
	if do == "jump" {
		if !inPipeline {
			return validationf(line, "%s.do: jump is only valid in a pipeline task", at)
		}
		if to, _ := tm["to"].(string); strings.TrimSpace(to) == "" {
			return validationf(line, "%s: jump needs 'to', the label of a task", at)
		}
	}
	return nil
}

// knownKeys refuses a key outside valid, naming the first in sorted order.
func knownKeys(m map[string]any, valid []string, at string, line int) error {
	var unknown []string
	for k := range m {
		if !slices.Contains(valid, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return validationf(line, "%s: unknown key '%s'. Valid: [%s]", at, unknown[0], strings.Join(valid, ", "))
}
