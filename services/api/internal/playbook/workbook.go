package playbook

import "maps"
import "strings"

// resolveWorkbook rewrites every single tool of kind workbook into the named workbook
// entry's tool, as upstream does. The step's input is shallow-merged over the
// entry's (step keys win); when either side is not a mapping the step's input replaces
// the entry's; without a step input the entry's is kept. Everything else written on
// the referencing tool is discarded. Pipeline tasks are not resolved (upstream).
func (p *Playbook) resolveWorkbook() error {
	for _, s := range p.Workflow {
		t := s.Tool.Single
		if t == nil || t.Kind != KindWorkbook {
			continue
		}
		if strings.TrimSpace(t.Name) == "" {
			return validationf(s.Line, "Step '%s': tool.kind=workbook requires a 'name' field referencing a workbook action", s.Name)
		}
		entry, ok := p.FindWorkbook(t.Name)
		if !ok {
			names := make([]string, len(p.Workbook))
			for i, w := range p.Workbook {
				names[i] = w.Name
			}
			return validationf(s.Line, "Step '%s': workbook action '%s' not found in playbook.workbook[] (available: [%s])", s.Name, t.Name, strings.Join(names, ", "))
		}
		if entry.Tool.Raw == nil {
			return validationf(entry.Line, "workbook '%s': 'tool' is required", entry.Name)
		}
		resolved := entry.Tool
		resolved.Workbook = entry.Name
		input, has := entry.Tool.Input, entry.Tool.HasInput
		if t.HasInput {
			wm, wok := input.(map[string]any)
			sm, sok := t.Input.(map[string]any)
			if has && wok && sok {
				merged := make(map[string]any, len(wm)+len(sm))
				maps.Copy(merged, wm)
				maps.Copy(merged, sm)
				input = merged
			} else {
				input = t.Input
			}
			has = true
		}
		resolved.Input, resolved.HasInput = input, has
		raw := make(map[string]any, len(entry.Tool.Raw)+1)
		for k, v := range entry.Tool.Raw {
			if k != "args" && k != "input" {
				raw[k] = v
			}
		}
		if has {
			raw["input"] = input
		}
		resolved.Raw = raw
		s.Tool.Single = &resolved
	}
	return nil
}
