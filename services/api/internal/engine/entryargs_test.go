package engine

import "testing"

// A finished step's own `set` and its arcs (`when`, `args`, `set`) see the args and set
// its entry came with, as its command did (docs/engine.md, "Routing a finished step"):
// a self-loop pages by the arg it was called with, and a loop step and a skipped step
// route on theirs alike. The entry's layers still do not last: the target gets only the
// arc's own args.
func TestFinishedStepSeesItsEntryArgs(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: entry_args
  path: tests/entry_args
workflow:
  - step: start
    tool: {kind: noop}
    next:
      - step: fetch
        args: {page: 1}
        set: {ctx.label: first}
  - step: fetch
    tool: {kind: noop, result: {page: "{{ page }}"}}
    set:
      ctx.last: "{{ page }}"
      ctx.labels: "{{ (ctx.labels | default([])) + [label | default('none')] }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: fetch
          when: "{{ page < 3 }}"
          args: {page: "{{ page + 1 }}"}
        - step: each
          args: {pages: "{{ page }}", items: [a, b]}
  - step: each
    loop: {in: "{{ items }}", iterator: it}
    tool: {kind: noop, result: {it: "{{ it }}"}}
    next:
      - step: gate
        args: {total: "{{ pages * 10 }}"}
  - step: gate
    when: "{{ total > 100 }}"
    tool: {kind: noop}
    next:
      - step: end
        args: {seen: "{{ total }}", page: "{{ page | default('gone') }}"}
  - step: end
    tool:
      kind: noop
      result:
        seen: "{{ seen }}"
        page: "{{ page }}"
        last: "{{ ctx.last }}"
        labels: "{{ ctx.labels }}"
        pages: "{{ pages | default('gone') }}"
`)
	r := runSim(t, pb, expectedRun{})
	judge(t, r, map[string]any{"status": StatusCompleted,
		"commands": map[string]any{"fetch": 3, "each": 2, "end": 1},
		"outputs": map[string]any{
			"end": map[string]any{"seen": 30, "page": "gone", "last": 3, "labels": []any{"first", "none", "none"}, "pages": "gone"},
		}})
}

// A skipped step's arcs see event.name == 'step.skipped' (docs/engine.md, "Skipped
// steps"), as a completed step's see call.done, call.error or loop.done, so a route can
// tell a step that ran from one that was passed over.
func TestSkippedStepArcsSeeTheSkipEvent(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: skipped_event
  path: tests/skipped_event
workflow:
  - step: start
    tool: {kind: noop}
    next: [gate]
  - step: gate
    when: "{{ false }}"
    tool: {kind: noop}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: passed_over
          when: "{{ event.name == 'step.skipped' }}"
          args: {why: "{{ event.name }}"}
        - step: ran
  - step: passed_over
    tool: {kind: noop, result: {why: "{{ why }}"}}
  - step: ran
    tool: {kind: noop}
`)
	r := runSim(t, pb, expectedRun{})
	judge(t, r, map[string]any{"status": StatusCompleted,
		"commands": map[string]any{"passed_over": 1},
		"outputs":  map[string]any{"passed_over": map[string]any{"why": "step.skipped"}}})
	if n := len(r.issued("ran")); n != 0 {
		t.Errorf("ran was issued %d times", n)
	}
}
