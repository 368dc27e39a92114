package playbook

import "fmt"
import "strings"
import "time"

import "github.com/noetl/controlplane/shared/timeouts"

// timeoutKey is a `timeout` key as written: a step's spec.timeout (stepLevel) or a
// tool's generic timeout.
type timeoutKey struct {
	strayKey
	value     any
	stepLevel bool
}

// validateTimeouts refuses a timeout the worker could not apply, naming where it is
// and its line: a step or tool timeout that is not a number of seconds or a duration
// string (docs/engine.md, "Timeouts"). A tool's timeout may be a template, which the
// server renders like any tool field and the worker checks; a step's is read as
// written, so it must be a value.
func (p *Playbook) validateTimeouts() error {
	for _, k := range p.timeouts {
		if s, ok := k.value.(string); ok && !k.stepLevel && strings.Contains(s, "{{") {
			continue
		}
		if _, err := timeouts.Parse(k.value); err != nil {
			where := ""
			if k.step != "" {
				where = fmt.Sprintf("Step '%s': ", k.step)
			}
			return validationf(k.line, "%s%s %v", where, describePath(k.path), err)
		}
	}
	return nil
}

// Bound is the step's spec.timeout, ok false when the step sets none. Validate has
// refused a timeout that does not parse.
func (s StepSpec) Bound() (d time.Duration, ok bool) {
	if strings.TrimSpace(s.Timeout) == "" {
		return 0, false
	}
	d, err := timeouts.Parse(s.Timeout)
	return d, err == nil
}
