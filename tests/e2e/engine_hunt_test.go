package e2e

import "context"
import "testing"
import "time"

// onErrorTimeout runs a shell step past its spec.timeout under spec.on_error: continue,
// then reads what is left of the failure: the step's result and its envelope.
const onErrorTimeout = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_on_error_timeout
  path: e2e/hunt/on_error_timeout
workflow:
  - step: start
    tool: {kind: noop}
    next: [slow]
  - step: slow
    spec: {on_error: continue, timeout: 1s}
    tool:
      kind: shell
      command: "sleep 60"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
          when: "{{ event.name == 'call.error' }}"
  - step: end
    tool:
      kind: noop
      result:
        tool_status: "{{ steps.slow.context.result.status }}"
        inner_status: "{{ steps.slow.context.result.context.status }}"
        status: "{{ slow.status }}"
        error: "{{ slow.error }}"
`

// A step under spec.on_error: continue whose command ran past its spec.timeout completes,
// and its tool status stays `timeout` where docs/worker.md ("Timeouts") says it is read,
// {{ steps.<step>.context.result.status }}, while its result says `status: error` as every
// continued failure's does (docs/engine.md, "Failure and the end of a run").
func TestHuntOnErrorContinueKeepsATimeout(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.register(ctx, onErrorTimeout); err != nil {
		t.Fatal(err)
	}
	id, err := c.execute(ctx, "e2e/hunt/on_error_timeout", nil)
	if err != nil {
		t.Fatal(err)
	}
	log := waitCompleted(ctx, t, c, id, "e2e/hunt/on_error_timeout")
	want := `{"error":"Step timed out after 1s (spec.timeout)","inner_status":"timeout","status":"error","tool_status":"timeout"}`
	if g := canonical(stepData(log, "end")); g != want {
		t.Fatalf("end data %s, want %s\n%s", g, want, describeLog(log))
	}
}

// userUnicodePaging is what a French-speaking user writes: a workload key, step names and
// set keys with accents, a python step paging along a self-loop by the arg it was called
// with (its set and its arcs read the arg), a pipeline task rendered on the worker that
// reads an accented name, and a gate skipped on its when that routes on
// event.name == 'step.skipped'.
const userUnicodePaging = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: hunt_unicode_paging
  path: e2e/hunt/unicode_paging
workload:
  données: [a, b, c]
workflow:
  - step: start
    tool: {kind: noop}
    next:
      - step: récupérer
        args: {page: 0}
  - step: récupérer
    tool:
      kind: python
      input:
        page: "{{ page }}"
        données: "{{ données }}"
      code: |
        result = {"élément": données[page], "page": page}
    set:
      ctx.éléments: "{{ (ctx.éléments | default([])) + [récupérer.élément] }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: récupérer
          when: "{{ page + 1 < données | length }}"
          args: {page: "{{ page + 1 }}"}
        - step: contrôle
          args: {dernière: "{{ page }}"}
  - step: contrôle
    when: "{{ dernière > 5 }}"
    tool: {kind: noop}
    next:
      - step: résumé
        when: "{{ event.name == 'step.skipped' }}"
        args: {comment: "{{ event.name }}", dernière: "{{ dernière }}"}
  - step: résumé
    tool:
      - joindre:
          kind: noop
          result:
            texte: "{{ éléments | join('-') }}"
            comment: "{{ comment }}"
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        texte: "{{ résumé.texte }}"
        éléments: "{{ ctx.éléments }}"
        comment: "{{ résumé.comment }}"
        passed_on: "{{ comment | default('no') }}"
`

// A new user's playbook in French runs end to end on the reference worker: unicode names
// parse and resolve on the server and on the worker, a self-loop pages by its entry args,
// and a skipped gate routes on step.skipped; the args that brought the step after the gate
// reach its command, not the step after it.
func TestHuntUnicodePagingPlaybook(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.register(ctx, userUnicodePaging); err != nil {
		t.Fatal(err)
	}
	id, err := c.execute(ctx, "e2e/hunt/unicode_paging", nil)
	if err != nil {
		t.Fatal(err)
	}
	log := waitCompleted(ctx, t, c, id, "e2e/hunt/unicode_paging")
	want := `{"comment":"step.skipped","passed_on":"no","texte":"a-b-c","éléments":["a","b","c"]}`
	if g := canonical(stepData(log, "end")); g != want {
		t.Fatalf("end data %s, want %s\n%s", g, want, describeLog(log))
	}
}
