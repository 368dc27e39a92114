package engine

import "testing"

// Step names, workload keys and set keys in other languages are read by templates like
// ASCII ones (shared/tmpl: names are Python 3 identifiers), through the engine's own
// binding of just what the templates read (tmpl.Refs): `{{ données }}`,
// `{{ steps.étape... }}`, `{{ étape.x }}`, `{{ ctx.compte }}`.
func TestUnicodeNamesResolve(t *testing.T) {
	t.Parallel()
	pb := mustParse(t, `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: unicode_names
  path: tests/unicode_names
workload:
  données: [1, 2]
workflow:
  - step: start
    tool: {kind: noop}
    next: [étape]
  - step: étape
    tool: {kind: noop, result: {x: "{{ données | length }}"}}
    set:
      ctx.compteur_é: "{{ output.x + 1 }}"
    next:
      - step: end
        when: "{{ étape.x == 2 }}"
        args: {entrée: "{{ steps.étape.context.result.context.data.x }}"}
  - step: end
    tool:
      kind: noop
      result:
        x: "{{ étape.x }}"
        env: "{{ entrée }}"
        ctx: "{{ ctx.compteur_é }}"
        flat: "{{ compteur_é }}"
`)
	r := runSim(t, pb, expectedRun{})
	judge(t, r, map[string]any{"status": StatusCompleted, "outputs": map[string]any{
		"end": map[string]any{"x": 2, "env": 2, "ctx": 3, "flat": 3},
	}})
}
