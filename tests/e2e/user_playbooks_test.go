package e2e

import (
	"strings"
	"testing"

	"github.com/noetl/controlplane/tests/e2e/scripted"
)

// Playbooks of the kind users write, that the conformance suite does not cover, on a real
// worker: postgres rows (with positional params) fed to a loop, a loop of sub-playbooks
// that each return a step, and a failing child whose error reaches the parent's failure.
func TestUserPlaybooks(t *testing.T) {
	_, c, ctx := startSuiteWithScratchCredential(t, "user_pg")
	for _, pb := range []string{userRowsLoop, userChild, userChildLoop, userFailingChild, userParentOfFailing} {
		if err := c.register(ctx, pb); err != nil {
			t.Fatalf("register: %v\n%s", err, pb)
		}
	}

	t.Run("postgres rows with params feed a loop", func(t *testing.T) {
		id, err := c.execute(ctx, "user/rows_loop", nil)
		if err != nil {
			t.Fatal(err)
		}
		log := waitCompleted(ctx, t, c, id, "user/rows_loop")
		want := `{"hellos":["hi cy (19)","hi ann (31)"],"n":2,"oldest":31}`
		if g := canonical(stepData(log, "end")); g != want {
			t.Fatalf("end data %s, want %s\n%s", g, want, describeLog(log))
		}
	})

	t.Run("a loop of sub-playbooks returns each child's step", func(t *testing.T) {
		id, err := c.execute(ctx, "user/child_loop", nil)
		if err != nil {
			t.Fatal(err)
		}
		log := waitCompleted(ctx, t, c, id, "user/child_loop")
		want := `{"greetings":["hi ANN","hi BOB","hi CY"]}`
		if g := canonical(stepData(log, "end")); g != want {
			t.Fatalf("end data %s, want %s\n%s", g, want, describeLog(log))
		}
	})

	t.Run("a failing child's error reaches the parent", func(t *testing.T) {
		id, err := c.execute(ctx, "user/parent_of_failing", nil)
		if err != nil {
			t.Fatal(err)
		}
		log := waitTerminal(ctx, t, c, id)
		var failed *scripted.Event
		for i := range log {
			if log[i].EventType == "playbook.failed" {
				failed = &log[i]
			}
		}
		if failed == nil {
			t.Fatalf("no playbook.failed\n%s", describeLog(log))
		}
		if e := jsonText(failed.Error); !strings.Contains(e, "ValueError: bad input 42") || !strings.Contains(e, "user/failing_child") {
			t.Fatalf("the parent's error %s does not say why the child failed\n%s", e, describeLog(log))
		}
	})
}

const userRowsLoop = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_rows_loop
  path: user/rows_loop
workflow:
  - step: start
    tool:
      kind: postgres
      auth: user_pg
      command: |
        CREATE TABLE IF NOT EXISTS people (execution_id text, name text, age int);
        INSERT INTO people VALUES ('{{ execution_id }}', 'ann', 31), ('{{ execution_id }}', 'cy', 19);
        SELECT name, age FROM people WHERE execution_id = '{{ execution_id }}' ORDER BY age
    next: [greet]
  - step: greet
    loop:
      in: "{{ start.rows }}"
      iterator: person
    tool:
      kind: python
      input:
        person: "{{ iter.person }}"
      code: |
        result = {"hello": "hi %s (%d)" % (person["name"], person["age"])}
    next: [count]
  - step: count
    tool:
      kind: postgres
      auth: user_pg
      query: "SELECT count(*) AS n, max(age) AS oldest FROM people WHERE execution_id = $1"
      params: ["{{ execution_id }}"]
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        hellos: "{{ greet.results | map(attribute='hello') | list }}"
        n: "{{ count.rows[0].n }}"
        oldest: "{{ count.rows[0].oldest }}"
`

const userChild = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_child
  path: user/child
workload:
  name: nobody
workflow:
  - step: start
    tool:
      kind: noop
      result:
        greeting: "hi {{ workload.name | upper }}"
    next: [finish]
  - step: finish
    tool:
      kind: noop
      result:
        greeting: "{{ start.greeting }}"
`

const userChildLoop = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_child_loop
  path: user/child_loop
workload:
  names: [ann, bob, cy]
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop:
      in: "{{ workload.names }}"
      iterator: nm
      spec: {mode: parallel, max_in_flight: 2}
    tool:
      kind: playbook
      path: user/child
      args:
        name: "{{ iter.nm }}"
      return_step: finish
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        greetings: "{{ each.results | map(attribute='greeting') | list }}"
`

const userFailingChild = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_failing_child
  path: user/failing_child
workflow:
  - step: start
    tool:
      kind: python
      code: |
        raise ValueError("bad input 42")
    next: [end]
  - step: end
    tool: {kind: noop}
`

const userParentOfFailing = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_parent_of_failing
  path: user/parent_of_failing
workflow:
  - step: start
    tool:
      kind: playbook
      path: user/failing_child
      return_step: end
    next: [end]
  - step: end
    tool: {kind: noop}
`
